//! The calendar generation job (seed 000): the AI writes each slot of the grid, in batches
//! with several calls at once; each entry is saved (fenced by the claim) and streamed the
//! moment its object closes in the answer. At `CALENDAR_TIMEOUT_SECS` the run ends
//! `timeout` with what it has, the entries of calls still running included. A first run
//! fills the calendar; a regeneration proposes a diff instead. A continuation (of a run
//! that ended early) asks only for the slots the calendar lacks and fills them directly,
//! its diff holding only what it added.

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
    answer::{Answer, Next, Stop, account},
};
use crate::job::{Context, Finished, Job, JobContext, JobError, JobResult, LogContext};

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
        let brief = &spec.constraints.raw;
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
            let message = format!(
                "The calendar took longer than {} s to generate: {} of {} entries were \
                 written and saved. Continue to write the {} still missing.",
                self.ctx.settings.calendar.timeout.as_secs_f64(),
                self.generated,
                self.total,
                self.total - self.generated
            );
            (
                JobStatus::Timeout,
                Some(json!({ "code": "CALENDAR_TIMEOUT", "message": message })),
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

/// The slots in batches: a small first one, then `size` each.
fn split(slots: Vec<(i32, Slot)>, size: usize) -> Vec<Vec<(i32, Slot)>> {
    let mut batches = Vec::new();
    let mut rest = slots.into_iter().peekable();
    let mut limit = FIRST_BATCH.min(size);
    while rest.peek().is_some() {
        batches.push(rest.by_ref().take(limit).collect());
        limit = size;
    }
    batches
}

/// Asks the AI for a batch and sends each entry the moment its object closes. A stream cut
/// after some entries is followed by asking only for the missing slots (at most
/// `AI_MAX_RETRIES` times); slots a complete answer left out are asked for once more. Each
/// call is accounted as it ends; none is made once the owner's budget is `spent`.
async fn generate(
    ctx: &JobContext,
    claim: &Claim,
    spent: &AtomicBool,
    brief: &Value,
    batch: Vec<(i32, Slot)>,
    out: mpsc::UnboundedSender<Produced>,
) -> Result<(), JobError> {
    let mut missing = batch;
    let (mut cuts, mut short_answers) = (0, 0);
    loop {
        if spent.load(Ordering::SeqCst) {
            return Ok(());
        }
        let slots: Vec<Slot> = missing.iter().map(|(_, s)| s.clone()).collect();
        let mut answer = Answer::open(ctx.ai.as_ref(), calendar::prompt(brief, &slots, None))
            .await
            .map_err(|e| ai_error(&e))?;
        let stop = loop {
            match answer.next().await {
                Ok(Next::Items(items)) => {
                    let mut entries = Vec::new();
                    for item in items.iter().filter(|i| i.field == "entries") {
                        let Some((key, content)) = calendar::parse_entry(&item.value) else {
                            continue;
                        };
                        if let Some(at) = missing.iter().position(|(_, slot)| slot.key == key) {
                            let (position, slot) = missing.swap_remove(at);
                            entries.push((position, Entry { slot, content }));
                        }
                    }
                    if !entries.is_empty() {
                        entries.sort_by_key(|(position, _)| *position);
                        let _ = out.send(Produced::Entries(entries));
                    }
                }
                Ok(Next::Done(_)) => break None,
                Err(stop) => break Some(stop),
            }
        };
        let response = answer.response();
        let model = response.model.clone();
        let over_budget = account(ctx, claim, &response).await?;
        let _ = out.send(Produced::Call(response));
        if let Some(error) = over_budget {
            spent.store(true, Ordering::SeqCst);
            let _ = out.send(Produced::OverBudget(error));
            return Ok(());
        }
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_by_key(|(position, _)| *position);
        match stop {
            Some(Stop::Cut(error)) => {
                cuts += 1;
                if cuts > ctx.settings.ai.max_retries {
                    return Err(ai_error(&error));
                }
                tracing::warn!(missing = missing.len(), error = %error.message, "the answer was cut; asking for the missing slots");
            }
            stop => {
                short_answers += 1;
                if short_answers > 1 {
                    let reason = stop.map_or_else(
                        || format!("the AI left {} slots without an entry", missing.len()),
                        |stop| stop.message(),
                    );
                    return Err(
                        JobError::transient("AI_OUTPUT_INCOMPLETE", reason).with("model", model)
                    );
                }
            }
        }
    }
}

/// What the calls produced together.
struct Group {
    entries: Vec<(i32, Entry)>,
    calls: Vec<ChatResponse>,
    over_budget: Option<JobError>,
}

impl From<Vec<Produced>> for Group {
    fn from(produced: Vec<Produced>) -> Self {
        let mut group = Group {
            entries: Vec::new(),
            calls: Vec::new(),
            over_budget: None,
        };
        for produced in produced {
            match produced {
                Produced::Entries(more) => group.entries.extend(more),
                Produced::Call(response) => group.calls.push(response),
                Produced::OverBudget(error) => {
                    group.over_budget.get_or_insert(error);
                }
            }
        }
        group
    }
}

/// Saves what the calls produced together, if the claim still holds, and streams the
/// entries; the calls' costs are added to the run's. Returns the entries saved, or `None`
/// when the claim was lost.
async fn save_produced(
    ctx: &JobContext,
    claim: &Claim,
    run: RunRef,
    input: &Input,
    meta: &Value,
    total: usize,
    group: Group,
) -> Result<Option<usize>, JobError> {
    let Group { entries, calls, .. } = group;
    let tokens = calls.iter().fold((0, 0), |(i, o), call| {
        (i + call.usage.input_tokens, o + call.usage.output_tokens)
    });
    let events: Vec<Event> = entries
        .iter()
        .map(|(position, entry)| calendars::entry_event(entry, meta, *position as usize, total))
        .collect();
    let staged = if events.is_empty() {
        None
    } else {
        Some(ctx.emitter.stage(claim.id, events).await)
    };
    let mut tx = ctx
        .pool
        .begin()
        .await
        .context("opening a batch's transaction")?;
    if !claim
        .alive(&mut *tx, staged.as_ref().map(|s| s.token))
        .await
        .context("checking the claim")?
    {
        return Ok(None);
    }
    let refs: Vec<(i32, &Entry)> = entries.iter().map(|(p, e)| (*p, e)).collect();
    let saved = store::save_run_entries(
        &mut tx,
        run,
        input.applies_directly,
        &refs,
        tokens,
        calls
            .last()
            .map(|call| (call.provider.as_str(), call.model.as_str())),
    )
    .await
    .context("saving calendar entries")?;
    tx.commit().await.context("committing calendar entries")?;
    let saved = usize::try_from(saved).unwrap_or_default();
    if let Some(staged) = &staged {
        // One notification for the group, so a burst does not count as a client lagging.
        ctx.emitter.publish(claim.id, staged).await;
    }
    // What the store took: an entry an earlier attempt already saved is not counted twice.
    Ok(Some(saved))
}

/// Ends the run and the job in one transaction: a regeneration's diff is computed and
/// stored (and staged for the stream), the run gets its figures, the job its outcome.
async fn finish(
    ctx: &JobContext,
    claim: &Claim,
    run: RunRef,
    input: &Input,
    status: JobStatus,
    error: Option<Value>,
    meta: Value,
) -> JobResult {
    let mut tx = ctx
        .pool
        .begin()
        .await
        .context("opening the run's final transaction")?;
    if !claim
        .alive(&mut *tx, None)
        .await
        .context("checking the claim")?
    {
        return Ok(None);
    }
    // The run's diff: a continuation's additions (saved as generated, so already
    // applied), a regeneration's proposal; a first run has none.
    let diff = if input.continues.is_some() {
        let added = store::run_entries(&mut tx, run.id)
            .await
            .context("reading the run's entries")?;
        let added = added.into_iter().map(calendar::Change::added).collect();
        let diff = store::store_diff(&mut tx, run, added)
            .await
            .context("storing the run's changes")?;
        store::mark_applied(&mut tx, run.id)
            .await
            .context("marking the additions applied")?;
        Some(diff)
    } else if input.applies_directly {
        None
    } else {
        let generated = store::run_entries(&mut tx, run.id)
            .await
            .context("reading the run's entries")?;
        let complete = status == JobStatus::Succeeded;
        let diff = store::propose_changes(&mut tx, run, &generated, complete)
            .await
            .context("storing the run's changes")?;
        Some(diff)
    };
    let counts = diff.as_ref().map(|(_, counts)| *counts);
    let diff_event = diff.map(|(data, _)| {
        Event::Diff(Envelope {
            data,
            error: None,
            meta,
        })
    });
    let result = store::finish_run(
        &mut tx,
        run.id,
        &RunOutcome {
            status,
            error: error.as_ref(),
            diff: counts,
        },
    )
    .await
    .context("ending the run")?;
    let staged = match diff_event {
        Some(diff) => Some(ctx.emitter.stage(claim.id, vec![diff]).await),
        None => None,
    };
    let events = staged.as_ref().map(|s| s.token);
    if !claim
        .finish(&mut *tx, status, Some(&result), error.as_ref(), events)
        .await
        .context("ending the job")?
    {
        return Ok(None);
    }
    tx.commit().await.context("committing the run's end")?;
    tracing::info!(
        calendarId = %run.calendar_id,
        runId = %run.id,
        status = status.as_str(),
        latencyMs = result["latencyMs"].as_i64().unwrap_or_default(),
        tokens = result["tokens"].as_i64().unwrap_or_default(),
        entries = result["entries"].as_i64().unwrap_or_default(),
        "calendar run finished"
    );
    metrics::counter!("calendar_runs_total", "status" => status.as_str()).increment(1);
    metrics::histogram!("calendar_run_duration_seconds", "status" => status.as_str())
        .record(result["latencyMs"].as_f64().unwrap_or_default() / 1000.0);
    Ok(Some(Finished {
        status,
        result,
        error,
        staged,
    }))
}
