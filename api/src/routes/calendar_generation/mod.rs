//! `POST /v1/ai/calendar` (seed 000): generate or regenerate a content calendar, answered
//! with the run's event stream (`Accept: text/event-stream`, or NDJSON) or 202.
//!
//! With `CALENDAR_SERVICE_ENABLED` a worker writes the calendar and the stream is the relay
//! of its job. Without it the legacy path runs here, in-process: deterministic content, no
//! queue and no AI provider, the same stream schema with `meta.mode = "legacy"`, persisted
//! when Postgres is up and a dry run marked `persisted: false` when it is not.

use almanac_publishing::Platforms;
use almanac_shared::{
    domain::{
        Invalid,
        calendar::{CalendarJob, CalendarSpec},
    },
    events::Event,
    flags::Flag,
    jobs::{JobKind, JobStatus, NewJob},
    store::calendars::{self as store, Fills, OpenedRun, RunOpened, RunSpec},
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
            if let Ok(mut tx) = almanac_shared::store::user_tx(&state.pool, user).await {
                learn_from_results(&mut tx, &mut spec).await;
                let _ = tx.commit().await;
            }
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

/// What the request learns from the caller's results (issue 58): without
/// `constraints.timesOfDay`, the channels that name exactly one of the caller's connected
/// channels with a history of their own post at its best hours
/// (`store::analytics::learned_times`), the others at 09:00; with `learnFromResults`
/// (by default, once the caller has 10 measured posts on the channels), the AI is shown
/// each channel's best and worst recent posts. A store that cannot be read leaves the
/// request as it would be without results. It reads in the caller's transaction `tx` (the
/// submit's own: no second connection per request), under a savepoint that a failed read
/// rolls back.
async fn learn_from_results(tx: &mut Transaction<'static, Postgres>, spec: &mut CalendarSpec) {
    use almanac_shared::{domain::analytics, store};
    use sqlx::Acquire;
    let channels: Vec<&str> = spec.channels.iter().map(|c| c.as_str()).collect();
    let (zone, per_day) = (spec.constraints.timezone, spec.constraints.posts_per_day);
    let times_given = spec.constraints.times_given;
    let read = async {
        let mut savepoint = tx.begin().await?;
        let times = match times_given {
            true => Default::default(),
            false => {
                store::analytics::learned_times(&mut savepoint, &channels, zone, per_day).await?
            }
        };
        let rated =
            store::analytics::rated_posts(&mut savepoint, &channels, chrono::Utc::now()).await?;
        savepoint.commit().await?;
        Ok::<_, sqlx::Error>((times, rated))
    };
    let (times, rated) = match read.await {
        Ok(read) => read,
        Err(error) => {
            tracing::warn!(%error, "the caller's results could not be read; planning without them");
            return;
        }
    };
    spec.learned = times;
    spec.learned_from = analytics::to_learn_from(spec.constraints.learn, rated);
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
    let mut spec = spec;
    learn_from_results(open.tx(), &mut spec).await;
    let name = CalendarName::of(&spec, &state.platforms);
    let fills = name.fills(calendar_id);
    launch(state, open, run_id, Ok(fills), &spec, framing).await
}

/// A new run's id and its job.
fn run_job(user: Uuid) -> (Uuid, NewJob) {
    let run_id = Uuid::now_v7();
    let job = NewJob::new(user, &CalendarJob { run_id })
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

/// The name a request gives its calendar (`constraints.name`), or the one made for it.
struct CalendarName {
    text: String,
    by_user: bool,
}

impl CalendarName {
    fn of(spec: &CalendarSpec, platforms: &Platforms) -> Self {
        let chosen = spec.constraints.raw["name"]
            .as_str()
            .map(|n| n.trim().chars().take(200).collect::<String>())
            .filter(|n| !n.is_empty());
        Self {
            by_user: chosen.is_some(),
            text: chosen.unwrap_or_else(|| default_name(spec, platforms)),
        }
    }

    /// What a run of this request fills: a new calendar, or the caller's `calendar_id`
    /// regenerated.
    fn fills(&self, calendar_id: Option<Uuid>) -> Fills<'_> {
        let name = store::Name {
            text: &self.text,
            by_user: self.by_user,
        };
        match calendar_id {
            None => Fills::New {
                id: Uuid::now_v7(),
                name,
            },
            Some(id) => Fills::Regeneration { id, name },
        }
    }
}

/// A calendar's name when the user gives none: its topic (`constraints.topic`), else its
/// channels (as the platform catalogue labels them; a user's own slug as given) and dates
/// (`TikTok, Instagram: 2027-01-04 to 2027-01-31`).
fn default_name(spec: &CalendarSpec, platforms: &Platforms) -> String {
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
        .map(|c| {
            platforms
                .label_of(c.as_str())
                .unwrap_or(c.as_str())
                .to_owned()
        })
        .collect();
    format!("{}: {} to {}", channels.join(", "), spec.start, spec.end)
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
