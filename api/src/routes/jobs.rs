//! The generic poll view of any job in the ledger.

use almanac_shared::{db, jobs};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use serde_json::Value;
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::BearerAuth,
    error::{ApiError, ApiResult},
    middleware::current_request_id,
    state::AppState,
};

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct JobView {
    pub id: Uuid,
    /// `generation`, `calendar`, `organic`, `synthesis`, `email` or `publish`.
    pub kind: String,
    /// `pending`, `running`, `succeeded`, `failed`, `timeout` or `cancelled`.
    pub status: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub result: Option<Value>,
    pub error: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Meta {
    pub request_id: String,
}

#[derive(Debug, Clone, Object)]
pub struct JobEnvelope {
    pub data: JobView,
    /// Always null on success.
    pub error: Option<Value>,
    pub meta: Meta,
}

pub struct JobsApi;

#[OpenApi(tag = "Tag::Jobs")]
impl JobsApi {
    /// The status of a job, read from Postgres.
    #[oai(path = "/v1/jobs/:id", method = "get", operation_id = "getJob")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<JobEnvelope>> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let job = jobs::fetch(&mut *tx, id.0).await?;
        tx.commit().await?;
        let job = job.ok_or_else(|| ApiError::not_found("job"))?;
        Ok(Json(JobEnvelope {
            data: JobView {
                id: job.id,
                kind: job.kind,
                status: job.status,
                attempts: job.attempts,
                max_attempts: job.max_attempts,
                result: job.result.map(|j| j.0),
                error: job.error.map(|j| j.0),
                created_at: job.created_at,
                started_at: job.started_at,
                finished_at: job.finished_at,
                updated_at: job.updated_at,
            },
            error: None,
            meta: Meta {
                request_id: current_request_id(),
            },
        }))
    }
}
