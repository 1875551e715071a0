//! A run of a job: claim, heartbeat, and the fenced state changes that end or retry it.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use super::{JobPayload, JobStatus, PgQuery};

/// The condition of every write a run makes: only the claim's own attempt matches, so a
/// worker whose job the reconciler gave to another cannot overwrite that run. Uses `$1..$3`,
/// bound by [`Claim::bind_fence`].
macro_rules! fence {
    () => {
        "where id = $1 and attempts = $2 and worker = $3 and status = 'running'"
    };
}

/// A job a worker holds: the fence for every later write.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: Uuid,
    pub user_id: Uuid,
    pub attempt: i32,
    pub max_attempts: i32,
    pub worker: String,
    pub payload: JobPayload,
    pub trace_context: HashMap<String, String>,
    /// The row the kind's start statement returned (see [`claim`]), as JSON.
    pub started: Option<Value>,
    /// The owner asked to cancel the job while it was running (before this attempt).
    pub cancel_requested: bool,
}

impl Claim {
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// Why a job id taken from the queue was not claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotClaimed {
    /// No such job (for example the row was deleted): the message is dropped.
    Missing,
    /// Already finished: a duplicate delivery, acknowledged and skipped.
    Finished(JobStatus),
    /// Another worker holds it.
    Running,
    /// A retry whose backoff has not elapsed; it is delivered again when due.
    NotYetDue(DateTime<Utc>),
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    user_id: Uuid,
    attempts: i32,
    max_attempts: i32,
    payload: sqlx::types::Json<JobPayload>,
    trace_context: sqlx::types::Json<HashMap<String, String>>,
    started: Option<sqlx::types::Json<Value>>,
    cancel_requested: bool,
}

/// Takes a job: `pending -> running`, attempts + 1, worker name and heartbeat.
///
/// `start` is the kind's own first step, run in the same statement so it costs no extra
/// round trip: a data-modifying statement over the CTE `claimed` (columns `id`, `user_id`,
/// `payload`) returning at most one row, handed back as [`Claim::started`].
pub async fn claim(
    pool: &PgPool,
    id: Uuid,
    worker: &str,
    start: Option<&'static str>,
) -> anyhow::Result<Result<Claim, NotClaimed>> {
    let sql = format!(
        "with claimed as (
            update jobs set status = 'running', attempts = attempts + 1, worker = $2,
                   heartbeat_at = now(), started_at = coalesce(started_at, now()), updated_at = now()
            where id = $1 and status = 'pending' and run_after <= now()
            returning id, user_id, attempts, max_attempts, payload, trace_context, cancel_requested),
         started as ({})
         select c.user_id, c.attempts, c.max_attempts, c.payload, c.trace_context, c.cancel_requested,
                (select to_jsonb(s) from started s limit 1) as started
         from claimed c",
        start.unwrap_or("select null::int as nothing where false")
    );
    let row: Option<ClaimRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .bind(worker)
        .fetch_optional(pool)
        .await?;
    if let Some(row) = row {
        return Ok(Ok(Claim {
            id,
            user_id: row.user_id,
            attempt: row.attempts,
            max_attempts: row.max_attempts,
            worker: worker.to_owned(),
            payload: row.payload.0,
            trace_context: row.trace_context.0,
            started: row.started.map(|j| j.0),
            cancel_requested: row.cancel_requested,
        }));
    }
    let state: Option<(JobStatus, DateTime<Utc>)> =
        sqlx::query_as("select status, run_after from jobs where id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(Err(match state {
        None => NotClaimed::Missing,
        Some((JobStatus::Running, _)) => NotClaimed::Running,
        Some((JobStatus::Pending, run_after)) => NotClaimed::NotYetDue(run_after),
        Some((status, _)) => NotClaimed::Finished(status),
    }))
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    Alive,
    /// The owner asked to cancel the job.
    CancelRequested,
    /// The claim was lost (the reconciler gave the job to another worker): stop writing.
    Lost,
}

/// Refreshes the heartbeat and reads the cancel flag.
pub async fn heartbeat(pool: &PgPool, claim: &Claim) -> sqlx::Result<Beat> {
    const SQL: &str = concat!(
        "update jobs set heartbeat_at = now() ",
        fence!(),
        " returning cancel_requested"
    );
    let row = claim
        .bind_fence(sqlx::query(SQL))
        .fetch_optional(pool)
        .await?;
    Ok(match row.map(|row| sqlx::Row::get::<bool, _>(&row, 0)) {
        None => Beat::Lost,
        Some(true) => Beat::CancelRequested,
        Some(false) => Beat::Alive,
    })
}

