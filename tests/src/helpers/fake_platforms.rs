//! Local TikTok and Instagram servers following `PLATFORMS.md`, recording every call.
//!
//! One server answers both: TikTok's paths start with `/v2/`, the rest is Instagram's
//! Graph API (and its token endpoints). Like the fake AI it speaks HTTP/1.1 over TCP
//! itself, so that it can take a request, apply it, and drop the connection without an
//! answer, as a lost answer looks to a client.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

pub const IG_USER: &str = "17841400000000001";
pub const TIKTOK_OPEN_ID: &str = "open-tiktok-1";

/// What TikTok's status endpoint says of a publish.
#[derive(Debug, Clone, PartialEq)]
pub enum TikTokOutcome {
    Complete,
    Failed(&'static str),
    Processing,
}

/// A recorded call.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub authorization: Option<String>,
    pub body: String,
}

/// A post that went out.
#[derive(Debug, Clone)]
pub struct Posted {
    pub platform: &'static str,
    pub id: String,
    /// TikTok's init body, or Instagram's container body.
    pub body: Value,
}

#[derive(Debug)]
pub struct State {
    pub calls: Vec<Call>,
    pub posts: Vec<Posted>,
    /// Access tokens each platform accepts.
    pub tokens: HashSet<String>,
    /// TikTok refresh tokens that still work.
    pub refresh_tokens: HashSet<String>,
    pub refuse_refresh: bool,
    pub privacy_options: Vec<&'static str>,
    pub tiktok_outcome: TikTokOutcome,
    /// Apply the next publishing call, then drop the connection.
    pub drop_after_publish: bool,
    /// Apply the next publishing call, then never answer (the worker dies meanwhile).
    pub hang_after_publish: bool,
    /// Instagram's container status and recent media never show the post.
    pub cannot_confirm: bool,
    /// TikTok init calls answered 429 `rate_limit_exceeded` before one is taken.
    pub rate_limited: usize,
    pub quota_usage: i64,
    pub quota_total: i64,
    /// Instagram containers: id -> (body, status_code).
    pub containers: HashMap<String, (Value, String)>,
    issued: usize,
}

#[derive(Clone)]
pub struct FakePlatforms {
    port: u16,
    pub state: Arc<Mutex<State>>,
}

impl FakePlatforms {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            calls: Vec::new(),
            posts: Vec::new(),
            tokens: HashSet::from(["tt-token".to_owned(), "ig-token".to_owned()]),
            refresh_tokens: HashSet::from(["tt-refresh".to_owned()]),
            refuse_refresh: false,
            privacy_options: vec!["PUBLIC_TO_EVERYONE", "FOLLOWER_OF_CREATOR", "SELF_ONLY"],
            tiktok_outcome: TikTokOutcome::Complete,
            drop_after_publish: false,
            hang_after_publish: false,
            cannot_confirm: false,
            rate_limited: 0,
            quota_usage: 0,
            quota_total: 50,
            containers: HashMap::new(),
            issued: 0,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Self { port, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The settings that point the app at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TIKTOK_API_BASE_URL", self.base_url()),
            ("INSTAGRAM_API_BASE_URL", self.base_url()),
            (
                "TIKTOK_AUTHORIZE_URL",
                format!("{}/tiktok/authorize", self.base_url()),
            ),
            (
                "INSTAGRAM_AUTHORIZE_URL",
                format!("{}/instagram/authorize", self.base_url()),
            ),
            (
                "INSTAGRAM_TOKEN_URL",
                format!("{}/oauth/access_token", self.base_url()),
            ),
            ("TIKTOK_CLIENT_KEY", "tt-client".into()),
            ("TIKTOK_CLIENT_SECRET", "tt-secret".into()),
            ("INSTAGRAM_APP_ID", "ig-app".into()),
            ("INSTAGRAM_APP_SECRET", "ig-secret".into()),
        ]
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn posts(&self) -> Vec<Posted> {
        self.with(|s| s.posts.clone())
    }

