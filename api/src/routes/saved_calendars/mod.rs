//! Saved calendars (seed 000): read them with their runs, edit entries by hand, accept a
//! regeneration's changes, export. All in the `{data, error, meta}` envelope, owner only.

use almanac_shared::store::publish::channels::ChannelRow;
use almanac_shared::store::user_tx;
use almanac_shared::{
    domain::calendar::{self, CalendarSpec, EntryContent, ExportEntry},
    store::calendars::{self as store, Placement, RunRef, Selection},
};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Header, Path, Query},
    payload::Json,
    types::ToJSON,
};
use sqlx::PgConnection;
use uuid::Uuid;

mod dto;
pub mod feed;
pub mod live;

pub use dto::*;

use super::{Tag, clamp_limit, paginate};
use crate::responses::{CreatedVersioned, Versioned};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    if_match,
    state::AppState,
    text,
};

#[derive(Default)]
pub struct SavedCalendarsApi;

#[OpenApi(tag = "Tag::Calendars")]
impl SavedCalendarsApi {
    /// The caller's calendars, newest first.
    #[oai(path = "/v1/calendars", method = "get", operation_id = "listCalendars")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// Page size, 1-100 (default 20).
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
        limit: Query<Option<u32>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> Answer<Json<CalendarPageEnvelope>, { can::STORED | can::BAD_REQUEST }> {
        let limit = clamp_limit(limit.0);
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows = store::list(&mut tx, cursor.0, i64::from(limit) + 1).await?;
        tx.commit().await?;
        let (rows, next_cursor) = paginate(rows, limit, |c| c.id);
        let items = rows.into_iter().map(Into::into).collect();
        Ok(CalendarPageEnvelope::of(CalendarPage {
            items,
            next_cursor,
        }))
    }

