//! What a review link's holder does, with no account, no header and no cookie: the link's
//! token is the secret. A token nobody made, or one expired or revoked, is 404 (as is an
//! entry the link does not show); each link's requests are limited
//! (`REVIEW_LINK_RATE_*`). The requests act as the link's maker, under row-level security,
//! and what the guest writes is recorded as the guest's, by the name they gave. The link
//! is judged before a body is read: a link that does not work is 404 whatever is sent.

use std::collections::HashMap;

use almanac_shared::{
    domain::review::step_at,
    sign_in::{digest, well_formed},
    store::{
        calendars::{self, EntryRow},
        comments::{self, CommentRow},
        media,
        review_links::{self as store, Open, Writer},
        user_tx, users,
    },
};
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::super::Tag;
use super::dto::*;
use super::page::GuestPage;
use crate::routes::review::{ReviewView, in_progress, locked, not_an_approver, settle};
use crate::{
    body::{Deferred, StrictJson},
    error::{Answer, ApiError, ApiResult, can},
    rate_limit::per_resource,
    responses::Created,
    state::AppState,
};

/// The most comments the page shows of the link's entries.
const COMMENTS_SHOWN: i64 = 2_000;

#[derive(Default)]
pub struct GuestReviewApi;

#[OpenApi(tag = "Tag::Review")]
impl GuestReviewApi {
    /// A review link's page, for its holder: no sign-in, no cookie. 404 when the link was
    /// never made, has expired or was revoked.
    #[oai(
        path = "/review/:token",
        method = "get",
        operation_id = "showReviewLink"
    )]
    async fn page(
        &self,
        state: Data<&AppState>,
        #[oai(validator(max_length = 64))] token: Path<String>,
    ) -> Answer<
        GuestPage,
        { can::BAD_REQUEST | can::TOO_MANY_REQUESTS | can::INTERNAL | can::UNAVAILABLE },
    > {
        Ok(match open(&state, &token.0).await {
            Ok(_) => super::page::shown(),
            Err(ApiError::NotFound(_)) => super::page::gone(),
            Err(other) => return Err(other.into()),
        })
    }

    /// The entries a review link shows, each as it would be posted, with its review, its
    /// decisions and its comments.
    #[oai(
        path = "/review/:token/entries",
        method = "get",
        operation_id = "getReviewLinkEntries"
    )]
    async fn entries(
        &self,
        state: Data<&AppState>,
        #[oai(validator(max_length = 64))] token: Path<String>,
    ) -> Answer<
        Json<GuestViewEnvelope>,
        {
            can::BAD_REQUEST
                | can::NOT_FOUND
                | can::TOO_MANY_REQUESTS
                | can::INTERNAL
                | can::UNAVAILABLE
        },
    > {
        let link = open(&state, &token.0).await?;
        let mut tx = user_tx(&state.pool, link.actor()).await?;
        let calendar_name = store::calendar_name(&mut tx, link.calendar_id)
            .await?
            .ok_or_else(|| ApiError::not_found("review link"))?;
        let rows = calendars::entries_by_ids(&mut tx, link.calendar_id, &link.entry_ids).await?;
        let entries = shown(&state, &mut tx, &link, rows).await?;
        tx.commit().await?;
        Ok(GuestViewEnvelope::of(GuestView {
            calendar_name,
            label: link.label,
            can_approve: link.can_approve,
            expires_at: link.expires_at,
            entries,
        }))
    }

    /// Approves, or asks for changes to, one of the link's entries, as the guest named
    /// `name`: where the link allows it (`canApprove`) and the step asked now lets guests
    /// decide (403 `NOT_AN_APPROVER` otherwise), on the content version read (409
    /// `REVIEW_VERSION_CHANGED` otherwise). Recorded as the step's guest decision: it
    /// counts as one approval, moves the review as a member's would, and shows in its
    /// history. The entry as it is now.
    #[oai(
        path = "/review/:token/decisions",
        method = "post",
        operation_id = "decideReviewLinkEntry"
    )]
    async fn decide(
        &self,
        state: Data<&AppState>,
        #[oai(validator(max_length = 64))] token: Path<String>,
        body: Deferred<StrictJson<GuestDecisionBody>>,
    ) -> Answer<
        Json<GuestEntryEnvelope>,
        {
            can::BODY
                | can::FORBIDDEN
                | can::NOT_FOUND
                | can::CONFLICT
                | can::TOO_MANY_REQUESTS
                | can::INTERNAL
                | can::UNAVAILABLE
        },
    > {
        let link = open(&state, &token.0).await?;
        let body = body.read().await?;
        let name = guest_name(&body.name.0)?;
        if !link.shows(body.entry_id) {
            return Err(ApiError::not_found("entry").into());
        }
        let mut tx = user_tx(&state.pool, link.actor()).await?;
        let review = locked(&mut tx, link.calendar_id, body.entry_id).await?;
        in_progress(&review)?;
        let step = review.step.unwrap_or(1);
        let asked = step_at(&review.steps.0, step)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a review at a missing step")))?;
        if !link.can_approve || !asked.admits_guests() {
            let reason = if link.can_approve {
                format!(
                    "step {step} ({}) is decided by the team, not through this link",
                    asked.name
                )
            } else {
                "this link lets you read and comment; ask for a link that allows approving"
                    .to_owned()
            };
            return Err(not_an_approver(step, asked, reason).into());
        }
        let decider = Writer::Guest {
            link: link.id,
            name: &name,
        };
        settle(
            &mut tx,
            &review,
            decider,
            body.decision,
            body.comment.as_ref(),
            body.content_version,
        )
        .await?;
        let rows = calendars::entries_by_ids(&mut tx, link.calendar_id, &[body.entry_id]).await?;
        let review = rows
            .first()
            .map(|row| ReviewView::from(row.review.clone()))
            .ok_or_else(|| ApiError::not_found("entry"))?;
        let entry = shown(&state, &mut tx, &link, rows).await?.remove(0);
        tx.commit().await?;
        let data = serde_json::json!({ "calendarId": link.calendar_id, "entryId": body.entry_id,
            "review": poem_openapi::types::ToJSON::to_json(&review),
            "by": { "guestName": name }, "action": "decideReviewLinkEntry",
            "at": chrono::Utc::now() });
        state
            .emitter
            .announce(
                link.calendar_id,
                almanac_shared::events::ENTRY_REVIEW,
                &data,
            )
            .await;
        Ok(GuestEntryEnvelope::of(entry))
    }

    /// Comments on one of the link's entries, as the guest named `name` (both shown as
    /// text). The team sees it beside the entry, live; its makers are told.
    #[oai(
        path = "/review/:token/comments",
        method = "post",
        operation_id = "commentReviewLinkEntry"
    )]
    async fn comment(
        &self,
        state: Data<&AppState>,
        #[oai(validator(max_length = 64))] token: Path<String>,
        body: Deferred<StrictJson<GuestCommentBody>>,
    ) -> Answer<
        Created<GuestCommentEnvelope>,
        { can::BODY | can::NOT_FOUND | can::TOO_MANY_REQUESTS | can::INTERNAL | can::UNAVAILABLE },
    > {
        let link = open(&state, &token.0).await?;
        let body = body.read().await?;
        let name = guest_name(&body.name.0)?;
        let text = body.text.0.trim();
        if !link.shows(body.entry_id) {
            return Err(ApiError::not_found("entry").into());
        }
        let mut tx = user_tx(&state.pool, link.actor()).await?;
        if !comments::entry_exists(&mut tx, link.calendar_id, body.entry_id).await? {
            return Err(ApiError::not_found("entry").into());
        }
        if comments::count_of_link(&mut tx, link.id).await? >= comments::PER_LINK {
            return Err(ApiError::rate_limited(
                u64::try_from((link.expires_at - chrono::Utc::now()).num_seconds()).unwrap_or(1),
            )
            .into());
        }
        let author = Writer::Guest {
            link: link.id,
            name: &name,
        };
        let row =
            comments::add(&mut tx, link.calendar_id, body.entry_id, author, text, &[]).await?;
        tx.commit().await?;
        crate::routes::comments::announce_added(&state, &row).await;
        Ok(Created::Created(GuestCommentEnvelope::of(guest_comment(
            row,
            &HashMap::new(),
        ))))
    }
}

