//! Review before publishing: the policies (per channel, else the workspace's), an entry's
//! review and its decisions. Run as the caller, under row-level security.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, types::Json};
use uuid::Uuid;

use super::review_links::Writer;
use crate::domain::review::{Decision, Policy, ReviewMode, ReviewStatus, Step};

/// A policy as it is kept, with who last set it and when (none set: `mode` `none`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PolicyRow {
    pub mode: ReviewMode,
    pub steps: Json<Vec<Step>>,
    pub updated_by: Option<Uuid>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// The policy set on `channel` (the workspace's own when `None`), if any.
pub async fn policy(conn: &mut PgConnection, channel: Option<Uuid>) -> sqlx::Result<PolicyRow> {
    let kept: Option<PolicyRow> = sqlx::query_as(
        "select mode, steps, updated_by, updated_at from review_policies
         where channel_id is not distinct from $1 and workspace_id = app_workspace_id()",
    )
    .bind(channel)
    .fetch_optional(conn)
    .await?;
    Ok(kept.unwrap_or(PolicyRow {
        mode: ReviewMode::None,
        steps: Json(Vec::new()),
        updated_by: None,
        updated_at: None,
    }))
}

/// Sets the policy of `channel` (the workspace's own when `None`).
pub async fn set_policy(
    conn: &mut PgConnection,
    channel: Option<Uuid>,
    policy: &Policy,
) -> sqlx::Result<PolicyRow> {
    sqlx::query_as(
        "insert into review_policies as p (id, user_id, channel_id, mode, steps, updated_by)
         values ($1, app_user_id(), $2, $3, $4, app_user_id())
         on conflict (workspace_id, coalesce(channel_id, '00000000-0000-0000-0000-000000000000'::uuid))
         do update set mode = excluded.mode, steps = excluded.steps,
             updated_by = excluded.updated_by, updated_at = now()
         returning p.mode, p.steps, p.updated_by, p.updated_at",
    )
    .bind(Uuid::now_v7())
    .bind(channel)
    .bind(policy.mode)
    .bind(Json(&policy.steps))
    .fetch_one(conn)
    .await
}

/// Which of the caller's connected channels `channels` a policy asks review on now.
pub async fn reviewed(conn: &mut PgConnection, channels: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select c.id from unnest($1::uuid[]) c (id)
         where review_mode(app_workspace_id(), c.id) = 'always'",
    )
    .bind(channels)
    .fetch_all(conn)
    .await
}

/// Whether the caller's workspace has the connected channel `id`.
pub async fn channel_exists(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from platform_accounts where id = $1)")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// A scheduled or queued intent whose entry is not approved at its content now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unapproved {
    pub intent_id: Uuid,
    pub entry_id: Uuid,
    pub channel_id: Uuid,
    pub publish_at: Option<DateTime<Utc>>,
}

/// The workspace's scheduled intents (of `channel` only, when given) that its policies now
/// hold for an approval their entries do not have.
pub async fn unapproved(
    conn: &mut PgConnection,
    channel: Option<Uuid>,
) -> sqlx::Result<Vec<Unapproved>> {
    sqlx::query_as(
        "select i.id as intent_id, e.id as entry_id, i.account as channel_id, i.publish_at
         from publish_intents i
         join calendar_entries e on e.id = i.entry_id and e.deleted_at is null
         where i.status = 'scheduled' and not i.dry_run and i.account is not null
           and ($1::uuid is null or i.account = $1)
           and review_mode(i.workspace_id, i.account) = 'always'
           and not (e.review_status = 'approved' and e.approved_hash = e.content_hash)
         order by i.publish_at nulls first, i.id",
    )
    .bind(channel)
    .fetch_all(conn)
    .await
}

