//! A workspace's activity (`activity`, migration `working_together`): one row per change a
//! request made, naming who made it, written by the API's own connection once the
//! operation answered; read by the workspace's members, newest first; swept after
//! `ACTIVITY_RETENTION_DAYS`.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

crate::text_enum! {
    /// Who made a change: a person (the app, a JWT), an API key, or an agent (an MCP
    /// tool, with a person's token or a key).
    pub enum ActorKind in "lowercase" { Person, Key, Agent }
}

/// A change to record.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewActivity {
    pub workspace_id: Uuid,
    pub actor_id: Uuid,
    pub actor_kind: ActorKind,
    pub key_id: Option<Uuid>,
    pub key_name: Option<String>,
    pub tool: Option<String>,
    pub action: String,
    pub method: String,
    pub route: String,
    pub target: Value,
    pub calendar_id: Option<Uuid>,
    pub status: i16,
    pub request_id: Option<String>,
}

/// Records `changes` in one statement (the API gathers the changes of concurrent requests:
/// `crate::gather`); one answer a change.
pub async fn record(pool: &PgPool, changes: &[NewActivity]) -> sqlx::Result<Vec<()>> {
    sqlx::query(
        "insert into activity (id, workspace_id, actor_id, actor_kind, key_id, key_name, tool,
                               action, method, route, target, calendar_id, status, request_id)
         select uuid_v7(), r.workspace_id, r.actor_id, r.actor_kind, r.key_id, r.key_name,
                r.tool, r.action, r.method, r.route, r.target, r.calendar_id, r.status,
                r.request_id
         from jsonb_to_recordset($1) as r (workspace_id uuid, actor_id uuid, actor_kind text,
             key_id uuid, key_name text, tool text, action text, method text, route text,
             target jsonb, calendar_id uuid, status smallint, request_id text)",
    )
    .bind(sqlx::types::Json(changes))
    .execute(pool)
    .await?;
    Ok(vec![(); changes.len()])
}

/// A recorded change, with the person's name and address as they are now.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Uuid,
    pub actor_kind: ActorKind,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub key_id: Option<Uuid>,
    pub key_name: Option<String>,
    pub tool: Option<String>,
    pub action: String,
    pub method: String,
    pub route: String,
    pub target: Value,
    pub calendar_id: Option<Uuid>,
    pub request_id: Option<String>,
}

/// Which changes to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// The person (a key's changes are its maker's).
    pub actor: Option<Uuid>,
    pub calendar: Option<Uuid>,
    /// The last row of the previous page: the page starts after it.
    pub after: Option<Uuid>,
}

/// `workspace`'s changes, newest first, at most `limit` (the caller checked membership).
pub async fn list(
    pool: &PgPool,
    workspace: Uuid,
    filter: &Filter,
    limit: i64,
) -> sqlx::Result<Vec<ActivityRow>> {
    sqlx::query_as(
        "select a.id, a.at, a.actor_id, a.actor_kind, u.name as actor_name,
                coalesce(u.email, c.email) as actor_email, a.key_id, a.key_name, a.tool,
                a.action, a.method, a.route, a.target, a.calendar_id, a.request_id
         from activity a
         left join users u on u.id = a.actor_id
         left join user_contacts c on c.user_id = a.actor_id
         where a.workspace_id = $1
           and ($2::timestamptz is null or a.at >= $2)
           and ($3::timestamptz is null or a.at < $3)
           and ($4::uuid is null or a.actor_id = $4)
           and ($5::uuid is null or a.calendar_id = $5)
           and ($6::uuid is null or (a.at, a.id) < (select at, id from activity
                                                     where id = $6 and workspace_id = $1))
         order by a.at desc, a.id desc
         limit $7",
    )
    .bind(workspace)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.actor)
    .bind(filter.calendar)
    .bind(filter.after)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Deletes at most `batch` changes older than `retention`: how many.
pub async fn sweep(pool: &PgPool, retention: std::time::Duration, batch: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "delete from activity where id in (
             select id from activity where at < now() - make_interval(secs => $1)
             order by at limit $2)",
    )
    .bind(retention.as_secs_f64())
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
