//! The calendar generation job (seed 000): the AI writes each slot of the grid, in batches
//! with several calls at once; each batch is saved (fenced by the claim) and its entries
//! streamed as it completes. At `CALENDAR_TIMEOUT_SECS` the run ends `timeout` with what it
//! has. A first run fills the calendar; a regeneration proposes a diff instead.

use std::collections::HashSet;

use almanac_shared::{
    ai::{AiProvider, Usage},
    calendars::{self, RunOutcome, RunRef},
    domain::calendar::{self, CalendarJob, CalendarSpec, Entry, Slot},
    events::{Envelope, Event},
    jobs::{self, Claim, JobStatus},
};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{ai_error, record_ai_call};
use crate::job::{Context, Finished, Job, JobContext, JobError, JobResult, LogContext};

impl Job for CalendarJob {
    type Input = Input;

    /// The run becomes `running`; its request comes back with the slots an earlier attempt
    /// already generated.
    const START: &'static str = "update calendar_runs r set status = 'running',
            started_at = coalesce(r.started_at, now())
        from claimed where r.id = (claimed.payload ->> 'run_id')::uuid
        returning r.id, r.calendar_id, r.user_id, r.version, r.request, r.applies_directly,
            (select coalesce(jsonb_agg(e.key), '[]'::jsonb) from calendar_run_entries e
             where e.run_id = r.id) as done_keys";

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
        }
    }

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        generate_run(ctx, claim, input).await
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
    done_keys: Vec<String>,
}

/// One AI call's entries, with what it cost.
struct Batch {
    entries: Vec<(i32, Entry)>,
    usage: Usage,
    provider: String,
    model: String,
}

