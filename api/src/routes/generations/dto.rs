//! The generation routes' wire types: a generation, its request and its answers.

use crate::text::Text;
use almanac_shared::{
    domain::{
        RunStatus,
        generation::{self, CardType},
    },
    store::generations::Generation,
};
use chrono::{DateTime, Utc};
use poem_openapi::{Object, payload::Json};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// `CreateAIGenerationCommand` of seed 002.
#[derive(Debug, Clone, Object, Serialize)]
pub struct CreateGenerationCommand {
    /// 1,000 characters once trimmed, 10,000 as sent.
    pub source_text: Text<{ generation::SOURCE_MIN_CHARS }, { generation::SOURCE_MAX_CHARS }>,
    /// Model id to use instead of the configured default.
    #[oai(nullable, validator(pattern = r"^[A-Za-z0-9._:@/-]{1,100}$"))]
    pub model: Option<String>,
    /// Prompt template version; `v1` when absent.
    #[oai(nullable, validator(pattern = "^v1$"))]
    pub prompt_version: Option<String>,
    /// `false`: ask the AI even when the same source text (with the same prompt version
    /// and model) was generated in the last `GENERATION_DEDUP_DAYS` days. By default such a
    /// request reuses that generation's suggestions, at no AI cost (`reused_from`).
    #[oai(nullable)]
    pub reuse: Option<bool>,
    /// The kinds of cards to write: `basic` (a question and its answer) and `cloze` (an
    /// enumeration or a definition with its parts hidden as `{{c1::...}}`, one card per
    /// list); `["basic"]` when absent.
    #[oai(nullable, validator(min_items = 1, max_items = 2, unique_items))]
    pub card_types: Option<Vec<CardType>>,
}

#[derive(Debug, Clone, Object, Serialize, serde::Deserialize)]
pub struct CreateGenerationAccepted {
    pub generation_id: Uuid,
    // An enum field goes undescribed: poem-openapi would wrap its `$ref` in an `allOf`,
    // which generated clients cannot read. The type's own description says it.
    pub status: RunStatus,
    /// The job in the ledger (`GET /v1/jobs/{id}`).
    pub job_id: Uuid,
    /// The earlier generation of the same source text whose still-proposed suggestions
    /// this one lists (the same suggestions, not copies); the AI is not asked again, and
    /// neither the rate limit nor the token budget is spent. Null when the AI is asked.
    #[oai(nullable)]
    #[serde(default)]
    pub reused_from: Option<Uuid>,
}

crate::responses! {
    pub enum CreateGenerationResponse {
        /// Accepted: the generation runs in the background; poll `GET /api/ai/generations/{id}`.
        202 => Accepted(Json<CreateGenerationAccepted>),
    }
}

#[derive(Debug, Clone, Object)]
pub struct SuggestionCounts {
    pub total: i64,
    pub proposed: i64,
    pub accepted: i64,
    pub rejected: i64,
    /// Suggestions the AI made that were left out: the same as one of the caller's cards,
    /// or as another suggestion of this generation (case, punctuation and spacing aside).
    pub duplicates_skipped: i64,
}

/// `AIGenerationDTO`: a generation with its outcome and suggestion counts.
#[derive(Debug, Clone, Object)]
pub struct GenerationDto {
    pub id: Uuid,
    pub status: RunStatus,
    /// Present on the single-generation view, omitted in lists.
    #[oai(skip_serializing_if_is_none)]
    #[oai(nullable)]
    pub source_text: Option<String>,
    #[oai(nullable)]
    pub model: Option<String>,
    pub prompt_version: String,
    /// The kinds of cards asked for (`basic`, `cloze`).
    pub card_types: Vec<CardType>,
    #[oai(nullable)]
    pub tokens_input: Option<i32>,
    #[oai(nullable)]
    pub tokens_output: Option<i32>,
    #[oai(nullable)]
    pub cost_usd: Option<f64>,
    /// Attribution: provider, model, latency, prompt version, attempts.
    #[oai(nullable)]
    pub ai_metadata: Option<Value>,
    /// Why the generation failed, when it did.
    #[oai(nullable)]
    pub error: Option<Value>,
    pub job_id: Uuid,
    /// The earlier generation whose suggestions this one lists (see `reused_from` of the
    /// submit's answer).
    #[oai(nullable)]
    pub reused_from: Option<Uuid>,
    pub suggestions: SuggestionCounts,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Generation> for GenerationDto {
    fn from(r: Generation) -> Self {
        Self {
            id: r.id,
            status: r.status,
            source_text: r.source_text,
            model: r.model,
            prompt_version: r.prompt_version,
            card_types: r.card_types,
            tokens_input: r.tokens_input,
            tokens_output: r.tokens_output,
            cost_usd: r.cost_usd,
            ai_metadata: r.ai_metadata.map(|j| j.0),
            error: r.error.map(|j| j.0),
            job_id: r.job_id,
            reused_from: r.reused_from,
            suggestions: SuggestionCounts {
                total: r.total,
                proposed: r.proposed,
                accepted: r.accepted,
                rejected: r.rejected,
                duplicates_skipped: r.duplicates_skipped,
            },
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct GenerationList {
    pub items: Vec<GenerationDto>,
    /// Pass as `cursor` to get the next page; null on the last page.
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}
