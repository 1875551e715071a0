//! The admin's browser sessions (`admin_sessions`): opened with `ADMIN_TOKEN`, found by the
//! digest of the `almanac_admin` cookie's id, ended on sign-out or after 8 hours.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// The most admin sessions open at once; opening another ends the oldest.
pub const MAX_OPEN: i64 = 50;

/// Opens a session (its id's digest) until `expires_at`, ending expired ones and the
/// oldest beyond [`MAX_OPEN`], in one statement.
pub async fn open(pool: &PgPool, digest: &[u8; 32], expires_at: DateTime<Utc>) -> sqlx::Result<()> {
    sqlx::query(
        "with opened as (
             insert into admin_sessions (id_digest, expires_at) values ($1, $2)
         ), expired as (
             delete from admin_sessions where expires_at <= now()
         )
         delete from admin_sessions where id_digest in (
             select id_digest from admin_sessions order by created_at desc offset $3 - 1
         )",
    )
    .bind(&digest[..])
    .bind(expires_at)
    .bind(MAX_OPEN)
    .execute(pool)
    .await
    .map(drop)
}

/// Whether a live session has this digest.
pub async fn live(pool: &PgPool, digest: &[u8; 32]) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from admin_sessions where id_digest = $1 and expires_at > now())",
    )
    .bind(&digest[..])
    .fetch_one(pool)
    .await
}

/// Ends the session with this digest.
pub async fn end(pool: &PgPool, digest: &[u8; 32]) -> sqlx::Result<()> {
    sqlx::query("delete from admin_sessions where id_digest = $1")
        .bind(&digest[..])
        .execute(pool)
        .await
        .map(drop)
}
