//! Cards: created by hand or by accepting a suggestion; exported for Anki.

mod by_type;
mod dto;

pub use by_type::*;
pub use dto::*;

use almanac_shared::store::user_tx;
use almanac_shared::{
    domain::generation::{self, CardType},
    store::{anki, cards},
};
use chrono::Utc;
use poem::web::Data;
use poem_openapi::{
    ApiResponse, OpenApi,
    param::Path,
    param::Query,
    payload::{Json, PlainText},
    registry::{MetaResponse, MetaResponses, Registry},
};
use uuid::Uuid;

use super::{Tag, clamp_limit, paginate};
use crate::responses::{Created, NoContent};
use crate::{
    auth::UserAuth,
    body::StrictJson,
    error::{Answer, ApiError, ApiResult, ErrorEnvelope, can},
    state::AppState,
};

pub const MAX_TAGS: usize = 20;
pub const TAG_MAX_CHARS: usize = 50;

/// A card side: at most `max` characters as sent, not blank; trimmed (`text::Text` states
/// the rule in the document).
pub fn parse_side(field: &str, raw: &str, max: usize) -> ApiResult<String> {
    let value = raw.trim();
    if value.is_empty() || raw.chars().count() > max {
        return Err(ApiError::invalid_field(
            field,
            format!("{field} must be 1-{max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// A card's sides checked for its type: a basic card needs both; a cloze card's front must
/// hide a part as `{{c1::...}}`, and its back (the Extra) may be empty.
pub fn parse_sides(card_type: CardType, front: &str, back: &str) -> ApiResult<(String, String)> {
    let front = parse_side("front", front, generation::FRONT_MAX_CHARS)?;
    let back = match card_type {
        CardType::Basic => parse_side("back", back, generation::BACK_MAX_CHARS)?,
        CardType::Cloze => parse_extra(back)?,
    };
    if let Some((field, why)) = card_type.sides_problem(&front, &back) {
        return Err(ApiError::invalid_field(field, why));
    }
    Ok((front, back))
}

/// A back that may be empty (a cloze's Extra): at most the limit as sent, trimmed.
fn parse_extra(back: &str) -> ApiResult<String> {
    if back.chars().count() > generation::BACK_MAX_CHARS {
        return Err(ApiError::invalid_field(
            "back",
            format!(
                "back must be at most {} characters",
                generation::BACK_MAX_CHARS
            ),
        ));
    }
    Ok(back.trim().to_owned())
}

/// Tags: at most 20, each at most 50 characters as sent and one token without whitespace
/// once trimmed (Anki's rule; `text::Word` states it in the document), deduplicated.
pub fn parse_tags(raw: &[CardTag]) -> ApiResult<Vec<String>> {
    if raw.len() > MAX_TAGS {
        return Err(ApiError::invalid_field(
            "tags",
            format!("at most {MAX_TAGS} tags"),
        ));
    }
    let mut tags: Vec<String> = Vec::with_capacity(raw.len());
    for raw_tag in raw {
        let tag = raw_tag.trim();
        if tag.is_empty()
            || raw_tag.chars().count() > TAG_MAX_CHARS
            || tag.chars().any(char::is_whitespace)
        {
            return Err(ApiError::invalid_field(
                "tags",
                format!("each tag must be 1-{TAG_MAX_CHARS} characters without spaces"),
            ));
        }
        if !tags.iter().any(|t| t == tag) {
            tags.push(tag.to_owned());
        }
    }
    Ok(tags)
}

/// The export: one 200 answer with both media types in the document.
pub struct ExportResponse(ExportBody);

impl ApiResponse for ExportResponse {
    fn meta() -> MetaResponses {
        let mut merged: Vec<MetaResponse> = Vec::new();
        for response in ExportBody::meta().responses {
            match merged.iter_mut().find(|m| m.status == response.status) {
                Some(first) => first.content.extend(response.content),
                None => merged.push(response),
            }
        }
        MetaResponses { responses: merged }
    }

    fn register(registry: &mut Registry) {
        ExportBody::register(registry);
    }
}

impl poem::IntoResponse for ExportResponse {
    fn into_response(self) -> poem::Response {
        self.0.into_response()
    }
}

#[derive(Default)]
pub struct CardsApi;

#[OpenApi(tag = "Tag::Cards")]
impl CardsApi {
    /// The caller's cards, newest first.
    #[oai(path = "/api/cards", method = "get", operation_id = "listCards")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        /// Page size, 1-100 (default 20).
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
        limit: Query<Option<u32>>,
        /// `next_cursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> Answer<Json<CardList>, { can::STORED | can::BAD_REQUEST }> {
        let limit = clamp_limit(limit.0);
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows = cards::list(&mut tx, cursor.0, i64::from(limit) + 1).await?;
        tx.commit().await?;
        let (rows, next_cursor) = paginate(rows, limit, |c| c.id);
        let items = rows.into_iter().map(Into::into).collect();
        Ok(Json(CardList { items, next_cursor }))
    }

    /// Create a card by hand. A card whose sides are another card's, as a reader compares
    /// them (case, accents' forms, punctuation and spacing aside), is refused with 409
    /// `DUPLICATE_CARD` and that card's id in `details.cardId`.
    #[oai(path = "/api/cards", method = "post", operation_id = "createCard")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<CreateCardCommand>,
    ) -> Answer<Created<CardDto>, { can::STORED | can::BODY | can::CONFLICT }> {
        let (card_type, front, back, tags) = body.0.into_parts();
        let (front, back) = parse_sides(card_type, &front, &back)?;
        let tags = parse_tags(&tags)?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let card = card_or_duplicate(
            cards::create(&mut tx, auth.user().id, card_type, &front, &back, &tags).await?,
        )?;
        tx.commit().await?;
        Ok(Created::Created(Json(card.into())))
    }

    /// Edit a card's sides or tags. `card_type` names the card's type (an edit cannot
    /// change it: another is 409 `CARD_TYPE_MISMATCH`, `details.cardType` the card's). Sides
    /// that make it another card's are refused with 409 `DUPLICATE_CARD` (`details.cardId`:
    /// the other card).
    #[oai(path = "/api/cards/:id", method = "patch", operation_id = "updateCard")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<UpdateCardCommand>,
    ) -> Answer<Json<CardDto>, { can::STORED | can::BODY | can::NOT_FOUND | can::CONFLICT }> {
        let expected = body.card_type();
        let (front, back, tags) = body.parts();
        let front = front
            .map(|f| parse_side("front", f, generation::FRONT_MAX_CHARS))
            .transpose()?;
        // Empty only for a cloze card: the store checks it against the card's type.
        let back = back.map(parse_extra).transpose()?;
        let tags = tags.map(parse_tags).transpose()?;
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let written = cards::update(
            &mut tx,
            id.0,
            expected,
            front.as_deref(),
            back.as_deref(),
            tags.as_deref(),
        )
        .await?
        .ok_or_else(|| ApiError::not_found("card"))?;
        let card = card_or_duplicate(written)?;
        tx.commit().await?;
        Ok(Json(card.into()))
    }

    /// Delete a card.
    #[oai(
        path = "/api/cards/:id",
        method = "delete",
        operation_id = "deleteCard"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let deleted = cards::delete(&mut tx, id.0).await?;
        tx.commit().await?;
        if !deleted {
            return Err(ApiError::not_found("card").into());
        }
        Ok(NoContent::Done)
    }

    /// Export every card of the caller for Anki: a CSV, or an Anki package.
    #[oai(
        path = "/api/cards/export",
        method = "get",
        operation_id = "exportCards"
    )]
    async fn export(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        format: Query<ExportFormat>,
    ) -> Answer<ExportResponse, { can::STORED | can::BAD_REQUEST }> {
        let user = auth.user().id;
        let actor = auth.user().actor();
        let mut tx = user_tx(&state.pool, actor).await?;
        let rows = cards::exported(&mut tx).await?;
        tx.commit().await?;
        match format.0 {
            ExportFormat::Csv => Ok(ExportResponse(ExportBody::Csv(
                PlainText(anki_csv(&rows)),
                "attachment; filename=\"almanac-cards.csv\"".into(),
            ))),
            ExportFormat::Apkg => {
                let package =
                    tokio::task::spawn_blocking(move || anki::package(user, &rows, Utc::now()))
                        .await
                        .map_err(anyhow::Error::from)
                        .and_then(|package| package)
                        .map_err(|error| {
                            ApiError::internal(error.context("writing an Anki package"))
                        })?;
                Ok(ExportResponse(ExportBody::Apkg(
                    poem_openapi::payload::Binary(package),
                    "attachment; filename=\"almanac.apkg\"".into(),
                )))
            }
        }
    }
}

