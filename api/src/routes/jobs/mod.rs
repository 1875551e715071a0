//! Any job in the ledger: its poll view, its event stream (SSE or NDJSON) and its cancel.

mod dto;

pub use dto::*;

use almanac_shared::jobs::JobRecord;
use almanac_shared::store::jobs as ledger;
use almanac_shared::store::user_tx;
use almanac_shared::workspaces::Actor;
use almanac_shared::{
    events::{self, Event},
    jobs::{self, JobStatus},
};
use poem::{Body, IntoResponse, Request, Response, http::StatusCode, web::Data};
use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    registry::{MetaResponse, MetaResponses, Registry},
};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::{StreamAuth, UserAuth},
    error::{Answer, ApiError, ApiResult, ErrorEnvelope, can},
    relay::{self, Framing, Vocabulary},
    state::AppState,
};

#[derive(Default)]
pub struct JobsApi;

#[OpenApi(tag = "Tag::Jobs")]
impl JobsApi {
    /// The status of a job, read from Postgres.
    #[oai(path = "/v1/jobs/:id", method = "get", operation_id = "getJob")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<JobEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::GONE }>
    {
        let job = owned_job(&state, auth.user().actor(), id.0).await?;
        let job = past_deadline(&state, auth.user().actor(), job).await?;
        Ok(JobEnvelope::of(job.into()))
    }

    /// The job's events: the stored history, then live events until the final `done`.
    ///
    /// Server-sent events by default (`id:` is the event's sequence number, `event:` its
    /// type, `data:` its JSON); NDJSON with `Accept: application/x-ndjson` (one JSON object
    /// a line, with `type` and `id`). Event types: `progress {completed, total, stage?,
    /// message?}` (the first is always `stage: "queued"`), `suggestions {generation_id,
    /// batch, suggestions}`, for calendar runs `entry {data, error, meta}` and `diff {data,
    /// error, meta}`, `error {code?, message}`, `done {status, result, error, data, meta}`
    /// (always last, and only after every event of the job's last commit; `data` is the
    /// result again and `meta` has `done: true`, seed 000's envelope), and, never stored
    /// and without an id, `heartbeat` every `HEARTBEAT_SECS` and `truncated {after,
    /// first_available?}`, sent when events the client asked for are no longer retained
    /// (expired, or lost by the event store; ids then continue above the client's, never
    /// reusing one it has seen). Resume with `Last-Event-ID` (browsers send it when they reconnect) or
    /// `?after=`: exactly the events after that id follow, then live ones. A client that
    /// already saw `done` gets 204, which stops an `EventSource` from reconnecting. A
    /// client that falls too far behind gets `error {code: "LAGGED"}` and is closed; it
    /// resumes like any other. Browsers, which cannot set headers on an `EventSource`,
    /// may pass the token as `?access_token=`. An organic week's job (seed 003) speaks its
    /// contract's four types only (`OrganicEvent`): `progress` (also as the keep-alive),
    /// `placement`, `error` (`HISTORY_TRUNCATED` for events no longer retained) and, last,
    /// `complete {status, counts, jobId, error?}`; every line carries an id. A calendar
    /// run's job (seed 000) gives every frame the `{data, error, meta}` envelope
    /// (`CalendarEvent`), `meta.done` false until `done`, and says a retried attempt as
    /// `progress`.
    #[oai(
        path = "/v1/jobs/:id/events",
        method = "get",
        operation_id = "streamJobEvents"
    )]
    async fn events(
        &self,
        request: &Request,
        state: Data<&AppState>,
        auth: StreamAuth,
        id: Path<Uuid>,
        /// Resume after this event id (as `Last-Event-ID`, which wins when both are given).
        #[oai(validator(minimum(value = "0"), maximum(value = "9007199254740991")))]
        after: Query<Option<u64>>,
        /// The id of the last event the client saw; sent by `EventSource` on reconnect.
        #[oai(
            name = "Last-Event-ID",
            validator(minimum(value = "0"), maximum(value = "9007199254740991"))
        )]
        last_event_id: Header<Option<u64>>,
    ) -> Answer<EventStream, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND | can::GONE }> {
        let after = last_event_id.0.or(after.0).unwrap_or(0);
        // NDJSON when the client asks for it, SSE otherwise.
        let framing = Framing::requested(request).unwrap_or(Framing::Sse);
        let job = owned_job(&state, auth.user().actor(), id.0).await?;
        let (words, kind) = (Vocabulary::of(job.kind), job.kind);
        // The stream of a kind with a deadline (a calendar run) ends at it, whoever is
        // (not) running the job.
        let deadline = if kind.deadline().is_some() && !job.status.is_final() {
            let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
            let deadline = ledger::deadline(&mut *tx, kind, job.id).await?;
            tx.commit().await?;
            deadline
        } else {
            None
        };
        let ended = Event::done_from(&job).is_some().then_some(job);
        if ended.is_some() && after > 0 {
            let last = events::last(&state.events_redis, &state.settings, id.0).await?;
            if last.is_some_and(|e| e.is_final() && e.seq <= after) {
                return Ok(EventStream::Finished);
            }
        }
        let body = relay::relay(
            state.relay_deps(),
            id.0,
            after,
            ended,
            (framing, words),
            ("/v1/jobs/{id}/events", kind),
            deadline,
        );
        let body = Body::from_bytes_stream(futures::StreamExt::map(body, Ok::<_, std::io::Error>));
        Ok(EventStream::Stream(framing, body))
    }

    /// Cancels a job: a pending job ends `cancelled` at once (200); a running one is
    /// flagged and its worker stops within a second, keeping what it produced (202; the
    /// event stream ends with `done {status: "cancelled"}`). Cancelling a cancelled job
    /// again changes nothing (200); a job that ended otherwise answers 409 `JOB_FINISHED`.
    #[oai(
        path = "/v1/jobs/:id/cancel",
        method = "post",
        operation_id = "cancelJob"
    )]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<
        CancelResponse,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::CONFLICT | can::GONE },
    > {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let outcome = ledger::request_cancel(&mut tx, id.0).await?;
        let job = ledger::fetch(&mut *tx, id.0).await?;
        tx.commit().await?;
        let (Some((before, after)), Some(job)) = (outcome, job) else {
            return Err(missing_job(&state, id.0).into());
        };
        match (before, after) {
            (JobStatus::Pending, JobStatus::Cancelled) => {
                tracing::info!(job_id = %id.0, "job cancelled before it started");
                if let Err(error) = state.emitter.publish_final_from(&job).await {
                    // Its streams publish it when they find the ledger ahead of them.
                    tracing::warn!(job_id = %id.0, error = %error, "publishing the final event failed");
                }
                Ok(CancelResponse::Cancelled(JobEnvelope::of(job.into())))
            }
            (JobStatus::Running, _) => {
                tracing::info!(job_id = %id.0, "cancel requested");
                if let Err(error) = jobs::publish_cancel(&state.redis, &state.settings, id.0).await
                {
                    // The worker's heartbeat reads the flag too.
                    tracing::warn!(job_id = %id.0, error = %error, "publishing the cancel failed");
                }
                Ok(CancelResponse::Requested(JobEnvelope::of(job.into())))
            }
            (JobStatus::Cancelled, _) => Ok(CancelResponse::Cancelled(JobEnvelope::of(job.into()))),
            (ended, _) => Err(ApiError::conflict(
                "JOB_FINISHED",
                format!(
                    "the job already ended `{}`; there is nothing to cancel",
                    ended.as_str()
                ),
            )
            .into()),
        }
    }
}

