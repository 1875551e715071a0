//! Calendar feeds (`calendar_feeds`): a calendar's secret address, kept as its token's
//! digest, and the entries the feed shows.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::workspaces::Actor;

/// Gives the caller's calendar a feed with this token digest, replacing the one it had;
/// when it was made, or none when the caller has no such calendar.
pub async fn mint(
    conn: &mut PgConnection,
    calendar: Uuid,
    digest: &[u8; 32],
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "insert into calendar_feeds (calendar_id, user_id, token_digest)
         select id, user_id, $2 from calendars where id = $1
         on conflict (calendar_id) do update
             set token_digest = excluded.token_digest, created_at = now()
         returning created_at",
    )
    .bind(calendar)
    .bind(&digest[..])
    .fetch_optional(conn)
    .await
}

/// When the caller's calendar's feed was made, if it has one.
pub async fn made_at(
    conn: &mut PgConnection,
    calendar: Uuid,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("select created_at from calendar_feeds where calendar_id = $1")
        .bind(calendar)
        .fetch_optional(conn)
        .await
}

/// Revokes the caller's calendar's feed; whether it had one.
pub async fn revoke(conn: &mut PgConnection, calendar: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from calendar_feeds where calendar_id = $1")
        .bind(calendar)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// The calendar and owner of the feed whose token has this digest (no user yet: the
/// service's own pool).
pub async fn find(pool: &PgPool, digest: &[u8; 32]) -> sqlx::Result<Option<(Uuid, Actor)>> {
    let found: Option<(Uuid, Uuid, Uuid)> = sqlx::query_as(
        "select calendar_id, user_id, workspace_id from calendar_feeds where token_digest = $1",
    )
    .bind(&digest[..])
    .fetch_optional(pool)
    .await?;
    Ok(found.map(|(calendar, user, workspace)| (calendar, Actor { user, workspace })))
}

/// An entry as the feed shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FeedEntry {
    pub id: Uuid,
    pub key: String,
    pub channel: String,
    pub date: NaiveDate,
    pub time: String,
    pub scheduled_at: DateTime<Utc>,
    pub title: String,
    pub caption: String,
    pub format: String,
    pub hashtags: Vec<String>,
    pub call_to_action: String,
    pub origin: String,
    pub edited: bool,
    /// Its last change, its publishing's included.
    pub updated_at: DateTime<Utc>,
    pub sequence: i32,
    /// Its latest real publish intent's status, if any.
    pub publishing: Option<String>,
}

/// The saved entries of a calendar (under the owner's row-level security), in time order.
pub async fn entries(conn: &mut PgConnection, calendar: Uuid) -> sqlx::Result<Vec<FeedEntry>> {
    sqlx::query_as(
        "select c.id, c.key, c.channel, c.local_date as date,
                to_char(c.local_time, 'HH24:MI') as time, c.scheduled_at, c.title, c.caption,
                c.format, c.hashtags, c.call_to_action, c.origin, c.edited,
                greatest(c.updated_at, i.updated_at) as updated_at, c.sequence,
                i.status as publishing
         from calendar_entries c
         left join lateral (
             select status, updated_at from publish_intents p
             where p.entry_id = c.id and not p.dry_run
             order by p.created_at desc limit 1) i on true
         where c.calendar_id = $1 and c.deleted_at is null
         order by c.scheduled_at, c.key",
    )
    .bind(calendar)
    .fetch_all(conn)
    .await
}
