//! Webhook deliveries (`webhook_deliveries`, `webhook_attempts`): the outbox the changes
//! that cause events write to (migration `webhook_deliveries`), its relay to the job queue,
//! each attempt's record and what it does to its endpoint, and the owner's views.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::{jobs::JobPayload, store::jobs::Claim, webhooks::WebhookJob};

/// The Postgres channel a staged delivery's commit notifies.
pub const OUTBOX_CHANNEL: &str = "webhook_outbox";

/// Makes the job of each staged delivery not yet queued (at most `limit`, oldest first)
/// and returns the jobs' ids, for the caller to push once this has committed. Deliveries
/// another relay is queueing are skipped, so each gets one job. A delivery takes its
/// endpoint's turns (its job's fairness key); a redelivery (one attempted before) goes in
/// the `bulk` lane, an event or a test in `interactive`.
pub async fn queue_staged(pool: &PgPool, limit: i64) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "with picked as (
             select id, user_id, workspace_id, endpoint_id, attempts from webhook_deliveries
             where job_id is null order by id limit $1 for update skip locked),
         made as (
             insert into jobs (id, user_id, workspace_id, kind, status, payload, max_attempts,
                               enqueued_at, fairness_key, lane)
             select uuid_v7(), user_id, workspace_id, $2, 'pending',
                    jsonb_build_object('type', $3::text, 'delivery_id', id), $4, now(),
                    endpoint_id, case when attempts > 0 then 'bulk' else 'interactive' end
             from picked
             returning id, (payload ->> 'delivery_id')::uuid as delivery_id)
         update webhook_deliveries d set job_id = made.id, updated_at = now()
         from made where d.id = made.delivery_id
         returning made.id",
    )
    .bind(limit)
    .bind(WebhookJob::KIND)
    .bind(WebhookJob::TYPE)
    .bind(WebhookJob::KIND.max_attempts())
    .fetch_all(pool)
    .await
}

/// The delivery job's start (`Job::START`): the delivery this job sends, its endpoint and
/// the sealed secrets. Nothing is changed until an attempt is recorded.
pub const START: &str = "select claimed.id as claimed_job, d.id, d.event_type, d.occurred_at,
        d.data, d.status, d.attempts, (d.job_id = claimed.id) as current, e.id as endpoint_id,
        e.user_id, e.url, encode(e.secret, 'hex') as secret,
        encode(e.previous_secret, 'hex') as previous_secret, e.previous_secret_until, e.disabled_at
    from claimed
    join webhook_deliveries d on d.id = (claimed.payload ->> 'delivery_id')::uuid
    join webhook_endpoints e on e.id = d.endpoint_id";

/// What [`START`] returns.
#[derive(Debug, Deserialize)]
pub struct Sending {
    pub id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: Value,
    pub status: String,
    pub attempts: i32,
    /// Whether this job is still the delivery's (a redelivery gives it a new one).
    pub current: bool,
    pub endpoint_id: Uuid,
    pub user_id: Uuid,
    pub url: String,
    /// Sealed, in hex (as `to_jsonb` carries it).
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
}

impl Sending {
    /// The sealed secrets that sign an attempt at `now`: the current one, and the one
    /// before the last rotation while its overlap lasts. `None` when one is not hex (never
    /// written so).
    pub fn sealed_secrets(&self, now: DateTime<Utc>) -> Option<Vec<Vec<u8>>> {
        let mut sealed = vec![hex::decode(&self.secret).ok()?];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until)
            && until > now
        {
            sealed.push(hex::decode(previous).ok()?);
        }
        Some(sealed)
    }
}

/// One attempt as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub response_status: Option<i32>,
    pub response_excerpt: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// What an attempt leaves the delivery and its endpoint.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// `succeeded`, `failed` (no more attempts) or `pending` (another at `next_attempt_at`).
    pub status: &'static str,
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The error the delivery keeps (`{code, message}`), when it did not succeed.
    pub error: Option<Value>,
    /// The receiver said the endpoint is gone (410): it is disabled now, with this reason.
    pub disable_now: Option<String>,
}

/// An endpoint the attempt disabled.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Disabled {
    pub endpoint_id: Uuid,
    pub user_id: Uuid,
    pub url: String,
    pub reason: String,
    pub disabled_at: DateTime<Utc>,
}

