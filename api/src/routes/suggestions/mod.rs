//! Reviewing a generation's suggestions: list them, accept (possibly edited) or reject.

mod dto;

pub use super::cards::ReviewSuggestionCommand;
pub use dto::*;

use almanac_shared::store::user_tx;
use almanac_shared::{
    domain::generation::SuggestionStatus,
    store::suggestions::{self, Suggestion},
};
use poem::web::Data;
use poem_openapi::{OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, can},
    state::AppState,
};

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
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows = suggestions::of_generation(&mut tx, id.0)
            .await?
            .ok_or_else(|| ApiError::not_found("generation"))?;
        tx.commit().await?;
        Ok(Json(SuggestionList {
            items: rows.into_iter().map(Into::into).collect(),
        }))
    }

    /// Accept (optionally edited) or reject a suggestion, naming its `card_type` (another
    /// than the suggestion's is 409 `CARD_TYPE_MISMATCH`). Accepting creates a card once:
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
        let (status, front, back) = command.parts();
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let current = suggestions::for_review(&mut tx, id.0).await?;
        let current = current.ok_or_else(|| ApiError::not_found("suggestion"))?;
        if command.card_type() != current.card_type {
            return Err(super::cards::type_mismatch("suggestion", current.card_type).into());
        }
        let updated: Suggestion = match (status, current.status) {
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
                    front.unwrap_or(&current.front),
                    back.unwrap_or(&current.back),
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
