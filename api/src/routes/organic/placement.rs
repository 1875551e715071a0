//! The placement object of seed 003, as `placement` lines carry it and the saved week
//! returns it. The worker writes it as JSON (`domain::organic::content::placement_json`);
//! these types document it and read it back, so the two cannot drift apart unnoticed (a
//! test reads a generated placement through them).

use poem_openapi::Object;
use serde::{Deserialize, Serialize};

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