/// A fenced statement that proves the claim still holds and locks the job row, for use as
/// a CTE in a statement that saves partial results (`with alive as (ALIVE_FENCED) ...`).
/// Uses `$1..$3`; bind with [`Claim::bind_fence`].
pub const ALIVE_FENCED: &str = concat!(
    "update jobs set heartbeat_at = now() ",
    fence!(),
    " returning id"
);

/// The fenced final update, using `$1..$6`; only the claim's own attempt can end the job.
/// Domain code may use it as a CTE (`with finished as (FINISH_FENCED returning id) ...`) to
/// save its results in the same statement; bind with [`Claim::bind_finish`].
pub const FINISH_FENCED: &str = concat!(
    "update jobs set status = $4, result = $5, error = $6, ",
    "finished_at = now(), updated_at = now(), heartbeat_at = null ",
    fence!()
);

impl Claim {
    /// Binds `$1..$3` of the fence (as in [`ALIVE_FENCED`]).
    pub fn bind_fence<'q>(&'q self, query: PgQuery<'q>) -> PgQuery<'q> {
        query.bind(self.id).bind(self.attempt).bind(&self.worker)
    }

    /// Binds `$1..$6` of [`FINISH_FENCED`].
    pub fn bind_finish<'q>(
        &'q self,
        query: PgQuery<'q>,
        status: JobStatus,
        result: Option<&'q Value>,
        error: Option<&'q Value>,
    ) -> PgQuery<'q> {
        debug_assert!(status.is_final());
        self.bind_fence(query)
            .bind(status)
            .bind(result.map(sqlx::types::Json))
            .bind(error.map(sqlx::types::Json))
    }
}

/// Ends the job with a final status. Returns `false` when the claim was lost.
pub async fn finish<'e>(
    db: impl PgExecutor<'e>,
    claim: &Claim,
    status: JobStatus,
    result: Option<&Value>,
    error: Option<&Value>,
) -> sqlx::Result<bool> {
    let done = claim
        .bind_finish(sqlx::query(FINISH_FENCED), status, result, error)
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts the job back to `pending` after a transient failure, due after `delay`.
/// Returns `false` when the claim was lost.
pub async fn schedule_retry<'e>(
    db: impl PgExecutor<'e>,
    claim: &Claim,
    delay: Duration,
    error: &Value,
) -> sqlx::Result<bool> {
    const SQL: &str = concat!(
        "update jobs set status = 'pending', worker = null, heartbeat_at = null, error = $4, ",
        "run_after = now() + make_interval(secs => $5), enqueued_at = now(), updated_at = now() ",
        fence!()
    );
    let done = claim
        .bind_fence(sqlx::query(SQL))
        .bind(sqlx::types::Json(error))
        .bind(delay.as_secs_f64())
        .execute(db)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a job back without spending an attempt (graceful shutdown).
pub async fn release(pool: &PgPool, claim: &Claim) -> sqlx::Result<bool> {
    const SQL: &str = concat!(
        "update jobs set status = 'pending', worker = null, heartbeat_at = null, ",
        "attempts = attempts - 1, run_after = now(), enqueued_at = null, updated_at = now() ",
        fence!()
    );
    let done = claim.bind_fence(sqlx::query(SQL)).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

/// Exponential backoff with full jitter: a random delay in `[base, min(max, base * 2^(attempt-1))]`.
pub fn backoff(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(1, 20).saturating_sub(1) as u32);
    let ceiling = exp.min(max).max(base);
    let spread = ceiling.saturating_sub(base).as_millis() as u64;
    base + Duration::from_millis(rand::rng().random_range(0..=spread))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn backoff_stays_within_bounds(attempt in 1i32..40, base_ms in 1u64..5_000, max_ms in 1u64..120_000) {
            let base = Duration::from_millis(base_ms);
            let max = Duration::from_millis(max_ms);
            let d = backoff(attempt, base, max);
            prop_assert!(d >= base);
            prop_assert!(d <= max.max(base));
        }
    }
}
