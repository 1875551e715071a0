//! Posts (docs/posts.md): the words and media a post's entries share, and its entries, one
//! a connected channel, each holding what it publishes (its own values where it has a
//! variant, the post's for the rest).

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use super::calendars::{ENTRY_COLUMNS, EntryRow, Placement};
use crate::domain::calendar::{PostContent, PostField};

const POST_COLUMNS: &str = "p.id, p.calendar_id, p.title, p.title_derived, p.caption,
    p.hashtags, p.call_to_action, p.first_comment, p.media_ids, p.scheduled_at, p.version,
    p.user_id as created_by, p.updated_by, p.created_at, p.updated_at";

/// What publishing has reached on an entry: past this, its words are what went out, and a
/// post's change or deletion leaves it as it is.
const PUBLISHED: &str = "exists (select 1 from publish_intents i
     where i.entry_id = c.id and not i.dry_run
       and i.status in ('publishing', 'published', 'draft_sent', 'unknown', 'unconfirmed'))";

/// A post's shared fields.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PostRow {
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub title: String,
    /// No title was given: it was made from the caption.
    pub title_derived: bool,
    pub caption: String,
    pub hashtags: Vec<String>,
    pub call_to_action: String,
    pub first_comment: String,
    pub media_ids: Vec<Uuid>,
    pub scheduled_at: DateTime<Utc>,
    /// Counts every change of the shared fields.
    pub version: i64,
    pub created_by: Uuid,
    pub updated_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PostRow {
    pub fn content(&self) -> PostContent {
        PostContent {
            title: self.title.clone(),
            caption: self.caption.clone(),
            hashtags: self.hashtags.clone(),
            call_to_action: self.call_to_action.clone(),
            media_ids: self.media_ids.clone(),
            first_comment: self.first_comment.clone(),
        }
    }
}

/// One of a post's entries: the entry, the fields it has a variant of, and whether
/// publishing has reached it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PostEntryRow {
    #[sqlx(flatten)]
    pub entry: EntryRow,
    pub own: Vec<PostField>,
    pub published: bool,
}

impl PostEntryRow {
    pub fn content(&self) -> PostContent {
        let e = &self.entry;
        PostContent {
            title: e.title.clone(),
            caption: e.caption.clone(),
            hashtags: e.hashtags.clone(),
            call_to_action: e.call_to_action.clone(),
            media_ids: e.media_ids.clone(),
            first_comment: e.first_comment.clone(),
        }
    }
}

/// A post to make.
pub struct NewPost<'a> {
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub content: &'a PostContent,
    pub title_derived: bool,
    pub scheduled_at: DateTime<Utc>,
}

pub async fn create(conn: &mut PgConnection, new: &NewPost<'_>) -> sqlx::Result<PostRow> {
    let c = new.content;
    sqlx::query_as(AssertSqlSafe(format!(
        "insert into posts as p (id, calendar_id, user_id, title, title_derived, caption,
             hashtags, call_to_action, first_comment, media_ids, scheduled_at)
         values ($1, $2, app_user_id(), $3, $4, $5, $6, $7, $8, $9, $10)
         returning {POST_COLUMNS}"
    )))
    .bind(new.id)
    .bind(new.calendar_id)
    .bind(&c.title)
    .bind(new.title_derived)
    .bind(&c.caption)
    .bind(&c.hashtags)
    .bind(&c.call_to_action)
    .bind(&c.first_comment)
    .bind(&c.media_ids)
    .bind(new.scheduled_at)
    .fetch_one(conn)
    .await
}

/// The calendar's post `id`, unless deleted; held until the transaction ends when `lock`.
pub async fn get(
    conn: &mut PgConnection,
    calendar: Uuid,
    id: Uuid,
    lock: bool,
) -> sqlx::Result<Option<PostRow>> {
    let lock = if lock { "for update" } else { "" };
    sqlx::query_as(AssertSqlSafe(format!(
        "select {POST_COLUMNS} from posts p
         where p.calendar_id = $1 and p.id = $2 and p.deleted_at is null {lock}"
    )))
    .bind(calendar)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The post's live entries, by channel; held until the transaction ends when `lock`.
pub async fn entries(
    conn: &mut PgConnection,
    post: Uuid,
    lock: bool,
) -> sqlx::Result<Vec<PostEntryRow>> {
    let lock = if lock { "for update of c" } else { "" };
    sqlx::query_as(AssertSqlSafe(format!(
        "select {ENTRY_COLUMNS}, c.post_own as own, {PUBLISHED} as published
         from calendar_entries c
         where c.post_id = $1 and c.deleted_at is null
         order by c.channel, c.channel_id, c.id {lock}"
    )))
    .bind(post)
    .fetch_all(conn)
    .await
}

/// Changes the post's shared fields and time.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    content: &PostContent,
    title_derived: bool,
    scheduled_at: DateTime<Utc>,
) -> sqlx::Result<PostRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update posts p set title = $2, title_derived = $3, caption = $4, hashtags = $5,
             call_to_action = $6, first_comment = $7, media_ids = $8, scheduled_at = $9,
             updated_at = now()
         where p.id = $1
         returning {POST_COLUMNS}"
    )))
    .bind(id)
    .bind(&content.title)
    .bind(title_derived)
    .bind(&content.caption)
    .bind(&content.hashtags)
    .bind(&content.call_to_action)
    .bind(&content.first_comment)
    .bind(&content.media_ids)
    .bind(scheduled_at)
    .fetch_one(conn)
    .await
}

