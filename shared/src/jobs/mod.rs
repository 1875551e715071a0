//! Jobs: Postgres is the source of truth for every job, Redis only carries job ids to
//! workers (docs/architecture.md section 2). This module holds a job's types, its creation
//! and the rules of its runs (attempts, backoff, cancellation); the ledger's statements, the
//! claim and the fenced state changes of a run and the repair of what Redis lost, are
//! `store::jobs`.

use std::{collections::HashMap, str::FromStr, time::Duration};

use chrono::{DateTime, Utc};
use rand::Rng;

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;
use uuid::Uuid;

use crate::workspaces::Actor;

mod cancel;
mod kind;

pub use cancel::*;
pub use kind::*;

crate::text_enum! {
    /// Where a job is: waiting, running, or ended one of four ways.
    pub enum JobStatus in "snake_case" {
        Pending,
        Running,
        Succeeded,
        Failed,
        Timeout,
        Cancelled,
    }
}

impl JobStatus {
    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::Running)
    }
}

impl FromStr for JobStatus {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::parse(s).ok_or_else(|| anyhow::anyhow!("unknown job status `{s}`"))
    }
}

crate::text_enum! {
    /// How urgent a job is: `interactive` (a person waits on it), `scheduled` (the scheduler's
    /// and the dispatcher's work), `bulk` (asked for with `Prefer: priority=bulk`, and
    /// redeliveries). A claim takes the highest lane that has a ready job, and a job ready for
    /// `JOB_PRIORITY_AGING_SECS` counts one lane higher (one lane a period), so nothing
    /// starves; a job's lane stays the one it was given.
    #[derive(Default)]
    pub enum Lane in "snake_case" {
        /// What a person waits on: a submit from the app or an API client, a webhook test.
        #[default]
        Interactive,
        /// The scheduler's and the dispatcher's work: syntheses, emails, scheduled publishes.
        Scheduled,
        /// What a client marked `Prefer: priority=bulk`, and redeliveries.
        Bulk,
    }
}

impl Lane {}

tokio::task_local! {
    /// The lane the request being served asked its jobs to go in (`Prefer:
    /// priority=bulk`): every job [`NewJob::new`] makes inside it takes that lane.
    pub static REQUESTED_LANE: std::sync::Arc<RequestedLane>;
}

/// A request's lane for its jobs, and whether any job took it (the answer then says
/// `Preference-Applied`).
#[derive(Debug, Default)]
pub struct RequestedLane {
    lane: Lane,
    taken: std::sync::atomic::AtomicBool,
}

impl RequestedLane {
    pub fn new(lane: Lane) -> Self {
        Self {
            lane,
            taken: Default::default(),
        }
    }

    /// Whether a job was made in the lane asked for.
    pub fn taken(&self) -> bool {
        self.taken.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The lane a new job takes: the one asked for in the request being served, else
    /// `interactive`.
    fn current() -> Lane {
        REQUESTED_LANE
            .try_with(|asked| {
                asked
                    .taken
                    .store(true, std::sync::atomic::Ordering::Release);
                asked.lane
            })
            .unwrap_or_default()
    }
}

/// What travels on the Redis queue: the id (and its kind). The payload lives in Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: Uuid,
    pub kind: JobKind,
    /// Pushed for later (a retry, a release): it may come before its job is due, so a
    /// delivery that claims nothing looks at its job (`false` for the rest, which need no
    /// look: their jobs were due when pushed).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delayed: bool,
}

/// A job's payload: what the ledger row keeps of the job's input (the domain rows hold
/// the rest). Each kind's payload type sits beside its domain rules, where the API that
/// creates the job and the worker module that runs it both see it. On the wire it is a
/// JSON object tagged with its versioned [`JobPayload::TYPE`], so it can evolve.
pub trait JobPayload: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: JobKind;
    /// The `type` tag, `<kind>.v<version>`.
    const TYPE: &'static str;

    /// The tagged JSON the ledger stores.
    fn to_json(&self) -> Value {
        let mut json = serde_json::to_value(self).expect("payloads serialise");
        json["type"] = Value::from(Self::TYPE);
        json
    }

    /// Reads a stored payload, refusing one of another type.
    fn from_json(json: &Value) -> Result<Self, String> {
        match json.get("type").and_then(Value::as_str) {
            Some(tag) if tag == Self::TYPE => {
                serde_json::from_value(json.clone()).map_err(|e| format!("{}: {e}", Self::TYPE))
            }
            other => Err(format!(
                "expected a `{}` payload, got {other:?}",
                Self::TYPE
            )),
        }
    }
}

