//! Finished jobs rolled up by minute (and their times by hour too), so that the statistics
//! of a long window read a few thousand rows whatever the fleet's volume (`stats`). Every
//! worker's reconciler calls [`roll_up`]; one at a time does the work (the others skip).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;

/// How long after a minute ends it is rolled up: a job's finish time is its transaction's
/// start, so a job that finished in a minute is seen only once its transaction has
/// committed. One whose transaction took longer than this is missing from the rollups
/// (the statistics read the minutes not yet rolled up from the jobs themselves).
pub const SETTLE: Duration = Duration::from_secs(60);

/// The most a pass rolls up: a first pass on a busy ledger works the last day off an hour
/// at a time.
pub const PASS: Duration = Duration::from_secs(3600);

/// How far back the rollups reach (the longest window is a day) and how long they are kept.
pub const REACH: Duration = Duration::from_secs(25 * 3600);
pub const KEPT: Duration = Duration::from_secs(26 * 3600);

/// What a pass writes for the finished jobs of `[$1, $2)`, in order: the minutes' counts
/// by kind and status, the minutes' wait and run histograms, then the hours that end in the
/// pass, from their minutes.
const ROLL_UP: [&str; 3] = [
    "insert into job_minutes (minute, kind, status, jobs)
     select date_trunc('minute', finished_at), kind, status, count(*) from jobs
     where finished_at >= $1 and finished_at < $2
     group by 1, 2, 3",
    "insert into job_times (span, at, kind, lane, measure, bucket, jobs, secs)
     select 60, date_trunc('minute', finished_at), kind, lane, m.measure,
            job_time_bucket(m.secs), count(*), sum(m.secs)
     from jobs,
          lateral (values ('wait', date_part('epoch', started_at - created_at)),
                          ('run', date_part('epoch', finished_at - started_at))) m (measure, secs)
     where finished_at >= $1 and finished_at < $2 and started_at is not null
     group by 2, 3, 4, 5, 6",
    "insert into job_times (span, at, kind, lane, measure, bucket, jobs, secs)
     select 3600, date_trunc('hour', at), kind, lane, measure, bucket, sum(jobs), sum(secs)
     from job_times
     where span = 60 and at >= $1 - interval '1 hour' and at < $2
       and date_trunc('hour', at) + interval '1 hour' > $1
       and date_trunc('hour', at) + interval '1 hour' <= $2
     group by 2, 3, 4, 5, 6",
];

/// Rolls up the settled minutes not yet rolled up, at most [`PASS`] of them, in one
/// transaction. `Some(until)`: the rollups now end there; `None`: another process was
/// rolling up, or no minute was due.
pub async fn roll_up(pool: &PgPool) -> sqlx::Result<Option<DateTime<Utc>>> {
    let mut tx = pool.begin().await?;
    let bounds: Option<(DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "select b.lo, least(b.hi, b.lo + make_interval(secs => $3))
         from (select greatest(coalesce(until, '-infinity'),
                               date_trunc('minute', now() - make_interval(secs => $2))) as lo,
                      date_trunc('minute', now() - make_interval(secs => $1)) as hi
               from job_rollup for update skip locked) b
         where b.hi > b.lo",
    )
    .bind(SETTLE.as_secs_f64())
    .bind(REACH.as_secs_f64())
    .bind(PASS.as_secs_f64())
    .fetch_optional(&mut *tx)
    .await?;
    let Some((lo, hi)) = bounds else {
        return Ok(None);
    };
    for statement in ROLL_UP {
        sqlx::query(statement)
            .bind(lo)
            .bind(hi)
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "with gone as (select now() - make_interval(secs => $1) as before),
              minutes as (delete from job_minutes using gone where minute < gone.before)
         delete from job_times using gone where at < gone.before",
    )
    .bind(KEPT.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    sqlx::query("update job_rollup set until = $1")
        .bind(hi)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(hi))
}

/// Rolls up until every settled minute is (a process that starts on a busy ledger, or a
/// test). Waits for whoever is rolling up meanwhile.
pub async fn catch_up(pool: &PgPool) -> sqlx::Result<()> {
    loop {
        let until: Option<DateTime<Utc>> = sqlx::query_scalar(
            "select until from job_rollup
             where until >= date_trunc('minute', now() - make_interval(secs => $1))",
        )
        .bind(SETTLE.as_secs_f64())
        .fetch_optional(pool)
        .await?
        .flatten();
        if until.is_some() {
            return Ok(());
        }
        if roll_up(pool).await?.is_none() {
            // Another process holds the row: wait for its pass by taking the lock.
            let mut tx = pool.begin().await?;
            sqlx::query("select 1 from job_rollup for update")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        }
    }
}
