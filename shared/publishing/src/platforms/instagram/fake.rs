//! Instagram's Graph API content publishing and its token endpoints.

use serde_json::{Value, json};

use crate::sandbox::{Answer, Call, IG_USER, Posted, State, container_media};

/// The most children a carousel takes.
const CAROUSEL_MAX: usize = 10;

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Answer {
    let mut error = json!({ "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "trace" });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    Some((status, json!({ "error": error })))
}

pub(crate) fn route(state: &mut State, call: &Call) -> Answer {
    if call.path == "/oauth/access_token" {
        return if call.query.get("code").map(String::as_str) == Some("good-code") {
            state.tokens.insert("ig-short".into());
            Some((
                200,
                json!({ "access_token": "ig-short", "user_id": IG_USER.parse::<u64>().unwrap(), "permissions": ["instagram_business_basic", "instagram_business_content_publish", "instagram_business_manage_insights", "instagram_business_manage_comments"] }),
            ))
        } else {
            Some((
                400,
                json!({ "error_type": "OAuthException", "code": 400, "error_message": "Invalid authorization code" }),
            ))
        };
    }
    let token = call.query.get("access_token").cloned().unwrap_or_default();
    if !state.accepts(&token) {
        return graph_error(
            400,
            190,
            None,
            "Error validating access token: Session has expired",
        );
    }
    let segments: Vec<&str> = call.path.trim_start_matches('/').split('/').collect();
    match (call.method.as_str(), segments.as_slice()) {
        ("GET", ["access_token"]) | ("GET", ["refresh_access_token"]) => {
            if state.refuse_refresh {
                return graph_error(400, 190, None, "The access token could not be refreshed");
            }
            state.issued += 1;
            let token = format!("ig-token-{}", state.issued);
            state.tokens.insert(token.clone());
            Some((
                200,
                json!({ "access_token": token, "token_type": "bearer", "expires_in": 5_184_000 }),
            ))
        }
        // An answer without its figures (`quota_unreadable`), as an API change would give.
        ("GET", [_, "content_publishing_limit"]) if state.quota_unreadable => {
            Some((200, json!({ "data": [{}] })))
        }
        ("GET", [_, "content_publishing_limit"]) => Some((
            200,
            json!({ "data": [{
            "quota_usage": state.quota_usage,
            "config": { "quota_total": state.quota_total, "quota_duration": 86400 },
        }] }),
        )),
        ("POST", [_, "media"]) => {
            let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
            if let Err(refused) = container_media(&state.containers, &body, CAROUSEL_MAX) {
                return refused;
            }
            let id = format!("1790000000000{}", state.containers.len() + 1);
            state
                .containers
                .insert(id.clone(), (body, "FINISHED".into()));
            Some((200, json!({ "id": id })))
        }
        ("POST", [_, "media_publish"]) => media_publish(state, call),
        ("POST", [media, "comments"]) if state.posts.iter().any(|p| p.id == *media) => {
            let text = call.query.get("message").cloned().unwrap_or_default();
            crate::sandbox::graph_comment(state, "instagram", media, &text)
        }
        ("GET", [_, "media"]) => {
            if state.cannot_confirm {
                return Some((200, json!({ "data": [] })));
            }
            let data: Vec<Value> = state
                .posts
                .iter()
                .filter(|p| p.platform == "instagram")
                .map(|p| json!({ "id": p.id, "caption": p.body["caption"], "timestamp": "2030-01-07T09:00:00+0000" }))
                .collect();
            Some((200, json!({ "data": data })))
        }
        ("GET", [_, "insights"]) if state.metrics.denied => graph_error(
            403,
            10,
            None,
            "(#10) Application does not have permission for this action",
        ),
        ("GET", [media, "insights"]) => {
            let counts = state.read_metrics(media);
            let known: &[crate::sandbox::Insight] = &[
                ("views", |c| c.views),
                ("reach", |c| c.reach),
                ("likes", |c| c.likes),
                ("comments", |c| c.comments),
                ("shares", |c| c.shares),
                ("saved", |c| c.saves),
            ];
            Some((200, crate::sandbox::graph_insights(call, counts, known)))
        }
        ("GET", ["me"]) => Some((
            200,
            json!({ "user_id": IG_USER, "username": state.ig_username, "name": state.ig_name, "id": IG_USER }),
        )),
        ("GET", [media]) if state.posts.iter().any(|p| p.id == *media) => Some((
            200,
            json!({ "id": media, "permalink": format!("https://www.instagram.com/p/C{media}/") }),
        )),
        ("GET", [container]) => {
            let published = state
                .containers
                .get(*container)
                .is_some_and(|(_, status)| status == "PUBLISHED");
            if state.cannot_confirm && published {
                return graph_error(500, -1, Some(2207001), "An unknown error occurred");
            }
            match state.containers.get(*container) {
                Some((_, status)) => Some((200, json!({ "status_code": status, "id": container }))),
                None => graph_error(400, 100, None, "unknown object"),
            }
        }
        _ => graph_error(404, 100, None, "unsupported request"),
    }
}

/// `POST /{user}/media_publish`: the container published, once, within the quota.
fn media_publish(state: &mut State, call: &Call) -> Answer {
    if state.quota_usage >= state.quota_total {
        return graph_error(
            400,
            9,
            Some(2207042),
            "The maximum number of posts that can be published has been reached.",
        );
    }
    let container = call.query.get("creation_id").cloned().unwrap_or_default();
    let Some((body, status)) = state.containers.get_mut(&container) else {
        return graph_error(400, 100, None, "unknown container");
    };
    if status != "FINISHED" {
        return graph_error(
            400,
            9007,
            Some(2207027),
            "The media is not ready to be published.",
        );
    }
    *status = "PUBLISHED".into();
    let body = body.clone();
    let media = container_media(&state.containers, &body, CAROUSEL_MAX).unwrap_or_default();
    let id = format!("1800000000000{}", state.posts.len() + 1);
    state.posts.push(Posted {
        platform: "instagram",
        id: id.clone(),
        body,
        media,
    });
    state.quota_usage += 1;
    if std::mem::take(&mut state.drop_after_publish) {
        return None;
    }
    if std::mem::take(&mut state.hang_after_publish) {
        return Some((0, Value::Null));
    }
    Some((200, json!({ "id": id })))
}
