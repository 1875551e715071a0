//! A person's notifications (`notifications`), made by the triggers that see what they are
//! about (`notify_people`): read and marked read by their person, under row-level security;
//! emailed in batches by the workers, on the service's pool, at most one email a person per
//! window (`notification_mailings`).

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Transaction, types::Json};
use uuid::Uuid;

use crate::domain::review::NotificationKind;

/// A notification as its person reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub kind: NotificationKind,
    pub calendar_id: Option<Uuid>,
    pub entry_id: Option<Uuid>,
    pub comment_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_guest: Option<String>,
    pub title: String,
    pub data: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, workspace_id, kind, calendar_id, entry_id, comment_id, actor_id,
    actor_guest, title, data, created_at, read_at";

/// The caller's notifications, newest first (their ids are time-ordered), older than
/// `before` when given, unread ones only with `unread`; at most `limit`.
pub async fn list(
    conn: &mut PgConnection,
    before: Option<Uuid>,
    unread: bool,
    limit: i64,
) -> sqlx::Result<Vec<NotificationRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from notifications
         where user_id = app_user_id()
           and ($1::uuid is null or id < $1)
           and (not $2 or read_at is null)
         order by id desc
         limit $3"
    )))
    .bind(before)
    .bind(unread)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// How many of the caller's notifications are unread.
pub async fn unread(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from notifications where user_id = app_user_id() and read_at is null",
    )
    .fetch_one(conn)
    .await
}

/// Marks read the caller's notifications `ids` (every unread one when `None`); how many
/// were unread.
pub async fn mark_read(conn: &mut PgConnection, ids: Option<&[Uuid]>) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "update notifications set read_at = now()
         where user_id = app_user_id() and read_at is null
           and ($1::uuid[] is null or id = any ($1))",
    )
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The people with notifications not emailed yet whose last email was sent at `before` or
/// earlier (or who were never emailed), at most `limit`.
pub async fn due(pool: &PgPool, before: DateTime<Utc>, limit: i64) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select distinct n.user_id from notifications n
         left join notification_mailings m on m.user_id = n.user_id
         where n.emailed_at is null and (m.last_sent_at is null or m.last_sent_at <= $1)
         limit $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// A notification as its email lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Unsent {
    pub id: Uuid,
    pub kind: NotificationKind,
    pub workspace_name: String,
    pub calendar_id: Option<Uuid>,
    pub entry_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub actor_guest: Option<String>,
    pub title: String,
    pub data: Json<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

/// Takes `user`'s batch at `now`: when their last email was sent at `before` or earlier,
/// marks one sent at `now` and their unemailed notifications emailed, and gives those
/// (oldest first; none when another worker has the batch, or it is not time yet). The
/// caller sends the email before committing, so that a failed send leaves the batch for
/// the next pass.
pub async fn take_batch(
    tx: &mut Transaction<'static, Postgres>,
    user: Uuid,
    now: DateTime<Utc>,
    before: DateTime<Utc>,
) -> sqlx::Result<Vec<Unsent>> {
    let gate: Option<Uuid> = sqlx::query_scalar(
        "insert into notification_mailings as m (user_id, last_sent_at) values ($1, $2)
         on conflict (user_id) do update set last_sent_at = $2
             where m.last_sent_at <= $3
         returning user_id",
    )
    .bind(user)
    .bind(now)
    .bind(before)
    .fetch_optional(&mut **tx)
    .await?;
    if gate.is_none() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "with taken as (
             update notifications set emailed_at = $2
             where user_id = $1 and emailed_at is null
             returning id, kind, workspace_id, calendar_id, entry_id, actor_id, actor_guest,
                       title, data, created_at)
         select t.id, t.kind, w.name as workspace_name, t.calendar_id, t.entry_id,
                u.name as actor_name, t.actor_guest, t.title, t.data, t.created_at
         from taken t
         join workspaces w on w.id = t.workspace_id
         left join users u on u.id = t.actor_id
         order by t.created_at, t.id",
    )
    .bind(user)
    .bind(now)
    .fetch_all(&mut **tx)
    .await
}

/// Whether `address` asked not to be emailed notifications.
pub async fn suppressed(pool: &PgPool, address: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from notification_suppressions where address = lower($1))",
    )
    .bind(address)
    .fetch_one(pool)
    .await
}

/// Stops emailing `address` notifications; whether it was emailed them until now.
pub async fn suppress(pool: &PgPool, address: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "insert into notification_suppressions (address) values (lower($1))
         on conflict (address) do nothing",
    )
    .bind(address)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
