//! The saved-calendar routes' wire types: entries, runs, changes, their envelopes, the
//! columns they are read from, the exported file, and a calendar's feed.

use almanac_shared::store::calendars::{CalendarRow, ChangeRow, EntryRow, PendingRow, RunRow};
use almanac_shared::{
    domain::calendar::{
        CAPTION_MAX, CTA_MAX, ChangeKind, Entry, EntryContent, ExportEntry, FIRST_COMMENT_MAX,
        FORMAT_MAX, HASHTAG_MAX, Slot, TITLE_MAX,
    },
    jobs::JobStatus,
};
use chrono::{DateTime, NaiveDate, Utc};
use poem::{IntoResponse, Response};
use poem_openapi::{
    ApiResponse, Enum, Object,
    payload::PlainText,
    registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry},
    types::Type,
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    envelope::Envelope,
    text::{ClockTime, Hashtag, IsoDate, Text},
};

/// A saved entry.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarEntry {
    pub id: Uuid,
    /// The slot key (`YYYY-MM-DD/<channel>/<n>`), or `manual/<id>`.
    pub key: String,
    pub channel: String,
    /// The connected channel it publishes to, once one was chosen (the composer, the
    /// posting queue, a publish's `channels`); `channel` stays the platform's name.
    #[oai(nullable)]
    pub channel_id: Option<Uuid>,
    /// Local date and time (`HH:MM`) in the calendar's time zone.
    pub date: NaiveDate,
    pub time: String,
    pub scheduled_at: DateTime<Utc>,
    pub title: String,
    pub caption: String,
    pub format: String,
    pub hashtags: Vec<String>,
    pub call_to_action: String,
    /// Media hosted elsewhere that a publish sends (`video_url` / `image_url`), when the
    /// entry names no uploaded media.
    #[oai(nullable)]
    pub media_url: Option<String>,
    /// Uploaded media (`POST /v1/media`) a publish sends, in order; used before
    /// `mediaUrl`.
    pub media_ids: Vec<Uuid>,
    /// The organic placement it came from (`POST
    /// /api/organic/brands/{id}/weeks/{weekStart}/calendar`); null otherwise.
    #[oai(nullable)]
    pub placement_id: Option<String>,
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
    /// The person who made it: a workspace member's id (`GET /v1/workspaces/{id}/members`).
    pub created_by: Uuid,
    /// The person on whose behalf it last changed: the member who edited it, or whose
    /// generation or publish changed it.
    pub updated_by: Uuid,
    /// Counts every change of the entry: its `ETag` is `"<version>"`. Send it as
    /// `If-Match` with a `PATCH` so that a teammate's change made since is never
    /// overwritten silently (412 `EDIT_CONFLICT`).
    pub version: i64,
    /// Its review before publishing (`POST .../entries/{entryId}/review`).
    pub review: crate::routes::review::ReviewView,
    /// What made it and how (the model and prompt of a generated one, the key of one made
    /// through the API), who last edited it, and who approved which version.
    pub provenance: almanac_shared::domain::review::Provenance,
    /// Said under the post once it is published, where the platform takes a first comment
    /// (`""`: none).
    pub first_comment: String,
    /// The post it is one network's entry of (`POST /v1/calendars/{id}/posts`); null for
    /// an entry of its own.
    #[oai(nullable)]
    pub post_id: Option<Uuid>,
}

