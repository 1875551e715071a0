//! The organic week's tables as their owner reads and writes them (seed 003): the brand
//! library (brands, platform accounts and their links, trends, assets), generation runs,
//! the saved week's placements and the drafts of weeks being planned. Creating a library
//! item under an id the user already gave that resource answers `None` (the handler's 409).
//! What a run reads and writes in the worker is `runs.rs`.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgConnection, types::Json};
use uuid::Uuid;

use super::Row;
use crate::domain::organic::{AssetKind, SeedPlatform, TrendKind};

mod runs;

pub use runs::*;

const BRAND_COLUMNS: &str = "id, name, timezone, voice, guidance, hashtags, window_start, window_end, created_at, updated_at";
const TREND_COLUMNS: &str =
    "id, kind, title, description, keywords, priority, created_at, updated_at";
const ASSET_COLUMNS: &str = "id, kind, title, tags, url, created_at, updated_at";
const ACCOUNT_COLUMNS: &str = "a.platform, a.account_id, a.handle, l.created_at as linked_at";
const PLACEMENT_COLUMNS: &str =
    "brand_id, week_start, placement_id, timezone, placement, edited, edited_at, updated_at";

/// A brand as the library reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BrandRow {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub voice: Option<String>,
    pub guidance: Option<String>,
    pub hashtags: Vec<String>,
    pub window_start: NaiveTime,
    pub window_end: NaiveTime,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl BrandRow {
    /// Its fields, to change some and write them back.
    pub fn fields(&self) -> BrandFields {
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

/// A trend as the library reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TrendRow {
    pub id: String,
    pub kind: TrendKind,
    pub title: String,
    pub description: Option<String>,
    pub keywords: Vec<String>,
    pub priority: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A creative asset as the library reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AssetRow {
    pub id: String,
    pub kind: AssetKind,
    pub title: String,
    pub tags: Vec<String>,
    pub url: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A platform account linked to a brand.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkRow {
    pub platform: SeedPlatform,
    pub account_id: String,
    pub handle: Option<String>,
    pub linked_at: DateTime<Utc>,
}

/// A saved placement: its seed 003 JSON as the worker wrote it, and whether the user
/// edited it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PlacementRow {
    pub brand_id: String,
    pub week_start: NaiveDate,
    pub placement_id: String,
    pub timezone: String,
    pub placement: Json<Value>,
    pub edited: bool,
    pub edited_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// A library item's row, and the table it is read from.
pub trait Item: Row {
    const LIBRARY: Library;
}

impl Item for BrandRow {
    const LIBRARY: Library = Library::Brands;
}

impl Item for TrendRow {
    const LIBRARY: Library = Library::Trends;
}

impl Item for AssetRow {
    const LIBRARY: Library = Library::Assets;
}

/// A table of the library, for what its items share: reading one, listing, deleting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    Brands,
    Trends,
    Assets,
}

impl Library {
    fn table(self) -> &'static str {
        match self {
            Library::Brands => "brand_profiles",
            Library::Trends => "organic_trends",
            Library::Assets => "creative_assets",
        }
    }

    fn columns(self) -> &'static str {
        match self {
            Library::Brands => BRAND_COLUMNS,
            Library::Trends => TREND_COLUMNS,
            Library::Assets => ASSET_COLUMNS,
        }
    }

    /// Brands oldest first, trends by priority, assets by id.
    fn order(self) -> &'static str {
        match self {
            Library::Brands => "created_at, id",
            Library::Trends => "priority desc, id",
            Library::Assets => "id",
        }
    }
}

