//! YouTube's APIs under `/youtube`, as `docs/platforms.md` describes them: Google's token
//! endpoint (a code's tokens, a refresh), the channel (`channels.list`), resumable
//! `videos.insert` (a session opened with the metadata, the bytes `PUT` to it, its status
//! asked with `Content-Range: bytes */<size>`), and the channel's uploads playlist. Errors
//! are Google's (`{"error": {"code", "message", "errors": [{"reason"}]}}`).

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::sandbox::{Answer, Call, Posted, State};

/// The channel every grant acts for, and its uploads playlist.
pub const CHANNEL: &str = "UCx8Zq3v0sLw2NfJ5aT1bQ7c";
pub const UPLOADS: &str = "UUx8Zq3v0sLw2NfJ5aT1bQ7c";

/// An upload session: the video resource it was opened with, the bytes announced, and the
/// video its bytes made.
#[derive(Debug, Clone)]
pub struct Session {
    pub metadata: Value,
    pub size: usize,
    pub video: Option<String>,
}

/// What the YouTube fake keeps.
#[derive(Debug, Default)]
pub struct YouTubeFake {
    pub sessions: HashMap<String, Session>,
    /// The project's daily quota is spent: `videos.insert` answers 403 `quotaExceeded`.
    pub quota_exceeded: bool,
    /// Sessions opened answered 403 `rateLimitExceeded` before one is taken.
    pub rate_limited: usize,
    /// Every session is forgotten (expired): its status answers 404.
    pub forget_sessions: bool,
    /// The refresh tokens it issues lapse after this many seconds (a project in
    /// "Testing" status: 7 days); `None`: they do not.
    pub refresh_lifetime: Option<i64>,
}

impl YouTubeFake {
    pub(crate) fn bound(&mut self, most: usize) {
        if self.sessions.len() > most {
            self.sessions.clear();
        }
    }
}

fn google_error(status: u16, reason: &str, message: &str) -> Answer {
    Some((
        status,
        json!({ "error": { "code": status, "message": message,
            "errors": [{ "message": message, "domain": "youtube", "reason": reason }] } }),
    ))
}

/// `videos?part=statistics&id=`: a video's views, likes and comments, as strings.
fn statistics(state: &mut State, call: &Call) -> Answer {
    if state.metrics.denied {
        return google_error(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        );
    }
    let id = call.query.get("id").cloned().unwrap_or_default();
    let items: Vec<Value> = state
        .read_metrics(&id)
        .map(|n| {
            json!({ "kind": "youtube#video", "id": id, "statistics": {
                "viewCount": n.views.to_string(), "likeCount": n.likes.to_string(),
                "favoriteCount": "0", "commentCount": n.comments.to_string() } })
        })
        .into_iter()
        .collect();
    Some((
        200,
        json!({ "kind": "youtube#videoListResponse", "items": items }),
    ))
}

