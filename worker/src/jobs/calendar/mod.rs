//! The calendar generation job (seed 000): the AI writes each slot of the grid, in batches
//! with several calls at once; each entry is saved (fenced by the claim) and streamed the
//! moment its object closes in the answer. At `CALENDAR_TIMEOUT_SECS` the run ends
//! `timeout` with what it has, the entries of calls still running included. A first run
//! fills the calendar; a regeneration proposes a diff instead. A continuation (of a run
//! that ended early) asks only for the slots the calendar lacks and fills them directly,
//! its diff holding only what it added; a continued regeneration asks only for the slots
//! its proposal lacks and adds their changes to that proposal.

use almanac_shared::store::jobs::Claim;
use std::{
    collections::HashSet,
    sync::atomic::{AtomicBool, Ordering},
};

use almanac_shared::{
    ai::ChatResponse,
    calendars,
    domain::calendar::{self, CalendarJob, CalendarSpec, Entry, Slot},
    events::{Envelope, Event},
    jobs::JobStatus,
    store::calendars::{self as store, RunOutcome, RunRef},
};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    ai_error,
    answer::{ItemReader, Next, Stop, account},
};
use crate::job::{Context, End, Finished, Job, JobContext, JobError, JobResult, LogContext};

mod generate;
mod save;

use generate::{generate, split};
use save::{Group, finish, save_produced};

impl Job for CalendarJob {
    type Input = Input;

    /// The run becomes `running`; its request comes back with the slots an earlier attempt
    /// already generated, and for a continuation every slot the calendar has (deleted
    /// entries included: they stay deleted).
    const START: &'static str = store::START;

    const MISSING: &'static str = "CALENDAR_RUN_MISSING";

    fn log_context(input: &Input) -> LogContext {
        let channels = input.request["channels"].as_array().map(|channels| {
            channels
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(",")
        });
        LogContext {
            calendar_id: Some(input.calendar_id),
            run_id: Some(input.id),
            channel: channels,
            request_id: None,

            ..LogContext::default()
        }
    }

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        CalendarRun::run(ctx, claim, input).await
    }
}

/// The first AI call covers this many slots, so the first entries arrive soon.
const FIRST_BATCH: usize = 6;

#[derive(Deserialize)]
pub struct Input {
    id: Uuid,
    calendar_id: Uuid,
    user_id: Uuid,
    version: i32,
    request: Value,
    applies_directly: bool,
    /// Seed 000's wall-clock deadline, set when the request was accepted (none for a run
    /// written before deadlines were stored).
    deadline_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The run this one continues.
    continues: Option<Uuid>,
    /// A continued regeneration's proposal, which this run adds to.
    proposal_run_id: Option<Uuid>,
    done_keys: Vec<String>,
}

/// What the AI calls of a run produce, in the order it happens.
enum Produced {
    /// Entries whose objects closed together.
    Entries(Vec<(i32, Entry)>),
    /// A call ended (complete or cut): what it cost.
    Call(ChatResponse),
    /// A call crossed the owner's daily budget: the run's end, once the calls under way
    /// have finished and been saved.
    OverBudget(JobError),
}

/// A calendar run's attempt, as named steps: plan the slots still to write, produce them
/// (the AI calls run at once; what they produce is saved and streamed as it comes, until
/// the run's deadline), then end the run and the job.
struct CalendarRun<'a> {
    ctx: &'a JobContext,
    claim: &'a Claim,
    input: Input,
    run: RunRef,
    /// The `meta` of the run's entry events.
    meta: Value,
    /// The calendar's slots.
    total: usize,
    /// The calendar's slots that hold an entry: counted once, whoever wrote them.
    generated: usize,
}

/// How producing the entries ended, when it did not fail.
enum Collected {
    /// Every call ended (or the deadline passed: `timed_out`).
    Ended { timed_out: bool },
    /// The claim was lost: this attempt's entries were discarded.
    Lost,
}

impl<'a> CalendarRun<'a> {
    async fn run(ctx: &'a JobContext, claim: &'a Claim, input: Input) -> JobResult {
        let spec = CalendarSpec::from_json(&input.request)
            .map_err(|e| JobError::permanent("CALENDAR_REQUEST_INVALID", e.to_string()))?;
        let (mut run, todo) = Self::plan(ctx, claim, input, &spec);
        run.ctx
            .emitter
            .emit_or_log(
                claim.id,
                &Event::progress(
                    run.generated as u64,
                    run.total as u64,
                    "generating",
                    format!("writing {} calendar entries", run.total),
                ),
            )
            .await;
        match run.produce(&spec, todo).await? {
            Collected::Lost => Ok(None),
            Collected::Ended { timed_out } => run.end(timed_out).await,
        }
    }

