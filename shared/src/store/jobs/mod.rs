//! The job ledger's statements: a job's row (its insert in the creator's transaction, the
//! poll view), its cancellation, the claim and the fenced state changes of a run
//! ([`ledger`]), and the repair of what Redis lost or a dead worker left behind
//! (`reconcile.rs`).
//!
//! Every state change after the claim is fenced by `(id, attempts, worker)`, so a worker
//! whose job was taken over by the reconciler cannot overwrite the new run's outcome.

use sqlx::{AssertSqlSafe, PgExecutor, PgPool};
use uuid::Uuid;

use crate::jobs::{JobKind, JobRecord, JobStatus, Lane, NewJob};

pub mod ledger;
pub mod reconcile;

pub use ledger::*;
pub use reconcile::*;

impl NewJob {
    /// Writes the ledger row (`pending`), in the caller's transaction.
    pub async fn insert<'e>(&self, db: impl PgExecutor<'e>) -> sqlx::Result<()> {
        sqlx::query(
            "insert into jobs (id, user_id, kind, status, payload, max_attempts, trace_context,
                 enqueued_at, lane, workspace_id, fairness_key)
             values ($1, $2, $3, 'pending', $4, $5, $6, now(), $7, $8, $8)",
        )
        .bind(self.id)
        .bind(self.user_id)
        .bind(self.kind)
        .bind(sqlx::types::Json(&self.payload))
        .bind(self.kind.max_attempts())
        .bind(sqlx::types::Json(&self.trace_context))
        .bind(self.lane)
        .bind(self.workspace_id)
        .execute(db)
        .await?;
        Ok(())
    }
}

/// The columns of a [`JobRecord`].
const RECORD: &str = "select id, user_id, kind, status, attempts, max_attempts, lane, \
     cancel_requested, error, result, created_at, started_at, finished_at, updated_at, \
     events_token from jobs";

pub async fn fetch<'e>(db: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<JobRecord>> {
    sqlx::query_as(AssertSqlSafe(format!("{RECORD} where id = $1")))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The jobs `ids` (those that exist), on the service's connection.
pub async fn fetch_many(pool: &PgPool, ids: &[Uuid]) -> sqlx::Result<Vec<JobRecord>> {
    sqlx::query_as(AssertSqlSafe(format!("{RECORD} where id = any($1)")))
        .bind(ids)
        .fetch_all(pool)
        .await
}

/// The deadline of job `job`, when its kind ends its jobs at one (`About::deadline`, whose
/// names are the code's, never a caller's) and it has one.
pub async fn deadline<'e>(
    db: impl PgExecutor<'e>,
    kind: JobKind,
    job: Uuid,
) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    let Some(deadline) = kind.deadline() else {
        return Ok(None);
    };
    let statement = format!(
        "select {} from {} where job_id = $1",
        deadline.column, deadline.table
    );
    Ok(sqlx::query_scalar(AssertSqlSafe(statement))
        .bind(job)
        .fetch_optional(db)
        .await?
        .flatten())
}

/// Ends job `job` `timeout` when its kind has a deadline, the job is still going and a
/// second past it; whether it did.
pub async fn expire(pool: &PgPool, kind: JobKind, job: Uuid) -> sqlx::Result<bool> {
    let Some(deadline) = kind.deadline() else {
        return Ok(false);
    };
    sqlx::query_scalar(AssertSqlSafe(format!("select {}($1)", deadline.expire)))
        .bind(job)
        .fetch_one(pool)
        .await
}

/// Asks the ledger to cancel the caller's job (`cancel_job`, under row-level security):
/// its status before and after, or none when the caller has no such job.
pub async fn request_cancel(
    conn: &mut sqlx::PgConnection,
    job: Uuid,
) -> sqlx::Result<Option<(JobStatus, JobStatus)>> {
    sqlx::query_as("select before, after from cancel_job($1)")
        .bind(job)
        .fetch_optional(conn)
        .await
}

