//! `Idempotency-Key` on job-creating POSTs, kept in Postgres (`idempotency_keys`) with the
//! job it created: the same key and body within 24 hours replays the first answer, the
//! same key with another body is 422. The key is written by the statement that creates the
//! job (which returns the earlier answer instead when the key was used), so a Redis flush
//! or a race between two retries cannot make a second job.

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

/// A request's key and the hash of its body.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: String,
}

/// The answer an earlier request with the key got.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Earlier {
    pub request_hash: String,
    pub response: sqlx::types::Json<Value>,
}

impl Idempotency {
    /// The header's key with the body's hash, or none without the header; 400 for a key
    /// that is not 1-255 printable ASCII characters.
    pub fn from_header(key: Option<String>, body: &impl Serialize) -> ApiResult<Option<Self>> {
        let Some(key) = key else {
            return Ok(None);
        };
        let valid =
            !key.is_empty() && key.len() <= 255 && key.chars().all(|c| c.is_ascii_graphic());
        if !valid {
            return Err(ApiError::invalid_field(
                "Idempotency-Key",
                "must be 1-255 printable ASCII characters",
            ));
        }
        let bytes = serde_json::to_vec(body).expect("request bodies serialise");
        Ok(Some(Self {
            key,
            request_hash: hex::encode(Sha256::digest(bytes)),
        }))
    }

    /// A digest of the key, to name things by it (its rate-limit slot).
    pub fn key_hash(&self) -> String {
        hex::encode(Sha256::digest(self.key.as_bytes()))
    }

    /// The unexpired answer an earlier request with this key got on `scope`, if any.
    pub async fn earlier(
        &self,
        pool: &PgPool,
        user: Uuid,
        scope: &str,
    ) -> ApiResult<Option<Earlier>> {
        Ok(sqlx::query_as(
            "select request_hash, response from idempotency_keys
             where user_id = $1 and scope = $2 and key = $3 and expires_at > now()",
        )
        .bind(user)
        .bind(scope)
        .bind(&self.key)
        .fetch_optional(pool)
        .await?)
    }

    /// The earlier answer again, if this request is the same; 422 if its body differs.
    pub fn replay<T: DeserializeOwned>(&self, earlier: Earlier) -> ApiResult<T> {
        if earlier.request_hash != self.request_hash {
            return Err(ApiError::unprocessable(
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used with a different request body",
            ));
        }
        serde_json::from_value(earlier.response.0).map_err(|e| ApiError::internal(e.into()))
    }
}
