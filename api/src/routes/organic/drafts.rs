//! The draft of an organic week: its seeds and options as the user left them, kept
//! server-side so that a reload, or another device, finds the week as it was being planned.

use almanac_shared::store::organic as store;
use almanac_shared::store::user_tx;
use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::Path,
    payload::Json,
    types::{ParseFromJSON, ToJSON},
};
use serde_json::{Value, json};

use super::dto::*;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    routes::Tag,
    state::AppState,
    text::IsoDate,
};

#[derive(Default)]
pub struct OrganicDraftsApi;

#[OpenApi(tag = "Tag::Organic")]
impl OrganicDraftsApi {
    /// The draft of the brand's week starting `weekStart`: what was last saved, or an
    /// empty draft (`placements: []`, `updatedAt: null`).
    #[oai(
        path = "/api/organic/brands/:id/weeks/:weekStart/draft",
        method = "get",
        operation_id = "getOrganicWeekDraft"
    )]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        /// The Monday of the week, `YYYY-MM-DD` (another shape is 400; a day the calendar
        /// has not, or not a Monday, 422).
        #[oai(name = "weekStart")]
        week_start: Path<IsoDate>,
    ) -> Answer<
        Json<SavedWeekDraft>,
        { can::BAD_REQUEST | can::STORED | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let week = week_start.0.monday("weekStart")?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        super::brands::brand(&mut tx, &id.0).await?;
        let saved = store::draft(&mut tx, &id.0, week).await?;
        tx.commit().await?;
        let (draft, at) = saved.map_or((json!({}), None), |(draft, at)| (draft, Some(at)));
        Ok(Json(view(id.0, week, draft, at)?))
    }

    /// Save the draft of the brand's week starting `weekStart`, in place of the last one;
    /// answered with what was saved.
    #[oai(
        path = "/api/organic/brands/:id/weeks/:weekStart/draft",
        method = "put",
        operation_id = "saveOrganicWeekDraft"
    )]
    async fn put(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        /// The Monday of the week, `YYYY-MM-DD` (another shape is 400; a day the calendar
        /// has not, or not a Monday, 422: nothing is saved).
        #[oai(name = "weekStart")]
        week_start: Path<IsoDate>,
        body: StrictJson<WeekDraft>,
    ) -> Answer<
        Json<SavedWeekDraft>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let week = week_start.0.monday("weekStart")?;
        let draft = body.0.to_json().unwrap_or_else(|| json!({}));
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        super::brands::brand(&mut tx, &id.0).await?;
        let at = store::save_draft(&mut tx, &id.0, week, &draft).await?;
        tx.commit().await?;
        Ok(Json(view(id.0, week, draft, Some(at))?))
    }
}

fn view(
    brand: String,
    week: NaiveDate,
    draft: Value,
    updated_at: Option<DateTime<Utc>>,
) -> ApiResult<SavedWeekDraft> {
    let draft = WeekDraft::parse_from_json(Some(draft)).map_err(|error| {
        ApiError::internal(anyhow::anyhow!(
            "reading a saved week draft: {}",
            error.into_message()
        ))
    })?;
    Ok(SavedWeekDraft {
        brand_profile_id: brand,
        week_start: week.to_string(),
        placements: draft.placements.unwrap_or_default(),
        options: draft.options,
        updated_at,
    })
}
