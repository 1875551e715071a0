//! The saved week of a brand (seed 003), and the user's edits of its placements: copy or
//! time, the time checked against the account's other posts of the week.

use almanac_shared::store::user_tx;
use almanac_shared::{
    domain::organic::{content::timestamp, schedule::TimeOfDay},
    store::calendars::{self, WeekEntryOutcome},
    store::organic::{self as store, PlacementRow},
};
use chrono::{DateTime, Days, Utc};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
};
use serde_json::{Value, json};

use super::dto::*;
use super::hashtags;
use crate::routes::saved_calendars::Export;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, ErrorEnvelope, can},
    routes::Tag,
    state::AppState,
    text::IsoDate,
};

/// A saved placement as the seed's object, with whether the user edited it.
fn view(row: PlacementRow) -> ApiResult<OrganicPlacement> {
    let mut placement = row.placement.0;
    placement["edited"] = Value::Bool(row.edited);
    serde_json::from_value(placement).map_err(|error| {
        ApiError::internal(anyhow::Error::new(error).context("reading a saved placement"))
    })
}

#[derive(Default)]
pub struct OrganicWeeksApi;

#[OpenApi(tag = "Tag::Organic")]
impl OrganicWeeksApi {
    /// The brand's saved placements of the week starting `weekStart` (a Monday).
    #[oai(
        path = "/api/organic/brands/:id/weeks/:weekStart",
        method = "get",
        operation_id = "getOrganicWeek"
    )]
    async fn week(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        /// The Monday of the week, `YYYY-MM-DD` (another shape is 400; a day the calendar
        /// has not, or not a Monday, 422).
        #[oai(name = "weekStart")]
        week_start: Path<IsoDate>,
    ) -> Answer<
        Json<OrganicWeek>,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let week = week_start.0.monday("weekStart")?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        super::brands::brand(&mut tx, &id.0).await?;
        let rows: Vec<PlacementRow> = store::week(&mut tx, &id.0, week).await?;
        tx.commit().await?;
        Ok(Json(OrganicWeek {
            brand_profile_id: id.0,
            week_start: week.to_string(),
            placements: rows.into_iter().map(view).collect::<ApiResult<_>>()?,
        }))
    }

    /// Add the week's saved placements to a calendar: a calendar of the caller's
    /// (`calendarId`) or a new one (`name`; the brand and the week name it when neither is
    /// given). Each placement becomes an entry (caption, hashtags, call to action, time,
    /// `placementId`), which regenerations never touch. Adding the same week again updates
    /// the entries it added rather than adding more, except those edited or deleted since.
    #[oai(
        path = "/api/organic/brands/:id/weeks/:weekStart/calendar",
        method = "post",
        operation_id = "addOrganicWeekToCalendar"
    )]
    async fn to_calendar(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        /// The Monday of the week, `YYYY-MM-DD`.
        #[oai(name = "weekStart")]
        week_start: Path<IsoDate>,
        body: StrictJson<WeekToCalendar>,
    ) -> Answer<Json<WeekAdded>, { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE }>
    {
        let week = week_start.0.monday("weekStart")?;
        let body = body.0;
        if body.calendar_id.is_some() && body.name.is_some() {
            return Err(ApiError::unprocessable_field(
                "name",
                "give a calendarId to add to, or a name for a new calendar, not both",
            )
            .into());
        }
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let brand = super::brands::brand(&mut tx, &id.0).await?;
        let rows: Vec<PlacementRow> = store::week(&mut tx, &id.0, week).await?;
        if rows.is_empty() {
            return Err(ApiError::unprocessable(
                "WEEK_EMPTY",
                format!("the week of {week} has no saved placements: generate it first"),
            )
            .into());
        }
        let placements = super::calendar::entries(&rows);
        let (calendar, tz) = match body.calendar_id {
            Some(calendar) => (
                calendar,
                crate::routes::saved_calendars::timezone(&mut tx, calendar).await?,
            ),
            None => {
                let tz: chrono_tz::Tz = brand.timezone.parse().unwrap_or(chrono_tz::UTC);
                let name = body.name.map_or_else(
                    || format!("{} · week of {week}", brand.name),
                    |name| name.0.trim().to_owned(),
                );
                let request = super::calendar::request(&placements, week, tz);
                (
                    calendars::create_for_week(&mut tx, &name, &request).await?,
                    tz,
                )
            }
        };
        let (mut added, mut updated) = (0, 0);
        for placement in &placements {
            let entry = placement.entry(&id.0, week, tz);
            match calendars::add_week_entry(&mut tx, calendar, &entry).await? {
                WeekEntryOutcome::Added => added += 1,
                WeekEntryOutcome::Updated => updated += 1,
                WeekEntryOutcome::Kept => {}
            }
        }
        calendars::touch(&mut tx, calendar).await?;
        tx.commit().await?;
        tracing::info!(calendarId = %calendar, added, updated, "organic week added to a calendar");
        Ok(Json(WeekAdded {
            calendar_id: calendar,
            added,
            updated,
        }))
    }

    /// The week's saved placements as a file: `ics` (RFC 5545, for calendar applications)
    /// or `csv`, the same columns as a calendar's export. The same saved week exports to the
    /// same bytes.
    #[oai(
        path = "/api/organic/brands/:id/weeks/:weekStart/export",
        method = "get",
        operation_id = "exportOrganicWeek"
    )]
    async fn export(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        /// The Monday of the week, `YYYY-MM-DD`.
        #[oai(name = "weekStart")]
        week_start: Path<IsoDate>,
        format: Query<WeekExportFormat>,
    ) -> Answer<WeekExport, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::UNPROCESSABLE }>
    {
        let week = week_start.0.monday("weekStart")?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let brand = super::brands::brand(&mut tx, &id.0).await?;
        let rows: Vec<PlacementRow> = store::week(&mut tx, &id.0, week).await?;
        tx.commit().await?;
        let tz: chrono_tz::Tz = brand.timezone.parse().unwrap_or(chrono_tz::UTC);
        let updated = rows
            .iter()
            .map(|row| row.updated_at)
            .max()
            .unwrap_or_default();
        let exported: Vec<_> = super::calendar::entries(&rows)
            .iter()
            .map(|placement| placement.export(&id.0, week, tz, updated))
            .collect();
        let stem = format!("week-{}-{week}", id.0);
        Ok(WeekExport(match format.0 {
            WeekExportFormat::Ics => Export {
                content_type: "text/calendar; charset=utf-8",
                filename: format!("{stem}.ics"),
                body: almanac_shared::domain::calendar::to_ics(
                    super::calendar::derived_id(&format!("week/{}/{week}", id.0)),
                    &format!("{} · week of {week}", brand.name),
                    &exported,
                ),
            },
            WeekExportFormat::Csv => Export {
                content_type: "text/csv; charset=utf-8",
                filename: format!("{stem}.csv"),
                body: almanac_shared::domain::calendar::to_csv(&exported),
            },
        }))
    }

    /// Edit a saved placement's copy or time; it is then kept by regenerations unless
    /// they ask `overwriteEdited`. `weekStart` picks the week when the placement id is
    /// saved in several.
    #[oai(
        path = "/api/organic/brands/:id/placements/:placementId",
        method = "patch",
        operation_id = "editOrganicPlacement"
    )]
    async fn edit(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        #[oai(name = "placementId")] placement_id: Path<String>,
        /// The week (its Monday, `YYYY-MM-DD`), when the placement id is saved in several.
        #[oai(name = "weekStart")]
        week_start: Query<Option<IsoDate>>,
        body: StrictJson<EditPlacement>,
    ) -> Answer<
        Json<OrganicPlacement>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::CONFLICT | can::UNPROCESSABLE },
    > {
        let body = body.0;
        let week = week_start
            .0
            .as_ref()
            .map(|day| day.monday("weekStart"))
            .transpose()?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        super::brands::brand(&mut tx, &id.0).await?;
        let mut rows: Vec<PlacementRow> =
            store::placements_for_edit(&mut tx, &id.0, &placement_id.0, week).await?;
        if rows.len() > 1 {
            return Err(ApiError::conflict(
                "PLACEMENT_AMBIGUOUS",
                "this placementId is saved in several weeks: name the week with ?weekStart=",
            )
            .into());
        }
        let row = rows.pop().ok_or_else(|| ApiError::not_found("placement"))?;
        let tz: chrono_tz::Tz = row.timezone.parse().unwrap_or(chrono_tz::UTC);
        let mut placement = row.placement.0.clone();
        let mut at = placement["schedule"]["scheduledAt"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        if let Some(time) = body.scheduled_at {
            let local = time.with_timezone(&tz);
            let day = local.date_naive();
            if day < row.week_start || day > row.week_start + Days::new(6) {
                return Err(ApiError::unprocessable_field(
                    "scheduledAt",
                    format!(
                        "{} is on {day} in {tz}, outside the placement's week ({} to {})",
                        timestamp(time),
                        row.week_start,
                        row.week_start + Days::new(6)
                    ),
                )
                .into());
            }
            if let (Some(platform), Some(account)) = (
                placement["platform"]["name"].as_str(),
                placement["platform"]["accountId"].as_str(),
            ) {
                let others = store::account_placements(
                    &mut tx,
                    row.week_start,
                    (platform, account),
                    (&row.brand_id, &row.placement_id),
                )
                .await?;
                let gap = state.settings.organic.min_gap;
                if let Some((other, other_at)) =
                    others.iter().find(|(_, o)| (time - *o).abs() < gap)
                {
                    return Err(ApiError::Conflict(ErrorEnvelope::new(
                        "PLACEMENT_CONFLICT",
                        format!(
                            "placement `{other}` of the same account goes out at {}: keep posts \
                             {} minutes apart",
                            timestamp(*other_at),
                            gap.num_minutes()
                        ),
                        Some(json!({ "placementId": other, "scheduledAt": timestamp(*other_at) })),
                    ))
                    .into());
                }
            }
            at = time;
            placement["schedule"] = json!({
                "dayId": day,
                "scheduledAt": timestamp(time),
                "timeOfDay": TimeOfDay::of(local.time()).as_str(),
                "adjusted": false,
                "timeLabel": local.format("%-I:%M %p").to_string(),
            });
        }
        if let Some(caption) = &body.caption {
            placement["copy"]["caption"] = json!(caption.trim());
        }
        if let Some(tags) = body.hashtags {
            for (tier, given) in [
                ("high", tags.high),
                ("medium", tags.medium),
                ("low", tags.low),
            ] {
                if let Some(given) = given {
                    placement["copy"]["hashtags"][tier] = json!(hashtags(given));
                }
            }
        }
        let saved: PlacementRow = store::edit_placement(
            &mut tx,
            (&row.brand_id, row.week_start, &row.placement_id),
            at,
            &placement,
        )
        .await?;
        tx.commit().await?;
        Ok(Json(view(saved)?))
    }
}
