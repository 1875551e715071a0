//! The webhook job: one delivery, attempt after attempt on the retry schedule
//! (`webhooks::RETRY_SCHEDULE`), each signed afresh and bounded in time, each recorded with
//! what the receiver answered. A 2xx ends it; a 410 disables the endpoint; an endpoint
//! that keeps failing is disabled by the attempt that finds it has failed long enough.

use std::time::Instant;

use almanac_shared::{
    Settings,
    jobs::JobPayload as _,
    store::{
        jobs::{self as ledger, Claim, Turns},
        webhook_deliveries::{self as deliveries, AttemptRecord, Disabled, Sending, Verdict},
    },
    webhooks::{self, Attempt, Reply, SendError, WebhookJob},
};
use chrono::Utc;
use serde_json::{Value, json};

use crate::job::{Context, End, Finished, Job, JobContext, JobError, JobResult};

impl Job for WebhookJob {
    type Input = Sending;

    const START: &'static str = deliveries::START;

    const MISSING: &'static str = "WEBHOOK_DELIVERY_MISSING";

    /// At most `WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT` deliveries an endpoint, and
    /// `WEBHOOK_MAX_IN_FLIGHT_PER_USER` a user.
    fn turns(settings: &Settings) -> Turns {
        Turns {
            per_key: settings.webhooks.max_in_flight_per_endpoint,
            per_user: Some(settings.webhooks.max_in_flight_per_user),
            aging: settings.jobs.priority_aging,
        }
    }

    async fn run(self, ctx: &JobContext, claim: &Claim, sending: Sending) -> JobResult {
        Delivery {
            ctx,
            claim,
            sending,
        }
        .run()
        .await
    }
}

/// An attempt at one delivery: the job's context, its claim, and the delivery as the
/// attempt found it.
struct Delivery<'a> {
    ctx: &'a JobContext,
    claim: &'a Claim,
    sending: Sending,
}

