//! Comments on an entry (docs/review.md, "Comments"): any member writes them (a viewer
//! too), mentioning members by id; each writer changes or deletes only their own. A new
//! comment shows live on the calendar (`comment.added`) and reaches the webhooks
//! (`calendar.entry.commented`); a mention notifies the member mentioned.

use almanac_shared::{
    events::COMMENT_ADDED,
    store::{
        comments::{self as store, CommentRow},
        review_links::Writer,
        user_tx,
    },
};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, payload::Json};
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::UserAuth,
    body::StrictJson,
    envelope::Envelope,
    error::{Answer, ApiError, ApiResult, can},
    responses::{Created, NoContent},
    state::AppState,
    text::Text,
};

/// 403: a comment is changed or deleted by its writer only.
pub const COMMENT_NOT_YOURS: &str = "COMMENT_NOT_YOURS";

/// The most comments an entry's list gives.
const LISTED: i64 = 500;

/// A comment on an entry.
#[derive(Debug, Clone, Object)]
#[oai(rename = "EntryComment", rename_all = "camelCase")]
pub struct Comment {
    pub id: Uuid,
    pub calendar_id: Uuid,
    pub entry_id: Uuid,
    /// The member who wrote it; null for a guest's (through a review link).
    #[oai(nullable)]
    pub by: Option<Uuid>,
    /// The name the guest gave.
    #[oai(nullable)]
    pub guest_name: Option<String>,
    /// As written (shown as text).
    pub text: String,
    /// The members it mentions.
    pub mentions: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub edited_at: Option<DateTime<Utc>>,
}

impl From<CommentRow> for Comment {
    fn from(row: CommentRow) -> Self {
        Self {
            id: row.id,
            calendar_id: row.calendar_id,
            entry_id: row.entry_id,
            by: row.user_id,
            guest_name: row.guest_name,
            text: row.body,
            mentions: row.mentions,
            created_at: row.created_at,
            edited_at: row.edited_at,
        }
    }
}

/// An entry's comments, oldest first.
#[derive(Debug, Clone, Object)]
pub struct CommentList {
    pub items: Vec<Comment>,
}

/// A comment to write, or its new text.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CommentBody {
    /// 1-4,000 characters.
    pub text: Text<1, 4000>,
    /// Members to tell (`GET /v1/workspaces/{id}/members`), at most 20: each is notified
    /// once; an id that is not a member's is left out and notifies nobody.
    #[oai(default, validator(max_items = 20, unique_items))]
    pub mentions: Vec<Uuid>,
}

crate::enveloped!(Comment, CommentList);

pub type CommentEnvelope = Envelope<Comment>;
pub type CommentListEnvelope = Envelope<CommentList>;

#[derive(Default)]
pub struct CommentApi;

