//! The operator console's SQL (issue 54): the fleet's jobs searched by a filter
//! ([`JobFilter`]), one job with its domain row, bulk retries and cancels in statements of
//! at most [`BATCH`] jobs (`bulk`), the statistics of a window (`stats`) and the rollups
//! that keep them cheap (`rollups`), paused queues (`queues`), what else needs an eye
//! (`attention`) and the admin's browser sessions (`sessions`). All of it runs on the
//! service's own connection: an operator sees every tenant.

pub mod attention;
pub mod bulk;
pub mod queues;
pub mod rollups;
pub mod sessions;
pub mod stats;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::jobs::{JobKind, JobStatus, Lane};

/// The most jobs one statement of a bulk action touches.
pub const BATCH: usize = 1_000;

/// Which jobs: every field that is set must hold (all of them, when none is).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<JobKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lane: Option<Lane>,
    /// A tenant: the workspace the jobs work in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workspace: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// Created at or after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Created before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// A job's id, a workspace's id, or the id of the request that created the job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
}

impl JobFilter {
    /// Whether no field is set (it matches every job).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Appends ` and <condition>` for each field set, for a query over `jobs j`.
    fn push_conditions(&self, sql: &mut QueryBuilder<Postgres>) {
        if let Some(kind) = self.kind {
            sql.push(" and j.kind = ").push_bind(kind.as_str());
        }
        if let Some(status) = self.status {
            sql.push(" and j.status = ").push_bind(status.as_str());
        }
        if let Some(lane) = self.lane {
            sql.push(" and j.lane = ").push_bind(lane.as_str());
        }
        if let Some(workspace) = self.workspace {
            sql.push(" and j.workspace_id = ").push_bind(workspace);
        }
        if let Some(code) = &self.error_code {
            sql.push(" and j.error ->> 'code' = ")
                .push_bind(code.clone());
        }
        if let Some(from) = self.from {
            sql.push(" and j.created_at >= ").push_bind(from);
        }
        if let Some(to) = self.to {
            sql.push(" and j.created_at < ").push_bind(to);
        }
        if let Some(q) = self.q.as_deref().map(str::trim) {
            match Uuid::parse_str(q) {
                // Each arm an index's: the primary key, or the workspace's.
                Ok(id) => {
                    sql.push(" and (j.id = ")
                        .push_bind(id)
                        .push(" or j.workspace_id = ")
                        .push_bind(id)
                        .push(" or j.trace_context ->> 'x-request-id' = ")
                        .push_bind(q.to_owned())
                        .push(")");
                }
                Err(_) => {
                    sql.push(" and j.trace_context ->> 'x-request-id' = ")
                        .push_bind(q.to_owned());
                }
            }
        }
    }
}

/// ` and j.id < before order by j.id desc limit most`: a page, newest first.
fn push_page(sql: &mut QueryBuilder<Postgres>, before: Option<Uuid>, most: usize) {
    if let Some(before) = before {
        sql.push(" and j.id < ").push_bind(before);
    }
    sql.push(" order by j.id desc limit ")
        .push_bind(i64::try_from(most).unwrap_or(i64::MAX));
}

/// A job as the console lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobLine {
    pub id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub lane: Lane,
    pub user_id: Uuid,
    pub workspace_id: Uuid,
    pub attempts: i32,
    pub max_attempts: i32,
    pub error: Option<sqlx::types::Json<Value>>,
    pub request_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

const LINE_COLUMNS: &str = "j.id, j.kind, j.status, j.lane, j.user_id, j.workspace_id, j.attempts, \
     j.max_attempts, j.error, j.trace_context ->> 'x-request-id' as request_id, j.created_at, \
     j.started_at, j.finished_at, j.updated_at";

/// The jobs `filter` matches, newest first, `most` of them created before the job
/// `before` (a page's cursor).
pub async fn list(
    pool: &PgPool,
    filter: &JobFilter,
    before: Option<Uuid>,
    most: usize,
) -> sqlx::Result<Vec<JobLine>> {
    let mut sql = QueryBuilder::new(format!("select {LINE_COLUMNS} from jobs j where true"));
    filter.push_conditions(&mut sql);
    push_page(&mut sql, before, most);
    sql.build_query_as().fetch_all(pool).await
}

/// One job, with its payload (what names its domain row).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobDetail {
    #[sqlx(flatten)]
    pub line: JobLine,
    pub payload: sqlx::types::Json<Value>,
    pub run_after: DateTime<Utc>,
    pub worker: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub cancel_requested: bool,
    pub result: Option<sqlx::types::Json<Value>>,
}

pub async fn job(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<JobDetail>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {LINE_COLUMNS}, j.payload, j.run_after, j.worker, j.heartbeat_at,
                j.cancel_requested, j.result
         from jobs j where j.id = $1"
    )))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Records an operator's action.
pub async fn record_action(
    pool: &PgPool,
    actor: &str,
    action: &str,
    filter: &Value,
    matched: u64,
    acted: u64,
    skipped: &Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into admin_actions (actor, action, filter, matched, acted, skipped)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(actor)
    .bind(action)
    .bind(sqlx::types::Json(filter))
    .bind(i64::try_from(matched).unwrap_or(i64::MAX))
    .bind(i64::try_from(acted).unwrap_or(i64::MAX))
    .bind(sqlx::types::Json(skipped))
    .execute(pool)
    .await
    .map(drop)
}
