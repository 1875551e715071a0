//! A calendar's live feed: a secret address calendar applications subscribe to without a
//! header (`/feeds/<token>.ics`, as Google's "secret address in iCal format"), showing the
//! calendar as it stands, with `ETag` so an unchanged calendar costs a 304. Only the
//! token's digest is stored; a new `POST` replaces the address, `DELETE` revokes it.

use almanac_shared::{
    domain::calendar::{self, Entry, EntryContent, ExportEntry, Slot},
    store::{calendars::feeds, user_tx},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Header, Path},
    payload::{Json, PlainText},
};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::super::Tag;
use super::dto::*;
use crate::responses::{Created, NoContent};
use crate::{
    error::{Answer, ApiError, ApiResult, can},
    rate_limit::per_resource,
    state::AppState,
};

/// Random bytes of a feed's token (43 characters of base64url).
const TOKEN_BYTES: usize = 32;
const TOKEN_CHARS: usize = 43;
/// What a feed's answer may be kept as: by the subscriber only, for the refresh interval's
/// quarter (a calendar application asks again anyway; a shared cache never keeps it).
const CACHE_CONTROL: &str = "private, max-age=900";

#[derive(Default)]
pub struct CalendarFeedApi;

#[OpenApi(tag = "Tag::Calendars")]
impl CalendarFeedApi {
    /// Make the calendar's feed address (a new one replaces the old, which stops working).
    /// The answer's `url` is shown this once.
    #[oai(
        path = "/v1/calendars/:id/feed",
        method = "post",
        operation_id = "createCalendarFeed"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: crate::auth::UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Created<CalendarFeedEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        let mut key = [0u8; TOKEN_BYTES];
        rand::rng().fill_bytes(&mut key);
        let token = URL_SAFE_NO_PAD.encode(key);
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let created_at = feeds::mint(&mut tx, id.0, &digest(&token))
            .await?
            .ok_or_else(not_found)?;
        tx.commit().await?;
        tracing::info!(calendarId = %id.0, "calendar feed made");
        let url = format!("{}/feeds/{token}.ics", state.settings.app_base_url());
        Ok(Created::Created(CalendarFeedEnvelope::of(CalendarFeed {
            calendar_id: id.0,
            created_at,
            url: Some(url),
        })))
    }

    /// Whether the calendar has a feed, and since when (its address is not shown again).
    #[oai(
        path = "/v1/calendars/:id/feed",
        method = "get",
        operation_id = "getCalendarFeed"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: crate::auth::UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<CalendarFeedEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let created_at = feeds::made_at(&mut tx, id.0).await?.ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(CalendarFeedEnvelope::of(CalendarFeed {
            calendar_id: id.0,
            created_at,
            url: None,
        }))
    }

    /// Revoke the calendar's feed: its address answers 404 from now on.
    #[oai(
        path = "/v1/calendars/:id/feed",
        method = "delete",
        operation_id = "revokeCalendarFeed"
    )]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        auth: crate::auth::UserAuth,
        id: Path<Uuid>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if !feeds::revoke(&mut tx, id.0).await? {
            return Err(not_found().into());
        }
        tx.commit().await?;
        tracing::info!(calendarId = %id.0, "calendar feed revoked");
        Ok(NoContent::Done)
    }

    /// A calendar's live feed, for calendar applications: no header needed, the address
    /// is the secret. Every saved entry with its publishing status, `SEQUENCE` raised on
    /// each change; `If-None-Match` with the last `ETag` answers 304 when nothing changed.
    /// An address nobody made, or one revoked, is 404.
    #[oai(
        path = "/feeds/:file",
        method = "get",
        operation_id = "getCalendarFeedDocument"
    )]
    async fn document(
        &self,
        state: Data<&AppState>,
        /// `<token>.ics`.
        #[oai(validator(max_length = 64))]
        file: Path<String>,
        #[oai(name = "If-None-Match", validator(max_length = 1024))] if_none_match: Header<
            Option<String>,
        >,
    ) -> Answer<
        FeedDocument,
        {
            can::BAD_REQUEST
                | can::NOT_FOUND
                | can::TOO_MANY_REQUESTS
                | can::INTERNAL
                | can::UNAVAILABLE
        },
    > {
        let token = token_of(&file.0).ok_or_else(not_found)?;
        let (calendar_id, owner) = feeds::find(&state.pool, &digest(token))
            .await?
            .ok_or_else(not_found)?;
        limit(&state, calendar_id).await?;
        let mut tx = user_tx(&state.pool, owner).await?;
        let summary = almanac_shared::store::calendars::summary(&mut tx, calendar_id)
            .await?
            .ok_or_else(not_found)?;
        let entries = feeds::entries(&mut tx, calendar_id).await?;
        tx.commit().await?;
        let entries: Vec<ExportEntry> = entries.into_iter().map(feed_entry).collect();
        let body = calendar::to_feed(calendar_id, &summary.name, &entries);
        let etag = format!(
            "\"{}\"",
            hex::encode(&Sha256::digest(body.as_bytes())[..16])
        );
        if if_none_match
            .0
            .as_deref()
            .is_some_and(|tags| matches(tags, &etag))
        {
            return Ok(FeedDocument::NotModified(etag, CACHE_CONTROL.to_owned()));
        }
        Ok(FeedDocument::Calendar(
            PlainText(body),
            etag,
            CACHE_CONTROL.to_owned(),
        ))
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("calendar feed")
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The token of `<token>.ics`, if it is one this server could have made.
fn token_of(file: &str) -> Option<&str> {
    let token = file.strip_suffix(".ics")?;
    (token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
    .then_some(token)
}

/// Whether `If-None-Match` names `etag` (a list, weak tags compared weakly, or `*`).
fn matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A feed is fetched at most `FEED_RATE_LIMIT` times a `FEED_RATE_WINDOW_SECS`: a
/// subscriber asks every hour or so; a loop gets 429.
async fn limit(state: &AppState, calendar: Uuid) -> ApiResult<()> {
    per_resource(state, &state.settings.rate_limits.feeds, calendar).await
}

fn feed_entry(e: feeds::FeedEntry) -> ExportEntry {
    ExportEntry {
        id: e.id,
        entry: Entry {
            slot: Slot {
                key: e.key,
                channel: e.channel,
                date: e.date,
                time: chrono::NaiveTime::parse_from_str(&e.time, "%H:%M").unwrap_or_default(),
                scheduled_at: e.scheduled_at,
            },
            content: EntryContent {
                title: e.title,
                caption: e.caption,
                format: e.format,
                hashtags: e.hashtags,
                call_to_action: e.call_to_action,
            },
        },
        edited: e.edited,
        manual: e.origin == "manual",
        updated_at: e.updated_at,
        sequence: Some(e.sequence),
        publishing: Some(e.publishing.unwrap_or_else(|| "not scheduled".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_this_server_makes_are_looked_up() {
        let token = "a".repeat(TOKEN_CHARS);
        assert_eq!(token_of(&format!("{token}.ics")), Some(token.as_str()));
        assert_eq!(token_of(&token), None);
        assert_eq!(token_of(&format!("{}.ics", "a".repeat(42))), None);
        assert_eq!(token_of(&format!("{}%.ics", "a".repeat(42))), None);
    }

    #[test]
    fn if_none_match_takes_lists_and_weak_tags() {
        assert!(matches("\"abc\"", "\"abc\""));
        assert!(matches("\"x\", W/\"abc\"", "\"abc\""));
        assert!(matches("*", "\"abc\""));
        assert!(!matches("\"abd\"", "\"abc\""));
    }
}
