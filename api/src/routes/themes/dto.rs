//! The theme routes' wire types: a theme, its sources, its syntheses, and the answers.

use almanac_shared::domain::RunStatus;
use almanac_shared::{
    domain::synthesis::Source,
    store::themes::{SynthesisRow, ThemeRow},
};
use chrono::{DateTime, Utc};
use poem_openapi::{Object, payload::Json};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

#[derive(Debug, Clone, Object, Serialize, Deserialize)]
pub struct ThemeSource {
    /// `rss` (a feed URL), `url` (a web page) or `text` (inline text).
    #[oai(rename = "type")]
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

impl From<Source> for ThemeSource {
    fn from(source: Source) -> Self {
        Self {
            kind: source.kind.as_str().to_owned(),
            value: source.value,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct CreateTheme {
    pub name: String,
    #[oai(nullable)]
    pub description: Option<String>,
    /// At most 20.
    #[oai(nullable)]
    pub sources: Option<Vec<ThemeSource>>,
}

#[derive(Debug, Clone, Object)]
pub struct UpdateTheme {
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(nullable)]
    pub description: Option<String>,
    /// Replaces the sources.
    #[oai(nullable)]
    pub sources: Option<Vec<ThemeSource>>,
}

#[derive(Debug, Clone, Object)]
pub struct Theme {
    pub id: Uuid,
    pub name: String,
    #[oai(nullable)]
    pub description: Option<String>,
    pub sources: Vec<ThemeSource>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<ThemeRow> for Theme {
    fn from(r: ThemeRow) -> Self {
        Self {
            id: r.id,
            name: r.name,
            description: r.description,
            sources: r.sources.0.into_iter().map(Into::into).collect(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct SynthesisAccepted {
    pub job_id: Uuid,
    pub synthesis_id: Uuid,
    // Undescribed, as `CreateGenerationAccepted::status` says why.
    pub status: RunStatus,
}

/// A generated synthesis.
#[derive(Debug, Clone, Object)]
pub struct SynthesisView {
    pub id: Uuid,
    pub theme_id: Uuid,
    pub status: RunStatus,
    /// `manual` or `schedule`.
    pub origin: String,
    /// ISO week, `2026-W47`.
    #[oai(nullable)]
    pub week: Option<String>,
    #[oai(nullable)]
    pub title: Option<String>,
    /// `[{title, summary, items: [{title, summary, url, source}]}]`.
    #[oai(nullable)]
    pub sections: Option<Value>,
    /// Per source: `{type, value, status: ok | failed, items?, error?}`.
    #[oai(nullable)]
    pub sources_report: Option<Value>,
    #[oai(nullable)]
    pub model: Option<String>,
    /// Items of the sources a scheduled synthesis left out as already sent by its
    /// schedule's digests.
    pub items_left_out: i32,
    #[oai(nullable)]
    pub error: Option<Value>,
    pub job_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

crate::responses! {
    pub enum SynthesisStarted {
        /// Accepted: follow it with `GET /v1/jobs/{job_id}/events`.
        202 => Accepted(Json<SynthesisAccepted>),
    }
}

crate::from_row!(SynthesisRow => SynthesisView {
    id,
    theme_id,
    status,
    origin,
    week,
    title,
    sections,
    sources_report,
    model,
    items_left_out,
    error,
    job_id,
    created_at,
    updated_at,
});
