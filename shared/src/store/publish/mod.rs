//! Publish intents' rows: written by the publish request (as the user, under row-level
//! security), dispatched to publish jobs when due, and read, cancelled or retried by
//! their owner.

pub mod channels;
pub mod evergreen;
pub mod queue;
mod run;

pub use run::{CommentMark, Counting, IntentRun, Marked, START, quota_times, quota_used};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, types::Json};
use uuid::Uuid;

use crate::{
    domain::publish::{IntentStatus, Mode, PublishJob, Timing},
    jobs::{Lane, NewJob},
};

/// A publish intent as its owner sees it.
#[derive(Debug, Clone, PartialEq, poem_openapi::Object, sqlx::FromRow)]
#[oai(rename = "PublishIntent", rename_all = "camelCase")]
pub struct Intent {
    pub id: Uuid,
    pub calendar_id: Uuid,
    /// The calendar entry (none when the whole request was refused).
    #[oai(nullable)]
    pub entry_id: Option<Uuid>,
    /// The generation run whose content the entry held.
    #[oai(nullable)]
    pub run_id: Option<Uuid>,
    /// The platform (the entry's channel).
    pub channel: String,
    /// The connected channel it goes to.
    #[oai(nullable)]
    pub channel_id: Option<Uuid>,
    pub mode: Mode,
    pub dry_run: bool,
    #[sqlx(rename = "when")]
    pub when: Timing,
    /// When it publishes (the entry's `scheduledAt` for `scheduled`, following the entry
    /// when it moves); null for a dry run of `now` or a refused request.
    #[oai(nullable)]
    pub publish_at: Option<DateTime<Utc>>,
    /// The calendar's time zone.
    pub timezone: String,
    pub status: IntentStatus,
    /// `requests`: what a publish sends (method, url, headers, body, effect; secrets
    /// masked); `options`; `post`: the text and media; `notes`: what the post leaves out
    /// of the entry, each `{code, message, ...}` (`FIRST_MEDIA_ONLY`: an entry naming
    /// several media posts the first only; `kind` and `named` say which and how many).
    pub payload: Value,
    /// `{code, message, retryable?, platformCode?, problems?}`: `retryable` false when
    /// another try would be refused the same way (the entry must change first).
    #[oai(nullable)]
    pub error: Option<Value>,
    pub attempts: i32,
    /// TikTok's `publish_id` or Instagram's container id.
    #[oai(nullable)]
    pub remote_id: Option<String>,
    /// The published post's id on the platform.
    #[oai(nullable)]
    pub remote_post_id: Option<String>,
    /// The published post's public address, where the platform gives one (LinkedIn's feed
    /// address, TikTok's video address, Instagram's permalink).
    #[oai(nullable)]
    pub post_url: Option<String>,
    #[oai(nullable)]
    pub published_at: Option<DateTime<Utc>>,
    /// Since when its outcome has been `unknown` (the answer to the request with an outside
    /// effect was lost); read-only checks settle it until `PUBLISH_CONFIRM_WINDOW_SECS`
    /// after this, then it is `unconfirmed`.
    #[oai(nullable)]
    pub unknown_since: Option<DateTime<Utc>>,
    /// The last read-only check of the platform, while `unknown` or being followed.
    #[oai(nullable)]
    pub checked_at: Option<DateTime<Utc>>,
    /// On a channel that asks for review: the hash of the entry's content approved when it
    /// was dispatched (SHA-256 of its title, caption, hashtags, call to action and media).
    /// Null without review.
    #[oai(nullable)]
    pub approved_hash: Option<String>,
    /// The hash of the entry's content the sent post was made from, recorded as it was
    /// sent; on a reviewed channel always `approvedHash` (an entry changed after its
    /// approval is not sent: `REVIEW_EXPIRED`). Null before sending, and for a repeat the
    /// AI rewrote.
    #[oai(nullable)]
    pub sent_hash: Option<String>,
    /// Its entry's provenance as it was sent (once sent; as it is now before): what made
    /// the words and how, with which model and prompt, on whose key, who edited them, and
    /// who approved which version. Null for a refusal without an entry.
    #[oai(nullable)]
    #[sqlx(json(nullable))]
    pub provenance: Option<crate::domain::review::Provenance>,
    /// The post's first comment, once its step ran (absent: the post has none, or it is
    /// not out yet).
    #[oai(skip_serializing_if_is_none)]
    #[sqlx(json(nullable))]
    pub first_comment: Option<crate::domain::publish::FirstComment>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const INTENT_COLUMNS: &str = "i.id, i.calendar_id, i.entry_id, i.run_id, i.channel,
    i.account as channel_id, i.mode, i.dry_run, i.timing as \"when\", i.publish_at, i.timezone,
    i.status, i.payload, i.error, i.attempts, i.remote_id, i.remote_post_id, i.post_url,
    i.published_at, i.unknown_since, i.checked_at, i.approved_hash, i.sent_hash, intent_provenance(i) as provenance, i.first_comment, i.created_at,
    i.updated_at";

/// An intent to write.
#[derive(Debug, Clone)]
pub struct NewIntent {
    pub user: Uuid,
    pub calendar_id: Uuid,
    pub entry_id: Option<Uuid>,
    pub run_id: Option<Uuid>,
    pub channel: String,
    pub account: Option<Uuid>,
    pub mode: Mode,
    pub dry_run: bool,
    pub timing: Timing,
    pub publish_at: Option<DateTime<Utc>>,
    pub timezone: String,
    pub status: IntentStatus,
    pub payload: Value,
    pub error: Option<Value>,
    pub spool_id: Option<Uuid>,
    pub request_id: Option<String>,
    /// Placed in a slot of its channel's queue.
    pub queued: bool,
    /// The evergreen collection posting its entry again.
    pub evergreen_id: Option<Uuid>,
}

const INSERT: &str = "insert into publish_intents as i (id, user_id, calendar_id, entry_id,
        run_id, channel, account, mode, dry_run, timing, publish_at, timezone, status, payload,
        error, spool_id, request_id, queued, evergreen_id)
    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19)";

