//! The webhook outbox's relay, in every worker: the changes that cause events stage their
//! deliveries in their own transactions and notify `webhook_outbox` as they commit; the
//! relay listens, gives each new delivery its job (`store::webhook_deliveries::queue_staged`,
//! rows taken with `skip locked`, so with any number of workers each delivery gets one job)
//! and pushes it. The reconciler's pass relays too, for a notification missed while the
//! listener was reconnecting.

use std::time::Duration;

use almanac_shared::{
    jobs::JobPayload as _, store::webhook_deliveries as deliveries, webhooks::WebhookJob,
};
use sqlx::postgres::PgListener;
use tokio_util::sync::CancellationToken;

use crate::job::JobContext;

/// Deliveries one statement queues at most.
const BATCH: i64 = 500;

/// Listens until `shutdown`, reconnecting with a pause when Postgres is away.
pub async fn run(ctx: &JobContext, shutdown: CancellationToken) {
    let mut pause = Duration::from_millis(100);
    loop {
        match listen(ctx, &shutdown).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(error = %error, retry_in_ms = pause.as_millis() as u64, "webhook outbox listener failed; reconnecting");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

async fn listen(ctx: &JobContext, shutdown: &CancellationToken) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(&ctx.pool).await?;
    listener.listen(deliveries::OUTBOX_CHANNEL).await?;
    // Whatever was staged before this listener was listening.
    relay(ctx).await;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            // `None`: the connection was lost and is re-established by the next call;
            // notifications meanwhile are gone, so look for their deliveries now.
            notified = listener.try_recv() => {
                notified?;
                relay(ctx).await;
            }
        }
    }
}

/// Queues every staged delivery that has no job yet; returns how many.
pub async fn relay(ctx: &JobContext) -> usize {
    let mut relayed = 0;
    loop {
        let jobs = match deliveries::queue_staged(&ctx.pool, BATCH).await {
            Ok(jobs) => jobs,
            Err(error) => {
                tracing::warn!(error = %error, "queueing webhook deliveries failed; the next notification or reconciler pass retries");
                return relayed;
            }
        };
        for &job in &jobs {
            ctx.queue.push_or_log(WebhookJob::KIND, job, None).await;
        }
        relayed += jobs.len();
        if (jobs.len() as i64) < BATCH {
            return relayed;
        }
    }
}
