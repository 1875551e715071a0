//! Repairs the gap between Postgres and Redis: re-enqueues pending jobs nobody claimed (all
//! of them when Redis lost its data), recovers running jobs whose worker died, sweeps
//! finished tasks out of Redis and expired idempotency keys out of Postgres, rolls finished
//! jobs up for the console's statistics, and reports queue depths.

use almanac_shared::store::jobs as ledger;
use almanac_shared::{
    events::Event,
    jobs::{JobKind, Lane},
    queue, store,
};
use tokio_util::sync::CancellationToken;

use crate::job::{JobContext, Registry};

pub async fn run(ctx: &JobContext, registry: &Registry, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(ctx.settings.jobs.reconcile_every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweep = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(error) = pass(ctx, registry, &mut sweep).await {
            tracing::warn!(error = %format!("{error:#}"), "reconciler pass failed");
        }
    }
}

/// Sweeps what Redis keeps of finished tasks, a bounded amount per pass, and promotes the
/// due deliveries of a burst before apalis's fetch would refuse them (`queue::promote_due`).
async fn sweep_redis(ctx: &JobContext, registry: &Registry) -> anyhow::Result<()> {
    const BATCH: usize = 1000;
    const MAX_BATCHES: usize = 10;
    for kind in registry.kinds() {
        for _ in 0..MAX_BATCHES {
            if queue::promote_due(&ctx.redis, &ctx.settings, kind, BATCH).await? < BATCH {
                break;
            }
        }
        for _ in 0..MAX_BATCHES {
            let swept = queue::sweep_finished(&ctx.redis, &ctx.settings, kind, BATCH).await?;
            metrics::counter!("queue_tasks_swept_total", "kind" => kind.as_str())
                .increment(swept as u64);
            if swept < BATCH {
                break;
            }
        }
    }
    Ok(())
}

/// Whether Redis lost its data since this deployment last looked (a flush, a restart
/// without persistence): the sentinel kept there is gone. It is put back
/// ([`redis_sentinel_restored`]) once a pass has queued every pending job again.
async fn redis_lost_its_data(ctx: &JobContext) -> bool {
    let mut conn = ctx.redis.clone();
    let exists: redis::RedisResult<bool> = redis::cmd("EXISTS")
        .arg(ctx.settings.redis_key(&["sentinel"]))
        .query_async(&mut conn)
        .await;
    match exists {
        Ok(exists) => !exists,
        Err(error) => {
            tracing::warn!(error = %error, "checking the Redis sentinel failed");
            false
        }
    }
}

async fn redis_sentinel_restored(ctx: &JobContext) -> anyhow::Result<()> {
    let mut conn = ctx.redis.clone();
    redis::cmd("SET")
        .arg(ctx.settings.redis_key(&["sentinel"]))
        .arg(&ctx.worker_name)
        .query_async::<()>(&mut conn)
        .await?;
    Ok(())
}

/// Deletes expired `Idempotency-Key` records, a bounded number per pass.
async fn sweep_idempotency_keys(ctx: &JobContext) -> anyhow::Result<()> {
    let swept = store::idempotency::sweep_expired(&ctx.pool, 1000).await?;
    metrics::counter!("idempotency_keys_swept_total").increment(swept);
    Ok(())
}

/// Jobs one statement of the sweep deletes at most: short statements, short locks.
const SWEEP_BATCH: i64 = 1_000;

/// The share of the reconciler's interval one pass may spend sweeping (a tenth): a
/// backlog (a million rows after the retention is first turned on, say) is worked off over
/// passes without taking the database from the jobs (`make bench` measures end to end
/// while sweeping a million).
const SWEEP_SHARE: u32 = 10;

