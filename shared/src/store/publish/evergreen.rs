//! Evergreen collections' rows (`evergreen_collections`), read and written by their owner
//! (row-level security); the worker's pass reads the live ones of every user, then works
//! as each owner.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// A collection as its owner sees it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct CollectionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub name: String,
    pub channel_ids: Vec<Uuid>,
    pub entry_ids: Vec<Uuid>,
    pub min_gap_days: i32,
    /// `none` or `ai`.
    pub variation: String,
    pub paused: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, user_id, workspace_id, name, channel_ids, entry_ids, min_gap_days, variation,
    paused, created_at, updated_at";

/// A collection to keep.
#[derive(Debug, Clone)]
pub struct NewCollection<'a> {
    pub user: Uuid,
    pub name: &'a str,
    pub channel_ids: &'a [Uuid],
    pub entry_ids: &'a [Uuid],
    pub min_gap_days: i32,
    pub variation: &'a str,
}

pub async fn create(
    conn: &mut PgConnection,
    new: &NewCollection<'_>,
) -> sqlx::Result<CollectionRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into evergreen_collections (id, user_id, name, channel_ids, entry_ids,
             min_gap_days, variation)
         values ($1, $2, $3, $4, $5, $6, $7) returning {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(new.user)
    .bind(new.name)
    .bind(new.channel_ids)
    .bind(new.entry_ids)
    .bind(new.min_gap_days)
    .bind(new.variation)
    .fetch_one(conn)
    .await
}

/// The caller's collections, oldest first.
pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<CollectionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from evergreen_collections order by id"
    )))
    .fetch_all(conn)
    .await
}

/// A collection's next repeat: the soonest of its queued posts still to go.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct NextRepeat {
    pub evergreen_id: Uuid,
    pub entry_id: Uuid,
    pub channel_id: Uuid,
    pub publish_at: DateTime<Utc>,
}

/// Each of the caller's collections' next repeat, where one is queued.
pub async fn next_repeats(conn: &mut PgConnection) -> sqlx::Result<Vec<NextRepeat>> {
    sqlx::query_as(
        "select distinct on (evergreen_id) evergreen_id, entry_id, account as channel_id,
                publish_at
         from publish_intents
         where evergreen_id is not null and status = 'scheduled' and entry_id is not null
           and account is not null and publish_at is not null
         order by evergreen_id, publish_at",
    )
    .fetch_all(conn)
    .await
}

/// Pauses or resumes the caller's collection `id`; `None` when they have none.
pub async fn set_paused(
    conn: &mut PgConnection,
    id: Uuid,
    paused: bool,
) -> sqlx::Result<Option<CollectionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update evergreen_collections set paused = $2, updated_at = now()
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(paused)
    .fetch_optional(conn)
    .await
}

/// Deletes the caller's collection `id` and cancels its repeats not yet started; whether
/// it was theirs.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let deleted = sqlx::query("delete from evergreen_collections where id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if deleted.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "update publish_intents set status = 'cancelled', updated_at = now(),
             error = jsonb_build_object('code', 'EVERGREEN_DELETED',
                 'message', 'the evergreen collection was deleted before this repeat went out')
         where evergreen_id = $1 and status = 'scheduled' and job_id is null",
    )
    .bind(id)
    .execute(conn)
    .await?;
    Ok(true)
}

/// Which of `ids` are the caller's live entries.
pub async fn own_entries(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("select id from calendar_entries where id = any($1) and deleted_at is null")
        .bind(ids)
        .fetch_all(conn)
        .await
}

/// Every user's collections that are not paused (the worker's pass, service role).
pub async fn live(pool: &PgPool) -> sqlx::Result<Vec<CollectionRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from evergreen_collections where not paused order by id"
    )))
    .fetch_all(pool)
    .await
}

/// A collection's entry as a repeat chooses among them: when it last went out (or is to)
/// on the channel, and whether a repeat of it is already on its way there.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub entry_id: Uuid,
    pub last: Option<DateTime<Utc>>,
    pub open: bool,
}

/// `entries` (the caller's live ones) on `channel`; on a channel that asks for review, only
/// those approved at their content now (an unapproved one waits for its approval: queued,
/// it would only expire).
pub async fn candidates(
    conn: &mut PgConnection,
    entries: &[Uuid],
    channel: Uuid,
) -> sqlx::Result<Vec<Candidate>> {
    sqlx::query_as(
        "select e.id as entry_id,
             (select max(coalesce(i.published_at, i.sent_at, i.publish_at))
              from publish_intents i
              where i.entry_id = e.id and i.account = $2 and not i.dry_run
                and i.status not in ('failed', 'cancelled')) as last,
             exists (select 1 from publish_intents i
                     where i.entry_id = e.id and i.account = $2 and not i.dry_run
                       and i.evergreen_id is not null
                       and i.status in ('scheduled', 'publishing', 'unknown')) as open
         from calendar_entries e
         where e.id = any($1) and e.deleted_at is null
           and (review_mode(e.workspace_id, $2) <> 'always'
                or (e.review_status = 'approved' and e.approved_hash = e.content_hash))",
    )
    .bind(entries)
    .bind(channel)
    .fetch_all(conn)
    .await
}

/// The texts that went out (or are to) on `channel` since `since`, and every text `entry`
/// had there: the 500 latest.
pub async fn recent_texts(
    conn: &mut PgConnection,
    channel: Uuid,
    entry: Uuid,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select text from (
             select coalesce(payload -> 'sent' ->> 'text', payload ->> 'variant',
                             payload -> 'post' ->> 'text') as text,
                    coalesce(published_at, sent_at, publish_at) as at
             from publish_intents
             where account = $1 and not dry_run and status not in ('failed', 'cancelled')
               and (entry_id = $2 or coalesce(published_at, sent_at, publish_at) >= $3)
         ) texts
         where text is not null order by at desc nulls last limit 500",
    )
    .bind(channel)
    .bind(entry)
    .bind(since)
    .fetch_all(conn)
    .await
}
