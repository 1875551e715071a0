//! Flashcard generations: the request, its job and its idempotency key written in one
//! statement, and the views a user reads.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, types::Json};
use uuid::Uuid;

use super::idempotency::{Earlier, Key};
use crate::{domain::RunStatus, jobs::NewJob};

/// A generation with its suggestion counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Generation {
    pub id: Uuid,
    pub status: RunStatus,
    /// Only when read one by one.
    pub source_text: Option<String>,
    pub model: Option<String>,
    pub prompt_version: String,
    pub tokens_input: Option<i32>,
    pub tokens_output: Option<i32>,
    pub cost_usd: Option<f64>,
    pub ai_metadata: Option<Json<Value>>,
    pub error: Option<Json<Value>>,
    pub job_id: Uuid,
    pub total: i64,
    pub proposed: i64,
    pub accepted: i64,
    pub rejected: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "g.id, g.status, g.model, g.prompt_version, g.tokens_input,
    g.tokens_output, g.cost_usd::float8 as cost_usd, g.ai_metadata, g.error, g.job_id,
    g.created_at, g.updated_at,
    (select count(*) from ai_suggestions s where s.generation_id = g.id) as total,
    (select count(*) from ai_suggestions s where s.generation_id = g.id and s.status = 'proposed') as proposed,
    (select count(*) from ai_suggestions s where s.generation_id = g.id and s.status = 'accepted') as accepted,
    (select count(*) from ai_suggestions s where s.generation_id = g.id and s.status = 'rejected') as rejected";

/// The caller's generations before `cursor` (newest first), at most `limit`, without their
/// source texts.
pub async fn list(
    conn: &mut PgConnection,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Generation>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS}, null::text as source_text
         from ai_generations g
         where ($1::uuid is null or g.id < $1)
         order by g.id desc limit $2"
    )))
    .bind(cursor)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// One generation with its source text.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Generation>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS}, g.source_text from ai_generations g where g.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// What a generation request writes.
pub struct NewGeneration<'a, A> {
    pub job: &'a NewJob,
    pub generation_id: Uuid,
    pub source_text: &'a str,
    pub model: Option<&'a str>,
    pub prompt_version: &'a str,
    /// The request's key and the answer to store with it.
    pub idempotency: Option<(&'a Key, &'a A)>,
}

/// Writes the generation, its job and its key in one statement, as the user under
/// row-level security (migrations 20261121000004 and 20261122000011 explain why this is a
/// function). When the key was used meanwhile, nothing is written and the earlier answer
/// is returned.
pub async fn create<A: Serialize + Sync>(
    pool: &PgPool,
    user: Uuid,
    new: NewGeneration<'_, A>,
) -> sqlx::Result<Option<Earlier>> {
    sqlx::query_as(
        "select * from create_generation($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(user)
    .bind(new.job.id)
    .bind(Json(&new.job.payload))
    .bind(new.job.kind.max_attempts())
    .bind(Json(&new.job.trace_context))
    .bind(new.generation_id)
    .bind(new.source_text)
    .bind(new.model)
    .bind(new.prompt_version)
    .bind(new.idempotency.map(|(key, _)| key.key.as_str()))
    .bind(new.idempotency.map(|(key, _)| key.request_hash.as_str()))
    .bind(new.idempotency.map(|(_, answer)| Json(answer)))
    .fetch_optional(pool)
    .await
}
