//! The scheduler's pass for posts' numbers (issue 58): each tick, in every worker, the
//! readings due (1 hour, 24 hours and 7 days after a post was published) are made, each
//! once across the fleet (`store::analytics::schedule_due`), as `post_metrics` jobs in the
//! `scheduled` lane.

use almanac_shared::{
    clock::Clock, domain::analytics::PostMetricsJob, events::Event, jobs::JobPayload as _, queue,
    store::analytics,
};
use uuid::Uuid;

use crate::job::JobContext;

/// The most readings one tick makes; the rest wait for the next.
const PER_TICK: i64 = 500;

/// Makes the readings due at `clock.now()`; returns their jobs.
pub async fn tick(ctx: &JobContext, clock: &dyn Clock) -> anyhow::Result<Vec<Uuid>> {
    let mut tx = ctx.pool.begin().await?;
    let jobs = analytics::schedule_due(&mut tx, clock.now(), PER_TICK).await?;
    tx.commit().await?;
    for job in &jobs {
        let first = Event::queued(100);
        queue::enqueue_after_commit(&ctx.emitter, &ctx.queue, PostMetricsJob::KIND, *job, &first)
            .await;
    }
    metrics::counter!("post_metrics_scheduled_total").increment(jobs.len() as u64);
    Ok(jobs)
}
