//! Threads' API under `/threads`, as `docs/platforms.md` describes it: the token endpoints
//! (the code's short-lived token, `th_exchange_token`, `th_refresh_token`), the account's
//! profile and publishing quota, containers, `threads_publish`, its recent posts and a
//! post's permalink. Errors are the Graph API's.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::sandbox::{Answer, Call, Posted, State, container_media, graph_error};

/// The most children a carousel takes.
const CAROUSEL_MAX: usize = 20;

/// The Threads account every grant acts for.
pub const USER: &str = "25000000000000001";

/// What the Threads fake keeps.
#[derive(Debug)]
pub struct ThreadsFake {
    pub quota_usage: i64,
    pub quota_total: i64,
    /// `threads_publish` calls answered with Graph API error 613 before one is taken, and
    /// the minutes their usage header says to wait.
    pub rate_limited: usize,
    pub regain_minutes: u64,
    /// Containers: id -> (body, status).
    pub containers: HashMap<String, (Value, String)>,
    pub username: String,
    pub name: String,
}

impl Default for ThreadsFake {
    fn default() -> Self {
        Self {
            containers: HashMap::new(),
            quota_usage: 0,
            quota_total: 250,
            rate_limited: 0,
            regain_minutes: 0,
            username: "almanac.studio".into(),
            name: "Almanac Studio".into(),
        }
    }
}

impl ThreadsFake {
    pub(crate) fn bound(&mut self, most: usize) {
        if self.containers.len() > most {
            self.containers.clear();
        }
    }
}

pub(crate) fn route(state: &mut State, call: &Call) -> Answer {
    let path = call.path.as_str();
    if path == "/oauth/access_token" {
        return if call.query.get("code").map(String::as_str) == Some("good-code") {
            state.tokens.insert("th-short".into());
            Some((
                200,
                json!({ "access_token": "th-short", "user_id": USER.parse::<u64>().unwrap() }),
            ))
        } else {
            graph_error(400, 100, "Invalid authorization code")
        };
    }
    let token = call.query.get("access_token").cloned().unwrap_or_default();
    if !state.accepts(&token) {
        return graph_error(
            400,
            190,
            "Error validating access token: Session has expired",
        );
    }
    if path == "/access_token" || path == "/refresh_access_token" {
        return grant(state, call);
    }
    let Some(path) = path.strip_prefix("/v1.0/") else {
        return graph_error(404, 100, "Unknown path components");
    };
    let segments: Vec<&str> = path.split('/').collect();
    match (call.method.as_str(), segments.as_slice()) {
        ("GET", ["me"]) => Some((
            200,
            json!({ "id": USER, "username": state.threads.username, "name": state.threads.name }),
        )),
        ("GET", [_, "insights"]) if state.metrics.denied => graph_error(
            403,
            10,
            "(#10) Application does not have permission for this action",
        ),
        ("GET", [media, "insights"]) => {
            let counts = state.read_metrics(media);
            let known: &[crate::sandbox::Insight] = &[
                ("views", |c| c.views),
                ("likes", |c| c.likes),
                ("replies", |c| c.comments),
                ("reposts", |c| c.shares),
                ("quotes", |_| 1),
                ("shares", |_| 0),
            ];
            Some((200, crate::sandbox::graph_insights(call, counts, known)))
        }
        ("GET", [_, "threads_publishing_limit"]) => Some((
            200,
            json!({ "data": [{ "quota_usage": state.threads.quota_usage,
                "config": { "quota_total": state.threads.quota_total, "quota_duration": 86400 } }] }),
        )),
        ("POST", [_, "threads"]) => {
            let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
            let text = body["text"].as_str().unwrap_or("");
            if body["media_type"] == "TEXT" && text.is_empty() {
                return graph_error(400, 100, "The parameter text is required for TEXT posts");
            }
            if let Err(refused) = container_media(&state.threads.containers, &body, CAROUSEL_MAX)
            {
                return refused;
            }
            let id = format!("1780000000000{}", state.threads.containers.len() + 1);
            state
                .threads
                .containers
                .insert(id.clone(), (body, "FINISHED".into()));
            Some((200, json!({ "id": id })))
        }
        ("POST", [_, "threads_publish"]) => publish(state, call),
        ("GET", [_, "threads"]) => {
            let data: Vec<Value> = match state.cannot_confirm {
                true => Vec::new(),
                false => state
                    .posts
                    .iter()
                    .filter(|p| p.platform == "threads")
                    .map(|p| json!({ "id": p.id, "text": p.body["text"], "timestamp": "2030-01-07T09:00:00+0000" }))
                    .collect(),
            };
            Some((200, json!({ "data": data })))
        }
        ("GET", [post])
            if state
                .posts
                .iter()
                .any(|p| p.platform == "threads" && p.id == *post) =>
        {
            Some((
                200,
                json!({ "id": post, "permalink": format!("https://www.threads.com/@{}/post/C{post}", state.threads.username) }),
            ))
        }
        ("GET", [container]) => match state.threads.containers.get(*container) {
            Some((_, status)) if state.cannot_confirm && status == "PUBLISHED" => {
                Some((200, json!({ "id": container, "status": "IN_PROGRESS" })))
            }
            Some((_, status)) => Some((200, json!({ "id": container, "status": status }))),
            None => graph_error(400, 100, "Unsupported get request"),
        },
        _ => graph_error(404, 100, "Unsupported request"),
    }
}

