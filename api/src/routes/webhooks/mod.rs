//! Webhook endpoints: where the caller's events are delivered, signed as the Standard
//! Webhooks specification says (`docs/webhooks.md`). The secret is shown once, when an
//! endpoint is made or its secret rotated, and sealed at rest like a channel's tokens.

mod dto;

pub use dto::*;

use almanac_shared::{
    crypto::TokenCipher,
    store::{user_tx, webhook_deliveries as deliveries, webhooks as store},
    webhooks::{self, EventType},
};
use chrono::{Duration, Utc};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::{Tag, clamp_limit, paginate};
use crate::responses::{Created, NoContent};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, ErrorEnvelope, can},
    state::AppState,
    text::Text,
};

/// How long a rotated-out secret still signs beside the new one.
const ROTATION_OVERLAP: Duration = Duration::hours(24);

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
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let items = store::list(&mut tx).await?;
        tx.commit().await?;
        Ok(WebhookListEnvelope::of(WebhookList {
            items: items.into_iter().map(Into::into).collect(),
        }))
    }

    /// Add an endpoint. The answer carries its `secret`, shown this once. At most 20 per
    /// user (422 `WEBHOOK_LIMIT`).
    #[oai(path = "/v1/webhooks", method = "post", operation_id = "createWebhook")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<NewWebhook>,
    ) -> Answer<Created<WebhookWithSecretEnvelope>, { can::STORED | can::BODY | can::UNPROCESSABLE }>
    {
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
        let actor = auth.user().actor();
        let id = Uuid::now_v7();
        let secret = webhooks::new_secret();
        let sealed = cipher.seal(id, webhooks::SECRET_FIELD, &secret);
        let mut tx = user_tx(&state.pool, actor).await?;
        if store::count_for_adding(&mut tx, actor.workspace).await? >= store::MAX_ENDPOINTS {
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
        .await?
        .into();
        tx.commit().await?;
        tracing::info!(webhook_id = %id, userId = %user, "webhook endpoint added");
        Ok(Created::Created(WebhookWithSecretEnvelope::of(
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
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let webhook = store::get(&mut tx, id.0)
            .await?
            .map(Webhook::from)
            .ok_or_else(not_found)?;
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
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let changes = store::Changes {
            url: url.as_ref().map(url::Url::as_str),
            events: events.as_deref(),
            description,
            enabled: body.enabled,
        };
        let webhook = store::update(&mut tx, id.0, changes)
            .await?
            .map(Webhook::from)
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
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if !store::delete(&mut tx, id.0).await? {
            return Err(not_found().into());
        }
        tx.commit().await?;
        Ok(NoContent::Done)
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
        let sealed = cipher.seal(id.0, webhooks::SECRET_FIELD, &secret);
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let webhook = store::rotate(&mut tx, id.0, &sealed, Utc::now() + ROTATION_OVERLAP)
            .await?
            .map(Webhook::from)
            .ok_or_else(not_found)?;
        tx.commit().await?;
        Ok(WebhookWithSecretEnvelope::of(WebhookWithSecret {
            webhook,
            secret,
        }))
    }

    /// An endpoint's deliveries, newest first: each event sent, its status and attempts.
    #[oai(
        path = "/v1/webhooks/:id/deliveries",
        method = "get",
        operation_id = "listWebhookDeliveries"
    )]
    async fn deliveries(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        /// Only deliveries in this status.
        status: Query<Option<WebhookDeliveryStatus>>,
        /// Page size, 1-100 (default 20).
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
        limit: Query<Option<u32>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> Answer<
        Json<WebhookDeliveryPageEnvelope>,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND },
    > {
        let limit = clamp_limit(limit.0);
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        store::get(&mut tx, id.0)
            .await?
            .map(Webhook::from)
            .ok_or_else(not_found)?;
        let rows = deliveries::list(
            &mut tx,
            id.0,
            status.0.map(WebhookDeliveryStatus::as_str),
            cursor.0,
            i64::from(limit) + 1,
        )
        .await?;
        tx.commit().await?;
        let (rows, next_cursor) = paginate(rows, limit, |d| d.id);
        let items = rows.into_iter().map(WebhookDelivery::from).collect();
        Ok(WebhookDeliveryPageEnvelope::of(WebhookDeliveryPage {
            items,
            next_cursor,
        }))
    }

    /// Send a delivery again: the same `webhook-id` and body, a new series of attempts
    /// (409 `DELIVERY_IN_PROGRESS` while it is still being sent, 409 `WEBHOOK_DISABLED`
    /// while the endpoint is disabled). Tests and redeliveries share a per-user limit
    /// (`WEBHOOK_TEST_RATE_LIMIT` per `WEBHOOK_TEST_RATE_WINDOW_SECS`; 429 `RATE_LIMITED`
    /// with `Retry-After` beyond it).
    #[oai(
        path = "/v1/webhooks/:id/deliveries/:deliveryId/redeliver",
        method = "post",
        operation_id = "redeliverWebhookDelivery"
    )]
    async fn redeliver(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        #[oai(name = "deliveryId")] delivery_id: Path<Uuid>,
    ) -> Answer<
        WebhookDeliveryAccepted,
        {
            can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::CONFLICT | can::TOO_MANY_REQUESTS
        },
    > {
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let webhook: Webhook = store::get(&mut tx, id.0)
            .await?
            .map(Webhook::from)
            .ok_or_else(not_found)?;
        refuse_disabled(&webhook)?;
        let slot = take_test_slot(&state, user).await?;
        let refused = match deliveries::redeliver(&mut tx, id.0, delivery_id.0).await? {
            None => ApiError::not_found("delivery"),
            Some(previous) if previous == "pending" => ApiError::conflict(
                "DELIVERY_IN_PROGRESS",
                "this delivery is still being sent: wait for its attempts to end",
            ),
            Some(_) => return Ok(accepted(tx, id.0, delivery_id.0).await?),
        };
        // Nothing is sent: the request takes no slot.
        slot.refund(&state).await;
        Err(refused.into())
    }

    /// Send a `webhook.test` event to the endpoint now, whatever it subscribes to. Tests
    /// and redeliveries share a per-user limit (`WEBHOOK_TEST_RATE_LIMIT` per
    /// `WEBHOOK_TEST_RATE_WINDOW_SECS`; 429 `RATE_LIMITED` with `Retry-After` beyond it).
    #[oai(
        path = "/v1/webhooks/:id/test",
        method = "post",
        operation_id = "testWebhook"
    )]
    async fn test(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<
        WebhookDeliveryAccepted,
        {
            can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::CONFLICT | can::TOO_MANY_REQUESTS
        },
    > {
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let webhook: Webhook = store::get(&mut tx, id.0)
            .await?
            .map(Webhook::from)
            .ok_or_else(not_found)?;
        refuse_disabled(&webhook)?;
        let slot = take_test_slot(&state, user).await?;
        let data = serde_json::json!({
            "webhookId": webhook.id,
            "message": "a test event from Almanac: this endpoint receives and verifies deliveries",
        });
        let Some(staged) = deliveries::stage_test(&mut tx, id.0, &data).await? else {
            // Disabled meanwhile (a failing delivery's last attempt, committed after the
            // read above): say so, as when it was disabled before. Nothing is sent.
            slot.refund(&state).await;
            let webhook: Webhook = store::get(&mut tx, id.0)
                .await?
                .map(Webhook::from)
                .ok_or_else(not_found)?;
            refuse_disabled(&webhook)?;
            return Err(not_found().into());
        };
        Ok(accepted(tx, id.0, staged).await?)
    }
}

