//! Reviewing a generation's suggestions: list them, accept (possibly edited) or reject.

use almanac_shared::{
    db,
    domain::generation::{self, SuggestionStatus},
};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::BearerAuth,
    body::StrictJson,
    error::{ApiError, ApiResult},
    state::AppState,
};

#[derive(Debug, Clone, Object)]
pub struct SuggestionDto {
    pub id: Uuid,
    pub generation_id: Uuid,
    pub position: i32,
    pub front: String,
    pub back: String,
    pub status: SuggestionStatus,
    /// The card created when the suggestion was accepted.
    #[oai(nullable)]
    pub card_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct SuggestionRow {
    id: Uuid,
    generation_id: Uuid,
    position: i32,
    front: String,
    back: String,
    status: SuggestionStatus,
    card_id: Option<Uuid>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<SuggestionRow> for SuggestionDto {
    fn from(r: SuggestionRow) -> Self {
        Self {
            id: r.id,
            generation_id: r.generation_id,
            position: r.position,
            front: r.front,
            back: r.back,
            status: r.status,
            card_id: r.card_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const SUGGESTION_COLUMNS: &str =
    "id, generation_id, position, front, back, status, card_id, created_at, updated_at";

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
        auth: BearerAuth,
        id: Path<Uuid>,
    ) -> ApiResult<Json<SuggestionList>> {
        let mut tx = db::user_tx(&state.pool, auth.0.id).await?;
        let exists: Option<(Uuid,)> = sqlx::query_as("select id from ai_generations where id = $1")
            .bind(id.0)
            .fetch_optional(&mut *tx)
            .await?;
        if exists.is_none() {
            return Err(ApiError::not_found("generation"));
        }
        let rows: Vec<SuggestionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "select {SUGGESTION_COLUMNS} from ai_suggestions where generation_id = $1 order by position"
        )))
        .bind(id.0)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Json(SuggestionList {
            items: rows.into_iter().map(Into::into).collect(),
        }))
    }

    /// Accept (optionally edited) or reject a suggestion. Accepting creates a card once:
    /// accepting again returns the same card.
    #[oai(
        path = "/api/ai/suggestions/:id",
        method = "patch",
        operation_id = "reviewSuggestion"
    )]
    async fn review(
        &self,
        state: Data<&AppState>,
        auth: BearerAuth,
        id: Path<Uuid>,
        body: StrictJson<ReviewSuggestionCommand>,
    ) -> ApiResult<Json<SuggestionDto>> {
        let command = body.0;
        let front = command
            .front
            .as_deref()
            .map(|f| super::cards::parse_side("front", f, generation::FRONT_MAX_CHARS))
            .transpose()?;
        let back = command
            .back
            .as_deref()
            .map(|b| super::cards::parse_side("back", b, generation::BACK_MAX_CHARS))
            .transpose()?;
        let user = auth.0.id;
        let mut tx = db::user_tx(&state.pool, user).await?;
        let current: Option<SuggestionRow> = sqlx::query_as(AssertSqlSafe(format!(
            "select {SUGGESTION_COLUMNS} from ai_suggestions where id = $1 for update"
        )))
        .bind(id.0)
        .fetch_optional(&mut *tx)
        .await?;
        let current = current.ok_or_else(|| ApiError::not_found("suggestion"))?;
        let updated: SuggestionRow = match (command.status, current.status) {
            (ReviewStatus::Accepted, SuggestionStatus::Accepted)
            | (ReviewStatus::Rejected, SuggestionStatus::Rejected) => current,
            (ReviewStatus::Rejected, SuggestionStatus::Accepted) => {
                return Err(ApiError::conflict(
                    "SUGGESTION_ALREADY_ACCEPTED",
                    "an accepted suggestion has become a card; delete the card instead",
                ));
            }
            (ReviewStatus::Accepted, _) => {
                let front = front.unwrap_or(current.front);
                let back = back.unwrap_or(current.back);
                let card_id = Uuid::now_v7();
                sqlx::query(
                    "insert into cards (id, user_id, front, back, suggestion_id, source)
                     values ($1, $2, $3, $4, $5, 'ai')
                     on conflict (suggestion_id) do nothing",
                )
                .bind(card_id)
                .bind(user)
                .bind(&front)
                .bind(&back)
                .bind(id.0)
                .execute(&mut *tx)
                .await?;
                sqlx::query_as(AssertSqlSafe(format!(
                    "update ai_suggestions set status = 'accepted', front = $2, back = $3,
                            card_id = (select c.id from cards c where c.suggestion_id = $1),
                            updated_at = now()
                     where id = $1 returning {SUGGESTION_COLUMNS}"
                )))
                .bind(id.0)
                .bind(&front)
                .bind(&back)
                .fetch_one(&mut *tx)
                .await?
            }
            (ReviewStatus::Rejected, _) => {
                sqlx::query_as(AssertSqlSafe(format!(
                    "update ai_suggestions set status = 'rejected', updated_at = now()
                     where id = $1 returning {SUGGESTION_COLUMNS}"
                )))
                .bind(id.0)
                .fetch_one(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        Ok(Json(updated.into()))
    }
}
