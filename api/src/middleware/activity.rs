//! A workspace's activity: every operation that acts in a workspace (`x-almanac-role`) and
//! changes something (any method but `GET`/`HEAD`) records one row once it answered 2xx,
//! naming who made the change (the person, the API key by its name, or the agent: an MCP
//! tool calling the API in-process, [`Agent`]), the operation and what it named (the
//! path's parameters, and what a creation made). Recorded here, around every handler, so
//! that no operation can forget to; refused requests change nothing and record nothing.
//! Read with `GET /v1/workspaces/{id}/activity`.

use almanac_shared::events::{COMMENT_ADDED, COMMENT_CHANGED, ENTRY_REVIEW, Emitter};
use almanac_shared::store::activity::{ActorKind, NewActivity};
use poem::{
    Response,
    http::{Method, header},
};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{relay::live, route_table::RouteEntry, state::Activity};

/// Put on the requests an MCP tool makes to the API (`crate::mcp::api`): their changes are
/// the agent's. A request extension, so no outside caller can claim it.
#[derive(Debug, Clone)]
pub struct Agent {
    pub tool: String,
}

/// The operations not recorded: deleting a workspace (its activity goes with it), a
/// person's own profile and notifications (theirs, not a workspace's).
const NOT_RECORDED: [&str; 3] = ["deleteWorkspace", "updateMe", "markNotificationsRead"];

/// Operations acting in another workspace than the one they run in: the workspace they
/// made (`createWorkspace`) or joined (`acceptInvitation`), read from the answer.
const MOVES_TO: [(&str, &str); 2] = [
    ("createWorkspace", "/data/id"),
    ("acceptInvitation", "/data/workspace/id"),
];

/// A change about to be made, recorded once it answered 2xx.
pub(super) struct Change {
    workspace: Uuid,
    actor: Uuid,
    key: Option<(Uuid, String)>,
    tool: Option<String>,
    action: String,
    method: Method,
    route: &'static str,
    target: Map<String, Value>,
}

