//! Instagram's Graph API content publishing (`docs/platforms.md`): the daily quota, a container
//! (harmless: invisible until published), its status until `FINISHED`, then
//! `media_publish`, the one call with an outside effect. Errors are
//! `{"error": {"message", "type", "code", "error_subcode", "is_transient"}}`.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::{
    Attempt, Connect, Measure, Named, Publish, Rules, Settling, Auth, Checked, Failure, FailureKind, MediaKind, Mode, Options, PlannedRequest,
    Platform, Post, PostMetrics, Refresh, Remote, Reply, Sent,
    TokenPolicy,
    platforms::meta::{self, ContainerApi, Containers},
    oauth,
    post::{
        self, CAPTION_MAX, INSTAGRAM_HASHTAGS_MAX, INSTAGRAM_MENTIONS_MAX, Problem, TextField,
        TextLimit,
    },
};

/// Instagram asks for containers to be polled for at most five minutes.
const CONTAINER_WAIT_MAX: Duration = Duration::from_secs(300);

/// Instagram's name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("instagram");

super::register!(PLATFORM, Instagram::new);

/// The permission reading a media's insights needs.
const METRICS_SCOPE: &str = "instagram_business_manage_insights";

const NOT_CONFIGURED: &str =
    "Instagram is not configured: set INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET";

pub struct Instagram {
    http: reqwest::Client,
    base: String,
    grant: oauth::CodeGrant,
    poll: Duration,
    wait: Duration,
}

impl Instagram {
    pub fn new(parts: &super::Parts) -> Self {
        let (http, settings) = (parts.clients.api.clone(), parts.settings);
        let grant = oauth::CodeGrant::new(
            http.clone(),
            "Instagram",
            &settings.instagram,
            NOT_CONFIGURED,
            "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_insights",
        )
        .account_field("user_id");
        Self {
            http,
            base: settings
                .instagram
                .api_base_url
                .trim_end_matches('/')
                .to_owned(),
            grant,
            poll: settings.check_interval,
            wait: settings.confirm_window.min(CONTAINER_WAIT_MAX),
        }
    }

    fn container_body(post: &Post) -> Value {
        let url = post.media_url.clone().unwrap_or_default();
        match post.media {
            MediaKind::Video => json!({
                "media_type": "REELS",
                "video_url": url,
                "caption": post.text,
                "share_to_feed": true,
            }),
            MediaKind::Photo => json!({ "image_url": url, "caption": post.text }),
        }
    }
}

/// Instagram's error, in our words, with `code/subcode` (`regain`: how long a rate limit
/// asks to wait, when its usage headers said).
fn refusal(error: &Value, regain: Option<Duration>) -> Failure {
    let code = error["code"].as_i64().unwrap_or(0);
    let subcode = error["error_subcode"].as_i64().unwrap_or(0);
    let transient = error["is_transient"].as_bool().unwrap_or(false);
    let theirs = error["message"].as_str().unwrap_or("").to_owned();
    let (kind, ours, reason) = match (code, subcode) {
        (_, 2207042) => {
            return Failure::retryable(
                "DAILY_QUOTA_EXHAUSTED",
                "the Instagram account reached its daily publishing limit; this post waits for a place",
            )
            .platform(format!("{code}/{subcode}"))
            .deferred(meta::QUOTA_WAIT);
        }
        (_, 2207051) => (
            FailureKind::Permanent,
            "SUSPECTED_SPAM",
            "Instagram held the post as suspected spam",
        ),
        (_, 2207050) => (
            FailureKind::Permanent,
            "ACCOUNT_RESTRICTED",
            "the Instagram account is restricted",
        ),
        (_, 2207003) | (_, 2207001) | (_, 2207020) | (_, 2207027) => (
            FailureKind::Retryable,
            "PLATFORM_UNAVAILABLE",
            "Instagram could not take the post now; retried later",
        ),
        (190, _) => (
            FailureKind::Auth,
            "CHANNEL_AUTH_INVALID",
            "Instagram refused the access token (expired or revoked)",
        ),
        (code, _) if crate::platforms::meta::RATE_LIMIT_CODES.contains(&code) => {
            let code = match subcode {
                0 => code.to_string(),
                subcode => format!("{code}/{subcode}"),
            };
            return crate::platforms::meta::rate_limited("Instagram", code, &theirs, regain);
        }
        (341, _) => (
            FailureKind::Retryable,
            "RATE_LIMITED",
            "Instagram's rate limit was reached; retried later",
        ),
        (10 | 200..=299, _) => (
            FailureKind::Permanent,
            "PERMISSION_DENIED",
            "the Instagram account did not grant the publishing permission; connect it again",
        ),
        _ if transient => (
            FailureKind::Retryable,
            "PLATFORM_UNAVAILABLE",
            "Instagram could not take the post now; retried later",
        ),
        _ => (
            FailureKind::Permanent,
            "PLATFORM_REFUSED",
            "Instagram refused the post",
        ),
    };
    let platform_code = if subcode != 0 {
        format!("{code}/{subcode}")
    } else {
        code.to_string()
    };
    let message = if theirs.is_empty() {
        format!("{reason} ({platform_code})")
    } else {
        format!("{reason}: {theirs} ({platform_code})")
    };
    Failure::new(kind, ours, message).platform(platform_code)
}

