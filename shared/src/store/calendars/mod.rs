//! The calendar family's SQL: calendars as their owner reads and edits them (summaries,
//! saved entries, runs and their proposed changes, manual entries, edits and deletions),
//! and what a run writes (`runs.rs`, shared by the worker and the API's legacy path).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, types::Json};
use uuid::Uuid;

use crate::domain::{
    calendar::{ChangeKind, EntryContent},
    publish::Post,
};
use crate::jobs::JobStatus;

pub mod feeds;
mod learning;
mod naming;
mod runs;

pub use learning::learn_from_results;
pub use naming::CalendarName;
pub use runs::*;

pub(crate) const ENTRY_COLUMNS: &str = concat!(
    "c.id, c.key, c.channel, c.channel_id, c.local_date as date,
    to_char(c.local_time, 'HH24:MI') as time, c.scheduled_at, c.title, c.caption, c.format,
    c.hashtags, c.call_to_action, c.media_url, c.media_ids, c.placement_id, c.origin, c.edited, c.edited_at, c.run_id, c.updated_at,
    c.user_id as created_by, c.updated_by, c.version, entry_provenance(c) as provenance,
    c.first_comment, c.post_id, ",
    crate::review_columns!()
);
const RUN_COLUMNS: &str = "r.id, r.version, r.mode, r.status, r.job_id, r.request, r.slots,
    r.entries, r.latency_ms, r.tokens_input + r.tokens_output as tokens, r.model, r.error,
    r.diff, r.continues, r.proposal_run_id, r.created_at, r.finished_at";
const CALENDAR_COLUMNS: &str = "k.id, k.name, k.request, k.current_version, k.version,
    (select count(*) from calendar_entries c where c.calendar_id = k.id and c.deleted_at is null)
        as entries, k.created_at, k.updated_at";

/// A calendar as its owner's list reads it: its latest request and its saved entries'
/// count.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CalendarRow {
    pub id: Uuid,
    pub name: String,
    pub request: Value,
    pub current_version: i32,
    /// Counts every change (its `ETag`).
    pub version: i64,
    pub entries: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A saved entry, its local time as `HH:MM`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EntryRow {
    pub id: Uuid,
    pub key: String,
    pub channel: String,
    /// Its connected channel, when one was chosen.
    pub channel_id: Option<Uuid>,
    pub date: NaiveDate,
    pub time: String,
    pub scheduled_at: DateTime<Utc>,
    pub title: String,
    pub caption: String,
    pub format: String,
    pub hashtags: Vec<String>,
    pub call_to_action: String,
    pub media_url: Option<String>,
    /// The media posted with it, in order (`media`'s ids).
    pub media_ids: Vec<Uuid>,
    /// The organic placement it came from, when a week was added to the calendar.
    pub placement_id: Option<String>,
    pub origin: String,
    pub edited: bool,
    pub edited_at: Option<DateTime<Utc>>,
    pub run_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    /// The person who made it.
    pub created_by: Uuid,
    /// The person on whose behalf it last changed.
    pub updated_by: Uuid,
    /// Counts every change (its `ETag`).
    pub version: i64,
    #[sqlx(flatten)]
    pub review: super::review::ReviewColumns,
    /// What made it, and its review (`entry_provenance`).
    #[sqlx(json)]
    pub provenance: crate::domain::review::Provenance,
    /// Said under the post once it is published, where the platform takes one.
    pub first_comment: String,
    /// The post it is one network's entry of.
    pub post_id: Option<Uuid>,
}

/// A generation run of a calendar.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: Uuid,
    pub version: i32,
    pub mode: String,
    pub status: JobStatus,
    pub job_id: Option<Uuid>,
    pub request: Value,
    pub slots: i32,
    pub entries: i32,
    pub latency_ms: Option<i64>,
    pub tokens: i32,
    pub model: Option<String>,
    pub error: Option<Value>,
    pub diff: Option<Value>,
    pub continues: Option<Uuid>,
    /// A continued regeneration's: the regeneration whose proposal its changes join.
    pub proposal_run_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A regeneration's proposal still waiting for an answer: its run, version, and how many
