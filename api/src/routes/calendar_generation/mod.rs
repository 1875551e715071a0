//! `POST /v1/ai/calendar` (seed 000): generate or regenerate a content calendar, answered
//! with the run's event stream (`Accept: text/event-stream`, or NDJSON) or 202.
//!
//! With `CALENDAR_SERVICE_ENABLED` a worker writes the calendar and the stream is the relay
//! of its job. Without it the legacy path runs here, in-process: deterministic content, no
//! queue and no AI provider, the same stream schema with `meta.mode = "legacy"`, persisted
//! when Postgres is up and a dry run marked `persisted: false` when it is not.

use almanac_shared::{
    domain::{
        Invalid,
        calendar::{CalendarJob, CalendarSpec},
    },
    events::Event,
    flags::Flag,
    jobs::{JobKind, JobStatus, NewJob},
    store::calendars as store,
};
use poem::{Body, IntoResponse, Request, Response, http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    payload::Json,
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
};
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
    envelope::current_request_id,
    error::{Answer, ApiError, ApiResult, can},
    rate_limit,
    relay::{self, Framing, Vocabulary},
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
        let spec = CalendarSpec::parse(
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
            start_run(&state, user, spec, calendar_id, framing).await?
        } else {
            let limit = &state.settings.rate_limits.calendars;
            let slot = rate_limit::take(&state, limit, user, None).await?;
            let answer = legacy::run(&state, user, spec, calendar_id, framing, false).await;
            if answer.is_err() {
                // Refused (404) or not written: the request created nothing.
                slot.refund(&state).await;
            }
            answer?
        };
        Ok(answer.preferred(answer_as == AnswerAs::AsyncPreferred))
    }
}

/// How `POST /v1/ai/calendar` answers a request. Seed 000's endpoint streams: a client
/// that names nothing gets the stream (SSE). `Prefer: respond-async` (RFC 7240) asks for
/// 202 whatever `Accept` says; otherwise `Accept`, ordered by q-value, decides: NDJSON when
/// `application/x-ndjson` ranks first, 202 when `application/json` ranks first and no
/// stream type, `text/*` or `*/*` is acceptable, SSE in every other case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerAs {
    Stream(Framing),
    /// 202, because `Accept` asked only for JSON.
    Async,
    /// 202, because `Prefer: respond-async` asked for it (`Preference-Applied` says so).
    AsyncPreferred,
}

impl AnswerAs {
    pub fn negotiated(request: &Request) -> Self {
        let header = |name| {
            request
                .headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(",")
        };
        let prefers_async = header(poem::http::header::HeaderName::from_static("prefer"))
            .split(',')
            .any(|preference| {
                let token = preference.split(';').next().unwrap_or_default().trim();
                token.eq_ignore_ascii_case("respond-async")
            });
        if prefers_async {
            return AnswerAs::AsyncPreferred;
        }
        Self::by_accept(&header(poem::http::header::ACCEPT))
    }

