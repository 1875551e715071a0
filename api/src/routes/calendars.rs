//! Saved calendars (seed 000): read them with their runs, edit entries by hand, accept a
//! regeneration's changes, export. All in the `{data, error, meta}` envelope, owner only.

use almanac_shared::{
    calendars::{self, RunRef, Selection},
    db,
    domain::calendar::{self, CalendarSpec, Entry, EntryContent, ExportEntry, Slot},
};
use chrono::{DateTime, NaiveDate, Utc};
use poem::{IntoResponse, Response, web::Data};
use poem_openapi::{
    ApiResponse, Enum, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
};
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use super::{Tag, clamp_limit, jobs::Meta, paginate};
use crate::{
    auth::BearerAuth,
    error::{ApiError, ApiResult},
    middleware::current_request_id,
    state::AppState,
};

fn meta() -> Meta {
    Meta {
        request_id: current_request_id(),
    }
}

/// A saved entry.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct CalendarEntry {
    pub id: Uuid,
    /// The slot key (`YYYY-MM-DD/<channel>/<n>`), or `manual/<id>`.
    pub key: String,
    pub channel: String,
    /// Local date and time (`HH:MM`) in the calendar's time zone.
    pub date: NaiveDate,
    pub time: String,
    pub scheduled_at: DateTime<Utc>,
    pub title: String,
    pub caption: String,
    pub format: String,
    pub hashtags: Vec<String>,
    pub call_to_action: String,
    /// `generated` or `manual`.
    pub origin: String,
    /// Changed by hand: a regeneration never overwrites it without the user's accept.
    pub edited: bool,
    pub edited_at: Option<DateTime<Utc>>,
    /// The run whose content it holds.
    pub run_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

const ENTRY_COLUMNS: &str = "c.id, c.key, c.channel, c.local_date as date,
    to_char(c.local_time, 'HH24:MI') as time, c.scheduled_at, c.title, c.caption, c.format,
    c.hashtags, c.call_to_action, c.origin, c.edited, c.edited_at, c.run_id, c.updated_at";

/// One generation run of a calendar.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct CalendarRun {
    pub id: Uuid,
    pub version: i32,
    /// `service` or `legacy`.
    pub mode: String,
    /// `pending`, `running`, `succeeded`, `failed`, `timeout` or `cancelled`.
    pub status: String,
    pub job_id: Option<Uuid>,
    pub request: Value,
    pub slots: i32,
    pub entries: i32,
    pub latency_ms: Option<i64>,
    pub tokens: i32,
    pub model: Option<String>,
    pub error: Option<Value>,
    /// A regeneration's change counts `{added, updated, removed, conflicts}`.
    pub diff: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const RUN_COLUMNS: &str = "r.id, r.version, r.mode, r.status, r.job_id, r.request, r.slots,
    r.entries, r.latency_ms, r.tokens_input + r.tokens_output as tokens, r.model, r.error,
    r.diff, r.created_at, r.finished_at";

#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct CalendarSummary {
    pub id: Uuid,
    pub name: String,
    /// The latest request: `{channels, cadence, start, end, constraints}`.
    pub request: Value,
    pub current_version: i32,
    /// Saved entries (deleted ones not counted).
    pub entries: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const CALENDAR_COLUMNS: &str = "k.id, k.name, k.request, k.current_version,
    (select count(*) from calendar_entries c where c.calendar_id = k.id and c.deleted_at is null)
        as entries, k.created_at, k.updated_at";