/// How Instagram names its containers and posts.
const CONTAINERS: ContainerApi = ContainerApi {
    label: "Instagram",
    version: "",
    grants: "ig",
    me: "user_id,username,name",
    create: "media",
    publish: "media_publish",
    status: "status_code",
    detail: "status",
    text: "caption",
};

#[async_trait]
impl Containers for Instagram {
    fn api(&self) -> &ContainerApi {
        &CONTAINERS
    }

    fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn base(&self) -> &str {
        &self.base
    }

    fn poll(&self) -> Duration {
        self.poll
    }

    fn wait(&self) -> Duration {
        self.wait
    }

    async fn call(&self, request: reqwest::RequestBuilder, token: &str) -> Reply {
        crate::platforms::meta::call(request, token, "Instagram", refusal).await
    }
}

impl Named for Instagram {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Instagram"
    }
}

#[async_trait]
impl Connect for Instagram {
    /// Long-lived tokens (60 days) are exchanged for new ones while valid, at least a day
    /// after they were issued, when a week is left; an expired one cannot be.
    fn token_policy(&self) -> TokenPolicy {
        TokenPolicy {
            refresh: Refresh::WhileValid,
            ahead: chrono::Duration::days(7),
            min_age: chrono::Duration::hours(24),
        }
    }

    fn code_grant(&self) -> Option<&oauth::CodeGrant> {
        Some(&self.grant)
    }

    async fn connected(&self, short: oauth::Tokens) -> Result<oauth::Tokens, Failure> {
        self.long_lived(&self.grant, short).await
    }

    async fn refresh(
        &self,
        access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<oauth::Tokens, Failure> {
        self.refresh_long_lived(access_token).await
    }
}

impl Rules for Instagram {
    fn profile(&self) -> crate::catalogue::Profile {
        crate::catalogue::Profile {
            color: "#c13584",
            author_kinds: &[],
            media_kinds: &[MediaKind::Photo, MediaKind::Video],
            media_formats: crate::catalogue::MediaFormats {
                photo: &["image/jpeg"],
                video: &["video/mp4"],
            },
            hashtags_max: Some(INSTAGRAM_HASHTAGS_MAX),
            mentions_max: Some(INSTAGRAM_MENTIONS_MAX),
            preview_chars: Some(125),
            // `content_publishing_limit`: 100 API-published posts in a moving day, read
            // before each publish (the figure read is the one that counts).
            quota: Some(crate::catalogue::Quota::read_daily(100)),
        }
    }

    fn text_limits(&self) -> Vec<TextLimit> {
        vec![TextLimit::chars(TextField::Text, CAPTION_MAX)]
    }

    fn validate(&self, post: &Post, options: &Options) -> Vec<Problem> {
        let mut problems = Vec::new();
        if options.mode == Mode::Draft {
            problems.push(Problem::new(
                "DRAFT_UNSUPPORTED",
                "mode",
                "Instagram has no drafts: publish it, or export it",
            ));
        }
        problems.extend(post::media_problem(post, "Instagram"));
        problems.extend(post::too_long(
            "caption",
            "the Instagram caption (caption, call to action and hashtags)",
            post.text_chars(),
            CAPTION_MAX,
        ));
        if post.hashtags() > INSTAGRAM_HASHTAGS_MAX {
            problems.push(Problem::new(
                "TOO_MANY_HASHTAGS",
                "hashtags",
                format!(
                    "the Instagram caption has {} hashtags; the limit is {INSTAGRAM_HASHTAGS_MAX}",
                    post.hashtags()
                ),
            ));
        }
        if post.mentions() > INSTAGRAM_MENTIONS_MAX {
            problems.push(Problem::new(
                "TOO_MANY_MENTIONS",
                "caption",
                format!(
                    "the Instagram caption has {} mentions; the limit is {INSTAGRAM_MENTIONS_MAX}",
                    post.mentions()
                ),
            ));
        }
        problems
    }