/// of its changes are not applied.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingRow {
    pub run_id: Uuid,
    pub version: i32,
    pub changes: i64,
}

/// A change a regeneration proposes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeRow {
    pub id: Uuid,
    pub kind: ChangeKind,
    pub key: String,
    pub conflict: bool,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub applied_at: Option<DateTime<Utc>>,
}

/// Where an entry goes: its local date and time and the moment they are in UTC.
pub struct Placement {
    pub date: NaiveDate,
    pub time: NaiveTime,
    pub scheduled_at: DateTime<Utc>,
}

/// The caller's calendars before `cursor` (newest first), at most `limit`.
pub async fn list(
    conn: &mut PgConnection,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<CalendarRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {CALENDAR_COLUMNS} from calendars k
         where ($1::uuid is null or k.id < $1) order by k.id desc limit $2"
    )))
    .bind(cursor)
    .bind(limit)
    .fetch_all(conn)
    .await
}

pub async fn summary(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<CalendarRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {CALENDAR_COLUMNS} from calendars k where k.id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The calendar's request as stored (its constraints give the time zone).
pub async fn request(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Value>> {
    let request: Option<Json<Value>> =
        sqlx::query_scalar("select request from calendars where id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(request.map(|r| r.0))
}

/// A calendar entry as publishing reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Publishable {
    pub id: Uuid,
    pub channel: String,
    pub run_id: Option<Uuid>,
    pub title: String,
    pub caption: String,
    pub call_to_action: String,
    pub hashtags: Vec<String>,
    pub format: String,
    pub media_url: Option<String>,
    pub scheduled_at: DateTime<Utc>,
    /// The hash of what it publishes as read (`content_hash`): the post built from this
    /// read is what it names.
    pub content_hash: String,
    /// Approved at this content.
    pub approved: bool,
    /// The uploaded media it names, in order (those deleted since left out).
    pub uploads: sqlx::types::Json<Vec<StoredUpload>>,
    /// The comment to send under the post once it is out (empty: none).
    pub first_comment: String,
}

/// An uploaded media an entry names, as publishing reads it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredUpload {
    pub id: Uuid,
    pub kind: crate::domain::publish::post::MediaKind,
    pub mime: String,
    pub alt_text: String,
    pub object_key: String,
    pub jpeg_key: Option<String>,
    /// A video's length and an upload's width, as its file says.
    #[serde(default)]
    pub duration_ms: Option<i32>,
    #[serde(default)]
    pub width: Option<i32>,
}

impl Publishable {
    /// The post the entry makes with its `mediaUrl`; `publish::uploads::post` sends its
    /// uploads instead, in the copy each platform takes.
    pub fn post(&self) -> Post {
        Post::of_entry(
            self.id,
            &self.title,
            &self.caption,
            &self.call_to_action,
            &self.hashtags,
            &self.format,
            self.media_url.as_deref(),
        )
        .with_first_comment(&self.first_comment)
    }
}

const PUBLISHABLE_COLUMNS: &str = "id, channel, run_id, title, caption, call_to_action,
    hashtags, format, media_url, scheduled_at, content_hash, first_comment,
    coalesce(review_status = 'approved' and approved_hash = content_hash, false) as approved,
    coalesce((select json_agg(json_build_object('id', m.id, 'kind', m.kind, 'mime', m.mime,
                                                'altText', m.alt_text, 'objectKey', m.object_key,
                                                'jpegKey', m.jpeg_key,
                                                'durationMs', m.duration_ms,
                                                'width', m.width) order by w.n)
              from unnest(media_ids) with ordinality w (id, n) join media m on m.id = w.id),
             '[]') as uploads";

/// The calendar's live entries (those of `selected`, when given), by time.
pub async fn publishable_entries(
    conn: &mut PgConnection,
    calendar: Uuid,
    selected: Option<&[Uuid]>,
) -> sqlx::Result<Vec<Publishable>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {PUBLISHABLE_COLUMNS} from calendar_entries
         where calendar_id = $1 and deleted_at is null and ($2::uuid[] is null or id = any($2))
         order by scheduled_at, key"
    )))
    .bind(calendar)
    .bind(selected)
    .fetch_all(conn)
    .await
}

