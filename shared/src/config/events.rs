//! `HEARTBEAT_SECS`, `EVENTS_*`, `RELAY_BUFFER_EVENTS`, `EVENTS_REDIS_URL`: the event relay.

use std::time::Duration;

use anyhow::bail;

use super::env::{Env, Secret};

/// Where events, live channels, rate limits, the AI breaker and idempotency caches live
/// (`EVENTS_REDIS_URL`, default `REDIS_URL`): one Redis server, or a Redis Cluster named by
/// a comma-separated list of its nodes' URLs. The job queues stay on `REDIS_URL`.
#[derive(Debug, Clone)]
pub enum EventsRedis {
    Server(Secret),
    Cluster(Vec<Secret>),
}

impl EventsRedis {
    fn read(env: &Env, redis_url: &str) -> anyhow::Result<Self> {
        let value = env.string_or("EVENTS_REDIS_URL", redis_url)?;
        let urls: Vec<&str> = value
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .collect();
        for url in &urls {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                bail!("EVENTS_REDIS_URL: each URL must start with redis:// or rediss://");
            }
        }
        Ok(match urls.as_slice() {
            [] => bail!("EVENTS_REDIS_URL: no URL given"),
            [one] => EventsRedis::Server(Secret::new(*one)),
            nodes => EventsRedis::Cluster(nodes.iter().map(|url| Secret::new(*url)).collect()),
        })
    }

    /// The one server `url` names: the same Redis as the queues, so one connection serves both.
    pub fn is_server(&self, url: &str) -> bool {
        matches!(self, EventsRedis::Server(own) if own.expose() == url)
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, EventsRedis::Cluster(_))
    }
}

/// Settings of the event relay.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Keep-alive interval of an open stream (`HEARTBEAT_SECS`).
    pub heartbeat: Duration,
    /// How long a job's events are kept after its last event (`EVENTS_RETENTION_SECS`).
    pub retention: Duration,
    /// At most this many events are kept per job, oldest dropped first (`EVENTS_MAX_LEN`).
    pub max_len: u64,
    /// Events one stream may fall behind before it is told and closed (`RELAY_BUFFER_EVENTS`).
    pub relay_buffer: usize,
    /// `EVENTS_REDIS_URL`.
    pub redis: EventsRedis,
}

impl EventSettings {
    pub(super) fn read(env: &Env, redis_url: &str) -> anyhow::Result<Self> {
        let settings = EventSettings {
            heartbeat: env.seconds_or("HEARTBEAT_SECS", 15.0)?,
            retention: env.seconds_or("EVENTS_RETENTION_SECS", 6.0 * 3600.0)?,
            max_len: env.parse_or("EVENTS_MAX_LEN", 10_000)?,
            relay_buffer: env.parse_or("RELAY_BUFFER_EVENTS", 16)?,
            redis: EventsRedis::read(env, redis_url)?,
        };
        if settings.heartbeat.is_zero() {
            bail!("HEARTBEAT_SECS: must be greater than 0");
        }
        if settings.relay_buffer == 0 || settings.max_len == 0 {
            bail!("RELAY_BUFFER_EVENTS and EVENTS_MAX_LEN: must be at least 1");
        }
        Ok(settings)
    }
}