/// The caller's item `id` of the library `T` is read from.
pub async fn get<T: Item>(conn: &mut PgConnection, id: &str) -> sqlx::Result<Option<T>> {
    let library = T::LIBRARY;
    sqlx::query_as(AssertSqlSafe(format!(
        "select {} from {} where id = $1",
        library.columns(),
        library.table()
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The caller's items of the library `T` is read from (2,000 at most).
pub async fn list<T: Item>(conn: &mut PgConnection) -> sqlx::Result<Vec<T>> {
    let library = T::LIBRARY;
    sqlx::query_as(AssertSqlSafe(format!(
        "select {} from {} order by {} limit 2000",
        library.columns(),
        library.table(),
        library.order()
    )))
    .fetch_all(conn)
    .await
}

/// Deletes the caller's item (a brand with its links, runs and saved weeks); whether
/// there was one.
pub async fn delete(conn: &mut PgConnection, library: Library, id: &str) -> sqlx::Result<bool> {
    let deleted = sqlx::query(AssertSqlSafe(format!(
        "delete from {} where id = $1",
        library.table()
    )))
    .bind(id)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() > 0)
}

/// How a library item is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// A new item; an id the caller already uses for one writes nothing.
    Create,
    /// The caller's item with new fields.
    Replace,
}

impl Write {
    /// The statement writing `columns` (bound as `$2`.. after the id `$1`) of `table`:
    /// an insert that writes nothing over an existing id, or an update of the caller's row
    /// (none when it is gone: an item deleted meanwhile is not brought back).
    fn statement(self, table: &str, columns: &[&str], returning: &str) -> String {
        let values: Vec<String> = (2..columns.len() + 2).map(|i| format!("${i}")).collect();
        match self {
            Write::Create => format!(
                "insert into {table} (user_id, id, {}) values (app_user_id(), $1, {})
                 on conflict (workspace_id, id) do nothing returning {returning}",
                columns.join(", "),
                values.join(", ")
            ),
            Write::Replace => format!(
                "update {table} set ({}) = row({}), updated_at = now() where id = $1
                 returning {returning}",
                columns.join(", "),
                values.join(", ")
            ),
        }
    }
}

/// A brand's fields.
#[derive(Debug, Clone)]
pub struct BrandFields {
    pub name: String,
    pub timezone: String,
    pub voice: Option<String>,
    pub guidance: Option<String>,
    pub hashtags: Vec<String>,
    pub window: (NaiveTime, NaiveTime),
}

/// Writes a brand: a new one (`None` when the caller has one under `id`), or the caller's
/// brand `id` changed (`Write::Replace`; `None` when there is none).
pub async fn write_brand(
    conn: &mut PgConnection,
    write: Write,
    id: &str,
    brand: &BrandFields,
) -> sqlx::Result<Option<BrandRow>> {
    sqlx::query_as(AssertSqlSafe(write.statement(
        "brand_profiles",
        &[
            "name",
            "timezone",
            "voice",
            "guidance",
            "hashtags",
            "window_start",
            "window_end",
        ],
        BRAND_COLUMNS,
    )))
    .bind(id)
    .bind(&brand.name)
    .bind(&brand.timezone)
    .bind(&brand.voice)
    .bind(&brand.guidance)
    .bind(&brand.hashtags)
    .bind(brand.window.0)
    .bind(brand.window.1)
    .fetch_optional(conn)
    .await
}

/// Links the platform account to the brand, creating the account's row the first time
/// any brand names it. Returns the link and whether it is new.
pub async fn link_account(
    conn: &mut PgConnection,
    brand: &str,
    platform: &str,
    account_id: &str,
    handle: Option<&str>,
) -> sqlx::Result<(LinkRow, bool)> {
    let account: Uuid = sqlx::query_scalar(
        "insert into platform_accounts (id, user_id, platform, account_id, handle)
         values ($1, app_user_id(), $2, $3, $4)
         on conflict (workspace_id, platform, account_id) do update
             set handle = coalesce(excluded.handle, platform_accounts.handle),
                 updated_at = case when excluded.handle is null then platform_accounts.updated_at
                                   else now() end
         returning id",
    )
    .bind(Uuid::now_v7())
    .bind(platform)
    .bind(account_id)
    .bind(handle)
    .fetch_one(&mut *conn)
    .await?;
    let linked = sqlx::query(
        "insert into brand_accounts (user_id, brand_id, account) values (app_user_id(), $1, $2)
         on conflict do nothing",
    )
    .bind(brand)
    .bind(account)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        > 0;
    let row = sqlx::query_as(AssertSqlSafe(format!(
        "select {ACCOUNT_COLUMNS} from brand_accounts l join platform_accounts a on a.id = l.account
         where l.brand_id = $1 and l.account = $2"
    )))
    .bind(brand)
    .bind(account)
    .fetch_one(conn)
    .await?;
    Ok((row, linked))
}

/// The accounts linked to a brand.
pub async fn brand_accounts(conn: &mut PgConnection, brand: &str) -> sqlx::Result<Vec<LinkRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {ACCOUNT_COLUMNS} from brand_accounts l join platform_accounts a on a.id = l.account
         where l.brand_id = $1 order by a.platform, a.account_id"
    )))
    .bind(brand)
    .fetch_all(conn)
    .await
}

