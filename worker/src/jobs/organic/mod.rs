//! The organic week job (seed 003). The week is planned before anything is drafted (which
//! placements, which fail and why, where each lands after conflict shifting, which assets
//! suit it); then each placement is drafted by its own AI call, several at once, and
//! saved and streamed in the plan's order as soon as it is ready, in batches of whatever
//! is ready together. A retried attempt skips what an earlier one saved; an AI failure for
//! one placement is that placement's `error`, not the job's.

use almanac_shared::store::jobs::Claim;
use std::{
    collections::HashSet,
    sync::atomic::{AtomicBool, Ordering},
};

use almanac_shared::{
    domain::organic::{
        self, Draft, OrganicJob, OrganicSpec, Planned,
        content::{self, WeekContext},
        plan::Library,
    },
    events::Event,
    jobs::JobStatus,
    store::organic::{self as store, Outcome, RunRef},
};
use chrono::NaiveDate;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::answer::account;
use crate::job::{Context, End, Finished, Job, JobContext, JobError, JobResult};

mod draft;

use draft::{Opening, produce, told};

impl Job for OrganicJob {
    type Input = Input;

    /// The run becomes `running`; its request comes back with the placements an earlier
    /// attempt already produced.
    const START: &'static str = store::START;

    const MISSING: &'static str = "ORGANIC_RUN_MISSING";

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        WeekRun::run(ctx, claim, input).await
    }
}

#[derive(Deserialize)]
pub struct Input {
    id: Uuid,
    user_id: Uuid,
    brand_id: String,
    week_start: NaiveDate,
    request: Value,
    done_ids: Vec<String>,
}

/// One placement's outcome with the event that reports it.
struct Produced {
    placement_id: String,
    outcome: Outcome,
    event: Event,
    /// The job's end once this placement is saved: its call crossed the owner's daily
    /// budget, or recording the call failed.
    stop: Option<JobError>,
}

/// An attempt at a week: the run, its counts, and the opening events on their way out.
struct WeekRun<'a> {
    ctx: &'a JobContext,
    claim: &'a Claim,
    run: RunRef,
    total: u64,
    completed: u64,
    opening: Option<Opening>,
}

impl<'a> WeekRun<'a> {
    /// Plans the week (what an earlier attempt saved left out), tells the plan, then
    /// drafts, saves and streams each batch of placements ready together.
    async fn run(ctx: &'a JobContext, claim: &'a Claim, input: Input) -> JobResult {
        let spec = OrganicSpec::parse(&input.request, usize::MAX).map_err(|problems| {
            JobError::permanent(
                "ORGANIC_REQUEST_INVALID",
                format!("the stored request no longer parses: {problems:?}"),
            )
        })?;
        let run = RunRef {
            id: input.id,
            user_id: input.user_id,
            workspace_id: claim.workspace_id,
            brand_id: input.brand_id,
            week_start: input.week_start,
            timezone: spec.timezone.name().to_owned(),
        };
        tracing::Span::current().record("runId", tracing::field::display(run.id));
        let (library, saved) =
            store::inputs(&ctx.pool, run.workspace_id, &run.brand_id, run.week_start)
                .await
                .context("reading the library and the saved week")?;
        let library = library.ok_or_else(|| {
            JobError::permanent("BRAND_NOT_FOUND", "the brand profile was deleted")
        })?;
        let plan = organic::plan(&spec, &library, &saved, ctx.settings.organic.min_gap);
        let done: HashSet<&str> = input.done_ids.iter().map(String::as_str).collect();
        let mut week_run = WeekRun {
            ctx,
            claim,
            run,
            total: plan.items.len() as u64,
            completed: done.len() as u64,
            opening: None,
        };
        week_run.tell_plan(&spec, &plan);
        let todo: Vec<Planned> = plan
            .items
            .into_iter()
            .filter(|item| !done.contains(item.placement_id()))
            .collect();
        let results: Option<almanac_shared::domain::analytics::LearnedFrom> =
            serde_json::from_value(input.request["learnedFrom"].clone()).ok();
        let week = WeekContext {
            language: spec.options.language.as_deref(),
            guidance_prompt: spec.options.guidance_prompt.as_deref(),
            timezone: spec.timezone,
            results: results.as_ref(),
        };
        week_run.draft(&library, week, todo).await
    }