    fn plan(&self, account_id: &str, post: &Post, _options: &Options) -> Vec<PlannedRequest> {
        let request = |method: &str, url: String, body: Value, effect: &str| PlannedRequest {
            method: method.into(),
            url,
            headers: Value::Null,
            body,
            effect: effect.into(),
        };
        vec![
            request(
                "GET",
                format!(
                    "{}?fields=quota_usage,config&access_token=***",
                    self.url(&format!("{account_id}/content_publishing_limit"))
                ),
                Value::Null,
                "read-only",
            ),
            request(
                "POST",
                format!(
                    "{}?access_token=***",
                    self.url(&format!("{account_id}/media"))
                ),
                Self::container_body(post),
                "harmless",
            ),
            request(
                "GET",
                format!(
                    "{}?fields=status_code,status&access_token=***",
                    self.url("<container_id>")
                ),
                Value::Null,
                "read-only",
            ),
            request(
                "POST",
                format!(
                    "{}?creation_id=<container_id>&access_token=***",
                    self.url(&format!("{account_id}/media_publish"))
                ),
                Value::Null,
                "publishes",
            ),
        ]
    }
}

#[async_trait]
impl Publish for Instagram {
    /// Instagram's own word for it: the content publishing limit (posts per 24 hours).
    fn quota_spent(&self) -> Failure {
        Failure::permanent(
            "DAILY_QUOTA_EXHAUSTED",
            "the Instagram account's remaining daily quota is spent by the entries before this one",
        )
        .platform("content_publishing_limit")
    }

    async fn check(&self, at: Attempt<'_>) -> Result<Checked, Failure> {
        let Attempt { auth, options, .. } = at;
        let path = format!("{}/content_publishing_limit", auth.account_id);
        let body = match self
            .get(&path, &[("fields", "quota_usage,config")], auth)
            .await
        {
            Reply::Ok(body) => body,
            Reply::Refused(failure) => return Err(failure),
            Reply::Lost(reason, _) => return Err(self.unavailable("publishing quota", &reason)),
        };
        // The total has been 25, 50 and 100 in different pages: read it.
        let left = meta::quota_left("Instagram", "content_publishing_limit", &body)?;
        Ok(Checked {
            options: options.clone(),
            remaining: Some(left),
        })
    }

    async fn prepare(&self, at: Attempt<'_>) -> Result<Option<String>, Failure> {
        let Attempt { auth, post, .. } = at;
        self.container(auth, &Self::container_body(post))
            .await
            .map(Some)
    }

    async fn send(&self, at: Attempt<'_>, prepared: Option<&str>) -> Sent {
        let Attempt { auth, .. } = at;
        self.publish(auth, prepared).await
    }

    /// The media's permalink (`https://www.instagram.com/p/<shortcode>/`).
    async fn post_url(&self, auth: &Auth, post_id: &str) -> Option<String> {
        self.permalink(auth, post_id).await
    }

    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote {
        let Settling { remote_id, post, .. } = sent;
        self.confirm_container(auth, remote_id, &post.text).await
    }
}

#[async_trait]
impl Measure for Instagram {
    fn metrics_scope(&self) -> Option<&'static str> {
        Some(METRICS_SCOPE)
    }

    /// The media's insights: views, reach, likes, comments, shares and saves.
    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure> {
        let metrics = "views,reach,likes,comments,shares,saved";
        let Some(counts) = self.insights(auth, post_id, metrics, METRICS_SCOPE).await? else {
            return Ok(None);
        };
        let n = |name: &str| counts.get(name).copied();
        Ok(Some(PostMetrics {
            reading: almanac_shared::domain::analytics::Reading {
                views: n("views"),
                likes: n("likes"),
                comments: n("comments"),
                shares: n("shares"),
                saves: n("saved"),
                ..Default::default()
            },
            reach: n("reach"),
            followers: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_code_and_subcode() {
        let quota = refusal(
            &json!({"code": 9, "error_subcode": 2207042, "message": "limit"}),
            None,
        );
        assert_eq!(quota.code, "DAILY_QUOTA_EXHAUSTED");
        assert_eq!(quota.platform_code.as_deref(), Some("9/2207042"));
        // A full quota waits for a place: deferred, never failed.
        assert_eq!(quota.kind, FailureKind::Retryable);
        assert_eq!(quota.retry_after, Some(meta::QUOTA_WAIT));
        let expired = refusal(
            &json!({"code": 190, "message": "Error validating access token"}),
            None,
        );
        assert_eq!(expired.kind, FailureKind::Auth);
        assert_eq!(
            expired.message,
            "Instagram refused the access token (expired or revoked): Error validating access token (190)"
        );
        let limited = refusal(&json!({"code": 4}), None);
        assert_eq!(limited.kind, FailureKind::Retryable);
        assert!(
            limited.retry_after.is_some(),
            "a rate limit waits, not fails"
        );
        assert_eq!(
            refusal(&json!({"code": -2, "error_subcode": 2207003}), None).kind,
            FailureKind::Retryable
        );
    }
}
