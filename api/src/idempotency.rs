//! `Idempotency-Key` on job-creating POSTs, kept in Postgres (`store::idempotency`) with the
//! job it created: the same key and body within 24 hours replays the first answer, the
//! same key with another body is 422. The key is written by the statement that creates the
//! job (which returns the earlier answer instead when the key was used), so a Redis flush
//! or a race between two retries cannot make a second job.

use almanac_shared::store::idempotency as store;
pub use almanac_shared::store::idempotency::{Earlier, Key};
use serde::{Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// The header's key with the body's hash, or none without the header; 400 for a key that
/// is not 1-255 printable ASCII characters.
pub fn from_header(key: Option<String>, body: &impl Serialize) -> ApiResult<Option<Key>> {
    let Some(key) = key else {
        return Ok(None);
    };
    let valid = !key.is_empty() && key.len() <= 255 && key.chars().all(|c| c.is_ascii_graphic());
    if !valid {
        return Err(ApiError::invalid_field(
            "Idempotency-Key",
            "must be 1-255 printable ASCII characters",
        ));
    }
    let bytes = serde_json::to_vec(body).expect("request bodies serialise");
    Ok(Some(Key {
        key,
        request_hash: hex::encode(Sha256::digest(bytes)),
    }))
}

/// A digest of the key, to name things by it (its rate-limit slot).
pub fn key_hash(key: &Key) -> String {
    hex::encode(Sha256::digest(key.key.as_bytes()))
}

/// The unexpired answer an earlier request with `key` got on `scope`, if any.
pub async fn earlier(
    pool: &PgPool,
    user: Uuid,
    scope: &str,
    key: &Key,
) -> ApiResult<Option<Earlier>> {
    Ok(store::earlier(pool, user, scope, &key.key).await?)
}

/// The earlier answer again, if this request is the same; 422 if its body differs.
pub fn replay<T: DeserializeOwned>(key: &Key, earlier: Earlier) -> ApiResult<T> {
    if earlier.request_hash != key.request_hash {
        return Err(ApiError::unprocessable(
            "IDEMPOTENCY_KEY_REUSED",
            "this Idempotency-Key was used with a different request body",
        ));
    }
    serde_json::from_value(earlier.response.0).map_err(|e| ApiError::internal(e.into()))
}
