//! The fleet in numbers over a window: counts by kind and status, jobs finished and failed
//! per step (a minute, or ten), wait and run times by kind and lane, and the tenants with the most jobs
//! waiting or running. The window's settled minutes are read from the rollups
//! (`rollups`), the rest of its finished jobs from `jobs_finished_idx` alone (it carries
//! the columns read here), the unfinished ones from `jobs_unfinished_idx`.

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

/// The jobs of a kind that finished in one step of the window (`at`, its start in Unix
/// seconds, a multiple of the step), and how many of them `failed` or timed out.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
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

/// A workspace's jobs waiting and running now.
#[derive(Debug, Clone, Deserialize)]
pub struct Tenant {
    pub workspace_id: Uuid,
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
    pub steps: Vec<Step>,
    pub latency: Vec<Latency>,
    pub lanes: Vec<LaneLoad>,
    pub tenants: Vec<Tenant>,
    /// Every unfinished job, for the tenants' shares.
    pub unfinished: i64,
    /// The kinds this database ends (`job_kind_endings`): those its deployment runs.
    #[serde(default)]
    pub endings: Vec<String>,
}

/// How many tenants the statistics name.
pub const TENANTS: i64 = 20;

/// Where a window's parts start and end (see [`stats`]).
#[derive(sqlx::FromRow)]
struct Bounds {
    start: DateTime<Utc>,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
    hour_lo: DateTime<Utc>,
    hour_hi: DateTime<Utc>,
}