    /// The answer `Accept` (as sent) asks for.
    pub fn by_accept(accept: &str) -> Self {
        // Media ranges with their q-values, highest first (ties keep the client's order).
        let mut ranges: Vec<(String, f32)> = accept
            .split(',')
            .filter_map(|range| {
                let mut parts = range.split(';');
                let media = parts.next()?.trim().to_ascii_lowercase();
                if media.is_empty() {
                    return None;
                }
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
                    .find_map(|q| q.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((media, q))
            })
            .collect();
        ranges.sort_by(|a, b| b.1.total_cmp(&a.1));
        let first = ranges
            .first()
            .filter(|(_, q)| *q > 0.0)
            .map(|(m, _)| m.as_str());
        match first {
            Some("application/x-ndjson") => AnswerAs::Stream(Framing::Ndjson),
            Some("application/json") => {
                let streamable = ranges.iter().any(|(media, q)| {
                    *q > 0.0
                        && matches!(
                            media.as_str(),
                            "text/event-stream" | "application/x-ndjson" | "text/*" | "*/*"
                        )
                });
                if streamable {
                    AnswerAs::Stream(Framing::Sse)
                } else {
                    AnswerAs::Async
                }
            }
            _ => AnswerAs::Stream(Framing::Sse),
        }
    }

    fn framing(self) -> Option<Framing> {
        match self {
            AnswerAs::Stream(framing) => Some(framing),
            AnswerAs::Async | AnswerAs::AsyncPreferred => None,
        }
    }
}

/// The route of seed 000's stream, as its outcomes are counted (`stream_outcomes_total`).
const CALENDAR_ROUTE: &str = "/v1/ai/calendar";

/// Opens a run served by the worker fleet: the calendar (or its next version), the run and
/// its job in one transaction, then the queue.
async fn start_run(
    state: &AppState,
    user: Uuid,
    spec: CalendarSpec,
    calendar_id: Option<Uuid>,
    framing: Option<Framing>,
) -> ApiResult<CalendarResponse> {
    let (run_id, job) = run_job(user);
    let limit = &state.settings.rate_limits.calendars;
    let mut open = match Submit::new(state, user, limit).open(job).await? {
        // Seed 001's playbook: Postgres down, serve the legacy dry run, whatever the flag.
        Submitted::StoreDown(_) => {
            return legacy::run(state, user, spec, calendar_id, framing, true).await;
        }
        opened => opened.open().await?,
    };
    let opened = open_run(open.tx(), user, &spec, calendar_id).await;
    launch(state, open, run_id, opened, &spec, framing).await
}

/// A new run's id and its job.
fn run_job(user: Uuid) -> (Uuid, NewJob) {
    let run_id = Uuid::now_v7();
    let job = NewJob::new(user, &CalendarJob { run_id })
        .with_request_id(crate::envelope::current_request_id());
    (run_id, job)
}

/// Writes the run of `opened` beside its job, commits, queues the job and answers with the
/// run's stream or 202.
async fn launch(
    state: &AppState,
    mut open: Open<'_>,
    run_id: Uuid,
    opened: ApiResult<Opened>,
    spec: &CalendarSpec,
    framing: Option<Framing>,
) -> ApiResult<CalendarResponse> {
    let slots = spec.slot_count() as u64;
    let (job_id, user) = (open.job().id, open.job().user_id);
    let written = match opened {
        Ok(opened) => {
            // Seed 000's timeout counts from here: queue wait and retried attempts included.
            let run = NewRun {
                id: run_id,
                job_id: Some(job_id),
                mode: "service",
                deadline: Some(state.settings.calendar.timeout),
            };
            insert_run(open.tx(), user, &opened, run, spec)
                .await
                .map(|deadline_at| ((opened, deadline_at), Event::queued(slots)))
        }
        Err(refused) => Err(refused),
    };
    let (opened, deadline_at) = open.commit(written).await?;
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
                (CALENDAR_ROUTE, JobKind::Calendar),
                deadline_at,
            );
            CalendarResponse::Stream(
                framing,
                Body::from_bytes_stream(futures::StreamExt::map(body, Ok::<_, std::io::Error>)),
            )
        }
        None => CalendarResponse::Accepted(
            Box::new(RunAcceptedEnvelope::with_meta(
                RunAccepted {
                    run_id: Some(run_id),
                    calendar_id: Some(opened.calendar_id),
                    version: Some(opened.version),
                    status: JobStatus::Pending,
                    job_id: Some(job_id),
                    links: RunLinks {
                        poll: Some(format!("/v1/jobs/{}", job_id)),
                        stream: Some(format!("/v1/jobs/{}/events", job_id)),
                        calendar: Some(format!("/v1/calendars/{}", opened.calendar_id)),
                    },
                },
                RunMeta {
                    request_id: current_request_id(),
                    mode: "service".into(),
                    persisted: true,
                    reason: None,
                },
            )),
            false,
        ),
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

/// The calendar a run fills and the run's version.
struct Opened {
    calendar_id: Uuid,
    version: i32,
    applies_directly: bool,
    /// The ended run this one continues (it fills only the slots the calendar lacks).
    continues: Option<Uuid>,
}