/// Records an attempt in the claim's transaction: the attempt's row, the delivery's state,
/// and its endpoint's run of failures, which disables the endpoint when the receiver said
/// it is gone or when every attempt failed for `failing_for` (at least `failures_in_a_row`
/// of them); a disabled endpoint's owner's other endpoints are told (`webhook.disabled`).
/// `None` when the claim was lost (nothing is written).
pub async fn record_attempt(
    tx: &mut Transaction<'static, Postgres>,
    claim: &Claim,
    sending: &Sending,
    attempt: &AttemptRecord,
    verdict: &Verdict,
    failing_for: std::time::Duration,
    failures_in_a_row: i32,
) -> sqlx::Result<Option<Option<Disabled>>> {
    if !claim.alive(&mut **tx, None).await? {
        return Ok(None);
    }
    sqlx::query(
        "with attempt as (
             insert into webhook_attempts (delivery_id, number, user_id, started_at, duration_ms,
                 response_status, response_excerpt, error_code, error_message)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9))
         update webhook_deliveries set attempts = $2, status = $10, next_attempt_at = $11,
             last_attempt_at = $4, last_status = $6, last_error = $12, updated_at = now()
         where id = $1",
    )
    .bind(sending.id)
    .bind(sending.attempts + 1)
    .bind(sending.user_id)
    .bind(attempt.started_at)
    .bind(attempt.duration_ms)
    .bind(attempt.response_status)
    .bind(&attempt.response_excerpt)
    .bind(&attempt.error_code)
    .bind(&attempt.error_message)
    .bind(verdict.status)
    .bind(verdict.next_attempt_at)
    .bind(verdict.error.as_ref().map(sqlx::types::Json))
    .execute(&mut **tx)
    .await?;
    let delivered = verdict.status == "succeeded";
    // One update (a row changed twice in a statement keeps one change): the run of
    // failures, and whether it, or the receiver's 410, disables the endpoint now.
    let disabled: Option<Disabled> = sqlx::query_as(
        "with before as (
             select id, disabled_at from webhook_endpoints where id = $1 for update),
         judged as (
             select e.id, case
                 when $2 or before.disabled_at is not null then null
                 when $3::text is not null then $3::text
                 when e.consecutive_failures + 1 >= $5
                      and coalesce(e.failing_since, now()) <= now() - make_interval(secs => $4)
                 then format('every delivery failed for %s (%s attempts in a row)', $6::text,
                             e.consecutive_failures + 1)
                 end as reason
             from webhook_endpoints e join before on before.id = e.id),
         changed as (
             update webhook_endpoints e set
                 consecutive_failures = case when $2 then 0 else e.consecutive_failures + 1 end,
                 failing_since = case when $2 then null else coalesce(e.failing_since, now()) end,
                 disabled_at = case when judged.reason is null then e.disabled_at else now() end,
                 disabled_reason = coalesce(judged.reason, e.disabled_reason),
                 updated_at = case when judged.reason is null then e.updated_at else now() end
             from judged
             -- A delivery to an endpoint without failures changes nothing: no write.
             where e.id = judged.id
               and (not $2 or e.consecutive_failures <> 0 or e.failing_since is not null)
             returning e.id, e.user_id, e.url, e.disabled_reason, e.disabled_at,
                 judged.reason is not null as newly)
         select id as endpoint_id, user_id, url, disabled_reason as reason, disabled_at
         from changed where newly",
    )
    .bind(sending.endpoint_id)
    .bind(delivered)
    .bind(&verdict.disable_now)
    .bind(failing_for.as_secs_f64())
    .bind(failures_in_a_row)
    .bind(humantime_hours(failing_for))
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(disabled) = &disabled {
        stage_event(
            &mut **tx,
            disabled.user_id,
            "webhook.disabled",
            &serde_json::json!({
                "webhookId": disabled.endpoint_id,
                "url": disabled.url,
                "reason": disabled.reason,
                "disabledAt": disabled.disabled_at,
            }),
        )
        .await?;
    }
    Ok(Some(disabled))
}

/// "24 hours", "2 minutes": how long a failing endpoint lasted, for its reason.
fn humantime_hours(span: std::time::Duration) -> String {
    let secs = span.as_secs();
    if secs >= 3600 && secs.is_multiple_of(3600) {
        format!("{} hours", secs / 3600)
    } else if secs >= 60 {
        format!("{} minutes", secs / 60)
    } else {
        format!("{} seconds", secs.max(1))
    }
}