/// The workspace's entry `id` as saved now; `None` when it was deleted.
pub async fn publishable_entry<'e>(
    db: impl sqlx::PgExecutor<'e>,
    id: Uuid,
    workspace: Uuid,
) -> sqlx::Result<Option<Publishable>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {PUBLISHABLE_COLUMNS} from calendar_entries
         where id = $1 and workspace_id = $2 and deleted_at is null"
    )))
    .bind(id)
    .bind(workspace)
    .fetch_optional(db)
    .await
}

/// Marks the calendar changed.
pub async fn touch(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("update calendars set updated_at = now() where id = $1")
        .bind(id)
        .execute(conn)
        .await
        .map(drop)
}

/// A row's version, with who last changed it and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct Stamp {
    pub version: i64,
    pub updated_by: Uuid,
    pub updated_at: DateTime<Utc>,
}

/// The live entry's [`Stamp`], locking it until the transaction ends: a change made after a
/// version check here cannot be overtaken by another's.
pub async fn lock_entry(
    conn: &mut PgConnection,
    calendar: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<Stamp>> {
    sqlx::query_as(
        "select version, updated_by, updated_at from calendar_entries
         where calendar_id = $1 and id = $2 and deleted_at is null for update",
    )
    .bind(calendar)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The calendar's [`Stamp`], locking it until the transaction ends.
pub async fn lock_calendar(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Stamp>> {
    sqlx::query_as("select version, updated_by, updated_at from calendars where id = $1 for update")
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The calendar's saved entries, in time order.
pub async fn saved(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Vec<EntryRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {ENTRY_COLUMNS} from calendar_entries c
         where c.calendar_id = $1 and c.deleted_at is null order by c.scheduled_at, c.key"
    )))
    .bind(id)
    .fetch_all(conn)
    .await
}

pub async fn entry(
    conn: &mut PgConnection,
    calendar: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<EntryRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {ENTRY_COLUMNS} from calendar_entries c
         where c.calendar_id = $1 and c.id = $2 and c.deleted_at is null"
    )))
    .bind(calendar)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The live entries of `calendar` among `ids`, in time order.
pub async fn entries_by_ids(
    conn: &mut PgConnection,
    calendar: Uuid,
    ids: &[Uuid],
) -> sqlx::Result<Vec<EntryRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {ENTRY_COLUMNS} from calendar_entries c
         where c.calendar_id = $1 and c.id = any ($2) and c.deleted_at is null
         order by c.scheduled_at, c.key"
    )))
    .bind(calendar)
    .bind(ids)
    .fetch_all(conn)
    .await
}

/// An entry's media: uploaded media by id (checked to be the caller's), else a URL of
/// media hosted elsewhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct EntryMedia<'a> {
    pub url: Option<&'a str>,
    pub ids: &'a [Uuid],
}

