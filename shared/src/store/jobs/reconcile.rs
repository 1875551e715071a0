//! Repairing the gap between Postgres and Redis.

use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::jobs::{JobKind, JobStatus};

/// Ends the domain rows of a job that ended otherwise than by its handler, through its
/// kind's registered ending (migration `job_kind_endings`); records and returns what the
/// job kept, its `result`.
pub async fn end_domain_rows<'e>(
    db: impl sqlx::PgExecutor<'e>,
    job: Uuid,
    status: JobStatus,
    error: Option<&Value>,
) -> sqlx::Result<Option<Value>> {
    let kept: Option<sqlx::types::Json<Value>> =
        sqlx::query_scalar("select end_job_domain_rows($1, $2, $3)")
            .bind(job)
            .bind(status)
            .bind(error.map(sqlx::types::Json))
            .fetch_one(db)
            .await?;
    Ok(kept.map(|k| k.0))
}

/// A job the reconciler ended, with what it kept and why it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ended {
    pub id: Uuid,
    pub status: JobStatus,
    pub result: Option<Value>,
    pub error: Option<Value>,
    /// The last commit whose events its lost worker staged (they may be unpublished).
    pub events_token: Option<Uuid>,
}

/// A running job whose heartbeat went stale, as the reconciler left it.
#[derive(sqlx::FromRow)]
struct Stale {
    id: Uuid,
    status: JobStatus,
    error: Option<sqlx::types::Json<Value>>,
    events_token: Option<Uuid>,
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
    /// Jobs this pass ended (`failed`, or `cancelled` as their owner asked), for their
    /// final events.
    pub finished: Vec<Ended>,
}

/// The `application_name` of a worker's presence connection: the worker's name, hashed so
/// that any name fits Postgres's 63 bytes. The reconciler's statement computes the same
/// from `jobs.worker` ([`PRESENCE_OF_WORKER`]).
pub fn presence_name(worker: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(worker.as_bytes()));
    format!("{PRESENCE_PREFIX}{}", &digest[..32])
}

const PRESENCE_PREFIX: &str = "almanac-worker ";

/// [`presence_name`] in SQL, of the job row `jobs`.
const PRESENCE_OF_WORKER: &str =
    "'almanac-worker ' || left(encode(sha256(convert_to(jobs.worker, 'UTF8')), 'hex'), 32)";

/// How much longer than stale a job's heartbeat may be late while its worker is still
/// connected: past that the worker is taken as stuck (cut off from Postgres, its
/// connection not yet timed out) and its job is given back all the same.
const STUCK_AFTER_STALE: u32 = 10;
/// The least time a connected worker's job waits before it is taken as stuck.
const STUCK_AT_LEAST: Duration = Duration::from_secs(60);

/// Repairs the gap between Postgres and Redis: jobs whose worker stopped heart-beating go
/// back to `pending` (or `failed` when out of attempts), and pending jobs that no worker
/// claimed for `requeue_after` are returned to be pushed again (not while their queue is
/// paused: resuming wakes it); when `redis_lost` (Redis
/// lost its data), every pending job, as soon as it is due. A job whose user has a job of
/// its kind running is not pushed: it waits for its turn, which the slot that runs that
/// job takes when it ends (a delivery is a wake-up for the kind, not for the job). Safe to run on every worker at
/// once: rows are locked with `skip locked`, and a job pushed twice is claimed once.
pub async fn reconcile(
    pool: &PgPool,
    stale_after: Duration,
    requeue_after: Duration,
    redis_lost: bool,
) -> sqlx::Result<Reconciled> {
    let mut tx = pool.begin().await?;
    if redis_lost {
        // Whatever was pushed is gone: each is pushed again when due.
        sqlx::query("update jobs set enqueued_at = null where status = 'pending'")
            .execute(&mut *tx)
            .await?;
    }
    // A run whose heartbeat stopped gets another attempt, or ends: `cancelled` when its
    // owner asked, `failed` when it was the last attempt. Domain rows follow the job.
    // (The right-hand sides see the old row, so the error still names the lost worker.)
    // A late heartbeat alone is not enough: the worker must be gone too (its presence
    // connection closed, `presence_name`), unless the heartbeat is so late that the worker
    // is stuck. A live worker on a starved machine, whose heartbeats only came late, never
    // has its job claimed twice.
    let outcomes: Vec<Stale> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with stale as (
            update jobs set
                status = case when cancel_requested then 'cancelled'
                              when attempts >= max_attempts then 'failed'
                              else 'pending' end,
                error = case when cancel_requested
                        then jsonb_build_object('code', 'CANCELLED',
                            'message', 'cancelled; its worker had stopped responding')
                        when attempts >= max_attempts
                        then jsonb_build_object('code', 'WORKER_LOST',
                            'message', 'the worker running the last attempt stopped responding',
                            'worker', worker)
                        else error end,
                finished_at = case when cancel_requested or attempts >= max_attempts then now() end,
                worker = null, heartbeat_at = null, run_after = now(), enqueued_at = null,
                updated_at = now()
            where id in (select id from jobs
                         where status = 'running'
                           and heartbeat_at < now() - make_interval(secs => $1)
                           and (heartbeat_at < now() - make_interval(secs => $2)
                                or not exists (select from pg_stat_activity a
                                               where a.application_name = {PRESENCE_OF_WORKER}))
                         for update skip locked)
            returning id, status, error, events_token)
         select id, status, error, events_token from stale",
    )))
    .bind(stale_after.as_secs_f64())
    .bind(
        (stale_after * STUCK_AFTER_STALE)
            .max(STUCK_AT_LEAST)
            .as_secs_f64(),
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut finished = Vec::new();
    for stale in &outcomes {
        if stale.status.is_final() {
            let error = stale.error.as_ref().map(|e| e.0.clone());
            let result = end_domain_rows(&mut *tx, stale.id, stale.status, error.as_ref()).await?;
            finished.push(Ended {
                id: stale.id,
                status: stale.status,
                result,
                error,
                events_token: stale.events_token,
            });
        }
    }
    let failed = finished
        .iter()
        .filter(|ended| ended.status == JobStatus::Failed)
        .count();
    let recovered = outcomes.len() - finished.len();
    let requeued: Vec<(Uuid, JobKind)> = sqlx::query_as(
        "update jobs set enqueued_at = now()
         where id in (select j.id from jobs j
                      where j.status = 'pending' and j.run_after <= now()
                        and (j.enqueued_at is null
                             or j.enqueued_at < now() - make_interval(secs => $1))
                        and not exists (select from jobs r
                                        where r.status = 'running' and r.kind = j.kind
                                          and r.user_id = j.user_id)
                        and not exists (select from queue_pauses p where p.kind = j.kind)
                      order by j.run_after
                      limit 1000
                      for update skip locked)
         returning id, kind",
    )
    .bind(requeue_after.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Reconciled {
        requeued,
        recovered,
        failed,
        finished,
    })
}