    /// A calendar: its saved entries (manual edits included), current version, runs, and
    /// the proposal of its latest regeneration while it waits for an answer (`pendingRun`).
    #[oai(
        path = "/v1/calendars/:id",
        method = "get",
        operation_id = "getCalendar"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<
        Versioned<CalendarDetailEnvelope>,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND },
    > {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let calendar = summary(&mut tx, id.0).await?;
        let entries = saved(&mut tx, id.0).await?;
        let runs = store::runs(&mut tx, id.0).await?;
        let pending_run = store::pending_run(&mut tx, id.0).await?;
        tx.commit().await?;
        let tag = if_match::etag(calendar.version);
        Ok(Versioned::Current(
            CalendarDetailEnvelope::of(CalendarDetail {
                calendar,
                entries,
                runs: runs.into_iter().map(Into::into).collect(),
                pending_run: pending_run.map(Into::into),
            }),
            tag,
        ))
    }

    /// Rename a calendar. A name set here is kept by every regeneration. With `If-Match`
    /// (the calendar's `ETag`), only at that version: a change since (to the calendar or
    /// any of its entries) is 412 `EDIT_CONFLICT` and nothing is renamed.
    #[oai(
        path = "/v1/calendars/:id",
        method = "patch",
        operation_id = "renameCalendar"
    )]
    async fn rename(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        /// The calendar's `ETag` as last read (`"<version>"`): renamed only at that version.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: StrictJson<CalendarPatch>,
    ) -> Answer<
        Versioned<CalendarSummaryEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::PRECONDITION_FAILED },
    > {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let stamp = store::lock_calendar(&mut tx, id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("calendar"))?;
        if let Some(given) = &if_match.0
            && !if_match::admits(given, stamp.version)
        {
            let current = summary(&mut tx, id.0).await?.to_json();
            tx.rollback().await?;
            return Err(
                if_match::conflict(&state, "calendar", stamp, current.unwrap_or_default())
                    .await
                    .into(),
            );
        }
        if !store::rename(&mut tx, id.0, body.0.name.trim()).await? {
            return Err(ApiError::not_found("calendar").into());
        }
        let calendar = summary(&mut tx, id.0).await?;
        tx.commit().await?;
        let tag = if_match::etag(calendar.version);
        Ok(Versioned::Current(
            CalendarSummaryEnvelope::of(calendar),
            tag,
        ))
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
        auth: UserAuth,
        id: Path<Uuid>,
        run_id: Path<Uuid>,
    ) -> Answer<Json<RunDetailEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let run = run_of(&mut tx, id.0, run_id.0).await?;
        let changes = store::changes(&mut tx, run_id.0).await?;
        tx.commit().await?;
        Ok(RunDetailEnvelope::of(RunDetail {
            run,
            changes: changes.into_iter().map(Into::into).collect(),
        }))
    }

    /// Edit an entry by hand. It is marked edited: a regeneration will propose changes to
    /// it only as conflicts, which apply only when accepted one by one. With `If-Match`
    /// (the entry's `ETag`, or its `version` quoted), only at that version: a teammate's
    /// change since is 412 `EDIT_CONFLICT` with the entry as it is now, who changed it and
    /// when, and nothing is changed. Without it, the last change wins.
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id",
        method = "patch",
        operation_id = "editCalendarEntry"
    )]
    async fn edit(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
        /// The entry's `ETag` as last read (`"<version>"`): changed only at that version.
        #[oai(name = "If-Match")]
        if_match: Header<Option<String>>,
        body: StrictJson<EntryPatch>,
    ) -> Answer<
        Versioned<EntryEnvelope>,
        {
            can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE | can::PRECONDITION_FAILED
        },
    > {
        let patch = body.0;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let stamp = store::lock_entry(&mut tx, id.0, entry_id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("entry"))?;
        let current = entry(&mut tx, id.0, entry_id.0).await?;
        if let Some(given) = &if_match.0
            && !if_match::admits(given, stamp.version)
        {
            tx.rollback().await?;
            let current = current.to_json().unwrap_or_default();
            return Err(if_match::conflict(&state, "entry", stamp, current)
                .await
                .into());
        }
        let mut content = EntryContent {
            title: patch.title.map_or(current.title, |t| t.0),
            caption: patch.caption.map_or(current.caption, |c| c.0),
            format: patch.format.map_or(current.format, |f| f.0),
            hashtags: patch.hashtags.map_or(current.hashtags, text::strings),
            call_to_action: patch.call_to_action.map_or(current.call_to_action, |c| c.0),
        };
        content.validate().map_err(ApiError::invalid)?;
        content.normalise_hashtags();
        let date = match &patch.date {
            Some(date) => no_such_date(date)?,
            None => current.date,
        };
        let time = calendar::parse_time("time", patch.time.as_deref().unwrap_or(&current.time))
            .map_err(ApiError::invalid)?;
        let at = Placement {
            scheduled_at: calendar::to_utc(timezone(&mut tx, id.0).await?, date, time),
            date,
            time,
        };
        let media_url = match patch.media_url {
            Some(url) => text::http_url("mediaUrl", url)?,
            None => current.media_url,
        };
        let media_ids = match patch.media_ids {
            Some(ids) => owned_media(&mut tx, ids).await?,
            None => current.media_ids,
        };
        let media = store::EntryMedia {
            url: media_url.as_deref(),
            ids: &media_ids,
        };
        if let Some(channel) = patch.channel_id {
            let chosen = chosen_channel(&mut tx, channel, &current.channel).await?;
            if current.post_id.is_some() && current.channel_id != Some(chosen) {
                return Err(ApiError::unprocessable_field(
                    "channelId",
                    "this entry is its post's entry on one channel: change the post's channels \
                     instead (PATCH /v1/calendars/{id}/posts/{postId})",
                )
                .into());
            }
            store::choose_channel(&mut tx, entry_id.0, chosen).await?;
        }
        let first_comment = patch.first_comment.map_or(current.first_comment, |c| c.0);
        let row: CalendarEntry = store::edit_entry(
            &mut tx,
            id.0,
            entry_id.0,
            &content,
            &at,
            media,
            &first_comment,
        )
        .await?
        .into();
        touch(&mut tx, id.0).await?;
        tx.commit().await?;
        let tag = if_match::etag(row.version);
        Ok(Versioned::Current(EntryEnvelope::of(row), tag))
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
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<NewEntry>,
    ) -> Answer<
        CreatedVersioned<EntryEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let new = body.0;
        let channel = calendar::Channel::parse(&new.channel)
            .map_err(|reason| ApiError::invalid_field("channel", reason))?;
        let date = no_such_date(&new.date)?;
        let time = calendar::parse_time("time", new.time.as_deref().unwrap_or("09:00"))
            .map_err(ApiError::invalid)?;
        let mut content = EntryContent {
            title: new.title.0,
            caption: new.caption.map(|c| c.0).unwrap_or_default(),
            format: new.format.map(|f| f.0).unwrap_or_default(),
            hashtags: new.hashtags.map(text::strings).unwrap_or_default(),
            call_to_action: new.call_to_action.map(|c| c.0).unwrap_or_default(),
        };
        content.validate().map_err(ApiError::invalid)?;
        content.normalise_hashtags();
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let at = Placement {
            scheduled_at: calendar::to_utc(timezone(&mut tx, id.0).await?, date, time),
            date,
            time,
        };
        let media_url = match new.media_url {
            Some(url) => text::http_url("mediaUrl", url)?,
            None => None,
        };
        let media_ids = owned_media(&mut tx, new.media_ids.unwrap_or_default()).await?;
        let media = store::EntryMedia {
            url: media_url.as_deref(),
            ids: &media_ids,
        };
        let chosen = match new.channel_id {
            Some(given) => Some(chosen_channel(&mut tx, given, channel.as_str()).await?),
            None => None,
        };
        let first_comment = new.first_comment.map(|c| c.0).unwrap_or_default();
        let mut row = store::add_entry(
            &mut tx,
            id.0,
            channel.as_str(),
            &content,
            &at,
            media,
            &first_comment,
        )
        .await?;
        if let Some(chosen) = chosen {
            store::choose_channel(&mut tx, row.id, chosen).await?;
            row = store::entry(&mut tx, id.0, row.id)
                .await?
                .ok_or_else(|| ApiError::not_found("entry"))?;
        }
        let row: CalendarEntry = row.into();
        touch(&mut tx, id.0).await?;
        tx.commit().await?;
        let tag = if_match::etag(row.version);
        Ok(CreatedVersioned::Created(EntryEnvelope::of(row), tag))
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
        auth: UserAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
    ) -> Answer<Deleted, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if !store::delete_entry(&mut tx, id.0, entry_id.0).await? {
            return Err(ApiError::not_found("entry").into());
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
        auth: UserAuth,
        id: Path<Uuid>,
        run_id: Path<Uuid>,
        body: StrictJson<AcceptRequest>,
    ) -> Answer<
        Json<AcceptedEnvelope>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::CONFLICT | can::UNPROCESSABLE },
    > {
        let selection = match (body.0.change_ids, body.0.all) {
            (Some(ids), None | Some(false)) if !ids.is_empty() => Selection::Ids(ids),
            (None, Some(true)) => Selection::AllSafe,
            // Each field is valid alone; only together do they say nothing (or two things).
            _ => {
                return Err(ApiError::unprocessable(
                    "VALIDATION_FAILED",
                    "give either a non-empty `changeIds` or `all: true`",
                )
                .into());
            }
        };
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let run = run_of(&mut tx, id.0, run_id.0).await?;
        if !run.status.is_final() {
            return Err(ApiError::conflict(
                "RUN_NOT_FINISHED",
                "this run is still generating; accept its changes once it has ended",
            )
            .into());
        }
        let run = RunRef {
            id: run_id.0,
            calendar_id: id.0,
            user_id: user,
        };
        let applied = store::apply_changes(&mut tx, run, &selection).await?;
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
        auth: UserAuth,
        id: Path<Uuid>,
        /// `ics`, `csv` or `json`.
        format: Query<CalendarExportFormat>,
    ) -> Answer<Export, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let calendar = summary(&mut tx, id.0).await?;
        let entries = saved(&mut tx, id.0).await?;
        tx.commit().await?;
        let exported: Vec<ExportEntry> = entries.iter().map(export_entry).collect();
        let stem = format!("calendar-{}", id.0);
        let meta = ExportMeta {
            calendar_id: calendar.id,
            version: calendar.current_version,
        };
        Ok(match format.0 {
            CalendarExportFormat::Ics => Export {
                content_type: "text/calendar; charset=utf-8",
                filename: format!("{stem}.ics"),
                body: calendar::to_ics(id.0, &calendar.name, &exported),
            },
            CalendarExportFormat::Csv => Export {
                content_type: "text/csv; charset=utf-8",
                filename: format!("{stem}.csv"),
                body: calendar::to_csv(&exported),
            },
            CalendarExportFormat::Json => Export {
                content_type: "application/json; charset=utf-8",
                filename: format!("{stem}.json"),
                body: ToJSON::to_json_string(
                    &CalendarExportEnvelope::with_meta(
                        ExportedCalendar { calendar, entries },
                        meta,
                    )
                    .0,
                ),
            },
        })
    }
}