/// The working link `token` names, its request counted against its limit; 404 otherwise.
async fn open(state: &AppState, token: &str) -> ApiResult<Open> {
    let not_found = || ApiError::not_found("review link");
    if !well_formed(token) {
        return Err(not_found());
    }
    let link = store::find(&state.pool, &digest(token))
        .await?
        .ok_or_else(not_found)?;
    per_resource(state, &state.settings.rate_limits.review_links, link.id).await?;
    Ok(link)
}

/// A guest's name as given: trimmed, with no control characters (400 naming `name`).
fn guest_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "name",
            "give your name (1-80 characters, no line breaks)",
        ));
    }
    Ok(name.to_owned())
}

/// The link's entries `rows` as its guest sees them, in their order, with their comments,
/// media and the names of the members who wrote or decided.
async fn shown(
    state: &AppState,
    conn: &mut PgConnection,
    link: &Open,
    rows: Vec<EntryRow>,
) -> ApiResult<Vec<GuestEntry>> {
    let live: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let notes = comments::of_entries(conn, link.calendar_id, &live, COMMENTS_SHOWN).await?;
    let media_ids: Vec<Uuid> = rows.iter().flat_map(|row| row.media_ids.clone()).collect();
    let items = media::owned(conn, &media_ids).await?;
    let mut people: Vec<Uuid> = notes.iter().filter_map(|c| c.user_id).collect();
    people.extend(
        rows.iter()
            .flat_map(|row| row.review.review_decisions.0.iter().filter_map(|d| d.by)),
    );
    people.sort_unstable();
    people.dedup();
    let names: HashMap<Uuid, Option<String>> = users::shown_as_many(&state.pool, &people)
        .await?
        .into_iter()
        .map(|(id, name, _address)| (id, name))
        .collect();
    let media = &state.platforms.media;
    let mut by_entry: HashMap<Uuid, Vec<GuestComment>> = HashMap::new();
    for note in notes {
        by_entry
            .entry(note.entry_id)
            .or_default()
            .push(guest_comment(note, &names));
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let shown_media = row
                .media_ids
                .iter()
                .filter_map(|id| items.iter().find(|item| item.id == *id))
                .map(|item| GuestMedia {
                    kind: item.kind,
                    url: media.url(item.id, almanac_shared::media::Copy::Original),
                    alt_text: item.alt_text.clone(),
                })
                .collect();
            let comments = by_entry.remove(&row.id).unwrap_or_default();
            guest_entry(row, link, shown_media, comments, &names)
        })
        .collect())
}