/// Saves an edit of an entry (its media included), marking it edited.
pub async fn edit_entry(
    conn: &mut PgConnection,
    calendar: Uuid,
    id: Uuid,
    content: &EntryContent,
    at: &Placement,
    media: EntryMedia<'_>,
    first_comment: &str,
) -> sqlx::Result<EntryRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update calendar_entries c set title = $3, caption = $4, format = $5, hashtags = $6,
                call_to_action = $7, local_date = $8, local_time = $9, scheduled_at = $10,
                media_url = $11, media_ids = $12, first_comment = $13, edited = true,
                edited_at = now(), updated_at = now(),
                -- An entry of a post edited on its own: a field now saying something else
                -- than the post's becomes its own (a variant the post's changes leave).
                post_own = coalesce((select array(select distinct f from unnest(
                    c.post_own || array_remove(array[
                        case when $3 <> p.title then 'title' end,
                        case when $4 <> p.caption then 'caption' end,
                        case when $6 <> p.hashtags then 'hashtags' end,
                        case when $7 <> p.call_to_action then 'callToAction' end,
                        case when $12 <> p.media_ids then 'mediaIds' end,
                        case when $13 <> p.first_comment then 'firstComment' end], null)) f
                    order by 1) from posts p where p.id = c.post_id), c.post_own)
         where c.calendar_id = $1 and c.id = $2 and c.deleted_at is null
         returning {ENTRY_COLUMNS}"
    )))
    .bind(calendar)
    .bind(id)
    .bind(&content.title)
    .bind(&content.caption)
    .bind(&content.format)
    .bind(&content.hashtags)
    .bind(&content.call_to_action)
    .bind(at.date)
    .bind(at.time)
    .bind(at.scheduled_at)
    .bind(media.url)
    .bind(media.ids)
    .bind(first_comment)
    .fetch_one(conn)
    .await
}

/// The calendar entry `id` belongs to.
pub async fn entry_calendar(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Uuid> {
    sqlx::query_scalar("select calendar_id from calendar_entries where id = $1")
        .bind(id)
        .fetch_one(conn)
        .await
}

/// Moves a live entry to `at` (the queue's slot), marking it edited so a regeneration
/// keeps it there; whether it was moved.
pub async fn move_entry(conn: &mut PgConnection, id: Uuid, at: &Placement) -> sqlx::Result<bool> {
    let moved = sqlx::query(
        "update calendar_entries set local_date = $2, local_time = $3, scheduled_at = $4,
                edited = true, edited_at = now(), updated_at = now()
         where id = $1 and deleted_at is null",
    )
    .bind(id)
    .bind(at.date)
    .bind(at.time)
    .bind(at.scheduled_at)
    .execute(conn)
    .await?;
    Ok(moved.rows_affected() == 1)
}

/// Records the connected channel chosen for a live entry (the queue's, a publish's
/// `channels`); an entry that names it already is left as it is.
pub async fn choose_channel(conn: &mut PgConnection, id: Uuid, channel: Uuid) -> sqlx::Result<()> {
    sqlx::query(
        "update calendar_entries c set channel_id = $2, updated_at = now()
         where c.id = $1 and c.deleted_at is null and c.channel_id is distinct from $2
           -- A post has one entry a channel: its entry on another stays where it is.
           and not exists (select 1 from calendar_entries o
                           where o.post_id = c.post_id and o.id <> c.id and o.channel_id = $2
                             and o.deleted_at is null)",
    )
    .bind(id)
    .bind(channel)
    .execute(conn)
    .await
    .map(drop)
}

/// Adds an entry by hand (`manual/<id>`: regenerations never touch it).
pub async fn add_entry(
    conn: &mut PgConnection,
    calendar: Uuid,
    channel: &str,
    content: &EntryContent,
    at: &Placement,
    media: EntryMedia<'_>,
    first_comment: &str,
) -> sqlx::Result<EntryRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "insert into calendar_entries as c (id, calendar_id, user_id, key, channel, local_date,
             local_time, scheduled_at, title, caption, format, hashtags, call_to_action,
             media_url, media_ids, first_comment, origin, edited, edited_at)
         values ($1, $2, app_user_id(), 'manual/' || $1, $3, $4, $5, $6, $7, $8, $9, $10, $11,
             $12, $13, $14, 'manual', true, now())
         returning {ENTRY_COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(calendar)
    .bind(channel)
    .bind(at.date)
    .bind(at.time)
    .bind(at.scheduled_at)
    .bind(&content.title)
    .bind(&content.caption)
    .bind(&content.format)
    .bind(&content.hashtags)
    .bind(&content.call_to_action)
    .bind(media.url)
    .bind(media.ids)
    .bind(first_comment)
    .fetch_one(conn)
    .await
}

