//! A theme's schedule and the email deliveries of its syntheses (seed 004). Owner only;
//! the bodies are seed 004's documented shapes; invalid values are 422.

mod dto;

pub use dto::*;

use almanac_shared::store::user_tx;
use almanac_shared::{
    config::EmailProvider,
    domain::synthesis::{
        DeliveryStatus, ScheduleInput, ScheduleSpec, next_due, parse_email, parse_timezone,
        utc_time_today,
    },
    store::themes::{self, ScheduleRow},
};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::{Tag, themes::theme};
use crate::responses::NoContent;
use crate::{
    auth::UserAuth,
    body::StrictJson422,
    error::{Answer, ApiError, ErrorEnvelope, can},
    nullable::OrNull,
    state::AppState,
};

/// The schedule as its owner reads it, with when it runs next.
fn answer(
    row: ScheduleRow,
    now: DateTime<Utc>,
    suppressions: Vec<themes::Suppression>,
) -> Schedule {
    let zone = row.timezone.as_deref().and_then(parse_timezone);
    let time = row.time_local.clone().or(row.time_utc).unwrap_or_default();
    let time_utc = match zone {
        Some(zone) => utc_time_today(zone, &time, now).unwrap_or_default(),
        None => time.clone(),
    };
    let next_run_at = row
        .enabled
        .then(|| next_due(&row.days.0, &time, zone, row.last_run_at, now))
        .flatten();
    Schedule {
        id: row.id,
        theme_id: row.theme_id,
        enabled: row.enabled,
        days: row.days.0,
        time_utc,
        timezone: row.timezone,
        time_local: row.time_local,
        emails: row.emails.0,
        send_when_empty: row.send_when_empty,
        last_run_at: row.last_run_at,
        next_run_at,
        suppressions: suppressions.into_iter().map(Into::into).collect(),
        skipped_day: row.skipped_day,
        skip_reason: row.skip_reason,
    }
}

#[derive(Default)]
pub struct SchedulesApi;

#[OpenApi(tag = "Tag::Syntheses")]
impl SchedulesApi {
    /// The theme's schedule, or `null`.
    #[oai(
        path = "/api/v1/themes/:id/schedule",
        method = "get",
        operation_id = "getSchedule"
    )]
    async fn schedule(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<OrNull<Schedule>>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        theme(&mut tx, id.0).await?;
        let row = themes::schedule(&mut tx, id.0).await?;
        let suppressions = themes::suppressions(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(Json(OrNull(
            row.map(|r| answer(r, Utc::now(), suppressions)),
        )))
    }

    /// Create or replace the theme's schedule: `days` (`mon`..`sun`), `time_utc` (`HH:MM`)
    /// or a `timezone` with `time_local`, up to 3 `emails`; 422 for invalid values.
    #[oai(
        path = "/api/v1/themes/:id/schedule",
        method = "put",
        operation_id = "upsertSchedule"
    )]
    async fn upsert_schedule(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson422<UpsertSchedule>,
    ) -> Answer<Json<Schedule>, { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE }>
    {
        let body = body.0;
        let spec = ScheduleSpec::parse(ScheduleInput {
            enabled: body.enabled,
            days: &body.days,
            time_utc: body.time_utc.as_deref(),
            timezone: body.timezone.as_deref(),
            time_local: body.time_local.as_deref(),
            emails: &body.emails,
            send_when_empty: body.send_when_empty.unwrap_or(false),
        })
        .map_err(ApiError::semantically_invalid)?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let suppressions = themes::suppressions(&mut tx, id.0).await?;
        if let Some(kept_out) = suppressions.iter().find(|s| {
            spec.emails
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&s.address))
        }) {
            let message = format!(
                "emails: `{}` unsubscribed from this digest on {}: clear that first (DELETE /api/v1/themes/{}/schedule/suppressions/{})",
                kept_out.address,
                kept_out.created_at.date_naive(),
                id.0,
                kept_out.address
            );
            let details = serde_json::json!({ "field": "emails", "email": kept_out.address });
            return Err(ApiError::Unprocessable(ErrorEnvelope::new(
                "ADDRESS_UNSUBSCRIBED",
                message,
                Some(details),
            ))
            .into());
        }
        let row = themes::upsert_schedule(&mut tx, id.0, &spec).await?;
        tx.commit().await?;
        Ok(row
            .map(|r| Json(answer(r, Utc::now(), suppressions)))
            .ok_or_else(|| ApiError::not_found("theme"))?)
    }

    /// Remove the theme's schedule (204, also when there was none).
    #[oai(
        path = "/api/v1/themes/:id/schedule",
        method = "delete",
        operation_id = "deleteSchedule"
    )]
    async fn delete_schedule(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        theme(&mut tx, id.0).await?;
        themes::delete_schedule(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(NoContent::Done)
    }

    /// Lets an address that unsubscribed be added to the schedule again (204); 404 when it
    /// had not unsubscribed.
    #[oai(
        path = "/api/v1/themes/:id/schedule/suppressions/:email",
        method = "delete",
        operation_id = "clearSuppression"
    )]
    async fn clear_suppression(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        #[oai(validator(max_length = 254))] email: Path<String>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        // What is not an address never unsubscribed.
        let address = parse_email(&email.0)
            .ok_or_else(|| ApiError::not_found("suppression"))?
            .to_lowercase();
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        theme(&mut tx, id.0).await?;
        let cleared = themes::clear_suppression(&mut tx, id.0, &address).await?;
        tx.commit().await?;
        if !cleared {
            return Err(ApiError::not_found("suppression").into());
        }
        Ok(NoContent::Done)
    }

    /// The emails sent (or not) of the theme's syntheses, newest first.
    #[oai(
        path = "/api/v1/themes/:id/deliveries",
        method = "get",
        operation_id = "listDeliveries"
    )]
    async fn deliveries(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<Vec<Delivery>>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        theme(&mut tx, id.0).await?;
        let mut rows: Vec<Delivery> = themes::deliveries(&mut tx, id.0)
            .await?
            .into_iter()
            .map(Into::into)
            .collect();
        tx.commit().await?;
        let outbox = state.settings.email.provider == EmailProvider::Outbox;
        for row in rows
            .iter_mut()
            .filter(|r| outbox && r.status == DeliveryStatus::Sent)
        {
            row.email_url = Some(format!(
                "/api/v1/themes/{}/deliveries/{}/email",
                id.0, row.id
            ));
        }
        Ok(Json(rows))
    }

    /// One delivery's email as the outbox kept it (`EMAIL_PROVIDER=outbox`): 404 when it
    /// kept none.
    #[oai(
        path = "/api/v1/themes/:id/deliveries/:delivery_id/email",
        method = "get",
        operation_id = "getDeliveryEmail"
    )]
    async fn delivery_email(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        delivery_id: Path<Uuid>,
    ) -> Answer<OutboxEmail, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        theme(&mut tx, id.0).await?;
        let owned = themes::has_delivery(&mut tx, id.0, delivery_id.0).await?;
        tx.commit().await?;
        let file =
            almanac_shared::email::outbox_file(&state.settings.email.outbox_dir, delivery_id.0);
        let message = match tokio::fs::read(&file).await {
            Ok(message) if owned => message,
            _ => return Err(ApiError::not_found("email").into()),
        };
        Ok(OutboxEmail::Message(
            poem_openapi::payload::Binary(message),
            format!("attachment; filename=\"{}.eml\"", delivery_id.0),
        ))
    }
}