/// `th_exchange_token` and `th_refresh_token`: a new 60-day token.
fn grant(state: &mut State, call: &Call) -> Answer {
    let grant = call.query.get("grant_type").map(String::as_str);
    if !matches!(grant, Some("th_exchange_token" | "th_refresh_token")) {
        return graph_error(400, 100, "Unsupported grant_type");
    }
    if state.refuse_refresh && grant == Some("th_refresh_token") {
        return graph_error(400, 190, "The access token could not be refreshed");
    }
    state.issued += 1;
    let token = format!("th-token-{}", state.issued);
    state.tokens.insert(token.clone());
    Some((
        200,
        json!({ "access_token": token, "token_type": "bearer", "expires_in": 5_184_000 }),
    ))
}

/// `POST /{user}/threads_publish`: the container published, once, within the quota.
fn publish(state: &mut State, call: &Call) -> Answer {
    if state.threads.rate_limited > 0 {
        state.threads.rate_limited -= 1;
        let usage = json!({ (USER): [{ "type": "threads", "call_count": 100, "total_cputime": 1,
            "total_time": 1, "estimated_time_to_regain_access": state.threads.regain_minutes }] });
        state
            .reply_headers
            .push(("x-business-use-case-usage".into(), usage.to_string()));
        return graph_error(400, 613, "Calls to this api have exceeded the rate limit.");
    }
    if state.threads.quota_usage >= state.threads.quota_total {
        return graph_error(
            400,
            9,
            "The maximum number of posts that can be published has been reached.",
        );
    }
    let container = call.query.get("creation_id").cloned().unwrap_or_default();
    let Some((body, status)) = state.threads.containers.get_mut(&container) else {
        return graph_error(400, 100, "unknown container");
    };
    if status != "FINISHED" {
        return graph_error(400, 9007, "The media is not ready to be published.");
    }
    *status = "PUBLISHED".into();
    let body = body.clone();
    if let Some(parent) = body["reply_to_id"].as_str() {
        // A reply: a comment under the author's own post.
        if !state.posts.iter().any(|p| p.platform == "threads" && p.id == parent) {
            return graph_error(400, 100, "reply_to_id is not a thread of this account");
        }
        let text = body["text"].as_str().unwrap_or_default().to_owned();
        return crate::sandbox::graph_comment(state, "threads", parent, &text);
    }
    let media =
        container_media(&state.threads.containers, &body, CAROUSEL_MAX).unwrap_or_default();
    let id = format!("1810000000000{}", state.posts.len() + 1);
    state.posts.push(Posted {
        platform: "threads",
        id: id.clone(),
        body,
        media,
    });
    state.threads.quota_usage += 1;
    if std::mem::take(&mut state.drop_after_publish) {
        return None;
    }
    if std::mem::take(&mut state.hang_after_publish) {
        return Some((0, Value::Null));
    }
    Some((200, json!({ "id": id })))
}
