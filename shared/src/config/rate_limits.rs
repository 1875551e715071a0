//! `<NAME>_RATE_LIMIT` and `<NAME>_RATE_WINDOW_SECS`: per-user limits on the endpoints that
//! create jobs.

use std::time::Duration;

use super::env::Env;

/// Per-user limits on the endpoints that create jobs, each read from `<NAME>_RATE_LIMIT`
/// and `<NAME>_RATE_WINDOW_SECS` (a kind to come adds one field and one line below).
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// `POST /api/ai/generations`: `GENERATION_RATE_*`.
    pub generations: RateLimit,
    /// `POST /v1/ai/calendar`, first runs and regenerations: `CALENDAR_RATE_*`.
    pub calendars: RateLimit,
    /// `POST /api/v1/themes/{id}/syntheses` (not the scheduler's): `SYNTHESIS_RATE_*`.
    pub syntheses: RateLimit,
    /// `POST /api/organic/generate-calendar`: `ORGANIC_RATE_*`.
    pub organic: RateLimit,
    /// `POST /v1/calendars/{id}/publish`, spooled requests included: `PUBLISH_RATE_*`.
    pub publish: RateLimit,
    /// `GET /feeds/{token}.ics`, per feed (calendar applications fetch it every hour or
    /// so): `FEED_RATE_*`.
    pub feeds: RateLimit,
    /// `POST /v1/webhooks/{id}/test` and redeliveries, per user: `WEBHOOK_TEST_RATE_*`.
    pub webhook_tests: RateLimit,
    /// `POST /v1/workspaces/{id}/invitations`, per person (each sends an email):
    /// `INVITATION_RATE_*`.
    pub invitations: RateLimit,
    /// A review link's guest requests (its page, entries, decisions and comments), per
    /// link: `REVIEW_LINK_RATE_*`.
    pub review_links: RateLimit,
}

/// At most `limit` requests per user in any `window`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// The name of the family, in Redis keys and metrics.
    pub family: &'static str,
    pub limit: u32,
    pub window: Duration,
}

impl RateLimitSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        Ok(RateLimitSettings {
            generations: rate_limit(env, "generations", "GENERATION", 5, 300)?,
            calendars: rate_limit(env, "calendars", "CALENDAR", 20, 600)?,
            syntheses: rate_limit(env, "syntheses", "SYNTHESIS", 20, 600)?,
            organic: rate_limit(env, "organic", "ORGANIC", 20, 600)?,
            publish: rate_limit(env, "publish", "PUBLISH", 60, 60)?,
            feeds: rate_limit(env, "feeds", "FEED", 60, 60)?,
            webhook_tests: rate_limit(env, "webhook_tests", "WEBHOOK_TEST", 10, 60)?,
            invitations: rate_limit(env, "invitations", "INVITATION", 20, 3600)?,
            review_links: rate_limit(env, "review_links", "REVIEW_LINK", 120, 60)?,
        })
    }
}

/// `<prefix>_RATE_LIMIT` per `<prefix>_RATE_WINDOW_SECS`.
fn rate_limit(
    env: &Env,
    family: &'static str,
    prefix: &str,
    limit: u32,
    window_secs: u64,
) -> anyhow::Result<RateLimit> {
    let limit = env.parse_or(&format!("{prefix}_RATE_LIMIT"), limit)?;
    let window_key = format!("{prefix}_RATE_WINDOW_SECS");
    let window_secs: u64 = env.parse_or(&window_key, window_secs)?;
    anyhow::ensure!(window_secs > 0, "{window_key} must be at least 1");
    Ok(RateLimit {
        family,
        limit,
        window: Duration::from_secs(window_secs),
    })
}