/// An entry's review as it stands, with what it is held to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryReview {
    pub entry_id: Uuid,
    pub calendar_id: Uuid,
    /// The platform's name.
    pub channel: String,
    /// Its connected channel: chosen, else its platform's only one.
    pub channel_id: Option<Uuid>,
    pub status: ReviewStatus,
    pub step: Option<i16>,
    pub round: i32,
    pub steps: Json<Vec<Step>>,
    pub requested_by: Option<Uuid>,
    pub requested_at: Option<DateTime<Utc>>,
    pub content_version: i32,
    pub approved_version: Option<i32>,
    pub approved_hash: Option<String>,
    /// The hash of its content now.
    pub content_hash: String,
    /// The policy that applies to it now.
    pub mode: ReviewMode,
    pub policy_steps: Json<Vec<Step>>,
}

impl EntryReview {
    /// Approved at the content it has now.
    pub fn approved_now(&self) -> bool {
        self.status == ReviewStatus::Approved
            && self.approved_hash.as_deref() == Some(self.content_hash.as_str())
    }
}

const ENTRY_REVIEW: &str = "select e.id as entry_id, e.calendar_id, e.channel,
        entry_channel(e.workspace_id, e.channel_id, e.channel) as channel_id,
        e.review_status as status, e.review_step as step, e.review_round as round,
        e.review_steps as steps, e.review_requested_by as requested_by,
        e.review_requested_at as requested_at, e.content_version, e.approved_version,
        e.approved_hash,
        e.content_hash,
        p.mode, p.steps as policy_steps
    from calendar_entries e
    cross join lateral review_policy(e.workspace_id,
        entry_channel(e.workspace_id, e.channel_id, e.channel)) p
    where e.calendar_id = $1 and e.id = $2 and e.deleted_at is null";

/// The live entry's review; with `lock`, locked until the transaction ends (a decision or a
/// request made after reading it cannot be overtaken by another's).
pub async fn entry(
    conn: &mut PgConnection,
    calendar: Uuid,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<EntryReview>> {
    let lock = if lock { " for update of e" } else { "" };
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{ENTRY_REVIEW}{lock}")))
        .bind(calendar)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Opens a new round of review at step 1 with `steps` (the policy now), asked by the
/// caller.
pub async fn open_round(conn: &mut PgConnection, entry: Uuid, steps: &[Step]) -> sqlx::Result<()> {
    sqlx::query(
        "update calendar_entries set review_status = 'in_review', review_step = 1,
             review_round = review_round + 1, review_steps = $2,
             review_requested_by = app_user_id(), review_requested_at = now(),
             approved_version = null, approved_hash = null
         where id = $1",
    )
    .bind(entry)
    .bind(Json(steps))
    .execute(conn)
    .await
    .map(drop)
}

/// Records a decision at the entry's current round and step; false when its decider (the
/// caller, or the link) decided at this step already.
pub async fn decide(
    conn: &mut PgConnection,
    review: &EntryReview,
    decider: Writer<'_>,
    decision: Decision,
    comment: Option<&str>,
) -> sqlx::Result<bool> {
    let (link, guest) = decider.link_and_name();
    let done = sqlx::query(
        "insert into entry_review_decisions (id, entry_id, round, step, user_id, link_id,
             guest_name, decision, comment, content_version)
         values ($1, $2, $3, $4, case when $5::uuid is null then app_user_id() end, $5, $6,
             $7, $8, $9)
         on conflict (entry_id, round, step, coalesce(user_id, link_id)) do nothing",
    )
    .bind(Uuid::now_v7())
    .bind(review.entry_id)
    .bind(review.round)
    .bind(review.step.unwrap_or(1))
    .bind(link)
    .bind(guest)
    .bind(decision)
    .bind(comment)
    .bind(review.content_version)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The distinct approvals at the entry's current round and step.
pub async fn approvals(conn: &mut PgConnection, review: &EntryReview) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from entry_review_decisions
         where entry_id = $1 and round = $2 and step = $3 and decision = 'approve'",
    )
    .bind(review.entry_id)
    .bind(review.round)
    .bind(review.step.unwrap_or(1))
    .fetch_one(conn)
    .await
}

