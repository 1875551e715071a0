//! The legacy path (`CALENDAR_SERVICE_ENABLED=false`): the calendar written here, in the
//! API, with deterministic content, no queue and no AI provider; the same stream schema
//! with `meta.mode = "legacy"`; persisted when Postgres is up, a dry run marked
//! `persisted: false, reason: "STORE_UNAVAILABLE"` when it is not. It is also seed 001's
//! playbook answer while Postgres is down, whatever the flag says.

use almanac_shared::store::user_tx;
use std::time::Instant;

use almanac_shared::workspaces::Actor;
use almanac_shared::{
    calendars,
    domain::calendar::{self, CalendarSpec, Entry},
    events::{Envelope, Event},
    jobs::JobStatus,
    store::calendars::{self as store, CalendarName, RunOutcome, RunRef, RunSpec},
};
use bytes::Bytes;
use poem::Body;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    CalendarResponse, RunAccepted, RunAcceptedEnvelope, RunLinks, RunMeta, open_run, record_run,
};
use crate::{
    envelope::current_request_id,
    error::{ApiError, ApiResult},
    relay::{Framing, Vocabulary},
    state::AppState,
};

/// Answers a calendar request in-process, deterministically, with the same stream.
pub(super) async fn run(
    state: &AppState,
    actor: Actor,
    spec: CalendarSpec,
    calendar_id: Option<Uuid>,
    framing: Option<Framing>,
    store_down: bool,
) -> ApiResult<CalendarResponse> {
    let started = Instant::now();
    let brief = &spec.brief();
    let entries: Vec<Entry> = spec
        .slots()
        .into_iter()
        .map(|slot| Entry {
            content: calendar::offline_content(brief, &slot.channel, slot.date, slot.time),
            slot,
        })
        .collect();
    let persisted = if store_down {
        None
    } else {
        match persist_legacy(state, actor, &spec, calendar_id, &entries).await {
            Ok(persisted) => Some(persisted),
            // Down, judged by a probe outside the pool: a saturated pool is busy, said so.
            Err(busy @ ApiError::Unavailable(..)) => {
                if almanac_shared::db::answers(&state.pool).await {
                    return Err(busy);
                }
                None
            }
            Err(other) => return Err(other),
        }
    };
    if persisted.is_none() {
        tracing::warn!("Postgres unreachable: answering a legacy dry run, not persisted");
    }
    // The publish spool's word for the same outage.
    let reason = persisted.is_none().then_some("STORE_UNAVAILABLE");
    let (run_id, calendar_id, version) =
        persisted.as_ref().map_or((None, calendar_id, None), |p| {
            (Some(p.run.id), Some(p.run.calendar_id), Some(p.version))
        });
    let mut meta = json!({
        "mode": "legacy", "runId": run_id, "calendarId": calendar_id, "version": version,
        "persisted": persisted.is_some(), "done": false,
    });
    if let Some(reason) = reason {
        meta["reason"] = json!(reason);
    }
    let mut summary = match &persisted {
        Some(p) => p.summary.clone(),
        None => json!({
            "status": "succeeded", "entries": entries.len(), "slots": entries.len(),
            "latencyMs": started.elapsed().as_millis() as u64, "tokens": 0, "runId": null,
            "calendarId": calendar_id, "version": null, "mode": "legacy", "persisted": false,
            "reason": "STORE_UNAVAILABLE",
        }),
    };
    if let Some(learned) = &spec.learned_from {
        // Which of the user's posts the AI was shown (the final frame's meta says it).
        summary["learnedFrom"] = serde_json::to_value(learned).unwrap_or_default();
    }
    metrics::counter!("calendar_runs_total", "status" => "succeeded", "mode" => "legacy")
        .increment(1);
    tracing::info!(
        status = "succeeded",
        latencyMs = summary["latencyMs"].as_u64().unwrap_or_default(),
        tokens = 0,
        persisted = persisted.is_some(),
        "legacy calendar run finished"
    );
    let Some(framing) = framing else {
        return Ok(accepted(
            persisted.as_ref(),
            run_id,
            calendar_id,
            version,
            reason,
        ));
    };
    Ok(streamed(
        framing,
        &entries,
        persisted.as_ref(),
        &meta,
        summary,
    ))
}

