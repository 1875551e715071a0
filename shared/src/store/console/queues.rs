//! Paused queues (`queue_pauses`): a paused kind's jobs are accepted and wait; no claim
//! takes them (`claim_jobs` looks here first), fleet-wide.

use std::collections::BTreeSet;

use sqlx::PgPool;
use uuid::Uuid;

use crate::jobs::JobKind;

/// Pauses `kind`; whether it was running (not paused already).
pub async fn pause(pool: &PgPool, kind: JobKind, by: &str) -> sqlx::Result<bool> {
    let paused = sqlx::query(
        "insert into queue_pauses (kind, paused_by) values ($1, $2) on conflict (kind) do nothing",
    )
    .bind(kind.as_str())
    .bind(by)
    .execute(pool)
    .await?;
    Ok(paused.rows_affected() == 1)
}

/// Resumes `kind`; whether it was paused. Also answers up to `most` of its ready jobs,
/// marked queued now, for their wake-ups: the claims that then run take every other one
/// (a delivery is a wake-up for its kind).
pub async fn resume(pool: &PgPool, kind: JobKind, most: usize) -> sqlx::Result<(bool, Vec<Uuid>)> {
    let mut tx = pool.begin().await?;
    let resumed = sqlx::query("delete from queue_pauses where kind = $1")
        .bind(kind.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    let ready: Vec<Uuid> = sqlx::query_scalar(
        "update jobs set enqueued_at = now()
         where id in (select j.id from jobs j
                      where j.kind = $1 and j.status = 'pending' and j.run_after <= now()
                      order by j.run_after limit $2
                      for update skip locked)
         returning id",
    )
    .bind(kind.as_str())
    .bind(i64::try_from(most).unwrap_or(i64::MAX))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((resumed, ready))
}

/// The paused kinds (a name no process knows is left out).
pub async fn paused(pool: &PgPool) -> sqlx::Result<BTreeSet<JobKind>> {
    let kinds: Vec<String> = sqlx::query_scalar("select kind from queue_pauses")
        .fetch_all(pool)
        .await?;
    Ok(kinds.iter().filter_map(|k| JobKind::parse(k)).collect())
}