    /// Calls whose path ends with `suffix`.
    pub fn calls_to(&self, suffix: &str) -> Vec<Call> {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|c| c.path.ends_with(suffix))
                .cloned()
                .collect()
        })
    }

    /// Calls that publish or create content (not read-only).
    pub fn publishing_calls(&self) -> usize {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|c| {
                    c.path.ends_with("/init/")
                        || c.path.ends_with("/media_publish")
                        || (c.method == "POST" && c.path.ends_with("/media"))
                })
                .count()
        })
    }

    pub fn all_calls(&self) -> Vec<Call> {
        self.with(|s| s.calls.clone())
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, content_length) = loop {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            return;
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end + 4, length);
        }
    };
    while buffer.len() < head_end + content_length {
        let Ok(n) = stream.read(&mut chunk).await else {
            return;
        };
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let body = String::from_utf8_lossy(&buffer[head_end..]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let method = first.next().unwrap_or("").to_owned();
    let target = first.next().unwrap_or("/").to_owned();
    let authorization = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("authorization")
            .then(|| value.trim().to_owned())
    });
    let url = url::Url::parse(&format!("http://fake{target}")).unwrap();
    let mut query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    if method == "POST" && !body.starts_with('{') {
        // Form bodies (token endpoints) read like a query.
        query.extend(url::form_urlencoded::parse(body.as_bytes()).into_owned());
    }
    let call = Call {
        method,
        path: url.path().to_owned(),
        query,
        authorization,
        body,
    };
    let answer = {
        let mut state = state.lock().unwrap();
        state.calls.push(call.clone());
        route(&mut state, &call)
    };
    let Some((status, json)) = answer else {
        // Applied, then the connection is dropped without an answer.
        drop(stream);
        return;
    };
    if status == 0 {
        // Applied, then silence for as long as the client waits.
        std::future::pending::<()>().await;
    }
    let body = json.to_string();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

type Answer = Option<(u16, Value)>;

fn route(state: &mut State, call: &Call) -> Answer {
    if call.path.starts_with("/v2/") {
        tiktok(state, call)
    } else {
        instagram(state, call)
    }
}

fn tiktok_error(status: u16, code: &str, message: &str) -> Answer {
    Some((
        status,
        json!({ "data": {}, "error": { "code": code, "message": message, "log_id": "log-1" } }),
    ))
}

fn tiktok_ok(data: Value) -> Answer {
    Some((
        200,
        json!({ "data": data, "error": { "code": "ok", "message": "", "log_id": "log-1" } }),
    ))
}

fn tiktok(state: &mut State, call: &Call) -> Answer {
    if call.path == "/v2/oauth/token/" {
        return tiktok_token(state, call);
    }
    let token = call
        .authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("");
    if !state.tokens.contains(token) {
        return tiktok_error(
            401,
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
        );
    }
    let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
    match call.path.as_str() {
        "/v2/post/publish/creator_info/query/" => tiktok_ok(json!({
            "creator_username": "almanac_test",
            "creator_nickname": "Almanac",
            "privacy_level_options": state.privacy_options,
            "comment_disabled": false,
            "duet_disabled": false,
            "stitch_disabled": false,
            "max_video_post_duration_sec": 600,
        })),
        "/v2/post/publish/video/init/"
        | "/v2/post/publish/inbox/video/init/"
        | "/v2/post/publish/content/init/" => {
            if state.rate_limited > 0 {
                state.rate_limited -= 1;
                return tiktok_error(429, "rate_limit_exceeded", "too many requests");
            }
            if let Some(level) = body["post_info"]["privacy_level"].as_str()
                && !state.privacy_options.contains(&level)
            {
                return tiktok_error(
                    400,
                    "privacy_level_option_mismatch",
                    "privacy level not allowed",
                );
            }
            let id = format!("v_pub_{}", state.posts.len() + 1);
            state.posts.push(Posted {
                platform: "tiktok",
                id: id.clone(),
                body,
            });
            if std::mem::take(&mut state.drop_after_publish) {
                return None;
            }
            tiktok_ok(json!({ "publish_id": id }))
        }
        "/v2/post/publish/status/fetch/" => {
            let id = body["publish_id"].as_str().unwrap_or("");
            let Some(post) = state.posts.iter().find(|p| p.id == id) else {
                return tiktok_error(400, "invalid_params", "unknown publish_id");
            };
            let inbox =
                post.body["post_info"].is_null() || post.body["post_mode"] == "MEDIA_UPLOAD";
            match &state.tiktok_outcome {
                TikTokOutcome::Complete if inbox => {
                    tiktok_ok(json!({ "status": "SEND_TO_USER_INBOX" }))
                }
                TikTokOutcome::Complete => tiktok_ok(json!({
                    "status": "PUBLISH_COMPLETE",
                    "publicaly_available_post_id": [7_300_000_000_000_000_000u64 + id.len() as u64],
                })),
                TikTokOutcome::Failed(reason) => {
                    tiktok_ok(json!({ "status": "FAILED", "fail_reason": reason }))
                }
                TikTokOutcome::Processing => tiktok_ok(json!({ "status": "PROCESSING_DOWNLOAD" })),
            }
        }
        _ => tiktok_error(404, "invalid_params", "no such endpoint"),
    }
}

