//! The job routes' wire types: a job as the ledger holds it, its events, and the cancel answers.

use crate::envelope::Envelope;
use almanac_shared::jobs::JobRecord;
use almanac_shared::jobs::{JobKind, JobStatus, Lane};
use chrono::{DateTime, Utc};
use poem_openapi::{Object, payload::Json};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct JobView {
    pub id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    // Described by `Lane` itself: a description here would wrap the reference in an
    // `allOf`, which generated clients cannot read.
    pub lane: Lane,
    /// The owner asked to cancel it; a running job stops within a second.
    pub cancel_requested: bool,
    #[oai(nullable)]
    pub result: Option<Value>,
    #[oai(nullable)]
    pub error: Option<Value>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub started_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

crate::enveloped!(JobView);

/// A job in the envelope.
pub type JobEnvelope = Envelope<JobView>;

crate::responses! {
    pub enum CancelResponse {
        /// The job is cancelled.
        200 => Cancelled(Json<JobEnvelope>),
        /// The job is running; its worker stops it within a second.
        202 => Requested(Json<JobEnvelope>),
    }
}

impl From<JobRecord> for JobView {
    fn from(job: JobRecord) -> Self {
        JobView {
            id: job.id,
            kind: job.kind,
            status: job.status,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            lane: job.lane,
            cancel_requested: job.cancel_requested,
            result: job.result.map(|j| j.0),
            error: job.error.map(|j| j.0),
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            updated_at: job.updated_at,
        }
    }
}

/// The documented shape of one event (the `data` of an SSE event, a line of NDJSON).
#[derive(Object)]
pub struct JobEvent {
    /// The event's sequence number within the job (NDJSON; SSE carries it as `id:`).
    /// Absent on `heartbeat` and `truncated`.
    #[oai(nullable)]
    pub id: Option<u64>,
    /// `progress`, `suggestions`, `entry`, `diff`, `error`, `done`, `heartbeat` or
    /// `truncated`.
    #[oai(rename = "type")]
    pub kind: String,
    /// `progress`: units done, of `total`.
    #[oai(nullable)]
    pub completed: Option<u64>,
    #[oai(nullable)]
    pub total: Option<u64>,
    /// `progress`: `queued`, `generating`, `saving`, ...
    #[oai(nullable)]
    pub stage: Option<String>,
    /// `progress` and `error`: a human-readable message.
    #[oai(nullable)]
    pub message: Option<String>,
    /// `error`: a stable code such as `AI_PROVIDER_UNAVAILABLE`, `LAGGED` or `STREAM_ERROR`.
    #[oai(nullable)]
    pub code: Option<String>,
    /// `done`: the job's final status.
    #[oai(nullable)]
    pub status: Option<JobStatus>,
    /// `done`: the job's result (what it produced, also when cancelled).
    #[oai(nullable)]
    pub result: Option<Value>,
    /// `done`: the job's error, if it did not succeed: a stable `code` and a `message`
    /// written for the user.
    #[oai(nullable)]
    pub error: Option<Value>,
    /// `suggestions`: the generation and the batch's index.
    #[oai(nullable)]
    pub generation_id: Option<Uuid>,
    #[oai(nullable)]
    pub batch: Option<u32>,
    /// `suggestions`: `[{id, position, front, back}]`.
    #[oai(nullable)]
    pub suggestions: Option<Vec<Value>>,
    /// `entry` and `diff` (calendar runs): seed 000's envelope (see `CalendarEvent`; a
    /// calendar run's every frame has it); on `done`, the result again (a calendar run's
    /// summary).
    #[oai(nullable)]
    pub data: Option<Value>,
    /// `entry` and `diff`: the run's ids and `mode`; on `done`, `done: true` (and a
    /// calendar run's ids and `mode`).
    #[oai(nullable)]
    pub meta: Option<Value>,
    /// `truncated`: the id the client asked to resume after, and the oldest still kept.
    #[oai(nullable)]
    pub after: Option<u64>,
    #[oai(nullable)]
    pub first_available: Option<u64>,
}
