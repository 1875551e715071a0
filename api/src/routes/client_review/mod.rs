//! Client review (docs/review.md, "Client review"): a calendar's review links, made by its
//! editors for someone without an account, and what the link's holder does with one
//! (`guest`): read its entries as each platform would show them, comment, and approve or
//! ask for changes where a step of the review lets guests decide.

mod dto;
mod guest;
mod page;

pub use dto::*;
pub use guest::GuestReviewApi;

use almanac_shared::{
    sign_in::{digest, random_token},
    store::{review_links as store, user_tx},
};
use chrono::{Duration, Utc};
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    responses::{Created, NoContent},
    state::AppState,
};

/// 409: the calendar has as many working review links as it may.
pub const TOO_MANY_REVIEW_LINKS: &str = "TOO_MANY_REVIEW_LINKS";

/// A link works this long unless its maker says otherwise...
const DEFAULT_DAYS: i64 = 14;
/// ...and never longer than this.
const MAX_DAYS: i64 = 90;
/// A range link covers at most this many days.
const MAX_RANGE_DAYS: i64 = 92;
/// A range link holds at most this many entries (the first ones of the range).
const MAX_ENTRIES: i64 = 200;

/// Where a link's page lives (its token follows).
pub const PATH: &str = "/review/";

#[derive(Default)]
pub struct ReviewLinkApi;

#[OpenApi(tag = "Tag::Review")]
impl ReviewLinkApi {
    /// Makes a review link (editors): for some entries (`entryIds`) or for a range of days
    /// (`from`, `to`: the entries there now). The answer's `url` is shown this once: its
    /// holder needs no account, sees only these entries, comments, and approves where
    /// `canApprove` and the step asked lets guests decide. It works until `expiresAt`
    /// (default 14 days, at most 90) or until revoked.
    #[oai(
        path = "/v1/calendars/:id/review-links",
        method = "post",
        operation_id = "createReviewLink"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<ReviewLinkBody>,
    ) -> Answer<
        Created<ReviewLinkEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::CONFLICT | can::UNPROCESSABLE },
    > {
        let body = body.0;
        let now = Utc::now();
        let expires_at = body
            .expires_at
            .unwrap_or(now + Duration::days(DEFAULT_DAYS));
        if expires_at <= now || expires_at > now + Duration::days(MAX_DAYS) {
            return Err(ApiError::unprocessable_field(
                "expiresAt",
                "must be later than now and at most 90 days ahead",
            )
            .into());
        }
        let range = range_of(&body)?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if !store::calendar_exists(&mut tx, id.0).await? {
            return Err(ApiError::not_found("calendar").into());
        }
        let entries = match (&body.entry_ids, range) {
            (Some(ids), _) => {
                let found = store::entries_among(&mut tx, id.0, ids).await?;
                if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
                    return Err(ApiError::unprocessable_field(
                        "entryIds",
                        format!("{missing} is not an entry of this calendar"),
                    )
                    .into());
                }
                found
            }
            (None, Some((from, to))) => {
                let found = store::entries_between(&mut tx, id.0, from, to, MAX_ENTRIES).await?;
                if found.is_empty() {
                    return Err(ApiError::unprocessable_field(
                        "from",
                        "this calendar has no entries on these days",
                    )
                    .into());
                }
                found
            }
            (None, None) => unreachable!("range_of asks for one or the other"),
        };
        if store::open_count(&mut tx, id.0).await? >= store::OPEN_PER_CALENDAR {
            return Err(ApiError::conflict(
                TOO_MANY_REVIEW_LINKS,
                format!(
                    "this calendar has {} working review links: revoke some before making \
                     another",
                    store::OPEN_PER_CALENDAR
                ),
            )
            .into());
        }
        let token = random_token();
        let label = body.label.as_ref().map(|l| l.0.trim());
        let row = store::create(
            &mut tx,
            store::NewLink {
                calendar: id.0,
                digest: &digest(&token),
                label,
                entries: &entries,
                range,
                can_approve: body.can_approve,
                expires_at,
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(calendarId = %id.0, linkId = %row.id, entries = entries.len(), "review link made");
        let url = format!("{}{PATH}{token}", state.settings.app_base_url());
        Ok(Created::Created(ReviewLinkEnvelope::of(ReviewLink::of(
            row,
            Some(url),
            now,
        ))))
    }

    /// The calendar's review links, newest first (revoked and expired ones for 30 days);
    /// their addresses are not shown again.
    #[oai(
        path = "/v1/calendars/:id/review-links",
        method = "get",
        operation_id = "listReviewLinks"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<ReviewLinkListEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if !store::calendar_exists(&mut tx, id.0).await? {
            return Err(ApiError::not_found("calendar").into());
        }
        let rows = store::list(&mut tx, id.0).await?;
        tx.commit().await?;
        let now = Utc::now();
        Ok(ReviewLinkListEnvelope::of(ReviewLinkList {
            items: rows
                .into_iter()
                .map(|row| ReviewLink::of(row, None, now))
                .collect(),
        }))
    }

    /// Revokes a review link (editors): its address answers 404 from now on.
    #[oai(
        path = "/v1/calendars/:id/review-links/:link_id",
        method = "delete",
        operation_id = "revokeReviewLink"
    )]
    async fn revoke(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        link_id: Path<Uuid>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if !store::revoke(&mut tx, id.0, link_id.0).await? {
            return Err(ApiError::not_found("review link").into());
        }
        tx.commit().await?;
        tracing::info!(calendarId = %id.0, linkId = %link_id.0, "review link revoked");
        Ok(NoContent::Done)
    }
}

/// The days a link is asked for, when it is asked for a range: `entryIds` or `from` and
/// `to`, not both (422 naming the field).
fn range_of(body: &ReviewLinkBody) -> ApiResult<Option<(chrono::NaiveDate, chrono::NaiveDate)>> {
    let from = body.from.as_ref().map(|d| d.day("from")).transpose()?;
    let to = body.to.as_ref().map(|d| d.day("to")).transpose()?;
    match (&body.entry_ids, from, to) {
        (Some(_), None, None) => Ok(None),
        (Some(_), _, _) => Err(ApiError::unprocessable_field(
            "entryIds",
            "give either `entryIds` or `from` and `to`, not both",
        )),
        (None, Some(from), Some(to)) if from > to => Err(ApiError::unprocessable_field(
            "to",
            "must not be before `from`",
        )),
        (None, Some(from), Some(to)) if (to - from).num_days() >= MAX_RANGE_DAYS => Err(
            ApiError::unprocessable_field("to", "a range covers at most 92 days"),
        ),
        (None, Some(from), Some(to)) => Ok(Some((from, to))),
        (None, None, Some(_)) => Err(ApiError::unprocessable_field(
            "from",
            "a range needs `from` and `to`",
        )),
        (None, _, None) => Err(ApiError::unprocessable_field(
            if from.is_some() { "to" } else { "entryIds" },
            "give the entries (`entryIds`) or a range of days (`from` and `to`)",
        )),
    }
}
