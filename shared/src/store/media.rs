//! Media rows (`media`): added, listed and deleted in their owner's transaction (row-level
//! security); read by id on the service's pool when a platform fetches one by its signed
//! address. Entries name media by id (`calendar_entries.media_ids`).

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::publish::post::MediaKind;

const COLUMNS: &str = "id, user_id, kind, mime, bytes, width, height, duration_ms, alt_text, \
     tags, file_name, object_key, jpeg_key, poster_key, created_at";

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
    /// A video's length, as its file says (none for an image, or a video that does not say).
    pub duration_ms: Option<i32>,
    pub alt_text: String,
    /// What a person filed it under.
    pub tags: Vec<String>,
    pub file_name: String,
    pub object_key: String,
    pub jpeg_key: Option<String>,
    /// A video's poster frame (`POST /v1/media/{id}/poster`).
    pub poster_key: Option<String>,
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
        "insert into media (id, user_id, kind, mime, bytes, width, height, duration_ms, alt_text,
                            file_name, object_key, jpeg_key)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) returning {COLUMNS}"
    )))
    .bind(row.id)
    .bind(row.user_id)
    .bind(row.kind)
    .bind(&row.mime)
    .bind(row.bytes)
    .bind(row.width)
    .bind(row.height)
    .bind(row.duration_ms)
    .bind(&row.alt_text)
    .bind(&row.file_name)
    .bind(&row.object_key)
    .bind(&row.jpeg_key)
    .fetch_one(conn)
    .await
}

/// Which of the caller's media a page of `GET /v1/media` holds.
#[derive(Debug, Clone, Default)]
pub struct Filter<'a> {
    /// After this id (a page's last).
    pub before: Option<Uuid>,
    /// Words the file name, the alternative text or a tag contain (case ignored).
    pub words: Option<&'a str>,
    /// Filed under this tag (exactly).
    pub tag: Option<&'a str>,
}

/// The caller's media, newest first (ids are UUIDv7), as `filter` says, a page and one
/// more (to know whether another page follows).
pub async fn list(conn: &mut PgConnection, filter: &Filter<'_>) -> sqlx::Result<Vec<MediaRow>> {
    let pattern = filter.words.map(|words| {
        let escaped = words
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        format!("%{escaped}%")
    });
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from media
         where ($1::uuid is null or id < $1)
           and ($2::text is null or $2 = any(tags))
           and ($3::text is null or file_name ilike $3 or alt_text ilike $3
                or exists (select 1 from unnest(tags) t where t ilike $3))
         order by id desc limit $4"
    )))
    .bind(filter.before)
    .bind(filter.tag)
    .bind(pattern)
    .bind(PAGE + 1)
    .fetch_all(conn)
    .await
}

/// A live entry naming a media: where the media is used.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Use {
    pub media_id: Uuid,
    pub calendar_id: Uuid,
    pub calendar_name: String,
    pub entry_id: Uuid,
    pub post_id: Option<Uuid>,
    pub title: String,
    pub channel: String,
    pub scheduled_at: DateTime<Utc>,
    /// The entry went out: deleting the media leaves its post as it is.
    pub published: bool,
}

/// The most uses read of each media.
pub const USES_MAX: i64 = 20;

/// Where the caller's `media` are used: the live entries naming each, soonest first, at
/// most [`USES_MAX`] of each, with how many there are in all.
pub async fn uses(conn: &mut PgConnection, media: &[Uuid]) -> sqlx::Result<Vec<(Use, i64)>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        used: Use,
        total: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "select * from (
             select m.id as media_id, e.calendar_id, c.name as calendar_name, e.id as entry_id,
                    e.post_id, e.title, e.channel, e.scheduled_at,
                    exists (select 1 from publish_intents i
                            where i.entry_id = e.id and i.status = 'published') as published,
                    row_number() over (partition by m.id order by e.scheduled_at, e.id) as n,
                    count(*) over (partition by m.id) as total
             from unnest($1::uuid[]) m (id)
             join calendar_entries e on e.media_ids @> array[m.id] and e.deleted_at is null
             join calendars c on c.id = e.calendar_id
         ) used where n <= $2 order by media_id, n",
    )
    .bind(media)
    .bind(USES_MAX)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|row| (row.used, row.total)).collect())
}

/// A video's poster frame kept as `key`: the media as it is now; `None` when `id` is not
/// the caller's video.
pub async fn set_poster(
    conn: &mut PgConnection,
    id: Uuid,
    key: &str,
) -> sqlx::Result<Option<MediaRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update media set poster_key = $2 where id = $1 and kind = 'video' returning {COLUMNS}"
    )))
    .bind(id)
    .bind(key)
    .fetch_optional(conn)
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
    /// published entries that named it and no longer do.
    Gone {
        row: Box<MediaRow>,
        entries: u64,
    },
    /// Entries still to go out name it (the first [`USES_MAX`], and how many in all):
    /// kept.
    InUse {
        uses: Vec<Use>,
        total: i64,
    },
    NotFound,
}

/// Deletes the caller's media `id`, unless a live entry not yet published names it; the
/// published entries and the posts that name it lose it.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Deleted> {
    let locked: Option<Uuid> = sqlx::query_scalar("select id from media where id = $1 for update")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    if locked.is_none() {
        return Ok(Deleted::NotFound);
    }
    let total: i64 = sqlx::query_scalar(
        "select count(*) from calendar_entries e
         where e.media_ids @> array[$1] and e.deleted_at is null
           and not exists (select 1 from publish_intents i
                           where i.entry_id = e.id and i.status = 'published')",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    if total > 0 {
        let uses = uses(&mut *conn, &[id])
            .await?
            .into_iter()
            .map(|(used, _)| used)
            .filter(|used| !used.published)
            .collect();
        return Ok(Deleted::InUse { uses, total });
    }
    let entries = sqlx::query(
        "update calendar_entries set media_ids = array_remove(media_ids, $1), updated_at = now()
         where media_ids @> array[$1]",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query(
        "update posts set media_ids = array_remove(media_ids, $1) where media_ids @> array[$1]",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
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