impl Delivery<'_> {
    /// Sends the delivery, unless it was settled, redelivered or its endpoint disabled
    /// since; then records what the receiver answered.
    async fn run(self) -> JobResult {
        let sending = &self.sending;
        if !sending.current || sending.status != "pending" {
            // Redelivered since (another job sends it now), or settled already.
            return self.finish().await;
        }
        if sending.disabled_at.is_some() {
            return self.abandon().await;
        }
        let started_at = Utc::now();
        let secrets = self.secrets(started_at)?;
        let id = sending.id.to_string();
        let body = webhooks::body(&sending.event_type, sending.occurred_at, &sending.data);
        let timestamp = started_at.timestamp();
        let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
        let signature = webhooks::signature_header(&secrets, &id, timestamp, &body);
        let clock = Instant::now();
        let sent = self
            .ctx
            .webhooks
            .send(Attempt {
                url: &sending.url,
                id: &id,
                timestamp,
                signature: &signature,
                body: &body,
            })
            .await;
        let attempt = record_of(started_at, clock, &sent);
        match sent {
            Ok(answer) if answer.delivered() => self.delivered(&attempt).await,
            Ok(answer) => self.refused(&attempt, &answer).await,
            Err(error) => self.unanswered(&attempt, &error).await,
        }
    }

    /// The endpoint's secrets in force at `now` (two while a rotation's old one lasts),
    /// opened.
    fn secrets(&self, now: chrono::DateTime<Utc>) -> Result<Vec<String>, JobError> {
        let Some(cipher) = self.ctx.cipher.as_ref() else {
            return Err(JobError::permanent(
                "TOKEN_STORE_UNCONFIGURED",
                "TOKEN_ENCRYPTION_KEY is not set: the endpoint's secret cannot be read",
            ));
        };
        let sending = &self.sending;
        let secrets = sending.sealed_secrets(now).and_then(|sealed| {
            sealed
                .iter()
                .map(|s| cipher.open(sending.endpoint_id, webhooks::SECRET_FIELD, s))
                .collect::<Option<Vec<String>>>()
        });
        secrets.ok_or_else(|| {
            JobError::permanent(
                "WEBHOOK_SECRET_UNREADABLE",
                "the endpoint's secret does not open with this TOKEN_ENCRYPTION_KEY: rotate it",
            )
        })
    }

    /// A 2xx: the delivery succeeded, and the job with it.
    async fn delivered(&self, attempt: &AttemptRecord) -> JobResult {
        let (ctx, claim, sending) = (self.ctx, self.claim, &self.sending);
        let verdict = Verdict {
            status: "succeeded",
            next_attempt_at: None,
            error: None,
            disable_now: None,
        };
        let result = json!({ "delivery_id": sending.id, "status": attempt.response_status });
        let mut tx = ctx.pool.begin().await.context("recording the delivery")?;
        let Some(disabled) = self.record(&mut tx, attempt, &verdict).await? else {
            return Ok(None);
        };
        let Some(finished) = claim.end(tx, Finished::succeeded(result)).await? else {
            return Ok(None);
        };
        tell_owner(ctx, disabled).await;
        let waited = (Utc::now() - sending.occurred_at)
            .to_std()
            .unwrap_or_default();
        metrics::counter!("webhook_attempts_total", "outcome" => "delivered").increment(1);
        metrics::histogram!("webhook_delivery_seconds").record(waited.as_secs_f64());
        tracing::info!(delivery_id = %sending.id, attempt = sending.attempts + 1, "webhook delivered");
        Ok(Some(finished))
    }

    /// The receiver answered otherwise than 2xx: retried on the schedule, except a 410, which
    /// disables the endpoint.
    async fn refused(&self, attempt: &AttemptRecord, answer: &Reply) -> JobResult {
        let message = format!("the receiver answered {}", answer.status);
        if answer.status == 410 {
            let error =
                JobError::permanent("WEBHOOK_GONE", format!("{message}: the endpoint is gone"));
            let reason = "the receiver answered 410 Gone".to_owned();
            return self.failed(attempt, error, Some(reason)).await;
        }
        let error = JobError::transient("WEBHOOK_REFUSED", message).with("status", answer.status);
        self.failed(attempt, error, None).await
    }

    /// No answer: refused by the fetch guard (for good), or a timeout or connection failure
    /// (retried).
    async fn unanswered(&self, attempt: &AttemptRecord, error: &SendError) -> JobResult {
        let code = send_error_code(error);
        let error = match error {
            SendError::Refused(_) => JobError::permanent(code, error.to_string()),
            _ => JobError::transient(code, error.to_string()),
        };
        self.failed(attempt, error, None).await
    }

    /// Records a failed attempt: the next one scheduled, or the delivery failed for good.
    async fn failed(
        &self,
        attempt: &AttemptRecord,
        mut error: JobError,
        disable_now: Option<String>,
    ) -> JobResult {
        let (ctx, claim) = (self.ctx, self.claim);
        let delay = (error.transient && disable_now.is_none())
            .then(|| webhooks::retry_delay(claim.attempt, ctx.settings.webhooks.retry_scale))
            .flatten()
            .filter(|_| !claim.is_last_attempt());
        let verdict = Verdict {
            status: if delay.is_some() { "pending" } else { "failed" },
            next_attempt_at: delay.map(|d| Utc::now() + d),
            error: Some(error.detail.clone()),
            disable_now,
        };
        let mut tx = ctx.pool.begin().await.context("recording the attempt")?;
        let Some(disabled) = self.record(&mut tx, attempt, &verdict).await? else {
            return Ok(None);
        };
        tx.commit().await.context("recording the attempt")?;
        tell_owner(ctx, disabled).await;
        metrics::counter!("webhook_attempts_total", "outcome" => "failed").increment(1);
        match delay {
            Some(delay) => {
                error.retry_after = Some(delay);
                error.retry_exactly = true;
            }
            None => error.transient = false,
        }
        Err(error)
    }

    /// Records the attempt in `tx`, and tells the owner of an endpoint it disabled; `None`
    /// when the claim was lost.
    async fn record(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        attempt: &AttemptRecord,
        verdict: &Verdict,
    ) -> Result<Option<Option<Disabled>>, JobError> {
        let (ctx, claim, sending) = (self.ctx, self.claim, &self.sending);
        let window = webhooks::DISABLE_AFTER.mul_f64(ctx.settings.webhooks.retry_scale);
        let recorded = deliveries::record_attempt(
            tx,
            claim,
            sending,
            attempt,
            verdict,
            window,
            webhooks::DISABLE_AFTER_FAILURES,
        )
        .await
        .context("recording the attempt")?;
        // An endpoint that timed out gets one attempt at a time until one succeeds: a receiver
        // that hangs holds one of its owner's slots, not all of them.
        let own_cap = if verdict.status == "succeeded" {
            Some(None)
        } else if attempt.error_code.as_deref() == Some(TIMEOUT) {
            Some(Some(1))
        } else {
            None
        };
        if let (Some(cap), Some(_)) = (own_cap, &recorded) {
            ledger::cap_key(&mut **tx, WebhookJob::KIND, sending.endpoint_id, cap)
                .await
                .context("recording the attempt")?;
        }
        Ok(recorded)
    }

    /// The endpoint was disabled before this attempt: the delivery fails without one.
    async fn abandon(&self) -> JobResult {
        let (ctx, claim, sending) = (self.ctx, self.claim, &self.sending);
        let error = JobError::permanent(
            "WEBHOOK_DISABLED",
            "the endpoint was disabled before this attempt: enable it, then redeliver",
        );
        let Some(mut tx) = ctx.fenced(claim, None, "recording the delivery").await? else {
            return Ok(None);
        };
        deliveries::abandon(&mut tx, sending.id, &error.detail)
            .await
            .context("recording the delivery")?;
        tx.commit().await.context("recording the delivery")?;
        Err(error)
    }

    /// Nothing to send: the job ends with the delivery as it stands.
    async fn finish(&self) -> JobResult {
        let (ctx, claim, sending) = (self.ctx, self.claim, &self.sending);
        let result: Value = json!({ "delivery_id": sending.id, "superseded": true });
        claim.end(&ctx.pool, Finished::succeeded(result)).await
    }
}