/// The answer to a test or a redelivery the ledger took: the delivery as it is now, read
/// in the transaction that staged it, which this commits.
async fn accepted(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    endpoint: Uuid,
    delivery: Uuid,
) -> ApiResult<WebhookDeliveryAccepted> {
    let delivery = deliveries::get(&mut tx, endpoint, delivery)
        .await?
        .ok_or_else(|| ApiError::not_found("delivery"))?;
    tx.commit().await?;
    Ok(WebhookDeliveryAccepted::Accepted(
        WebhookDeliveryEnvelope::of(delivery.into()),
    ))
}

/// A slot of the user's tests and redeliveries (`WEBHOOK_TEST_RATE_*`), or 429
/// `RATE_LIMITED` with `Retry-After`: each sends a request to the user's endpoint soon
/// (a test in the `interactive` lane, a redelivery in `bulk`).
async fn take_test_slot(state: &AppState, user: Uuid) -> ApiResult<crate::rate_limit::Taken> {
    crate::rate_limit::take_rate(state, &state.settings.rate_limits.webhook_tests, user).await
}

/// 409 `WEBHOOK_DISABLED`: nothing is sent to a disabled endpoint.
fn refuse_disabled(webhook: &Webhook) -> ApiResult<()> {
    if webhook.disabled_at.is_some() {
        return Err(ApiError::conflict(
            "WEBHOOK_DISABLED",
            "this endpoint is disabled: enable it first (PATCH with enabled: true)",
        ));
    }
    Ok(())
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
