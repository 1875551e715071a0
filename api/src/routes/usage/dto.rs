//! The usage route's wire types: a day's usage, today's, and the totals.

use almanac_shared::jobs::{JobKind, Lane};
use chrono::{NaiveDate, Utc};
use poem_openapi::Object;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UsageDay {
    /// The UTC day.
    pub day: NaiveDate,
    /// The job kind the calls were for: `generation`, `calendar`, `organic`, `synthesis`.
    pub kind: String,
    pub calls: i32,
    pub tokens_input: i64,
    pub tokens_output: i64,
    /// Input and output tokens.
    pub tokens: i64,
    /// As the provider charged it, or from the configured prices.
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UsageTotals {
    pub calls: i64,
    pub tokens_input: i64,
    pub tokens_output: i64,
    pub tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UsageToday {
    /// Tokens used in the current UTC day, every kind included.
    pub tokens: i64,
    /// `AI_WORKSPACE_DAILY_TOKENS`; null when there is no limit.
    #[oai(nullable)]
    pub limit: Option<u64>,
    /// Tokens left today; null when there is no limit.
    #[oai(nullable)]
    pub remaining: Option<u64>,
    /// When the day's budget resets (the next UTC midnight).
    pub resets_at: chrono::DateTime<Utc>,
}

/// The caller's jobs of one kind and lane that are not finished.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UsageJobs {
    pub kind: JobKind,
    pub lane: Lane,
    /// Waiting to run (`pending`), retries waiting for their backoff included.
    pub queued: i64,
    /// Running now.
    pub running: i64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UsageReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// By day (newest first), then kind; days without calls are left out.
    pub days: Vec<UsageDay>,
    /// The period's sums.
    pub totals: UsageTotals,
    pub today: UsageToday,
    /// The caller's unfinished jobs now: an item for every kind and lane, zeros included.
    pub jobs: Vec<UsageJobs>,
}

crate::enveloped!(UsageReport);
