//! The organic routes' wire types: the brand library (brands, their linked accounts, trends,
//! creative assets), a week's generation request and its lines, the saved week and its
//! edits, the drafts, and the placement object of seed 003 that `placement` lines carry and
//! the saved week returns. The worker writes a placement as JSON
//! (`domain::organic::content::placement_json`); these types document it and read it back,
//! so the two cannot drift apart unnoticed (a test reads a generated placement through them).

use almanac_shared::domain::organic::{AssetKind, SeedPlatform, TrendKind};
use chrono::{DateTime, NaiveTime, Utc};
use poem_openapi::{Object, payload::Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::text::{ClockTime, Hashtag, IsoDate, Text};
use almanac_shared::store::organic::{AssetRow, BrandRow, LinkRow, TrendRow};

pub(super) type Name = Text<1, 200>;

pub(super) type LongText = Text<0, 4000>;

pub(super) type Keyword = Text<1, 100>;

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
    pub platform: SeedPlatform,
    /// The platform's id of the account (`ig_123`).
    pub account_id: Text<1, 200>,
    #[oai(nullable)]
    pub handle: Option<Text<0, 200>>,
}

/// A platform account linked to a brand.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct LinkedAccount {
    pub platform: SeedPlatform,
    pub account_id: String,
    #[oai(nullable)]
    pub handle: Option<String>,
    pub linked_at: DateTime<Utc>,
}

crate::responses! {
    pub enum Linked {
        /// The account is now linked to the brand.
        201 => Created(Json<LinkedAccount>),
        /// The account was already linked; its handle is updated when given.
        200 => Existing(Json<LinkedAccount>),
    }
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
#[derive(Debug, Clone, Object)]
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
#[derive(Debug, Clone, Object)]
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

/// One placement of the seed map.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PlacementSeed {
    /// Your stable id for the slot: the merge key of regenerations. Duplicates that are
    /// identical collapse; differing ones are refused.
    #[oai(validator(max_length = 200))]
    pub placement_id: String,
    /// The library trend, question or event (`trend-101`); one you do not have becomes
    /// that placement's `TREND_NOT_FOUND` error line.
    #[oai(validator(max_length = 200))]
    pub trend_id: String,
    /// `YYYY-MM-DD`, a day of the week.
    pub day_id: IsoDate,
    /// ISO 8601 with an offset, on `dayId` in the request's time zone.
    #[oai(validator(max_length = 40))]
    pub scheduled_at: String,
    /// A UI label (`9:00 AM`).
    #[oai(nullable, validator(max_length = 200))]
    pub time_label: Option<String>,
    pub platform: SeedPlatform,
    /// The account to post with; else `platformAccountIds[platform]`; neither is the
    /// placement's `MISSING_ACCOUNT` error line. Must be linked to the brand (403).
    #[oai(nullable, validator(max_length = 200))]
    pub account_id: Option<String>,
    /// `trend`, `question`, `event` or `manual`.
    #[oai(nullable, validator(pattern = "^(trend|question|event|manual)$"))]
    pub seed_source: Option<String>,
    /// `reel`, `carousel`, `story`, `post` or `newsletter`; by default the platform's
    /// (reel on instagram, tiktok and youtube; post on linkedin and facebook).
    #[oai(
        nullable,
        validator(pattern = "^(reel|carousel|story|post|newsletter)$")
    )]
    pub desired_format: Option<String>,
    /// Extra hints: `tags` (creative library tags to match), priority, ...
    #[oai(nullable)]
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GenerateOptions {
    /// `beta-launch`: every day without a seeded placement gets one placement per
    /// preferred platform (`preferredPlatforms`, else those of `platformAccountIds`) at
    /// the platform's default local time (instagram 09:00, linkedin 08:00, facebook 13:00,
    /// tiktok 19:00, youtube 15:00), about your highest-priority trends not yet used that
    /// week (reused in priority order once all are), with `placementId`
    /// `auto-<dayId>-<platform>`; its newsletter day is Thursday.
    #[oai(nullable, validator(pattern = "^beta-launch$"))]
    pub schedule_preset: Option<String>,
    /// Add a newsletter summarising the week (`placementId` `newsletter-<weekStart>`,
    /// platform `newsletter`, no account) at the start of the brand's posting window on
    /// `newsletterDayId`, else the preset's day (beta-launch: Thursday; none: Friday).
    #[oai(nullable)]
    pub include_newsletter: Option<bool>,
    #[oai(nullable)]
    pub newsletter_day_id: Option<IsoDate>,
    /// Given to the AI as data.
    #[oai(nullable, validator(max_length = 2000))]
    pub guidance_prompt: Option<String>,
    /// The language to write in (`en-US`, `es`): letters, digits, `-` and `_`.
    #[oai(nullable, validator(max_length = 35))]
    pub language: Option<String>,
    #[oai(nullable)]
    pub preferred_platforms: Option<Vec<SeedPlatform>>,
    /// Regenerate placements you edited too (by default they are kept as edited).
    #[oai(nullable)]
    pub overwrite_edited: Option<bool>,
}

