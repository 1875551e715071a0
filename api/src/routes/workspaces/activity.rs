//! A workspace's activity: who changed what, newest first (recorded by
//! `crate::middleware::activity` around every operation that changes something).

use almanac_shared::store::activity::{self as store, ActivityRow, ActorKind, Filter};
use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use std::collections::BTreeMap;
use uuid::Uuid;

use super::Tag;
use crate::{
    auth::PersonalAuth,
    error::{Answer, can},
    routes::{clamp_limit, paginate},
    state::AppState,
};

/// Who made a change.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ActivityActor {
    /// `person` (the app, a token), `key` (an API key, by its name) or `agent` (an MCP
    /// tool, with the person's token or a key).
    pub kind: ActorKind,
    /// The person: the caller, the key's maker, or the person the agent acted for.
    pub user_id: Uuid,
    /// The person's name and address as they are now (null when unknown).
    #[oai(nullable)]
    pub name: Option<String>,
    #[oai(nullable)]
    pub email: Option<String>,
    /// The key's id and name as it was then (a revoked key's changes keep its name).
    #[oai(nullable)]
    pub key_id: Option<Uuid>,
    #[oai(nullable)]
    pub key_name: Option<String>,
    /// The MCP tool (`agent` only).
    #[oai(nullable)]
    pub tool: Option<String>,
}

/// One change.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ActivityItem {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: ActivityActor,
    /// The operation (its `operationId` in this document: `editCalendarEntry`,
    /// `publishCalendar`, `createApiKey`, ...).
    pub action: String,
    pub method: String,
    /// The operation's path template (`/v1/calendars/{id}/entries/{entry_id}`).
    pub route: String,
    /// What it named: the path's parameters by name, and `created`, the id of what a
    /// creation made.
    pub target: BTreeMap<String, String>,
    /// The calendar it changed, when it changed one.
    #[oai(nullable)]
    pub calendar_id: Option<Uuid>,
    /// The request's id (`X-Request-Id`), to find it in the logs.
    #[oai(nullable)]
    pub request_id: Option<String>,
}

impl From<ActivityRow> for ActivityItem {
    fn from(row: ActivityRow) -> Self {
        let target = row
            .target
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(name, value)| Some((name.clone(), value.as_str()?.to_owned())))
            .collect();
        Self {
            id: row.id,
            at: row.at,
            actor: ActivityActor {
                kind: row.actor_kind,
                user_id: row.actor_id,
                name: row.actor_name,
                email: row.actor_email,
                key_id: row.key_id,
                key_name: row.key_name,
                tool: row.tool,
            },
            action: row.action,
            method: row.method,
            route: row.route,
            target,
            calendar_id: row.calendar_id,
            request_id: row.request_id,
        }
    }
}

/// A page of changes, newest first.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ActivityPage {
    pub items: Vec<ActivityItem>,
    /// Pass as `cursor` for the next (older) page; null on the last.
    #[oai(nullable)]
    pub next_cursor: Option<Uuid>,
}

crate::enveloped!(ActivityPage);

pub type ActivityPageEnvelope = crate::envelope::Envelope<ActivityPage>;

#[derive(Default)]
pub struct ActivityApi;

#[OpenApi(tag = "Tag::Workspaces")]
impl ActivityApi {
    /// The workspace's changes, newest first: every create, edit, delete, generation,
    /// publish, connection, invitation, role change and key made or revoked, with who made
    /// it (a person, an API key by its name, or an agent over MCP) and when. Kept
    /// `ACTIVITY_RETENTION_DAYS` (365). Members read it (never with an API key).
    #[oai(
        path = "/v1/workspaces/:id/activity",
        method = "get",
        operation_id = "listActivity"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        _auth: PersonalAuth,
        id: Path<Uuid>,
        /// Changes made at or after this time.
        from: Query<Option<DateTime<Utc>>>,
        /// Changes made before this time (none when it is not after `from`).
        to: Query<Option<DateTime<Utc>>>,
        /// One person's changes (their keys' and agents' included): a member's `userId`.
        actor: Query<Option<Uuid>>,
        /// One calendar's changes.
        #[oai(name = "calendarId")]
        calendar_id: Query<Option<Uuid>>,
        /// Page size, 1-100 (default 20).
        #[oai(validator(minimum(value = "0"), maximum(value = "4294967295")))]
        limit: Query<Option<u32>>,
        /// `nextCursor` of the previous page.
        cursor: Query<Option<Uuid>>,
    ) -> Answer<Json<ActivityPageEnvelope>, { can::STORED | can::BAD_REQUEST | can::NOT_FOUND }>
    {
        let limit = clamp_limit(limit.0);
        let filter = Filter {
            from: from.0,
            to: to.0,
            actor: actor.0,
            calendar: calendar_id.0,
            after: cursor.0,
        };
        let rows = store::list(&state.pool, id.0, &filter, i64::from(limit) + 1).await?;
        let (rows, next_cursor) = paginate(rows, limit, |row| row.id);
        Ok(ActivityPageEnvelope::of(ActivityPage {
            items: rows.into_iter().map(Into::into).collect(),
            next_cursor,
        }))
    }
}
