//! The brand library (seed 003): brand profiles, the platform accounts linked to each,
//! trends/questions/events and creative assets. Owner only (another user's item is 404);
//! plain JSON resources; ids are the client's (`brand_123`) or generated, and reusing one
//! is 409 `ID_TAKEN`. What the schema states is 400; what only a rule can judge (an unknown
//! time zone, a window that ends before it starts, a URL that is not http) is 422.

use almanac_shared::{
    db,
    domain::organic::{AssetKind, Platform, TrendKind, generated_id},
    store::organic::{self as store, AssetFields, BrandFields, Library, TrendFields, Write},
};
use chrono::{DateTime, NaiveTime, Utc};
use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use sqlx::PgConnection;

use super::NoContent;
use crate::{
    auth::BearerAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, can},
    routes::Tag,
    state::AppState,
    text::{ClockTime, Hashtag, Text, strings},
};

type Name = Text<1, 200>;
type LongText = Text<0, 4000>;
type Keyword = Text<1, 100>;

/// A brand's local posting window; conflict shifting stays inside it.
#[derive(Debug, Clone, Object)]
pub struct PostingWindow {
    /// `HH:MM`, local.
    pub start: ClockTime,
    /// `HH:MM`, local; after `start`.
    pub end: ClockTime,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateBrand {
    /// Your id for the brand (`brand_123`); generated when absent.
    #[oai(nullable, validator(pattern = r"^[A-Za-z0-9_.:-]{1,64}$"))]
    pub id: Option<String>,
    pub name: Name,
    /// IANA time zone (`America/Los_Angeles`): the default for the brand's requests.
    #[oai(validator(max_length = 64))]
    pub timezone: String,
    #[oai(nullable)]
    pub voice: Option<LongText>,
    #[oai(nullable)]
    pub guidance: Option<LongText>,
    /// The brand's own hashtags: always in every placement's `low` tier. At most 30.
    #[oai(nullable, validator(max_items = 30))]
    pub hashtags: Option<Vec<Hashtag<100>>>,
    /// Default 07:00-22:00.
    #[oai(nullable)]
    pub posting_window: Option<PostingWindow>,
}

/// Changes to a brand: absent (or null) fields stay as they are.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateBrand {
    #[oai(nullable)]
    pub name: Option<Name>,
    #[oai(nullable, validator(max_length = 64))]
    pub timezone: Option<String>,
    #[oai(nullable)]
    pub voice: Option<LongText>,
    #[oai(nullable)]
    pub guidance: Option<LongText>,
    #[oai(nullable, validator(max_items = 30))]
    pub hashtags: Option<Vec<Hashtag<100>>>,
    #[oai(nullable)]
    pub posting_window: Option<PostingWindow>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct BrandProfile {
    pub id: String,
    pub name: String,
    pub timezone: String,
    #[oai(nullable)]
    pub voice: Option<String>,
    #[oai(nullable)]
    pub guidance: Option<String>,
    pub hashtags: Vec<String>,
    pub posting_window: PostingWindow,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
pub(super) struct BrandRow {
    id: String,
    name: String,
    timezone: String,
    voice: Option<String>,
    guidance: Option<String>,
    hashtags: Vec<String>,
    window_start: NaiveTime,
    window_end: NaiveTime,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl BrandRow {
    fn fields(&self) -> BrandFields {
        BrandFields {
            name: self.name.clone(),
            timezone: self.timezone.clone(),
            voice: self.voice.clone(),
            guidance: self.guidance.clone(),
            hashtags: self.hashtags.clone(),
            window: (self.window_start, self.window_end),
        }
    }
}

impl From<BrandRow> for BrandProfile {
    fn from(r: BrandRow) -> Self {
        let clock = |t: NaiveTime| ClockTime(t.format("%H:%M").to_string());
        Self {
            id: r.id,
            name: r.name,
            timezone: r.timezone,
            voice: r.voice,
            guidance: r.guidance,
            hashtags: r.hashtags,
            posting_window: PostingWindow {
                start: clock(r.window_start),
                end: clock(r.window_end),
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct LinkAccount {
    pub platform: Platform,
    /// The platform's id of the account (`ig_123`).
    pub account_id: Text<1, 200>,
    #[oai(nullable)]
    pub handle: Option<Text<0, 200>>,
}

/// A platform account linked to a brand.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct LinkedAccount {
    pub platform: Platform,
    pub account_id: String,
    #[oai(nullable)]
    pub handle: Option<String>,
    pub linked_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateTrend {
    /// Your id for it (`trend-101`); generated when absent.
    #[oai(nullable, validator(pattern = r"^[A-Za-z0-9_.:-]{1,64}$"))]
    pub id: Option<String>,
    pub kind: TrendKind,
    pub title: Name,
    #[oai(nullable)]
    pub description: Option<LongText>,
    /// Matched against creative assets' tags. At most 50.
    #[oai(validator(max_items = 50))]
    pub keywords: Vec<Keyword>,
    /// Higher first when the preset picks trends; default 0.
    #[oai(nullable)]
    pub priority: Option<i32>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateTrend {
    #[oai(nullable)]
    pub kind: Option<TrendKind>,
    #[oai(nullable)]
    pub title: Option<Name>,
    #[oai(nullable)]
    pub description: Option<LongText>,
    #[oai(nullable, validator(max_items = 50))]
    pub keywords: Option<Vec<Keyword>>,
    #[oai(nullable)]
    pub priority: Option<i32>,
}

/// A trend, question or event of the library.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct OrganicTrend {
    pub id: String,
    pub kind: TrendKind,
    pub title: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub keywords: Vec<String>,
    pub priority: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CreateAsset {
    /// Your id for it (`asset_991`); generated when absent.
    #[oai(nullable, validator(pattern = r"^[A-Za-z0-9_.:-]{1,64}$"))]
    pub id: Option<String>,
    pub kind: AssetKind,
    pub title: Name,
    /// Matched against trends' keywords and placements' `metadata.tags`. At most 50.
    #[oai(validator(max_items = 50))]
    pub tags: Vec<Keyword>,
    /// Where the asset lives (`https://...`).
    #[oai(nullable)]
    pub url: Option<Text<0, 2000>>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct UpdateAsset {
    #[oai(nullable)]
    pub kind: Option<AssetKind>,
    #[oai(nullable)]
    pub title: Option<Name>,
    #[oai(nullable, validator(max_items = 50))]
    pub tags: Option<Vec<Keyword>>,
    #[oai(nullable)]
    pub url: Option<Text<0, 2000>>,
}

/// A creative library asset.
#[derive(Debug, Clone, Object, sqlx::FromRow)]
#[oai(rename_all = "camelCase")]
pub struct CreativeAsset {
    pub id: String,
    pub kind: AssetKind,
    pub title: String,
    pub tags: Vec<String>,
    #[oai(nullable)]
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(ApiResponse)]
pub enum Created<T: poem_openapi::types::ToJSON> {
    #[oai(status = 201)]
    Created(Json<T>),
}

#[derive(ApiResponse)]
pub enum Linked {
    /// The account is now linked to the brand.
    #[oai(status = 201)]
    Created(Json<LinkedAccount>),
    /// The account was already linked; its handle is updated when given.
    #[oai(status = 200)]
    Existing(Json<LinkedAccount>),
}

fn taken(what: &str, id: &str) -> ApiError {
    ApiError::conflict(
        "ID_TAKEN",
        format!("you already have a {what} with id `{id}`; choose another or omit `id`"),
    )
}

fn trimmed(text: Option<impl Into<String>>) -> Option<String> {
    text.map(Into::into)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

fn unique(items: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let item = item.trim().to_owned();
        if !item.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(&item)) {
            out.push(item);
        }
    }
    out
}

fn hashtags(raw: Vec<Hashtag<100>>) -> Vec<String> {
    unique(
        strings(raw)
            .into_iter()
            .map(|h| format!("#{}", h.trim().trim_start_matches('#')))
            .collect(),
    )
}

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

fn url(url: Option<Text<0, 2000>>) -> ApiResult<Option<String>> {
    let Some(url) = trimmed(url) else {
        return Ok(None);
    };
    match url::Url::parse(&url) {
        Ok(parsed) if ["http", "https"].contains(&parsed.scheme()) => Ok(Some(url)),
        _ => Err(ApiError::unprocessable_field(
            "url",
            "must be an http(s) URL",
        )),
    }
}

/// The caller's brand, or 404.
pub(super) async fn brand(conn: &mut PgConnection, id: &str) -> ApiResult<BrandRow> {
    store::get(conn, Library::Brands, id)
        .await?
        .ok_or_else(|| ApiError::not_found("brand profile"))
}

pub struct OrganicLibraryApi;

#[OpenApi(tag = "Tag::Organic")]
impl OrganicLibraryApi {
    /// Create a brand profile.
    #[oai(
        path = "/api/organic/brands",
        method = "post",
        operation_id = "createBrand"
    )]
    async fn create_brand(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
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
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
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
        auth: BearerAuth,
    ) -> Answer<Json<Vec<BrandProfile>>, { can::STORED }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let rows: Vec<BrandRow> = store::list(&mut tx, Library::Brands).await?;
        tx.commit().await?;
        Ok(Json(rows.into_iter().map(Into::into).collect()))
    }

    #[oai(
        path = "/api/organic/brands/:id",
        method = "get",
        operation_id = "getBrand"
    )]
    async fn brand(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<String>,
    ) -> Answer<Json<BrandProfile>, { can::STORED | can::NOT_FOUND }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let row = brand(&mut tx, &id.0).await?;
        tx.commit().await?;
        Ok(Json(row.into()))
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
        auth: BearerAuth,
        id: Path<String>,
        body: StrictJson<UpdateBrand>,
    ) -> Answer<Json<BrandProfile>, { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE }>
    {
        let body = body.0;
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
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
        auth: BearerAuth,
        id: Path<String>,
    ) -> Answer<NoContent, { can::STORED | can::NOT_FOUND }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let deleted = store::delete(&mut tx, Library::Brands, &id.0).await?;
        tx.commit().await?;
        if !deleted {
            return Err(ApiError::not_found("brand profile").into());
        }
        Ok(NoContent::Done)
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
        auth: BearerAuth,
        id: Path<String>,
        body: StrictJson<LinkAccount>,
    ) -> Answer<Linked, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let body = body.0;
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        brand(&mut tx, &id.0).await?;
        let handle = trimmed(body.handle);
        let (row, new): (LinkedAccount, bool) = store::link_account(
            &mut tx,
            &id.0,
            body.platform.as_str(),
            body.account_id.trim(),
            handle.as_deref(),
        )
        .await?;
        tx.commit().await?;
        Ok(if new {
            Linked::Created(Json(row))
        } else {
            Linked::Existing(Json(row))
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
        auth: BearerAuth,
        id: Path<String>,
    ) -> Answer<Json<Vec<LinkedAccount>>, { can::STORED | can::NOT_FOUND }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        brand(&mut tx, &id.0).await?;
        let rows = store::brand_accounts(&mut tx, &id.0).await?;
        tx.commit().await?;
        Ok(Json(rows))
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
        auth: BearerAuth,
        id: Path<String>,
        #[oai(name = "accountId")] account_id: Path<String>,
        /// Only the account on this platform, when two platforms share the id.
        platform: Query<Option<Platform>>,
    ) -> Answer<NoContent, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        brand(&mut tx, &id.0).await?;
        let unlinked = store::unlink_account(
            &mut tx,
            &id.0,
            &account_id.0,
            platform.0.map(Platform::as_str),
        )
        .await?;
        tx.commit().await?;
        if unlinked == 0 {
            return Err(ApiError::not_found("linked account").into());
        }
        Ok(NoContent::Done)
    }

