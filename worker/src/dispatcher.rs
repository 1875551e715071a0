//! The publish dispatcher (seed 001), in every worker: each `PUBLISH_TICK_MS` it hands the
//! intents due now to publish jobs (claimed with `for update skip locked`, so with any
//! number of workers each intent gets one job), and replays the publish requests spooled
//! while Postgres was down. While `PUBLISH_SERVICE_ENABLED` is off nothing is dispatched:
//! due intents stay `scheduled` until it is on; in `users` mode only the listed users'
//! intents are.

use almanac_publishing::{request::Submit, spool};
use almanac_shared::{
    clock::Clock,
    events::Event,
    flags::{Audience, Flag},
    jobs::NewJob,
    queue,
    store::publish::{self as store, Due},
};
use tokio_util::sync::CancellationToken;

use crate::job::JobContext;

/// Intents one tick dispatches at most.
const BATCH: i64 = 200;

/// Ticks until `shutdown`, with the worker's clock.
pub async fn run(ctx: &JobContext, shutdown: CancellationToken) {
    let failed = "publish dispatch failed; the next tick retries";
    crate::scheduler::every(ctx.settings.publish.tick, shutdown, failed, || async {
        tick(ctx, ctx.clock.as_ref()).await.map(drop)
    })
    .await;
}

/// What one tick did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Ticked {
    /// Publish jobs started for due intents.
    pub dispatched: usize,
    /// Spooled requests applied.
    pub replayed: usize,
}

/// Replays the spool, then dispatches what is due at `clock.now()`.
pub async fn tick(ctx: &JobContext, clock: &dyn Clock) -> anyhow::Result<Ticked> {
    // Each tick is a trace of its own, which the publish jobs it starts continue.
    tracing::Instrument::instrument(
        dispatch_due(ctx, clock),
        tracing::info_span!("publish dispatch"),
    )
    .await
}

async fn dispatch_due(ctx: &JobContext, clock: &dyn Clock) -> anyhow::Result<Ticked> {
    let now = clock.now();
    let replayed = spool::replay(
        &ctx.redis,
        &ctx.settings,
        &ctx.pool,
        &Submit {
            platforms: &ctx.platforms,
            flags: &ctx.flags,
            cipher: ctx.cipher.as_ref(),
            pool: &ctx.pool,
            now,
            request_id: None,
            spool_id: None,
        },
        100,
    )
    .await?;
    enqueue_all(ctx, &replayed.jobs).await;
    let publishing = ctx.flags.view(Flag::PublishService).setting();
    let users = match publishing.audience() {
        Audience::Everyone => None,
        Audience::Only(users) => Some(users),
        Audience::Nobody => {
            // What falls due now waits for the flag, marked held (its lateness is judged
            // when publishing comes back).
            store::hold(&mut *ctx.pool.acquire().await?, now, &[]).await?;
            return Ok(Ticked {
                dispatched: 0,
                replayed: replayed.applied,
            });
        }
    };
    let mut tx = ctx.pool.begin().await?;
    if let Some(allowed) = &users {
        store::hold(&mut tx, now, allowed).await?;
    }
    let jobs = store::dispatch(&mut tx, Due::At { now, users }, BATCH).await?;
    tx.commit().await?;
    enqueue_all(ctx, &jobs).await;
    Ok(Ticked {
        dispatched: jobs.len(),
        replayed: replayed.applied,
    })
}

async fn enqueue_all(ctx: &JobContext, jobs: &[NewJob]) {
    for job in jobs {
        queue::enqueue_after_commit(
            &ctx.emitter,
            &ctx.queue,
            job.kind,
            job.id,
            &Event::queued(1),
        )
        .await;
    }
}