/// Seed 003's request. Every problem is answered at once, in `error.details.problems`
/// (`[{field, reason}]`): no placements, more than `ORGANIC_MAX_PLACEMENTS` (60), a
/// `weekStart` that is not a Monday, an unknown time zone, a placement outside the week or
/// whose `scheduledAt` is not on its `dayId`, an unsupported platform, an empty
/// `trendId`, differing placements under one `placementId`, a `newsletterDayId` outside
/// the week.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct GenerateCalendarRequest {
    /// The caller's brand profile (404 otherwise).
    #[oai(validator(max_length = 200))]
    pub brand_profile_id: String,
    /// The Monday of the week, `YYYY-MM-DD`, in `timezone`.
    pub week_start: IsoDate,
    /// IANA; every date and time of the request is read in it.
    #[oai(validator(max_length = 64))]
    pub timezone: String,
    /// `{platform: accountId}`; each must be linked to the brand (403 otherwise).
    #[oai(nullable)]
    pub platform_account_ids: Option<std::collections::BTreeMap<String, String>>,
    #[oai(validator(min_items = 1))]
    pub placements: Vec<PlacementSeed>,
    #[oai(nullable)]
    pub options: Option<GenerateOptions>,
}

/// One line of the organic stream: `progress`, `placement`, `error` or `complete`.
#[derive(Object)]
#[oai(rename_all = "camelCase")]
pub struct OrganicEvent {
    #[oai(rename = "type")]
    pub kind: String,
    /// The event's sequence number (resume after it with `Last-Event-ID` or `?after=` on
    /// `GET /v1/jobs/{jobId}/events`); a line that is not stored repeats the last one.
    pub id: u64,
    /// `progress`: units done of `total`, the `stage` (`analyzing`, `optimizing`,
    /// `matching`, `drafting`, `finalizing`) and a `message`. Keep-alives are progress
    /// lines too, at least every `HEARTBEAT_SECS`.
    #[oai(skip_serializing_if_is_none)]
    pub completed: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    pub total: Option<u64>,
    #[oai(skip_serializing_if_is_none)]
    pub stage: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub message: Option<String>,
    /// `placement`: a drafted (or, `edited: true`, a kept) placement.
    #[oai(skip_serializing_if_is_none)]
    pub placement: Option<OrganicPlacement>,
    /// `error`: `MISSING_ACCOUNT`, `TREND_NOT_FOUND`, `NO_FREE_SLOT` or
    /// `GENERATION_FAILED` with the `placementId` (the others go on); `HISTORY_TRUNCATED`,
    /// `LAGGED` or `STREAM_ERROR` about the stream.
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub placement_id: Option<String>,
    /// `complete`, always the last line: how the job ended (`succeeded`, `failed`,
    /// `timeout`, `cancelled`)...
    #[oai(skip_serializing_if_is_none)]
    pub status: Option<String>,
    /// ...`{placements, errors, adjusted, autoFilled}`...
    #[oai(skip_serializing_if_is_none)]
    pub counts: Option<Value>,
    /// ...the job (also in the `X-Job-Id` header), the run, the brand and the week...
    #[oai(skip_serializing_if_is_none)]
    pub job_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub run_id: Option<Uuid>,
    #[oai(skip_serializing_if_is_none)]
    pub brand_profile_id: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub week_start: Option<String>,
    /// ...and why it did not succeed (`{code, message}`).
    #[oai(skip_serializing_if_is_none)]
    pub error: Option<Value>,
}

/// A brand's saved week.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OrganicWeek {
    pub brand_profile_id: String,
    pub week_start: String,
    /// In the order they go out.
    pub placements: Vec<OrganicPlacement>,
}

#[derive(Debug, Clone, Object)]
pub struct EditHashtags {
    #[oai(nullable, validator(max_items = 30))]
    pub high: Option<Vec<Hashtag<100>>>,
    #[oai(nullable, validator(max_items = 30))]
    pub medium: Option<Vec<Hashtag<100>>>,
    #[oai(nullable, validator(max_items = 30))]
    pub low: Option<Vec<Hashtag<100>>>,
}

/// A user's edit: the fields given replace the placement's.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct EditPlacement {
    /// A new time, in the placement's week (422 otherwise); refused (409
    /// `PLACEMENT_CONFLICT`) when another post of the account is closer than
    /// `ORGANIC_MIN_GAP_MINUTES`.
    #[oai(nullable)]
    pub scheduled_at: Option<DateTime<Utc>>,
    #[oai(nullable)]
    pub caption: Option<Text<1, 2200>>,
    /// The tiers given replace the saved ones.
    #[oai(nullable)]
    pub hashtags: Option<EditHashtags>,
}

/// A week being planned: seed 003's `placements` and `options`, each optional, as the
/// generate request would carry them.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WeekDraft {
    /// The seeds planned so far (may be empty), at most 60.
    #[oai(nullable, validator(max_items = 60))]
    pub placements: Option<Vec<PlacementSeed>>,
    #[oai(nullable)]
    pub options: Option<GenerateOptions>,
}

