//! The operator's endpoints (seed 001, "Flags & Modes", "Rollback Steps"): the runtime
//! feature flags, their overrides and their history; and the console's (`console`): the
//! fleet's jobs, statistics, bulk actions and paused queues. A `service_role` JWT signed
//! with `JWT_SECRET` (Supabase's service key), the bearer `ADMIN_TOKEN`, or the console's
//! session cookie; any other valid token is 403, a missing or invalid one 401.
//!
//! A change is written to Postgres with its history row and reaches every API replica and
//! worker within a second (`almanac_shared::flags`); this replica applies it before it
//! answers. A toggle drops no data: publish intents wait while publishing is off, and
//! calendars, runs and edits are the same rows whichever path generates them.

mod console;
mod console_dto;
mod dto;

pub use console::ConsoleApi;
pub use console_dto::*;
pub use dto::*;

use almanac_shared::{
    auth::SERVICE_ROLE,
    flags::{self, Flag, InvalidSetting, Setting},
};
use poem::{Request, web::Data};
use poem_openapi::{
    OpenApi, SecurityScheme,
    auth::{ApiKey, Bearer},
    param::{Path, Query},
    payload::Json,
};
use sha2::{Digest, Sha256};

use super::Tag;
use crate::{
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    state::AppState,
};

/// Who made a change, as the history records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A JWT with `role: service_role`.
    ServiceRole,
    /// The bearer `ADMIN_TOKEN`.
    AdminToken,
    /// The console's browser session (`almanac_admin`, opened with `ADMIN_TOKEN`).
    AdminSession,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::ServiceRole => SERVICE_ROLE,
            Actor::AdminToken => "admin-token",
            Actor::AdminSession => "admin-session",
        }
    }
}

/// `Authorization: Bearer <token>`: a JWT with `role: service_role` signed with
/// `JWT_SECRET` (only `exp` is required; Supabase's service key has no `sub` or `aud`), or
/// `ADMIN_TOKEN`.
#[derive(SecurityScheme)]
#[oai(
    rename = "AdminAuth",
    ty = "bearer",
    bearer_format = "service_role JWT or ADMIN_TOKEN",
    checker = "check_admin"
)]
pub struct AdminToken(pub Actor);

/// The console's browser session: the `almanac_admin` cookie `POST /app/admin-session`
/// sets with `ADMIN_TOKEN` (HttpOnly, SameSite=Strict, 8 hours), held to the same forgery
/// rules as a user's session. A user's session cookie or API key never reaches `/admin`.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "almanac_admin",
    key_in = "cookie",
    checker = "check_admin_session"
)]
pub struct AdminSession(pub Actor);

/// The admin's credentials: the console's session, or a bearer token. The bearer is tried
/// last: its refusal (403 for a user's JWT) is the one a request with a token is told.
#[derive(SecurityScheme)]
pub enum AdminAuth {
    Session(AdminSession),
    Token(AdminToken),
}

impl AdminAuth {
    pub fn actor(&self) -> Actor {
        match self {
            AdminAuth::Session(AdminSession(actor)) | AdminAuth::Token(AdminToken(actor)) => *actor,
        }
    }
}

/// The session [`crate::middleware::admin::accept`] found for the cookie (it refused the
/// request already when the cookie named none or broke the forgery rules).
async fn check_admin_session(req: &Request, _cookie: ApiKey) -> poem::Result<Actor> {
    req.extensions()
        .get::<crate::admin_session::AdminSessionMark>()
        .map(|_| Actor::AdminSession)
        .ok_or_else(|| ApiError::unauthorized("not signed in to the console").into())
}

async fn check_admin(req: &Request, bearer: Bearer) -> poem::Result<Actor> {
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    let digest = |token: &str| Sha256::digest(token.as_bytes());
    // Digests compared, so the comparison's time says nothing about the token.
    if let Some(admin) = &state.settings.admin_token
        && digest(admin.expose()) == digest(&bearer.token)
    {
        return Ok(Actor::AdminToken);
    }
    match state.jwt.role(&bearer.token) {
        Ok(role) if role == SERVICE_ROLE => Ok(Actor::ServiceRole),
        Ok(role) => {
            tracing::warn!(
                role,
                "admin endpoint refused to a token without the service role"
            );
            Err(ApiError::forbidden(
                "ADMIN_ONLY",
                "the admin endpoints need a service_role token or ADMIN_TOKEN",
                None,
            )
            .into())
        }
        Err(error) => {
            tracing::debug!(error = %error, "admin token refused");
            Err(
                ApiError::unauthorized("missing, malformed, expired or invalid bearer token")
                    .into(),
            )
        }
    }
}

impl From<FlagState> for flags::State {
    fn from(state: FlagState) -> Self {
        match state {
            FlagState::On => flags::State::On,
            FlagState::Off => flags::State::Off,
            FlagState::Users => flags::State::Users,
        }
    }
}

/// Every admin endpoint's refusals: no token (401), not an admin (403).
pub(crate) const ADMIN: u32 = can::UNAUTHORIZED | can::FORBIDDEN;
/// Those of the admin endpoints that read or write Postgres.
pub(crate) const ADMIN_STORED: u32 = ADMIN | can::STORED;

#[derive(Default)]
pub struct AdminApi;

#[OpenApi(tag = "Tag::Admin")]
impl AdminApi {
    /// The feature flags as this process applies them (each replica reads its overrides
    /// within a second of a change).
    #[oai(path = "/admin/flags", method = "get", operation_id = "listFlags")]
    async fn list(
        &self,
        state: Data<&AppState>,
        _auth: AdminAuth,
    ) -> Answer<Json<FlagListEnvelope>, { ADMIN }> {
        Ok(FlagListEnvelope::of(FlagList {
            items: state.flags.views().into_iter().map(Into::into).collect(),
        }))
    }

