//! Review before publishing (docs/review.md): the policies, per connected channel
//! (`/v1/channels/{id}/review`) else the workspace's (`/v1/workspaces/{id}/review`), and an
//! entry's review: asked for by an editor, decided step by step by the step's approvers.
//! The publishing gate itself is publishing's (`almanac_publishing::request`, the
//! dispatcher and the publish job).

mod dto;

pub use dto::*;

use almanac_shared::{
    domain::review::{
        Advance, Decision, Member, ReviewMode, ReviewStatus, Step, advance, may_decide, step_at,
    },
    store::{calendars, review as store, review_links::Writer, user_tx},
};
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};
use sqlx::PgConnection;
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::{PersonalAuth, UserAuth},
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    state::AppState,
    text::Text,
};

/// 403: the caller is not an approver of the step asked now (or asked for the review).
pub const NOT_AN_APPROVER: &str = "NOT_AN_APPROVER";
/// 409: the decision names another content version than the entry's.
pub const REVIEW_VERSION_CHANGED: &str = "REVIEW_VERSION_CHANGED";
/// 409: the entry is not waiting for a decision.
pub const REVIEW_NOT_IN_PROGRESS: &str = "REVIEW_NOT_IN_PROGRESS";
/// 409: no policy asks for review of the entry.
pub const REVIEW_NOT_ENABLED: &str = "REVIEW_NOT_ENABLED";

#[derive(Default)]
pub struct ReviewApi;