#[derive(Debug, Clone, Object)]
pub struct CalendarDetail {
    pub calendar: CalendarSummary,
    /// The saved entries, by time.
    pub entries: Vec<CalendarEntry>,
    /// Runs, newest first.
    pub runs: Vec<CalendarRun>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarPage {
    pub items: Vec<CalendarSummary>,
    pub next_cursor: Option<Uuid>,
}

/// A change a regeneration proposes.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct CalendarChange {
    pub id: Uuid,
    /// `added`, `updated` or `removed`.
    pub kind: String,
    pub key: String,
    /// Applying it overwrites or removes the user's edit; `all` never applies it.
    pub conflict: bool,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub applied_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
pub struct RunDetail {
    pub run: CalendarRun,
    pub changes: Vec<CalendarChange>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct EntryPatch {
    pub title: Option<String>,
    pub caption: Option<String>,
    pub format: Option<String>,
    pub hashtags: Option<Vec<String>>,
    pub call_to_action: Option<String>,
    /// Move it: a new local date (`YYYY-MM-DD`) and/or time (`HH:MM`).
    pub date: Option<String>,
    pub time: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewEntry {
    pub channel: String,
    pub date: String,
    /// `HH:MM`; 09:00 when absent.
    pub time: Option<String>,
    pub title: String,
    pub caption: Option<String>,
    pub format: Option<String>,
    pub hashtags: Option<Vec<String>>,
    pub call_to_action: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AcceptRequest {
    /// The changes to apply, conflicts included.
    pub change_ids: Option<Vec<Uuid>>,
    /// Apply every change that touches no edited or deleted entry.
    pub all: Option<bool>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Accepted {
    pub run_id: Uuid,
    /// The changes applied by this request; already applied ones are not repeated.
    pub applied: Vec<Uuid>,
    /// Saved entries after applying.
    pub entries: i64,
}

macro_rules! envelope {
    ($name:ident, $data:ty) => {
        #[derive(Debug, Clone, Object)]
        pub struct $name {
            pub data: $data,
            /// Always null on success.
            pub error: Option<Value>,
            pub meta: Meta,
        }

        impl $name {
            fn of(data: $data) -> Json<Self> {
                Json(Self {
                    data,
                    error: None,
                    meta: meta(),
                })
            }
        }
    };
}

envelope!(CalendarPageEnvelope, CalendarPage);
envelope!(CalendarDetailEnvelope, CalendarDetail);
envelope!(RunDetailEnvelope, RunDetail);
envelope!(EntryEnvelope, CalendarEntry);
envelope!(AcceptedEnvelope, Accepted);

#[derive(ApiResponse)]
pub enum Created {
    #[oai(status = 201)]
    Created(Json<EntryEnvelope>),
}

#[derive(ApiResponse)]
pub enum Deleted {
    /// Deleted; a regeneration will not bring it back.
    #[oai(status = 204)]
    Deleted,
}

#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum CalendarExportFormat {
    Ics,
    Csv,
    Json,
}

pub struct CalendarsApi;

#[OpenApi(tag = "Tag::Calendars")]
impl CalendarsApi {
    /// The caller's calendars, newest first.
    #[oai(path = "/v1/calendars", method = "get", operation_id = "listCalendars")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        /// Page size, 1-100 (default 20).
        limit: Query<Option<u32>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> ApiResult<Json<CalendarPageEnvelope>> {
        let limit = clamp_limit(limit.0);
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let rows: Vec<CalendarSummary> = sqlx::query_as(AssertSqlSafe(format!(
            "select {CALENDAR_COLUMNS} from calendars k
             where ($1::uuid is null or k.id < $1) order by k.id desc limit $2"
        )))
        .bind(cursor.0)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let (items, next_cursor) = paginate(rows, limit, |c| c.id);
        Ok(CalendarPageEnvelope::of(CalendarPage {
            items,
            next_cursor,
        }))
    }

    /// A calendar: its saved entries (manual edits included), current version and runs.
    #[oai(
        path = "/v1/calendars/:id",
        method = "get",
        operation_id = "getCalendar"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<CalendarDetailEnvelope>> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let calendar = summary(&mut tx, id.0).await?;
        let entries = saved(&mut tx, id.0).await?;
        let runs: Vec<CalendarRun> = sqlx::query_as(AssertSqlSafe(format!(
            "select {RUN_COLUMNS} from calendar_runs r where r.calendar_id = $1 order by r.version desc"
        )))
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(CalendarDetailEnvelope::of(CalendarDetail {
            calendar,
            entries,
            runs,
        }))
    }

    /// One run with the changes it proposes (a regeneration) and whether each is applied.
    #[oai(
        path = "/v1/calendars/:id/runs/:run_id",
        method = "get",
        operation_id = "getCalendarRun"
    )]
    async fn run(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<Uuid>,
        run_id: Path<Uuid>,
    ) -> ApiResult<Json<RunDetailEnvelope>> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let run = run_of(&mut tx, id.0, run_id.0).await?;
        let changes: Vec<CalendarChange> = sqlx::query_as(
            "select id, kind, key, conflict, before, after, applied_at from calendar_changes
             where run_id = $1 order by position",
        )
        .bind(run_id.0)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RunDetailEnvelope::of(RunDetail { run, changes }))
    }

    /// Edit an entry by hand. It is marked edited: a regeneration will propose changes to
    /// it only as conflicts, which apply only when accepted one by one.
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id",
        method = "patch",
        operation_id = "editCalendarEntry"
    )]
    async fn edit(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
        body: Json<EntryPatch>,
    ) -> ApiResult<Json<EntryEnvelope>> {
        let patch = body.0;
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let current = entry(&mut tx, id.0, entry_id.0).await?;
        let mut content = EntryContent {
            title: patch.title.unwrap_or(current.title),
            caption: patch.caption.unwrap_or(current.caption),
            format: patch.format.unwrap_or(current.format),
            hashtags: patch.hashtags.unwrap_or(current.hashtags),
            call_to_action: patch.call_to_action.unwrap_or(current.call_to_action),
        };
        content.validate().map_err(ApiError::invalid)?;
        content.normalise_hashtags();
        let date = match &patch.date {
            Some(raw) => calendar::parse_date("date", raw).map_err(ApiError::invalid)?,
            None => current.date,
        };
        let time = calendar::parse_time("time", patch.time.as_deref().unwrap_or(&current.time))
            .map_err(ApiError::invalid)?;
        let scheduled_at = calendar::to_utc(timezone(&mut tx, id.0).await?, date, time);
        let row: CalendarEntry = sqlx::query_as(AssertSqlSafe(format!(
            "update calendar_entries c set title = $3, caption = $4, format = $5, hashtags = $6,
                    call_to_action = $7, local_date = $8, local_time = $9, scheduled_at = $10,
                    edited = true, edited_at = now(), updated_at = now()
             where c.calendar_id = $1 and c.id = $2 and c.deleted_at is null
             returning {ENTRY_COLUMNS}"
        )))
        .bind(id.0)
        .bind(entry_id.0)
        .bind(&content.title)
        .bind(&content.caption)
        .bind(&content.format)
        .bind(&content.hashtags)
        .bind(&content.call_to_action)
        .bind(date)
        .bind(time)
        .bind(scheduled_at)
        .fetch_one(&mut *tx)
        .await?;
        touch(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(EntryEnvelope::of(row))
    }

    /// Add an entry by hand; regenerations never change or remove it.
    #[oai(
        path = "/v1/calendars/:id/entries",
        method = "post",
        operation_id = "addCalendarEntry"
    )]
    async fn add(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: Json<NewEntry>,
    ) -> ApiResult<Created> {
        let new = body.0;
        let channel = calendar::Channel::parse(&new.channel)
            .map_err(|reason| ApiError::invalid_field("channel", reason))?;
        let date = calendar::parse_date("date", &new.date).map_err(ApiError::invalid)?;
        let time = calendar::parse_time("time", new.time.as_deref().unwrap_or("09:00"))
            .map_err(ApiError::invalid)?;
        let mut content = EntryContent {
            title: new.title,
            caption: new.caption.unwrap_or_default(),
            format: new.format.unwrap_or_default(),
            hashtags: new.hashtags.unwrap_or_default(),
            call_to_action: new.call_to_action.unwrap_or_default(),
        };
        content.validate().map_err(ApiError::invalid)?;
        content.normalise_hashtags();
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let scheduled_at = calendar::to_utc(timezone(&mut tx, id.0).await?, date, time);
        let entry_id = Uuid::now_v7();
        let row: CalendarEntry = sqlx::query_as(AssertSqlSafe(format!(
            "insert into calendar_entries as c (id, calendar_id, user_id, key, channel, local_date,
                 local_time, scheduled_at, title, caption, format, hashtags, call_to_action,
                 origin, edited, edited_at)
             values ($1, $2, app_user_id(), 'manual/' || $1, $3, $4, $5, $6, $7, $8, $9, $10, $11,
                 'manual', true, now())
             returning {ENTRY_COLUMNS}"
        )))
        .bind(entry_id)
        .bind(id.0)
        .bind(channel.as_str())
        .bind(date)
        .bind(time)
        .bind(scheduled_at)
        .bind(&content.title)
        .bind(&content.caption)
        .bind(&content.format)
        .bind(&content.hashtags)
        .bind(&content.call_to_action)
        .fetch_one(&mut *tx)
        .await?;
        touch(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(Created::Created(EntryEnvelope::of(row)))
    }

    /// Delete an entry. It stays deleted: a regeneration does not bring it back.
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id",
        method = "delete",
        operation_id = "deleteCalendarEntry"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let deleted = sqlx::query(
            "update calendar_entries set deleted_at = now(), updated_at = now()
             where calendar_id = $1 and id = $2 and deleted_at is null",
        )
        .bind(id.0)
        .bind(entry_id.0)
        .execute(&mut *tx)
        .await?;
        if deleted.rows_affected() == 0 {
            return Err(ApiError::not_found("entry"));
        }
        touch(&mut tx, id.0).await?;
        tx.commit().await?;
        Ok(Deleted::Deleted)
    }

    /// Apply a regeneration's changes: `changeIds` (conflicts included: the user chose
    /// them), or `all: true` for every change that touches no edited or deleted entry.
    /// A change already applied is skipped, so accepting twice is harmless.
    #[oai(
        path = "/v1/calendars/:id/runs/:run_id/accept",
        method = "post",
        operation_id = "acceptCalendarChanges"
    )]
    async fn accept(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<Uuid>,
        run_id: Path<Uuid>,
        body: Json<AcceptRequest>,
    ) -> ApiResult<Json<AcceptedEnvelope>> {
        let selection = match (body.0.change_ids, body.0.all) {
            (Some(ids), None | Some(false)) if !ids.is_empty() => Selection::Ids(ids),
            (None, Some(true)) => Selection::AllSafe,
            _ => {
                return Err(ApiError::bad_request(
                    "give either a non-empty `changeIds` or `all: true`",
                    None,
                ));
            }
        };
        let user = auth.0.id;
        let mut tx = db::user_tx(&state.pool, user).await?;
        let run = run_of(&mut tx, id.0, run_id.0).await?;
        if matches!(run.status.as_str(), "pending" | "running") {
            return Err(ApiError::conflict(
                "RUN_NOT_FINISHED",
                "this run is still generating; accept its changes once it has ended",
            ));
        }
        let run = RunRef {
            id: run_id.0,
            calendar_id: id.0,
            user_id: user,
        };
        let applied = calendars::apply_changes(&mut tx, run, &selection).await?;
        let entries = summary(&mut tx, id.0).await?.entries;
        tx.commit().await?;
        tracing::info!(calendarId = %id.0, runId = %run_id.0, applied = applied.len(), "calendar changes accepted");
        Ok(AcceptedEnvelope::of(Accepted {
            run_id: run_id.0,
            applied,
            entries,
        }))
    }

    /// Export the saved entries (manual edits included): `ics` (RFC 5545, for calendar
    /// applications), `csv` or `json`.
    #[oai(
        path = "/v1/calendars/:id/export",
        method = "get",
        operation_id = "exportCalendar"
    )]
    async fn export(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<Uuid>,
        /// `ics`, `csv` or `json`.
        format: Query<CalendarExportFormat>,
    ) -> ApiResult<Export> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let calendar = summary(&mut tx, id.0).await?;
        let entries = saved(&mut tx, id.0).await?;
        tx.commit().await?;
        let exported: Vec<ExportEntry> = entries.iter().map(export_entry).collect();
        let stem = format!("calendar-{}", id.0);
        Ok(match format.0 {
            CalendarExportFormat::Ics => Export {
                content_type: "text/calendar; charset=utf-8",
                filename: format!("{stem}.ics"),
                body: calendar::to_ics(id.0, &calendar.name, &exported, Utc::now()),
            },
            CalendarExportFormat::Csv => Export {
                content_type: "text/csv; charset=utf-8",
                filename: format!("{stem}.csv"),
                body: calendar::to_csv(&exported),
            },
            CalendarExportFormat::Json => Export {
                content_type: "application/json; charset=utf-8",
                filename: format!("{stem}.json"),
                body: serde_json::json!({
                    "data": { "calendar": poem_openapi::types::ToJSON::to_json(&calendar),
                              "entries": entries.iter().map(poem_openapi::types::ToJSON::to_json).collect::<Vec<_>>() },
                    "error": null,
                    "meta": { "requestId": current_request_id() },
                })
                .to_string(),
            },
        })
    }
}