/// Deletes finished jobs older than `JOB_RETENTION_DAYS`: the ledger stays bounded. One
/// worker of the fleet sweeps in a pass (a lease in Redis for the interval, taken by
/// whoever comes first; without Redis every worker may sweep), in batches, for at most a
/// tenth of the interval. `cursor` is where this reconciler's sweep got to, kept across
/// passes while a backlog lasts.
async fn sweep_finished_jobs(
    ctx: &JobContext,
    cursor: &mut ledger::SweptUpTo,
) -> anyhow::Result<u64> {
    let every = ctx.settings.jobs.reconcile_every;
    let mut conn = ctx.redis.clone();
    let leased: redis::RedisResult<Option<String>> = redis::cmd("SET")
        .arg(ctx.settings.redis_key(&["sweep-lease"]))
        .arg(&ctx.worker_name)
        .arg("NX")
        .arg("PX")
        // Nine tenths of the interval: gone by this worker's next pass, held through the
        // others' passes meanwhile.
        .arg((every.as_millis() as u64 * 9 / 10).max(1))
        .query_async(&mut conn)
        .await;
    if matches!(leased, Ok(None)) {
        return Ok(0);
    }
    let budget = every / SWEEP_SHARE;
    let started = std::time::Instant::now();
    let mut up_to = *cursor;
    let mut swept = 0;
    let retention = ctx.settings.jobs.retention;
    loop {
        let (batch, reached) =
            ledger::sweep_finished(&ctx.pool, retention, SWEEP_BATCH, up_to).await?;
        swept += batch;
        up_to = reached;
        if batch < SWEEP_BATCH as u64 {
            // Caught up: the next pass looks from the start again (for rows behind the
            // cursor: another worker's sweep in between, or a finish time that committed
            // late).
            up_to = None;
            break;
        }
        if started.elapsed() >= budget {
            break;
        }
    }
    *cursor = up_to;
    metrics::counter!("jobs_swept_total").increment(swept);
    let deliveries = store::webhook_deliveries::sweep(&ctx.pool, retention, SWEEP_BATCH).await?;
    metrics::counter!("webhook_deliveries_swept_total").increment(deliveries);
    let activity =
        store::activity::sweep(&ctx.pool, ctx.settings.jobs.activity_retention, SWEEP_BATCH)
            .await?;
    metrics::counter!("activity_swept_total").increment(activity);
    Ok(swept)
}

async fn pass(
    ctx: &JobContext,
    registry: &Registry,
    sweep: &mut ledger::SweptUpTo,
) -> anyhow::Result<()> {
    let settings = &ctx.settings.jobs;
    let lost = redis_lost_its_data(ctx).await;
    if lost {
        tracing::info!(
            "Redis holds none of this deployment's keys: queueing every pending job again"
        );
    }
    let report = ledger::reconcile(
        &ctx.pool,
        settings.stale_after,
        settings.requeue_after,
        lost,
    )
    .await?;
    // Counted as soon as Postgres has them, whatever Redis does next.
    metrics::counter!("reconciler_requeued_total").increment(report.requeued.len() as u64);
    metrics::counter!("reconciler_recovered_total").increment(report.recovered as u64);
    metrics::counter!("reconciler_failed_total").increment(report.failed as u64);
    for ended in &report.finished {
        let done = Event::done(ended.status, ended.result.clone(), ended.error.clone());
        if let Err(error) = ctx
            .emitter
            .publish_final(ended.id, None, ended.events_token, &done)
            .await
        {
            tracing::warn!(job_id = %ended.id, error = %error, "publishing the final event failed; its streams will");
        }
    }
    for (id, kind) in &report.requeued {
        ctx.queue.push(*kind, *id, None).await?;
    }
    crate::outbox::relay(ctx).await;
    let orphans = store::generations::end_orphaned(&ctx.pool, settings.stale_after).await?;
    if orphans > 0 {
        tracing::warn!(
            generations = orphans,
            "generations left running under an ended job were ended with it"
        );
    }
    if lost {
        redis_sentinel_restored(ctx).await?;
    }
    if !report.requeued.is_empty() || report.recovered > 0 || report.failed > 0 {
        tracing::info!(
            requeued = report.requeued.len(),
            recovered = report.recovered,
            failed = report.failed,
            "reconciler repaired jobs"
        );
    }
    sweep_redis(ctx, registry).await?;
    sweep_idempotency_keys(ctx).await?;
    sweep_finished_jobs(ctx, sweep).await?;
    // The console's statistics: the minutes that settled since the last pass, by whichever
    // worker comes first.
    store::console::rollups::roll_up(&ctx.pool).await?;
    report_unfinished(ctx).await
}

/// `queue_depth{kind}` (every pending job: what autoscaling reads), `jobs_ready{kind,lane}`
/// (what can be claimed now) and `jobs_running{kind}`, from one count; zeros included, so
/// that a drained queue or lane reads 0 rather than its last count.
async fn report_unfinished(ctx: &JobContext) -> anyhow::Result<()> {
    let counts = ledger::unfinished(&ctx.pool, None).await?;
    for kind in JobKind::known() {
        let of_kind = || counts.iter().filter(move |c| c.kind == kind);
        let depth: i64 = of_kind().map(|c| c.pending).sum();
        metrics::gauge!("queue_depth", "kind" => kind.as_str()).set(depth as f64);
        let running: i64 = of_kind().map(|c| c.running).sum();
        metrics::gauge!("jobs_running", "kind" => kind.as_str()).set(running as f64);
        for &lane in Lane::ALL {
            let ready: i64 = of_kind().filter(|c| c.lane == lane).map(|c| c.ready).sum();
            metrics::gauge!("jobs_ready", "kind" => kind.as_str(), "lane" => lane.as_str())
                .set(ready as f64);
        }
    }
    Ok(())
}
