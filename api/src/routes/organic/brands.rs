//! Brand profiles and the platform accounts linked to each (seed 003). A brand's time zone
//! and posting window are rules the schema cannot state: 422 when they do not hold.

use almanac_shared::store::user_tx;
use almanac_shared::{
    domain::organic::{SeedPlatform, generated_id},
    store::organic::{self as store, BrandFields, BrandRow, Library, Write},
};
use chrono::NaiveTime;
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Path, Query},
    payload::Json,
};
use sqlx::PgConnection;

use super::dto::*;
use super::{deleted, found, hashtags, item, listed, taken, trimmed};
use crate::responses::{Created, NoContent};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    routes::Tag,
    state::AppState,
    text::ClockTime,
};

fn timezone(tz: &str) -> ApiResult<String> {
    let tz = tz.trim();
    tz.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            ApiError::unprocessable_field("timezone", format!("`{tz}` is not an IANA time zone"))
        })
}

fn window(window: &PostingWindow) -> ApiResult<(NaiveTime, NaiveTime)> {
    let parse = |field: &str, t: &ClockTime| {
        NaiveTime::parse_from_str(&t.0, "%H:%M")
            .map_err(|_| ApiError::unprocessable_field(field, "must be HH:MM"))
    };
    let start = parse("postingWindow.start", &window.start)?;
    let end = parse("postingWindow.end", &window.end)?;
    if start >= end {
        return Err(ApiError::unprocessable_field(
            "postingWindow",
            "end must be after start",
        ));
    }
    Ok((start, end))
}

/// The caller's brand, or 404.
pub(super) async fn brand(conn: &mut PgConnection, id: &str) -> ApiResult<BrandRow> {
    item(conn, id, "brand profile").await
}

#[derive(Default)]
pub struct OrganicBrandsApi;

#[OpenApi(tag = "Tag::Organic")]
impl OrganicBrandsApi {
    /// Create a brand profile.
    #[oai(
        path = "/api/organic/brands",
        method = "post",
        operation_id = "createBrand"
    )]
    async fn create_brand(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<CreateBrand>,
    ) -> Answer<
        Created<BrandProfile>,
        { can::STORED | can::BODY | can::CONFLICT | can::UNPROCESSABLE },
    > {
        let body = body.0;
        let fields = BrandFields {
            name: body.name.trim().to_owned(),
            timezone: timezone(&body.timezone)?,
            voice: trimmed(body.voice),
            guidance: trimmed(body.guidance),
            hashtags: hashtags(body.hashtags.unwrap_or_default()),
            window: match &body.posting_window {
                Some(w) => window(w)?,
                None => (
                    NaiveTime::from_hms_opt(7, 0, 0).expect("valid"),
                    NaiveTime::from_hms_opt(22, 0, 0).expect("valid"),
                ),
            },
        };
        let id = body.id.unwrap_or_else(|| generated_id("brand"));
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let row: BrandRow = store::write_brand(&mut tx, Write::Create, &id, &fields)
            .await?
            .ok_or_else(|| taken("brand profile", &id))?;
        tx.commit().await?;
        Ok(Created::Created(Json(row.into())))
    }

    /// The caller's brand profiles, oldest first.
    #[oai(
        path = "/api/organic/brands",
        method = "get",
        operation_id = "listBrands"
    )]
    async fn brands(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<Vec<BrandProfile>>, { can::STORED }> {
        Ok(Json(
            listed::<BrandRow, _>(&state, auth.user().actor()).await?,
        ))
    }

    #[oai(
        path = "/api/organic/brands/:id",
        method = "get",
        operation_id = "getBrand"
    )]
    async fn brand(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
    ) -> Answer<Json<BrandProfile>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        Ok(Json(
            found::<BrandRow, _>(&state, auth.user().actor(), &id.0, "brand profile").await?,
        ))
    }

    /// Change a brand profile: the fields given replace the saved ones.
    #[oai(
        path = "/api/organic/brands/:id",
        method = "patch",
        operation_id = "updateBrand"
    )]
    async fn update_brand(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        body: StrictJson<UpdateBrand>,
    ) -> Answer<Json<BrandProfile>, { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE }>
    {
        let body = body.0;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let mut fields = brand(&mut tx, &id.0).await?.fields();
        if let Some(name) = body.name {
            fields.name = name.trim().to_owned();
        }
        if let Some(tz) = &body.timezone {
            fields.timezone = timezone(tz)?;
        }
        if body.voice.is_some() {
            fields.voice = trimmed(body.voice);
        }
        if body.guidance.is_some() {
            fields.guidance = trimmed(body.guidance);
        }
        if let Some(tags) = body.hashtags {
            fields.hashtags = hashtags(tags);
        }
        if let Some(w) = &body.posting_window {
            fields.window = window(w)?;
        }
        let row: BrandRow = store::write_brand(&mut tx, Write::Replace, &id.0, &fields)
            .await?
            .ok_or_else(|| ApiError::not_found("brand profile"))?;
        tx.commit().await?;
        Ok(Json(row.into()))
    }

    /// Delete a brand profile with its account links, runs and saved weeks.
    #[oai(
        path = "/api/organic/brands/:id",
        method = "delete",
        operation_id = "deleteBrand"
    )]
    async fn delete_brand(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        Ok(deleted(
            &state,
            auth.user().actor(),
            Library::Brands,
            &id.0,
            "brand profile",
        )
        .await?)
    }

    /// Link a platform account to the brand. An account is one row per (platform,
    /// accountId) for all the caller's brands: linking it to a second brand reuses it.
    #[oai(
        path = "/api/organic/brands/:id/accounts",
        method = "post",
        operation_id = "linkBrandAccount"
    )]
    async fn link_account(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        body: StrictJson<LinkAccount>,
    ) -> Answer<Linked, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let body = body.0;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        brand(&mut tx, &id.0).await?;
        let handle = trimmed(body.handle);
        let (row, new) = store::link_account(
            &mut tx,
            &id.0,
            body.platform.as_str(),
            body.account_id.trim(),
            handle.as_deref(),
        )
        .await?;
        tx.commit().await?;
        Ok(if new {
            Linked::Created(Json(row.into()))
        } else {
            Linked::Existing(Json(row.into()))
        })
    }

    /// The platform accounts linked to the brand.
    #[oai(
        path = "/api/organic/brands/:id/accounts",
        method = "get",
        operation_id = "listBrandAccounts"
    )]
    async fn accounts(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
    ) -> Answer<Json<Vec<LinkedAccount>>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        brand(&mut tx, &id.0).await?;
        let rows = store::brand_accounts(&mut tx, &id.0).await?;
        tx.commit().await?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    /// Unlink a platform account (by the platform's account id) from the brand; the
    /// account stays linked to the caller's other brands.
    #[oai(
        path = "/api/organic/brands/:id/accounts/:accountId",
        method = "delete",
        operation_id = "unlinkBrandAccount"
    )]
    async fn unlink_account(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        #[oai(name = "accountId")] account_id: Path<String>,
        /// Only the account on this platform, when two platforms share the id.
        platform: Query<Option<SeedPlatform>>,
    ) -> Answer<NoContent, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        brand(&mut tx, &id.0).await?;
        let unlinked = store::unlink_account(
            &mut tx,
            &id.0,
            &account_id.0,
            platform.0.map(SeedPlatform::as_str),
        )
        .await?;
        tx.commit().await?;
        if unlinked == 0 {
            return Err(ApiError::not_found("linked account").into());
        }
        Ok(NoContent::Done)
    }
}