fn bind_new<'q>(
    query: sqlx::query::QueryAs<'q, sqlx::Postgres, Intent, sqlx::postgres::PgArguments>,
    new: &'q NewIntent,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, Intent, sqlx::postgres::PgArguments> {
    query
        .bind(Uuid::now_v7())
        .bind(new.user)
        .bind(new.calendar_id)
        .bind(new.entry_id)
        .bind(new.run_id)
        .bind(&new.channel)
        .bind(new.account)
        .bind(new.mode)
        .bind(new.dry_run)
        .bind(new.timing)
        .bind(new.publish_at)
        .bind(&new.timezone)
        .bind(new.status)
        .bind(Json(&new.payload))
        .bind(new.error.as_ref().map(Json))
        .bind(new.spool_id)
        .bind(&new.request_id)
        .bind(new.queued)
        .bind(new.evergreen_id)
}

/// Writes a dry run, replacing the entry and channel's previous one (same id; `updatedAt`
/// moves only when something changed, so a repeated dry run answers the same).
pub async fn upsert_dry_run(conn: &mut PgConnection, new: &NewIntent) -> sqlx::Result<Intent> {
    let sql = format!(
        "{INSERT}
         on conflict (entry_id, channel, coalesce(account, '00000000-0000-0000-0000-000000000000'::uuid))
             where dry_run
         do update set status = excluded.status, payload = excluded.payload,
             error = excluded.error, mode = excluded.mode, timing = excluded.timing,
             publish_at = excluded.publish_at, timezone = excluded.timezone,
             run_id = excluded.run_id, request_id = excluded.request_id,
             updated_at = case when (i.status, i.payload, i.error, i.mode, i.timing, i.publish_at)
                 is distinct from (excluded.status, excluded.payload, excluded.error,
                     excluded.mode, excluded.timing, excluded.publish_at)
                 then now() else i.updated_at end
         returning {INTENT_COLUMNS}"
    );
    bind_new(sqlx::query_as(AssertSqlSafe(sql)), new)
        .fetch_one(conn)
        .await
}

