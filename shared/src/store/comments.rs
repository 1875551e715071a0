//! Comments on an entry (`entry_comments`): a member's, or a guest's through a review link.
//! Run as the caller (a guest's as the link's maker), under row-level security. A comment's
//! webhook event and the notifications of the people it mentions are the table's trigger's
//! (`entry_comment_told`), in the same transaction.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::review_links::Writer;

/// A guest may leave at most this many comments through one link.
pub const PER_LINK: i64 = 500;

/// A comment as it is read.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentRow {
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub entry_id: Uuid,
    /// The member who wrote it; none for a guest's.
    pub user_id: Option<Uuid>,
    /// The name the guest gave.
    pub guest_name: Option<String>,
    pub body: String,
    pub mentions: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, calendar_id, entry_id, user_id, guest_name, body, mentions, created_at, edited_at";

/// The comments of `entries` (of `calendar`), oldest first, at most `limit`.
pub async fn of_entries(
    conn: &mut PgConnection,
    calendar: Uuid,
    entries: &[Uuid],
    limit: i64,
) -> sqlx::Result<Vec<CommentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from entry_comments
         where calendar_id = $1 and entry_id = any ($2)
         order by created_at, id
         limit $3"
    )))
    .bind(calendar)
    .bind(entries)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Whether `calendar` has the live entry `entry`.
pub async fn entry_exists(
    conn: &mut PgConnection,
    calendar: Uuid,
    entry: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from calendar_entries
                        where calendar_id = $1 and id = $2 and deleted_at is null)",
    )
    .bind(calendar)
    .bind(entry)
    .fetch_one(conn)
    .await
}

/// Adds a comment on `entry` of `calendar`.
pub async fn add(
    conn: &mut PgConnection,
    calendar: Uuid,
    entry: Uuid,
    author: Writer<'_>,
    body: &str,
    mentions: &[Uuid],
) -> sqlx::Result<CommentRow> {
    let (link, guest) = author.link_and_name();
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into entry_comments (id, calendar_id, entry_id, user_id, link_id, guest_name,
             body, mentions)
         values ($1, $2, $3, case when $4::uuid is null then app_user_id() end, $4, $5, $6, $7)
         returning {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(calendar)
    .bind(entry)
    .bind(link)
    .bind(guest)
    .bind(body)
    .bind(mentions)
    .fetch_one(conn)
    .await
}

/// How many comments guests left through `link`.
pub async fn count_of_link(conn: &mut PgConnection, link: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from entry_comments where link_id = $1")
        .bind(link)
        .fetch_one(conn)
        .await
}

/// A comment of `entry`, locked until the transaction ends; none when there is no such
/// comment.
pub async fn get(
    conn: &mut PgConnection,
    calendar: Uuid,
    entry: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<CommentRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from entry_comments
         where calendar_id = $1 and entry_id = $2 and id = $3
         for update"
    )))
    .bind(calendar)
    .bind(entry)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Changes the caller's own comment `id`.
pub async fn edit(
    conn: &mut PgConnection,
    id: Uuid,
    body: &str,
    mentions: &[Uuid],
) -> sqlx::Result<CommentRow> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update entry_comments set body = $2, mentions = $3, edited_at = now()
         where id = $1 and user_id = app_user_id()
         returning {COLUMNS}"
    )))
    .bind(id)
    .bind(body)
    .bind(mentions)
    .fetch_one(conn)
    .await
}

/// Deletes the caller's own comment `id`.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("delete from entry_comments where id = $1 and user_id = app_user_id()")
        .bind(id)
        .execute(conn)
        .await
        .map(drop)
}

/// Of `people`, the members of `workspace`, in the order given (the service's pool: a
/// member's list is not a person's to read).
pub async fn members_among(
    pool: &PgPool,
    workspace: Uuid,
    people: &[Uuid],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select p.id from unnest($2::uuid[]) with ordinality as p (id, n)
         where p.id = $1
            or exists (select 1 from workspace_members m
                       where m.workspace_id = $1 and m.user_id = p.id)
         order by p.n",
    )
    .bind(workspace)
    .bind(people)
    .fetch_all(pool)
    .await
}
