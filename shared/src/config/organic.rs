//! `ORGANIC_*`: the organic week (seed 003).

use anyhow::bail;

use super::env::Env;

/// Settings of the organic week (seed 003).
#[derive(Debug, Clone)]
pub struct OrganicSettings {
    /// Placements one request may seed (`ORGANIC_MAX_PLACEMENTS`); the preset's and the
    /// newsletter's come on top.
    pub max_placements: usize,
    /// The least time between two posts of one account (`ORGANIC_MIN_GAP_MINUTES`).
    pub min_gap: chrono::Duration,
    /// AI calls one run makes at once (`ORGANIC_AI_CONCURRENCY`).
    pub ai_concurrency: usize,
}

impl OrganicSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        let settings = OrganicSettings {
            max_placements: env.parse_or("ORGANIC_MAX_PLACEMENTS", 60)?,
            min_gap: chrono::Duration::minutes(env.parse_or("ORGANIC_MIN_GAP_MINUTES", 30)?),
            ai_concurrency: env.parse_or("ORGANIC_AI_CONCURRENCY", 8)?,
        };
        if settings.ai_concurrency == 0 || settings.min_gap < chrono::Duration::zero() {
            bail!(
                "ORGANIC_AI_CONCURRENCY: must be at least 1; ORGANIC_MIN_GAP_MINUTES: not negative"
            );
        }
        Ok(settings)
    }
}