/// Creates the calendar, or takes the caller's existing one for a regeneration (404 when
/// it is not theirs) and counts its next version.
async fn open_run(
    tx: &mut Transaction<'static, Postgres>,
    user: Uuid,
    spec: &CalendarSpec,
    calendar_id: Option<Uuid>,
) -> ApiResult<Opened> {
    let request = spec.to_json();
    let chosen = spec.constraints.raw["name"]
        .as_str()
        .map(|n| n.trim().chars().take(200).collect::<String>())
        .filter(|n| !n.is_empty());
    let name = chosen.clone().unwrap_or_else(|| default_name(spec));
    let name = store::Name {
        text: &name,
        by_user: chosen.is_some(),
    };
    match calendar_id {
        None => {
            let id = Uuid::now_v7();
            store::create(tx, id, user, name, &request).await?;
            Ok(Opened {
                calendar_id: id,
                version: 1,
                applies_directly: true,
                continues: None,
            })
        }
        Some(id) => {
            let row = store::next_version(tx, id, &request, name).await?;
            let (version, applies_directly) = row.ok_or_else(|| ApiError::not_found("calendar"))?;
            Ok(Opened {
                calendar_id: id,
                version,
                applies_directly,
                continues: None,
            })
        }
    }
}

/// A calendar's name when the user gives none: its topic (`constraints.topic`), else its
/// channels and dates (`TikTok, Instagram: 2027-01-04 to 2027-01-31`).
fn default_name(spec: &CalendarSpec) -> String {
    if let Some(topic) = spec.constraints.raw["topic"]
        .as_str()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let mut topic = topic.chars().take(200).collect::<String>();
        if let Some(first) = topic.chars().next() {
            topic.replace_range(..first.len_utf8(), &first.to_uppercase().to_string());
        }
        return topic;
    }
    let channels: Vec<String> = spec
        .channels
        .iter()
        .map(|c| channel_label(c.as_str()))
        .collect();
    format!("{}: {} to {}", channels.join(", "), spec.start, spec.end)
}

/// A channel as people write it (`tiktok` -> `TikTok`); a user's own slug as given.
fn channel_label(channel: &str) -> String {
    match channel {
        "tiktok" => "TikTok".into(),
        "instagram" => "Instagram".into(),
        "linkedin" => "LinkedIn".into(),
        "facebook" => "Facebook".into(),
        "youtube" => "YouTube".into(),
        "x" => "X".into(),
        other => other.into(),
    }
}

/// A run to write: its id, its job (service runs) and its mode.
struct NewRun {
    id: Uuid,
    job_id: Option<Uuid>,
    mode: &'static str,
    /// A service run's deadline, from now.
    deadline: Option<std::time::Duration>,
}

/// Writes the run; a second active generation of the user is refused by Postgres (a
/// unique index), whichever replica took either request.
async fn insert_run(
    tx: &mut Transaction<'static, Postgres>,
    user: Uuid,
    opened: &Opened,
    run: NewRun,
    spec: &CalendarSpec,
) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    let NewRun {
        id: run_id,
        job_id,
        mode,
        deadline,
    } = run;
    let inserted = store::insert_run(
        tx,
        store::NewRun {
            id: run_id,
            calendar_id: opened.calendar_id,
            user,
            job_id,
            version: opened.version,
            mode,
            request: &spec.to_json(),
            slots: spec.slot_count() as i32,
            applies_directly: opened.applies_directly,
            deadline,
            continues: opened.continues,
        },
    )
    .await?;
    if let Some(inserted) = inserted {
        return Ok(inserted.deadline_at);
    }
    let active = store::active_run(tx).await?;
    metrics::counter!("calendar_runs_refused_total", "reason" => "in_progress").increment(1);
    let details = active.map(|(run, calendar)| json!({ "runId": run, "calendarId": calendar }));
    Err(ApiError::Conflict(crate::error::ErrorEnvelope::new(
        "GENERATION_IN_PROGRESS",
        "a calendar generation of yours is still running; wait for it to finish (its runId is in details)",
        details,
    )))
}