async fn generate_run(ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
    let spec = CalendarSpec::from_json(&input.request)
        .map_err(|e| JobError::permanent("CALENDAR_REQUEST_INVALID", e.to_string()))?;
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
    let mut generated = done.len();
    let todo: Vec<(i32, Slot)> = slots
        .into_iter()
        .enumerate()
        .filter(|(_, s)| !done.contains(s.key.as_str()))
        .map(|(i, s)| (i as i32, s))
        .collect();
    ctx.emitter
        .emit_or_log(
            claim.id,
            &Event::progress(
                generated as u64,
                total as u64,
                "generating",
                format!("writing {total} calendar entries"),
            ),
        )
        .await;
    let settings = &ctx.settings.calendar;
    let deadline = tokio::time::Instant::now() + settings.timeout;
    let brief = &spec.constraints.raw;
    let mut batches = futures::stream::iter(split(todo, settings.batch_slots))
        .map(|batch| generate(ctx.ai.as_ref(), brief, batch))
        .buffered(settings.ai_concurrency);
    let mut timed_out = false;
    loop {
        let batch = tokio::select! {
            biased;
            next = batches.next() => match next {
                Some(batch) => batch?,
                None => break,
            },
            () = tokio::time::sleep_until(deadline) => {
                timed_out = true;
                break;
            }
        };
        let events: Vec<Event> = batch
            .entries
            .iter()
            .map(|(position, entry)| {
                calendars::entry_event(entry, &meta, *position as usize, total)
            })
            .collect();
        let staged = ctx.emitter.stage(claim.id, events).await;
        if !save_batch(
            ctx,
            claim,
            run,
            input.applies_directly,
            &batch,
            staged.token,
        )
        .await?
        {
            tracing::warn!("claim lost before saving a batch; this attempt's batch was discarded");
            return Ok(None);
        }
        generated += batch.entries.len();
        // One notification for the batch, so a burst does not count as a client lagging.
        ctx.emitter.publish(claim.id, &staged).await;
    }
    // Dropping the stream aborts the AI calls still in flight.
    drop(batches);
    let (status, error) = if timed_out {
        let message = format!(
            "The calendar took longer than {} s to generate: {generated} of {total} entries were \
             written and saved. Regenerate to complete it.",
            settings.timeout.as_secs_f64()
        );
        (
            JobStatus::Timeout,
            Some(json!({ "code": "CALENDAR_TIMEOUT", "message": message })),
        )
    } else {
        (JobStatus::Succeeded, None)
    };
    finish(ctx, claim, run, &input, status, error, meta).await
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

/// Asks the AI for a batch; slots its answer left out are asked for once more.
async fn generate(
    ai: &dyn AiProvider,
    brief: &Value,
    batch: Vec<(i32, Slot)>,
) -> Result<Batch, JobError> {
    let mut missing = batch;
    let mut out = Batch {
        entries: Vec::with_capacity(missing.len()),
        usage: Usage::default(),
        provider: String::new(),
        model: String::new(),
    };
    for _ in 0..2 {
        let slots: Vec<Slot> = missing.iter().map(|(_, s)| s.clone()).collect();
        let response = ai
            .chat(calendar::prompt(brief, &slots, None))
            .await
            .map_err(|e| ai_error(&e))?;
        record_ai_call(&response);
        out.usage.input_tokens += response.usage.input_tokens;
        out.usage.output_tokens += response.usage.output_tokens;
        out.provider = response.provider.clone();
        out.model = response.model.clone();
        let keys: Vec<&str> = slots.iter().map(|s| s.key.as_str()).collect();
        let mut contents = calendar::parse_answer(&response.content, &keys).map_err(|m| {
            JobError::transient("AI_OUTPUT_INVALID", m).with("model", response.model.clone())
        })?;
        let mut still = Vec::new();
        for (position, slot) in missing {
            match contents.remove(&slot.key) {
                Some(content) => out.entries.push((position, Entry { slot, content })),
                None => still.push((position, slot)),
            }
        }
        missing = still;
        if missing.is_empty() {
            out.entries.sort_by_key(|(position, _)| *position);
            return Ok(out);
        }
    }
    Err(JobError::transient(
        "AI_OUTPUT_INCOMPLETE",
        format!("the AI left {} slots without an entry", missing.len()),
    ))
}

/// Saves a batch if the claim still holds; `false` when it was lost.
async fn save_batch(
    ctx: &JobContext,
    claim: &Claim,
    run: RunRef,
    applies_directly: bool,
    batch: &Batch,
    events: Uuid,
) -> Result<bool, JobError> {
    let mut tx = ctx
        .pool
        .begin()
        .await
        .context("opening a batch's transaction")?;
    if !claim
        .alive(&mut *tx, Some(events))
        .await
        .context("checking the claim")?
    {
        return Ok(false);
    }
    let entries: Vec<(i32, &Entry)> = batch.entries.iter().map(|(p, e)| (*p, e)).collect();
    calendars::save_run_entries(
        &mut tx,
        run,
        applies_directly,
        &entries,
        (batch.usage.input_tokens, batch.usage.output_tokens),
        Some((&batch.provider, &batch.model)),
    )
    .await
    .context("saving a batch of calendar entries")?;
    tx.commit()
        .await
        .context("committing a batch of calendar entries")?;
    Ok(true)
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
    let mut diff_event = None;
    let counts = if input.applies_directly {
        None
    } else {
        let saved = calendars::saved_entries(&mut tx, run.calendar_id)
            .await
            .context("reading the saved calendar")?;
        let generated = calendars::run_entries(&mut tx, run.id)
            .await
            .context("reading the run's entries")?;
        let changes = calendar::diff(&saved, &generated, status == JobStatus::Succeeded);
        let counts = calendar::counts(&changes);
        let changes = calendars::store_changes(&mut tx, run, changes)
            .await
            .context("storing the run's changes")?;
        diff_event = Some(Event::Diff(Envelope {
            data: calendars::diff_payload(&changes, counts),
            error: None,
            meta,
        }));
        Some(counts)
    };
    let result = calendars::finish_run(
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
    if !jobs::finish(
        &mut *tx,
        claim,
        status,
        Some(&result),
        error.as_ref(),
        events,
    )
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
