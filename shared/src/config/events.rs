//! `HEARTBEAT_SECS`, `EVENTS_*`, `RELAY_BUFFER_EVENTS`: the event relay.

use std::time::Duration;

use anyhow::bail;

use super::env::Env;

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
}

impl EventSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        let settings = EventSettings {
            heartbeat: env.seconds_or("HEARTBEAT_SECS", 15.0)?,
            retention: env.seconds_or("EVENTS_RETENTION_SECS", 6.0 * 3600.0)?,
            max_len: env.parse_or("EVENTS_MAX_LEN", 10_000)?,
            relay_buffer: env.parse_or("RELAY_BUFFER_EVENTS", 16)?,
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