/// The unfinished jobs of one kind and lane (the metrics, a user's usage).
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Unfinished {
    pub kind: JobKind,
    pub lane: Lane,
    /// `pending`, retries waiting on their backoff included.
    pub pending: i64,
    /// `pending` and due: what a claim can take now.
    pub ready: i64,
    pub running: i64,
}

/// The unfinished jobs by kind and lane, in one scan, of every user or of `user`; kinds
/// and lanes with none are left out.
pub async fn unfinished<'e>(
    db: impl PgExecutor<'e>,
    user: Option<Uuid>,
) -> sqlx::Result<Vec<Unfinished>> {
    let mut query = sqlx::QueryBuilder::new(
        "select kind, lane,
                count(*) filter (where status = 'pending') as pending,
                count(*) filter (where status = 'pending' and run_after <= now()) as ready,
                count(*) filter (where status = 'running') as running
         from jobs where status in ('pending', 'running')",
    );
    if let Some(user) = user {
        query.push(" and user_id = ").push_bind(user);
    }
    query.push(" group by kind, lane");
    query.build_query_as().fetch_all(db).await
}

/// Gives the fairness key `key` of `kind` a cap of its own, lower than its kind's (a
/// webhook endpoint whose last attempt timed out: 1), or with `None` takes it away.
pub async fn cap_key<'e>(
    db: impl PgExecutor<'e>,
    kind: JobKind,
    key: Uuid,
    max_running: Option<u32>,
) -> sqlx::Result<()> {
    match max_running {
        Some(max) => sqlx::query(
            "insert into job_keys (kind, key, max_running) values ($1, $2, $3)
             on conflict (kind, key) do update set max_running = excluded.max_running",
        )
        .bind(kind)
        .bind(key)
        .bind(max.clamp(1, i32::MAX as u32) as i32),
        None => sqlx::query(
            "update job_keys set max_running = null
             where kind = $1 and key = $2 and max_running is not null",
        )
        .bind(kind)
        .bind(key),
    }
    .execute(db)
    .await?;
    Ok(())
}

/// Which of `jobs` ended over a second ago (their final event had time to arrive).
pub async fn ended_a_while_ago(pool: &PgPool, jobs: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "select id from jobs where id = any($1)
           and status not in ('pending', 'running')
           and finished_at < now() - interval '1 second'",
    )
    .bind(jobs)
    .fetch_all(pool)
    .await
}

/// Where a sweep of finished jobs has got to: the finish time of the last job it deleted.
/// The next batch starts there, so that its index scan does not walk again over the
/// entries of the rows already deleted (they stay in the index until a vacuum, and would
/// make each batch slower than the one before).
pub type SweptUpTo = Option<chrono::DateTime<chrono::Utc>>;

/// Deletes up to `batch` jobs that finished more than `retention` ago and not before
/// `from`, oldest first; returns how many it deleted and where to go on from. The rows
/// are not locked first (that would write each twice); two sweepers meeting on a row
/// wait for each other, and the second finds it gone.
pub async fn sweep_finished(
    pool: &PgPool,
    retention: std::time::Duration,
    batch: i64,
    from: SweptUpTo,
) -> sqlx::Result<(u64, SweptUpTo)> {
    let (swept, up_to): (i64, SweptUpTo) = sqlx::query_as(
        "with doomed as (
            select id from jobs
            where finished_at < now() - make_interval(secs => $1)
              and ($3::timestamptz is null or finished_at >= $3)
            order by finished_at
            limit $2),
         gone as (delete from jobs using doomed where jobs.id = doomed.id returning jobs.finished_at)
         select count(*), max(finished_at) from gone",
    )
    .bind(retention.as_secs_f64())
    .bind(batch)
    .bind(from)
    .fetch_one(pool)
    .await?;
    Ok((swept as u64, up_to.or(from)))
}
