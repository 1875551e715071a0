//! A run of a job: claim, heartbeat, and the fenced state changes that end or retry it.
//!
//! Every write a run makes after its claim is fenced: it applies only while the ledger row
//! is still `running` under this claim's attempt and worker, so a worker whose job the
//! reconciler gave to another cannot overwrite the new run's outcome. The fence is bound
//! through [`sqlx::QueryBuilder`] by [`Claim::push_fence`] and its callers, so statements
//! that combine it with a kind's own writes carry no hand-numbered parameters.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::jobs::{JobKind, JobRecord, JobStatus};

/// A job a worker holds: the fence for every later write.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: JobKind,
    pub attempt: i32,
    pub max_attempts: i32,
    pub worker: String,
    /// The tagged payload (see [`crate::jobs::JobPayload`]).
    pub payload: Value,
    pub trace_context: HashMap<String, String>,
    /// The row the kind's start statement returned (see [`claim`]), as JSON.
    pub started: Option<Value>,
    /// The owner asked to cancel the job while it was running (before this attempt).
    pub cancel_requested: bool,
    /// The last commit an earlier attempt staged events for (see `events::Emitter::stage`):
    /// if it died before publishing them, this attempt does.
    pub events_token: Option<Uuid>,
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
    id: Uuid,
    user_id: Uuid,
    kind: JobKind,
    attempts: i32,
    max_attempts: i32,
    payload: sqlx::types::Json<Value>,
    trace_context: sqlx::types::Json<HashMap<String, String>>,
    started: Option<sqlx::types::Json<Value>>,
    cancel_requested: bool,
    events_token: Option<Uuid>,
}

/// The column a kind's start statement returns the claimed job's id in (see [`claim`]).
pub const CLAIMED_JOB: &str = "claimed_job";

