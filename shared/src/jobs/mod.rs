//! The job ledger: Postgres is the source of truth for every job, Redis only carries
//! job ids to workers (ARCHITECTURE.md section 2). This module holds the job's types and
//! its creation; `ledger` the claim and the state changes of a run; `reconcile` the repair
//! of what Redis lost or a dead worker left behind.
//!
//! Every state change after the claim is fenced by `(id, attempts, worker)`, so a worker
//! whose job was taken over by the reconciler cannot overwrite the new run's outcome.

use std::{collections::HashMap, fmt, str::FromStr};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgExecutor;
use uuid::Uuid;

mod cancel;
mod ledger;
mod reconcile;

pub use cancel::*;
pub use ledger::*;
pub use reconcile::*;

/// The kinds of job, one apalis queue each.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, poem_openapi::Enum,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum JobKind {
    Generation,
    Calendar,
    Organic,
    Synthesis,
    Email,
    Publish,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        JobKind::Generation,
        JobKind::Calendar,
        JobKind::Organic,
        JobKind::Synthesis,
        JobKind::Email,
        JobKind::Publish,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Generation => "generation",
            JobKind::Calendar => "calendar",
            JobKind::Organic => "organic",
            JobKind::Synthesis => "synthesis",
            JobKind::Email => "email",
            JobKind::Publish => "publish",
        }
    }

    /// Attempts a job of this kind gets before it ends `failed`.
    pub fn max_attempts(self) -> i32 {
        match self {
            JobKind::Email => 5,
            JobKind::Publish => 3,
            _ => 3,
        }
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown job kind `{s}`"))
    }
}

/// Where a job is: waiting, running, or ended one of four ways.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type, poem_openapi::Enum,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
#[oai(rename_all = "snake_case")]
pub enum JobStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Timeout,
    Cancelled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Timeout => "timeout",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Pending | JobStatus::Running)
    }

    pub const ALL: [JobStatus; 6] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Timeout,
        JobStatus::Cancelled,
    ];
}

impl FromStr for JobStatus {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| anyhow::anyhow!("unknown job status `{s}`"))
    }
}

/// What travels on the Redis queue: the id (and its kind). The payload lives in Postgres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: Uuid,
    pub kind: JobKind,
}

/// A job's payload, tagged and versioned so it can evolve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum JobPayload {
    #[serde(rename = "generation.v1")]
    GenerationV1 { generation_id: Uuid },
    #[serde(rename = "calendar.v1")]
    CalendarV1 { run_id: Uuid },
    #[serde(rename = "synthesis.v1")]
    SynthesisV1 { synthesis_id: Uuid },
    #[serde(rename = "email.v1")]
    EmailV1 { delivery_id: Uuid },
}

impl JobPayload {
    pub fn kind(&self) -> JobKind {
        match self {
            JobPayload::GenerationV1 { .. } => JobKind::Generation,
            JobPayload::CalendarV1 { .. } => JobKind::Calendar,
            JobPayload::SynthesisV1 { .. } => JobKind::Synthesis,
            JobPayload::EmailV1 { .. } => JobKind::Email,
        }
    }
}

/// A new ledger row, written in the same transaction (or statement) as its domain rows.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: Uuid,
    pub user_id: Uuid,
    pub payload: JobPayload,
    /// W3C trace context of the request that created the job.
    pub trace_context: HashMap<String, String>,
}

impl NewJob {
    pub fn new(user_id: Uuid, payload: JobPayload) -> Self {
        Self {
            id: Uuid::now_v7(),
            user_id,
            payload,
            trace_context: HashMap::new(),
        }
    }
}

impl NewJob {
    /// Writes the ledger row (`pending`), in the caller's transaction.
    pub async fn insert<'e>(&self, db: impl PgExecutor<'e>) -> sqlx::Result<()> {
        sqlx::query(
            "insert into jobs (id, user_id, kind, status, payload, max_attempts, trace_context,
                 enqueued_at)
             values ($1, $2, $3, 'pending', $4, $5, $6, now())",
        )
        .bind(self.id)
        .bind(self.user_id)
        .bind(self.payload.kind().as_str())
        .bind(sqlx::types::Json(&self.payload))
        .bind(self.payload.kind().max_attempts())
        .bind(sqlx::types::Json(&self.trace_context))
        .execute(db)
        .await?;
        Ok(())
    }
}

pub type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

/// The poll view of a job.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub attempts: i32,
    pub max_attempts: i32,
    pub cancel_requested: bool,
    pub error: Option<sqlx::types::Json<Value>>,
    pub result: Option<sqlx::types::Json<Value>>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

pub async fn fetch<'e>(db: impl PgExecutor<'e>, id: Uuid) -> sqlx::Result<Option<JobRecord>> {
    sqlx::query_as(
        "select id, user_id, kind, status, attempts, max_attempts, cancel_requested, error, result,
                created_at, started_at, finished_at, updated_at
         from jobs where id = $1",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_contain_no_colon() {
        for kind in JobKind::ALL {
            assert_eq!(kind.as_str().parse::<JobKind>().unwrap(), kind);
            assert!(!kind.as_str().contains(':'));
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in JobStatus::ALL {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        }
        assert!("done".parse::<JobStatus>().is_err());
    }

    #[test]
    fn payload_is_tagged_and_versioned() {
        let id = Uuid::nil();
        let json = serde_json::to_value(JobPayload::GenerationV1 { generation_id: id }).unwrap();
        assert_eq!(json["type"], "generation.v1");
        assert_eq!(json["generation_id"], id.to_string());
    }
}
