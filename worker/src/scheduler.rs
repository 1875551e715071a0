//! The synthesis scheduler (seed 004), in every worker: each `SCHEDULER_TICK_SECS` it finds
//! the schedules due now and claims each in a transaction that also creates its synthesis
//! and job, so that with any number of workers a due schedule runs once per day. Rows are
//! claimed with `for update skip locked`; a claimed schedule stays out of reach while its
//! synthesis is pending or running, after it succeeded (`last_run_at` is its day), and,
//! after a failure, until its backoff has passed (at most a few attempts a day). A user
//! with a synthesis generation in progress is skipped until a later tick.

use almanac_shared::{
    clock::Clock,
    domain::synthesis::{self, MAX_SCHEDULED_ATTEMPTS_PER_DAY, SynthesisJob},
    events::Event,
    jobs::{JobKind, NewJob},
    queue,
    store::themes,
};
use chrono::{DateTime, Datelike, Utc};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::job::JobContext;

/// Ticks until `shutdown`, with the worker's clock. The first tick comes one period after
/// start.
pub async fn run(ctx: &JobContext, shutdown: CancellationToken) {
    every(
        ctx.settings.scheduler_tick,
        shutdown,
        "scheduler tick failed",
        || async {
            let started = tick(ctx, ctx.clock.as_ref()).await.map(drop);
            let warned = crate::expiry::check(ctx, ctx.clock.as_ref())
                .await
                .map(drop);
            let lapsed = crate::expiry::lapse(ctx, ctx.clock.as_ref())
                .await
                .map(drop);
            started.and(warned).and(lapsed)
        },
    )
    .await;
}

/// Runs `tick` every `period` until `shutdown` (the first one period after start; a late
/// tick delays the next), logging a failed one as `failed`.
pub(crate) async fn every<F, Fut>(
    period: std::time::Duration,
    shutdown: CancellationToken,
    failed: &str,
    mut tick: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        if let Err(error) = tick().await {
            tracing::warn!(error = %format!("{error:#}"), "{failed}");
        }
    }
}

/// One scheduled run started by a tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    pub schedule_id: Uuid,
    pub synthesis_id: Uuid,
    pub job_id: Uuid,
}

/// Marks the schedules due at `now` whose owner has spent the day's AI budget: they are not
/// started that (UTC) day, and say why.
async fn skip_over_budget(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    now: DateTime<Utc>,
    limit: u64,
) -> sqlx::Result<()> {
    let today = now.date_naive();
    let reason =
        format!("not started on {today}: the owner's daily AI budget of {limit} tokens was spent");
    let skipped = themes::skip_over_budget(
        tx,
        synthesis::day_code(now.weekday()),
        &now.format("%H:%M").to_string(),
        today,
        limit,
        &reason,
    )
    .await?;
    for schedule in &skipped {
        tracing::info!(schedule_id = %schedule, reason = %reason, "scheduled synthesis skipped");
    }
    metrics::counter!("scheduler_runs_skipped_total", "reason" => "budget")
        .increment(skipped.len() as u64);
    Ok(())
}

/// Starts the schedules due at `clock.now()`; returns what it started.
pub async fn tick(ctx: &JobContext, clock: &dyn Clock) -> anyhow::Result<Vec<Started>> {
    // Each tick is a trace of its own, which the syntheses it starts (and their emails)
    // continue.
    tracing::Instrument::instrument(start_due(ctx, clock), tracing::info_span!("scheduler tick"))
        .await
}

async fn start_due(ctx: &JobContext, clock: &dyn Clock) -> anyhow::Result<Vec<Started>> {
    let now: DateTime<Utc> = clock.now();
    let today = now.date_naive();
    let mut tx = ctx.pool.begin().await?;
    if let Some(limit) = ctx.settings.ai.user_daily_tokens {
        skip_over_budget(&mut tx, now, limit).await?;
    }
    // SQL narrows the schedules to those that may run today (this weekday, not run today,
    // not skipped, their retry's time come, their owner generating nothing) and locks
    // them; whether each is due is the pure rule's to say.
    let candidates = themes::lock_candidates(
        &mut tx,
        synthesis::day_code(now.weekday()),
        today,
        now,
        MAX_SCHEDULED_ATTEMPTS_PER_DAY,
    )
    .await?;
    let due: Vec<Uuid> = candidates
        .iter()
        .filter(|c| synthesis::is_due(c.enabled, &c.days.0, &c.time_utc, c.last_run_at, now))
        .map(|c| c.id)
        .collect();
    let claimed = themes::claim_schedules(&mut tx, &due, today).await?;
    let mut started = Vec::with_capacity(claimed.len());
    for schedule in claimed {
        let synthesis_id = Uuid::now_v7();
        let job = NewJob::new(schedule.user_id, &SynthesisJob { synthesis_id });
        job.insert(&mut *tx).await?;
        // Should this run fail, the next may start after the backoff.
        let retry_at = now + synthesis::retry_delay(schedule.attempts_today);
        themes::start_scheduled_synthesis(&mut tx, &schedule, synthesis_id, job.id, now, retry_at)
            .await?;
        started.push(Started {
            schedule_id: schedule.id,
            synthesis_id,
            job_id: job.id,
        });
    }
    tx.commit().await?;
    for run in &started {
        tracing::info!(schedule_id = %run.schedule_id, synthesis_id = %run.synthesis_id, "scheduled synthesis started");
        let first = Event::queued(100);
        queue::enqueue_after_commit(
            &ctx.emitter,
            &ctx.queue,
            JobKind::Synthesis,
            run.job_id,
            &first,
        )
        .await;
    }
    metrics::counter!("scheduler_runs_started_total").increment(started.len() as u64);
    Ok(started)
}