pub(crate) fn route(state: &mut State, call: &Call) -> Answer {
    let path = call.path.as_str();
    if path == "/token" {
        return token(state, call);
    }
    if !state.accepts(call.bearer()) {
        return google_error(
            401,
            "authError",
            "Request had invalid authentication credentials.",
        );
    }
    match (call.method.as_str(), path) {
        ("GET", "/youtube/v3/channels") => Some((
            200,
            json!({ "kind": "youtube#channelListResponse", "items": [{
                "kind": "youtube#channel", "id": CHANNEL,
                "snippet": { "title": "Leafy Co", "customUrl": "@leafyco" },
                "contentDetails": { "relatedPlaylists": { "uploads": UPLOADS } },
            }] }),
        )),
        ("GET", "/youtube/v3/videos") => statistics(state, call),
        ("POST", "/youtube/v3/commentThreads") => comment_thread(state, call),
        ("POST", "/upload/youtube/v3/videos") => open_session(state, call),
        ("PUT", "/upload/youtube/v3/videos") => {
            let id = call.query.get("upload_id").cloned().unwrap_or_default();
            match call.headers.get("content-range") {
                Some(range) if range.starts_with("bytes */") => session_status(state, &id),
                _ => upload(state, call, &id),
            }
        }
        ("GET", "/youtube/v3/playlistItems") => {
            if call.query.get("playlistId").map(String::as_str) != Some(UPLOADS) {
                return google_error(404, "playlistNotFound", "The playlist cannot be found.");
            }
            let items: Vec<Value> = match state.cannot_confirm {
                true => Vec::new(),
                false => state
                    .posts
                    .iter()
                    .rev()
                    .filter(|p| p.platform == "youtube")
                    .map(|p| {
                        json!({ "kind": "youtube#playlistItem", "snippet": {
                        "title": p.body["snippet"]["title"],
                        "description": p.body["snippet"]["description"],
                        "resourceId": { "kind": "youtube#video", "videoId": p.id } } })
                    })
                    .collect(),
            };
            Some((
                200,
                json!({ "kind": "youtube#playlistItemListResponse", "items": items }),
            ))
        }
        _ => google_error(404, "notFound", "Not Found"),
    }
}

/// Google's token endpoint: a code's access and refresh tokens, or a refresh's access token.
fn token(state: &mut State, call: &Call) -> Answer {
    let refused = |description: &str| {
        Some((
            400,
            json!({ "error": "invalid_grant", "error_description": description }),
        ))
    };
    let grant = call.query.get("grant_type").map(String::as_str);
    let refresh = match grant {
        Some("authorization_code")
            if call.query.get("code").map(String::as_str) == Some("good-code") =>
        {
            state.issued += 1;
            let refresh = format!("yt-refresh-{}", state.issued);
            state.refresh_tokens.insert(refresh.clone());
            Some(refresh)
        }
        Some("authorization_code") => return refused("Malformed auth code."),
        Some("refresh_token") => {
            let given = call.query.get("refresh_token").cloned().unwrap_or_default();
            if state.refuse_refresh || !state.accepts_refresh(&given) {
                return refused("Token has been expired or revoked.");
            }
            None
        }
        _ => return refused("Invalid grant_type."),
    };
    state.issued += 1;
    let access = format!("yt-token-{}", state.issued);
    state.tokens.insert(access.clone());
    let mut answer = json!({ "access_token": access, "expires_in": 3599, "token_type": "Bearer",
        "scope": "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly https://www.googleapis.com/auth/youtube.force-ssl" });
    if let Some(refresh) = refresh {
        answer["refresh_token"] = json!(refresh);
        if let Some(lifetime) = state.youtube.refresh_lifetime {
            answer["refresh_token_expires_in"] = json!(lifetime);
        }
    }
    Some((200, answer))
}

/// `POST /upload/youtube/v3/videos?uploadType=resumable`: a session, at its `Location`.
fn open_session(state: &mut State, call: &Call) -> Answer {
    if call.query.get("uploadType").map(String::as_str) != Some("resumable") {
        return google_error(400, "badRequest", "Only resumable uploads are served here.");
    }
    if state.youtube.quota_exceeded {
        return google_error(
            403,
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your quota.",
        );
    }
    if state.youtube.rate_limited > 0 {
        state.youtube.rate_limited -= 1;
        state.reply_headers.push(("retry-after".into(), "1".into()));
        return google_error(403, "rateLimitExceeded", "Too many requests.");
    }
    let Some(size) = call
        .headers
        .get("x-upload-content-length")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return google_error(400, "badRequest", "X-Upload-Content-Length is required.");
    };
    let metadata: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
    let title = metadata["snippet"]["title"].as_str().unwrap_or("");
    if title.is_empty() || title.chars().count() > 100 || title.contains(['<', '>']) {
        return google_error(
            400,
            "invalidTitle",
            "The request metadata specifies an invalid video title.",
        );
    }
    let id = format!("s{}", state.youtube.sessions.len() + 1);
    state.youtube.sessions.insert(
        id.clone(),
        Session {
            metadata,
            size,
            video: None,
        },
    );
    let location = format!(
        "{}/youtube/upload/youtube/v3/videos?uploadType=resumable&upload_id={id}",
        state.base_url
    );
    state.reply_headers.push(("location".into(), location));
    Some((200, Value::Null))
}

