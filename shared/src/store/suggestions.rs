//! The flashcards a generation suggests, and the review that turns one into a card.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

pub use super::cards::Written;

use crate::domain::generation::{CardType, SuggestionStatus};

/// A suggestion as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Suggestion {
    pub id: Uuid,
    pub generation_id: Uuid,
    pub position: i32,
    pub card_type: CardType,
    pub front: String,
    pub back: String,
    pub status: SuggestionStatus,
    pub card_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str =
    "id, generation_id, position, card_type, front, back, status, card_id, created_at, updated_at";

/// A generation's suggestions in the model's order (for one that reused an earlier
/// generation, the earlier one's it lists: the same rows); none when there is no such
/// generation.
pub async fn of_generation(
    conn: &mut PgConnection,
    generation: Uuid,
) -> sqlx::Result<Option<Vec<Suggestion>>> {
    let exists: Option<(Uuid,)> = sqlx::query_as("select id from ai_generations where id = $1")
        .bind(generation)
        .fetch_optional(&mut *conn)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("s.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let suggestions = sqlx::query_as(AssertSqlSafe(format!(
        "select {columns} from ai_generations g join ai_suggestions s on {}
         where g.id = $1 order by s.position",
        super::generations::LISTED
    )))
    .bind(generation)
    .fetch_all(conn)
    .await?;
    Ok(Some(suggestions))
}

/// A suggestion, locked for its review.
pub async fn for_review(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Suggestion>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from ai_suggestions where id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Accepts a suggestion with these sides: its card is created once (accepting again keeps
/// the card made first), unless the caller has a card with the same sides (nothing is
/// changed then).
pub async fn accept(
    conn: &mut PgConnection,
    user: Uuid,
    id: Uuid,
    card_type: CardType,
    front: &str,
    back: &str,
) -> sqlx::Result<Written<Suggestion>> {
    let made: Option<Uuid> = sqlx::query_scalar(
        "with made as (
             insert into cards (id, user_id, card_type, front, back, suggestion_id, source)
             values ($1, $2, $6, $3, $4, $5, 'ai')
             on conflict do nothing returning id)
         select id from made
         union all select id from cards where suggestion_id = $5",
    )
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(front)
    .bind(back)
    .bind(id)
    .bind(card_type)
    .fetch_optional(&mut *conn)
    .await?;
    if made.is_none() {
        let other = super::cards::duplicate_of(conn, card_type, front, back, None).await?;
        return Ok(Written::Duplicate(other.unwrap_or_default()));
    }
    sqlx::query_as(AssertSqlSafe(format!(
        "update ai_suggestions set status = 'accepted', front = $2, back = $3,
                card_id = (select c.id from cards c where c.suggestion_id = $1),
                updated_at = now()
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(front)
    .bind(back)
    .fetch_one(conn)
    .await
    .map(Written::Card)
}

/// Rejects a suggestion.
pub async fn reject(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Suggestion> {
    sqlx::query_as(AssertSqlSafe(format!(
        "update ai_suggestions set status = 'rejected', updated_at = now()
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .fetch_one(conn)
    .await
}