/// A delivery given up without an attempt (its endpoint was disabled meanwhile), in the
/// claim's transaction.
pub async fn abandon(
    tx: &mut Transaction<'static, Postgres>,
    delivery: Uuid,
    error: &Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "update webhook_deliveries set status = 'failed', next_attempt_at = null,
             last_error = $2, updated_at = now()
         where id = $1",
    )
    .bind(delivery)
    .bind(sqlx::types::Json(error))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Stages an event for `user`'s endpoints subscribed to it, in the caller's transaction.
pub async fn stage_event<'e>(
    db: impl sqlx::PgExecutor<'e>,
    user: Uuid,
    event_type: &str,
    data: &Value,
) -> sqlx::Result<i32> {
    sqlx::query_scalar("select stage_webhook_event($1, $2, $3)")
        .bind(user)
        .bind(event_type)
        .bind(sqlx::types::Json(data))
        .fetch_one(db)
        .await
}

/// A test event to one of the caller's enabled endpoints (under row-level security): the
/// delivery's id, or none.
pub async fn stage_test(
    conn: &mut PgConnection,
    endpoint: Uuid,
    data: &Value,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("select stage_webhook_test($1, $2)")
        .bind(endpoint)
        .bind(sqlx::types::Json(data))
        .fetch_one(conn)
        .await
}

/// Sends one of the caller's deliveries again, unless it is still being sent: its status
/// before, or none when the caller has no such delivery.
pub async fn redeliver(
    conn: &mut PgConnection,
    endpoint: Uuid,
    delivery: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select redeliver_webhook($1, $2)")
        .bind(endpoint)
        .bind(delivery)
        .fetch_one(conn)
        .await
}

/// A delivery as its owner sees it, with its attempts (JSON, oldest first).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    pub data: sqlx::types::Json<Value>,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_status: Option<i32>,
    pub last_error: Option<sqlx::types::Json<Value>>,
    pub attempt_log: sqlx::types::Json<Vec<AttemptRow>>,
}

#[derive(Debug, Clone, serde::Serialize, Deserialize)]
pub struct AttemptRow {
    pub number: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    pub response_status: Option<i32>,
    pub response_excerpt: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// An endpoint's deliveries, newest first, `limit` of them from before `before` (a
/// delivery id), under row-level security.
pub async fn list(
    conn: &mut PgConnection,
    endpoint: Uuid,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<DeliveryRow>> {
    select(conn, endpoint, None, status, before, limit).await
}

/// One of an endpoint's deliveries, under row-level security.
pub async fn get(
    conn: &mut PgConnection,
    endpoint: Uuid,
    delivery: Uuid,
) -> sqlx::Result<Option<DeliveryRow>> {
    Ok(select(conn, endpoint, Some(delivery), None, None, 1)
        .await?
        .pop())
}

async fn select(
    conn: &mut PgConnection,
    endpoint: Uuid,
    delivery: Option<Uuid>,
    status: Option<&str>,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<DeliveryRow>> {
    sqlx::query_as(
        "select d.id, d.event_type, d.occurred_at, d.data, d.status, d.attempts,
                d.next_attempt_at, d.last_attempt_at, d.last_status, d.last_error,
                coalesce((select jsonb_agg(jsonb_build_object('number', a.number,
                              'started_at', a.started_at, 'duration_ms', a.duration_ms,
                              'response_status', a.response_status,
                              'response_excerpt', a.response_excerpt,
                              'error_code', a.error_code, 'error_message', a.error_message)
                              order by a.number)
                          from webhook_attempts a where a.delivery_id = d.id), '[]') as attempt_log
         from webhook_deliveries d
         where d.endpoint_id = $1 and ($2::text is null or d.status = $2)
           and ($3::uuid is null or d.id < $3) and ($5::uuid is null or d.id = $5)
         order by d.id desc limit $4",
    )
    .bind(endpoint)
    .bind(status)
    .bind(before)
    .bind(limit)
    .bind(delivery)
    .fetch_all(conn)
    .await
}

/// Deletes up to `batch` deliveries (and their attempts) made more than `retention` ago;
/// returns how many.
pub async fn sweep(pool: &PgPool, retention: std::time::Duration, batch: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "delete from webhook_deliveries where id in (
             select id from webhook_deliveries
             where created_at < now() - make_interval(secs => $1) and status <> 'pending'
             order by created_at limit $2)",
    )
    .bind(retention.as_secs_f64())
    .bind(batch)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
