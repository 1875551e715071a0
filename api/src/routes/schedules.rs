//! A theme's schedule and the email deliveries of its syntheses (seed 004). Owner only;
//! the bodies are seed 004's documented shapes; invalid values are 422.

use almanac_shared::store::user_tx;
use almanac_shared::{
    config::EmailProvider,
    domain::synthesis::{DeliveryStatus, ScheduleSpec},
    store::themes,
};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use serde_json::Value;
use uuid::Uuid;

use super::{
    Tag,
    themes::{NoContent, theme},
};
use crate::{
    auth::UserAuth,
    body::StrictJson422,
    error::{Answer, ApiError, can},
    nullable::OrNull,
    state::AppState,
};

/// A theme's schedule (seed 004).
#[derive(Debug, Clone, Object)]
pub struct Schedule {
    pub id: Uuid,
    pub theme_id: Uuid,
    pub enabled: bool,
    /// `mon`..`sun`.
    pub days: Vec<String>,
    /// `HH:MM`, UTC.
    pub time_utc: String,
    /// At most 3.
    pub emails: Vec<String>,
    /// When it last ran (the moment it was due).
    #[oai(nullable)]
    pub last_run_at: Option<DateTime<Utc>>,
    /// The last UTC day it was due but not started, and why (its owner's daily AI budget,
    /// `AI_USER_DAILY_TOKENS`, was spent).
    #[oai(nullable)]
    pub skipped_day: Option<chrono::NaiveDate>,
    #[oai(nullable)]
    pub skip_reason: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ScheduleRow {
    id: Uuid,
    theme_id: Uuid,
    enabled: bool,
    days: sqlx::types::Json<Vec<String>>,
    time_utc: String,
    emails: sqlx::types::Json<Vec<String>>,
    last_run_at: Option<DateTime<Utc>>,
    skipped_day: Option<chrono::NaiveDate>,
    skip_reason: Option<String>,
}

impl From<ScheduleRow> for Schedule {
    fn from(r: ScheduleRow) -> Self {
        Self {
            id: r.id,
            theme_id: r.theme_id,
            enabled: r.enabled,
            days: r.days.0,
            time_utc: r.time_utc,
            emails: r.emails.0,
            last_run_at: r.last_run_at,
            skipped_day: r.skipped_day,
            skip_reason: r.skip_reason,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct UpsertSchedule {
    pub enabled: bool,
    pub days: Vec<String>,
    pub time_utc: String,
    pub emails: Vec<String>,
}

/// One email of a synthesis to one recipient.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    pub synthesis_id: Uuid,
    pub recipient: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    #[oai(nullable)]
    pub last_error: Option<Value>,
    #[oai(nullable)]
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Where to open the email as sent (`message/rfc822`), when the server keeps it: the
    /// `outbox` provider (`EMAIL_PROVIDER`) writes every email to a file instead of sending.
    #[oai(nullable)]
    #[sqlx(default)]
    pub email_url: Option<String>,
}

/// An email as the outbox kept it.
#[derive(poem_openapi::ApiResponse)]
pub enum OutboxEmail {
    /// The message as written (RFC 5322), to open in a mail program.
    #[oai(status = 200, content_type = "message/rfc822")]
    Message(
        poem_openapi::payload::Binary<Vec<u8>>,
        #[oai(header = "Content-Disposition")] String,
    ),
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
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        theme(&mut tx, id.0).await?;
        let row: Option<ScheduleRow> = themes::schedule(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(Json(OrNull(row.map(Into::into))))
    }

    /// Create or replace the theme's schedule: `days` (`mon`..`sun`), `time_utc` (`HH:MM`),
    /// up to 3 `emails`; 422 for invalid values.
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
        let spec = ScheduleSpec::parse(body.enabled, &body.days, &body.time_utc, &body.emails)
            .map_err(ApiError::semantically_invalid)?;
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        let row: Option<ScheduleRow> = themes::upsert_schedule(&mut tx, id.0, &spec).await?;
        tx.commit().await?;
        Ok(row
            .map(|r| Json(r.into()))
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
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        theme(&mut tx, id.0).await?;
        themes::delete_schedule(&mut tx, id.0).await?;
        tx.commit().await?;
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
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        theme(&mut tx, id.0).await?;
        let mut rows: Vec<Delivery> = themes::deliveries(&mut tx, id.0).await?;
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
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
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
