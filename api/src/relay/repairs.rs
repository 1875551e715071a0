//! What a stream does for a job whose worker did not finish telling it: the final events
//! published as the ledger has them, and a job past its kind's deadline ended. These
//! are the relay's only writes; everything else it does is read.

use almanac_shared::{
    events::Emitter,
    jobs::{JobKind, JobRecord},
    store::jobs as ledger,
};
use uuid::Uuid;

use super::Deps;

/// The job's ledger row: the ended one the request found, or read now.
pub(super) async fn ended_record(
    state: &Deps,
    job: Uuid,
    ended: Option<&JobRecord>,
) -> sqlx::Result<Option<JobRecord>> {
    match ended {
        Some(record) => Ok(Some(record.clone())),
        None => ledger::fetch(&state.pool, job).await,
    }
}

/// Publishes the job's final events as the ledger has them (what its last commit staged,
/// then `done`), unless the stream already ends with them. `Ok(false)`: the job is gone.
pub(super) async fn publish_final_from_ledger(
    state: &Deps,
    job: Uuid,
    ended: Option<&JobRecord>,
) -> anyhow::Result<bool> {
    let Some(record) = ended_record(state, job, ended).await? else {
        return Ok(false);
    };
    Emitter::new(&state.settings, state.redis.clone())
        .publish_final_from(&record)
        .await?;
    Ok(true)
}

/// Ends a job past its kind's deadline (`timeout`) and publishes its final event;
/// `Ok(false)` when it had ended otherwise, or the database's clock is a moment behind.
pub(super) async fn expire_run(state: &Deps, kind: JobKind, job: Uuid) -> sqlx::Result<bool> {
    let expired = ledger::expire(&state.pool, kind, job).await?;
    if expired && let Err(error) = Box::pin(publish_final_from_ledger(state, job, None)).await {
        tracing::warn!(job_id = %job, error = %format!("{error:#}"), "publishing a timed-out run's final event failed");
    }
    Ok(expired)
}
