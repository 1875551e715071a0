//! Fleet-wide permits: at most `max` holders of one scope at once across every process
//! (requests in flight to one AI provider and model, `AI_MAX_CONCURRENCY`; to one platform
//! and channel, `PLATFORM_MAX_CONCURRENCY`).
//!
//! A permit is a lease in the events' Redis (a sorted set per scope, each holder's expiry
//! its score, read with Redis's own clock): its holder renews it every `JOB_HEARTBEAT_MS`
//! while it lives and gives it back when dropped; a holder that died loses it
//! `JOB_STALE_MS` after its last renewal, as its job's claim goes stale. A caller that
//! finds none free does not wait holding a worker slot: its job goes back to the ledger
//! for a moment. Without Redis every caller is let through (the process decides alone,
//! as the AI breaker does).

use std::{sync::LazyLock, time::Duration};

use rand::Rng;

use crate::{
    config::Settings,
    redis_conn::{QuickEvents, RedisConn},
};

const TAKE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1";

const RENEW: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local renewed = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[1]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]) * 2)
return renewed";

/// The permits of one family (`ai`, `platform`).
pub struct Permits {
    redis: QuickEvents,
    prefix: String,
    /// A lease lives this long after its last renewal (`JOB_STALE_MS`).
    ttl: Duration,
    /// How often a holder renews (`JOB_HEARTBEAT_MS`).
    renew_every: Duration,
}

/// None of a scope's permits was free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy {
    /// How long to wait before asking again: a short, jittered moment.
    pub retry_after: Duration,
}

/// A permit held: given back when dropped.
pub struct Permit {
    held: Option<Held>,
}

struct Held {
    conn: RedisConn,
    key: String,
    id: String,
    renewal: tokio::task::JoinHandle<()>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        held.renewal.abort();
        let Held {
            mut conn, key, id, ..
        } = held;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let given: redis::RedisResult<i64> = redis::cmd("ZREM")
                    .arg(&key)
                    .arg(&id)
                    .query_async(&mut conn)
                    .await;
                if let Err(error) = given {
                    tracing::debug!(error = %error, "giving a permit back failed; it expires with its lease");
                }
            });
        }
    }
}

impl Permits {
    pub fn new(settings: &Settings, family: &str) -> Self {
        Self {
            redis: QuickEvents::new(settings.events.redis.clone()),
            prefix: settings.redis_key(&["permits", family]),
            ttl: settings.jobs.stale_after,
            renew_every: settings.jobs.heartbeat,
        }
    }

    /// Takes one of `scope`'s `max` permits, or says when to ask again.
    pub async fn take(&self, scope: &str, max: u32) -> Result<Permit, Busy> {
        static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(TAKE));
        let Some(mut conn) = self.redis.get().await else {
            return Ok(Permit { held: None });
        };
        // One key per scope, hashed whole: a cluster keeps it on one shard.
        let key = format!("{}:{{{scope}}}", self.prefix);
        let id = uuid::Uuid::now_v7().to_string();
        let taken: redis::RedisResult<i64> = SCRIPT
            .key(&key)
            .arg(max.max(1))
            .arg(self.ttl.as_millis() as u64)
            .arg(&id)
            .invoke_async(&mut conn)
            .await;
        match taken {
            Ok(1) => {
                let renewal = tokio::spawn(renew(
                    conn.clone(),
                    key.clone(),
                    id.clone(),
                    self.ttl,
                    self.renew_every,
                ));
                Ok(Permit {
                    held: Some(Held {
                        conn,
                        key,
                        id,
                        renewal,
                    }),
                })
            }
            Ok(_) => Err(Busy {
                retry_after: retry_pause(),
            }),
            Err(error) => {
                tracing::debug!(error = %error, "the permits' Redis did not answer; this process decides alone");
                Ok(Permit { held: None })
            }
        }
    }

    /// [`Permits::take`], asking again every few tens of milliseconds for up to `patience`
    /// (a request between others of its job, which would lose its job's earlier steps if
    /// the job went back to the ledger at once).
    pub async fn take_within(
        &self,
        scope: &str,
        max: u32,
        patience: Duration,
    ) -> Result<Permit, Busy> {
        let give_up = tokio::time::Instant::now() + patience;
        loop {
            match self.take(scope, max).await {
                Err(busy) if tokio::time::Instant::now() < give_up => {
                    let pause = Duration::from_millis(rand::rng().random_range(20..=80));
                    tokio::time::sleep(pause.min(busy.retry_after)).await;
                }
                taken => return taken,
            }
        }
    }
}

/// How long a job that found no permit free waits in the ledger: a short moment, jittered
/// so that the jobs sent back together do not all ask again at once.
pub fn retry_pause() -> Duration {
    Duration::from_millis(rand::rng().random_range(200..=1_000))
}

/// Keeps a lease alive while its permit lives (aborted when it is dropped).
async fn renew(mut conn: RedisConn, key: String, id: String, ttl: Duration, every: Duration) {
    static SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| redis::Script::new(RENEW));
    let mut ticker = tokio::time::interval(every.max(Duration::from_millis(10)));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let renewed: redis::RedisResult<i64> = SCRIPT
            .key(&key)
            .arg(ttl.as_millis() as u64)
            .arg(&id)
            .invoke_async(&mut conn)
            .await;
        if let Err(error) = renewed {
            tracing::debug!(error = %error, "renewing a permit failed; trying again at the next beat");
        }
    }
}
