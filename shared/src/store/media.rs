//! Media rows (`media`): added, listed and deleted in their owner's transaction (row-level
//! security); read by id on the service's pool when a platform fetches one by its signed
//! address. Entries name media by id (`calendar_entries.media_ids`).

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::publish::post::MediaKind;

const COLUMNS: &str = "id, user_id, kind, mime, bytes, width, height, alt_text, tags, \
     file_name, object_key, jpeg_key, created_at";

/// Media a page of `GET /v1/media` holds at most.
pub const PAGE: i64 = 100;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MediaRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: MediaKind,
    pub mime: String,
    pub bytes: i64,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub alt_text: String,
    /// What a person filed it under.
    pub tags: Vec<String>,
    pub file_name: String,
    pub object_key: String,
    pub jpeg_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The bytes the caller's workspace keeps, holding (until the transaction ends) the lock
/// that makes another transaction adding media to it wait, so the quota holds under
/// concurrent uploads.
pub async fn used_bytes_for_adding(conn: &mut PgConnection, workspace: Uuid) -> sqlx::Result<i64> {
    super::lock_for_adding(conn, "media", workspace).await?;
    used_bytes(conn).await
}

/// The bytes the caller keeps.
pub async fn used_bytes(conn: &mut PgConnection) -> sqlx::Result<i64> {
    sqlx::query_scalar("select coalesce(sum(bytes), 0)::int8 from media")
        .fetch_one(conn)
        .await
}

pub async fn insert(conn: &mut PgConnection, row: &MediaRow) -> sqlx::Result<MediaRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "insert into media (id, user_id, kind, mime, bytes, width, height, alt_text, file_name,
                            object_key, jpeg_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) returning {COLUMNS}"
    )))
    .bind(row.id)
    .bind(row.user_id)
    .bind(row.kind)
    .bind(&row.mime)
    .bind(row.bytes)
    .bind(row.width)
    .bind(row.height)
    .bind(&row.alt_text)
    .bind(&row.file_name)
    .bind(&row.object_key)
    .bind(&row.jpeg_key)
    .fetch_one(conn)
    .await
}

/// The caller's media, newest first (ids are UUIDv7), after `before` (a page's last id).
pub async fn list(conn: &mut PgConnection, before: Option<Uuid>) -> sqlx::Result<Vec<MediaRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from media where $1::uuid is null or id < $1
         order by id desc limit $2"
    )))
    .bind(before)
    .bind(PAGE + 1)
    .fetch_all(conn)
    .await
}

/// The caller's media among `ids`, in `ids`' order (those that are not theirs left out).
pub async fn owned(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<Vec<MediaRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from media m join unnest($1::uuid[]) with ordinality w (id, n) using (id)
         order by w.n"
    )))
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// The caller's media `id` with its alternative text and tags changed where given (`None`:
/// kept); `None` when it is not the caller's.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    alt_text: Option<&str>,
    tags: Option<&[String]>,
) -> sqlx::Result<Option<MediaRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update media set alt_text = coalesce($2, alt_text), tags = coalesce($3, tags)
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(alt_text)
    .bind(tags)
    .fetch_optional(conn)
    .await
}

/// Media `id`, whoever owns it (the service's pool: a signed address was checked).
pub async fn by_id(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<MediaRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from media where id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// What deleting a media did.
#[derive(Debug)]
pub enum Deleted {
    /// Gone; its objects are for the caller to remove once committed. `entries`: the
    /// entries that named it and no longer do.
    Gone {
        row: Box<MediaRow>,
        entries: u64,
    },
    /// Publish intents `scheduled` or `publishing` post it: kept.
    InUse {
        intents: i64,
    },
    NotFound,
}

/// Deletes the caller's media `id`, unless an intent about to publish uses it; the entries
/// that name it lose it.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Deleted> {
    let locked: Option<Uuid> = sqlx::query_scalar("select id from media where id = $1 for update")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    if locked.is_none() {
        return Ok(Deleted::NotFound);
    }
    let intents: i64 = sqlx::query_scalar(
        "select count(*) from publish_intents i join calendar_entries e on e.id = i.entry_id
         where i.status in ('scheduled', 'publishing') and e.media_ids @> array[$1]",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    if intents > 0 {
        return Ok(Deleted::InUse { intents });
    }
    let entries = sqlx::query(
        "update calendar_entries set media_ids = array_remove(media_ids, $1), updated_at = now()
         where media_ids @> array[$1]",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let row: MediaRow = sqlx::query_as(AssertSqlSafe(format!(
        "delete from media where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Deleted::Gone {
        row: Box::new(row),
        entries,
    })
}
