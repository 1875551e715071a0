//! Webhook endpoints: where the caller's events are delivered, signed as the Standard
//! Webhooks specification says (`docs/webhooks.md`). The secret is shown once, when an
//! endpoint is made or its secret rotated, and sealed at rest like a channel's tokens.

use almanac_shared::{
    publish::crypto::TokenCipher,
    store::{user_tx, webhooks as store},
    webhooks::{self, EventType},
};
use chrono::{DateTime, Duration, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    envelope::Envelope,
    error::{Answer, ApiError, ApiResult, ErrorEnvelope, can},
    state::AppState,
    text::Text,
};

/// How long a rotated-out secret still signs beside the new one.
const ROTATION_OVERLAP: Duration = Duration::hours(24);
/// What a sealed secret is bound to (with the endpoint's id).
const SECRET_FIELD: &str = "webhook_secret";

/// A webhook endpoint. Its secret is never returned after it is first shown.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
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
    /// `synthesis.delivered`, `webhook.disabled`).
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

crate::enveloped!(Webhook, WebhookWithSecret, WebhookList);

pub type WebhookEnvelope = Envelope<Webhook>;
pub type WebhookWithSecretEnvelope = Envelope<WebhookWithSecret>;
pub type WebhookListEnvelope = Envelope<WebhookList>;

#[derive(ApiResponse)]
pub enum WebhookCreated {
    #[oai(status = 201)]
    Created(Json<WebhookWithSecretEnvelope>),
}

#[derive(ApiResponse)]
pub enum WebhookDeleted {
    #[oai(status = 204)]
    Deleted,
}

#[derive(Default)]
pub struct WebhooksApi;

#[OpenApi(tag = "Tag::Webhooks")]
impl WebhooksApi {
    /// The caller's webhook endpoints.
    #[oai(path = "/v1/webhooks", method = "get", operation_id = "listWebhooks")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<WebhookListEnvelope>, { can::STORED }> {
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        let items = store::list(&mut tx).await?;
        tx.commit().await?;
        Ok(WebhookListEnvelope::of(WebhookList { items }))
    }

    /// Add an endpoint. The answer carries its `secret`, shown this once. At most 20 per
    /// user (422 `WEBHOOK_LIMIT`).
    #[oai(path = "/v1/webhooks", method = "post", operation_id = "createWebhook")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<NewWebhook>,
    ) -> Answer<WebhookCreated, { can::STORED | can::BODY | can::UNPROCESSABLE }> {
        let body = body.0;
        let cipher = cipher(&state)?;
        let url = checked_url(&state, &body.url.0)?;
        let events = checked_events(&body.events)?;
        let description = body
            .description
            .as_ref()
            .map(|d| d.0.trim())
            .filter(|d| !d.is_empty());
        let user = auth.user().id;
        let id = Uuid::now_v7();
        let secret = webhooks::new_secret();
        let sealed = cipher.seal(id, SECRET_FIELD, &secret);
        let mut tx = user_tx(&state.pool, user).await?;
        if store::count(&mut tx).await? >= store::MAX_ENDPOINTS {
            return Err(ApiError::unprocessable(
                "WEBHOOK_LIMIT",
                format!(
                    "at most {} webhook endpoints per account: delete one first",
                    store::MAX_ENDPOINTS
                ),
            )
            .into());
        }
        let webhook: Webhook = store::insert(
            &mut tx,
            store::NewEndpoint {
                id,
                user_id: user,
                url: url.as_str(),
                events: &events,
                description,
                sealed_secret: &sealed,
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(webhook_id = %id, userId = %user, "webhook endpoint added");
        Ok(WebhookCreated::Created(WebhookWithSecretEnvelope::of(
            WebhookWithSecret { webhook, secret },
        )))
    }

    #[oai(path = "/v1/webhooks/:id", method = "get", operation_id = "getWebhook")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<WebhookEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        let webhook = store::get(&mut tx, id.0).await?.ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(WebhookEnvelope::of(webhook))
    }

    /// Change an endpoint's URL, events or description, or disable and enable it.
    #[oai(
        path = "/v1/webhooks/:id",
        method = "patch",
        operation_id = "updateWebhook"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<WebhookChanges>,
    ) -> Answer<
        Json<WebhookEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let body = body.0;
        let url = body
            .url
            .as_ref()
            .map(|url| checked_url(&state, &url.0))
            .transpose()?;
        let events = body.events.as_deref().map(checked_events).transpose()?;
        let description = body
            .description
            .as_ref()
            .map(|d| Some(d.0.trim()).filter(|d| !d.is_empty()));
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        let changes = store::Changes {
            url: url.as_ref().map(url::Url::as_str),
            events: events.as_deref(),
            description,
            enabled: body.enabled,
        };
        let webhook = store::update(&mut tx, id.0, changes)
            .await?
            .ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(WebhookEnvelope::of(webhook))
    }

    /// Delete an endpoint; nothing more is delivered to it.
    #[oai(
        path = "/v1/webhooks/:id",
        method = "delete",
        operation_id = "deleteWebhook"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<WebhookDeleted, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        if !store::delete(&mut tx, id.0).await? {
            return Err(not_found().into());
        }
        tx.commit().await?;
        Ok(WebhookDeleted::Deleted)
    }

    /// A new secret, shown this once. The old one keeps signing beside it for 24 hours
    /// (both signatures in `webhook-signature`), so receivers can switch without a gap.
    #[oai(
        path = "/v1/webhooks/:id/rotate-secret",
        method = "post",
        operation_id = "rotateWebhookSecret"
    )]
    async fn rotate_secret(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<WebhookWithSecretEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        let cipher = cipher(&state)?;
        let secret = webhooks::new_secret();
        let sealed = cipher.seal(id.0, SECRET_FIELD, &secret);
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        let webhook = store::rotate(&mut tx, id.0, &sealed, Utc::now() + ROTATION_OVERLAP)
            .await?
            .ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(WebhookWithSecretEnvelope::of(WebhookWithSecret {
            webhook,
            secret,
        }))
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("webhook")
}

/// Secrets are sealed with `TOKEN_ENCRYPTION_KEY`: without it, 503.
fn cipher(state: &AppState) -> ApiResult<&TokenCipher> {
    state.cipher_or("webhooks cannot be added or their secrets rotated")
}

/// The URL, or 422 `WEBHOOK_URL_REFUSED` saying why.
fn checked_url(state: &AppState, raw: &str) -> ApiResult<url::Url> {
    webhooks::check_url(raw, state.settings.fetch.allow_private_networks).map_err(|refusal| {
        ApiError::Unprocessable(ErrorEnvelope::new(
            "WEBHOOK_URL_REFUSED",
            refusal.to_string(),
            Some(serde_json::json!({ "field": "url" })),
        ))
    })
}

/// The event types, each once, in the order given; an unknown one is 422
/// `UNKNOWN_EVENT_TYPE` naming it and the known ones.
fn checked_events(events: &[Text<1, 60>]) -> ApiResult<Vec<String>> {
    let mut known: Vec<String> = Vec::with_capacity(events.len());
    for name in events {
        let name = name.0.trim();
        let Some(event) = EventType::parse(name) else {
            let all: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
            return Err(ApiError::Unprocessable(ErrorEnvelope::new(
                "UNKNOWN_EVENT_TYPE",
                format!("`{name}` is not an event type: one of {}", all.join(", ")),
                Some(serde_json::json!({ "field": "events", "eventType": name, "known": all })),
            )));
        };
        if !known.iter().any(|k| k == event.as_str()) {
            known.push(event.as_str().to_owned());
        }
    }
    Ok(known)
}