    /// The plan told (how many placements, its notes, how many moved, how many matched an
    /// asset), while the first placements are drafted and saved; numbered before them, as
    /// the first batch's events wait for these to be out.
    fn tell_plan(&mut self, spec: &OrganicSpec, plan: &organic::plan::Plan) {
        let (completed, total) = (self.completed, self.total);
        let count = |wanted: fn(&Draft) -> bool| {
            plan.items
                .iter()
                .filter(|i| matches!(i, Planned::Draft(d) if wanted(d)))
                .count()
        };
        let adjusted = count(|d| d.adjusted);
        let matched = count(|d| !d.asset_ids.is_empty());
        let mut opening = vec![Event::progress(
            completed,
            total,
            "analyzing",
            format!(
                "{total} placements planned for the week of {}, {} auto-filled",
                spec.week_start, plan.auto_filled
            ),
        )];
        opening.extend(
            plan.notes
                .iter()
                .map(|note| Event::progress(completed, total, "analyzing", note.clone())),
        );
        opening.push(Event::progress(
            completed,
            total,
            "optimizing",
            format!("{adjusted} placements moved to keep posts of an account apart"),
        ));
        opening.push(Event::progress(
            completed,
            total,
            "matching",
            format!("creative library assets matched to {matched} placements"),
        ));
        let (emitter, job) = (self.ctx.emitter.clone(), self.claim.id);
        self.opening = Some(Opening(tokio::spawn(async move {
            for event in &opening {
                emitter.emit_or_log(job, event).await;
            }
        })));
    }

    /// Drafts what is left, several at once, saving and streaming each batch ready
    /// together (a heartbeat while none is); then the job's end.
    async fn draft(
        mut self,
        library: &Library,
        week: WeekContext<'_>,
        todo: Vec<Planned>,
    ) -> JobResult {
        let (ctx, claim) = (self.ctx, self.claim);
        let concurrency = ctx.settings.organic.ai_concurrency;
        // Set once a call crosses the budget: the calls under way finish and are saved, and
        // no other is started.
        let spent = AtomicBool::new(false);
        let mut produced = futures::stream::iter(todo)
            .map(|item| produce(ctx, claim, &spent, library, week, item))
            .buffered(concurrency)
            .filter_map(std::future::ready)
            .ready_chunks(concurrency.max(8));
        let mut stop = None;
        let mut keep_alive = tokio::time::interval(ctx.settings.events.heartbeat);
        keep_alive.tick().await;
        loop {
            let batch = tokio::select! {
                batch = produced.next() => match batch {
                    Some(batch) => batch,
                    None => break,
                },
                _ = keep_alive.tick() => {
                    told(&mut self.opening).await;
                    let still = Event::progress(self.completed, self.total, "drafting", "still drafting");
                    ctx.emitter.emit_or_log(claim.id, &still).await;
                    continue;
                }
            };
            keep_alive.reset();
            if !self.save(batch, &mut stop).await? {
                return Ok(None);
            }
        }
        drop(produced);
        told(&mut self.opening).await;
        match stop {
            Some(error) => Err(error),
            None => finish(ctx, claim, &self.run, self.total).await,
        }
    }

    /// One batch saved (fenced by the claim) and its events published after the commit;
    /// false when the claim was lost and the batch discarded.
    /// `stop`: the job's end, taken from the first placement that brings one.
    async fn save(
        &mut self,
        batch: Vec<Produced>,
        stop: &mut Option<JobError>,
    ) -> Result<bool, JobError> {
        let (ctx, claim) = (self.ctx, self.claim);
        self.completed += batch.len() as u64;
        let mut events: Vec<Event> = Vec::with_capacity(batch.len() + 1);
        let mut outcomes = Vec::with_capacity(batch.len());
        for item in batch {
            events.push(item.event);
            outcomes.push((item.placement_id, item.outcome));
            *stop = stop.take().or(item.stop);
        }
        events.push(Event::progress(
            self.completed,
            self.total,
            "drafting",
            format!("drafted {} of {} placements", self.completed, self.total),
        ));
        let staged = ctx.emitter.stage(claim.id, events).await;
        let fenced = ctx.fenced(claim, Some(staged.token), "opening a batch's transaction");
        let Some(mut tx) = fenced.await? else {
            tracing::warn!("claim lost before saving a batch; this attempt's batch was discarded");
            return Ok(false);
        };
        store::save_outcomes(&mut tx, &self.run, &outcomes)
            .await
            .context("saving a batch of placements")?;
        tx.commit()
            .await
            .context("committing a batch of placements")?;
        told(&mut self.opening).await;
        ctx.emitter.publish(claim.id, &staged).await;
        Ok(true)
    }
}

/// Ends the run and the job in one transaction; the job keeps the run's summary.
async fn finish(ctx: &JobContext, claim: &Claim, run: &RunRef, total: u64) -> JobResult {
    let closing = Event::progress(total, total, "finalizing", "the week is saved");
    let staged = ctx.emitter.stage(claim.id, vec![closing]).await;
    let fenced = ctx.fenced(claim, None, "opening the run's final transaction");
    let Some(mut tx) = fenced.await? else {
        return Ok(None);
    };
    let result = store::finish_run(&mut tx, run.id, JobStatus::Succeeded.as_str())
        .await
        .context("ending the run")?;
    let counts = result["counts"].clone();
    let finished = Finished::succeeded(result).after(staged);
    let Some(finished) = claim.end(tx, finished).await? else {
        return Ok(None);
    };
    tracing::info!(
        runId = %run.id,
        brand_id = %run.brand_id,
        week_start = %run.week_start,
        counts = %counts,
        "organic run finished"
    );
    metrics::counter!("organic_runs_total", "status" => "succeeded").increment(1);
    Ok(Some(finished))
}