/// The statistics of the last `window` (at most a day). In one snapshot: the minutes the
/// rollups hold are read from them (`rollups`), the rest of the window (its first minute
/// when it starts within one, and the minutes not yet rolled up) from the jobs themselves.
/// Counts are exact, finished jobs counted by `step` (whole seconds); a wait or run time
/// percentile is the mean of the histogram bucket it falls in (eight buckets per doubling).
pub async fn stats(pool: &PgPool, window: Duration, step: Duration) -> sqlx::Result<Stats> {
    let mut tx = pool.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only")
        .execute(&mut *tx)
        .await?;
    // Compiling the statement would take longer than running it.
    sqlx::query("set local jit = off").execute(&mut *tx).await?;
    // The window starts at `start`; the rollups are read for whole minutes [lo, hi) and
    // their hours for [hour_lo, hour_hi); the jobs for [start, lo) and from hi on.
    let Bounds {
        start,
        lo,
        hi,
        hour_lo,
        hour_hi,
    } = sqlx::query_as(
        "select start, lo, hi,
                    date_trunc('hour', lo + interval '1 hour' - interval '1 microsecond')
                        as hour_lo,
                    greatest(date_trunc('hour', hi),
                             date_trunc('hour', lo + interval '1 hour' - interval '1 microsecond'))
                        as hour_hi
             from (select start, lo, greatest(lo, coalesce(until, lo)) as hi
                   from (select now() - make_interval(secs => $1) as start) s,
                        lateral (select date_trunc('minute', start + interval '1 minute'
                                                   - interval '1 microsecond') as lo) l,
                        job_rollup) b",
    )
    .bind(window.as_secs_f64())
    .fetch_one(&mut *tx)
    .await?;
    let stats: sqlx::types::Json<Stats> = sqlx::query_scalar(
        "with w as materialized (
             select kind, lane, status, finished_at,
                    date_part('epoch', started_at - created_at) as waited,
                    date_part('epoch', finished_at - started_at) as ran
             from jobs where finished_at >= $1 and finished_at < $2
             union all
             select kind, lane, status, finished_at,
                    date_part('epoch', started_at - created_at),
                    date_part('epoch', finished_at - started_at)
             from jobs where finished_at >= $3),
         f as materialized (
             select floor(date_part('epoch', at) / $7::int8)::int8 * $7::int8 as at, kind, status,
                    sum(jobs)::int8 as jobs
             from (select minute as at, kind, status, jobs from job_minutes
                   where minute >= $2 and minute < $3
                   union all
                   select finished_at, kind, status, 1 from w) x
             group by 1, 2, 3),
         t as (
             select kind, lane, measure, bucket, sum(jobs) as jobs, sum(secs) as secs from (
                 select kind, lane, measure, bucket, jobs, secs from job_times
                 where span = 3600 and at >= $4 and at < $5
                 union all
                 select kind, lane, measure, bucket, jobs, secs from job_times
                 where span = 60 and at >= $2 and at < least($3, $4)
                 union all
                 select kind, lane, measure, bucket, jobs, secs from job_times
                 where span = 60 and at >= greatest($2, $5) and at < $3
                 union all
                 select kind, lane, m.measure, job_time_bucket(m.secs), 1, m.secs
                 from w, lateral (values ('wait', waited), ('run', ran)) m (measure, secs)
                 where waited is not null and ran is not null) x
             group by 1, 2, 3, 4),
         p as (
             select kind, lane, measure, max(total)::int8 as jobs,
                    (array_agg(secs / jobs order by bucket) filter (where cum >= 0.5 * total))[1] as p50,
                    (array_agg(secs / jobs order by bucket) filter (where cum >= 0.95 * total))[1] as p95
             from (select *, sum(jobs) over (partition by kind, lane, measure order by bucket) as cum,
                          sum(jobs) over (partition by kind, lane, measure) as total
                   from t) c
             group by 1, 2, 3),
         u as materialized (
             select kind, lane, status, workspace_id, run_after <= now() as due from jobs
             where status in ('pending', 'running'))
         select json_build_object(
             'at', now(),
             'endings', coalesce((select json_agg(kind) from job_kind_endings), '[]'),
             'counts', coalesce((select json_agg(c) from (
                 select kind, status, sum(jobs)::int8 as count from f group by 1, 2
                 union all
                 select kind, status, count(*) from u group by 1, 2) c), '[]'),
             'steps', coalesce((select json_agg(m order by m.at, m.kind) from (
                 select kind, at, sum(jobs)::int8 as finished,
                        coalesce(sum(jobs) filter (where status in ('failed', 'timeout')), 0)::int8
                            as failed
                 from f group by kind, at) m), '[]'),
             'latency', coalesce((select json_agg(l order by l.kind, l.lane) from (
                 select w.kind, w.lane, w.jobs, array[w.p50, w.p95] as wait,
                        array[r.p50, r.p95] as run
                 from p w join p r on r.kind = w.kind and r.lane = w.lane and r.measure = 'run'
                 where w.measure = 'wait') l), '[]'),
             'lanes', coalesce((select json_agg(l order by l.kind, l.lane) from (
                 select kind, lane, count(*) filter (where status = 'pending') as pending,
                        count(*) filter (where status = 'pending' and due) as ready,
                        count(*) filter (where status = 'running') as running
                 from u group by 1, 2) l), '[]'),
             'tenants', coalesce((select json_agg(t order by t.pending + t.running desc, t.workspace_id) from (
                 select workspace_id, count(*) filter (where status = 'pending') as pending,
                        count(*) filter (where status = 'running') as running
                 from u group by 1 order by count(*) desc, 1 limit $6) t), '[]'),
             'unfinished', (select count(*) from u))",
    )
    .bind(start)
    .bind(lo)
    .bind(hi)
    .bind(hour_lo)
    .bind(hour_hi)
    .bind(TENANTS)
    .bind(step.as_secs().max(1) as i64)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
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

/// How long before its row a job's id may have been made, at most.
const ID_LEAD: Duration = Duration::from_secs(60);

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
    // Job ids are UUIDv7 made before their rows are written (a generation's row waits for
    // its batch's statement): those created since `since` are at or above the smallest id
    // of a minute before it. The floor only narrows the scan; `created_at` decides.
    let made = since.timestamp_millis() - ID_LEAD.as_millis() as i64;
    let floor = Uuid::from_u128(u128::from(made.max(0) as u64) << 80);
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