/// Writes a real intent, unless the entry and channel have one unfinished or published:
/// that one is returned instead (`false`), so a repeated request publishes nothing twice.
pub async fn insert_once(conn: &mut PgConnection, new: &NewIntent) -> sqlx::Result<(Intent, bool)> {
    let sql = format!(
        "{INSERT}
         on conflict (entry_id, account)
             where not dry_run and status not in ('failed', 'cancelled') and evergreen_id is null
         do nothing
         returning {INTENT_COLUMNS}"
    );
    if let Some(created) = bind_new(sqlx::query_as(AssertSqlSafe(sql)), new)
        .fetch_optional(&mut *conn)
        .await?
    {
        return Ok((created, true));
    }
    let existing: Intent = sqlx::query_as(AssertSqlSafe(format!(
        "select {INTENT_COLUMNS} from publish_intents i
         where i.entry_id = $1 and i.account = $2 and not i.dry_run
           and i.status not in ('failed', 'cancelled') and i.evergreen_id is null"
    )))
    .bind(new.entry_id)
    .bind(new.account)
    .fetch_one(conn)
    .await?;
    Ok((existing, false))
}

/// Writes an intent as it is (a refusal).
pub async fn insert(conn: &mut PgConnection, new: &NewIntent) -> sqlx::Result<Intent> {
    let sql = format!("{INSERT} returning {INTENT_COLUMNS}");
    bind_new(sqlx::query_as(AssertSqlSafe(sql)), new)
        .fetch_one(conn)
        .await
}

/// The caller's intents, newest first, before `cursor`.
pub async fn list(
    conn: &mut PgConnection,
    calendar: Option<Uuid>,
    status: Option<IntentStatus>,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Intent>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {INTENT_COLUMNS} from publish_intents i
         where ($1::uuid is null or i.calendar_id = $1) and ($2::text is null or i.status = $2)
           and ($3::uuid is null or i.id < $3)
         order by i.id desc limit $4"
    )))
    .bind(calendar)
    .bind(status)
    .bind(cursor)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Intent>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {INTENT_COLUMNS} from publish_intents i where i.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// What a state change found.
#[derive(Debug)]
pub enum Changed {
    Done(Box<Intent>),
    Missing,
    /// Not allowed from this status.
    Refused(IntentStatus),
}

