//! The web app's browser sessions (`web_sessions`): opened with a token's user and expiry,
//! found by the digest of the cookie's id, ended on sign-out. Run on the API's own pool
//! (the table has no policy for a user's role: only the API reads it).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// The most sessions a user keeps open at once; opening another ends the oldest.
pub const MAX_PER_USER: i64 = 20;

/// A live session's user and end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
}

/// Opens a session (its id's digest), ending the user's oldest beyond
/// [`MAX_PER_USER`] and any session whose time is up, in one statement.
pub async fn open(
    pool: &PgPool,
    digest: &[u8; 32],
    user_id: Uuid,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "with opened as (
             insert into web_sessions (id_digest, user_id, expires_at) values ($1, $2, $3)
         ), expired as (
             delete from web_sessions where expires_at <= now()
         )
         delete from web_sessions where id_digest in (
             select id_digest from web_sessions where user_id = $2
             order by created_at desc offset $4 - 1
         )",
    )
    .bind(&digest[..])
    .bind(user_id)
    .bind(expires_at)
    .bind(MAX_PER_USER)
    .execute(pool)
    .await
    .map(drop)
}

/// The live session whose id has this digest.
pub async fn find(pool: &PgPool, digest: &[u8; 32]) -> sqlx::Result<Option<Session>> {
    let row: Option<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "select user_id, expires_at from web_sessions
         where id_digest = $1 and expires_at > now()",
    )
    .bind(&digest[..])
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(user_id, expires_at)| Session {
        user_id,
        expires_at,
    }))
}

/// Ends the session whose id has this digest; whether there was one.
pub async fn end(pool: &PgPool, digest: &[u8; 32]) -> sqlx::Result<bool> {
    let ended = sqlx::query("delete from web_sessions where id_digest = $1")
        .bind(&digest[..])
        .execute(pool)
        .await?;
    Ok(ended.rows_affected() > 0)
}