/// A new ledger row, written in the same transaction (or statement) as its domain rows.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The workspace it works in: its rows', and its fair claim's key (a workspace's
    /// running slots are shared by its members).
    pub workspace_id: Uuid,
    pub kind: JobKind,
    /// The tagged payload ([`JobPayload::to_json`]).
    pub payload: Value,
    /// The W3C trace context of whatever created the job (a request, a scheduler tick,
    /// another job) and the request's id: the job's spans and log lines continue them.
    pub trace_context: HashMap<String, String>,
    pub lane: Lane,
}

impl NewJob {
    /// A job created in the current span: it carries the span's trace context. Every
    /// creator goes through here, so every job continues the trace that made it.
    pub fn new<P: JobPayload>(actor: Actor, payload: &P) -> Self {
        Self {
            id: Uuid::now_v7(),
            user_id: actor.user,
            workspace_id: actor.workspace,
            kind: P::KIND,
            payload: payload.to_json(),
            trace_context: crate::telemetry::current_trace_context(),
            lane: RequestedLane::current(),
        }
    }

    /// The job goes in `lane` (a new job is `interactive`, or in the lane its request asked
    /// for).
    pub fn in_lane(mut self, lane: Lane) -> Self {
        self.lane = lane;
        self
    }

    /// The job also carries the id of the request that created it (its worker's log lines
    /// say `requestId`).
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.trace_context.insert(
            crate::telemetry::REQUEST_ID_KEY.to_owned(),
            request_id.into(),
        );
        self
    }

    /// A job another job creates keeps the request id that one was created by, if any.
    pub fn following(self, parent: &HashMap<String, String>) -> Self {
        match parent.get(crate::telemetry::REQUEST_ID_KEY) {
            Some(request_id) => self.with_request_id(request_id.clone()),
            None => self,
        }
    }
}

/// The poll view of a job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub lane: Lane,
    pub cancel_requested: bool,
    pub error: Option<sqlx::types::Json<Value>>,
    pub result: Option<sqlx::types::Json<Value>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The token of the last commit whose events were staged (`events::Emitter::stage`).
    pub events_token: Option<Uuid>,
}

/// Exponential backoff with full jitter: a random delay in `[base, min(max, base * 2^(attempt-1))]`.
pub fn backoff(attempt: i32, base: Duration, max: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.clamp(1, 20).saturating_sub(1) as u32);
    let ceiling = exp.min(max).max(base);
    let spread = ceiling.saturating_sub(base).as_millis() as u64;
    base + Duration::from_millis(rand::rng().random_range(0..=spread))
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn backoff_stays_within_bounds(attempt in 1i32..40, base_ms in 1u64..5_000, max_ms in 1u64..120_000) {
            let base = Duration::from_millis(base_ms);
            let max = Duration::from_millis(max_ms);
            let d = backoff(attempt, base, max);
            prop_assert!(d >= base);
            prop_assert!(d <= max.max(base));
        }
    }

    /// The derived string tables say what serde says.
    #[test]
    fn the_string_tables_match_the_wire_names() {
        for &status in JobStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }

    #[test]
    fn statuses_round_trip() {
        for &status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        }
        assert!("done".parse::<JobStatus>().is_err());
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Example {
        thing_id: Uuid,
    }

    impl JobPayload for Example {
        const KIND: JobKind = JobKind::new(&About {
            name: "example",
            attempts: 1,
            row: Row {
                table: "examples",
                id_field: "thing_id",
                path: None,
            },
            words: Words::Common,
            deadline: None,
        });
        const TYPE: &'static str = "example.v1";
    }

    #[test]
    fn payloads_are_tagged_and_versioned() {
        let payload = Example {
            thing_id: Uuid::now_v7(),
        };
        let json = payload.to_json();
        assert_eq!(json["type"], "example.v1");
        assert_eq!(json["thing_id"], payload.thing_id.to_string());
        assert_eq!(Example::from_json(&json).unwrap(), payload);
        let mut other = json.clone();
        other["type"] = "example.v2".into();
        assert!(
            Example::from_json(&other)
                .unwrap_err()
                .contains("example.v2")
        );
    }
}
