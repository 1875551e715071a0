//! A person's notifications (docs/review.md, "Notifications"): a mention, a review asked of
//! them, a decision or an expiry of a review they asked for, a guest's comment. Theirs
//! across their workspaces, whichever the request acts in; emailed in batches by the
//! workers (`NOTIFY_BATCH_MINUTES`). A person's own: never an API key, which acts in one
//! workspace only.

use almanac_shared::{
    domain::review::NotificationKind,
    store::{notifications as store, user_tx},
};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};
use uuid::Uuid;

use super::{Tag, clamp_limit, paginate};
use crate::{
    auth::PersonalAuth,
    body::StrictJson,
    envelope::Envelope,
    error::{Answer, ApiError, can},
};

/// Something that waits for you or concerns you.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Notification {
    pub id: Uuid,
    pub kind: NotificationKind,
    pub workspace_id: Uuid,
    #[oai(nullable)]
    pub calendar_id: Option<Uuid>,
    #[oai(nullable)]
    pub entry_id: Option<Uuid>,
    #[oai(nullable)]
    pub comment_id: Option<Uuid>,
    /// The member who caused it.
    #[oai(nullable)]
    pub by: Option<Uuid>,
    /// The guest who caused it, by the name they gave.
    #[oai(nullable)]
    pub guest_name: Option<String>,
    /// The entry's title when it happened.
    pub title: String,
    /// The review step concerned.
    #[oai(nullable)]
    pub step_name: Option<String>,
    /// The comment (or the decision's), cut at 280 characters.
    #[oai(nullable)]
    pub comment: Option<String>,
    pub created_at: DateTime<Utc>,
    #[oai(nullable)]
    pub read_at: Option<DateTime<Utc>>,
}

impl Notification {
    fn of(row: store::NotificationRow) -> Self {
        let text = |key: &str| {
            row.data
                .0
                .get(key)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Self {
            kind: row.kind,
            step_name: text("stepName"),
            comment: text("comment"),
            id: row.id,
            workspace_id: row.workspace_id,
            calendar_id: row.calendar_id,
            entry_id: row.entry_id,
            comment_id: row.comment_id,
            by: row.actor_id,
            guest_name: row.actor_guest,
            title: row.title,
            created_at: row.created_at,
            read_at: row.read_at,
        }
    }
}

/// A page of your notifications, newest first.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    /// How many of yours are unread (all pages).
    pub unread: i64,
    /// Pass as `cursor` for the next (older) page; null on the last.
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}

/// Which notifications to mark read.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReadBody {
    /// These (yours only); every unread one when absent.
    #[oai(validator(min_items = 1, max_items = 100, unique_items))]
    pub ids: Option<Vec<Uuid>>,
}

/// What marking read did.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ReadResult {
    /// How many were unread and are read now.
    pub marked: i64,
    /// How many are still unread.
    pub unread: i64,
}

crate::enveloped!(NotificationPage, ReadResult);

pub type NotificationPageEnvelope = Envelope<NotificationPage>;
pub type ReadResultEnvelope = Envelope<ReadResult>;

#[derive(Default)]
pub struct NotificationApi;

#[OpenApi(tag = "Tag::Account")]
impl NotificationApi {
    /// Your notifications, newest first, from every workspace you belong to, with how many
    /// are unread.
    #[oai(
        path = "/v1/notifications",
        method = "get",
        operation_id = "listNotifications"
    )]
    async fn list(
        &self,
        state: Data<&crate::state::AppState>,
        auth: PersonalAuth,
        /// Unread ones only.
        #[oai(default)]
        unread: Query<bool>,
        /// Page size, 1-100 (default 20).
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
        limit: Query<Option<u32>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> Answer<Json<NotificationPageEnvelope>, { can::BAD_REQUEST | can::STORED }> {
        let limit = clamp_limit(limit.0);
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let rows = store::list(&mut tx, cursor.0, unread.0, i64::from(limit) + 1).await?;
        let unread = store::unread(&mut tx).await?;
        tx.commit().await?;
        let (rows, next_cursor) = paginate(rows, limit, |row| row.id);
        Ok(NotificationPageEnvelope::of(NotificationPage {
            items: rows.into_iter().map(Notification::of).collect(),
            unread,
            next_cursor,
        }))
    }

    /// Marks your notifications read: those named, or every unread one.
    #[oai(
        path = "/v1/notifications/read",
        method = "post",
        operation_id = "markNotificationsRead"
    )]
    async fn read(
        &self,
        state: Data<&crate::state::AppState>,
        auth: PersonalAuth,
        body: StrictJson<ReadBody>,
    ) -> Answer<Json<ReadResultEnvelope>, { can::STORED | can::BODY }> {
        let mut tx = user_tx(&state.pool, auth.user().actor()).await?;
        let marked = store::mark_read(&mut tx, body.0.ids.as_deref()).await?;
        let unread = store::unread(&mut tx).await?;
        tx.commit().await?;
        Ok(ReadResultEnvelope::of(ReadResult {
            marked: i64::try_from(marked).map_err(|e| ApiError::internal(e.into()))?,
            unread,
        }))
    }
}