    /// One feature flag as this process applies it.
    #[oai(path = "/admin/flags/:name", method = "get", operation_id = "getFlag")]
    async fn get(
        &self,
        state: Data<&AppState>,
        _auth: AdminAuth,
        /// `CALENDAR_SERVICE_ENABLED` or `PUBLISH_SERVICE_ENABLED`.
        name: Path<String>,
    ) -> Answer<Json<FlagEnvelope>, { can::BAD_REQUEST | ADMIN | can::NOT_FOUND }> {
        let flag = flag(&name)?;
        Ok(FlagEnvelope::of(state.flags.view(flag).into()))
    }

    /// Override a feature flag: `on`, `off`, or `users` (on for the listed users only).
    /// Every API replica and worker applies it within a second, without a restart; the
    /// change is kept in the flag's history.
    #[oai(path = "/admin/flags/:name", method = "put", operation_id = "setFlag")]
    async fn set(
        &self,
        state: Data<&AppState>,
        auth: AdminAuth,
        /// `CALENDAR_SERVICE_ENABLED` or `PUBLISH_SERVICE_ENABLED`.
        name: Path<String>,
        body: StrictJson<FlagUpdate>,
    ) -> Answer<
        Json<FlagEnvelope>,
        { ADMIN_STORED | can::NOT_FOUND | can::BODY | can::UNPROCESSABLE },
    > {
        let flag = flag(&name)?;
        let body = body.0;
        let setting = Setting::new(body.state.into(), body.users.as_deref().unwrap_or_default())
            .map_err(|invalid| {
                let code = match invalid {
                    InvalidSetting::UsersMissing => "USERS_REQUIRED",
                    InvalidSetting::UsersUnexpected(_) => "USERS_UNEXPECTED",
                };
                ApiError::unprocessable(code, invalid.to_string())
            })?;
        if flag == Flag::PublishService
            && setting.state() != flags::State::Off
            && state.cipher.is_none()
        {
            return Err(ApiError::unprocessable(
                "TOKEN_STORE_UNCONFIGURED",
                "publishing needs TOKEN_ENCRYPTION_KEY on every API and worker process; set it before turning publishing on",
            )
            .into());
        }
        Ok(change(&state, auth.actor(), flag, Some(&setting), body.note).await?)
    }

    /// Remove the override: every process goes back to its environment default.
    #[oai(
        path = "/admin/flags/:name",
        method = "delete",
        operation_id = "resetFlag"
    )]
    async fn reset(
        &self,
        state: Data<&AppState>,
        auth: AdminAuth,
        /// `CALENDAR_SERVICE_ENABLED` or `PUBLISH_SERVICE_ENABLED`.
        name: Path<String>,
    ) -> Answer<Json<FlagEnvelope>, { can::BAD_REQUEST | ADMIN_STORED | can::NOT_FOUND }> {
        let flag = flag(&name)?;
        Ok(change(&state, auth.actor(), flag, None, None).await?)
    }

    /// Every change of a flag, newest first: who, when, from, to and the note.
    #[oai(
        path = "/admin/flags/:name/history",
        method = "get",
        operation_id = "flagHistory"
    )]
    async fn history(
        &self,
        state: Data<&AppState>,
        _auth: AdminAuth,
        /// `CALENDAR_SERVICE_ENABLED` or `PUBLISH_SERVICE_ENABLED`.
        name: Path<String>,
        /// Page size, 1-100 (default 20).
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
        limit: Query<Option<u32>>,
        /// `nextCursor` of the previous page.
        #[oai(validator(minimum(value = "1")))]
        cursor: Query<Option<i64>>,
    ) -> Answer<Json<FlagHistoryEnvelope>, { ADMIN_STORED | can::NOT_FOUND | can::BAD_REQUEST }>
    {
        let flag = flag(&name)?;
        let limit = super::clamp_limit(limit.0);
        let changes = almanac_shared::store::flags::history(
            &state.pool,
            flag,
            cursor.0,
            i64::from(limit) + 1,
        )
        .await?;
        let (items, next_cursor) = super::paginate(changes, limit, |c| c.id);
        Ok(FlagHistoryEnvelope::of(FlagHistory {
            items: items.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }
}

fn flag(name: &str) -> ApiResult<Flag> {
    Flag::parse(name).ok_or_else(|| ApiError::not_found("feature flag"))
}

/// Writes the change, applies it here at once (the others are notified) and answers the
/// flag as this process now applies it.
async fn change(
    state: &AppState,
    actor: Actor,
    flag: Flag,
    to: Option<&Setting>,
    note: Option<String>,
) -> ApiResult<Json<FlagEnvelope>> {
    let change =
        almanac_shared::store::flags::set(&state.pool, flag, to, note.as_deref(), actor.as_str())
            .await?;
    tracing::warn!(
        flag = flag.name(),
        actor = actor.as_str(),
        from = change
            .from
            .as_ref()
            .map_or("default", |s| s.state().as_str()),
        to = change.to.as_ref().map_or("default", |s| s.state().as_str()),
        users = change.to.as_ref().map_or(0, |s| s.users().len()),
        note = change.note.as_deref().unwrap_or(""),
        "feature flag changed"
    );
    state.flags.reload(&state.pool).await?;
    Ok(FlagEnvelope::of(state.flags.view(flag).into()))
}
