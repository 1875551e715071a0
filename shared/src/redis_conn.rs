//! The Redis connection every part of Almanac uses: redis-rs's `ConnectionManager`, which
//! reconnects by itself, plus one retry. The manager learns that its connection died (a
//! Redis restart, a dropped path) only from the command that fails on it, which it hands
//! back before reconnecting; so the first request after a restart would fail although
//! Redis is up. [`RedisConn`] sends such a command once more, on the new connection.
//!
//! A command that failed that way may still have run (its answer was lost), so every
//! command sent through a `RedisConn` is one that may run twice: reads, `SET`, `PUBLISH`,
//! and scripts written to be idempotent (the rate limit's; the event emitter's, which is
//! told when it is sent again, [`RedisConn::invoke_resent`]). apalis's task fetching,
//! which moves tasks between lists, uses [`RedisConn::manager`] instead.

use std::time::Duration;

use anyhow::Context;
use redis::{
    Cmd, Pipeline, RedisError, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager},
};

use crate::config::Settings;

/// A Redis connection that survives a reconnect without failing the command that found it
/// necessary. Cheap to clone (one multiplexed connection underneath).
#[derive(Clone)]
pub struct RedisConn(ConnectionManager);

impl RedisConn {
    /// Connects to `REDIS_URL`.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        let client =
            redis::Client::open(settings.redis_url.expose()).context("parsing REDIS_URL")?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(800)))
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(1);
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .context("connecting to Redis")?;
        Ok(Self(manager))
    }

    /// The underlying manager, without the retry: for commands that must not run twice.
    pub fn manager(&self) -> ConnectionManager {
        self.0.clone()
    }
}

impl RedisConn {
    /// Runs a script that must know whether it may have run already: the invocation
    /// `build(false)` makes, and, should the connection turn out replaced, once more the
    /// one `build(true)` makes (the plain retry sends the same arguments again).
    pub async fn invoke_resent<'a, T: redis::FromRedisValue>(
        &self,
        build: impl Fn(bool) -> redis::ScriptInvocation<'a>,
    ) -> redis::RedisResult<T> {
        let mut conn = self.0.clone();
        match build(false).invoke_async(&mut conn).await {
            Err(error) if reconnected(&error) => {
                tracing::debug!(error = %error, "Redis connection replaced; sending again");
                build(true).invoke_async(&mut conn).await
            }
            other => other,
        }
    }
}

impl From<ConnectionManager> for RedisConn {
    fn from(manager: ConnectionManager) -> Self {
        Self(manager)
    }
}

/// The manager reconnects after this error, so the command is worth one more try.
fn reconnected(error: &RedisError) -> bool {
    error.is_unrecoverable_error()
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.0.req_packed_command(cmd).await {
                Err(error) if reconnected(&error) => {
                    tracing::debug!(error = %error, "Redis connection replaced; sending again");
                    self.0.req_packed_command(cmd).await
                }
                other => other,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match self.0.req_packed_commands(cmd, offset, count).await {
                Err(error) if reconnected(&error) => {
                    tracing::debug!(error = %error, "Redis connection replaced; sending again");
                    self.0.req_packed_commands(cmd, offset, count).await
                }
                other => other,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
