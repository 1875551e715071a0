//! What a calendar run keeps: the entries several calls produced together, saved fenced by
//! the claim and streamed after the commit, and the run's end.

use super::{
    ChatResponse, Claim, Context, End, Entry, Envelope, Event, Finished, Input, JobContext,
    JobError, JobResult, JobStatus, Produced, RunOutcome, RunRef, Value, calendar, calendars,
    store,
};

/// What the calls produced together.
pub(super) struct Group {
    entries: Vec<(i32, Entry)>,
    calls: Vec<ChatResponse>,
    pub(super) over_budget: Option<JobError>,
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
pub(super) async fn save_produced(
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
    let token = staged.as_ref().map(|s| s.token);
    let fenced = ctx.fenced(claim, token, "opening a batch's transaction");
    let Some(mut tx) = fenced.await? else {
        return Ok(None);
    };
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
pub(super) async fn finish(
    ctx: &JobContext,
    claim: &Claim,
    run: RunRef,
    input: &Input,
    status: JobStatus,
    error: Option<Value>,
    meta: Value,
) -> JobResult {
    let fenced = ctx.fenced(claim, None, "opening the run's final transaction");
    let Some(mut tx) = fenced.await? else {
        return Ok(None);
    };
    // The run's diff: a continued regeneration's additions to its proposal, a
    // continuation's additions (saved as generated, so already applied), a regeneration's
    // proposal; a first run has none.
    let diff = if let Some(proposal) = input.proposal_run_id {
        let proposal = RunRef {
            id: proposal,
            ..run
        };
        let complete = status == JobStatus::Succeeded;
        let diff = store::extend_proposal(&mut tx, proposal, complete)
            .await
            .context("adding to the proposal")?;
        Some(diff)
    } else if input.continues.is_some() {
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
    let mut result = store::finish_run(
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
    if let Some(learned) = input.request.get("learnedFrom")
        && result.is_object()
    {
        // Which of the user's posts the AI was shown (the final frame's meta says it).
        result["learnedFrom"] = learned.clone();
    }
    let staged = match diff_event {
        Some(diff) => Some(ctx.emitter.stage(claim.id, vec![diff]).await),
        None => None,
    };
    let finished = Finished {
        status,
        result,
        error,
        staged,
    };
    let Some(finished) = claim.end(tx, finished).await? else {
        return Ok(None);
    };
    let result = &finished.result;
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
    Ok(Some(finished))
}
