//! The calendar generation routes' wire types: a generation request, the accepted run and
//! its links, the streamed events, and the answer (the stream, or 202).

use almanac_shared::{jobs::JobStatus, store::calendars::OpenedRun};
use poem::{Body, IntoResponse, Response, http::StatusCode};
use poem_openapi::{
    ApiResponse, Object,
    payload::Json,
    registry::{MetaMediaType, MetaResponse, MetaResponses, Registry},
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    envelope::{Envelope, Enveloped},
    relay::Framing,
    text::CalendarDay,
};

/// Seed 000's request.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarRequest {
    /// 1-10 channel names (`tiktok`, `Instagram`, ...): 1-32 of letters, digits, `-`, `_`,
    /// starting with a letter or digit, surrounding spaces ignored. Names are taken in any
    /// case and kept lowercase; names that are then the same are one channel.
    #[oai(validator(
        min_items = 1,
        max_items = 10,
        pattern = "^\\s*[A-Za-z0-9][A-Za-z0-9_-]{0,31}\\s*$"
    ))]
    pub channels: Vec<String>,
    /// `daily`, `weekly` or `monthly`.
    #[oai(validator(pattern = "^(daily|weekly|monthly)$"))]
    pub cadence: String,
    /// First day: a date, or an RFC 3339 date-time counting as its date in
    /// `constraints.timezone` (UTC by default); inclusive.
    pub start: CalendarDay,
    /// Last day, as `start` and inclusive: not before `start`, at most 366 days after it
    /// (422 otherwise, as for a date no calendar has).
    pub end: CalendarDay,
    /// At most 16 KiB of JSON. Shapes the slot grid: `postsPerDay` (1-10), `weekdays`
    /// (`mon`..`sun`), `timesOfDay` (`HH:MM`; without it, a channel that names exactly one
    /// of your connected channels with a history of its own posts at its best hours, the
    /// others at 09:00), `timezone` (IANA), `excludedDates`; `learnFromResults` (a
    /// boolean; by default true once you have 10 measured posts on the channels) shows the
    /// AI each channel's three best and three worst recent posts, and the final frame's
    /// `meta.learnedFrom` names them. Every other key (`topic`, `audience`, `tone`, `name`,
    /// ...) is given to the AI as data. The grid's keys are held to those rules with 422.
    #[oai(nullable)]
    pub constraints: Option<Value>,
    /// Regenerate this calendar (its id): the run's entries are compared with the saved
    /// ones. One that is not the caller's calendar is 404, whatever its shape.
    #[oai(nullable, validator(max_length = 100))]
    pub calendar_id: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RunLinks {
    /// The job's poll view (service runs).
    #[oai(nullable)]
    pub poll: Option<String>,
    /// The job's event stream, to follow or resume the run (service runs).
    #[oai(nullable)]
    pub stream: Option<String>,
    /// The saved calendar.
    #[oai(nullable)]
    pub calendar: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RunAccepted {
    #[oai(nullable)]
    pub run_id: Option<Uuid>,
    #[oai(nullable)]
    pub calendar_id: Option<Uuid>,
    #[oai(nullable)]
    pub version: Option<i32>,
    // Undescribed, as `CreateGenerationAccepted::status` says why: `pending` for a service
    // run; a legacy run has already ended (`succeeded`).
    pub status: JobStatus,
    #[oai(nullable)]
    pub job_id: Option<Uuid>,
    pub links: RunLinks,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct RunMeta {
    pub request_id: String,
    /// `service` or `legacy`.
    pub mode: String,
    /// False for a legacy dry run (Postgres was unreachable).
    pub persisted: bool,
    /// Why it was not persisted: `STORE_UNAVAILABLE`.
    #[oai(nullable)]
    pub reason: Option<String>,
}

impl Enveloped for RunAccepted {
    type Meta = RunMeta;
}

pub type RunAcceptedEnvelope = Envelope<RunAccepted>;

/// The documented shape of one calendar stream event (an SSE `data:` or an NDJSON line).
/// Every frame is seed 000's `{data, error, meta}` envelope, `meta.done` false until the
/// final one; frames other than `entry`, `diff` and `done` also keep their own fields.
#[derive(Object)]
pub struct CalendarEvent {
    /// `progress`, `entry`, `diff`, `done`, `heartbeat`, `truncated` or `error`.
    #[oai(rename = "type")]
    pub kind: String,
    /// `entry`: the entry (`key`, `channel`, `date`, `time`, `scheduledAt`, `title`,
    /// `caption`, `format`, `hashtags`, `callToAction`). `diff`: `{added, updated, removed,
    /// counts}`, each change `{id, key, conflict, before, after}`. `done`: the summary
    /// (`status`, `entries`, `slots`, `latencyMs`, `tokens`, `runId`, `calendarId`,
    /// `version`, `mode`, `persisted`). `progress`: `{completed, total, stage, message}`
    /// (a retried attempt is progress in stage `retrying`). Null on `heartbeat`,
    /// `truncated` and `error`.
    pub data: Value,
    /// Null, except on `done` when the run did not succeed (`{code, message}`;
    /// `CALENDAR_TIMEOUT` for a timeout, whose message says how much was kept and whose
    /// `details` count it: `{written, slots, missing}`), on
    /// `truncated` (`HISTORY_TRUNCATED`: the saved calendar has the entries) and on `error`
    /// (a problem with the stream itself).
    pub error: Value,
    /// `done`: true on the final frame only, false on every other. Entries and diffs add
    /// `mode` (`service` or `legacy`), `runId`, `calendarId`, `version`; entries `position`
    /// and `total`; the final frame `mode`, `runId`, `calendarId`, `version`, `persisted`
    /// (and `reason` for a dry run).
    pub meta: Value,
    /// `done`: the run's final status (as in the job ledger).
    #[oai(nullable)]
    pub status: Option<String>,
    /// `progress`: entries written so far, of `total`.
    #[oai(nullable)]
    pub completed: Option<u64>,
    #[oai(nullable)]
    pub total: Option<u64>,
    #[oai(nullable)]
    pub stage: Option<String>,
    #[oai(nullable)]
    pub message: Option<String>,
}

/// The answer of `POST /v1/ai/calendar`: the run's stream, or 202 (`true`: because
/// `Prefer: respond-async` asked for it).
pub enum CalendarResponse {
    Stream(Framing, Body),
    Accepted(Box<Json<RunAcceptedEnvelope>>, bool),
}

impl CalendarResponse {
    /// 202 for a run the workers took: its ids, and where to poll and stream it.
    pub fn service_accepted(run_id: Uuid, opened: &OpenedRun, job_id: Uuid) -> Self {
        let accepted = RunAccepted {
            run_id: Some(run_id),
            calendar_id: Some(opened.calendar_id),
            version: Some(opened.version),
            status: JobStatus::Pending,
            job_id: Some(job_id),
            links: RunLinks {
                poll: Some(format!("/v1/jobs/{job_id}")),
                stream: Some(format!("/v1/jobs/{job_id}/events")),
                calendar: Some(format!("/v1/calendars/{}", opened.calendar_id)),
            },
        };
        let meta = RunMeta {
            request_id: crate::envelope::current_request_id(),
            mode: "service".into(),
            persisted: true,
            reason: None,
        };
        CalendarResponse::Accepted(
            Box::new(RunAcceptedEnvelope::with_meta(accepted, meta)),
            false,
        )
    }

    /// The 202 says `Preference-Applied: respond-async` when `applied`.
    pub fn preferred(self, applied: bool) -> Self {
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