/// The answer of `POST /v1/ai/calendar`: the run's stream, or 202 (`true`: because
/// `Prefer: respond-async` asked for it).
pub enum CalendarResponse {
    Stream(Framing, Body),
    Accepted(Box<Json<RunAcceptedEnvelope>>, bool),
}

impl CalendarResponse {
    fn preferred(self, applied: bool) -> Self {
        match self {
            CalendarResponse::Accepted(json, _) => CalendarResponse::Accepted(json, applied),
            stream => stream,
        }
    }
}

impl ApiResponse for CalendarResponse {
    fn meta() -> MetaResponses {
        let accepted = <RunAcceptedEnvelope as poem_openapi::types::Type>::schema_ref();
        MetaResponses {
            responses: vec![
                Framing::documented(
                    "The run's event stream: SSE unless `application/x-ndjson` ranks first in `Accept` (then NDJSON).",
                    "CalendarEvent",
                ),
                MetaResponse {
                    description: "The run was accepted; poll or stream it with the links. Answered to `Prefer: respond-async` (with `Preference-Applied: respond-async`), or to an `Accept` that ranks `application/json` first and takes no stream.",
                    status: Some(202),
                    status_range: None,
                    content: vec![MetaMediaType {
                        content_type: "application/json; charset=utf-8",
                        schema: accepted,
                    }],
                    headers: vec![],
                },
            ],
        }
    }

    fn register(registry: &mut Registry) {
        <CalendarEvent as poem_openapi::types::Type>::register(registry);
        crate::relay::Framing::register(registry);
        <RunAcceptedEnvelope as poem_openapi::types::Type>::register(registry);
    }
}

/// The answer depends on both: caches must key on them.
fn vary(response: &mut Response) {
    response.headers_mut().insert(
        poem::http::header::VARY,
        poem::http::HeaderValue::from_static("Accept, Prefer"),
    );
}

impl IntoResponse for CalendarResponse {
    fn into_response(self) -> Response {
        match self {
            CalendarResponse::Stream(framing, body) => {
                let mut response = framing.response(body);
                vary(&mut response);
                response
            }
            CalendarResponse::Accepted(json, preferred) => {
                let mut response = json.into_response();
                response.set_status(StatusCode::ACCEPTED);
                vary(&mut response);
                if preferred {
                    response.headers_mut().insert(
                        "preference-applied",
                        poem::http::HeaderValue::from_static("respond-async"),
                    );
                }
                response
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calendar_streams_unless_json_alone_is_asked_for() {
        let sse = AnswerAs::Stream(Framing::Sse);
        let ndjson = AnswerAs::Stream(Framing::Ndjson);
        for (accept, answer) in [
            ("", sse),
            ("*/*", sse),
            ("text/*", sse),
            ("text/html", sse),
            ("text/event-stream", sse),
            ("application/x-ndjson", ndjson),
            ("application/x-ndjson, text/event-stream", ndjson),
            ("text/event-stream, application/x-ndjson", sse),
            ("application/json;q=0.5, application/x-ndjson", ndjson),
            ("application/json", AnswerAs::Async),
            ("application/json, text/event-stream;q=0", AnswerAs::Async),
            ("application/json, */*;q=0.1", sse),
            ("application/json, text/event-stream", sse),
            ("application/json;q=0.9, text/html;q=0.1", AnswerAs::Async),
            ("Application/JSON", AnswerAs::Async),
        ] {
            assert_eq!(AnswerAs::by_accept(accept), answer, "Accept: {accept}");
        }
    }

    #[test]
    fn prefer_respond_async_wins_over_accept() {
        let request = |prefer: &str, accept: &str| {
            Request::builder()
                .header("prefer", prefer)
                .header("accept", accept)
                .finish()
        };
        assert_eq!(
            AnswerAs::negotiated(&request("respond-async", "text/event-stream")),
            AnswerAs::AsyncPreferred
        );
        assert_eq!(
            AnswerAs::negotiated(&request("wait=10, Respond-Async", "")),
            AnswerAs::AsyncPreferred
        );
        assert_eq!(
            AnswerAs::negotiated(&request("return=minimal", "")),
            AnswerAs::Stream(Framing::Sse)
        );
    }
}