/// The bytes of a session: the video made, once.
fn upload(state: &mut State, call: &Call, id: &str) -> Answer {
    let Some(session) = state.youtube.sessions.get(id).cloned() else {
        return google_error(404, "notFound", "The upload session was not found.");
    };
    if let Some(video) = &session.video {
        return Some((200, video_resource(video, &session.metadata)));
    }
    if call.body_len != session.size {
        return Some((308, Value::Null));
    }
    let video = format!("vid{:08}", state.posts.len() + 1);
    let mut body = session.metadata.clone();
    body["bytes"] = json!(call.body_len);
    body["contentType"] = json!(call.headers.get("content-type"));
    state.posts.push(Posted {
        platform: "youtube",
        id: video.clone(),
        body,
        media: vec![crate::sandbox::bytes_named(call.body_len)],
    });
    if let Some(kept) = state.youtube.sessions.get_mut(id) {
        kept.video = Some(video.clone());
    }
    if std::mem::take(&mut state.drop_after_publish) {
        return None;
    }
    if std::mem::take(&mut state.hang_after_publish) {
        return Some((0, Value::Null));
    }
    Some((200, video_resource(&video, &session.metadata)))
}

/// `PUT` with `Content-Range: bytes */<size>`: the video, or 308 while incomplete; 404
/// once the session is forgotten (and while nothing can be confirmed).
fn session_status(state: &mut State, id: &str) -> Answer {
    let forgotten = state.youtube.forget_sessions || state.cannot_confirm;
    match state.youtube.sessions.get(id).filter(|_| !forgotten) {
        None => google_error(404, "notFound", "The upload session was not found."),
        Some(Session {
            video: Some(video),
            metadata,
            ..
        }) => Some((200, video_resource(video, metadata))),
        Some(_) => Some((308, Value::Null)),
    }
}

fn video_resource(id: &str, metadata: &Value) -> Value {
    json!({ "kind": "youtube#video", "id": id, "snippet": metadata["snippet"],
        "status": { "uploadStatus": "uploaded",
            "privacyStatus": metadata["status"]["privacyStatus"] } })
}

/// `POST /youtube/v3/commentThreads?part=snippet`: a top-level comment under one of the
/// channel's videos (`snippet.videoId`, `snippet.topLevelComment.snippet.textOriginal`).
fn comment_thread(state: &mut State, call: &Call) -> Answer {
    let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
    if body["snippet"]["channelId"] != CHANNEL {
        return google_error(400, "channelOrVideoIdMissing", "snippet.channelId and snippet.videoId are required.");
    }
    let video = body["snippet"]["videoId"].as_str().unwrap_or_default().to_owned();
    if !state.posts.iter().any(|p| p.platform == "youtube" && p.id == video) {
        return google_error(404, "videoNotFound", "The video identified by the videoId parameter could not be found.");
    }
    let text = body["snippet"]["topLevelComment"]["snippet"]["textOriginal"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    match crate::sandbox::comment(state, "youtube", &video, &text) {
        crate::sandbox::Comment::Refused => google_error(
            403,
            "commentsDisabled",
            "The video identified by the videoId parameter has disabled comments.",
        ),
        crate::sandbox::Comment::Unanswered(answer) => answer,
        crate::sandbox::Comment::Made(id) => Some((
            200,
            json!({ "kind": "youtube#commentThread", "id": id,
                "snippet": { "videoId": video, "topLevelComment": { "id": id,
                    "snippet": { "textOriginal": text } } } }),
        )),
    }
}
