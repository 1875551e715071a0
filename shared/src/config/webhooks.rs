//! `WEBHOOK_*`: how deliveries are retried and when a failing endpoint is disabled.

use std::time::Duration;

use anyhow::bail;

use super::env::Env;

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// `WEBHOOK_RETRY_SCALE`: multiplies the retry schedule (5 s, 5 min, 30 min, 2 h, 5 h,
    /// 10 h, 10 h) and the day an endpoint may fail before it is disabled. 1 in production;
    /// the tests shrink it.
    pub retry_scale: f64,
    /// `WEBHOOK_TIMEOUT_MS`: how long one attempt may take in all (15 s; at most 5 s of it
    /// to connect).
    pub attempt_timeout: Duration,
    /// `WEBHOOK_FIRST_BYTE_MS`: an attempt's answer must start (its status line) within
    /// this (5 s), or `attempt_timeout` if that is shorter.
    pub first_byte: Duration,
    /// `WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT` (2): attempts to one endpoint at once, across
    /// the fleet; 1 while its last attempt timed out, until one succeeds.
    pub max_in_flight_per_endpoint: u32,
    /// `WEBHOOK_MAX_IN_FLIGHT_PER_USER` (8): attempts to all of one user's endpoints.
    pub max_in_flight_per_user: u32,
}

impl WebhookSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        let retry_scale: f64 = env.parse_or("WEBHOOK_RETRY_SCALE", 1.0)?;
        if !(retry_scale > 0.0 && retry_scale <= 1.0) {
            bail!("WEBHOOK_RETRY_SCALE must be more than 0 and at most 1, got {retry_scale}");
        }
        let attempt_timeout = env.millis_or("WEBHOOK_TIMEOUT_MS", 15_000)?;
        if attempt_timeout.is_zero() || attempt_timeout > Duration::from_secs(60) {
            bail!("WEBHOOK_TIMEOUT_MS must be between 1 and 60000");
        }
        let first_byte = env.millis_or("WEBHOOK_FIRST_BYTE_MS", 5_000)?;
        if first_byte.is_zero() {
            bail!("WEBHOOK_FIRST_BYTE_MS must be at least 1");
        }
        let settings = Self {
            retry_scale,
            attempt_timeout,
            first_byte,
            max_in_flight_per_endpoint: env.parse_or("WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", 2)?,
            max_in_flight_per_user: env.parse_or("WEBHOOK_MAX_IN_FLIGHT_PER_USER", 8)?,
        };
        for (name, value) in [
            (
                "WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT",
                settings.max_in_flight_per_endpoint,
            ),
            (
                "WEBHOOK_MAX_IN_FLIGHT_PER_USER",
                settings.max_in_flight_per_user,
            ),
        ] {
            if value == 0 {
                bail!("{name} must be at least 1");
            }
        }
        Ok(settings)
    }
}