/// Takes jobs of one kind, all in one statement: each `pending` job of `ids` that is due
/// goes `running`, attempts + 1, with the worker's name and a heartbeat. Answers each id
/// in the order given, with its [`Claim`] or why it was not claimed.
///
/// `start` is the kind's own first step (`Job::START` in the worker), run in the same
/// statement so it costs no extra round trip. The contract: one data-modifying statement
/// over the CTE `claimed` (columns `id`, `user_id`, `payload`, one row per claimed job),
/// with no parameters of its own, returning at most one row per claimed job with that
/// job's id as [`CLAIMED_JOB`] (`claimed.id as claimed_job`); the row comes back as
/// [`Claim::started`].
///
/// The ids go through a subquery: the planner would count the elements of the array
/// itself and plan each claim again for its size, which cost more than the claim.
///
/// The ids are sorted, so the rows are locked in one order and two batches that share a job
/// (a delivery repeated after a reconnect) wait for each other rather than deadlock.
pub async fn claim(
    pool: &PgPool,
    ids: &[Uuid],
    worker: &str,
    start: &'static str,
) -> sqlx::Result<Vec<Result<Claim, NotClaimed>>> {
    let mut sorted = ids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut query = QueryBuilder::<Postgres>::new(
        "with claimed as (
            update jobs set status = 'running', attempts = attempts + 1, worker = ",
    );
    query
        .push_bind(worker)
        .push(
            ", heartbeat_at = now(), started_at = coalesce(started_at, now()), updated_at = now()
            where id = any((select ",
        )
        .push_bind(&sorted)
        .push(
            "::uuid[])::uuid[]) and status = 'pending' and run_after <= now()
            returning id, user_id, kind, attempts, max_attempts, payload, trace_context,
                cancel_requested, events_token),
         started as (",
        )
        .push(start)
        .push(
            ")
         select c.id, c.user_id, c.kind, c.attempts, c.max_attempts, c.payload, c.trace_context,
                c.cancel_requested, c.events_token,
                (select to_jsonb(s) - '",
        )
        .push(CLAIMED_JOB)
        .push("' from started s where s.")
        .push(CLAIMED_JOB)
        .push(" = c.id limit 1) as started from claimed c");
    let rows: Vec<ClaimRow> = query.build_query_as().fetch_all(pool).await?;
    let mut claimed: HashMap<Uuid, Claim> = rows
        .into_iter()
        .map(|row| {
            let claim = Claim {
                id: row.id,
                user_id: row.user_id,
                kind: row.kind,
                attempt: row.attempts,
                max_attempts: row.max_attempts,
                worker: worker.to_owned(),
                payload: row.payload.0,
                trace_context: row.trace_context.0,
                started: row.started.map(|j| j.0),
                cancel_requested: row.cancel_requested,
                events_token: row.events_token,
            };
            (claim.id, claim)
        })
        .collect();
    let missed: Vec<Uuid> = sorted
        .into_iter()
        .filter(|id| !claimed.contains_key(id))
        .collect();
    let states: HashMap<Uuid, (JobStatus, DateTime<Utc>)> = if missed.is_empty() {
        HashMap::new()
    } else {
        sqlx::query_as::<_, (Uuid, JobStatus, DateTime<Utc>)>(
            "select id, status, run_after from jobs where id = any($1)",
        )
        .bind(&missed)
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|(id, status, run_after)| (id, (status, run_after)))
        .collect()
    };
    Ok(ids
        .iter()
        .map(|id| {
            // A repeated id is claimed once: its first place gets the claim.
            if let Some(claim) = claimed.remove(id) {
                return Ok(claim);
            }
            Err(match states.get(id).copied() {
                None if !missed.contains(id) => NotClaimed::Running,
                None => NotClaimed::Missing,
                Some((JobStatus::Running, _)) => NotClaimed::Running,
                Some((JobStatus::Pending, run_after)) => NotClaimed::NotYetDue(run_after),
                Some((status, _)) => NotClaimed::Finished(status),
            })
        })
        .collect())
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

impl Claim {
    /// Pushes the fence: a `where` clause that matches only this claim's running attempt.
    pub fn push_fence(&self, query: &mut QueryBuilder<Postgres>) {
        query
            .push(" where id = ")
            .push_bind(self.id)
            .push(" and attempts = ")
            .push_bind(self.attempt)
            .push(" and worker = ")
            .push_bind(self.worker.clone())
            .push(" and status = 'running'");
    }

    /// Pushes a statement that proves the claim still holds and locks the job row, as a
    /// CTE for a statement that saves partial results (`with alive as (...) ...`). With
    /// `events`, the commit records the token its events were staged under.
    pub fn push_alive(&self, query: &mut QueryBuilder<Postgres>, events: Option<Uuid>) {
        query.push("update jobs set heartbeat_at = now()");
        push_events_token(query, events);
        self.push_fence(query);
        query.push(" returning id");
    }

    /// Pushes the fenced final update, which only the claim's own attempt can make; as a
    /// CTE it lets a kind save its results in the statement that ends the job. With
    /// `events`, the commit records the token its last events were staged under.
    pub fn push_finish(
        &self,
        query: &mut QueryBuilder<Postgres>,
        status: JobStatus,
        result: Option<&Value>,
        error: Option<&Value>,
        events: Option<Uuid>,
    ) {
        debug_assert!(status.is_final());
        query
            .push("update jobs set status = ")
            .push_bind(status)
            .push(", result = ")
            .push_bind(result.map(sqlx::types::Json))
            .push(", error = ")
            .push_bind(error.map(sqlx::types::Json))
            .push(", finished_at = now(), updated_at = now(), heartbeat_at = null");
        push_events_token(query, events);
        self.push_fence(query);
        query.push(" returning id");
    }

    /// Whether the claim still holds; locks the job row until the transaction ends. With
    /// `events`, the transaction's commit records the token its events were staged under.
    pub async fn alive<'e>(
        &self,
        db: impl PgExecutor<'e>,
        events: Option<Uuid>,
    ) -> sqlx::Result<bool> {
        let mut query = QueryBuilder::new("");
        self.push_alive(&mut query, events);
        Ok(query.build().fetch_optional(db).await?.is_some())
    }
}

fn push_events_token(query: &mut QueryBuilder<Postgres>, events: Option<Uuid>) {
    if let Some(token) = events {
        query.push(", events_token = ").push_bind(token);
    }
}

/// Refreshes the heartbeat and reads the cancel flag.
pub async fn heartbeat(pool: &PgPool, claim: &Claim) -> sqlx::Result<Beat> {
    let mut query = QueryBuilder::new("update jobs set heartbeat_at = now()");
    claim.push_fence(&mut query);
    query.push(" returning cancel_requested");
    let cancel: Option<bool> = query.build_query_scalar().fetch_optional(pool).await?;
    Ok(match cancel {
        None => Beat::Lost,
        Some(true) => Beat::CancelRequested,
        Some(false) => Beat::Alive,
    })
}

impl Claim {
    /// Ends the job with a final status (and, with `events`, the token its last events
    /// were staged under). Returns `false` when the claim was lost.
    pub async fn finish<'e>(
        &self,
        db: impl PgExecutor<'e>,
        status: JobStatus,
        result: Option<&Value>,
        error: Option<&Value>,
        events: Option<Uuid>,
    ) -> sqlx::Result<bool> {
        let mut query = QueryBuilder::new("");
        self.push_finish(&mut query, status, result, error, events);
        Ok(query.build().fetch_optional(db).await?.is_some())
    }

    /// Ends a successful attempt: `succeeded` with what the job kept. Returns `false` when
    /// the claim was lost (another worker now owns the job, whose outcome stands).
    pub async fn succeed<'e>(
        &self,
        db: impl PgExecutor<'e>,
        result: &Value,
        events: Option<Uuid>,
    ) -> sqlx::Result<bool> {
        self.finish(db, JobStatus::Succeeded, Some(result), None, events)
            .await
    }
}

