//! The posting queue's rows: queued intents (`publish_intents.queued`), each in one slot of
//! its channel, read and placed as the caller (row-level security). One transaction at a
//! time places entries on a channel ([`lock`]); the unique index on a channel's queued
//! times is the last word should anything else try.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// A queued intent, in its channel's order: scheduled, or handed to its publish job and
/// waiting there (a quota full) before anything was sent.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct QueuedRow {
    pub intent_id: Uuid,
    pub entry_id: Uuid,
    pub calendar_id: Uuid,
    pub channel_id: Uuid,
    /// The platform.
    pub channel: String,
    pub publish_at: DateTime<Utc>,
    pub evergreen_id: Option<Uuid>,
    pub mode: crate::domain::publish::Mode,
    /// What the dispatcher last found in the way (a quota full), while it waits.
    pub error: Option<serde_json::Value>,
    /// `scheduled`, or `publishing` once handed to its job.
    pub status: String,
    /// The entry as a queue's card shows it: its title, caption, media and review.
    pub title: String,
    pub caption: String,
    pub media_ids: Vec<Uuid>,
    pub review_status: String,
}

impl QueuedRow {
    /// Still to be handed to its publish job: a queue action may move or cancel it.
    pub fn movable(&self) -> bool {
        self.status == "scheduled"
    }
}

const QUEUED: &str = "select i.id as intent_id, i.entry_id, i.calendar_id,
        i.account as channel_id, i.channel, i.publish_at, i.evergreen_id, i.mode, i.error,
        i.status, coalesce(e.title, '') as title, coalesce(e.caption, '') as caption,
        coalesce(e.media_ids, '{}') as media_ids,
        coalesce(e.review_status, 'not_requested') as review_status
    from publish_intents i
    left join calendar_entries e on e.id = i.entry_id
    where i.queued and not i.dry_run and i.entry_id is not null and i.account is not null
      and i.publish_at is not null
      and (i.status = 'scheduled'
           or (i.status = 'publishing' and i.sending_at is null and i.sent_at is null))";

/// Holds the channel's queue until the transaction ends: the places taken are read and
/// written by one transaction at a time, whichever process runs it.
pub async fn lock(conn: &mut PgConnection, channel: Uuid) -> sqlx::Result<()> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('queue:' || $1::text, 0))")
        .bind(channel)
        .execute(conn)
        .await
        .map(drop)
}

/// The channel's queue (every channel's when `None`), in order.
pub async fn list(conn: &mut PgConnection, channel: Option<Uuid>) -> sqlx::Result<Vec<QueuedRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{QUEUED} and ($1::uuid is null or i.account = $1) order by i.publish_at, i.id"
    )))
    .bind(channel)
    .fetch_all(conn)
    .await
}

/// An entry's unfinished (or published) first intent on a channel, as the queue finds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Open {
    pub id: Uuid,
    pub status: String,
    pub queued: bool,
    pub dispatched: bool,
    pub publish_at: Option<DateTime<Utc>>,
}

pub async fn open(
    conn: &mut PgConnection,
    entry: Uuid,
    channel: Uuid,
) -> sqlx::Result<Option<Open>> {
    sqlx::query_as(
        "select id, status, queued, job_id is not null as dispatched, publish_at
         from publish_intents
         where entry_id = $1 and account = $2 and not dry_run
           and status not in ('failed', 'cancelled') and evergreen_id is null",
    )
    .bind(entry)
    .bind(channel)
    .fetch_optional(conn)
    .await
}

/// Puts an intent in the queue at `at` (it follows its entry from there as a scheduled
/// one).
pub async fn enqueue(
    conn: &mut PgConnection,
    intent: Uuid,
    at: DateTime<Utc>,
    evergreen: Option<Uuid>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update publish_intents set queued = true, publish_at = $2, timing = 'scheduled',
             evergreen_id = $3, updated_at = now()
         where id = $1 and status = 'scheduled'",
    )
    .bind(intent)
    .bind(at)
    .bind(evergreen)
    .execute(conn)
    .await
    .map(drop)
}

/// Takes the channel's queued intents out of their slots (`queued` off) and gives each its
/// new time, in one statement: [`requeue`] then puts them back, so no two ever share a
/// slot on the way.
pub async fn unslot(
    conn: &mut PgConnection,
    intents: &[Uuid],
    times: &[DateTime<Utc>],
) -> sqlx::Result<()> {
    sqlx::query(
        "update publish_intents i set queued = false, publish_at = m.at, updated_at = now()
         from unnest($1::uuid[], $2::timestamptz[]) as m (id, at)
         where i.id = m.id and i.status = 'scheduled'",
    )
    .bind(intents)
    .bind(times)
    .execute(conn)
    .await
    .map(drop)
}

/// Puts intents taken out by [`unslot`] back in the queue at their new times.
pub async fn requeue(conn: &mut PgConnection, intents: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query(
        "update publish_intents set queued = true where id = any($1) and status = 'scheduled'",
    )
    .bind(intents)
    .execute(conn)
    .await
    .map(drop)
}

/// Cancels queued intents not yet handed to their jobs (taken out of the queue by a
/// person): they are not sent, and leave their slots.
pub async fn cancel(conn: &mut PgConnection, intents: &[Uuid]) -> sqlx::Result<u64> {
    sqlx::query(
        "update publish_intents set status = 'cancelled', queued = false, updated_at = now(),
             error = jsonb_build_object('code', 'REMOVED_FROM_QUEUE',
                 'message', 'taken out of the queue before it went out')
         where id = any($1) and status = 'scheduled' and job_id is null",
    )
    .bind(intents)
    .execute(conn)
    .await
    .map(|done| done.rows_affected())
}