/// The answer to a legacy request that asked for no stream: the run, done.
fn accepted(
    persisted: Option<&PersistedLegacy>,
    run_id: Option<Uuid>,
    calendar_id: Option<Uuid>,
    version: Option<i32>,
    reason: Option<&str>,
) -> CalendarResponse {
    CalendarResponse::Accepted(
        Box::new(RunAcceptedEnvelope::with_meta(
            RunAccepted {
                run_id,
                calendar_id,
                version,
                status: JobStatus::Succeeded,
                job_id: None,
                links: RunLinks {
                    poll: None,
                    stream: None,
                    calendar: persisted
                        .and(calendar_id)
                        .map(|id| format!("/v1/calendars/{id}")),
                },
            },
            RunMeta {
                request_id: current_request_id(),
                mode: "legacy".into(),
                persisted: persisted.is_some(),
                reason: reason.map(str::to_owned),
            },
        )),
        false,
    )
}

/// The legacy run's whole stream, written at once: progress, each entry, the diff when
/// it was saved, and `done` with its summary.
fn streamed(
    framing: Framing,
    entries: &[Entry],
    persisted: Option<&PersistedLegacy>,
    meta: &serde_json::Value,
    summary: serde_json::Value,
) -> CalendarResponse {
    let total = entries.len();
    let mut events = vec![Event::progress(
        0,
        total as u64,
        "generating",
        format!("writing {total} calendar entries"),
    )];
    events.extend(
        entries
            .iter()
            .enumerate()
            .map(|(position, entry)| calendars::entry_event(entry, meta, position, total)),
    );
    if let Some(diff) = persisted.and_then(|p| p.diff.clone()) {
        events.push(Event::Diff(Envelope {
            data: diff,
            error: None,
            meta: meta.clone(),
        }));
    }
    events.push(Event::done(JobStatus::Succeeded, Some(summary), None));
    // Written whole, here: it ends as the legacy run did.
    crate::relay::count_outcome(super::CALENDAR_ROUTE, "calendar", "succeeded");
    let frames: Vec<Bytes> = events
        .iter()
        .enumerate()
        .map(|(i, event)| Vocabulary::Calendar.event(framing, Uuid::nil(), i as u64 + 1, event))
        .collect();
    CalendarResponse::Stream(
        framing,
        Body::from_bytes_stream(futures::stream::iter(
            frames.into_iter().map(Ok::<_, std::io::Error>),
        )),
    )
}

struct PersistedLegacy {
    run: RunRef,
    version: i32,
    summary: Value,
    diff: Option<Value>,
}

/// Saves a legacy run as a worker saves a service run, in one transaction as the user.
async fn persist_legacy(
    state: &AppState,
    actor: Actor,
    spec: &CalendarSpec,
    calendar_id: Option<Uuid>,
    entries: &[Entry],
) -> ApiResult<PersistedLegacy> {
    let user = actor.user;
    let mut tx = user_tx(&state.pool, actor).await?;
    let name = CalendarName::of(spec, |channel| state.platforms.label_of(channel));
    let request = spec.to_json();
    let new = RunSpec {
        id: Uuid::now_v7(),
        user,
        job_id: None,
        mode: "legacy",
        request: &request,
        slots: spec.slot_count() as i32,
        deadline: None,
    };
    let run_id = new.id;
    let opened = open_run(&mut tx, name.fills(calendar_id), new).await?;
    let run = RunRef {
        id: run_id,
        calendar_id: opened.calendar_id,
        user_id: user,
    };
    record_run(run.calendar_id, run.id, JobStatus::Succeeded);
    let positioned: Vec<(i32, &Entry)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (i as i32, e))
        .collect();
    store::save_run_entries(
        &mut tx,
        run,
        opened.applies_directly,
        &positioned,
        (0, 0),
        Some(("legacy", "legacy-template-v1")),
    )
    .await?;
    let (diff, counts) = if opened.applies_directly {
        (None, None)
    } else {
        let (diff, counts) = store::propose_changes(&mut tx, run, entries, true).await?;
        (Some(diff), Some(counts))
    };
    let summary = store::finish_run(
        &mut tx,
        run.id,
        &RunOutcome {
            status: JobStatus::Succeeded,
            error: None,
            diff: counts,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(PersistedLegacy {
        run,
        version: opened.version,
        summary,
        diff,
    })
}