/// Unlinks the brand's accounts with this platform account id (on `platform` only, when
/// given); how many were linked. The account rows stay for the user's other brands.
pub async fn unlink_account(
    conn: &mut PgConnection,
    brand: &str,
    account_id: &str,
    platform: Option<&str>,
) -> sqlx::Result<u64> {
    let deleted = sqlx::query(
        "delete from brand_accounts l using platform_accounts a
         where l.account = a.id and l.brand_id = $1 and a.account_id = $2
           and ($3::text is null or a.platform = $3)",
    )
    .bind(brand)
    .bind(account_id)
    .bind(platform)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected())
}

/// A trend's fields.
#[derive(Debug, Clone)]
pub struct TrendFields {
    pub kind: String,
    pub title: String,
    pub description: Option<String>,
    pub keywords: Vec<String>,
    pub priority: i32,
}

/// Writes a trend, as [`write_brand`] does a brand.
pub async fn write_trend(
    conn: &mut PgConnection,
    write: Write,
    id: &str,
    trend: &TrendFields,
) -> sqlx::Result<Option<TrendRow>> {
    sqlx::query_as(AssertSqlSafe(write.statement(
        "organic_trends",
        &["kind", "title", "description", "keywords", "priority"],
        TREND_COLUMNS,
    )))
    .bind(id)
    .bind(&trend.kind)
    .bind(&trend.title)
    .bind(&trend.description)
    .bind(&trend.keywords)
    .bind(trend.priority)
    .fetch_optional(conn)
    .await
}

/// An asset's fields.
#[derive(Debug, Clone)]
pub struct AssetFields {
    pub kind: String,
    pub title: String,
    pub tags: Vec<String>,
    pub url: Option<String>,
}

/// Writes an asset, as [`write_brand`] does a brand.
pub async fn write_asset(
    conn: &mut PgConnection,
    write: Write,
    id: &str,
    asset: &AssetFields,
) -> sqlx::Result<Option<AssetRow>> {
    sqlx::query_as(AssertSqlSafe(write.statement(
        "creative_assets",
        &["kind", "title", "tags", "url"],
        ASSET_COLUMNS,
    )))
    .bind(id)
    .bind(&asset.kind)
    .bind(&asset.title)
    .bind(&asset.tags)
    .bind(&asset.url)
    .fetch_optional(conn)
    .await
}

/// A generation run to write, its job already written in this transaction.
pub struct NewRun<'a> {
    pub id: Uuid,
    pub brand: &'a str,
    pub week_start: NaiveDate,
    pub job_id: Uuid,
    pub request: &'a Value,
}

/// Writes the run; `false` when the brand already has an active one (a unique index).
pub async fn insert_run(conn: &mut PgConnection, run: NewRun<'_>) -> sqlx::Result<bool> {
    let inserted = sqlx::query(
        "insert into organic_runs (id, user_id, brand_id, week_start, job_id, request)
         values ($1, app_user_id(), $2, $3, $4, $5) on conflict do nothing",
    )
    .bind(run.id)
    .bind(run.brand)
    .bind(run.week_start)
    .bind(run.job_id)
    .bind(Json(run.request))
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() > 0)
}

