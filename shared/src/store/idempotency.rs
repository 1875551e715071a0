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
