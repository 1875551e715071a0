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
    jobs::{JobPayload as _, Lane, NewJob},
    queue,
    store::themes,
    workspaces::Actor,
};
use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
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
            let repeated = crate::evergreen::tick(ctx, ctx.clock.as_ref())
                .await
                .map(drop);
            let read = crate::readings::tick(ctx, ctx.clock.as_ref())
                .await
                .map(drop);
            let mailed = crate::notifications::mail(ctx, ctx.clock.as_ref())
                .await
                .map(drop);
            started
                .and(warned)
                .and(lapsed)
                .and(repeated)
                .and(read)
                .and(mailed)
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

/// A due schedule, its zone (none: UTC) and its day there.
type Due<'a> = (&'a themes::Candidate, Option<Tz>, NaiveDate);
/// A schedule not due yet, and when it may next be (none: never, as it stands).
type Waiting = (Uuid, Option<DateTime<Utc>>);

/// Of the schedules `due` at `now`, marks those whose owner has spent the day's AI budget
/// (`limit` tokens, a UTC day) as not started on their day, with why; returns the others.
async fn skip_over_budget<'a>(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    due: Vec<Due<'a>>,
    now: DateTime<Utc>,
    limit: u64,
) -> sqlx::Result<Vec<Due<'a>>> {
    let owners: Vec<Uuid> = due.iter().map(|(c, _, _)| c.user_id).collect();
    let spent = themes::over_budget(tx, &owners, now.date_naive(), limit).await?;
    let (skipped, runs): (Vec<_>, Vec<_>) = due
        .into_iter()
        .partition(|(c, _, _)| spent.contains(&c.user_id));
    let skips: Vec<themes::Skip> = skipped
        .iter()
        .map(|(c, zone, day)| themes::Skip {
            id: c.id,
            day: *day,
            reason: format!(
                "not started on {day}: the owner's daily AI budget of {limit} tokens was spent"
            ),
            due_at: synthesis::next_due(
                &c.days.0,
                &c.time,
                *zone,
                c.last_run_at,
                synthesis::next_day_start(*zone, now),
            ),
        })
        .collect();
    themes::skip_schedules(tx, &skips).await?;
    for skip in &skips {
        tracing::info!(schedule_id = %skip.id, reason = %skip.reason, "scheduled synthesis skipped");
    }
    metrics::counter!("scheduler_runs_skipped_total", "reason" => "budget")
        .increment(skips.len() as u64);
    Ok(runs)
}

/// Sorts the candidates into those due at `now` (in their zone, on their day), and the
/// others with when each may next be due (not before tomorrow for one skipped today).
fn triage(candidates: &[themes::Candidate], now: DateTime<Utc>) -> (Vec<Due<'_>>, Vec<Waiting>) {
    let mut due = Vec::new();
    let mut waiting = Vec::new();
    for candidate in candidates {
        let zone = candidate
            .timezone
            .as_deref()
            .and_then(synthesis::parse_timezone);
        let day = synthesis::schedule_day(zone, now);
        let (days, time, last) = (&candidate.days.0, &candidate.time, candidate.last_run_at);
        let skipped_today = candidate.skipped_day == Some(day);
        if !skipped_today && synthesis::is_due(candidate.enabled, days, time, zone, last, now) {
            due.push((candidate, zone, day));
        } else {
            let after = if skipped_today {
                synthesis::next_day_start(zone, now)
            } else {
                now
            };
            let next = synthesis::next_due(days, time, zone, last, after);
            waiting.push((candidate.id, next));
        }
    }
    (due, waiting)
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
    let mut tx = ctx.pool.begin().await?;
    // SQL narrows the schedules to those that may be due (their `due_at` come, their
    // retry's time come, their owner generating nothing) and locks them; whether each is
    // due is the pure rule's to say, in the schedule's own zone.
    let candidates = themes::lock_candidates(&mut tx, now, 100).await?;
    let (mut due, waiting) = triage(&candidates, now);
    let (ids, next): (Vec<Uuid>, Vec<Option<DateTime<Utc>>>) = waiting.into_iter().unzip();
    themes::set_due(&mut tx, &ids, &next).await?;
    if let Some(limit) = ctx.settings.ai.workspace_daily_tokens {
        due = skip_over_budget(&mut tx, due, now, limit).await?;
    }
    // A failed run's retry waits for its backoff, and not past the schedule's day.
    let tomorrow: HashMap<Uuid, DateTime<Utc>> = due
        .iter()
        .map(|(c, zone, _)| (c.id, synthesis::next_day_start(*zone, now)))
        .collect();
    let due: Vec<(Uuid, NaiveDate)> = due.iter().map(|(c, _, day)| (c.id, *day)).collect();
    let claimed = themes::claim_schedules(&mut tx, &due).await?;
    let mut started = Vec::with_capacity(claimed.len());
    for schedule in claimed {
        let synthesis_id = Uuid::now_v7();
        let actor = Actor {
            user: schedule.user_id,
            workspace: schedule.workspace_id,
        };
        let job = NewJob::new(actor, &SynthesisJob { synthesis_id }).in_lane(Lane::Scheduled);
        job.insert(&mut *tx).await?;
        // Should this run fail, the next may start after the backoff, and not again that
        // day once its attempts are spent.
        let tomorrow = tomorrow[&schedule.id];
        let retry_at = if schedule.attempts_today >= MAX_SCHEDULED_ATTEMPTS_PER_DAY {
            tomorrow
        } else {
            (now + synthesis::retry_delay(schedule.attempts_today)).min(tomorrow)
        };
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
            SynthesisJob::KIND,
            run.job_id,
            &first,
        )
        .await;
    }
    metrics::counter!("scheduler_runs_started_total").increment(started.len() as u64);
    Ok(started)
}
