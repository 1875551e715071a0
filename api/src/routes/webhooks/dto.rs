//! The webhook endpoints' wire types: an endpoint, its deliveries and their attempts, and the
//! answers of the webhook routes.

use crate::{envelope::Envelope, text::Text};
use almanac_shared::store::webhook_deliveries as deliveries;
use almanac_shared::store::webhooks::EndpointRow;
use chrono::{DateTime, Utc};
use poem_openapi::{Object, payload::Json};
use uuid::Uuid;

/// A webhook endpoint. Its secret is never returned after it is first shown.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Webhook {
    pub id: Uuid,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The event types delivered to it.
    pub events: Vec<String>,
    #[oai(nullable)]
    pub description: Option<String>,
    /// Set when it was disabled (by its owner, or after deliveries kept failing); nothing
    /// is delivered until it is enabled again.
    #[oai(nullable)]
    pub disabled_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation still signs, beside the new one.
    #[oai(nullable)]
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An endpoint with its secret, shown this once.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookWithSecret {
    #[oai(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and the base64 key: verify each delivery's `webhook-signature` with it.
    /// Shown only now; rotate it if it is lost.
    pub secret: String,
}

#[derive(Debug, Clone, Object)]
pub struct WebhookList {
    pub items: Vec<Webhook>,
}

#[derive(Debug, Clone, Object)]
pub struct NewWebhook {
    /// `https://` (or `http://` where the server allows private networks); not a private
    /// address.
    pub url: Text<1, 2048>,
    /// Event types to deliver (`job.succeeded`, `job.failed`, `calendar.run.finished`,
    /// `organic.week.finished`, `publish.intent.published`, `publish.intent.failed`,
    /// `publish.intent.unconfirmed`, `channel.needs_reauth`, `channel.expiring`,
    /// `synthesis.delivered`, `webhook.disabled`, `calendar.entry.review_requested`,
    /// `calendar.entry.approved`, `calendar.entry.changes_requested`,
    /// `calendar.entry.expired`, `calendar.entry.commented`).
    #[oai(validator(min_items = 1, max_items = 20))]
    pub events: Vec<Text<1, 60>>,
    #[oai(nullable)]
    pub description: Option<Text<0, 500>>,
}

/// What to change; an absent field stays as it is.
#[derive(Debug, Clone, Object)]
pub struct WebhookChanges {
    #[oai(nullable)]
    pub url: Option<Text<1, 2048>>,
    #[oai(nullable, validator(min_items = 1, max_items = 20))]
    pub events: Option<Vec<Text<1, 60>>>,
    /// An empty description clears it.
    #[oai(nullable)]
    pub description: Option<Text<0, 500>>,
    /// `false` stops deliveries; `true` resumes them (also after the server disabled it).
    #[oai(nullable)]
    pub enabled: Option<bool>,
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "snake_case")]
pub enum WebhookDeliveryStatus {
    /// Waiting for its first attempt, or for the next after a failure.
    Pending,
    /// A receiver answered 2xx.
    Succeeded,
    /// Every attempt failed, or the receiver or the endpoint refused it for good.
    Failed,
}

impl WebhookDeliveryStatus {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    fn parse(status: &str) -> Self {
        match status {
            "succeeded" => Self::Succeeded,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookDeliveryAttempt {
    /// 1 for the first, counting over redeliveries.
    pub number: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i32,
    /// The receiver's HTTP status, when it answered.
    #[oai(nullable)]
    pub response_status: Option<i32>,
    /// The first KiB of its answer.
    #[oai(nullable)]
    pub response_excerpt: Option<String>,
    /// Why there was no answer: `WEBHOOK_TIMEOUT`, `WEBHOOK_UNREACHABLE`,
    /// `WEBHOOK_URL_REFUSED`.
    #[oai(nullable)]
    pub error_code: Option<String>,
    #[oai(nullable)]
    pub error_message: Option<String>,
}

/// One event sent to an endpoint. Its `id` is the `webhook-id` header, the same on every
/// attempt and redelivery.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookDelivery {
    pub id: Uuid,
    pub event_type: String,
    /// When the change happened (the body's `timestamp`).
    pub occurred_at: DateTime<Utc>,
    /// The body's `data`.
    pub data: serde_json::Value,
    pub status: WebhookDeliveryStatus,
    #[oai(nullable)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed (`{code, message}`).
    #[oai(nullable)]
    pub last_error: Option<serde_json::Value>,
    /// Oldest first.
    pub attempts: Vec<WebhookDeliveryAttempt>,
}

impl From<deliveries::DeliveryRow> for WebhookDelivery {
    fn from(row: deliveries::DeliveryRow) -> Self {
        Self {
            id: row.id,
            event_type: row.event_type,
            occurred_at: row.occurred_at,
            data: row.data.0,
            status: WebhookDeliveryStatus::parse(&row.status),
            next_attempt_at: row.next_attempt_at,
            last_error: row.last_error.map(|e| e.0),
            attempts: row
                .attempt_log
                .0
                .into_iter()
                .map(|a| WebhookDeliveryAttempt {
                    number: a.number,
                    started_at: a.started_at,
                    duration_ms: a.duration_ms,
                    response_status: a.response_status,
                    response_excerpt: a.response_excerpt,
                    error_code: a.error_code,
                    error_message: a.error_message,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookDeliveryPage {
    pub items: Vec<WebhookDelivery>,
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}

crate::enveloped!(
    Webhook,
    WebhookWithSecret,
    WebhookList,
    WebhookDelivery,
    WebhookDeliveryPage
);

pub type WebhookDeliveryEnvelope = Envelope<WebhookDelivery>;

pub type WebhookDeliveryPageEnvelope = Envelope<WebhookDeliveryPage>;

crate::responses! {
    pub enum WebhookDeliveryAccepted {
        /// Queued: poll the deliveries to see it arrive.
        202 => Accepted(Json<WebhookDeliveryEnvelope>),
    }
}

pub type WebhookEnvelope = Envelope<Webhook>;

pub type WebhookWithSecretEnvelope = Envelope<WebhookWithSecret>;

pub type WebhookListEnvelope = Envelope<WebhookList>;

crate::from_row!(EndpointRow => Webhook {
    id,
    url,
    events,
    description,
    disabled_at,
    disabled_reason,
    previous_secret_until,
    created_at,
    updated_at,
});
