//! The suggestion routes' wire types: a suggestion and its review.

use almanac_shared::{
    domain::generation::{CardType, SuggestionStatus},
    store::suggestions::Suggestion,
};
use chrono::{DateTime, Utc};
use poem_openapi::Object;
use uuid::Uuid;

#[derive(Debug, Clone, Object)]
pub struct SuggestionDto {
    pub id: Uuid,
    pub generation_id: Uuid,
    pub position: i32,
    // `basic`, or `cloze` (its text in `front`, its Extra, possibly empty, in `back`):
    // undescribed, as `CardDto::card_type`.
    pub card_type: CardType,
    pub front: String,
    pub back: String,
    pub status: SuggestionStatus,
    /// The card created when the suggestion was accepted.
    #[oai(nullable)]
    pub card_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Suggestion> for SuggestionDto {
    fn from(r: Suggestion) -> Self {
        Self {
            id: r.id,
            generation_id: r.generation_id,
            position: r.position,
            card_type: r.card_type,
            front: r.front,
            back: r.back,
            status: r.status,
            card_id: r.card_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

#[derive(Debug, Clone, Object)]
pub struct SuggestionList {
    pub items: Vec<SuggestionDto>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum ReviewStatus {
    Accepted,
    Rejected,
}