impl Change {
    /// The change `method` on `path` (of `route`) would make in `workspace`, by `actor`
    /// (with `key`, or as an agent when the request carries [`Agent`]); `None` for a read.
    pub(super) fn of(
        req: &poem::Request,
        route: &'static RouteEntry,
        workspace: Uuid,
        actor: Uuid,
        key: Option<(Uuid, String)>,
    ) -> Option<Self> {
        let method = req.method().clone();
        if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
            return None;
        }
        let action = route.operation(&method)?;
        if NOT_RECORDED.contains(&action) {
            return None;
        }
        let target = route
            .parameters(req.uri().path())
            .map(|(name, given)| {
                let given = percent_encoding::percent_decode_str(given).decode_utf8_lossy();
                (name.to_owned(), Value::String(given.into_owned()))
            })
            .collect();
        Some(Self {
            workspace,
            actor,
            key,
            tool: req
                .extensions()
                .get::<Agent>()
                .map(|agent| agent.tool.clone()),
            action: action.to_owned(),
            method,
            route: &route.template,
            target,
        })
    }

    /// Records the change if `answer` says it was made (2xx), and gives `answer` back. A
    /// creation's JSON answer is read for the id of what it made. A record that cannot be
    /// written is logged and counted; the answer stands (the change is made).
    pub(super) async fn record(
        mut self,
        recorder: &Activity,
        emitter: &Emitter,
        mut answer: Response,
    ) -> Response {
        let status = answer.status();
        if !status.is_success() {
            return answer;
        }
        let is_json = answer
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        let mut made = Value::Null;
        if is_json {
            let bytes = answer.take_body().into_bytes().await.unwrap_or_default();
            made = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            answer.set_body(bytes);
        }
        if let Some((_, pointer)) = MOVES_TO.iter().find(|(action, _)| *action == self.action) {
            match made
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(Uuid::try_parse)
            {
                Some(Ok(workspace)) => self.workspace = workspace,
                _ => return answer,
            }
        }
        let created = ["/data/id", "/id", "/data/jobId", "/jobId", "/job_id"]
            .iter()
            .find_map(|pointer| made.pointer(pointer).filter(|id| id.is_string()))
            .filter(|_| matches!(self.method, Method::POST | Method::PUT));
        if let Some(created) = created {
            self.target.insert("created".into(), created.clone());
        }
        let calendar = self
            .route
            .starts_with("/v1/calendars/{id}")
            .then(|| self.target.get("id"))
            .flatten()
            .or_else(|| made.pointer("/data/calendarId"))
            .or_else(|| made.pointer("/calendarId"))
            .and_then(Value::as_str)
            .and_then(|id| Uuid::try_parse(id).ok());
        let kind = match (&self.tool, &self.key) {
            (Some(_), _) => ActorKind::Agent,
            (None, Some(_)) => ActorKind::Key,
            (None, None) => ActorKind::Person,
        };
        let request_id = crate::envelope::current_request_id();
        let target = Value::Object(std::mem::take(&mut self.target));
        let (key_id, key_name) = match &self.key {
            Some((id, name)) => (Some(*id), Some(name.clone())),
            None => (None, None),
        };
        let new = NewActivity {
            workspace_id: self.workspace,
            actor_id: self.actor,
            actor_kind: kind,
            key_id,
            key_name,
            tool: self.tool.clone(),
            action: self.action.clone(),
            method: self.method.as_str().to_owned(),
            route: self.route.to_owned(),
            target: target.clone(),
            calendar_id: calendar,
            status: status.as_u16() as i16,
            request_id: (!request_id.is_empty()).then_some(request_id),
        };
        let by = json!({ "userId": self.actor, "kind": kind, "keyName": new.key_name,
            "tool": new.tool });
        if let Err(error) = recorder.statement(new).await {
            metrics::counter!("activity_unrecorded_total").increment(1);
            tracing::warn!(error = %error, action = %self.action, "a change's activity was not recorded");
        }
        if let Some(calendar) = calendar {
            self.announce(emitter, calendar, by, &target, &made).await;
        }
        answer
    }

    /// Tells the calendar's open copies (`crate::relay::live`): an entry's change with the
    /// entry as it is now, any other change as `calendar.changed`.
    async fn announce(
        &self,
        emitter: &Emitter,
        calendar: Uuid,
        by: Value,
        target: &Value,
        made: &Value,
    ) {
        let at = chrono::Utc::now().to_rfc3339();
        let entry_id = target.get("entry_id").or_else(|| target.get("created"));
        let comment =
            self.route.ends_with("/comments") || self.route.ends_with("/comments/{comment_id}");
        let (kind, data) = match entry_id {
            Some(entry_id) if self.route.starts_with(ENTRIES) && comment => {
                let (kind, change) = match self.method {
                    Method::POST => (COMMENT_ADDED, "added"),
                    Method::DELETE => (COMMENT_CHANGED, "deleted"),
                    _ => (COMMENT_CHANGED, "updated"),
                };
                let comment = made.pointer("/data").filter(|c| c.get("id").is_some());
                let comment_id = target.get("comment_id").or_else(|| target.get("created"));
                let data = json!({ "calendarId": calendar, "entryId": entry_id,
                    "commentId": comment_id, "change": change, "comment": comment, "by": by,
                    "action": self.action, "at": at });
                (kind, data)
            }
            Some(entry_id) if self.route.starts_with(ENTRIES) && is_review(self.route) => {
                let review = made.pointer("/data");
                let data = json!({ "calendarId": calendar, "entryId": entry_id,
                    "review": review, "by": by, "action": self.action, "at": at });
                (ENTRY_REVIEW, data)
            }
            Some(entry_id) if self.route.starts_with(ENTRIES) => {
                let change = match self.method {
                    Method::POST => "added",
                    Method::DELETE => "deleted",
                    _ => "updated",
                };
                let entry = made
                    .pointer("/data")
                    .filter(|entry| entry.get("id").is_some());
                let data = json!({ "calendarId": calendar, "entryId": entry_id,
                    "change": change, "version": entry.and_then(|e| e.get("version")),
                    "entry": entry, "by": by, "action": self.action, "at": at });
                (live::ENTRY_CHANGED, data)
            }
            _ => {
                let data = json!({ "calendarId": calendar, "by": by, "action": self.action,
                    "at": at });
                (live::CALENDAR_CHANGED, data)
            }
        };
        emitter.announce(calendar, kind, &data).await;
    }
}

/// The routes of a calendar's entries.
const ENTRIES: &str = "/v1/calendars/{id}/entries";

/// An entry's review routes: asking for one, deciding.
fn is_review(route: &str) -> bool {
    route.ends_with("/review") || route.ends_with("/review/decisions")
}
