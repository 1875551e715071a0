//! `POST /v1/ai/calendar` (seed 000): generate or regenerate a content calendar, answered
//! with the run's event stream (`Accept: text/event-stream`, or NDJSON) or 202.
//!
//! With `CALENDAR_SERVICE_ENABLED` a worker writes the calendar and the stream is the relay
//! of its job. Without it the legacy path runs here, in-process: deterministic content, no
//! queue and no AI provider, the same stream schema with `meta.mode = "legacy"`, persisted
//! when Postgres is up and a dry run marked `persisted: false` when it is not.

use almanac_shared::workspaces::Actor;
use almanac_shared::{
    domain::{
        Invalid,
        calendar::{CalendarJob, CalendarSpec},
    },
    events::Event,
    flags::Flag,
    jobs::{JobPayload as _, JobStatus, NewJob},
    store::calendars::{self as store, CalendarName, Fills, OpenedRun, RunOpened, RunSpec},
};
use poem::{Body, Request, web::Data};
use poem_openapi::OpenApi;
use serde_json::json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

mod continuation;
mod dto;
mod legacy;

pub use continuation::ContinueApi;
pub use dto::*;

use super::Tag;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    rate_limit,
    relay::{self, AnswerAs, Framing, Vocabulary},
    state::AppState,
    submit::{Open, Opened as Submitted, Submit},
};

#[derive(Default)]
pub struct CalendarGenerationApi;

#[OpenApi(tag = "Tag::Calendars")]
impl CalendarGenerationApi {
    /// Generate a content calendar, or regenerate one (`calendarId`).
    ///
    /// The answer is the run's stream (seed 000's endpoint streams): SSE, or NDJSON when
    /// `application/x-ndjson` ranks first in `Accept`. Every frame is the `{data, error,
    /// meta}` envelope, `meta.done` false until the last: `progress` (`data: {completed,
    /// total, stage, message}`; a retried attempt is progress too), one `entry` per
    /// generated entry as it is written (`{data: entry, error: null, meta: {mode, runId,
    /// calendarId, version, position, total}}`), `heartbeat`s, on a regeneration a `diff`
    /// (`{data: {added, updated, removed, counts}, ...}`), and last `done`, with
    /// `meta.done = true` and the summary in `data` (`status`, `entries`, `latencyMs`,
    /// `tokens`, `runId`, `calendarId`, `version`). A run still generating
    /// `CALENDAR_TIMEOUT_SECS` after its request ends `timeout`, keeping and having
    /// streamed what it wrote. With `Prefer: respond-async`, or an `Accept` ranking
    /// `application/json` first and accepting no stream (`text/event-stream`,
    /// `application/x-ndjson`, `text/*`, `*/*`), the answer is 202 with the run's ids and
    /// links. Answers carry `Vary: Accept, Prefer`. A user with a generation in progress
    /// gets 409 `GENERATION_IN_PROGRESS` with its `runId`.
    #[oai(
        path = "/v1/ai/calendar",
        method = "post",
        operation_id = "generateCalendar"
    )]
    async fn generate(
        &self,
        request: &Request,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<CalendarRequest>,
    ) -> Answer<
        CalendarResponse,
        {
            can::STORED
                | can::BODY
                | can::NOT_FOUND
                | can::CONFLICT
                | can::UNPROCESSABLE
                | can::TOO_MANY_REQUESTS
        },
    > {
        let body = body.0;
        let mut spec = CalendarSpec::parse(
            &body.channels,
            &body.cadence,
            &body.start,
            &body.end,
            body.constraints.as_ref(),
        )
        .map_err(refused)?;
        // Any string may name a calendar; one that names none of the caller's is 404.
        let calendar_id = match body.calendar_id.as_deref().map(str::trim) {
            None => None,
            Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| ApiError::not_found("calendar"))?),
        };
        let answer_as = AnswerAs::negotiated(request);
        let framing = answer_as.framing();
        let user = auth.user().id;
        let actor = auth.user().actor();
        // A calendar request's log lines name its channels (seed 001's `channel`).
        tracing::Span::current().record(
            "channel",
            spec.channels
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(","),
        );
        let answer = if state.flags.enabled(Flag::CalendarService, user) {
            start_run(&state, actor, spec, calendar_id, framing).await?
        } else {
            if let Ok(mut tx) = almanac_shared::store::user_tx(&state.pool, actor).await {
                store::learn_from_results(&mut tx, &mut spec).await;
                let _ = tx.commit().await;
            }
            let limit = &state.settings.rate_limits.calendars;
            let slot = rate_limit::take(&state, limit, actor, None).await?;
            let answer = legacy::run(&state, actor, spec, calendar_id, framing, false).await;
            if answer.is_err() {
                // Refused (404) or not written: the request created nothing.
                slot.refund(&state).await;
            }
            answer?
        };
        Ok(answer.preferred(answer_as == AnswerAs::AsyncPreferred))
    }
}

/// The route of seed 000's stream, as its outcomes are counted (`stream_outcomes_total`).
const CALENDAR_ROUTE: &str = "/v1/ai/calendar";