/// A saved draft (an empty one when none was saved).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SavedWeekDraft {
    pub brand_profile_id: String,
    pub week_start: String,
    pub placements: Vec<PlacementSeed>,
    #[oai(nullable)]
    pub options: Option<GenerateOptions>,
    /// When it was saved; null when nothing was.
    #[oai(nullable)]
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PlacementSchedule {
    /// The local day, `YYYY-MM-DD`.
    pub day_id: String,
    /// UTC, `2026-01-26T17:00:00.000Z`.
    pub scheduled_at: String,
    /// `morning` (05:00-11:59 local), `afternoon` (12:00-16:59), `evening` (17:00-20:59)
    /// or `night`.
    pub time_of_day: String,
    /// The time was moved to keep posts of one account apart.
    pub adjusted: bool,
    /// The local time, `9:00 AM`.
    #[serde(default)]
    pub time_label: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PlacementPlatform {
    /// A platform, or `newsletter`.
    pub name: String,
    /// Null for the newsletter.
    #[oai(nullable)]
    pub account_id: Option<String>,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PlacementSeedRef {
    /// The library trend it is about (the newsletter's: the week's first topic, if any).
    #[oai(nullable)]
    pub trend_id: Option<String>,
    /// `trend`, `question`, `event`, `manual` or `newsletter`.
    pub source: String,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PlacementContent {
    /// `reel`, `carousel`, `story`, `post` or `newsletter`.
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    /// The display name of the post type (`Reel`).
    pub format: String,
    pub title_topic: String,
    pub objective: String,
    pub target: String,
    pub tone: String,
    pub cta: String,
    pub num_slides: i64,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
pub struct AssetHint {
    pub role: String,
    pub suggestion: String,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct PlacementCreative {
    pub creative_idea: String,
    /// Up to 3 library assets whose tags overlap the trend's keywords or the placement's
    /// `metadata.tags`, of a kind that suits the post type, best overlap first.
    pub asset_ids: Vec<String>,
    pub asset_hints: Vec<AssetHint>,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
pub struct HashtagTiers {
    pub high: Vec<String>,
    pub medium: Vec<String>,
    /// Includes the brand's own hashtags.
    pub low: Vec<String>,
}

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
pub struct PlacementCopy {
    pub caption: String,
    pub hashtags: HashtagTiers,
}

/// One placement of the week.
#[derive(Debug, Clone, Object, Serialize, Deserialize)]
#[oai(rename_all = "camelCase")]
#[serde(rename_all = "camelCase")]
pub struct OrganicPlacement {
    pub placement_id: String,
    pub schedule: PlacementSchedule,
    pub platform: PlacementPlatform,
    pub seed: PlacementSeedRef,
    pub content: PlacementContent,
    pub creative: PlacementCreative,
    pub copy: PlacementCopy,
    /// Added by the preset's auto-fill.
    #[serde(default)]
    pub auto: bool,
    /// The user edited it: regenerations keep it unless `overwriteEdited`.
    #[serde(default)]
    pub edited: bool,
}

crate::from_row!(LinkRow => LinkedAccount { platform, account_id, handle, linked_at });
crate::from_row!(TrendRow => OrganicTrend {
    id, kind, title, description, keywords, priority, created_at, updated_at
});
crate::from_row!(AssetRow => CreativeAsset { id, kind, title, tags, url, created_at, updated_at });

/// Where a week goes: a calendar of the caller's (`calendarId`), or a new one (`name`, or
/// a name of the brand and the week when neither is given).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WeekToCalendar {
    #[oai(nullable)]
    pub calendar_id: Option<Uuid>,
    #[oai(nullable)]
    pub name: Option<Name>,
}

/// What adding a week to a calendar did: entries added, and entries an earlier add made
/// that were updated (those their owner edited or deleted since are left as they are).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WeekAdded {
    pub calendar_id: Uuid,
    pub added: u32,
    pub updated: u32,
}

/// What a week is exported as.
#[derive(Debug, Clone, Copy, poem_openapi::Enum)]
#[oai(rename = "OrganicWeekExportFormat", rename_all = "lowercase")]
pub enum WeekExportFormat {
    Ics,
    Csv,
}

/// A week exported: an iCalendar or CSV attachment (a calendar export's answer, documented
/// with the week's two formats).
pub struct WeekExport(pub crate::routes::saved_calendars::Export);

impl poem_openapi::ApiResponse for WeekExport {
    fn meta() -> poem_openapi::registry::MetaResponses {
        use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaSchema, MetaSchemaRef};
        let text = || MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")));
        poem_openapi::registry::MetaResponses {
            responses: vec![MetaResponse {
                description: "The week in the requested format, as an attachment.",
                status: Some(200),
                status_range: None,
                content: vec![
                    MetaMediaType {
                        content_type: "text/calendar",
                        schema: text(),
                    },
                    MetaMediaType {
                        content_type: "text/csv",
                        schema: text(),
                    },
                ],
                headers: vec![],
            }],
        }
    }

    fn register(_registry: &mut poem_openapi::registry::Registry) {}
}

impl poem::IntoResponse for WeekExport {
    fn into_response(self) -> poem::Response {
        self.0.into_response()
    }
}
