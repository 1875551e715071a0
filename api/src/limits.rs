//! Limits kept in Redis so they hold across API replicas: per-user rate limits and
//! `Idempotency-Key` replay.

use std::time::Duration;

use almanac_shared::redis_conn::RedisConn;
use redis::Script;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A sliding-window log in a sorted set, timed by the Redis server's clock so replicas
/// agree. Returns `{allowed, retry_after_ms}`. The slot `ARGV[3]` is unique to its
/// request, so the script sent again after a reconnect (see `redis_conn`) finds its slot
/// taken and allows the request again instead of counting it twice.
const SLIDING_WINDOW: &str = r"
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then return {1, 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
";

pub enum RateDecision {
    /// Allowed; the slot taken, to give back with [`refund_rate`] if the work fails.
    Allowed(String),
    /// Retry after this many whole seconds (at least 1).
    Limited(u64),
}

pub async fn check_rate(
    conn: &RedisConn,
    key: &str,
    limit: u32,
    window: Duration,
) -> redis::RedisResult<RateDecision> {
    let mut conn = conn.clone();
    let slot = Uuid::now_v7().to_string();
    let (allowed, retry_ms): (i64, i64) = Script::new(SLIDING_WINDOW)
        .key(key)
        .arg(window.as_millis() as u64)
        .arg(limit)
        .arg(&slot)
        .invoke_async(&mut conn)
        .await?;
    Ok(if allowed == 1 {
        RateDecision::Allowed(slot)
    } else {
        RateDecision::Limited((retry_ms.max(0) as u64).div_ceil(1000).max(1))
    })
}

/// Gives a slot back: the request it allowed did not create anything. Best effort.
pub async fn refund_rate(conn: &RedisConn, key: &str, slot: &str) {
    let mut conn = conn.clone();
    if let Err(error) = redis::cmd("ZREM")
        .arg(key)
        .arg(slot)
        .query_async::<i64>(&mut conn)
        .await
    {
        tracing::warn!(error = %error, "could not give a rate-limit slot back");
    }
}

/// How long a key's first response is replayed.
pub const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);
/// How long a key stays reserved while its first request runs.
const IN_FLIGHT_TTL: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredEntry {
    body_hash: String,
    /// None while the first request is still running.
    response: Option<StoredResponse>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

pub enum IdempotencyState {
    /// First use: the key is now reserved for this body.
    Fresh,
    /// Same key, same body: answer with the stored response.
    Replay(StoredResponse),
    /// Same key, another body.
    Mismatch,
    /// Same key and body, first request still running.
    InFlight,
}

pub fn body_hash(body: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(body).expect("request bodies serialise");
    hex::encode(Sha256::digest(bytes))
}

pub fn idempotency_key_is_valid(key: &str) -> bool {
    !key.is_empty() && key.len() <= 255 && key.chars().all(|c| c.is_ascii_graphic())
}

/// Reserves `key` for this body, or reports what an earlier request with it did.
pub async fn begin(
    conn: &RedisConn,
    key: &str,
    hash: &str,
) -> redis::RedisResult<IdempotencyState> {
    let mut conn = conn.clone();
    let entry = serde_json::to_string(&StoredEntry {
        body_hash: hash.to_owned(),
        response: None,
    })
    .expect("entry serialises");
    let reserved: Option<String> = redis::cmd("SET")
        .arg(key)
        .arg(entry)
        .arg("NX")
        .arg("PX")
        .arg(IN_FLIGHT_TTL.as_millis() as u64)
        .query_async(&mut conn)
        .await?;
    if reserved.is_some() {
        return Ok(IdempotencyState::Fresh);
    }
    let existing: Option<String> = redis::cmd("GET").arg(key).query_async(&mut conn).await?;
    let Some(existing) = existing.and_then(|raw| serde_json::from_str::<StoredEntry>(&raw).ok())
    else {
        // It expired between the two calls: treat as in flight; the client retries.
        return Ok(IdempotencyState::InFlight);
    };
    Ok(match existing {
        StoredEntry { body_hash, .. } if body_hash != hash => IdempotencyState::Mismatch,
        StoredEntry {
            response: Some(r), ..
        } => IdempotencyState::Replay(r),
        StoredEntry { response: None, .. } => IdempotencyState::InFlight,
    })
}

/// Stores the first response for replay.
pub async fn complete(
    conn: &RedisConn,
    key: &str,
    hash: &str,
    response: StoredResponse,
) -> redis::RedisResult<()> {
    let mut conn = conn.clone();
    let entry = serde_json::to_string(&StoredEntry {
        body_hash: hash.to_owned(),
        response: Some(response),
    })
    .expect("entry serialises");
    redis::cmd("SET")
        .arg(key)
        .arg(entry)
        .arg("PX")
        .arg(IDEMPOTENCY_TTL.as_millis() as u64)
        .query_async::<()>(&mut conn)
        .await
}

/// Frees the key after a failed first request, so the client may retry with it.
pub async fn abandon(conn: &RedisConn, key: &str) {
    let mut conn = conn.clone();
    let _ = redis::cmd("DEL")
        .arg(key)
        .query_async::<i64>(&mut conn)
        .await;
}