/// Cancels a scheduled intent whose publish has not started.
pub async fn cancel(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Changed> {
    let done: Option<Intent> = sqlx::query_as(AssertSqlSafe(format!(
        "update publish_intents i set status = 'cancelled', updated_at = now(),
             error = jsonb_build_object('code', 'CANCELLED', 'message', 'cancelled by the user before it was published')
         where i.id = $1 and i.status = 'scheduled' and not i.dry_run
         returning {INTENT_COLUMNS}"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    settle(conn, id, done).await
}

/// Schedules a `failed` or `unconfirmed` intent again, now: the user's decision after
/// checking the account.
pub async fn retry(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Changed> {
    let done: Option<Intent> = sqlx::query_as(AssertSqlSafe(format!(
        "update publish_intents i set status = 'scheduled', timing = 'now', publish_at = now(),
             job_id = null, error = null, remote_id = null, sending_at = null, sent_at = null,
             unknown_since = null, updated_at = now()
         where i.id = $1 and i.status in ('failed', 'unconfirmed') and not i.dry_run
           and i.account is not null and i.entry_id is not null
         returning {INTENT_COLUMNS}"
    )))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    settle(conn, id, done).await
}

async fn settle(conn: &mut PgConnection, id: Uuid, done: Option<Intent>) -> sqlx::Result<Changed> {
    Ok(match done {
        Some(intent) => Changed::Done(Box::new(intent)),
        None => match get(conn, id).await? {
            Some(intent) => Changed::Refused(intent.status),
            None => Changed::Missing,
        },
    })
}

/// Which scheduled intents to hand to publish jobs.
pub enum Due<'a> {
    /// Every one due at `now` (the workers' dispatcher), of `users` only when given
    /// (publishing is on for those only).
    At {
        now: DateTime<Utc>,
        users: Option<&'a [Uuid]>,
    },
    /// These ones (just created for `now`).
    Ids(&'a [Uuid]),
}

/// Claims due intents (skipping those another dispatcher holds) and writes a publish job
/// for each, in the caller's transaction; the jobs to queue after commit.
pub async fn dispatch(
    conn: &mut PgConnection,
    due: Due<'_>,
    limit: i64,
) -> sqlx::Result<Vec<NewJob>> {
    let (at, users, ids) = match due {
        Due::At { now, users } => (Some(now), users, None),
        Due::Ids(ids) => (None, None, Some(ids)),
    };
    // The dispatcher's publishes are scheduled work; a publish asked for now is its
    // request's (`interactive`, unless it preferred `bulk`).
    let scheduled = at.is_some();
    let claimed: Vec<Claimed> = sqlx::query_as(
        "select i.id, i.user_id, i.workspace_id, i.entry_id, e.id is not null as entry_live,
                review_mode(i.workspace_id, i.account) = 'always'
                    as reviewed,
                case when e.review_status = 'approved' and e.approved_hash = e.content_hash
                     then e.approved_hash end as approved_hash
         from publish_intents i
         left join calendar_entries e on e.id = i.entry_id and e.deleted_at is null
         where i.status = 'scheduled' and i.job_id is null and not i.dry_run
           and ($1::timestamptz is null or i.publish_at <= $1)
           and not (i.queued and exists (select 1 from platform_accounts a
                                         where a.id = i.account and a.queue_paused_at is not null))
           and ($2::uuid[] is null or i.id = any($2))
           and ($4::uuid[] is null or i.user_id = any($4))
         order by i.publish_at
         limit $3
         for update of i skip locked",
    )
    .bind(at)
    .bind(ids)
    .bind(limit)
    .bind(users)
    .fetch_all(&mut *conn)
    .await?;
    let mut jobs = Vec::with_capacity(claimed.len());
    for intent in claimed {
        if intent.reviewed && intent.entry_live && intent.approved_hash.is_none() {
            // Silence is never approval: it is not sent, and its review has expired.
            expire_unapproved(&mut *conn, &intent).await?;
            continue;
        }
        let actor = crate::workspaces::Actor {
            user: intent.user_id,
            workspace: intent.workspace_id,
        };
        let mut job = NewJob::new(
            actor,
            &PublishJob {
                intent_id: intent.id,
            },
        );
        if scheduled {
            job = job.in_lane(Lane::Scheduled);
        }
        job.insert(&mut *conn).await?;
        // What the publish is held to: the content approved now (none without review).
        sqlx::query(
            "update publish_intents set job_id = $2, approved_hash = $3, updated_at = now()
             where id = $1",
        )
        .bind(intent.id)
        .bind(job.id)
        .bind(intent.reviewed.then_some(intent.approved_hash).flatten())
        .execute(&mut *conn)
        .await?;
        jobs.push(job);
    }
    Ok(jobs)
}

/// An intent a dispatch claimed, with what its review allows.
#[derive(Debug, sqlx::FromRow)]
struct Claimed {
    id: Uuid,
    user_id: Uuid,
    workspace_id: Uuid,
    entry_id: Option<Uuid>,
    /// Its entry is there (a deleted one's publish is cancelled by its job).
    entry_live: bool,
    /// A policy asks for review on its channel.
    reviewed: bool,
    /// The hash approved, when its entry is approved at the content it has now.
    approved_hash: Option<String>,
}

/// The code of a publish whose entry was not approved when it was due.
pub const REVIEW_EXPIRED: &str = "REVIEW_EXPIRED";

/// Ends a due intent whose entry was not approved: `failed` `REVIEW_EXPIRED`, nothing sent;
/// the entry's review, unless approved since, becomes `expired`.
async fn expire_unapproved(conn: &mut PgConnection, intent: &Claimed) -> sqlx::Result<()> {
    sqlx::query(
        "update publish_intents set status = 'failed', updated_at = now(),
             error = jsonb_build_object('code', $2::text,
                 'message', 'the entry was not approved by its time, so it was not published: '
                     || 'once it is approved, publish it now or move it to a later time')
         where id = $1",
    )
    .bind(intent.id)
    .bind(REVIEW_EXPIRED)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update calendar_entries set review_status = 'expired', review_step = null
         where id = $1 and review_status <> 'approved'",
    )
    .bind(intent.entry_id)
    .execute(conn)
    .await
    .map(drop)
}

/// Marks held the intents due at `now` whose owners may not publish: those not in
/// `allowed` (empty when publishing is off for everyone). A held intent that comes
/// back later than `PUBLISH_LATE_LIMIT_MINUTES` fails `SCHEDULE_PASSED` instead of going
/// out. The number marked now.
pub async fn hold(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    allowed: &[Uuid],
) -> sqlx::Result<u64> {
    sqlx::query(
        "update publish_intents set held_since = $1
         where status = 'scheduled' and job_id is null and not dry_run and held_since is null
           and publish_at <= $1 and user_id <> all($2)",
    )
    .bind(now)
    .bind(allowed)
    .execute(conn)
    .await
    .map(|done| done.rows_affected())
}

/// Writes the marker of a spooled request's replay (in the transaction that writes its
/// intents); false when it was there already.
pub async fn mark_replayed(
    conn: &mut PgConnection,
    spool_id: Uuid,
    user: Uuid,
) -> sqlx::Result<bool> {
    let marked: Option<Uuid> = sqlx::query_scalar(
        "insert into publish_spool_replays (spool_id, user_id) values ($1, $2)
         on conflict (spool_id) do nothing returning spool_id",
    )
    .bind(spool_id)
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(marked.is_some())
}

/// Registers publishing platforms (`platforms`, which a connect's `state` refers to): name
/// and label; a platform registered already gets the label given.
pub async fn register_platforms(pool: &PgPool, platforms: &[(&str, &str)]) -> sqlx::Result<()> {
    let (names, labels): (Vec<&str>, Vec<&str>) = platforms.iter().copied().unzip();
    sqlx::query(
        "insert into platforms (name, label) select * from unnest($1::text[], $2::text[])
         on conflict (name) do update set label = excluded.label",
    )
    .bind(names)
    .bind(labels)
    .execute(pool)
    .await
    .map(drop)
}

/// What `retry_auth_failures` did with one of a channel's unfinished or failed intents.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthRetry {
    pub id: Uuid,
    pub status: String,
    /// The code of its error, if any.
    pub code: Option<String>,
    pub retried: bool,
}

/// The intents of the caller's channel `account` that failed because its authorisation
/// was refused (`CHANNEL_AUTH_INVALID`) are scheduled again, now, once each (the latest of
/// an entry's); the channel's `failed`, `unknown` and `unconfirmed` intents come back with
/// whether each was. An `unknown` or `unconfirmed` one is never retried: it may be
/// published already.
pub async fn retry_auth_failures(
    conn: &mut PgConnection,
    account: Uuid,
) -> sqlx::Result<Vec<AuthRetry>> {
    sqlx::query_as(
        "with candidates as (
             select i.id, i.status, i.error ->> 'code' as code, i.entry_id,
                    row_number() over (partition by i.entry_id order by i.created_at desc) as nth
             from publish_intents i
             where i.account = $1 and not i.dry_run
               and i.status in ('failed', 'unknown', 'unconfirmed')),
         retried as (
             update publish_intents i set status = 'scheduled', timing = 'now',
                 publish_at = now(), job_id = null, error = null, remote_id = null,
                 sending_at = null, sent_at = null, unknown_since = null, updated_at = now()
             from candidates c
             where i.id = c.id and c.status = 'failed' and c.code = 'CHANNEL_AUTH_INVALID'
               and c.nth = 1 and c.entry_id is not null
               and not exists (
                   select 1 from publish_intents o
                   where o.entry_id = c.entry_id and o.account = $1 and o.id <> c.id
                     and not o.dry_run and o.status not in ('failed', 'cancelled'))
             returning i.id)
         select c.id, c.status, c.code, r.id is not null as retried
         from candidates c left join retried r on r.id = c.id
         order by c.id",
    )
    .bind(account)
    .fetch_all(conn)
    .await
}