fn record_of(
    started_at: chrono::DateTime<Utc>,
    clock: Instant,
    sent: &Result<Reply, SendError>,
) -> AttemptRecord {
    let (response_status, response_excerpt, error_code, error_message) = match sent {
        Ok(answer) => (
            Some(i32::from(answer.status)),
            Some(answer.excerpt.clone()),
            None,
            None,
        ),
        Err(error) => (
            None,
            None,
            Some(send_error_code(error).to_owned()),
            Some(error.to_string()),
        ),
    };
    AttemptRecord {
        started_at,
        duration_ms: i32::try_from(clock.elapsed().as_millis()).unwrap_or(i32::MAX),
        response_status,
        response_excerpt,
        error_code,
        error_message,
    }
}

/// The code of an attempt that got no answer in time.
const TIMEOUT: &str = "WEBHOOK_TIMEOUT";

fn send_error_code(error: &SendError) -> &'static str {
    match error {
        SendError::Refused(_) => "WEBHOOK_URL_REFUSED",
        SendError::Timeout(_) => TIMEOUT,
        SendError::Failed(_) => "WEBHOOK_UNREACHABLE",
    }
}

/// After the commit that disabled an endpoint: its owner is emailed (when a token of
/// theirs gave their address), once; their other endpoints were told in that commit.
async fn tell_owner(ctx: &JobContext, disabled: Option<Disabled>) {
    let Some(disabled) = disabled else {
        return;
    };
    metrics::counter!("webhook_endpoints_disabled_total").increment(1);
    tracing::warn!(webhook_id = %disabled.endpoint_id, reason = %disabled.reason, "webhook endpoint disabled");
    let link = format!("{}/app/#/webhooks", ctx.settings.app_base_url());
    let notice = webhooks::disabled_email(&disabled.url, &disabled.reason, &link);
    crate::notify::email_owner(ctx, disabled.user_id, disabled.endpoint_id, notice).await;
}