/// Moves the entry's review: to `status` at `step`; `approved` also records the content
/// version and hash approved (those read under the lock).
pub async fn set_status(
    conn: &mut PgConnection,
    review: &EntryReview,
    status: ReviewStatus,
    step: Option<i16>,
) -> sqlx::Result<()> {
    let approved = status == ReviewStatus::Approved;
    sqlx::query(
        "update calendar_entries set review_status = $2, review_step = $3,
             approved_version = case when $4 then $5 end,
             approved_hash = case when $4 then $6 end
         where id = $1",
    )
    .bind(review.entry_id)
    .bind(status)
    .bind(step)
    .bind(approved)
    .bind(review.content_version)
    .bind(&review.content_hash)
    .execute(conn)
    .await
    .map(drop)
}

/// The columns of an entry's review, as every read of an entry gives them (the
/// decisions of every round, oldest first; whether a policy asks for review now).
#[macro_export]
macro_rules! review_columns {
    () => {
        "c.content_version, c.review_status, c.review_step, c.review_steps,
        c.approved_version, c.review_requested_by, c.review_requested_at,
        coalesce((select json_agg(json_build_object('step', d.step, 'by', d.user_id,
                     'guestName', d.guest_name, 'decision', d.decision, 'comment', d.comment, 'at', d.at,
                     'contentVersion', d.content_version) order by d.at, d.id)
                  from entry_review_decisions d where d.entry_id = c.id), '[]')
            as review_decisions,
        review_mode(c.workspace_id, entry_channel(c.workspace_id, c.channel_id, c.channel))
            = 'always' as review_required"
    };
}

/// An entry's review as its reads give it ([`review_columns`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReviewColumns {
    pub content_version: i32,
    pub review_status: ReviewStatus,
    pub review_step: Option<i16>,
    pub review_steps: Json<Vec<Step>>,
    pub approved_version: Option<i32>,
    pub review_requested_by: Option<Uuid>,
    pub review_requested_at: Option<DateTime<Utc>>,
    pub review_decisions: Json<Vec<DecisionJson>>,
    pub review_required: bool,
}

/// A decision in an entry's history, as [`review_columns`] reads it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionJson {
    pub step: i16,
    /// The member who decided; none for a guest's decision.
    pub by: Option<Uuid>,
    /// The name a guest gave, deciding through a review link.
    pub guest_name: Option<String>,
    pub decision: Decision,
    pub comment: Option<String>,
    pub at: DateTime<Utc>,
    pub content_version: i32,
}

/// An entry waiting for a review's decision, or back with its editors (changes asked).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Waiting {
    pub calendar_id: Uuid,
    pub calendar_name: String,
    pub entry_id: Uuid,
    pub title: String,
    pub channel: String,
    pub scheduled_at: DateTime<Utc>,
    pub status: ReviewStatus,
    pub step: Option<i16>,
    pub steps: Json<Vec<Step>>,
    pub requested_by: Option<Uuid>,
    pub requested_at: Option<DateTime<Utc>>,
    pub content_version: i32,
}

/// The workspace's entries in review or with changes asked for, soonest first (at most
/// `limit`).
pub async fn waiting(conn: &mut PgConnection, limit: i64) -> sqlx::Result<Vec<Waiting>> {
    sqlx::query_as(
        "select e.calendar_id, k.name as calendar_name, e.id as entry_id, e.title, e.channel,
                e.scheduled_at, e.review_status as status, e.review_step as step,
                e.review_steps as steps, e.review_requested_by as requested_by,
                e.review_requested_at as requested_at, e.content_version
         from calendar_entries e join calendars k on k.id = e.calendar_id
         where e.deleted_at is null and e.review_status in ('in_review', 'changes_requested')
         order by e.scheduled_at, e.id
         limit $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await
}
