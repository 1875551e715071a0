//! Evergreen collections (issue 57, `docs/queue.md`): entries the worker queues again on
//! their channels whenever a channel's queue has nothing else, no sooner than `minGapDays`
//! after each last went out there. Owner only; another user's collection is 404.

use almanac_publishing::posting_queue::once_each;
use almanac_shared::store::{
    publish::{channels, evergreen as store},
    user_tx,
};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Enum, Object, OpenApi, param::Path, payload::Json};
use serde_json::json;
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    envelope::Envelope,
    error::{Answer, ApiError, ErrorEnvelope, can},
    responses::{Created, NoContent},
    state::AppState,
    text::Text,
};

/// How a repeat's text is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Variation {
    /// The entry's own text, each time.
    None,
    /// Rewritten by the AI each time (its usage counted against the day's budget), never
    /// a text the channel had within `minGapDays`.
    Ai,
}

impl Variation {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Ai => "ai",
        }
    }
}

/// A collection to make.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewEvergreen {
    pub name: Text<1, 200>,
    /// The channels its entries go out on again (1 to 20 of the caller's).
    #[oai(validator(min_items = 1, max_items = 20))]
    pub channel_ids: Vec<Uuid>,
    /// The entries (1 to 500 of the caller's, from any calendar).
    #[oai(validator(min_items = 1, max_items = 500))]
    pub entry_ids: Vec<Uuid>,
    /// The fewest days between two posts of one entry on a channel (1 to 365).
    #[oai(validator(minimum(value = "1"), maximum(value = "365")))]
    pub min_gap_days: i32,
    pub variation: Variation,
}

/// Pauses or resumes a collection.
#[derive(Debug, Clone, Object)]
pub struct EvergreenPatch {
    pub paused: bool,
}

/// An evergreen collection.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Evergreen {
    pub id: Uuid,
    pub name: String,
    pub channel_ids: Vec<Uuid>,
    pub entry_ids: Vec<Uuid>,
    pub min_gap_days: i32,
    pub variation: Variation,
    /// Paused: nothing of it is queued again until it is resumed.
    pub paused: bool,
    /// Its next repeat, where one is queued (the evergreen pass queues one at a time on a
    /// channel whose queue is empty); null otherwise.
    #[oai(nullable)]
    pub next_repeat: Option<NextRepeat>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A collection's next repeat.
#[derive(Debug, Clone, Object)]
#[oai(rename = "EvergreenNextRepeat", rename_all = "camelCase")]
pub struct NextRepeat {
    pub entry_id: Uuid,
    pub channel_id: Uuid,
    pub publish_at: DateTime<Utc>,
}

/// The caller's collections, oldest first.
#[derive(Debug, Clone, Object)]
pub struct EvergreenList {
    pub items: Vec<Evergreen>,
}

crate::enveloped!(Evergreen, EvergreenList);

pub type EvergreenEnvelope = Envelope<Evergreen>;
pub type EvergreenListEnvelope = Envelope<EvergreenList>;