fn guest_entry(
    row: EntryRow,
    link: &Open,
    media: Vec<GuestMedia>,
    comments: Vec<GuestComment>,
    names: &HashMap<Uuid, Option<String>>,
) -> GuestEntry {
    let review = row.review;
    let steps = &review.review_steps.0;
    let asked = review.review_step.and_then(|s| step_at(steps, s));
    let you_may_decide = link.can_approve
        && review.review_status == almanac_shared::domain::review::ReviewStatus::InReview
        && asked.is_some_and(|step| step.admits_guests());
    let decisions = review
        .review_decisions
        .0
        .iter()
        .map(|d| GuestDecision {
            step: d.step,
            step_name: step_at(steps, d.step).map(|s| s.name.clone()),
            decision: d.decision,
            by: shown_as(d.guest_name.as_deref(), d.by, names),
            guest: d.guest_name.is_some(),
            comment: d.comment.clone(),
            at: d.at,
        })
        .collect();
    GuestEntry {
        id: row.id,
        channel: row.channel,
        scheduled_at: row.scheduled_at,
        date: row.date,
        time: row.time,
        title: row.title,
        caption: row.caption,
        format: row.format,
        hashtags: row.hashtags,
        call_to_action: row.call_to_action,
        media,
        media_url: row.media_url,
        review: GuestReview {
            status: review.review_status,
            step: review.review_step,
            steps: steps.iter().map(|s| s.name.clone()).collect(),
            content_version: review.content_version,
            you_may_decide,
        },
        decisions,
        comments,
    }
}

/// The name a guest sees for who wrote or decided: a guest's own, a member's name (none
/// when they have not given one; never their address).
fn shown_as(
    guest: Option<&str>,
    member: Option<Uuid>,
    names: &HashMap<Uuid, Option<String>>,
) -> Option<String> {
    match (guest, member) {
        (Some(guest), _) => Some(guest.to_owned()),
        (None, Some(member)) => names.get(&member).cloned().flatten(),
        (None, None) => None,
    }
}

fn guest_comment(row: CommentRow, names: &HashMap<Uuid, Option<String>>) -> GuestComment {
    GuestComment {
        id: row.id,
        by: shown_as(row.guest_name.as_deref(), row.user_id, names),
        guest: row.user_id.is_none(),
        text: row.body,
        at: row.created_at,
    }
}
