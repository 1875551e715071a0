//! Webhook endpoints' rows (`webhook_endpoints`), read and written in the owner's
//! transaction (row-level security). Secrets are written sealed and read sealed.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

/// Endpoints one user may have: enough for every pipeline, not a table anyone can fill.
pub const MAX_ENDPOINTS: i64 = 20;

const COLUMNS: &str = "id, url, events, description, disabled_at, disabled_reason, \
    previous_secret_until, created_at, updated_at";

/// An endpoint as its owner sees it (never its secret).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<EndpointRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from webhook_endpoints order by created_at, id"
    )))
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from webhook_endpoints where id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// How many endpoints the caller has, holding (until the transaction ends) the lock that
/// makes another of their transactions adding one wait: counted and added in one
/// transaction, the limit holds under concurrent requests.
pub async fn count_for_adding(conn: &mut PgConnection, workspace: Uuid) -> sqlx::Result<i64> {
    super::count_for_adding(conn, "webhook_endpoints", workspace).await
}

pub struct NewEndpoint<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub url: &'a str,
    pub events: &'a [String],
    pub description: Option<&'a str>,
    pub sealed_secret: &'a [u8],
}

pub async fn insert(conn: &mut PgConnection, new: NewEndpoint<'_>) -> sqlx::Result<EndpointRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "insert into webhook_endpoints (id, user_id, url, events, description, secret)
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    )))
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.url)
    .bind(new.events)
    .bind(new.description)
    .bind(new.sealed_secret)
    .fetch_one(conn)
    .await
}

/// What a `PATCH` changes; `None` leaves a field as it is. `description: Some(None)`
/// clears it; `enabled: Some(true)` enables a disabled endpoint again.
#[derive(Default)]
pub struct Changes<'a> {
    pub url: Option<&'a str>,
    pub events: Option<&'a [String]>,
    pub description: Option<Option<&'a str>>,
    pub enabled: Option<bool>,
}

pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    changes: Changes<'_>,
) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update webhook_endpoints set
             url = coalesce($2, url),
             events = coalesce($3, events),
             description = case when $4 then $5 else description end,
             disabled_at = case when $6 is null then disabled_at
                                when $6 then null
                                else coalesce(disabled_at, now()) end,
             disabled_reason = case when $6 is null then disabled_reason
                                    when $6 then null
                                    else coalesce(disabled_reason, 'disabled by its owner') end,
             consecutive_failures = case when $6 then 0 else consecutive_failures end,
             failing_since = case when $6 then null else failing_since end,
             updated_at = now()
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(changes.url)
    .bind(changes.events)
    .bind(changes.description.is_some())
    .bind(changes.description.flatten())
    .bind(changes.enabled)
    .fetch_optional(conn)
    .await
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("delete from webhook_endpoints where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// A new secret; the current one becomes the previous, signing beside it until `until`.
pub async fn rotate(
    conn: &mut PgConnection,
    id: Uuid,
    sealed_secret: &[u8],
    until: DateTime<Utc>,
) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update webhook_endpoints set previous_secret = secret, previous_secret_until = $3,
             secret = $2, updated_at = now()
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(sealed_secret)
    .bind(until)
    .fetch_optional(conn)
    .await
}
