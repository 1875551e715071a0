//! The fleet in numbers over a window: counts by kind and status, jobs finished and failed
//! per minute, wait and run times by kind and lane, and the tenants with the most jobs
//! waiting or running. One statement: the window's finished jobs are read from
//! `jobs_finished_idx` alone (it carries the columns read here), the unfinished ones from
//! `jobs_unfinished_idx`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use uuid::Uuid;

use crate::jobs::{JobKind, JobStatus, Lane};

/// How many jobs of a kind are in a status: unfinished ones now, finished ones within the
/// window.
#[derive(Debug, Clone, Deserialize)]
pub struct Count {
    pub kind: JobKind,
    pub status: JobStatus,
    pub count: i64,
}

/// The jobs of a kind that finished in one minute (`at`, its start in Unix seconds), and
/// how many of them `failed` or timed out.
#[derive(Debug, Clone, Deserialize)]
pub struct Minute {
    pub kind: JobKind,
    pub at: i64,
    pub finished: i64,
    pub failed: i64,
}

/// Wait (created to started) and run (started to finished) times, in seconds, of the jobs
/// of a kind and lane that finished within the window: `[p50, p95]`.
#[derive(Debug, Clone, Deserialize)]
pub struct Latency {
    pub kind: JobKind,
    pub lane: Lane,
    pub jobs: i64,
    pub wait: [f64; 2],
    pub run: [f64; 2],
}

/// A user's jobs waiting and running now.
#[derive(Debug, Clone, Deserialize)]
pub struct Tenant {
    pub user_id: Uuid,
    pub pending: i64,
    pub running: i64,
}

/// A kind's unfinished jobs in one lane: `pending` (with those waiting on a backoff),
/// `ready` (pending and due) and `running`.
#[derive(Debug, Clone, Deserialize)]
pub struct LaneLoad {
    pub kind: JobKind,
    pub lane: Lane,
    pub pending: i64,
    pub ready: i64,
    pub running: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Stats {
    pub at: DateTime<Utc>,
    pub counts: Vec<Count>,
    pub minutes: Vec<Minute>,
    pub latency: Vec<Latency>,
    pub lanes: Vec<LaneLoad>,
    pub tenants: Vec<Tenant>,
    /// Every unfinished job, for the tenants' shares.
    pub unfinished: i64,
}

/// How many tenants the statistics name.
pub const TENANTS: i64 = 20;

/// The statistics of the last `window`.
pub async fn stats(pool: &PgPool, window: Duration) -> sqlx::Result<Stats> {
    let stats: sqlx::types::Json<Stats> = sqlx::query_scalar(
        "with w as materialized (
             select kind, lane, status, finished_at,
                    date_part('epoch', started_at - created_at) as waited,
                    date_part('epoch', finished_at - started_at) as ran
             from jobs
             where finished_at is not null and finished_at >= now() - make_interval(secs => $1)),
         u as materialized (
             select kind, lane, status, user_id, run_after <= now() as due from jobs
             where status in ('pending', 'running'))
         select jsonb_build_object(
             'at', now(),
             'counts', coalesce((select jsonb_agg(c) from (
                 select kind, status, count(*) as count from w group by 1, 2
                 union all
                 select kind, status, count(*) from u group by 1, 2) c), '[]'),
             'minutes', coalesce((select jsonb_agg(m order by m.at, m.kind) from (
                 select kind, floor(date_part('epoch', finished_at) / 60)::int8 * 60 as at,
                        count(*) as finished,
                        count(*) filter (where status in ('failed', 'timeout')) as failed
                 from w group by 1, 2) m), '[]'),
             'latency', coalesce((select jsonb_agg(l order by l.kind, l.lane) from (
                 select kind, lane, count(*) as jobs,
                        percentile_cont(array[0.5, 0.95]) within group (order by waited) as wait,
                        percentile_cont(array[0.5, 0.95]) within group (order by ran) as run
                 from w where waited is not null and ran is not null group by 1, 2) l), '[]'),
             'lanes', coalesce((select jsonb_agg(l order by l.kind, l.lane) from (
                 select kind, lane, count(*) filter (where status = 'pending') as pending,
                        count(*) filter (where status = 'pending' and due) as ready,
                        count(*) filter (where status = 'running') as running
                 from u group by 1, 2) l), '[]'),
             'tenants', coalesce((select jsonb_agg(t order by t.pending + t.running desc, t.user_id) from (
                 select user_id, count(*) filter (where status = 'pending') as pending,
                        count(*) filter (where status = 'running') as running
                 from u group by 1 order by count(*) desc, 1 limit $2) t), '[]'),
             'unfinished', (select count(*) from u))",
    )
    .bind(window.as_secs_f64())
    .bind(TENANTS)
    .fetch_one(pool)
    .await?;
    Ok(stats.0)
}

/// What changed in an interval, by kind: jobs created, jobs started and still running,
/// and jobs that ended, by their final status.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Change {
    pub kind: JobKind,
    /// `created`, `started`, or a final status.
    pub change: String,
    pub count: i64,
}

/// How far behind the database's clock an interval of [`changes`] ends: a change is told
/// once its transaction has committed (one that took longer is not told).
pub const SETTLED: Duration = Duration::from_secs(2);

/// The changes from `since` (exclusive of what an earlier call told: pass what it
/// answered) until [`SETTLED`] ago, and that end, which the next call starts from. Without
/// `since`, none: the start of the next interval.
pub async fn changes(
    pool: &PgPool,
    since: Option<DateTime<Utc>>,
) -> sqlx::Result<(Vec<Change>, DateTime<Utc>)> {
    let until: DateTime<Utc> = sqlx::query_scalar("select now() - make_interval(secs => $1)")
        .bind(SETTLED.as_secs_f64())
        .fetch_one(pool)
        .await?;
    let Some(since) = since.filter(|since| *since < until) else {
        return Ok((Vec::new(), since.map_or(until, |since| since.max(until))));
    };
    // Job ids are UUIDv7: those created since `since` are at or above the smallest id of
    // its millisecond.
    let floor = Uuid::from_u128(u128::from(since.timestamp_millis().max(0) as u64) << 80);
    let changes = sqlx::query_as(
        "select kind, 'created' as change, count(*) as count from jobs
         where id >= $1 and created_at >= $2 and created_at < $3 group by 1
         union all
         select kind, 'started', count(*) from jobs
         where status = 'running' and started_at >= $2 and started_at < $3 group by 1
         union all
         select kind, status, count(*) from jobs
         where finished_at is not null and finished_at >= $2 and finished_at < $3
         group by 1, 2
         order by 1, 2",
    )
    .bind(floor)
    .bind(since)
    .bind(until)
    .fetch_all(pool)
    .await?;
    Ok((changes, until))
}