/// One generation run of a calendar.
#[derive(Debug, Clone, Object)]
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
    /// A regeneration's change counts `{added, updated, removed, conflicts}` (a
    /// continuation's: only `added`).
    #[oai(nullable)]
    pub diff: Option<Value>,
    /// The run this one continued (`POST .../runs/{runId}/continue`).
    #[oai(nullable)]
    pub continues: Option<Uuid>,
    /// A continued regeneration's: the regeneration whose proposal its changes joined (the
    /// proposal reads and accepts through either run). Null otherwise.
    #[oai(nullable)]
    pub proposal_run_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarSummary {
    pub id: Uuid,
    pub name: String,
    /// The latest request: `{channels, cadence, start, end, constraints}`.
    pub request: Value,
    pub current_version: i32,
    /// Counts every change of the calendar and of its entries: its `ETag` is
    /// `"<version>"`, for `If-Match` on `PATCH /v1/calendars/{id}`.
    pub version: i64,
    /// Saved entries (deleted ones not counted).
    pub entries: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarDetail {
    pub calendar: CalendarSummary,
    /// The saved entries, by time.
    pub entries: Vec<CalendarEntry>,
    /// Runs, newest first.
    pub runs: Vec<CalendarRun>,
    /// The latest run's proposal while some of its changes are neither accepted nor
    /// superseded by a later run: read it with `GET .../runs/{runId}`, apply it with
    /// `.../accept`. Null otherwise.
    #[oai(nullable)]
    pub pending_run: Option<PendingRun>,
}

/// A regeneration's proposal still waiting for an answer.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PendingRun {
    pub run_id: Uuid,
    pub version: i32,
    /// Its changes not applied yet.
    pub changes: i64,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarPage {
    pub items: Vec<CalendarSummary>,
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}

/// A change a regeneration proposes.
#[derive(Debug, Clone, Object)]
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
    pub title: Option<Title>,
    #[oai(nullable)]
    pub caption: Option<Caption>,
    #[oai(nullable)]
    pub format: Option<Format>,
    #[oai(nullable, validator(max_items = 30))]
    pub hashtags: Option<Vec<EntryHashtag>>,
    #[oai(nullable)]
    pub call_to_action: Option<CallToAction>,
    /// Move it: a new local date and/or time.
    #[oai(nullable)]
    pub date: Option<IsoDate>,
    #[oai(nullable)]
    pub time: Option<ClockTime>,
    /// Media hosted elsewhere a publish sends: an http(s) URL; `""` removes it.
    #[oai(nullable)]
    pub media_url: Option<Text<0, 2048>>,
    /// Uploaded media a publish sends, in order (at most 35, the most any platform takes in one post; each the caller's: 422
    /// `VALIDATION_FAILED` with `details.field = "mediaIds"` otherwise); `[]` removes them.
    #[oai(nullable, validator(max_items = 35, unique_items))]
    pub media_ids: Option<Vec<Uuid>>,
    /// The connected channel it publishes to (`GET /v1/channels`), of the entry's platform
    /// (422 `VALIDATION_FAILED` with `details.field = "channelId"` otherwise): its review
    /// policy applies to the entry.
    #[oai(nullable)]
    pub channel_id: Option<Uuid>,
    /// Said under the post once it is published; `""` removes it. On an entry of a post, a
    /// field changed here becomes this network's own (the post's changes leave it).
    #[oai(nullable)]
    pub first_comment: Option<FirstComment>,
}

/// An entry's fields as sent (`EntryContent::validate` holds them to the same limits).
pub type Title = Text<1, { TITLE_MAX }>;
pub type Caption = Text<0, { CAPTION_MAX }>;
pub type Format = Text<0, { FORMAT_MAX }>;
pub type CallToAction = Text<0, { CTA_MAX }>;
pub type FirstComment = Text<0, { FIRST_COMMENT_MAX }>;
pub type EntryHashtag = Hashtag<{ HASHTAG_MAX }>;

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewEntry {
    /// A channel name: 1-32 of letters, digits, `-`, `_`, starting with a letter or digit,
    /// surrounding spaces ignored; kept lowercase.
    #[oai(validator(pattern = "^\\s*[A-Za-z0-9][A-Za-z0-9_-]{0,31}\\s*$"))]
    pub channel: String,
    pub date: IsoDate,
    /// 09:00 when absent.
    #[oai(nullable)]
    pub time: Option<ClockTime>,
    pub title: Title,
    #[oai(nullable)]
    pub caption: Option<Caption>,
    #[oai(nullable)]
    pub format: Option<Format>,
    #[oai(nullable, validator(max_items = 30))]
    pub hashtags: Option<Vec<EntryHashtag>>,
    #[oai(nullable)]
    pub call_to_action: Option<CallToAction>,
    /// Media hosted elsewhere a publish sends (an http(s) URL).
    #[oai(nullable)]
    pub media_url: Option<Text<0, 2048>>,
    /// Uploaded media a publish sends, in order (at most 35, the most any platform takes in one post; each the caller's).
    #[oai(nullable, validator(max_items = 35, unique_items))]
    pub media_ids: Option<Vec<Uuid>>,
    /// The connected channel it publishes to, of its platform (`channel`).
    #[oai(nullable)]
    pub channel_id: Option<Uuid>,
    /// Said under the post once it is published, where the platform takes one.
    #[oai(nullable)]
    pub first_comment: Option<FirstComment>,
}

/// A calendar's own fields a user changes.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarPatch {
    /// 1-200 characters (spaces at either end not counted). Once set, a regeneration keeps
    /// it; a calendar never named keeps a default name (its topic, else its channels and
    /// dates) that follows each regeneration.
    pub name: Text<1, 200>,
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