    /// The run and the slots it still has to write (an earlier attempt's, and for a
    /// continuation the calendar's, are done).
    fn plan(
        ctx: &'a JobContext,
        claim: &'a Claim,
        input: Input,
        spec: &CalendarSpec,
    ) -> (Self, Vec<(i32, Slot)>) {
        let run = RunRef {
            id: input.id,
            calendar_id: input.calendar_id,
            user_id: input.user_id,
        };
        let meta = json!({
            "mode": "service", "runId": run.id, "calendarId": run.calendar_id,
            "version": input.version, "done": false,
        });
        let slots = spec.slots();
        let total = slots.len();
        let done: HashSet<&str> = input.done_keys.iter().map(String::as_str).collect();
        let todo: Vec<(i32, Slot)> = slots
            .into_iter()
            .enumerate()
            .filter(|(_, s)| !done.contains(s.key.as_str()))
            .map(|(i, s)| (i as i32, s))
            .collect();
        let generated = total - todo.len();
        let run = Self {
            ctx,
            claim,
            input,
            run,
            meta,
            total,
            generated,
        };
        (run, todo)
    }

    /// What is left of the run's time: from the request's acceptance, queue wait and
    /// earlier attempts have spent their share.
    fn time_left(&self) -> std::time::Duration {
        let settings = &self.ctx.settings.calendar;
        let left = self.input.deadline_at.map_or(settings.timeout, |at| {
            (at - chrono::Utc::now()).to_std().unwrap_or_default()
        });
        left.min(settings.timeout)
    }

    /// Runs the batches' calls at once, each sending its entries the moment they close,
    /// and saves what they produce together as it comes, until they end or the deadline
    /// passes. Once a call crosses the budget, no other is started.
    async fn produce(
        &mut self,
        spec: &CalendarSpec,
        todo: Vec<(i32, Slot)>,
    ) -> Result<Collected, JobError> {
        let (ctx, claim) = (self.ctx, self.claim);
        let settings = &ctx.settings.calendar;
        let left = self.time_left();
        let deadline = tokio::time::Instant::now() + left;
        let brief = &spec.brief();
        let (sender, mut produced) = mpsc::unbounded_channel();
        let spent = AtomicBool::new(false);
        let calls: Vec<_> = split(todo, settings.batch_slots)
            .into_iter()
            .map(|batch| generate(ctx, claim, &spent, brief, batch, sender.clone()))
            .collect();
        drop(sender);
        let mut calls = Box::pin(
            futures::stream::iter(calls)
                .buffer_unordered(settings.ai_concurrency)
                .try_for_each(|()| std::future::ready(Ok(()))),
        );
        let mut calling = true;
        let mut failure = None;
        let mut over_budget = None;
        // Past the deadline already (a long queue, an earlier attempt): no call is made.
        let mut timed_out = left.is_zero();
        while !timed_out {
            let group = tokio::select! {
                biased;
                next = produced.recv() => match next {
                    Some(first) => {
                        let mut group = vec![first];
                        while let Ok(more) = produced.try_recv() {
                            group.push(more);
                        }
                        group
                    }
                    None => break,
                },
                outcome = &mut calls, if calling => {
                    calling = false;
                    if let Err(error) = outcome {
                        // What was produced before the failure is saved first.
                        failure = Some(error);
                        let mut group = Vec::new();
                        while let Ok(more) = produced.try_recv() {
                            group.push(more);
                        }
                        group
                    } else {
                        continue;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    timed_out = true;
                    break;
                }
            };
            let mut group = Group::from(group);
            if let Some(error) = group.over_budget.take() {
                over_budget.get_or_insert(error);
            }
            let run = self.run;
            match save_produced(ctx, claim, run, &self.input, &self.meta, self.total, group).await {
                Ok(Some(saved)) => self.generated += saved,
                Ok(None) => {
                    tracing::warn!(
                        "claim lost before saving entries; this attempt's entries were discarded"
                    );
                    return Ok(Collected::Lost);
                }
                Err(error) => {
                    failure.get_or_insert(error);
                }
            }
            if let Some(error) = failure {
                return Err(error);
            }
        }
        // Dropping the calls aborts those still in flight.
        drop(calls);
        match over_budget {
            Some(error) => Err(error),
            None => Ok(Collected::Ended { timed_out }),
        }
    }

    /// Ends the run and the job: `succeeded`, or `timeout` saying how many entries are
    /// still missing (a continuation writes them).
    async fn end(self, timed_out: bool) -> JobResult {
        let (status, error) = if timed_out {
            let missing = self.total - self.generated;
            let kept = if self.input.applies_directly {
                "written and saved"
            } else {
                "proposed"
            };
            let message = format!(
                "The calendar took longer than {} s to generate: {} of {} entries were \
                 {kept}. Continue to write the {missing} still missing.",
                self.ctx.settings.calendar.timeout.as_secs_f64(),
                self.generated,
                self.total,
            );
            let details =
                json!({ "written": self.generated, "slots": self.total, "missing": missing });
            (
                JobStatus::Timeout,
                Some(json!({ "code": "CALENDAR_TIMEOUT", "message": message, "details": details })),
            )
        } else {
            (JobStatus::Succeeded, None)
        };
        finish(
            self.ctx,
            self.claim,
            self.run,
            &self.input,
            status,
            error,
            self.meta,
        )
        .await
    }
}