impl From<store::CollectionRow> for Evergreen {
    fn from(row: store::CollectionRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            channel_ids: row.channel_ids,
            entry_ids: row.entry_ids,
            min_gap_days: row.min_gap_days,
            variation: if row.variation == "ai" {
                Variation::Ai
            } else {
                Variation::None
            },
            paused: row.paused,
            next_repeat: None,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

fn not_theirs(code: &str, field: &str, what: &str, ids: Vec<Uuid>) -> ApiError {
    ApiError::Unprocessable(ErrorEnvelope::new(
        code,
        format!("{} of `{field}` are not {what}", ids.len()),
        Some(json!({ "field": field, "ids": ids })),
    ))
}

#[derive(Default)]
pub struct EvergreenApi;

#[OpenApi(tag = "Tag::Publishing")]
impl EvergreenApi {
    /// Make an evergreen collection: its entries go out again on its channels whenever a
    /// channel's queue has nothing else, each no sooner than `minGapDays` after it last went
    /// out there. 422 naming the ids that are not the caller's channels or live entries, and
    /// `REVIEW_INCOMPATIBLE` for `variation: "ai"` on a channel that asks for review (a
    /// rewritten repeat's words would not be the ones approved).
    #[oai(
        path = "/v1/evergreen",
        method = "post",
        operation_id = "createEvergreen"
    )]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        body: StrictJson<NewEvergreen>,
    ) -> Answer<Created<EvergreenEnvelope>, { can::STORED | can::BODY | can::UNPROCESSABLE }> {
        let user = auth.user().id;
        let actor = auth.user().actor();
        let body = body.0;
        let channel_ids = once_each(&body.channel_ids);
        let entry_ids = once_each(&body.entry_ids);
        let mut tx = user_tx(&state.pool, actor).await?;
        let mut unknown = Vec::new();
        for id in &channel_ids {
            if channels::find(&mut tx, *id).await?.is_none() {
                unknown.push(*id);
            }
        }
        if !unknown.is_empty() {
            let error = not_theirs("CHANNEL_NOT_FOUND", "channelIds", "your channels", unknown);
            return Err(error.into());
        }
        if body.variation == Variation::Ai {
            let reviewed = almanac_shared::store::review::reviewed(&mut tx, &channel_ids).await?;
            if !reviewed.is_empty() {
                return Err(ApiError::Unprocessable(ErrorEnvelope::new(
                    "REVIEW_INCOMPATIBLE",
                    "these channels ask for review: repeats the AI rewrites would go out with \
                     words no one approved, so use `variation: \"none\"` on them",
                    Some(json!({ "field": "variation", "channelIds": reviewed })),
                ))
                .into());
            }
        }
        let live = store::own_entries(&mut tx, &entry_ids).await?;
        let missing: Vec<Uuid> = entry_ids
            .iter()
            .filter(|id| !live.contains(id))
            .copied()
            .collect();
        if !missing.is_empty() {
            let error = not_theirs("ENTRY_NOT_FOUND", "entryIds", "your entries", missing);
            return Err(error.into());
        }
        let row = store::create(
            &mut tx,
            &store::NewCollection {
                user,
                name: body.name.0.trim(),
                channel_ids: &channel_ids,
                entry_ids: &entry_ids,
                min_gap_days: body.min_gap_days,
                variation: body.variation.as_str(),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Created::Created(EvergreenEnvelope::of(row.into())))
    }

    /// The caller's evergreen collections, oldest first.
    #[oai(path = "/v1/evergreen", method = "get", operation_id = "listEvergreen")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
    ) -> Answer<Json<EvergreenListEnvelope>, { can::STORED }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows = store::list(&mut tx).await?;
        let next = store::next_repeats(&mut tx).await?;
        tx.commit().await?;
        let items = rows
            .into_iter()
            .map(|row| {
                let repeat = next.iter().find(|n| n.evergreen_id == row.id);
                Evergreen {
                    next_repeat: repeat.map(|n| NextRepeat {
                        entry_id: n.entry_id,
                        channel_id: n.channel_id,
                        publish_at: n.publish_at,
                    }),
                    ..row.into()
                }
            })
            .collect();
        Ok(EvergreenListEnvelope::of(EvergreenList { items }))
    }

    /// Pause or resume a collection.
    #[oai(
        path = "/v1/evergreen/:id",
        method = "patch",
        operation_id = "updateEvergreen"
    )]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        body: StrictJson<EvergreenPatch>,
    ) -> Answer<Json<EvergreenEnvelope>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let row = store::set_paused(&mut tx, id.0, body.0.paused).await?;
        tx.commit().await?;
        let row = row.ok_or_else(|| ApiError::not_found("evergreen collection"))?;
        Ok(EvergreenEnvelope::of(row.into()))
    }

    /// Delete a collection; its repeats not yet started are cancelled.
    #[oai(
        path = "/v1/evergreen/:id",
        method = "delete",
        operation_id = "deleteEvergreen"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let deleted = store::delete(&mut tx, id.0).await?;
        tx.commit().await?;
        if !deleted {
            return Err(ApiError::not_found("evergreen collection").into());
        }
        Ok(NoContent::Done)
    }
}
