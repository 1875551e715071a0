//! Per-user rate limits on the endpoints that create jobs, kept in Redis so they hold across
//! API replicas. Each family (`RateLimitSettings`) has its own window; a request takes a
//! slot with [`take`] before it writes anything and gives it back with [`Taken::refund`] if
//! nothing was created. (`Idempotency-Key` lives in Postgres, with the jobs: `idempotency`.)

use std::time::Duration;

use almanac_shared::workspaces::Actor;
use almanac_shared::{config::RateLimit, redis_conn::RedisConn, store, usage};
use redis::Script;
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    idempotency::{self, Key},
    state::AppState,
};

/// A slot a request holds in its family's window.
pub struct Taken {
    key: String,
    slot: String,
}

impl Taken {
    /// Gives the slot back: the request it allowed did not create anything.
    pub async fn refund(&self, state: &AppState) {
        refund_rate(&state.events_redis, &self.key, &self.slot).await;
    }
}

/// Takes a slot of `limit`'s window for the person `actor.user` (rate limits are a
/// person's), or answers 429 with `Retry-After`. Retries of one keyed request
/// (`Idempotency-Key`) share a slot, so they count once. Every family creates AI work, so
/// a request in a workspace whose daily token budget (`AI_WORKSPACE_DAILY_TOKENS`) is spent
/// gets 429 `BUDGET_EXCEEDED` first.
pub async fn take(
    state: &AppState,
    limit: &RateLimit,
    actor: Actor,
    idempotency: Option<&Key>,
) -> ApiResult<Taken> {
    let user = actor.user;
    if let Some(budget) = state.settings.ai.workspace_daily_tokens {
        let used = match store::usage::today(&state.pool, actor.workspace).await {
            Ok(used) => used,
            // Postgres down: nothing it meters can run (calendars answer the legacy dry
            // run), so the request is not refused for a budget nobody can read.
            Err(error) if almanac_shared::db::is_unavailable(&error) => 0,
            Err(error) => return Err(error.into()),
        };
        if used >= budget as i64 {
            metrics::counter!("budget_exceeded_total", "family" => limit.family).increment(1);
            return Err(ApiError::budget_exceeded(
                budget,
                used,
                usage::resets_at(chrono::Utc::now()),
            ));
        }
    }
    take_slot(state, limit, user, idempotency).await
}

/// Takes a slot of `limit`'s window for `user`, or answers 429 with `Retry-After`: for the
/// families that create no AI work (publishing), where no token budget applies and which
/// must not need Postgres (a publish request is spooled while it is down).
pub async fn take_rate(state: &AppState, limit: &RateLimit, user: Uuid) -> ApiResult<Taken> {
    take_slot(state, limit, user, None).await
}

/// Counts a request to the resource `id` (a feed, a review link: whoever holds its secret
/// address) against `limit`, or answers 429 with `Retry-After`.
pub async fn per_resource(state: &AppState, limit: &RateLimit, id: Uuid) -> ApiResult<()> {
    // Hashed by resource (`{<id>}`): on a Redis Cluster its window lives on one shard.
    let key = state
        .settings
        .redis_key(&["ratelimit", &format!("{{{id}}}"), limit.family]);
    match check_rate(&state.events_redis, &key, limit.limit, limit.window, None).await? {
        RateDecision::Allowed(_) => Ok(()),
        RateDecision::Limited(retry_after) => {
            metrics::counter!("rate_limited_total", "family" => limit.family).increment(1);
            Err(ApiError::rate_limited(retry_after))
        }
    }
}

async fn take_slot(
    state: &AppState,
    limit: &RateLimit,
    user: Uuid,
    idempotency: Option<&Key>,
) -> ApiResult<Taken> {
    // Hashed by user (`{<user id>}`): on a Redis Cluster a user's limits share a shard.
    let key = state
        .settings
        .redis_key(&["ratelimit", &format!("{{{user}}}"), limit.family]);
    let keyed_slot = idempotency.map(|key| format!("key:{}", idempotency::key_hash(key)));
    match check_rate(
        &state.events_redis,
        &key,
        limit.limit,
        limit.window,
        keyed_slot,
    )
    .await?
    {
        RateDecision::Allowed(slot) => Ok(Taken { key, slot }),
        RateDecision::Limited(retry_after) => {
            metrics::counter!("rate_limited_total", "family" => limit.family).increment(1);
            Err(ApiError::rate_limited(retry_after))
        }
    }
}

/// A sliding-window log in a sorted set, timed by the Redis server's clock so replicas
/// agree. Returns `{allowed, retry_after_ms}`. The slot `ARGV[3]` names its request, so
/// the script sent again after a reconnect (see `redis_conn`), or for a retry of the same
/// request, finds its slot taken and allows it again instead of counting it twice.
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

/// Takes a slot of the window `key` for a request: `slot` names it (retries of one
/// request, which share an `Idempotency-Key`, share a slot and count once), or a fresh id.
pub async fn check_rate(
    conn: &RedisConn,
    key: &str,
    limit: u32,
    window: Duration,
    slot: Option<String>,
) -> redis::RedisResult<RateDecision> {
    let mut conn = conn.clone();
    let slot = slot.unwrap_or_else(|| Uuid::now_v7().to_string());
    static SCRIPT: std::sync::LazyLock<Script> =
        std::sync::LazyLock::new(|| Script::new(SLIDING_WINDOW));
    let (allowed, retry_ms): (i64, i64) = SCRIPT
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
