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
        Ok(Self {
            retry_scale,
            attempt_timeout,
        })
    }
}
