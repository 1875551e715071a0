//! `CALENDAR_*`: calendar generation (seed 000).

use std::time::Duration;

use anyhow::bail;

use super::env::Env;

/// Settings of calendar generation (seed 000).
#[derive(Debug, Clone)]
pub struct CalendarSettings {
    /// A run still generating after this long ends `timeout`, keeping what it generated
    /// (`CALENDAR_TIMEOUT_SECS`).
    pub timeout: Duration,
    /// AI calls one run makes at once (`CALENDAR_AI_CONCURRENCY`).
    pub ai_concurrency: usize,
    /// Slots per AI call (`CALENDAR_BATCH_SLOTS`); the first call takes fewer, so the
    /// first entries arrive soon.
    pub batch_slots: usize,
}

impl CalendarSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        let settings = CalendarSettings {
            timeout: env.seconds_or("CALENDAR_TIMEOUT_SECS", 30.0)?,
            ai_concurrency: env.parse_or("CALENDAR_AI_CONCURRENCY", 4)?,
            batch_slots: env.parse_or("CALENDAR_BATCH_SLOTS", 40)?,
        };
        if settings.ai_concurrency == 0 || settings.batch_slots == 0 {
            bail!("CALENDAR_AI_CONCURRENCY and CALENDAR_BATCH_SLOTS: must be at least 1");
        }
        Ok(settings)
    }
}
