//! TikTok's Content Posting API v2 (`docs/platforms.md`): creator info, direct post or inbox
//! draft pulled from a URL (videos and photos), and status polling. Every answer is
//! `{"data": {...}, "error": {"code": "ok" | "<code>", "message", "log_id"}}`.

use async_trait::async_trait;
use serde_json::{Value, json};

use almanac_shared::domain::analytics::Reading;

use crate::{
    Attempt, Connect, Measure, Named, Publish, Rules, Settling, Auth, Checked, Failure, FailureKind, MediaKind, Mode, Options, PRIVACY_LEVELS,
    PlannedRequest, Platform, Post, PostMetrics,
    Remote, Reply, Sent, count, http, metrics_refusal, oauth,
    post::{
        self, CAPTION_MAX, PHOTO_DESCRIPTION_MAX, PHOTO_TITLE_MAX, Problem, TextField, TextLimit,
    },
};

const CREATOR_INFO: &str = "/v2/post/publish/creator_info/query/";
const VIDEO_INIT: &str = "/v2/post/publish/video/init/";
const INBOX_VIDEO_INIT: &str = "/v2/post/publish/inbox/video/init/";
const CONTENT_INIT: &str = "/v2/post/publish/content/init/";
const STATUS_FETCH: &str = "/v2/post/publish/status/fetch/";
/// A creator's videos by id, with their counts (scope `video.list`).
const VIDEO_QUERY: &str =
    "/v2/video/query/?fields=id,view_count,like_count,comment_count,share_count";
/// The scope reading a video's counts needs.
const METRICS_SCOPE: &str = "video.list";

/// TikTok's name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("tiktok");

super::register!(PLATFORM, TikTok::new);

/// TikTok's own settings: `TIKTOK_API_BASE_URL`, `TIKTOK_AUTHORIZE_URL`,
/// `TIKTOK_TOKEN_URL`, and its app's credentials (its token endpoint under its API base).
pub(crate) const HOSTS: super::Hosts = super::Hosts {
    name: "tiktok",
    credentials: ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"),
    real: [
        "https://open.tiktokapis.com",
        "https://www.tiktok.com/v2/auth/authorize/",
        "",
    ],
    token_path: "/v2/oauth/token/",
};

const NOT_CONFIGURED: &str =
    "TikTok is not configured: set TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET";

pub struct TikTok {
    api: super::OauthApi,
}

