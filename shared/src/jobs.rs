//! The job ledger: Postgres is the source of truth for every job, Redis only carries
//! job ids to workers (ARCHITECTURE.md section 2).
//!
//! Every state change after the claim is fenced by `(id, attempts, worker)`, so a worker
//! whose job was taken over by the reconciler cannot overwrite the new run's outcome.

use std::{collections::HashMap, fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

/// The kinds of job, one apalis queue each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Generation,
    Calendar,
    Organic,
    Synthesis,
    Email,
    Publish,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        JobKind::Generation,
        JobKind::Calendar,
        JobKind::Organic,
        JobKind::Synthesis,
        JobKind::Email,
        JobKind::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Generation => "generation",
            JobKind::Calendar => "calendar",
            JobKind::Organic => "organic",
            JobKind::Synthesis => "synthesis",
            JobKind::Email => "email",
            JobKind::Publish => "publish",
        }
    }

    /// Attempts a job of this kind gets before it ends `failed`.
    pub fn max_attempts(self) -> i32 {
        match self {
            JobKind::Email => 5,
            JobKind::Publish => 3,
            _ => 3,
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown job kind `{s}`"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Timeout,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Timeout => "timeout",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::Running)
    }
}

impl FromStr for JobStatus {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "pending" => JobStatus::Pending,
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            "failed" => JobStatus::Failed,
            "timeout" => JobStatus::Timeout,
            "cancelled" => JobStatus::Cancelled,
            other => anyhow::bail!("unknown job status `{other}`"),
        })
    }
}

/// What travels on the Redis queue: the id (and its kind). The payload lives in Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: Uuid,
    pub kind: JobKind,
}

/// A job's payload, tagged and versioned so it can evolve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum JobPayload {
    #[serde(rename = "generation.v1")]
    GenerationV1 { generation_id: Uuid },
}

impl JobPayload {
    pub fn kind(&self) -> JobKind {
        match self {
            JobPayload::GenerationV1 { .. } => JobKind::Generation,
        }
    }
}

/// A new ledger row, written in the same transaction (or statement) as its domain rows.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub user_id: Uuid,
    pub payload: JobPayload,
    /// W3C trace context of the request that created the job.
    pub trace_context: HashMap<String, String>,
}

impl NewJob {
    pub fn new(user_id: Uuid, payload: JobPayload) -> Self {
        Self {
            id: Uuid::now_v7(),
            user_id,
            payload,
            trace_context: HashMap::new(),
        }
    }
}

pub type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The poll view of a job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub error: Option<sqlx::types::Json<Value>>,
    pub result: Option<sqlx::types::Json<Value>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn fetch<'e>(db: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<JobRecord>> {
    sqlx::query_as(
        "select id, user_id, kind, status, attempts, max_attempts, error, result,
                created_at, started_at, finished_at, updated_at
         from jobs where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
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
    Finished(String),
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
            returning id, user_id, attempts, max_attempts, payload, trace_context),
         started as ({})
         select c.user_id, c.attempts, c.max_attempts, c.payload, c.trace_context,
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
        }));
    }
    let state: Option<(String, DateTime<Utc>)> =
        sqlx::query_as("select status, run_after from jobs where id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
    Ok(Err(match state {
        None => NotClaimed::Missing,
        Some((status, _)) if status == "running" => NotClaimed::Running,
        Some((status, run_after)) if status == "pending" => NotClaimed::NotYetDue(run_after),
        Some((status, _)) => NotClaimed::Finished(status),
    }))
}

/// Refreshes the heartbeat. `false` means the claim was lost (the reconciler took the job
/// over, or it was cancelled) and the worker must stop writing.
pub async fn heartbeat(pool: &PgPool, claim: &Claim) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update jobs set heartbeat_at = now()
         where id = $1 and attempts = $2 and worker = $3 and status = 'running'",
    )
    .bind(claim.id)
    .bind(claim.attempt)
    .bind(&claim.worker)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The fenced final update, using `$1..$6`; only the claim's own attempt can end the job.
/// Domain code may use it as a CTE (`with finished as (FINISH_FENCED returning id) ...`) to
/// save its results in the same statement; bind with [`Claim::bind_finish`].
pub const FINISH_FENCED: &str = "update jobs set status = $4, result = $5, error = $6,
        finished_at = now(), updated_at = now(), heartbeat_at = null
    where id = $1 and attempts = $2 and worker = $3 and status = 'running'";