crate::enveloped!(
    CalendarPage,
    CalendarSummary,
    CalendarDetail,
    RunDetail,
    CalendarEntry,
    Accepted
);

/// `meta` of a JSON export: what it is a copy of, and nothing that changes from one
/// download to the next (the request's id is in `X-Request-Id`), so the same saved
/// calendar always exports to the same bytes.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ExportMeta {
    pub calendar_id: Uuid,
    pub version: i32,
}

impl crate::envelope::Enveloped for ExportedCalendar {
    type Meta = ExportMeta;
}

pub type CalendarPageEnvelope = Envelope<CalendarPage>;
pub type CalendarDetailEnvelope = Envelope<CalendarDetail>;
pub type CalendarSummaryEnvelope = Envelope<CalendarSummary>;
pub type RunDetailEnvelope = Envelope<RunDetail>;
pub type EntryEnvelope = Envelope<CalendarEntry>;
pub type AcceptedEnvelope = Envelope<Accepted>;
pub type CalendarExportEnvelope = Envelope<ExportedCalendar>;

/// `?format=json`: the calendar and its saved entries.
#[derive(Debug, Clone, Object)]
pub struct ExportedCalendar {
    pub calendar: CalendarSummary,
    pub entries: Vec<CalendarEntry>,
}

crate::responses! {
    pub enum Deleted {
        /// Deleted; a regeneration will not bring it back.
        204 => Deleted,
    }
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
        sequence: None,
        publishing: None,
    }
}

/// An exported file, answered as an attachment (an organic week's export too).
pub struct Export {
    pub(crate) content_type: &'static str,
    pub(crate) filename: String,
    pub(crate) body: String,
}

impl ApiResponse for Export {
    fn meta() -> MetaResponses {
        let text =
            || MetaSchemaRef::Inline(Box::new(poem_openapi::registry::MetaSchema::new("string")));
        let media = |content_type, schema| MetaMediaType {
            content_type,
            schema,
        };
        MetaResponses {
            responses: vec![MetaResponse {
                description: "The calendar in the requested format, as an attachment.",
                status: Some(200),
                status_range: None,
                content: vec![
                    media("text/calendar", text()),
                    media("text/csv", text()),
                    media("application/json", CalendarExportEnvelope::schema_ref()),
                ],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        CalendarExportEnvelope::register(registry);
    }
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

/// A calendar's feed. `url` is given only when the feed is made: keep it (a calendar
/// application subscribes to it); make a new one if it is lost.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CalendarFeed {
    pub calendar_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// `<PUBLIC_BASE_URL>/feeds/<token>.ics`; shown once.
    #[oai(nullable)]
    pub url: Option<String>,
}

crate::enveloped!(CalendarFeed);

pub type CalendarFeedEnvelope = Envelope<CalendarFeed>;

crate::responses! {
    /// The feed's document, or that the subscriber's copy is current.
    pub enum FeedDocument {
        /// The calendar as iCalendar (RFC 5545, with RFC 7986's refresh interval).
        200 as "text/calendar; charset=utf-8" => Calendar(
            PlainText<String>,
            #[header = "ETag"] String,
            #[header = "Cache-Control"] String,
        ),
        /// `If-None-Match` names the current `ETag`: nothing changed.
        304 => NotModified(#[header = "ETag"] String, #[header = "Cache-Control"] String),
    }
}

crate::from_row!(CalendarRow => CalendarSummary {
    id,
    name,
    request,
    current_version,
    version,
    entries,
    created_at,
    updated_at,
});
crate::from_row!(EntryRow => CalendarEntry {
    id,
    key,
    channel,
    channel_id,
    date,
    time,
    scheduled_at,
    title,
    caption,
    format,
    hashtags,
    call_to_action,
    media_url,
    media_ids,
    placement_id,
    origin,
    edited,
    edited_at,
    run_id,
    updated_at,
    created_by,
    updated_by,
    version,
    review,
    provenance,
    first_comment,
    post_id,
});
crate::from_row!(RunRow => CalendarRun {
    id,
    version,
    mode,
    status,
    job_id,
    request,
    slots,
    entries,
    latency_ms,
    tokens,
    model,
    error,
    diff,
    continues,
    proposal_run_id,
    created_at,
    finished_at,
});
crate::from_row!(PendingRow => PendingRun { run_id, version, changes });
crate::from_row!(ChangeRow => CalendarChange {
    id,
    kind,
    key,
    conflict,
    before,
    after,
    applied_at,
});
