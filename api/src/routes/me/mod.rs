//! `GET /v1/me` and `PATCH /v1/me`: the caller's account. Its address is the one a used
//! sign-in link or a verified single sign-on email proved; nothing here, and no token's
//! claim, changes it.

use almanac_shared::store::{user_tx, users};
use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, payload::Json, types::MaybeUndefined};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    envelope::Envelope,
    error::{Answer, ApiError, ApiResult, can},
    state::AppState,
    text::Text,
};

/// A language the app speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Language {
    En,
    Fr,
}

impl Language {
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Fr => "fr",
        }
    }

    pub fn of(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Language::En),
            "fr" => Some(Language::Fr),
            _ => None,
        }
    }
}

/// The caller's account.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Me {
    /// The user's id (a Supabase token's `sub`).
    pub id: Uuid,
    /// The address the person signs in with, proven by a used sign-in link or a verified
    /// single sign-on email; null for someone who only ever called with a token.
    #[oai(nullable)]
    pub email: Option<String>,
    /// How the app names them; null: not set.
    #[oai(nullable)]
    pub name: Option<String>,
    /// The app's language for them; null: their browser's.
    #[oai(nullable)]
    pub language: Option<Language>,
    /// The IANA time zone the app shows times in; null: their browser's.
    #[oai(nullable)]
    pub display_timezone: Option<String>,
}

impl From<users::Account> for Me {
    fn from(account: users::Account) -> Self {
        Self {
            id: account.id,
            email: account.email,
            name: account.name,
            language: account.language.as_deref().and_then(Language::of),
            display_timezone: account.display_timezone,
        }
    }
}

/// What changes: a field left out stays, `null` clears it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct MePatch {
    /// 1-100 characters (spaces at either end not counted).
    #[oai(nullable)]
    pub name: MaybeUndefined<Text<1, 100>>,
    #[oai(nullable)]
    pub language: MaybeUndefined<Language>,
    /// An IANA time zone (`Europe/Paris`); another name is 422 `VALIDATION_FAILED`.
    #[oai(nullable)]
    pub display_timezone: MaybeUndefined<Text<1, 64>>,
}

crate::enveloped!(Me);

pub type MeEnvelope = Envelope<Me>;

#[derive(Default)]
pub struct MeApi;

/// `value` applied over `current`: kept when absent, cleared by `null`.
fn patched<T>(
    current: Option<String>,
    value: MaybeUndefined<T>,
    f: impl FnOnce(T) -> ApiResult<String>,
) -> ApiResult<Option<String>> {
    Ok(match value {
        MaybeUndefined::Undefined => current,
        MaybeUndefined::Null => None,
        MaybeUndefined::Value(value) => Some(f(value)?),
    })
}

#[OpenApi(tag = "Tag::Account")]
impl MeApi {
    /// The caller's account: their proven address, name, language and time zone.
    #[oai(path = "/v1/me", method = "get", operation_id = "getMe")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<MeEnvelope>, { can::STORED }> {
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let account = users::own(&mut tx, user).await?;
        tx.commit().await?;
        Ok(MeEnvelope::of(account.into()))
    }

    /// Change the caller's name, language or time zone (not their address).
    #[oai(path = "/v1/me", method = "patch", operation_id = "updateMe")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<MePatch>,
    ) -> Answer<Json<MeEnvelope>, { can::STORED | can::BODY | can::UNPROCESSABLE }> {
        let patch = body.0;
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let current = users::own(&mut tx, user).await?;
        let account = users::Account {
            name: patched(current.name, patch.name, |name| {
                Ok(name.0.trim().to_owned())
            })?,
            language: patched(current.language, patch.language, |l| {
                Ok(l.code().to_owned())
            })?,
            display_timezone: patched(current.display_timezone, patch.display_timezone, |zone| {
                let zone = zone.0.trim();
                zone.parse::<chrono_tz::Tz>()
                    .map(|tz| tz.name().to_owned())
                    .map_err(|_| {
                        ApiError::unprocessable_field(
                            "displayTimezone",
                            format!(
                                "`{zone}` is not an IANA time zone (Europe/Paris, America/New_York)"
                            ),
                        )
                    })
            })?,
            ..current
        };
        let saved = users::save_profile(&mut tx, &account).await?;
        tx.commit().await?;
        Ok(MeEnvelope::of(saved.into()))
    }
}