/// The caller's job, or 404 (another user's job is indistinguishable from none).
/// A job still going a second past its kind's deadline (seed 000's wall-clock timeout of
/// a calendar run) is ended `timeout` by whoever looks at it, and its final event
/// published; the job as it is then.
async fn past_deadline(state: &AppState, actor: Actor, job: JobRecord) -> ApiResult<JobRecord> {
    if job.kind.deadline().is_none() || job.status.is_final() {
        return Ok(job);
    }
    if !ledger::expire(&state.pool, job.kind, job.id).await? {
        return Ok(job);
    }
    let job = owned_job(state, actor, job.id).await?;
    if let Err(error) = state.emitter.publish_final_from(&job).await {
        tracing::warn!(job_id = %job.id, error = %error, "publishing a timed-out run's final event failed; its streams will");
    }
    Ok(job)
}

async fn owned_job(state: &AppState, actor: Actor, id: Uuid) -> ApiResult<JobRecord> {
    let mut tx = user_tx(&state.pool, actor).await?;
    let job = ledger::fetch(&mut *tx, id).await?;
    tx.commit().await?;
    job.ok_or_else(|| missing_job(state, id))
}

/// The answer for a job the caller has no row of: 410 `JOB_EXPIRED` when its id, a UUIDv7,
/// is older than `JOB_RETENTION_DAYS` (the reconciler may have deleted it), else 404. It is
/// read from the id alone, nothing being kept of a deleted job: an id that old is 410
/// whether or not it was ever the caller's.
fn missing_job(state: &AppState, id: Uuid) -> ApiError {
    let retention = state.settings.jobs.retention;
    let created = (id.get_version() == Some(uuid::Version::SortRand))
        .then(|| id.get_timestamp())
        .flatten()
        .map(|at| {
            let (secs, nanos) = at.to_unix();
            std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos)
        });
    let expired = created.is_some_and(|at| {
        std::time::SystemTime::now()
            .duration_since(at)
            .is_ok_and(|age| age > retention)
    });
    if !expired {
        return ApiError::not_found("job");
    }
    ApiError::Gone(ErrorEnvelope::new(
        "JOB_EXPIRED",
        format!(
            "this job is older than {} days and its record was deleted; what it made (the generation, calendar, synthesis...) keeps its results",
            retention.as_secs() / 86_400
        ),
        None,
    ))
}

/// The response of the events endpoint: a stream in either framing, or 204.
pub enum EventStream {
    Stream(Framing, Body),
    /// The client already saw the final event.
    Finished,
}

impl ApiResponse for EventStream {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![
                Framing::documented(
                    "The event stream, in the framing `Accept` chose.",
                    "JobEvent",
                ),
                MetaResponse {
                    description: "The client already received the final event.",
                    status: Some(204),
                    status_range: None,
                    content: vec![],
                    headers: vec![],
                },
            ],
        }
    }

    fn register(registry: &mut Registry) {
        <JobEvent as poem_openapi::types::Type>::register(registry);
        crate::relay::Framing::register(registry);
    }
}

impl IntoResponse for EventStream {
    fn into_response(self) -> Response {
        match self {
            EventStream::Stream(framing, body) => framing.response(body),
            EventStream::Finished => Response::builder().status(StatusCode::NO_CONTENT).finish(),
        }
    }
}