#[OpenApi(tag = "Tag::Review")]
impl CommentApi {
    /// An entry's comments, oldest first (members' and guests').
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id/comments",
        method = "get",
        operation_id = "listEntryComments"
    )]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
    ) -> Answer<Json<CommentListEnvelope>, { can::BAD_REQUEST | can::STORED | can::NOT_FOUND }>
    {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        if !store::entry_exists(&mut tx, id.0, entry_id.0).await? {
            return Err(ApiError::not_found("entry").into());
        }
        let rows = store::of_entries(&mut tx, id.0, &[entry_id.0], LISTED).await?;
        tx.commit().await?;
        Ok(CommentListEnvelope::of(CommentList {
            items: rows.into_iter().map(Into::into).collect(),
        }))
    }

    /// Comments on an entry (any member, a viewer too); `mentions` tells those members.
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id/comments",
        method = "post",
        operation_id = "addEntryComment"
    )]
    async fn add(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
        body: StrictJson<CommentBody>,
    ) -> Answer<Created<CommentEnvelope>, { can::STORED | can::BODY | can::NOT_FOUND }> {
        let user = auth.user();
        let mentions = members(&state, user.workspace, &body.0.mentions).await?;
        let mut tx = user_tx(&state.pool, user.actor()).await?;
        if !store::entry_exists(&mut tx, id.0, entry_id.0).await? {
            return Err(ApiError::not_found("entry").into());
        }
        let text = body.0.text.0.trim();
        let row = store::add(&mut tx, id.0, entry_id.0, Writer::Member, text, &mentions).await?;
        tx.commit().await?;
        Ok(Created::Created(CommentEnvelope::of(row.into())))
    }

    /// Changes one's own comment (403 `COMMENT_NOT_YOURS` for anyone else's); newly
    /// mentioned members are told.
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id/comments/:comment_id",
        method = "patch",
        operation_id = "editEntryComment"
    )]
    async fn edit(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
        comment_id: Path<Uuid>,
        body: StrictJson<CommentBody>,
    ) -> Answer<Json<CommentEnvelope>, { can::STORED | can::BODY | can::FORBIDDEN | can::NOT_FOUND }>
    {
        let user = auth.user();
        let mentions = members(&state, user.workspace, &body.0.mentions).await?;
        let mut tx = user_tx(&state.pool, user.actor()).await?;
        own(&mut tx, id.0, entry_id.0, comment_id.0, user.id).await?;
        let row = store::edit(&mut tx, comment_id.0, body.0.text.0.trim(), &mentions).await?;
        tx.commit().await?;
        Ok(CommentEnvelope::of(row.into()))
    }

    /// Deletes one's own comment (403 `COMMENT_NOT_YOURS` for anyone else's).
    #[oai(
        path = "/v1/calendars/:id/entries/:entry_id/comments/:comment_id",
        method = "delete",
        operation_id = "deleteEntryComment"
    )]
    async fn delete(
        &self,
        state: Data<&AppState>,
        auth: UserAuth,
        id: Path<Uuid>,
        entry_id: Path<Uuid>,
        comment_id: Path<Uuid>,
    ) -> Answer<NoContent, { can::BAD_REQUEST | can::STORED | can::FORBIDDEN | can::NOT_FOUND }>
    {
        let user = auth.user();
        let mut tx = user_tx(&state.pool, user.actor()).await?;
        own(&mut tx, id.0, entry_id.0, comment_id.0, user.id).await?;
        store::delete(&mut tx, comment_id.0).await?;
        tx.commit().await?;
        Ok(NoContent::Done)
    }
}

/// Of `mentioned`, the members of `workspace`.
async fn members(state: &AppState, workspace: Uuid, mentioned: &[Uuid]) -> ApiResult<Vec<Uuid>> {
    if mentioned.is_empty() {
        return Ok(Vec::new());
    }
    Ok(store::members_among(&state.pool, workspace, mentioned).await?)
}

/// Locks the comment when it is `user`'s: 404 when there is none, 403 when it is someone
/// else's.
async fn own(
    conn: &mut sqlx::PgConnection,
    calendar: Uuid,
    entry: Uuid,
    id: Uuid,
    user: Uuid,
) -> ApiResult<()> {
    let row = store::get(conn, calendar, entry, id)
        .await?
        .ok_or_else(|| ApiError::not_found("comment"))?;
    if row.user_id != Some(user) {
        return Err(ApiError::forbidden(
            COMMENT_NOT_YOURS,
            "only its writer changes or deletes a comment",
            None,
        ));
    }
    Ok(())
}

/// Tells the calendar's open copies a guest's comment was added (the activity middleware
/// announces members').
pub async fn announce_added(state: &AppState, row: &CommentRow) {
    let comment = Comment::from(row.clone());
    let data = serde_json::json!({
        "calendarId": row.calendar_id,
        "entryId": row.entry_id,
        "comment": poem_openapi::types::ToJSON::to_json(&comment),
        "by": { "guestName": row.guest_name },
        "at": row.created_at,
    });
    state
        .emitter
        .announce(row.calendar_id, COMMENT_ADDED, &data)
        .await;
}