fn export_entry(e: &CalendarEntry) -> ExportEntry {
    ExportEntry {
        id: e.id,
        entry: Entry {
            slot: Slot {
                key: e.key.clone(),
                channel: e.channel.clone(),
                date: e.date,
                time: chrono::NaiveTime::parse_from_str(&e.time, "%H:%M").unwrap_or_default(),
                scheduled_at: e.scheduled_at,
            },
            content: EntryContent {
                title: e.title.clone(),
                caption: e.caption.clone(),
                format: e.format.clone(),
                hashtags: e.hashtags.clone(),
                call_to_action: e.call_to_action.clone(),
            },
        },
        edited: e.edited,
        manual: e.origin == "manual",
        updated_at: e.updated_at,
    }
}

async fn summary(conn: &mut PgConnection, id: Uuid) -> ApiResult<CalendarSummary> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {CALENDAR_COLUMNS} from calendars k where k.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::not_found("calendar"))
}

async fn saved(conn: &mut PgConnection, id: Uuid) -> ApiResult<Vec<CalendarEntry>> {
    Ok(sqlx::query_as(AssertSqlSafe(format!(
        "select {ENTRY_COLUMNS} from calendar_entries c
         where c.calendar_id = $1 and c.deleted_at is null order by c.scheduled_at, c.key"
    )))
    .bind(id)
    .fetch_all(conn)
    .await?)
}