async fn summary(conn: &mut PgConnection, id: Uuid) -> ApiResult<CalendarSummary> {
    store::summary(conn, id)
        .await?
        .map(Into::into)
        .ok_or_else(|| ApiError::not_found("calendar"))
}

async fn saved(conn: &mut PgConnection, id: Uuid) -> ApiResult<Vec<CalendarEntry>> {
    let rows = store::saved(conn, id).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

async fn entry(conn: &mut PgConnection, calendar_id: Uuid, id: Uuid) -> ApiResult<CalendarEntry> {
    store::entry(conn, calendar_id, id)
        .await?
        .map(Into::into)
        .ok_or_else(|| ApiError::not_found("entry"))
}

async fn run_of(
    conn: &mut PgConnection,
    calendar_id: Uuid,
    run_id: Uuid,
) -> ApiResult<CalendarRun> {
    store::run(conn, calendar_id, run_id)
        .await?
        .map(Into::into)
        .ok_or_else(|| ApiError::not_found("run"))
}

/// The calendar's time zone (404 when the calendar is not the caller's).
pub(crate) async fn timezone(conn: &mut PgConnection, id: Uuid) -> ApiResult<chrono_tz::Tz> {
    let request = store::request(conn, id)
        .await?
        .ok_or_else(|| ApiError::not_found("calendar"))?;
    Ok(CalendarSpec::from_json(&request)
        .map(|spec| spec.constraints.timezone)
        .unwrap_or(chrono_tz::UTC))
}

pub(crate) async fn touch(conn: &mut PgConnection, id: Uuid) -> ApiResult<()> {
    Ok(store::touch(conn, id).await?)
}

/// A date the pattern admits but no calendar has (`2027-02-30`): 422.
fn no_such_date(date: &text::IsoDate) -> ApiResult<chrono::NaiveDate> {
    calendar::parse_date("date", date).map_err(ApiError::semantically_invalid)
}

/// The connected channel `id`, when it is the workspace's and of `platform` (422
/// `VALIDATION_FAILED` at `channelId` otherwise).
async fn chosen_channel(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    platform: &str,
) -> ApiResult<Uuid> {
    let channel = workspace_channel(conn, id, "channelId").await?;
    if channel.platform != platform {
        return Err(ApiError::unprocessable_field(
            "channelId",
            format!(
                "{id} is a {} channel, and this entry is for {platform}",
                channel.platform
            ),
        ));
    }
    Ok(channel.id)
}

/// The workspace's connected channel `id` (422 `VALIDATION_FAILED` at `field` when it has
/// none of that id).
pub(crate) async fn workspace_channel(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    field: &str,
) -> ApiResult<ChannelRow> {
    almanac_shared::store::publish::channels::find(conn, id)
        .await?
        .ok_or_else(|| {
            ApiError::unprocessable_field(
                field,
                format!(
                    "{id} is not one of this workspace's channels (GET /v1/channels lists them)"
                ),
            )
        })
}

/// `ids`, when every one is the caller's media (422 `VALIDATION_FAILED` at `mediaIds`
/// naming the first that is not).
pub(crate) async fn owned_media(
    conn: &mut sqlx::PgConnection,
    ids: Vec<Uuid>,
) -> ApiResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(ids);
    }
    let owned = almanac_shared::store::media::owned(conn, &ids).await?;
    if let Some(missing) = ids
        .iter()
        .find(|id| !owned.iter().any(|row| row.id == **id))
    {
        return Err(ApiError::unprocessable_field(
            "mediaIds",
            format!("{missing} is not one of your media (GET /v1/media lists them)"),
        ));
    }
    Ok(ids)
}