#[OpenApi(tag = "Tag::Review")]
impl ReviewApi {
    /// A connected channel's review policy (`mode: "none"` while none is set: the
    /// workspace's applies then), with the publishes it holds for approval.
    #[oai(
        path = "/v1/channels/:id/review",
        method = "get",
        operation_id = "getChannelReview"
    )]
    async fn get_channel(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<ReviewPolicyEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        Ok(policy(&state, &auth, Some(id.0), None).await?)
    }

    /// Sets a connected channel's review policy (admins). Turning review on answers the
    /// channel's scheduled and queued publishes whose entries are not approved in
    /// `needsApproval`: each goes out only once approved, else fails `REVIEW_EXPIRED` at
    /// its time.
    #[oai(
        path = "/v1/channels/:id/review",
        method = "put",
        operation_id = "setChannelReview"
    )]
    async fn put_channel(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<PolicyBody>,
    ) -> Answer<
        Json<ReviewPolicyEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        Ok(policy(&state, &auth, Some(id.0), Some(&body.0)).await?)
    }

    /// The workspace's review policy: it applies to every channel without one of its own.
    #[oai(
        path = "/v1/workspaces/:id/review",
        method = "get",
        operation_id = "getWorkspaceReview"
    )]
    async fn get_workspace(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        #[allow(unused_variables)] id: Path<Uuid>,
    ) -> Answer<Json<ReviewPolicyEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        // The workspace middleware acted in `id`, a member's only.
        Ok(policy(&state, &auth, None, None).await?)
    }

    /// Sets the workspace's review policy (admins), for every channel without one of its
    /// own; `needsApproval` as on a channel's.
    #[oai(
        path = "/v1/workspaces/:id/review",
        method = "put",
        operation_id = "setWorkspaceReview"
    )]
    async fn put_workspace(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        #[allow(unused_variables)] id: Path<Uuid>,
        body: StrictJson<PolicyBody>,
    ) -> Answer<
        Json<ReviewPolicyEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        Ok(policy(&state, &auth, None, Some(&body.0)).await?)
    }

    /// The workspace's entries in review, or with changes asked for, soonest first (at
    /// most 100): `yours` marks those the caller may decide now.
    #[oai(path = "/v1/reviews", method = "get", operation_id = "listReviews")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<WaitingEnvelope>, { can::BAD_REQUEST | can::STORED }> {
        let user = auth.user();
        let mut tx = user_tx(&state.pool, user.actor()).await?;
        let rows = store::waiting(&mut tx, 100).await?;
        tx.commit().await?;
        let member = Member {
            id: user.id,
            role: user.role,
        };
        let items = rows
            .into_iter()
            .map(|row| {
                let asked = row.step.and_then(|s| step_at(&row.steps.0, s));
                let yours = row.status == ReviewStatus::InReview
                    && asked.is_some_and(|step| may_decide(step, row.requested_by, member));
                WaitingEntry {
                    calendar_id: row.calendar_id,
                    calendar_name: row.calendar_name,
                    entry_id: row.entry_id,
                    title: row.title,
                    channel: row.channel,
                    scheduled_at: row.scheduled_at,
                    status: row.status,
                    step: row.step,
                    step_name: asked.map(|step| step.name.clone()),
                    steps: i16::try_from(row.steps.0.len()).unwrap_or(0),
                    requested_by: row.requested_by,
                    requested_at: row.requested_at,
                    content_version: row.content_version,
                    yours,
                }
            })
            .collect();
        Ok(WaitingEnvelope::of(WaitingList { items }))
    }

    /// An entry's review: where it stands, the steps asked, every decision.
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id/review",
        method = "get",
        operation_id = "getEntryReview"
    )]
    async fn get_entry(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
    ) -> Answer<Json<ReviewEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let view = view_of(&mut tx, id.0, entry_id.0).await?;
        tx.commit().await?;
        Ok(ReviewEnvelope::of(view))
    }

    /// Asks for an entry's review (editors): its policy's first step is asked. Asking
    /// again while it is in review, or approved at its content now, changes nothing; after
    /// changes were requested or it expired, a new round starts (the history stays). 409
    /// `REVIEW_NOT_ENABLED` when no policy asks for review of the entry's channel.
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id/review",
        method = "post",
        operation_id = "requestEntryReview"
    )]
    async fn request(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
    ) -> Answer<
        Json<ReviewEnvelope>,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::CONFLICT },
    > {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let review = locked(&mut tx, id.0, entry_id.0).await?;
        if review.mode == ReviewMode::None {
            return Err(ApiError::conflict(
                REVIEW_NOT_ENABLED,
                "no review is asked for on this entry's channel: set a review policy on the \
                 channel or the workspace first",
            )
            .into());
        }
        let pending = review.status == ReviewStatus::InReview || review.approved_now();
        if !pending {
            store::open_round(&mut tx, entry_id.0, &review.policy_steps.0).await?;
        }
        let view = view_of(&mut tx, id.0, entry_id.0).await?;
        tx.commit().await?;
        Ok(ReviewEnvelope::of(view))
    }

    /// Approves, or asks for changes to, an entry at the step of its review asked now: by
    /// that step's approvers only, never the person who asked for the review (403
    /// `NOT_AN_APPROVER`), and on the content version read (409 `REVIEW_VERSION_CHANGED`
    /// otherwise). The step's last approval needed asks the next step, or approves the
    /// entry; asking for changes ends the round. A person decides, never an API key.
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id/review/decisions",
        method = "post",
        operation_id = "decideEntryReview"
    )]
    async fn decide(
        &self,
        state: Data<&AppState>,
        auth: PersonalAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
        body: StrictJson<DecisionBody>,
    ) -> Answer<
        Json<ReviewEnvelope>,
        { can::STORED | can::BODY | can::FORBIDDEN | can::NOT_FOUND | can::CONFLICT },
    > {
        let user = auth.user();
        let body = body.0;
        let mut tx = user_tx(&state.pool, user.actor()).await?;
        let review = locked(&mut tx, id.0, entry_id.0).await?;
        in_progress(&review)?;
        let step = review.step.unwrap_or(1);
        let asked = step_at(&review.steps.0, step)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("a review at a missing step")))?;
        let member = Member {
            id: user.id,
            role: user.role,
        };
        if !may_decide(asked, review.requested_by, member) {
            let reason = if review.requested_by == Some(user.id) {
                "you asked for this review, so someone else decides it".to_owned()
            } else {
                format!(
                    "you are not one of the approvers of step {step} ({})",
                    asked.name
                )
            };
            return Err(not_an_approver(step, asked, reason).into());
        }
        settle(
            &mut tx,
            &review,
            Writer::Member,
            body.decision,
            body.comment.as_ref(),
            body.content_version,
        )
        .await?;
        let view = view_of(&mut tx, id.0, entry_id.0).await?;
        tx.commit().await?;
        Ok(ReviewEnvelope::of(view))
    }
}