/// A calendar of the caller's made to receive an organic week: named `name` (by its owner),
/// `request` its channels, dates and time zone.
pub async fn create_for_week(
    conn: &mut PgConnection,
    name: &str,
    request: &Value,
) -> sqlx::Result<Uuid> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into calendars (id, user_id, name, request, named_by_user)
         values ($1, app_user_id(), $2, $3, true)",
    )
    .bind(id)
    .bind(name)
    .bind(Json(request))
    .execute(conn)
    .await?;
    Ok(id)
}

/// A placement of an organic week as a calendar entry.
pub struct WeekEntry<'a> {
    /// `week/<brand>/<week start>/<placement id>`.
    pub key: String,
    pub placement_id: &'a str,
    pub channel: &'a str,
    pub content: &'a EntryContent,
    pub at: Placement,
}

/// What adding a week's placement did to its entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeekEntryOutcome {
    Added,
    Updated,
    /// Its entry was edited or deleted since: left as it is.
    Kept,
}

/// Adds the placement's entry, or updates the one an earlier add made (unless its owner
/// edited or deleted it since).
pub async fn add_week_entry(
    conn: &mut PgConnection,
    calendar: Uuid,
    entry: &WeekEntry<'_>,
) -> sqlx::Result<WeekEntryOutcome> {
    let added: Option<bool> = sqlx::query_scalar(
        "insert into calendar_entries as c (id, calendar_id, user_id, key, channel, local_date,
             local_time, scheduled_at, title, caption, format, hashtags, call_to_action,
             origin, edited, placement_id)
         values ($1, $2, app_user_id(), $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
             'manual', false, $13)
         on conflict (calendar_id, key) do update set
             channel = excluded.channel, local_date = excluded.local_date,
             local_time = excluded.local_time, scheduled_at = excluded.scheduled_at,
             title = excluded.title, caption = excluded.caption, format = excluded.format,
             hashtags = excluded.hashtags, call_to_action = excluded.call_to_action,
             updated_at = now()
         where not c.edited and c.deleted_at is null
         returning xmax = 0",
    )
    .bind(Uuid::now_v7())
    .bind(calendar)
    .bind(&entry.key)
    .bind(entry.channel)
    .bind(entry.at.date)
    .bind(entry.at.time)
    .bind(entry.at.scheduled_at)
    .bind(&entry.content.title)
    .bind(&entry.content.caption)
    .bind(&entry.content.format)
    .bind(&entry.content.hashtags)
    .bind(&entry.content.call_to_action)
    .bind(entry.placement_id)
    .fetch_optional(conn)
    .await?;
    Ok(match added {
        Some(true) => WeekEntryOutcome::Added,
        Some(false) => WeekEntryOutcome::Updated,
        None => WeekEntryOutcome::Kept,
    })
}

/// Deletes an entry, keeping it as a tombstone so that no regeneration brings it back;
/// whether there was one.
pub async fn delete_entry(conn: &mut PgConnection, calendar: Uuid, id: Uuid) -> sqlx::Result<bool> {
    let deleted = sqlx::query(
        "update calendar_entries set deleted_at = now(), updated_at = now()
         where calendar_id = $1 and id = $2 and deleted_at is null",
    )
    .bind(calendar)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() > 0)
}

/// The calendar's runs, newest version first.
pub async fn runs(conn: &mut PgConnection, calendar: Uuid) -> sqlx::Result<Vec<RunRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {RUN_COLUMNS} from calendar_runs r where r.calendar_id = $1 order by r.version desc"
    )))
    .bind(calendar)
    .fetch_all(conn)
    .await
}

