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
    email::{ListHeaders, MailError, OutgoingEmail},
    store::themes,
    unsubscribe::{self, UnsubscribeKey},
};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::job::{Context, End, Finished, Job, JobContext, JobError, JobResult};

/// Why a delivery was not sent: its recipient unsubscribed from the theme's digest.
const UNSUBSCRIBED: &str = "UNSUBSCRIBED";

impl Job for EmailJob {
    type Input = Input;

    /// A `pending` delivery becomes `sending` (one more attempt); the status it had comes
    /// back as `previous`, with what the email needs.
    const START: &'static str = themes::START_DELIVERY;

    const MISSING: &'static str = "DELIVERY_MISSING";

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        let delivery = Delivery {
            ctx,
            claim,
            id: self.delivery_id,
            input,
        };
        delivery.run().await
    }
}

#[derive(Deserialize)]
pub struct Input {
    previous: DeliveryStatus,
    recipient: String,
    message_id: String,
    /// The recipient unsubscribed from the theme's digest after the delivery was made.
    unsubscribed: bool,
    synthesis: Option<SynthesisRow>,
}

#[derive(Deserialize)]
pub struct SynthesisRow {
    title: Option<String>,
    sections: Option<Vec<Section>>,
    week: Option<String>,
    scheduled_for: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    schedule_id: Option<Uuid>,
    theme: String,
}

/// One delivery's attempt, as named steps: whether to send at all, the email, the
/// exchange with the provider, and the outcome recorded on the delivery and the job.
struct Delivery<'a> {
    ctx: &'a JobContext,
    claim: &'a Claim,
    id: Uuid,
    input: Input,
}

/// Whether an attempt sends.
enum Decision {
    Send,
    /// Nothing to send (already sent or given up): the job ends.
    Done,
    /// The recipient unsubscribed since: recorded `skipped`, never sent.
    Unsubscribed,
    /// The previous attempt stopped mid-send and the provider may deliver a repeat twice:
    /// recorded `unknown`, never sent again.
    Uncertain,
}

impl<'a> Delivery<'a> {
    async fn run(self) -> JobResult {
        match self.decide() {
            Decision::Send => {}
            Decision::Done => return self.finish().await,
            Decision::Unsubscribed => {
                themes::record_skipped(&self.ctx.pool, self.id, UNSUBSCRIBED)
                    .await
                    .context("recording the delivery skipped")?;
                return self.finish().await;
            }
            Decision::Uncertain => {
                let detail = json!({ "code": "DELIVERY_UNCERTAIN", "message": "an earlier attempt stopped while sending; not sent again so that the recipient cannot get it twice" });
                self.record(
                    DeliveryStatus::Unknown,
                    Some(&detail),
                    "recording the delivery unknown",
                )
                .await?;
                return self.finish().await;
            }
        }
        let email = self.compose()?;
        match self.ctx.mailer.send(&email).await {
            Ok(()) => self.sent().await,
            Err(MailError::Transient(message, retry_after)) => {
                self.deferred(message, retry_after).await
            }
            Err(refused) => self.refused(refused).await,
        }
    }

    fn decide(&self) -> Decision {
        match self.input.previous {
            DeliveryStatus::Pending if self.input.unsubscribed => Decision::Unsubscribed,
            DeliveryStatus::Pending => Decision::Send,
            DeliveryStatus::Sending if self.ctx.mailer.idempotent() => Decision::Send,
            DeliveryStatus::Sending => Decision::Uncertain,
            _ => Decision::Done,
        }
    }

    /// The email of the synthesis as it is now.
    fn compose(&self) -> Result<OutgoingEmail, JobError> {
        let Some(row) = &self.input.synthesis else {
            return Err(JobError::permanent(
                "SYNTHESIS_MISSING",
                "the synthesis was deleted",
            ));
        };
        let synthesis = Synthesis {
            title: row
                .title
                .clone()
                .unwrap_or_else(|| format!("This week in {}", row.theme)),
            sections: row.sections.clone().unwrap_or_default(),
        };
        let day = row.scheduled_for.unwrap_or(row.created_at);
        let week = row
            .week
            .clone()
            .unwrap_or_else(|| synthesis::iso_week(day.date_naive()));
        let body = synthesis::render_email(
            &row.theme,
            &week,
            &day.format("%-d %B %Y").to_string(),
            &synthesis,
        );
        Ok(OutgoingEmail {
            to: self.input.recipient.clone(),
            subject: body.subject,
            text: body.text,
            html: body.html,
            message_id: self.input.message_id.clone(),
            delivery_id: self.id,
            list: row
                .schedule_id
                .map(|schedule| self.list_headers(schedule, &row.theme)),
        })
    }

    /// A scheduled digest's list headers: its one-click unsubscribe link, valid from today.
    fn list_headers(&self, schedule: Uuid, theme: &str) -> ListHeaders {
        let settings = &self.ctx.settings;
        let key = UnsubscribeKey::from_secret(settings.jwt_secret.expose());
        unsubscribe::list_headers(
            &key,
            settings.app_base_url(),
            &almanac_shared::email::address_of(&settings.email.from),
            schedule,
            theme,
            &self.input.recipient,
            self.ctx.clock.now().date_naive(),
        )
    }

    /// Out: recorded whatever became of the claim.
    async fn sent(&self) -> JobResult {
        self.record(DeliveryStatus::Sent, None, "recording the delivery sent")
            .await?;
        metrics::counter!("emails_total", "outcome" => "sent").increment(1);
        tracing::info!(delivery_id = %self.id, "synthesis emailed");
        self.finish().await
    }

    /// Not now: back to `pending`, and the ledger retries (not before `retry_after`).
    async fn deferred(
        &self,
        message: String,
        retry_after: Option<std::time::Duration>,
    ) -> JobResult {
        let detail = json!({ "code": "EMAIL_TEMPORARY", "message": message });
        self.record(
            DeliveryStatus::Pending,
            Some(&detail),
            "recording the delivery pending",
        )
        .await?;
        metrics::counter!("emails_total", "outcome" => "retried").increment(1);
        let mut error = JobError::transient("EMAIL_TEMPORARY", message);
        error.retry_after = retry_after;
        Err(error)
    }

    /// Refused for good: `failed`, with why.
    async fn refused(&self, refused: MailError) -> JobResult {
        let (code, message) = match refused {
            MailError::NotConfigured => (
                "EMAIL_NOT_CONFIGURED",
                "no email provider is configured (SMTP_URL, RESEND_API_KEY or EMAIL_PROVIDER=outbox)".to_owned(),
            ),
            other => ("EMAIL_REFUSED", other.to_string()),
        };
        let detail = json!({ "code": code, "message": message });
        self.record(
            DeliveryStatus::Failed,
            Some(&detail),
            "recording the delivery failed",
        )
        .await?;
        metrics::counter!("emails_total", "outcome" => "failed").increment(1);
        Err(JobError::permanent(code, message))
    }

    async fn record(
        &self,
        status: DeliveryStatus,
        detail: Option<&Value>,
        step: &'static str,
    ) -> Result<(), JobError> {
        themes::record_delivery(&self.ctx.pool, self.id, status, detail)
            .await
            .context(step)
    }

    async fn finish(&self) -> JobResult {
        let result = json!({ "delivery_id": self.id, "recipient": self.input.recipient });
        self.claim
            .end(&self.ctx.pool, Finished::succeeded(result))
            .await
    }
}
