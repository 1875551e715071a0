//! The shapes of the saved-calendar endpoints: entries, runs, changes, their envelopes,
//! the columns they are read from, and the exported file.

use almanac_shared::{
    domain::calendar::{ChangeKind, Entry, EntryContent, ExportEntry, Slot},
    jobs::JobStatus,
};
use chrono::{DateTime, NaiveDate, Utc};
use poem::{IntoResponse, Response};
use poem_openapi::{
    ApiResponse, Enum, Object,
    payload::Json,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
};
use serde_json::Value;
use uuid::Uuid;

use crate::{middleware::current_request_id, routes::jobs::Meta};

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
    #[oai(nullable)]
    pub edited_at: Option<DateTime<Utc>>,
    /// The run whose content it holds.
    #[oai(nullable)]
    pub run_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

pub(super) const ENTRY_COLUMNS: &str = "c.id, c.key, c.channel, c.local_date as date,
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
    pub status: JobStatus,
    #[oai(nullable)]
    pub job_id: Option<Uuid>,
    pub request: Value,
    pub slots: i32,
    pub entries: i32,
    #[oai(nullable)]
    pub latency_ms: Option<i64>,
    pub tokens: i32,
    #[oai(nullable)]
    pub model: Option<String>,
    #[oai(nullable)]
    pub error: Option<Value>,
    /// A regeneration's change counts `{added, updated, removed, conflicts}`.
    #[oai(nullable)]
    pub diff: Option<Value>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub finished_at: Option<DateTime<Utc>>,
}

pub(super) const RUN_COLUMNS: &str =
    "r.id, r.version, r.mode, r.status, r.job_id, r.request, r.slots,
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

pub(super) const CALENDAR_COLUMNS: &str = "k.id, k.name, k.request, k.current_version,
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
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}

/// A change a regeneration proposes.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct CalendarChange {
    pub id: Uuid,
    pub kind: ChangeKind,
    pub key: String,
    /// Applying it overwrites or removes the user's edit; `all` never applies it.
    pub conflict: bool,
    #[oai(nullable)]
    pub before: Option<Value>,
    #[oai(nullable)]
    pub after: Option<Value>,
    #[oai(nullable)]
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
    #[oai(nullable)]
    pub title: Option<String>,
    #[oai(nullable)]
    pub caption: Option<String>,
    #[oai(nullable)]
    pub format: Option<String>,
    #[oai(nullable)]
    pub hashtags: Option<Vec<String>>,
    #[oai(nullable)]
    pub call_to_action: Option<String>,
    /// Move it: a new local date (`YYYY-MM-DD`) and/or time (`HH:MM`).
    #[oai(nullable)]
    pub date: Option<String>,
    #[oai(nullable)]
    pub time: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewEntry {
    pub channel: String,
    pub date: String,
    /// `HH:MM`; 09:00 when absent.
    #[oai(nullable)]
    pub time: Option<String>,
    pub title: String,
    #[oai(nullable)]
    pub caption: Option<String>,
    #[oai(nullable)]
    pub format: Option<String>,
    #[oai(nullable)]
    pub hashtags: Option<Vec<String>>,
    #[oai(nullable)]
    pub call_to_action: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AcceptRequest {
    /// The changes to apply, conflicts included.
    #[oai(nullable)]
    pub change_ids: Option<Vec<Uuid>>,
    /// Apply every change that touches no edited or deleted entry.
    #[oai(nullable)]
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
            pub(super) fn of(data: $data) -> Json<Self> {
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

/// A saved entry as the export functions take it.
pub(super) fn export_entry(e: &CalendarEntry) -> ExportEntry {
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

/// An exported file.
pub struct Export {
    pub(super) content_type: &'static str,
    pub(super) filename: String,
    pub(super) body: String,
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