pub async fn run(
    conn: &mut PgConnection,
    calendar: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<RunRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {RUN_COLUMNS} from calendar_runs r where r.calendar_id = $1 and r.id = $2"
    )))
    .bind(calendar)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The latest run, when it is an ended regeneration (or its continuation) whose proposal
/// has changes not yet applied: its id, version and how many.
pub async fn pending_run(
    conn: &mut PgConnection,
    calendar: Uuid,
) -> sqlx::Result<Option<PendingRow>> {
    sqlx::query_as(
        "select r.id as run_id, r.version, count(*) as changes
         from calendar_runs r
         join calendars k on k.id = r.calendar_id and k.current_version = r.version
         join calendar_changes ch on ch.run_id = coalesce(r.proposal_run_id, r.id)
             and ch.applied_at is null
         where r.calendar_id = $1 and not r.applies_directly
           and r.status not in ('pending', 'running')
         group by r.id, r.version",
    )
    .bind(calendar)
    .fetch_optional(conn)
    .await
}

/// The changes of a run's proposal, in order: a regeneration's own, those its
/// continuations added included (read through either run).
pub async fn changes(conn: &mut PgConnection, run: Uuid) -> sqlx::Result<Vec<ChangeRow>> {
    sqlx::query_as(
        "select id, kind, key, conflict, before, after, applied_at from calendar_changes
         where run_id = (select coalesce(r.proposal_run_id, r.id) from calendar_runs r
                         where r.id = $1)
         order by position",
    )
    .bind(run)
    .fetch_all(conn)
    .await
}

/// A calendar's name, and whether the user chose it (`constraints.name`, a rename): a
/// default one follows the request at each regeneration.
pub struct Name<'a> {
    pub text: &'a str,
    pub by_user: bool,
}