/// 409 `REVIEW_NOT_IN_PROGRESS` unless the entry waits for a decision.
pub(crate) fn in_progress(review: &store::EntryReview) -> ApiResult<()> {
    if review.status == ReviewStatus::InReview {
        return Ok(());
    }
    Err(ApiError::conflict(
        REVIEW_NOT_IN_PROGRESS,
        format!(
            "this entry is not waiting for a decision (its review is {}): ask for its review \
             first",
            review.status.as_str()
        ),
    ))
}

/// 403 `NOT_AN_APPROVER` at `step` (`asked`), saying `reason`.
pub(crate) fn not_an_approver(step: i16, asked: &Step, reason: String) -> ApiError {
    ApiError::forbidden(
        NOT_AN_APPROVER,
        reason,
        Some(serde_json::json!({ "step": step, "stepName": asked.name })),
    )
}

/// Records `decider`'s decision on the step asked now, made on `content_version` (409
/// `REVIEW_VERSION_CHANGED` when the entry changed since), and moves the review: asking
/// for changes ends the round; the step's last approval needed asks the next step, or
/// approves the entry. The caller checked that `decider` may decide.
pub(crate) async fn settle(
    conn: &mut PgConnection,
    review: &store::EntryReview,
    decider: Writer<'_>,
    decision: Decision,
    comment: Option<&Text<0, 2000>>,
    content_version: i32,
) -> ApiResult<()> {
    let comment = comment.map(|c| c.0.trim()).filter(|c| !c.is_empty());
    if content_version != review.content_version {
        return Err(ApiError::Conflict(crate::error::ErrorEnvelope::new(
            REVIEW_VERSION_CHANGED,
            format!(
                "the entry changed since you read it (version {} now, you decided on \
                 {content_version}): read it again before deciding",
                review.content_version
            ),
            Some(serde_json::json!({ "contentVersion": review.content_version })),
        )));
    }
    let step = review.step.unwrap_or(1);
    store::decide(conn, review, decider, decision, comment).await?;
    let (status, next) = match decision {
        Decision::RequestChanges => (ReviewStatus::ChangesRequested, Some(step)),
        Decision::Approve => {
            let approvals = store::approvals(conn, review).await?;
            match advance(
                &review.steps.0,
                step,
                usize::try_from(approvals).unwrap_or(0),
            ) {
                Advance::Stay => (ReviewStatus::InReview, Some(step)),
                Advance::Next(next) => (ReviewStatus::InReview, Some(next)),
                Advance::Approved => (ReviewStatus::Approved, None),
            }
        }
    };
    store::set_status(conn, review, status, next).await?;
    Ok(())
}

/// The policy of `channel` (the workspace's when `None`; a channel nobody has is 404), set
/// first to `set` when given (validated: 422 naming the field), and what it holds.
async fn policy(
    state: &AppState,
    auth: &UserAuth,
    channel: Option<Uuid>,
    set: Option<&PolicyBody>,
) -> ApiResult<Json<ReviewPolicyEnvelope>> {
    if let Some(set) = set {
        set.validate().map_err(ApiError::semantically_invalid)?;
    }
    let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
    if let Some(id) = channel
        && !store::channel_exists(&mut tx, id).await?
    {
        return Err(ApiError::not_found("channel"));
    }
    if let Some(set) = set {
        store::set_policy(&mut tx, channel, set).await?;
    }
    let row = store::policy(&mut tx, channel).await?;
    let held = store::unapproved(&mut tx, channel).await?;
    tx.commit().await?;
    Ok(ReviewPolicyEnvelope::of(ReviewPolicyView::of(
        row, channel, held,
    )))
}

/// The live entry's review, locked until the transaction ends; 404 otherwise.
pub(crate) async fn locked(
    conn: &mut PgConnection,
    calendar: Uuid,
    entry: Uuid,
) -> ApiResult<store::EntryReview> {
    store::entry(conn, calendar, entry, true)
        .await?
        .ok_or_else(|| ApiError::not_found("entry"))
}

/// The entry's review as its reads give it.
async fn view_of(conn: &mut PgConnection, calendar: Uuid, entry: Uuid) -> ApiResult<ReviewView> {
    let row = calendars::entry(conn, calendar, entry)
        .await?
        .ok_or_else(|| ApiError::not_found("entry"))?;
    Ok(row.review.into())
}
