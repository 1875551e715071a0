//! Flashcards: created by hand or by accepting a suggestion.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use super::Row;

/// The columns a card reads into.
const COLUMNS: &str = "id, front, back, tags, source, suggestion_id, created_at, updated_at";

/// The caller's cards before `cursor` (newest first), at most `limit`.
pub async fn list<T: Row>(
    conn: &mut PgConnection,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<T>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from cards where ($1::uuid is null or id < $1)
         order by id desc limit $2"
    )))
    .bind(cursor)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// A card written by hand.
pub async fn create<T: Row>(
    conn: &mut PgConnection,
    user: Uuid,
    front: &str,
    back: &str,
    tags: &[String],
) -> sqlx::Result<T> {
    sqlx::query_as(AssertSqlSafe(format!(
        "insert into cards (id, user_id, front, back, tags, source)
         values ($1, $2, $3, $4, $5, 'manual') returning {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(front)
    .bind(back)
    .bind(tags)
    .fetch_one(conn)
    .await
}

/// Changes the given fields of a card; none when there is no such card.
pub async fn update<T: Row>(
    conn: &mut PgConnection,
    id: Uuid,
    front: Option<&str>,
    back: Option<&str>,
    tags: Option<&[String]>,
) -> sqlx::Result<Option<T>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update cards set front = coalesce($2, front), back = coalesce($3, back),
                tags = coalesce($4, tags), updated_at = now()
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(front)
    .bind(back)
    .bind(tags)
    .fetch_optional(conn)
    .await
}

/// Deletes a card; whether there was one.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let deleted = sqlx::query("delete from cards where id = $1")
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(deleted > 0)
}

/// A card as the exports write it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Exported {
    pub id: Uuid,
    pub front: String,
    pub back: String,
    pub tags: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

/// Every card of the caller, oldest first (the exports).
pub async fn exported(conn: &mut PgConnection) -> sqlx::Result<Vec<Exported>> {
    sqlx::query_as("select id, front, back, tags, updated_at from cards order by id")
        .fetch_all(conn)
        .await
}