/// Counts a continuation's version, the request unchanged: the new version; none when
/// there is no such calendar.
async fn bump_version(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<i32>> {
    sqlx::query_scalar(
        "update calendars set current_version = current_version + 1, updated_at = now()
         where id = $1 returning current_version",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The keys of the calendar's slots that hold an entry, deleted ones included (they stay
/// deleted).
pub async fn filled_keys(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("select key from calendar_entries where calendar_id = $1")
        .bind(id)
        .fetch_all(conn)
        .await
}

/// What decides whether a run may be continued.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunToContinue {
    pub status: crate::jobs::JobStatus,
    /// No later run of the calendar exists.
    pub latest: bool,
    /// It filled the calendar directly (a first run or a continuation), rather than
    /// proposing changes.
    pub applies_directly: bool,
    /// The proposal it wrote into (a regeneration's own id, or the regeneration its
    /// continuation adds to); none for a run that filled the calendar directly.
    pub proposal: Option<Uuid>,
    /// Some change of that proposal was accepted.
    pub accepted: bool,
    /// Its request, which is the calendar's when it is the latest.
    pub request: Json<Value>,
}

pub async fn run_to_continue(
    conn: &mut PgConnection,
    calendar: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<RunToContinue>> {
    sqlx::query_as(
        "select r.status, r.version = k.current_version as latest, r.applies_directly, r.request,
                p.id as proposal,
                exists (select 1 from calendar_changes ch
                        where ch.run_id = p.id and ch.applied_at is not null) as accepted
         from calendar_runs r join calendars k on k.id = r.calendar_id
         left join lateral (select coalesce(r.proposal_run_id, r.id) as id
                            where not r.applies_directly) p on true
         where r.calendar_id = $1 and r.id = $2",
    )
    .bind(calendar)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A new calendar at version 1.
async fn create(
    conn: &mut PgConnection,
    id: Uuid,
    user: Uuid,
    name: Name<'_>,
    request: &Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into calendars (id, user_id, name, named_by_user, request, current_version)
         values ($1, $2, $3, $4, $5, 1)",
    )
    .bind(id)
    .bind(user)
    .bind(name.text)
    .bind(name.by_user)
    .bind(Json(request))
    .execute(conn)
    .await
    .map(drop)
}

/// Counts a regeneration's version and records its request (and `name`, unless the user
/// named the calendar themselves): the new version, and whether the calendar has no entries
/// yet (the run then fills it directly); none when there is no such calendar.
async fn next_version(
    conn: &mut PgConnection,
    id: Uuid,
    request: &Value,
    name: Name<'_>,
) -> sqlx::Result<Option<(i32, bool)>> {
    sqlx::query_as(
        "update calendars c set current_version = current_version + 1, request = $2,
                name = case when c.named_by_user and not $4 then c.name else $3 end,
                named_by_user = c.named_by_user or $4,
                updated_at = now()
         where c.id = $1
         returning c.current_version,
             not exists (select 1 from calendar_entries e where e.calendar_id = c.id)",
    )
    .bind(id)
    .bind(Json(request))
    .bind(name.text)
    .bind(name.by_user)
    .fetch_optional(conn)
    .await
}

/// A run to write.
struct NewRun<'a> {
    id: Uuid,
    calendar_id: Uuid,
    user: Uuid,
    /// Service runs' job.
    job_id: Option<Uuid>,
    version: i32,
    /// `service` or `legacy` (which starts running at once).
    mode: &'static str,
    request: &'a Value,
    slots: i32,
    applies_directly: bool,
    /// A service run's deadline, from now (seed 000's wall-clock timeout).
    deadline: Option<std::time::Duration>,
    /// The ended run this one continues.
    continues: Option<Uuid>,
    /// A continued regeneration's proposal, which this run's changes join.
    proposal_run_id: Option<Uuid>,
}

/// A run [`insert_run`] wrote.
#[derive(Debug, Clone, Copy)]
struct InsertedRun {
    /// Its deadline as stored (a service run's), which whoever ends it at the deadline reads.
    deadline_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Writes a run, unless the user has an active one (`None` then): the conflict target is
/// the partial unique index, so a concurrent request's uncommitted run makes this wait for
/// it, then do nothing.
async fn insert_run(conn: &mut PgConnection, run: NewRun<'_>) -> sqlx::Result<Option<InsertedRun>> {
    let inserted: Option<Option<chrono::DateTime<chrono::Utc>>> = sqlx::query_scalar(
        "insert into calendar_runs (id, calendar_id, user_id, job_id, version, mode, status,
             request, slots, applies_directly, started_at, deadline_at, continues,
             proposal_run_id)
         values ($1, $2, $3, $4, $5, $6, case when $6 = 'legacy' then 'running' else 'pending' end,
             $7, $8, $9, case when $6 = 'legacy' then now() end,
             now() + make_interval(secs => $10), $11, $12)
         on conflict (user_id) where status in ('pending', 'running') do nothing
         returning deadline_at",
    )
    .bind(run.id)
    .bind(run.calendar_id)
    .bind(run.user)
    .bind(run.job_id)
    .bind(run.version)
    .bind(run.mode)
    .bind(Json(run.request))
    .bind(run.slots)
    .bind(run.applies_directly)
    .bind(run.deadline.map(|d| d.as_secs_f64()))
    .bind(run.continues)
    .bind(run.proposal_run_id)
    .fetch_optional(conn)
    .await?;
    Ok(inserted.map(|deadline_at| InsertedRun { deadline_at }))
}

/// Which calendar a new run fills.
pub enum Fills<'a> {
    /// A new calendar, `id`, named `name`.
    New { id: Uuid, name: Name<'a> },
    /// The caller's calendar `id`, regenerated: its next version records the request (and
    /// the name, unless the user named it).
    Regeneration { id: Uuid, name: Name<'a> },
    /// The caller's calendar `id`, the slots the run `continues` left empty: its next
    /// version, the request unchanged. A continued regeneration names its `proposal`: the
    /// run writes into it rather than into the calendar.
    Continuation {
        id: Uuid,
        continues: Uuid,
        proposal: Option<Uuid>,
    },
}

/// A run to open: everything but the calendar it fills.
pub struct RunSpec<'a> {
    pub id: Uuid,
    pub user: Uuid,
    /// Service runs' job.
    pub job_id: Option<Uuid>,
    /// `service` or `legacy` (which starts running at once).
    pub mode: &'static str,
    pub request: &'a Value,
    pub slots: i32,
    /// A service run's deadline, from now (seed 000's wall-clock timeout).
    pub deadline: Option<std::time::Duration>,
}

/// A run [`open_run`] wrote, and the calendar version it fills.
#[derive(Debug, Clone, Copy)]
pub struct OpenedRun {
    pub calendar_id: Uuid,
    pub version: i32,
    /// It fills the calendar directly (no entries yet, or a continuation) rather than
    /// proposing changes.
    pub applies_directly: bool,
    /// Its deadline as stored (a service run's).
    pub deadline_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What opening a run found.
#[derive(Debug, Clone, Copy)]
pub enum RunOpened {
    Opened(OpenedRun),
    /// The calendar to regenerate or continue is not the caller's.
    NoCalendar,
    /// The caller already has a run under way: `(run, calendar)`, when it is still there.
    Busy(Option<(Uuid, Uuid)>),
}

/// Opens a run: the calendar it fills (created, or its next version counted), then the run
/// itself, unless the caller has one under way. The caller's transaction holds both.
pub async fn open_run(
    conn: &mut PgConnection,
    fills: Fills<'_>,
    run: RunSpec<'_>,
) -> sqlx::Result<RunOpened> {
    let (calendar_id, version, applies_directly, continues, proposal_run_id) = match fills {
        Fills::New { id, name } => {
            create(conn, id, run.user, name, run.request).await?;
            (id, 1, true, None, None)
        }
        Fills::Regeneration { id, name } => {
            match next_version(conn, id, run.request, name).await? {
                Some((version, applies_directly)) => (id, version, applies_directly, None, None),
                None => return Ok(RunOpened::NoCalendar),
            }
        }
        Fills::Continuation {
            id,
            continues,
            proposal,
        } => match bump_version(conn, id).await? {
            Some(version) => (id, version, proposal.is_none(), Some(continues), proposal),
            None => return Ok(RunOpened::NoCalendar),
        },
    };
    let inserted = insert_run(
        conn,
        NewRun {
            id: run.id,
            calendar_id,
            user: run.user,
            job_id: run.job_id,
            version,
            mode: run.mode,
            request: run.request,
            slots: run.slots,
            applies_directly,
            deadline: run.deadline,
            continues,
            proposal_run_id,
        },
    )
    .await?;
    Ok(match inserted {
        Some(inserted) => RunOpened::Opened(OpenedRun {
            calendar_id,
            version,
            applies_directly,
            deadline_at: inserted.deadline_at,
        }),
        None => RunOpened::Busy(active_run(conn).await?),
    })
}

/// The caller's active run and its calendar, if any.
async fn active_run(conn: &mut PgConnection) -> sqlx::Result<Option<(Uuid, Uuid)>> {
    sqlx::query_as(
        "select id, calendar_id from calendar_runs
         where status in ('pending', 'running') limit 1",
    )
    .fetch_optional(conn)
    .await
}

/// Names a calendar as the user chose; whether there was such a calendar.
pub async fn rename(conn: &mut PgConnection, id: Uuid, name: &str) -> sqlx::Result<bool> {
    let renamed = sqlx::query(
        "update calendars set name = $2, named_by_user = true, updated_at = now() where id = $1",
    )
    .bind(id)
    .bind(name)
    .execute(conn)
    .await?;
    Ok(renamed.rows_affected() > 0)
}