    /// Add a trend, question or event to the library.
    #[oai(
        path = "/api/organic/trends",
        method = "post",
        operation_id = "createTrend"
    )]
    async fn create_trend(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
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
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let row = store::write_trend(&mut tx, Write::Create, &id, &fields)
            .await?
            .ok_or_else(|| taken("trend", &id))?;
        tx.commit().await?;
        Ok(Created::Created(Json(row)))
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
        auth: BearerAuth,
    ) -> Answer<Json<Vec<OrganicTrend>>, { can::STORED }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let rows = store::list(&mut tx, Library::Trends).await?;
        tx.commit().await?;
        Ok(Json(rows))
    }

    #[oai(
        path = "/api/organic/trends/:id",
        method = "get",
        operation_id = "getTrend"
    )]
    async fn trend(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<String>,
    ) -> Answer<Json<OrganicTrend>, { can::STORED | can::NOT_FOUND }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let row = store::get(&mut tx, Library::Trends, &id.0).await?;
        tx.commit().await?;
        Ok(Json(row.ok_or_else(|| ApiError::not_found("trend"))?))
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
        auth: BearerAuth,
        id: Path<String>,
        body: StrictJson<UpdateTrend>,
    ) -> Answer<Json<OrganicTrend>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let body = body.0;
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let current: OrganicTrend = store::get(&mut tx, Library::Trends, &id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("trend"))?;
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
        Ok(Json(row))
    }

    #[oai(
        path = "/api/organic/trends/:id",
        method = "delete",
        operation_id = "deleteTrend"
    )]
    async fn delete_trend(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<String>,
    ) -> Answer<NoContent, { can::STORED | can::NOT_FOUND }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let deleted = store::delete(&mut tx, Library::Trends, &id.0).await?;
        tx.commit().await?;
        if !deleted {
            return Err(ApiError::not_found("trend").into());
        }
        Ok(NoContent::Done)
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
        auth: BearerAuth,
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
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let row = store::write_asset(&mut tx, Write::Create, &id, &fields)
            .await?
            .ok_or_else(|| taken("creative asset", &id))?;
        tx.commit().await?;
        Ok(Created::Created(Json(row)))
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
        auth: BearerAuth,
    ) -> Answer<Json<Vec<CreativeAsset>>, { can::STORED }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let rows = store::list(&mut tx, Library::Assets).await?;
        tx.commit().await?;
        Ok(Json(rows))
    }

    #[oai(
        path = "/api/organic/assets/:id",
        method = "get",
        operation_id = "getAsset"
    )]
    async fn asset(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<String>,
    ) -> Answer<Json<CreativeAsset>, { can::STORED | can::NOT_FOUND }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let row = store::get(&mut tx, Library::Assets, &id.0).await?;
        tx.commit().await?;
        Ok(Json(
            row.ok_or_else(|| ApiError::not_found("creative asset"))?,
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
        auth: BearerAuth,
        id: Path<String>,
        body: StrictJson<UpdateAsset>,
    ) -> Answer<
        Json<CreativeAsset>,
        { can::STORED | can::BODY | can::NOT_FOUND | can::UNPROCESSABLE },
    > {
        let body = body.0;
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let current: CreativeAsset = store::get(&mut tx, Library::Assets, &id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("creative asset"))?;
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
        Ok(Json(row))
    }

    #[oai(
        path = "/api/organic/assets/:id",
        method = "delete",
        operation_id = "deleteAsset"
    )]
    async fn delete_asset(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<String>,
    ) -> Answer<NoContent, { can::STORED | can::NOT_FOUND }> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let deleted = store::delete(&mut tx, Library::Assets, &id.0).await?;
        tx.commit().await?;
        if !deleted {
            return Err(ApiError::not_found("creative asset").into());
        }
        Ok(NoContent::Done)
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::{
        registry::{MetaSchemaRef, Registry},
        types::Type,
    };

    /// The `id` pattern the document states for a library item.
    fn documented_id_pattern<T: Type>() -> regex::Regex {
        let mut registry = Registry::new();
        T::register(&mut registry);
        let schema = &registry.schemas[&*T::name()];
        let id = schema
            .properties
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, schema)| schema)
            .expect("an id property");
        let MetaSchemaRef::Inline(id) = id else {
            unreachable!("an inline string schema")
        };
        regex::Regex::new(id.pattern.as_deref().expect("a pattern")).unwrap()
    }

    #[test]
    fn the_documented_id_pattern_is_the_domain_s() {
        use almanac_shared::domain::organic::is_library_id;
        for pattern in [
            documented_id_pattern::<super::CreateBrand>(),
            documented_id_pattern::<super::CreateTrend>(),
            documented_id_pattern::<super::CreateAsset>(),
        ] {
            for id in [
                "brand_123",
                "trend-101",
                "asset_991",
                "a.b:c",
                &"x".repeat(64),
            ] {
                assert!(pattern.is_match(id) && is_library_id(id), "{id}");
            }
            for id in ["", "a b", "ü", "a/b", &"x".repeat(65)] {
                assert!(!pattern.is_match(id) && !is_library_id(id), "{id}");
            }
        }
    }
}
