//! Testnet's API and token endpoint, as its adapter's module says they answer.

use serde_json::{Value, json};

use crate::sandbox::{Answer, Call, Posted, State};

/// The channel the fake's grant connects.
pub const CHANNEL_ID: &str = "UC-almanac-test";

fn refused(status: u16, code: &str, message: &str) -> Answer {
    Some((status, json!({ "error": { "code": code, "message": message } })))
}

pub(crate) fn route(state: &mut State, call: &Call) -> Answer {
    if call.path == "/token" {
        return token(state, call);
    }
    if !state.accepts(call.bearer()) {
        return refused(401, "invalid_token", "the access token is not valid");
    }
    let path: Vec<&str> = call.path.trim_matches('/').split('/').collect();
    match (call.method.as_str(), path.as_slice()) {
        ("GET", ["v1", "channels", id]) if *id == CHANNEL_ID => {
            Some((200, json!({ "id": id, "title": "Almanac Test", "uploads": true })))
        }
        ("POST", ["v1", "videos"]) => {
            let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
            if body["channelId"] != CHANNEL_ID || !body["videoUrl"].is_string() {
                return refused(400, "invalid_video", "channelId and videoUrl are required");
            }
            let id = format!("tn-video-{}", state.posts.len() + 1);
            let media = body["videoUrl"].as_str().map(str::to_owned).into_iter().collect();
            state.posts.push(Posted {
                platform: "testnet",
                id: id.clone(),
                body,
                media,
            });
            if std::mem::take(&mut state.drop_after_publish) {
                return None;
            }
            Some((201, json!({ "id": id })))
        }
        ("GET", ["v1", "videos", id]) if state.posts.iter().any(|p| p.id == *id) => {
            Some((200, json!({ "id": id, "status": "live" })))
        }
        ("GET", ["v1", "videos", id, "stats"]) if state.posts.iter().any(|p| p.id == *id) => {
            let stats = state
                .read_metrics(id)
                .map_or(json!({}), |n| json!({ "views": n.views, "likes": n.likes }));
            Some((200, stats))
        }
        _ => refused(404, "not_found", "no such resource"),
    }
}

/// The code grant (`good-code` with PKCE's verifier) and refresh: a new pair each time, the
/// refresh token used no longer working.
fn token(state: &mut State, call: &Call) -> Answer {
    let granted = match call.query.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            call.query.get("code").is_some_and(|code| code == "good-code")
                && call.query.get("code_verifier").is_some_and(|v| v.len() >= 43)
        }
        Some("refresh_token") => {
            let old = call.query.get("refresh_token").cloned().unwrap_or_default();
            state.refresh_tokens.remove(&old)
        }
        _ => false,
    };
    if !granted {
        return Some((
            400,
            json!({ "error": "invalid_grant", "error_description": "the code or refresh token is not valid" }),
        ));
    }
    state.issued += 1;
    let (access, refresh) = (
        format!("tn-token-{}", state.issued),
        format!("tn-refresh-{}", state.issued),
    );
    state.tokens.insert(access.clone());
    state.refresh_tokens.insert(refresh.clone());
    Some((
        200,
        json!({ "access_token": access, "refresh_token": refresh, "expires_in": 3600,
            "channel_id": CHANNEL_ID, "scope": "testnet.upload testnet.read", "token_type": "Bearer" }),
    ))
}