/// Ends the job otherwise than by its handler (`failed`, `cancelled`): the fenced final
/// update with `error`, and the kind's domain rows with `domain_error` (which may carry
/// diagnostics the job's own error does not), in one transaction. Returns the job as it
/// ended (its `result` is what it kept), or `None` when the claim was lost.
pub async fn end(
    pool: &PgPool,
    claim: &Claim,
    status: JobStatus,
    error: &Value,
    domain_error: &Value,
) -> sqlx::Result<Option<JobRecord>> {
    let mut tx = pool.begin().await?;
    if !claim
        .finish(&mut *tx, status, None, Some(error), None)
        .await?
    {
        return Ok(None);
    }
    super::reconcile::end_domain_rows(&mut *tx, claim.id, status, Some(domain_error)).await?;
    let ended = super::fetch(&mut *tx, claim.id).await?;
    tx.commit().await?;
    Ok(ended)
}

/// Puts the job back to `pending` after a transient failure, due after `delay`.
/// Returns `false` when the claim was lost.
pub async fn schedule_retry<'e>(
    db: impl PgExecutor<'e>,
    claim: &Claim,
    delay: Duration,
    error: &Value,
) -> sqlx::Result<bool> {
    let mut query = QueryBuilder::new(
        "update jobs set status = 'pending', worker = null, heartbeat_at = null, error = ",
    );
    query
        .push_bind(sqlx::types::Json(error))
        .push(", run_after = now() + make_interval(secs => ")
        .push_bind(delay.as_secs_f64())
        .push("), enqueued_at = now(), updated_at = now()");
    claim.push_fence(&mut query);
    let done = query.build().execute(db).await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a job back without spending an attempt, due after `delay` (a graceful
/// shutdown, or a failure of the infrastructure rather than of the job).
pub async fn release(pool: &PgPool, claim: &Claim, delay: Duration) -> sqlx::Result<bool> {
    let mut query = QueryBuilder::new(
        "update jobs set status = 'pending', worker = null, heartbeat_at = null, \
         attempts = attempts - 1, run_after = now() + make_interval(secs => ",
    );
    query
        .push_bind(delay.as_secs_f64())
        .push("), enqueued_at = null, updated_at = now()");
    claim.push_fence(&mut query);
    let done = query.build().execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

/// Gives back a claim `worker` may hold on job `id` without having started it: its claim
/// statement committed but the answer was lost (the connection broke). The attempt is not
/// spent. Returns whether there was such a claim.
pub async fn release_unstarted(pool: &PgPool, id: Uuid, worker: &str) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update jobs set status = 'pending', worker = null, heartbeat_at = null,
                attempts = attempts - 1, run_after = now(), enqueued_at = null, updated_at = now()
         where id = $1 and worker = $2 and status = 'running'",
    )
    .bind(id)
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}