/// One network's entry of `post`: its platform, connected channel and words.
pub struct NewPostEntry<'a> {
    pub calendar_id: Uuid,
    pub post_id: Uuid,
    pub platform: &'a str,
    pub channel_id: Uuid,
    pub content: &'a PostContent,
    pub own: &'a [PostField],
    pub at: &'a Placement,
}

/// Adds a post's entry (made by hand); its id.
pub async fn add_entry(conn: &mut PgConnection, new: &NewPostEntry<'_>) -> sqlx::Result<Uuid> {
    let c = new.content;
    sqlx::query_scalar(
        "insert into calendar_entries (id, calendar_id, user_id, key, channel, channel_id,
             post_id, post_own, local_date, local_time, scheduled_at, title, caption, hashtags,
             call_to_action, media_ids, first_comment, origin, edited, edited_at)
         values ($1, $2, app_user_id(), 'manual/' || $1, $3, $4, $5, $6, $7, $8, $9, $10, $11,
             $12, $13, $14, $15, 'manual', true, now())
         returning id",
    )
    .bind(Uuid::now_v7())
    .bind(new.calendar_id)
    .bind(new.platform)
    .bind(new.channel_id)
    .bind(new.post_id)
    .bind(new.own)
    .bind(new.at.date)
    .bind(new.at.time)
    .bind(new.at.scheduled_at)
    .bind(&c.title)
    .bind(&c.caption)
    .bind(&c.hashtags)
    .bind(&c.call_to_action)
    .bind(&c.media_ids)
    .bind(&c.first_comment)
    .fetch_one(conn)
    .await
}

/// Writes what an entry of a post now says and which fields it owns.
pub async fn set_entry(
    conn: &mut PgConnection,
    id: Uuid,
    content: &PostContent,
    own: &[PostField],
) -> sqlx::Result<()> {
    sqlx::query(
        "update calendar_entries set title = $2, caption = $3, hashtags = $4,
             call_to_action = $5, media_ids = $6, first_comment = $7, post_own = $8,
             edited = true, edited_at = now(), updated_at = now()
         where id = $1",
    )
    .bind(id)
    .bind(&content.title)
    .bind(&content.caption)
    .bind(&content.hashtags)
    .bind(&content.call_to_action)
    .bind(&content.media_ids)
    .bind(&content.first_comment)
    .bind(own)
    .execute(conn)
    .await?;
    Ok(())
}

/// Moves entries `ids` to `at`.
pub async fn move_entries(
    conn: &mut PgConnection,
    ids: &[Uuid],
    at: &Placement,
) -> sqlx::Result<()> {
    sqlx::query(
        "update calendar_entries set local_date = $2, local_time = $3, scheduled_at = $4,
             updated_at = now()
         where id = any($1) and (local_date, local_time, scheduled_at) <> ($2, $3, $4)",
    )
    .bind(ids)
    .bind(at.date)
    .bind(at.time)
    .bind(at.scheduled_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes entries `ids` (as deleting an entry does) and cancels their scheduled publishes.
pub async fn delete_entries(conn: &mut PgConnection, ids: &[Uuid]) -> sqlx::Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "update calendar_entries set deleted_at = now(), updated_at = now()
         where id = any($1) and deleted_at is null",
    )
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "update publish_intents set status = 'cancelled', updated_at = now(),
             error = jsonb_build_object('code', 'CANCELLED',
                 'message', 'cancelled: its post was deleted before it was published')
         where entry_id = any($1) and status = 'scheduled' and not dry_run",
    )
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the post itself (its published entries keep naming it).
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("update posts set deleted_at = now(), updated_at = now() where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}