fn tiktok_token(state: &mut State, call: &Call) -> Answer {
    let refuse = |description: &str| {
        Some((
            400,
            json!({ "error": "invalid_grant", "error_description": description, "log_id": "log-2" }),
        ))
    };
    match call.query.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            let old = call.query.get("refresh_token").cloned().unwrap_or_default();
            if state.refuse_refresh || !state.refresh_tokens.remove(&old) {
                return refuse("Refresh token is invalid or expired.");
            }
            state.issued += 1;
            let (access, refresh) = (
                format!("tt-token-{}", state.issued),
                format!("tt-refresh-{}", state.issued),
            );
            state.tokens.insert(access.clone());
            state.refresh_tokens.insert(refresh.clone());
            Some((
                200,
                json!({ "access_token": access, "expires_in": 86400, "refresh_token": refresh,
                "refresh_expires_in": 31536000, "open_id": TIKTOK_OPEN_ID, "scope": "video.publish", "token_type": "Bearer" }),
            ))
        }
        Some("authorization_code") => {
            if call.query.get("code").map(String::as_str) != Some("good-code")
                || call.query.get("code_verifier").is_none_or(|v| v.len() < 43)
            {
                return refuse("Authorization code is invalid.");
            }
            state.issued += 1;
            let (access, refresh) = (
                format!("tt-token-{}", state.issued),
                format!("tt-refresh-{}", state.issued),
            );
            state.tokens.insert(access.clone());
            state.refresh_tokens.insert(refresh.clone());
            Some((
                200,
                json!({ "access_token": access, "expires_in": 86400, "refresh_token": refresh,
                "refresh_expires_in": 31536000, "open_id": TIKTOK_OPEN_ID, "scope": "user.info.basic,video.publish", "token_type": "Bearer" }),
            ))
        }
        _ => refuse("unsupported grant"),
    }
}

fn graph_error(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Answer {
    let mut error = json!({ "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "trace" });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    Some((status, json!({ "error": error })))
}

fn instagram(state: &mut State, call: &Call) -> Answer {
    if call.path == "/oauth/access_token" {
        return if call.query.get("code").map(String::as_str) == Some("good-code") {
            state.tokens.insert("ig-short".into());
            Some((
                200,
                json!({ "access_token": "ig-short", "user_id": IG_USER.parse::<u64>().unwrap(), "permissions": ["instagram_business_basic", "instagram_business_content_publish"] }),
            ))
        } else {
            Some((
                400,
                json!({ "error_type": "OAuthException", "code": 400, "error_message": "Invalid authorization code" }),
            ))
        };
    }
    let token = call.query.get("access_token").cloned().unwrap_or_default();
    if !state.tokens.contains(&token) {
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
        ("GET", [_, "content_publishing_limit"]) => Some((
            200,
            json!({ "data": [{
            "quota_usage": state.quota_usage,
            "config": { "quota_total": state.quota_total, "quota_duration": 86400 },
        }] }),
        )),
        ("POST", [_, "media"]) => {
            let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
            let id = format!("1790000000000{}", state.containers.len() + 1);
            state
                .containers
                .insert(id.clone(), (body, "FINISHED".into()));
            Some((200, json!({ "id": id })))
        }
        ("POST", [_, "media_publish"]) => {
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
            let id = format!("1800000000000{}", state.posts.len() + 1);
            state.posts.push(Posted {
                platform: "instagram",
                id: id.clone(),
                body,
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
        ("GET", [container]) => {
            if state.cannot_confirm && state.posts.iter().any(|_| true) {
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
