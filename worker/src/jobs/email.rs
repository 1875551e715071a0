//! The email job (seed 004): send one synthesis to one recipient, at most once.
//!
//! The delivery is marked `sending` before the exchange with the provider. A transient
//! failure puts it back to `pending` and the ledger retries with backoff (not before the
//! provider's `retry-after`); a permanent one records it `failed`. An attempt that finds
//! its delivery still `sending` (the previous one died mid-exchange, outcome unknown)
//! sends again only through a provider that delivers a repeat once (Resend's idempotency
//! key is the delivery's id; the outbox's file is named by it); through SMTP it records
//! `unknown`, because a recipient must never get the same synthesis twice.

use almanac_shared::store::jobs::Claim;
use almanac_shared::{
    domain::synthesis::{self, DeliveryStatus, EmailJob, Section, Synthesis},
    email::{MailError, OutgoingEmail},
    store::themes,
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::job::{Context, Finished, Job, JobContext, JobError, JobResult};

impl Job for EmailJob {
    type Input = Input;

    /// A `pending` delivery becomes `sending` (one more attempt); the status it had comes
    /// back as `previous`, with what the email needs.
    const START: &'static str = themes::START_DELIVERY;

    const MISSING: &'static str = "DELIVERY_MISSING";

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        send(ctx, claim, self.delivery_id, input).await
    }
}

#[derive(Deserialize)]
pub struct Input {
    previous: DeliveryStatus,
    recipient: String,
    message_id: String,
    synthesis: Option<SynthesisRow>,
}

#[derive(Deserialize)]
pub struct SynthesisRow {
    title: Option<String>,
    sections: Option<Vec<Section>>,
    week: Option<String>,
    scheduled_for: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    theme: String,
}

async fn send(ctx: &JobContext, claim: &Claim, delivery_id: Uuid, input: Input) -> JobResult {
    let result = json!({ "delivery_id": delivery_id, "recipient": input.recipient });
    match input.previous {
        DeliveryStatus::Pending => {}
        DeliveryStatus::Sending if ctx.mailer.idempotent() => {}
        DeliveryStatus::Sending => {
            let detail = json!({ "code": "DELIVERY_UNCERTAIN", "message": "an earlier attempt stopped while sending; not sent again so that the recipient cannot get it twice" });
            themes::record_delivery(
                &ctx.pool,
                delivery_id,
                DeliveryStatus::Unknown,
                Some(&detail),
            )
            .await
            .context("recording the delivery unknown")?;
            return finish(ctx, claim, result).await;
        }
        // Already sent or given up: nothing to do.
        _ => return finish(ctx, claim, result).await,
    }
    let Some(row) = input.synthesis else {
        return Err(JobError::permanent(
            "SYNTHESIS_MISSING",
            "the synthesis was deleted",
        ));
    };
    let synthesis = Synthesis {
        title: row
            .title
            .unwrap_or_else(|| format!("This week in {}", row.theme)),
        sections: row.sections.unwrap_or_default(),
    };
    let day = row.scheduled_for.unwrap_or(row.created_at);
    let week = row
        .week
        .unwrap_or_else(|| synthesis::iso_week(day.date_naive()));
    let body = synthesis::render_email(
        &row.theme,
        &week,
        &day.format("%-d %B %Y").to_string(),
        &synthesis,
    );
    let email = OutgoingEmail {
        to: input.recipient.clone(),
        subject: body.subject,
        text: body.text,
        html: body.html,
        message_id: input.message_id,
        delivery_id,
    };
    match ctx.mailer.send(&email).await {
        Ok(()) => {
            // Recorded whatever became of the claim: the email is out.
            themes::record_delivery(&ctx.pool, delivery_id, DeliveryStatus::Sent, None)
                .await
                .context("recording the delivery sent")?;
            metrics::counter!("emails_total", "outcome" => "sent").increment(1);
            tracing::info!(delivery_id = %delivery_id, "synthesis emailed");
            finish(ctx, claim, result).await
        }
        Err(MailError::Transient(message, retry_after)) => {
            let detail = json!({ "code": "EMAIL_TEMPORARY", "message": message });
            themes::record_delivery(
                &ctx.pool,
                delivery_id,
                DeliveryStatus::Pending,
                Some(&detail),
            )
            .await
            .context("recording the delivery pending")?;
            metrics::counter!("emails_total", "outcome" => "retried").increment(1);
            let mut error = JobError::transient("EMAIL_TEMPORARY", message);
            error.retry_after = retry_after;
            Err(error)
        }
        Err(refused) => {
            let (code, message) = match refused {
                MailError::NotConfigured => (
                    "EMAIL_NOT_CONFIGURED",
                    "no email provider is configured (SMTP_URL, RESEND_API_KEY or EMAIL_PROVIDER=outbox)".to_owned(),
                ),
                other => ("EMAIL_REFUSED", other.to_string()),
            };
            let detail = json!({ "code": code, "message": message });
            themes::record_delivery(
                &ctx.pool,
                delivery_id,
                DeliveryStatus::Failed,
                Some(&detail),
            )
            .await
            .context("recording the delivery failed")?;
            metrics::counter!("emails_total", "outcome" => "failed").increment(1);
            Err(JobError::permanent(code, message))
        }
    }
}

async fn finish(ctx: &JobContext, claim: &Claim, result: Value) -> JobResult {
    if !claim
        .succeed(&ctx.pool, &result, None)
        .await
        .context("ending the job")?
    {
        return Ok(None);
    }
    Ok(Some(Finished::succeeded(result)))
}
