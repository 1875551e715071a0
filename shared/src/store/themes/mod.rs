//! Themes, the syntheses made of them, their schedules and email deliveries, as their
//! owner reads and writes them; `runs.rs` holds what the scheduler, the synthesis job and the
//! email job write, `unsubscribes.rs` what an unsubscribe link does.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, types::Json};
use uuid::Uuid;

use crate::domain::{
    RunStatus,
    synthesis::{DeliveryStatus, ScheduleSpec, Source, ThemeSpec},
};

mod runs;
mod unsubscribes;

pub use runs::*;
pub use unsubscribes::*;

const THEME_COLUMNS: &str = "id, name, description, sources, created_at, updated_at";
const SYNTHESIS_COLUMNS: &str = "id, theme_id, status, origin, week, title, sections,
    sources_report, model, items_left_out, error, job_id, created_at, updated_at";
const SCHEDULE_COLUMNS: &str = "id, theme_id, enabled, days, time_utc, timezone, time_local,
    emails, send_when_empty, last_run_at, skipped_day, skip_reason";

/// A theme as its owner reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ThemeRow {
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub sources: Json<Vec<Source>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A synthesis as its owner reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SynthesisRow {
    pub id: Uuid,
    pub theme_id: Uuid,
    pub status: RunStatus,
    pub origin: String,
    pub week: Option<String>,
    pub title: Option<String>,
    pub sections: Option<Value>,
    pub sources_report: Option<Value>,
    pub model: Option<String>,
    pub items_left_out: i32,
    pub error: Option<Value>,
    pub job_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A theme's schedule as it is saved: in UTC, or in its reader's time zone (`timezone`
/// and `time_local`).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScheduleRow {
    pub id: Uuid,
    pub theme_id: Uuid,
    pub enabled: bool,
    pub days: Json<Vec<String>>,
    pub time_utc: Option<String>,
    pub timezone: Option<String>,
    pub time_local: Option<String>,
    pub emails: Json<Vec<String>>,
    pub send_when_empty: bool,
    pub last_run_at: Option<DateTime<Utc>>,
    pub skipped_day: Option<NaiveDate>,
    pub skip_reason: Option<String>,
}

/// One email of a synthesis to one recipient.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub synthesis_id: Uuid,
    pub recipient: String,
    pub status: DeliveryStatus,
    pub reason: Option<String>,
    pub attempts: i32,
    pub last_error: Option<Value>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn sources(spec: &ThemeSpec) -> Json<serde_json::Value> {
    Json(serde_json::to_value(&spec.sources).expect("sources serialise"))
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ThemeRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {THEME_COLUMNS} from themes where id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The caller's themes, newest first (500 at most).
pub async fn list(conn: &mut PgConnection) -> sqlx::Result<Vec<ThemeRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {THEME_COLUMNS} from themes order by id desc limit 500"
    )))
    .fetch_all(conn)
    .await
}

pub async fn create(conn: &mut PgConnection, spec: &ThemeSpec) -> sqlx::Result<ThemeRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "insert into themes (id, user_id, name, description, sources)
         values ($1, app_user_id(), $2, $3, $4) returning {THEME_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(&spec.name)
    .bind(&spec.description)
    .bind(sources(spec))
    .fetch_one(conn)
    .await
}

pub async fn update(conn: &mut PgConnection, id: Uuid, spec: &ThemeSpec) -> sqlx::Result<ThemeRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update themes set name = $2, description = $3, sources = $4, updated_at = now()
         where id = $1 returning {THEME_COLUMNS}"
    )))
    .bind(id)
    .bind(&spec.name)
    .bind(&spec.description)
    .bind(sources(spec))
    .fetch_one(conn)
    .await
}

/// Deletes a theme with its schedule, syntheses and deliveries; whether there was one.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let deleted = sqlx::query("delete from themes where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() > 0)
}

/// A theme's syntheses, newest first (100 at most).
pub async fn syntheses(conn: &mut PgConnection, theme: Uuid) -> sqlx::Result<Vec<SynthesisRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {SYNTHESIS_COLUMNS} from syntheses where theme_id = $1 order by id desc limit 100"
    )))
    .bind(theme)
    .fetch_all(conn)
    .await
}

pub async fn synthesis(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<SynthesisRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {SYNTHESIS_COLUMNS} from syntheses where id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A synthesis the user asked for, with its job already written in this transaction.
pub async fn create_manual_synthesis(
    conn: &mut PgConnection,
    synthesis: Uuid,
    theme: Uuid,
    job: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into syntheses (id, user_id, theme_id, job_id, origin)
         values ($1, app_user_id(), $2, $3, 'manual')",
    )
    .bind(synthesis)
    .bind(theme)
    .bind(job)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn schedule(conn: &mut PgConnection, theme: Uuid) -> sqlx::Result<Option<ScheduleRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {SCHEDULE_COLUMNS} from theme_schedules where theme_id = $1"
    )))
    .bind(theme)
    .fetch_optional(conn)
    .await
}

/// Creates or replaces a theme's schedule; none when there is no such theme.
pub async fn upsert_schedule(
    conn: &mut PgConnection,
    theme: Uuid,
    spec: &ScheduleSpec,
) -> sqlx::Result<Option<ScheduleRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "insert into theme_schedules (id, theme_id, user_id, enabled, days, time_utc, timezone,
             time_local, emails, send_when_empty)
         select $1, t.id, t.user_id, $3, $4, $5, $6, $7, $8, $9 from themes t where t.id = $2
         on conflict (theme_id) do update set enabled = excluded.enabled,
             days = excluded.days, time_utc = excluded.time_utc, timezone = excluded.timezone,
             time_local = excluded.time_local, emails = excluded.emails,
             send_when_empty = excluded.send_when_empty, due_at = null, updated_at = now()
         returning {SCHEDULE_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(theme)
    .bind(spec.enabled)
    .bind(Json(&spec.days))
    .bind(spec.timezone.is_none().then_some(&spec.time))
    .bind(spec.timezone.map(|zone| zone.name()))
    .bind(spec.timezone.is_some().then_some(&spec.time))
    .bind(Json(&spec.emails))
    .bind(spec.send_when_empty)
    .fetch_optional(conn)
    .await
}

pub async fn delete_schedule(conn: &mut PgConnection, theme: Uuid) -> sqlx::Result<()> {
    sqlx::query("delete from theme_schedules where theme_id = $1")
        .bind(theme)
        .execute(conn)
        .await
        .map(drop)
}

/// Whether the theme has the delivery (as the caller sees it).
pub async fn has_delivery(
    conn: &mut PgConnection,
    theme: Uuid,
    delivery: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from email_deliveries where id = $1 and theme_id = $2)",
    )
    .bind(delivery)
    .bind(theme)
    .fetch_one(conn)
    .await
}

/// The email deliveries of a theme's syntheses, newest first (300 at most).
pub async fn deliveries(conn: &mut PgConnection, theme: Uuid) -> sqlx::Result<Vec<DeliveryRow>> {
    sqlx::query_as(
        "select id, synthesis_id, recipient, status, reason, attempts, last_error, sent_at,
             created_at
         from email_deliveries where theme_id = $1 order by created_at desc, recipient limit 300",
    )
    .bind(theme)
    .fetch_all(conn)
    .await
}
