//! Reviewing a generation's suggestions: list them, accept (possibly edited) or reject.

use almanac_shared::store::user_tx;
use almanac_shared::{
    domain::generation::{CardType, SuggestionStatus},
    store::suggestions::{self, Suggestion},
};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, can},
    state::AppState,
};

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

/// A review decision; accepting (possibly with edits) creates a card.
#[derive(Debug, Clone, Object)]
pub struct ReviewSuggestionCommand {
    pub status: ReviewStatus,
    /// Edited front, used for the card when accepting.
    #[oai(nullable)]
    pub front: Option<super::cards::Front>,
    /// Edited back, used for the card when accepting.
    #[oai(nullable)]
    pub back: Option<super::cards::Back>,
}

#[derive(Default)]
pub struct SuggestionsApi;

#[OpenApi(tag = "Tag::Generations")]
impl SuggestionsApi {
    /// The suggestions of a generation, in the order the model gave them.
    #[oai(
        path = "/api/ai/generations/:id/suggestions",
        method = "get",
        operation_id = "listSuggestions"
    )]
    async fn suggestions(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<Json<SuggestionList>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().id).await?;
        let rows = suggestions::of_generation(&mut tx, id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("generation"))?;
        tx.commit().await?;
        Ok(Json(SuggestionList {
            items: rows.into_iter().map(Into::into).collect(),
        }))
    }

    /// Accept (optionally edited) or reject a suggestion. Accepting creates a card once:
    /// accepting again returns the same card. Accepting into a card the caller already has
    /// (the same sides, case, punctuation and spacing aside) is refused with 409
    /// `DUPLICATE_CARD` (`details.cardId`), the suggestion left as it was.
    #[oai(
        path = "/api/ai/suggestions/:id",
        method = "patch",
        operation_id = "reviewSuggestion"
    )]
    async fn review(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<ReviewSuggestionCommand>,
    ) -> Answer<Json<SuggestionDto>, { can::STORED | can::BODY | can::NOT_FOUND | can::CONFLICT }>
    {
        let command = body.0;
        let user = auth.user().id;
        let mut tx = user_tx(&state.pool, user).await?;
        let current = suggestions::for_review(&mut tx, id.0).await?;
        let current = current.ok_or_else(|| ApiError::not_found("suggestion"))?;
        let updated: Suggestion = match (command.status, current.status) {
            (ReviewStatus::Accepted, SuggestionStatus::Accepted)
            | (ReviewStatus::Rejected, SuggestionStatus::Rejected) => current,
            (ReviewStatus::Rejected, SuggestionStatus::Accepted) => {
                return Err(ApiError::conflict(
                    "SUGGESTION_ALREADY_ACCEPTED",
                    "an accepted suggestion has become a card; delete the card instead",
                )
                .into());
            }
            (ReviewStatus::Accepted, _) => {
                let (front, back) = super::cards::parse_sides(
                    current.card_type,
                    command.front.as_deref().unwrap_or(&current.front),
                    command.back.as_deref().unwrap_or(&current.back),
                )?;
                super::cards::card_or_duplicate(
                    suggestions::accept(&mut tx, user, id.0, current.card_type, &front, &back)
                        .await?,
                )?
            }
            (ReviewStatus::Rejected, _) => suggestions::reject(&mut tx, id.0).await?,
        };
        tx.commit().await?;
        Ok(Json(updated.into()))
    }
}