/// Opens a run served by the worker fleet: the calendar (or its next version), the run and
/// its job in one transaction, then the queue.
async fn start_run(
    state: &AppState,
    actor: Actor,
    spec: CalendarSpec,
    calendar_id: Option<Uuid>,
    framing: Option<Framing>,
) -> ApiResult<CalendarResponse> {
    let (run_id, job) = run_job(actor);
    let limit = &state.settings.rate_limits.calendars;
    let mut open = match Submit::new(state, actor, limit).open(job).await? {
        // Seed 001's playbook: Postgres down, serve the legacy dry run, whatever the flag.
        Submitted::StoreDown(_) => {
            return legacy::run(state, actor, spec, calendar_id, framing, true).await;
        }
        opened => opened.open().await?,
    };
    let mut spec = spec;
    store::learn_from_results(open.tx(), &mut spec).await;
    let name = CalendarName::of(&spec, |channel| state.platforms.label_of(channel));
    let fills = name.fills(calendar_id);
    launch(state, open, run_id, Ok(fills), &spec, framing).await
}

/// A new run's id and its job.
fn run_job(actor: Actor) -> (Uuid, NewJob) {
    let run_id = Uuid::now_v7();
    let job = NewJob::new(actor, &CalendarJob { run_id })
        .with_request_id(crate::envelope::current_request_id());
    (run_id, job)
}

/// Opens the run filling `fills` beside its job (one store call), commits, queues the job
/// and answers with the run's stream or 202.
async fn launch(
    state: &AppState,
    mut open: Open<'_>,
    run_id: Uuid,
    fills: ApiResult<Fills<'_>>,
    spec: &CalendarSpec,
    framing: Option<Framing>,
) -> ApiResult<CalendarResponse> {
    let slots = spec.slot_count() as u64;
    let (job_id, user) = (open.job().id, open.job().user_id);
    let request = spec.to_json();
    let written = match fills {
        Ok(fills) => {
            // Seed 000's timeout counts from here: queue wait and retried attempts included.
            let run = RunSpec {
                id: run_id,
                user,
                job_id: Some(job_id),
                mode: "service",
                request: &request,
                slots: slots as i32,
                deadline: Some(state.settings.calendar.timeout),
            };
            open_run(open.tx(), fills, run)
                .await
                .map(|opened| (opened, Event::queued(slots)))
        }
        Err(refused) => Err(refused),
    };
    let opened = open.commit(written).await?;
    let deadline_at = opened.deadline_at;
    record_run(opened.calendar_id, run_id, JobStatus::Pending);
    tracing::info!(job_id = %job_id, "calendar run accepted");
    Ok(match framing {
        Some(framing) => {
            let body = relay::relay(
                state.relay_deps(),
                job_id,
                0,
                None,
                (framing, Vocabulary::Calendar),
                (CALENDAR_ROUTE, CalendarJob::KIND),
                deadline_at,
            );
            CalendarResponse::Stream(
                framing,
                Body::from_bytes_stream(futures::StreamExt::map(body, Ok::<_, std::io::Error>)),
            )
        }
        None => CalendarResponse::service_accepted(run_id, &opened, job_id),
    })
}

/// A request the calendar's rules refuse: what the schema states (channels, cadence, the
/// dates' shape) is 400; what only the rules can judge is 422: a date no calendar has, a
/// range whose end is before its start or too far after it, and the `constraints` object's
/// keys (an unknown time zone, ...).
fn refused(error: Invalid) -> ApiError {
    if ["start", "end"].contains(&error.field.as_str()) || error.field.starts_with("constraints") {
        ApiError::semantically_invalid(error)
    } else {
        ApiError::invalid(error)
    }
}

/// The request's log lines from here on name its run (seed 001's fields).
fn record_run(calendar_id: Uuid, run_id: Uuid, status: JobStatus) {
    let span = tracing::Span::current();
    span.record("calendarId", tracing::field::display(calendar_id));
    span.record("runId", tracing::field::display(run_id));
    span.record("status", status.as_str());
}

/// Opens a run (`store::open_run`): 404 when the calendar to regenerate or continue is not
/// the caller's; 409 `GENERATION_IN_PROGRESS` when a run of theirs is under way, which
/// Postgres decides (a unique index), whichever replica took either request.
async fn open_run(
    tx: &mut Transaction<'static, Postgres>,
    fills: Fills<'_>,
    run: RunSpec<'_>,
) -> ApiResult<OpenedRun> {
    let missing = match fills {
        Fills::Continuation { .. } => "run",
        _ => "calendar",
    };
    match store::open_run(tx, fills, run).await? {
        RunOpened::Opened(opened) => Ok(opened),
        RunOpened::NoCalendar => Err(ApiError::not_found(missing)),
        RunOpened::Busy(active) => {
            metrics::counter!("calendar_runs_refused_total", "reason" => "in_progress")
                .increment(1);
            let details =
                active.map(|(run, calendar)| json!({ "runId": run, "calendarId": calendar }));
            Err(ApiError::Conflict(crate::error::ErrorEnvelope::new(
                "GENERATION_IN_PROGRESS",
                "a calendar generation of yours is still running; wait for it to finish (its runId is in details)",
                details,
            )))
        }
    }
}
