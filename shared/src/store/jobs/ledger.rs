//! A run of a job: claim, heartbeat, and the fenced state changes that end or retry it.
//!
//! Every write a run makes after its claim is fenced: it applies only while the ledger row
//! is still `running` under this claim's attempt and worker, so a worker whose job the
//! reconciler gave to another cannot overwrite the new run's outcome. The fence is bound
//! through [`sqlx::QueryBuilder`] by [`Claim::push_fence`] and its callers, so statements
//! that combine it with a kind's own writes carry no hand-numbered parameters.

use std::{collections::HashMap, time::Duration};

use serde_json::Value;
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::jobs::{JobKind, JobRecord, JobStatus, Lane};

/// A job a worker holds: the fence for every later write.
#[derive(Debug, Clone)]
pub struct Claim {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The workspace the job works in.
    pub workspace_id: Uuid,
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
    pub lane: Lane,
    /// How long the job was ready before this claim (since `run_after`).
    pub waited: Duration,
}

impl Claim {
    /// The job's maker acting in its workspace: what the jobs it creates work as.
    pub fn actor(&self) -> crate::workspaces::Actor {
        crate::workspaces::Actor {
            user: self.user_id,
            workspace: self.workspace_id,
        }
    }

    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// The turns a claim keeps (see [`claim`]): how many jobs of one kind a key may have
/// running, and a user across its keys; and after how long a ready job counts one lane
/// higher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turns {
    pub per_key: u32,
    /// `None`: the key is the user (every kind but `webhook`, whose keys are endpoints).
    pub per_user: Option<u32>,
    pub aging: Duration,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: Uuid,
    user_id: Uuid,
    workspace_id: Uuid,
    attempts: i32,
    max_attempts: i32,
    payload: sqlx::types::Json<Value>,
    trace_context: sqlx::types::Json<HashMap<String, String>>,
    cancel_requested: bool,
    events_token: Option<Uuid>,
    lane: Lane,
    started: Option<sqlx::types::Json<Value>>,
}

/// The column a kind's start statement returns the claimed job's id in (see [`claim`]).
pub const CLAIMED_JOB: &str = "claimed_job";

/// Takes up to `most` ready jobs of `kind` for `worker`: each goes `running`, attempts + 1,
/// with the worker's name, a heartbeat and `batch` (for [`release_unstarted`]), then the
/// kind's first step runs on them. The claims come back in the order chosen.
///
/// Which jobs is the ledger's choice, whatever the queue delivered (Postgres's
/// `claim_jobs`, migrations `fair_claims` and `cheaper_claims`): the highest lane that has
/// a ready job, then round robin over the fairness keys (the key whose last claim is
/// oldest first), skipping keys and users at their cap in `turns`. Claims of one kind take
/// turns, so the caps hold across any number of workers; the turn ends with the claim's
/// commit.
///
/// `start` is the kind's own first step (`Job::START` in the worker), run in the next
/// statement, whose snapshot sees the domain rows of every job claimed: one data-modifying
/// statement over the CTE `claimed` (columns `id`, `user_id`, `payload`, one row per
/// claimed job), with no parameters of its own, returning at most one row per claimed job
/// with that job's id as [`CLAIMED_JOB`] (`claimed.id as claimed_job`); the row comes back
/// as [`Claim::started`]. Should that statement fail, the claims are given back.
pub async fn claim(
    pool: &PgPool,
    kind: JobKind,
    most: usize,
    worker: &str,
    batch: Uuid,
    start: &'static str,
    turns: Turns,
) -> sqlx::Result<Vec<Claim>> {
    let chosen: Vec<(Uuid, f64)> =
        sqlx::query_as("select id, waited from claim_jobs($1, $2, $3, $4, $5, $6, $7)")
            .bind(kind)
            .bind(worker)
            .bind(batch)
            .bind(most.min(i32::MAX as usize) as i32)
            .bind(turns.per_key.min(i32::MAX as u32) as i32)
            .bind(turns.per_user.map(|cap| cap.min(i32::MAX as u32) as i32))
            .bind(turns.aging.as_secs_f64().max(0.001))
            .fetch_all(pool)
            .await?;
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = chosen.iter().map(|(id, _)| *id).collect();
    let mut query = QueryBuilder::<Postgres>::new(
        "with claimed as (select j.id, j.user_id, j.payload from jobs j
                          where j.id = any((select ",
    );
    query
        .push_bind(&ids)
        .push("::uuid[])::uuid[])), started as (")
        .push(start)
        .push(
            ")
         select c.id, j.user_id, j.workspace_id, j.attempts, j.max_attempts, j.payload, j.trace_context,
                j.cancel_requested, j.events_token, j.lane,
                (select to_jsonb(s) - '",
        )
        .push(CLAIMED_JOB)
        .push("' from started s where s.")
        .push(CLAIMED_JOB)
        .push(" = c.id limit 1) as started from claimed c join jobs j on j.id = c.id");
    let rows: Vec<ClaimRow> = match query.build_query_as().fetch_all(pool).await {
        Ok(rows) => rows,
        Err(error) => {
            // Claimed, not started: given back (tried once; the reconciler recovers them
            // otherwise).
            let _ = release_unstarted(pool, batch, worker).await;
            return Err(error);
        }
    };
    let mut rows: HashMap<Uuid, ClaimRow> = rows.into_iter().map(|row| (row.id, row)).collect();
    Ok(chosen
        .into_iter()
        .filter_map(|(id, waited)| {
            let row = rows.remove(&id)?;
            Some(Claim {
                id,
                user_id: row.user_id,
                workspace_id: row.workspace_id,
                kind,
                attempt: row.attempts,
                max_attempts: row.max_attempts,
                worker: worker.to_owned(),
                payload: row.payload.0,
                trace_context: row.trace_context.0,
                started: row.started.map(|j| j.0),
                cancel_requested: row.cancel_requested,
                events_token: row.events_token,
                lane: row.lane,
                waited: Duration::from_secs_f64(waited.max(0.0)),
            })
        })
        .collect())
}

/// Where a pending job's `run_after` stands by the database's clock (the claim's): how
/// long until it is due (zero when it is), or `None` when the job is not pending. A
/// delivery that found nothing to claim goes back for then, or claims again if it is due.
pub async fn pending_due(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<Duration>> {
    let secs: Option<f64> = sqlx::query_scalar(
        "select greatest(extract(epoch from run_after - now()), 0)::float8 from jobs
         where id = $1 and status = 'pending'",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(secs.map(Duration::from_secs_f64))
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

/// Gives back the jobs the claim statement `batch` of `worker` took, which it never
/// started: the statement committed but its answer was lost (the connection broke). The
/// attempts are not spent. Returns how many it gave back.
pub async fn release_unstarted(pool: &PgPool, batch: Uuid, worker: &str) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "update jobs set status = 'pending', worker = null, heartbeat_at = null,
                attempts = attempts - 1, run_after = now(), enqueued_at = null, updated_at = now()
         where claim_batch = $1 and worker = $2 and status = 'running'",
    )
    .bind(batch)
    .bind(worker)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