/// The card written, or 409 `DUPLICATE_CARD` naming the card it would duplicate.
pub fn card_or_duplicate<T>(written: cards::Written<T>) -> Result<T, ApiError> {
    match written {
        cards::Written::Card(card) => Ok(card),
        cards::Written::Invalid(field, message) => Err(ApiError::invalid_field(field, message)),
        cards::Written::OtherType(stored) => Err(type_mismatch("card", stored)),
        cards::Written::Duplicate(other) => Err(ApiError::Conflict(ErrorEnvelope::new(
            "DUPLICATE_CARD",
            "you already have this card (the same sides, case, punctuation and spacing aside)",
            Some(serde_json::json!({ "cardId": other })),
        ))),
    }
}

/// Anki's CSV dialect: header lines starting with `#`, then RFC 4180 rows. The note type
/// column names Anki's own stock types, which every collection has.
pub fn anki_csv(rows: &[cards::Exported]) -> String {
    let mut out = String::from(
        "#separator:comma\n#html:false\n#guid column:1\n#notetype column:2\n\
         #columns:GUID,Notetype,Front,Back,Tags\n#tags column:5\n",
    );
    for card in rows {
        for (i, value) in [
            anki::guid(card.id).as_str(),
            anki::stock_note_type(card.card_type),
            &card.front,
            &card.back,
            &card.tags.join(" "),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&csv_field(value));
        }
        out.push('\n');
    }
    out
}

fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) || value.starts_with('#') {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let card = |front: &str, back: &str, tags: &[&str]| cards::Exported {
            id: Uuid::now_v7(),
            card_type: CardType::Basic,
            front: front.into(),
            back: back.into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            updated_at: Utc::now(),
        };
        let rows = [
            card("a, b", "say \"hi\"\nnow", &["t1", "t2"]),
            card("#hash", "plain", &[]),
        ];
        let csv = anki_csv(&rows);
        let body: Vec<&str> = csv.lines().skip(6).collect();
        let guid = |i: usize| anki::guid(rows[i].id);
        assert_eq!(
            body[0],
            format!("{},Basic,\"a, b\",\"say \"\"hi\"\"", guid(0))
        );
        assert_eq!(body[1], "now\",t1 t2");
        assert_eq!(body[2], format!("{},Basic,\"#hash\",plain,", guid(1)));
    }
}