impl Claim {
    /// Binds `$1..$6` of [`FINISH_FENCED`].
    pub fn bind_finish<'q>(
        &'q self,
        query: PgQuery<'q>,
        status: JobStatus,
        result: Option<&'q Value>,
        error: Option<&'q Value>,
    ) -> PgQuery<'q> {
        debug_assert!(status.is_final());
        query
            .bind(self.id)
            .bind(self.attempt)
            .bind(&self.worker)
            .bind(status.as_str())
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
    let done = sqlx::query(
        "update jobs set status = 'pending', worker = null, heartbeat_at = null, error = $4,
                run_after = now() + make_interval(secs => $5), enqueued_at = now(), updated_at = now()
         where id = $1 and attempts = $2 and worker = $3 and status = 'running'",
    )
    .bind(claim.id)
    .bind(claim.attempt)
    .bind(&claim.worker)
    .bind(sqlx::types::Json(error))
    .bind(delay.as_secs_f64())
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a job back without spending an attempt (graceful shutdown).
pub async fn release(pool: &PgPool, claim: &Claim) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update jobs set status = 'pending', worker = null, heartbeat_at = null,
                attempts = attempts - 1, run_after = now(), enqueued_at = null, updated_at = now()
         where id = $1 and attempts = $2 and worker = $3 and status = 'running'",
    )
    .bind(claim.id)
    .bind(claim.attempt)
    .bind(&claim.worker)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Exponential backoff with full jitter: a random delay in `[base, min(max, base * 2^(attempt-1))]`.
pub fn backoff(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(1, 20).saturating_sub(1) as u32);
    let ceiling = exp.min(max).max(base);
    let spread = ceiling.saturating_sub(base).as_millis() as u64;
    base + Duration::from_millis(rand::rng().random_range(0..=spread))
}

/// What one reconciler pass found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reconciled {
    /// Pending jobs pushed onto their queue again: `(id, kind)`.
    pub requeued: Vec<(Uuid, JobKind)>,
    /// Running jobs whose worker died and that were given back for another attempt.
    pub recovered: usize,
    /// Running jobs whose worker died on their last attempt, now `failed`.
    pub failed: usize,
}

/// Repairs the gap between Postgres and Redis: jobs whose worker stopped heart-beating go
/// back to `pending` (or `failed` when out of attempts), and pending jobs that no worker
/// claimed for `requeue_after` are returned to be pushed again. Safe to run on every
/// worker at once: rows are locked with `skip locked`, and a job pushed twice is claimed once.
pub async fn reconcile(
    pool: &PgPool,
    stale_after: Duration,
    requeue_after: Duration,
) -> sqlx::Result<Reconciled> {
    let mut tx = pool.begin().await?;
    let failed = sqlx::query(
        "update jobs set status = 'failed', finished_at = now(), updated_at = now(),
                heartbeat_at = null,
                error = jsonb_build_object('code', 'WORKER_LOST',
                    'message', 'the worker running the last attempt stopped responding',
                    'worker', worker)
         where id in (select id from jobs
                      where status = 'running' and attempts >= max_attempts
                        and heartbeat_at < now() - make_interval(secs => $1)
                      for update skip locked)",
    )
    .bind(stale_after.as_secs_f64())
    .execute(&mut *tx)
    .await?
    .rows_affected() as usize;
    let recovered = sqlx::query(
        "update jobs set status = 'pending', worker = null, heartbeat_at = null,
                run_after = now(), enqueued_at = null, updated_at = now()
         where id in (select id from jobs
                      where status = 'running' and attempts < max_attempts
                        and heartbeat_at < now() - make_interval(secs => $1)
                      for update skip locked)",
    )
    .bind(stale_after.as_secs_f64())
    .execute(&mut *tx)
    .await?
    .rows_affected() as usize;
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "update jobs set enqueued_at = now()
         where id in (select id from jobs
                      where status = 'pending' and run_after <= now()
                        and (enqueued_at is null or enqueued_at < now() - make_interval(secs => $1))
                      order by run_after
                      limit 1000
                      for update skip locked)
         returning id, kind",
    )
    .bind(requeue_after.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    let requeued = rows
        .into_iter()
        .filter_map(|(id, kind)| kind.parse().ok().map(|k| (id, k)))
        .collect();
    Ok(Reconciled {
        requeued,
        recovered,
        failed,
    })
}

/// Marks a job as handed to Redis, so the reconciler leaves it alone for a while.
pub async fn mark_enqueued(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query("update jobs set enqueued_at = now() where id = any($1)")
        .bind(ids)
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn kinds_round_trip_and_contain_no_colon() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>().unwrap(), kind);
            assert!(!kind.as_str().contains(':'));
        }
    }

    #[test]
    fn payload_is_tagged_and_versioned() {
        let id = Uuid::nil();
        let json = serde_json::to_value(JobPayload::GenerationV1 { generation_id: id }).unwrap();
        assert_eq!(json["type"], "generation.v1");
        assert_eq!(json["generation_id"], id.to_string());
    }

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