async fn entry(conn: &mut PgConnection, calendar_id: Uuid, id: Uuid) -> ApiResult<CalendarEntry> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {ENTRY_COLUMNS} from calendar_entries c
         where c.calendar_id = $1 and c.id = $2 and c.deleted_at is null"
    )))
    .bind(calendar_id)
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::not_found("entry"))
}

async fn run_of(
    conn: &mut PgConnection,
    calendar_id: Uuid,
    run_id: Uuid,
) -> ApiResult<CalendarRun> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {RUN_COLUMNS} from calendar_runs r where r.calendar_id = $1 and r.id = $2"
    )))
    .bind(calendar_id)
    .bind(run_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| ApiError::not_found("run"))
}

/// The calendar's time zone (404 when the calendar is not the caller's).
async fn timezone(conn: &mut PgConnection, id: Uuid) -> ApiResult<chrono_tz::Tz> {
    let request: Option<sqlx::types::Json<Value>> =
        sqlx::query_scalar("select request from calendars where id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    let request = request.ok_or_else(|| ApiError::not_found("calendar"))?;
    Ok(CalendarSpec::from_json(&request.0)
        .map(|spec| spec.constraints.timezone)
        .unwrap_or(chrono_tz::UTC))
}

async fn touch(conn: &mut PgConnection, id: Uuid) -> ApiResult<()> {
    sqlx::query("update calendars set updated_at = now() where id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// An exported file.
pub struct Export {
    content_type: &'static str,
    filename: String,
    body: String,
}

impl ApiResponse for Export {
    fn meta() -> MetaResponses {
        let text =
            || MetaSchemaRef::Inline(Box::new(poem_openapi::registry::MetaSchema::new("string")));
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The calendar in the requested format, as an attachment.",
                status: Some(200),
                status_range: None,
                content: ["text/calendar", "text/csv", "application/json"]
                    .into_iter()
                    .map(|content_type| MetaMediaType {
                        content_type,
                        schema: text(),
                    })
                    .collect(),
                headers: vec![],
            }],
        }
    }

    fn register(_: &mut Registry) {}
}

impl IntoResponse for Export {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type(self.content_type)
            .header(
                "content-disposition",
                format!("attachment; filename=\"{}\"", self.filename),
            )
            .body(self.body)
    }
}
