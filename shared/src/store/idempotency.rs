//! `Idempotency-Key`s, kept with the jobs they created (`idempotency_keys`).

use serde_json::Value;
use sqlx::{PgPool, types::Json};
use uuid::Uuid;

/// A request's key and the hash of its body.
#[derive(Debug, Clone)]
pub struct Key {
    pub key: String,
    pub request_hash: String,
}

/// The answer an earlier request with the key got.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Earlier {
    pub request_hash: String,
    pub response: Json<Value>,
}

/// The unexpired answer an earlier request with `key` got on `scope`, if any.
pub async fn earlier(
    pool: &PgPool,
    user: Uuid,
    scope: &str,
    key: &str,
) -> sqlx::Result<Option<Earlier>> {
    sqlx::query_as(
        "select request_hash, response from idempotency_keys
         where user_id = $1 and scope = $2 and key = $3 and expires_at > now()",
    )
    .bind(user)
    .bind(scope)
    .bind(key)
    .fetch_optional(pool)
    .await
}

/// Records `key` for the job-creating write of this transaction, with the answer it gets;
/// `false` when the key is in use (an unexpired earlier request, or a concurrent one that
/// committed first, which this statement waits for): then the caller writes nothing and
/// replays that request's answer. An expired key is taken over.
pub async fn record(
    conn: &mut sqlx::PgConnection,
    scope: &str,
    key: &Key,
    status: u16,
    response: &Value,
) -> sqlx::Result<bool> {
    let recorded = sqlx::query(
        "insert into idempotency_keys as k (user_id, scope, key, request_hash, response_status,
             response, expires_at)
         values (app_user_id(), $1, $2, $3, $4, $5, now() + interval '24 hours')
         on conflict (user_id, scope, key) do update
             set request_hash = excluded.request_hash, response_status = excluded.response_status,
                 response = excluded.response, created_at = now(), expires_at = excluded.expires_at
             where k.expires_at <= now()",
    )
    .bind(scope)
    .bind(&key.key)
    .bind(&key.request_hash)
    .bind(i16::try_from(status).unwrap_or(i16::MAX))
    .bind(Json(response))
    .execute(conn)
    .await?;
    Ok(recorded.rows_affected() > 0)
}

/// Deletes up to `limit` expired records; returns how many it deleted.
pub async fn sweep_expired(pool: &sqlx::PgPool, limit: i64) -> sqlx::Result<u64> {
    let swept = sqlx::query(
        "delete from idempotency_keys where ctid = any(array(
            select ctid from idempotency_keys where expires_at < now() limit $1))",
    )
    .bind(limit)
    .execute(pool)
    .await?;
    Ok(swept.rows_affected())
}
