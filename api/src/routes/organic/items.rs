//! The library's trends, questions and events, and its creative assets (seed 003). An
//! asset's URL must be http(s): 422 otherwise.

use almanac_shared::store::user_tx;
use almanac_shared::{
    domain::organic::generated_id,
    store::organic::{self as store, AssetFields, AssetRow, Library, TrendFields, TrendRow, Write},
};
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};

use super::dto::*;
use super::{deleted, found, item, listed, taken, trimmed, unique};
use crate::responses::{Created, NoContent};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    routes::Tag,
    state::AppState,
    text::{Text, strings},
};

fn url(url: Option<Text<0, 2000>>) -> ApiResult<Option<String>> {
    match url {
        Some(url) => crate::text::http_url("url", url),
        None => Ok(None),
    }
}

#[derive(Default)]
pub struct OrganicLibraryApi;

#[OpenApi(tag = "Tag::Organic")]
impl OrganicLibraryApi {
    /// Add a trend, question or event to the library.
    #[oai(
        path = "/api/organic/trends",
        method = "post",
        operation_id = "createTrend"
    )]
    async fn create_trend(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<CreateTrend>,
    ) -> Answer<Created<OrganicTrend>, { can::STORED | can::BODY | can::CONFLICT }> {
        let body = body.0;
        let fields = TrendFields {
            kind: body.kind.as_str().to_owned(),
            title: body.title.trim().to_owned(),
            description: trimmed(body.description),
            keywords: unique(strings(body.keywords)),
            priority: body.priority.unwrap_or(0),
        };
        let id = body.id.unwrap_or_else(|| generated_id("trend"));
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let row = store::write_trend(&mut tx, Write::Create, &id, &fields)
            .await?
            .ok_or_else(|| taken("trend", &id))?;
        tx.commit().await?;
        Ok(Created::Created(Json(row.into())))
    }

    /// The caller's trends, questions and events, highest priority first.
    #[oai(
        path = "/api/organic/trends",
        method = "get",
        operation_id = "listTrends"
    )]
    async fn trends(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<Vec<OrganicTrend>>, { can::STORED }> {
        Ok(Json(
            listed::<TrendRow, _>(&state, auth.user().actor()).await?,
        ))
    }

    #[oai(
        path = "/api/organic/trends/:id",
        method = "get",
        operation_id = "getTrend"
    )]
    async fn trend(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
    ) -> Answer<Json<OrganicTrend>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        Ok(Json(
            found::<TrendRow, _>(&state, auth.user().actor(), &id.0, "trend").await?,
        ))
    }

    /// Change a trend: the fields given replace the saved ones.
    #[oai(
        path = "/api/organic/trends/:id",
        method = "patch",
        operation_id = "updateTrend"
    )]
    async fn update_trend(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        body: StrictJson<UpdateTrend>,
    ) -> Answer<Json<OrganicTrend>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let body = body.0;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let current: TrendRow = item(&mut tx, &id.0, "trend").await?;
        let fields = TrendFields {
            kind: body.kind.unwrap_or(current.kind).as_str().to_owned(),
            title: body.title.map_or(current.title, |t| t.trim().to_owned()),
            description: if body.description.is_some() {
                trimmed(body.description)
            } else {
                current.description
            },
            keywords: body
                .keywords
                .map_or(current.keywords, |k| unique(strings(k))),
            priority: body.priority.unwrap_or(current.priority),
        };
        let row = store::write_trend(&mut tx, Write::Replace, &id.0, &fields)
            .await?
            .ok_or_else(|| ApiError::not_found("trend"))?;
        tx.commit().await?;
        Ok(Json(row.into()))
    }

    #[oai(
        path = "/api/organic/trends/:id",
        method = "delete",
        operation_id = "deleteTrend"
    )]
    async fn delete_trend(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        Ok(deleted(&state, auth.user().actor(), Library::Trends, &id.0, "trend").await?)
    }

    /// Add an asset to the creative library.
    #[oai(
        path = "/api/organic/assets",
        method = "post",
        operation_id = "createAsset"
    )]
    async fn create_asset(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<CreateAsset>,
    ) -> Answer<
        Created<CreativeAsset>,
        { can::STORED | can::BODY | can::CONFLICT | can::UNPROCESSABLE },
    > {
        let body = body.0;
        let fields = AssetFields {
            kind: body.kind.as_str().to_owned(),
            title: body.title.trim().to_owned(),
            tags: unique(strings(body.tags)),
            url: url(body.url)?,
        };
        let id = body.id.unwrap_or_else(|| generated_id("asset"));
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let row = store::write_asset(&mut tx, Write::Create, &id, &fields)
            .await?
            .ok_or_else(|| taken("creative asset", &id))?;
        tx.commit().await?;
        Ok(Created::Created(Json(row.into())))
    }

    /// The caller's creative library, by id.
    #[oai(
        path = "/api/organic/assets",
        method = "get",
        operation_id = "listAssets"
    )]
    async fn assets(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<Vec<CreativeAsset>>, { can::STORED }> {
        Ok(Json(
            listed::<AssetRow, _>(&state, auth.user().actor()).await?,
        ))
    }

    #[oai(
        path = "/api/organic/assets/:id",
        method = "get",
        operation_id = "getAsset"
    )]
    async fn asset(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
    ) -> Answer<Json<CreativeAsset>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        Ok(Json(
            found::<AssetRow, _>(&state, auth.user().actor(), &id.0, "creative asset").await?,
        ))
    }

    /// Change an asset: the fields given replace the saved ones.
    #[oai(
        path = "/api/organic/assets/:id",
        method = "patch",
        operation_id = "updateAsset"
    )]
    async fn update_asset(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
        body: StrictJson<UpdateAsset>,
    ) -> Answer<
        Json<CreativeAsset>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let body = body.0;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let current: AssetRow = item(&mut tx, &id.0, "creative asset").await?;
        let fields = AssetFields {
            kind: body.kind.unwrap_or(current.kind).as_str().to_owned(),
            title: body.title.map_or(current.title, |t| t.trim().to_owned()),
            tags: body.tags.map_or(current.tags, |t| unique(strings(t))),
            url: if body.url.is_some() {
                url(body.url)?
            } else {
                current.url
            },
        };
        let row = store::write_asset(&mut tx, Write::Replace, &id.0, &fields)
            .await?
            .ok_or_else(|| ApiError::not_found("creative asset"))?;
        tx.commit().await?;
        Ok(Json(row.into()))
    }

    #[oai(
        path = "/api/organic/assets/:id",
        method = "delete",
        operation_id = "deleteAsset"
    )]
    async fn delete_asset(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<String>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        Ok(deleted(
            &state,
            auth.user().actor(),
            Library::Assets,
            &id.0,
            "creative asset",
        )
        .await?)
    }
}