impl TikTok {
    pub fn new(parts: &super::Parts) -> anyhow::Result<Self> {
        // Access tokens last a day; the refresh token (a year) rotates and gets new ones,
        // also after the access token expired: refreshed five minutes before it does.
        let scope = "user.info.basic,video.publish,video.upload,video.list";
        let api = HOSTS.oauth(parts, "TikTok", NOT_CONFIGURED, scope, |grant| {
            grant.client_field("client_key").pkce().account_field("open_id")
        })?;
        Ok(Self { api })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.base)
    }

    /// The init call's path and body (the privacy level as chosen or the default).
    fn init(&self, post: &Post, options: &Options, privacy: &str) -> (&'static str, Value) {
        let url = post.media_url.clone().unwrap_or_default();
        match (post.media, options.mode) {
            (MediaKind::Video, Mode::Publish) => (
                VIDEO_INIT,
                json!({
                    "post_info": {
                        "title": post.text,
                        "privacy_level": privacy,
                        "disable_comment": false,
                        "disable_duet": false,
                        "disable_stitch": false,
                        "video_cover_timestamp_ms": 1000,
                    },
                    "source_info": { "source": "PULL_FROM_URL", "video_url": url },
                }),
            ),
            (MediaKind::Video, Mode::Draft) => (
                INBOX_VIDEO_INIT,
                json!({ "source_info": { "source": "PULL_FROM_URL", "video_url": url } }),
            ),
            (MediaKind::Photo, mode) => {
                let mut post_info = json!({
                    "title": post.title,
                    "description": post.text,
                    "disable_comment": false,
                    "auto_add_music": true,
                });
                if mode == Mode::Publish {
                    post_info["privacy_level"] = Value::from(privacy);
                }
                (
                    CONTENT_INIT,
                    json!({
                        "media_type": "PHOTO",
                        "post_mode": if mode == Mode::Publish { "DIRECT_POST" } else { "MEDIA_UPLOAD" },
                        "post_info": post_info,
                        "source_info": {
                            "source": "PULL_FROM_URL",
                            "photo_images": post.media_urls(),
                            "photo_cover_index": 0,
                        },
                    }),
                )
            }
        }
    }

    async fn call(&self, auth: &Auth, path: &str, body: Option<&Value>) -> Reply {
        let mut request = self
            .api.http
            .post(self.url(path))
            .bearer_auth(&auth.access_token)
            .header("content-type", "application/json; charset=UTF-8");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let answered = match http::exchange("TikTok", request).await {
            Ok(answered) => answered,
            Err(reply) => return reply,
        };
        let (status, body) = (answered.status, answered.body);
        if !answered.json {
            return Reply::Lost(
                format!("TikTok answered {status} without a readable body"),
                false,
            );
        }
        let code = body["error"]["code"].as_str().unwrap_or("").to_owned();
        if (200..300).contains(&status) && (code == "ok" || code.is_empty()) {
            return Reply::Ok(body["data"].clone());
        }
        if status >= 500 || code == "internal_error" {
            return Reply::Lost(format!("TikTok answered {status} ({code})"), false);
        }
        let message = body["error"]["message"].as_str().unwrap_or("").to_owned();
        Reply::Refused(refusal(status, &code, &message))
    }

    /// The creator's privacy options.
    async fn privacy_options(&self, auth: &Auth) -> Result<Vec<String>, Failure> {
        let data = self
            .call(auth, CREATOR_INFO, None)
            .await
            .read("TikTok", "creator info")?;
        Ok(data["privacy_level_options"]
            .as_array()
            .map(|options| {
                options
                    .iter()
                    .filter_map(|o| o.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The privacy level to post with: the chosen one if the creator allows it, else the
    /// most public the creator allows.
    fn privacy(options: &Options, allowed: &[String]) -> Result<String, Failure> {
        match &options.privacy_level {
            Some(level) if allowed.iter().any(|a| a == level) => Ok(level.clone()),
            Some(level) => Err(Failure::permanent(
                "PRIVACY_LEVEL_NOT_ALLOWED",
                format!(
                    "TikTok does not allow privacy level {level} for this creator; allowed: {}",
                    allowed.join(", ")
                ),
            )
            .platform("privacy_level_option_mismatch")),
            None => PRIVACY_LEVELS
                .iter()
                .find(|level| allowed.iter().any(|a| a == *level))
                .map(|level| level.to_string())
                .ok_or_else(|| {
                    Failure::permanent(
                        "PRIVACY_LEVEL_NOT_ALLOWED",
                        "TikTok lists no privacy level this creator may post with",
                    )
                    .platform("privacy_level_option_mismatch")
                }),
        }
    }
}

/// TikTok's refusal, in our words, with TikTok's code.
fn refusal(status: u16, code: &str, message: &str) -> Failure {
    let (kind, ours, reason) = match code {
        "access_token_invalid" => (
            FailureKind::Auth,
            "CHANNEL_AUTH_INVALID",
            "TikTok refused the access token",
        ),
        "scope_not_authorized" => (
            FailureKind::Permanent,
            "SCOPE_NOT_AUTHORIZED",
            "the TikTok account did not grant the publishing scope; connect it again",
        ),
        "rate_limit_exceeded" => (
            FailureKind::Retryable,
            "RATE_LIMITED",
            "TikTok's rate limit was reached; retried later",
        ),
        "spam_risk_too_many_posts" => (
            FailureKind::Permanent,
            "POST_LIMIT_REACHED",
            "the TikTok account reached its daily post limit",
        ),
        "spam_risk_too_many_pending_share" => (
            FailureKind::Retryable,
            "DAILY_QUOTA_EXHAUSTED",
            "the TikTok account holds the most drafts waiting in its inbox TikTok allows (5 in 24 hours); this one waits for a place",
        ),
        "spam_risk_user_banned_from_posting" => (
            FailureKind::Permanent,
            "ACCOUNT_BANNED_FROM_POSTING",
            "TikTok banned this account from posting",
        ),
        "unaudited_client_can_only_post_to_private_accounts" => (
            FailureKind::Permanent,
            "APP_NOT_AUDITED",
            "this TikTok app is not audited: it may only post with privacy level SELF_ONLY",
        ),
        "url_ownership_unverified" => (
            FailureKind::Permanent,
            "MEDIA_URL_UNVERIFIED",
            "TikTok has not verified the media URL's domain for this app",
        ),
        "privacy_level_option_mismatch" => (
            FailureKind::Permanent,
            "PRIVACY_LEVEL_NOT_ALLOWED",
            "TikTok does not allow this privacy level for the creator",
        ),
        "reached_active_user_cap" => (
            FailureKind::Retryable,
            "RATE_LIMITED",
            "TikTok's daily active-user cap for this app was reached",
        ),
        "invalid_params" => (
            FailureKind::Permanent,
            "INVALID_REQUEST",
            "TikTok refused the request's parameters",
        ),
        _ if status == 401 => (
            FailureKind::Auth,
            "CHANNEL_AUTH_INVALID",
            "TikTok refused the access token",
        ),
        _ if status == 429 => (
            FailureKind::Retryable,
            "RATE_LIMITED",
            "TikTok's rate limit was reached; retried later",
        ),
        _ => (
            FailureKind::Permanent,
            "PLATFORM_REFUSED",
            "TikTok refused the post",
        ),
    };
    let message = if message.is_empty() {
        format!("{reason} ({code})")
    } else {
        format!("{reason}: {message} ({code})")
    };
    let failure = Failure::new(kind, ours, message).platform(if code.is_empty() {
        status.to_string()
    } else {
        code.to_owned()
    });
    if code == "spam_risk_too_many_pending_share" {
        // Drafts sent by other apps count too: an hour, then the count is asked again.
        return failure.deferred(std::time::Duration::from_secs(3600));
    }
    failure
}

/// A `FAILED` status's `fail_reason`, in our words.
fn failed(reason: &str) -> Failure {
    let (code, text) = match reason {
        "spam_risk_too_many_posts" => (
            "POST_LIMIT_REACHED",
            "the TikTok account reached its daily post limit",
        ),
        "video_pull_failed" | "photo_pull_failed" => (
            "MEDIA_PULL_FAILED",
            "TikTok could not download the media from its URL",
        ),
        "auth_removed" => (
            "CHANNEL_AUTH_INVALID",
            "the creator removed this app's access on TikTok",
        ),
        "spam_risk_user_banned_from_posting" => (
            "ACCOUNT_BANNED_FROM_POSTING",
            "TikTok banned this account from posting",
        ),
        _ => ("PLATFORM_FAILED", "TikTok failed the post"),
    };
    Failure::permanent(code, format!("{text} ({reason})")).platform(reason)
}

fn masked() -> Value {
    json!({ "Authorization": "Bearer ***", "Content-Type": "application/json; charset=UTF-8" })
}

impl Named for TikTok {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "TikTok"
    }
}

#[async_trait]
impl Connect for TikTok {
    fn code_grant(&self) -> Option<&oauth::CodeGrant> {
        Some(&self.api.grant)
    }

    /// Who connected, as people know them: the creator's username and nickname (a
    /// read-only call; the account connects without them if it fails).
    async fn connected(&self, mut tokens: oauth::Tokens) -> Result<oauth::Tokens, Failure> {
        if let Some(auth) = tokens.auth()
            && let Reply::Ok(data) = self.call(&auth, CREATOR_INFO, None).await
        {
            tokens.handle = oauth::name(&data["creator_username"]);
            tokens.display_name = oauth::name(&data["creator_nickname"]);
        }
        Ok(tokens)
    }
}

impl Rules for TikTok {
    fn profile(&self) -> crate::catalogue::Profile {
        crate::catalogue::Profile {
            color: "#111111",
            author_kinds: &[],
            media_kinds: &[MediaKind::Video, MediaKind::Photo],
            media_formats: crate::catalogue::MediaFormats {
                photo: &["image/jpeg", "image/webp"],
                video: &["video/mp4"],
            },
            hashtags_max: None,
            mentions_max: None,
            preview_chars: Some(150),
            // The Content Posting API's pending shares: at most 5 drafts sent to a creator's
            // inbox in 24 hours and not yet posted from it (`spam_risk_too_many_pending_share`).
            // Direct posts have a daily cap TikTok does not state; its refusal is deferred.
            quota: Some(crate::catalogue::Quota::counted_daily(5).of_drafts()),
            // Photo posts: up to 35 photos, never with a video; no comment by API.
            carousel: Some(crate::catalogue::Carousel::of(35, false)),
            first_comment: false,
            video: Some(crate::catalogue::VideoLimits::of(3, 600, None)),
        }
    }

    fn text_limits(&self) -> Vec<TextLimit> {
        vec![
            TextLimit::chars(TextField::Text, CAPTION_MAX).on(MediaKind::Video),
            TextLimit::chars(TextField::Title, PHOTO_TITLE_MAX).on(MediaKind::Photo),
            TextLimit::chars(TextField::Description, PHOTO_DESCRIPTION_MAX).on(MediaKind::Photo),
        ]
    }

    fn validate(&self, post: &Post, options: &Options) -> Vec<Problem> {
        let mut problems: Vec<Problem> = post::media_problem(post, "TikTok").into_iter().collect();
        match post.media {
            MediaKind::Video => problems.extend(post::too_long(
                "caption",
                "the TikTok caption (caption, call to action and hashtags)",
                post.text_chars(),
                CAPTION_MAX,
            )),
            MediaKind::Photo => {
                problems.extend(post::too_long(
                    "title",
                    "a TikTok photo post's title",
                    post.title.chars().count(),
                    PHOTO_TITLE_MAX,
                ));
                problems.extend(post::too_long(
                    "caption",
                    "the TikTok photo description (caption, call to action and hashtags)",
                    post.text_chars(),
                    PHOTO_DESCRIPTION_MAX,
                ));
            }
        }
        if let Some(level) = &options.privacy_level
            && !PRIVACY_LEVELS.contains(&level.as_str())
        {
            problems.push(Problem::new(
                "PRIVACY_LEVEL_NOT_ALLOWED",
                "privacyLevel",
                format!("`{level}` is not a TikTok privacy level"),
            ));
        }
        problems
    }

    fn plan(&self, _account_id: &str, post: &Post, options: &Options) -> Vec<PlannedRequest> {
        let privacy = options
            .privacy_level
            .clone()
            .unwrap_or_else(|| "<most public of the creator's options>".into());
        let (path, body) = self.init(post, options, &privacy);
        let request = |path: &str, body: Value, effect: &str| PlannedRequest {
            method: "POST".into(),
            url: self.url(path),
            headers: masked(),
            body,
            effect: effect.into(),
        };
        vec![
            request(CREATOR_INFO, Value::Null, "read-only"),
            request(path, body, "publishes"),
            request(
                STATUS_FETCH,
                json!({ "publish_id": "<publish_id>" }),
                "read-only",
            ),
        ]
    }
}

#[async_trait]
impl Publish for TikTok {
    /// Access tokens live hours and are refreshed 5 minutes ahead with the (rotating)
    /// refresh token, which lives months.
    async fn post_url(&self, auth: &Auth, post_id: &str) -> Option<String> {
        // A video's address names its creator: the creator info says who that is.
        let Reply::Ok(data) = self.call(auth, CREATOR_INFO, None).await else {
            return None;
        };
        let handle = data["creator_username"].as_str()?;
        let valid = !handle.is_empty()
            && handle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            && !post_id.is_empty()
            && post_id.chars().all(|c| c.is_ascii_digit());
        valid.then(|| format!("https://www.tiktok.com/@{handle}/video/{post_id}"))
    }

    async fn check(&self, at: Attempt<'_>) -> Result<Checked, Failure> {
        let Attempt { auth, options, .. } = at;
        let allowed = self.privacy_options(auth).await?;
        let mut resolved = options.clone();
        if options.mode == Mode::Publish {
            resolved.privacy_level = Some(Self::privacy(options, &allowed)?);
        }
        Ok(Checked {
            options: resolved,
            remaining: None,
        })
    }


    async fn send(&self, at: Attempt<'_>, _prepared: Option<&str>) -> Sent {
        let Attempt { auth, post, options } = at;
        // The privacy level is read again right before the post: the creator's options may
        // have changed since the dry run.
        let privacy = match self.privacy_options(auth).await {
            Ok(allowed) if options.mode == Mode::Publish => {
                match Self::privacy(options, &allowed) {
                    Ok(level) => level,
                    Err(failure) => return Sent::NotApplied(failure),
                }
            }
            Ok(_) => String::new(),
            Err(failure) => return Sent::NotApplied(failure),
        };
        let (path, body) = self.init(post, options, &privacy);
        let reply = self.call(auth, path, Some(&body)).await;
        reply.sent(|data| match data["publish_id"].as_str() {
            Some(id) => Sent::Accepted {
                remote_id: id.to_owned(),
                post_id: None,
            },
            None => Sent::Unknown("TikTok accepted the post without a publish_id".into()),
        })
    }

    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote {
        let Settling { remote_id, .. } = sent;
        let Some(publish_id) = remote_id else {
            return Remote::Pending(
                "TikTok's answer to the post was lost, so there is no publish_id to check".into(),
            );
        };
        let body = json!({ "publish_id": publish_id });
        match self.call(auth, STATUS_FETCH, Some(&body)).await {
            Reply::Ok(data) => match data["status"].as_str().unwrap_or("") {
                "PUBLISH_COMPLETE" => Remote::Published {
                    post_id: data["publicaly_available_post_id"]
                        .as_array()
                        .and_then(|ids| ids.first())
                        .map(|id| match id {
                            Value::String(s) => s.clone(),
                            other => other.to_string(),
                        }),
                },
                "SEND_TO_USER_INBOX" => Remote::DraftSent,
                "FAILED" => Remote::Failed(failed(data["fail_reason"].as_str().unwrap_or(""))),
                other => Remote::Pending(format!("TikTok is still processing the post ({other})")),
            },
            Reply::Refused(failure) => Remote::Pending(failure.message),
            Reply::Lost(reason, _) => Remote::Pending(reason),
        }
    }
}

#[async_trait]
impl Measure for TikTok {
    fn metrics_scope(&self) -> Option<&'static str> {
        Some(METRICS_SCOPE)
    }

    /// The video's views, likes, comments and shares (`/v2/video/query/`); no video in
    /// the answer is an empty reading.
    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure> {
        let body = json!({ "filters": { "video_ids": [post_id] } });
        let data = self
            .call(auth, VIDEO_QUERY, Some(&body))
            .await
            .read("TikTok", "video counts")
            .map_err(|f| metrics_refusal(f, "TikTok", METRICS_SCOPE))?;
        let Some(video) = data["videos"].as_array().and_then(|v| v.first()) else {
            return Ok(None);
        };
        Ok(Some(PostMetrics {
            reading: Reading {
                views: count(&video["view_count"]),
                likes: count(&video["like_count"]),
                comments: count(&video["comment_count"]),
                shares: count(&video["share_count"]),
                ..Reading::default()
            },
            ..PostMetrics::default()
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_privacy_level_is_the_chosen_one_or_the_most_public_allowed() {
        let allowed = vec!["FOLLOWER_OF_CREATOR".to_owned(), "SELF_ONLY".to_owned()];
        let chosen = |level: Option<&str>| Options {
            mode: Mode::Publish,
            privacy_level: level.map(str::to_owned),
        };
        assert_eq!(
            TikTok::privacy(&chosen(None), &allowed).unwrap(),
            "FOLLOWER_OF_CREATOR"
        );
        assert_eq!(
            TikTok::privacy(&chosen(Some("SELF_ONLY")), &allowed).unwrap(),
            "SELF_ONLY"
        );
        let refused = TikTok::privacy(&chosen(Some("PUBLIC_TO_EVERYONE")), &allowed).unwrap_err();
        assert_eq!(refused.code, "PRIVACY_LEVEL_NOT_ALLOWED");
        assert_eq!(
            refused.platform_code.as_deref(),
            Some("privacy_level_option_mismatch")
        );
    }

    #[test]
    fn refusals_keep_tiktoks_code_and_say_why() {
        let f = refusal(403, "spam_risk_too_many_posts", "");
        assert_eq!(f.kind, FailureKind::Permanent);
        assert_eq!(f.code, "POST_LIMIT_REACHED");
        assert_eq!(
            f.message,
            "the TikTok account reached its daily post limit (spam_risk_too_many_posts)"
        );
        assert_eq!(refusal(401, "", "").kind, FailureKind::Auth);
        assert_eq!(
            refusal(429, "rate_limit_exceeded", "slow down").kind,
            FailureKind::Retryable
        );
        assert_eq!(failed("video_pull_failed").code, "MEDIA_PULL_FAILED");
    }
}