/// The brand's active run: `(run id, job id, week)`.
pub async fn active_run(
    conn: &mut PgConnection,
    brand: &str,
) -> sqlx::Result<Option<(Uuid, Uuid, NaiveDate)>> {
    sqlx::query_as(
        "select id, job_id, week_start from organic_runs
         where brand_id = $1 and status in ('pending', 'running')",
    )
    .bind(brand)
    .fetch_optional(conn)
    .await
}

/// The saved placements of a brand's week, in the order they go out.
pub async fn week(
    conn: &mut PgConnection,
    brand: &str,
    week: NaiveDate,
) -> sqlx::Result<Vec<PlacementRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {PLACEMENT_COLUMNS} from organic_placements
         where brand_id = $1 and week_start = $2 order by scheduled_at, placement_id"
    )))
    .bind(brand)
    .bind(week)
    .fetch_all(conn)
    .await
}

/// A brand's saved placements under `placement_id` (in `week`, when given), locked for
/// an edit.
pub async fn placements_for_edit(
    conn: &mut PgConnection,
    brand: &str,
    placement_id: &str,
    week: Option<NaiveDate>,
) -> sqlx::Result<Vec<PlacementRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {PLACEMENT_COLUMNS} from organic_placements
         where brand_id = $1 and placement_id = $2 and ($3::date is null or week_start = $3)
         order by week_start limit 2 for update"
    )))
    .bind(brand)
    .bind(placement_id)
    .bind(week)
    .fetch_all(conn)
    .await
}

/// The user's other placements with this account in the week: `(placementId, time)`.
pub async fn account_placements(
    conn: &mut PgConnection,
    week: NaiveDate,
    (platform, account_id): (&str, &str),
    except: (&str, &str),
) -> sqlx::Result<Vec<(String, DateTime<Utc>)>> {
    sqlx::query_as(
        "select placement_id, scheduled_at from organic_placements
         where week_start = $1 and platform = $2 and account_id = $3
           and not (brand_id = $4 and placement_id = $5)",
    )
    .bind(week)
    .bind(platform)
    .bind(account_id)
    .bind(except.0)
    .bind(except.1)
    .fetch_all(conn)
    .await
}

/// Saves the user's edit of a placement.
pub async fn edit_placement(
    conn: &mut PgConnection,
    (brand, week, placement_id): (&str, NaiveDate, &str),
    scheduled_at: DateTime<Utc>,
    placement: &Value,
) -> sqlx::Result<PlacementRow> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update organic_placements set scheduled_at = $4, placement = $5, edited = true,
             edited_at = now(), updated_at = now()
         where brand_id = $1 and week_start = $2 and placement_id = $3
         returning {PLACEMENT_COLUMNS}"
    )))
    .bind(brand)
    .bind(week)
    .bind(placement_id)
    .bind(scheduled_at)
    .bind(Json(placement))
    .fetch_one(conn)
    .await
}

/// The draft of the brand's week starting `week` and when it was saved, if any.
pub async fn draft(
    conn: &mut PgConnection,
    brand: &str,
    week: NaiveDate,
) -> sqlx::Result<Option<(Value, DateTime<Utc>)>> {
    let row: Option<(Json<Value>, DateTime<Utc>)> = sqlx::query_as(
        "select draft, updated_at from organic_week_drafts where brand_id = $1 and week_start = $2",
    )
    .bind(brand)
    .bind(week)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(draft, at)| (draft.0, at)))
}

/// Saves the draft of the brand's week starting `week` in place of the last; when it was
/// saved.
pub async fn save_draft(
    conn: &mut PgConnection,
    brand: &str,
    week: NaiveDate,
    draft: &Value,
) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar(
        "insert into organic_week_drafts (user_id, brand_id, week_start, draft)
         values (app_user_id(), $1, $2, $3)
         on conflict (workspace_id, brand_id, week_start)
             do update set draft = excluded.draft, updated_at = now()
         returning updated_at",
    )
    .bind(brand)
    .bind(week)
    .bind(Json(draft))
    .fetch_one(conn)
    .await
}
