//! TikTok's Content Posting API and token endpoint, as `docs/platforms.md` describes them.

use serde_json::{Value, json};

use crate::sandbox::{Answer, Call, Posted, State, TIKTOK_OPEN_ID, TikTokOutcome};

/// The most photos a photo post takes.
const PHOTOS_MAX: usize = 35;

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

pub(crate) fn route(state: &mut State, call: &Call) -> Answer {
    if call.path == "/v2/oauth/token/" {
        return tiktok_token(state, call);
    }
    if !state.accepts(call.bearer()) {
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
            let inbox = call.path.contains("/inbox/") || body["post_mode"] == "MEDIA_UPLOAD";
            if inbox && state.tiktok_pending >= state.tiktok_pending_max {
                return tiktok_error(
                    403,
                    "spam_risk_too_many_pending_share",
                    "The user has too many pending shares.",
                );
            }
            if inbox {
                state.tiktok_pending += 1;
            }
            let media = init_media(&body);
            if media.len() > PHOTOS_MAX {
                return tiktok_error(400, "invalid_params", "photo_images holds more than 35 images");
            }
            let id = format!("v_pub_{}", state.posts.len() + 1);
            state.posts.push(Posted {
                platform: "tiktok",
                id: id.clone(),
                body,
                media,
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
        "/v2/video/query/" => {
            if state.metrics.denied {
                return tiktok_error(
                    403,
                    "scope_not_authorized",
                    "The user did not authorize the scope required for completing this request.",
                );
            }
            let id = body["filters"]["video_ids"][0].as_str().unwrap_or("");
            let videos: Vec<Value> = state
                .read_metrics(id)
                .map(|n| {
                    json!({ "id": id, "view_count": n.views, "like_count": n.likes,
                        "comment_count": n.comments, "share_count": n.shares })
                })
                .into_iter()
                .collect();
            tiktok_ok(json!({ "videos": videos, "cursor": 0, "has_more": false }))
        }
        _ => tiktok_error(404, "invalid_params", "no such endpoint"),
    }
}

/// The scopes the fake creator grants (those Almanac's connect asks for).
const GRANTED: &str = "user.info.basic,video.publish,video.upload,video.list";

fn tiktok_token(state: &mut State, call: &Call) -> Answer {
    let refuse = |description: &str| {
        Some((
            400,
            json!({ "error": "invalid_grant", "error_description": description, "log_id": "log-2" }),
        ))
    };
    let scope = match call.query.get("grant_type").map(String::as_str) {
        Some("refresh_token") => {
            let old = call.query.get("refresh_token").cloned().unwrap_or_default();
            let known = state.refresh_tokens.remove(&old) || state.accepts_refresh(&old);
            if state.refuse_refresh || !known {
                return refuse("Refresh token is invalid or expired.");
            }
            GRANTED
        }
        Some("authorization_code") => {
            if call.query.get("code").map(String::as_str) != Some("good-code")
                || call.query.get("code_verifier").is_none_or(|v| v.len() < 43)
            {
                return refuse("Authorization code is invalid.");
            }
            GRANTED
        }
        _ => return refuse("unsupported grant"),
    };
    // A new pair; the refresh token used (if any) no longer works.
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
            "refresh_expires_in": 31536000, "open_id": TIKTOK_OPEN_ID, "scope": scope,
            "token_type": "Bearer" }),
    ))
}

/// The media an init call names, in order: its video's address, or its photos'.
pub fn init_media(body: &Value) -> Vec<String> {
    let info = &body["source_info"];
    let photos = info["photo_images"].as_array().into_iter().flatten();
    info["video_url"]
        .as_str()
        .into_iter()
        .chain(photos.filter_map(Value::as_str))
        .map(str::to_owned)
        .collect()
}
