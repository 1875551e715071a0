//! Flashcards: created by hand or by accepting a suggestion.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection};
use uuid::Uuid;

use crate::domain::generation::CardType;

/// The columns a card reads into.
const COLUMNS: &str =
    "id, card_type, front, back, tags, source, suggestion_id, created_at, updated_at";

/// A card as its owner reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CardRow {
    pub id: Uuid,
    pub card_type: CardType,
    pub front: String,
    pub back: String,
    pub tags: Vec<String>,
    pub source: String,
    pub suggestion_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The caller's cards before `cursor` (newest first), at most `limit`.
pub async fn list(
    conn: &mut PgConnection,
    cursor: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<CardRow>> {
    sqlx::query_as(AssertSqlSafe(format!(
        "select {COLUMNS} from cards where ($1::uuid is null or id < $1)
         order by id desc limit $2"
    )))
    .bind(cursor)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// What a write of a card's sides did.
#[derive(Debug)]
pub enum Written<T> {
    Card(T),
    /// Another card of the caller's has the same key (`card_key`: the same sides as a
    /// reader compares them); nothing was written.
    Duplicate(Uuid),
    /// The new sides do not make a card of its type (the field, why); nothing was written.
    Invalid(&'static str, &'static str),
    /// The card is of this type, not the one the edit named; nothing was written.
    OtherType(CardType),
}

/// The caller's card whose sides compare equal to these (a cloze's text alone), other
/// than `except`.
pub async fn duplicate_of(
    conn: &mut PgConnection,
    card_type: CardType,
    front: &str,
    back: &str,
    except: Option<Uuid>,
) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar(
        "select id from cards where key = card_type_key($4, $1, $2) and id is distinct from $3
         limit 1",
    )
    .bind(front)
    .bind(back)
    .bind(except)
    .bind(card_type)
    .fetch_optional(conn)
    .await
}

/// A card written by hand, unless the caller has one with the same sides.
pub async fn create(
    conn: &mut PgConnection,
    user: Uuid,
    card_type: CardType,
    front: &str,
    back: &str,
    tags: &[String],
) -> sqlx::Result<Written<CardRow>> {
    let card: Option<CardRow> = sqlx::query_as(AssertSqlSafe(format!(
        "insert into cards (id, user_id, card_type, front, back, tags, source)
         values ($1, $2, $6, $3, $4, $5, 'manual')
         on conflict (workspace_id, key) do nothing returning {COLUMNS}"
    )))
    .bind(Uuid::now_v7())
    .bind(user)
    .bind(front)
    .bind(back)
    .bind(tags)
    .bind(card_type)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(card) = card {
        return Ok(Written::Card(card));
    }
    let other = duplicate_of(conn, card_type, front, back, None).await?;
    Ok(Written::Duplicate(other.unwrap_or_default()))
}

/// Changes the given fields of a card of type `expected`, unless its new sides are another
/// card's; none when there is no such card.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    expected: CardType,
    front: Option<&str>,
    back: Option<&str>,
    tags: Option<&[String]>,
) -> sqlx::Result<Option<Written<CardRow>>> {
    let sides: Option<(CardType, String, String)> = sqlx::query_as(
        "select card_type, coalesce($2, front), coalesce($3, back) from cards
         where id = $1 for update",
    )
    .bind(id)
    .bind(front)
    .bind(back)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((card_type, front, back)) = sides else {
        return Ok(None);
    };
    if card_type != expected {
        return Ok(Some(Written::OtherType(card_type)));
    }
    if let Some((field, why)) = card_type.sides_problem(&front, &back) {
        return Ok(Some(Written::Invalid(field, why)));
    }
    if let Some(other) = duplicate_of(conn, card_type, &front, &back, Some(id)).await? {
        return Ok(Some(Written::Duplicate(other)));
    }
    let card = sqlx::query_as(AssertSqlSafe(format!(
        "update cards set front = $2, back = $3, tags = coalesce($4, tags), updated_at = now()
         where id = $1 returning {COLUMNS}"
    )))
    .bind(id)
    .bind(&front)
    .bind(&back)
    .bind(tags)
    .fetch_one(conn)
    .await?;
    Ok(Some(Written::Card(card)))
}

/// Deletes a card; whether there was one.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<bool> {
    let deleted = sqlx::query("delete from cards where id = $1")
        .bind(id)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(deleted > 0)
}

/// A card as the exports write it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Exported {
    pub id: Uuid,
    pub card_type: CardType,
    pub front: String,
    pub back: String,
    pub tags: Vec<String>,
    pub updated_at: DateTime<Utc>,
}

/// Every card of the caller, oldest first (the exports).
pub async fn exported(conn: &mut PgConnection) -> sqlx::Result<Vec<Exported>> {
    sqlx::query_as("select id, card_type, front, back, tags, updated_at from cards order by id")
        .fetch_all(conn)
        .await
}
