//! Testnet: a platform that exists only in builds with the `sandbox` feature, and only where
//! `TESTNET_ENABLED=true` turns it on (the tests; a developer under `make run`). It is what
//! adding a platform takes, whole (`docs/architecture.md`, section 11): this folder (its
//! adapter's four capabilities, its own settings, its fake) and its line in `registry!`.
//! No other file names it: the API checks a `{platform}` against the registry, the web app
//! reads the list from `/app/config.json`, the sandbox routes `/testnet/...` to its fake.
//!
//! Its API: an OAuth code grant with PKCE whose token answer names the channel
//! (`channel_id`); a channel read (`GET /v1/channels/{id}`) before publishing; one video
//! published by address (`POST /v1/videos`, the request with an outside effect), read back
//! (`GET /v1/videos/{id}`: `live`, `processing` or `failed`) and measured
//! (`GET /v1/videos/{id}/stats`). Errors are `{"error": {"code", "message"}}`.

use async_trait::async_trait;
use serde_json::{Value, json};

use almanac_shared::domain::analytics::Reading;

use crate::{
    Attempt, Auth, Checked, Connect, Failure, Measure, MediaKind, Named, Options, PlannedRequest,
    Platform, Post, PostMetrics, Publish, Remote, Reply, Rules, Sent, Settling,
    TokenPolicy,
    catalogue::{MediaFormats, Profile},
    count, http, oauth,
    post::{self, Problem, TextField, TextLimit},
};

/// Testnet's name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("testnet");

super::register!(PLATFORM, Testnet::new, Testnet::enabled);

/// Testnet's own settings: `TESTNET_API_BASE_URL`, `TESTNET_AUTHORIZE_URL`,
/// `TESTNET_TOKEN_URL`, and its app's credentials.
pub(crate) const HOSTS: super::Hosts = super::Hosts {
    name: "testnet",
    credentials: ("TESTNET_CLIENT_ID", "TESTNET_CLIENT_SECRET"),
    real: [
        "https://api.testnet.invalid",
        "https://accounts.testnet.invalid/authorize",
        "https://accounts.testnet.invalid/token",
    ],
    token_path: "",
};

/// The most characters a post's text may have.
pub const TEXT_MAX: usize = 280;
/// The most hashtags a post may carry.
pub const HASHTAGS_MAX: usize = 5;
/// The colour its posts are marked with.
pub const COLOR: &str = "#2a9d8f";
/// What connecting asks for.
const SCOPE: &str = "testnet.upload testnet.read";

const NOT_CONFIGURED: &str =
    "Testnet is not configured: set TESTNET_CLIENT_ID and TESTNET_CLIENT_SECRET";

pub struct Testnet {
    api: super::OauthApi,
}

impl Testnet {
    pub fn new(parts: &super::Parts) -> anyhow::Result<Self> {
        // Access tokens last an hour; the rotating refresh token gets new ones ten minutes
        // before.
        let api = HOSTS.oauth(parts, "Testnet", NOT_CONFIGURED, SCOPE, |grant| {
            grant
                .pkce()
                .account_field("channel_id")
                .policy(TokenPolicy::rotating(chrono::Duration::minutes(10)))
        })?;
        Ok(Self { api })
    }

    /// `TESTNET_ENABLED=true` turns it on; it is off unless asked.
    fn enabled(parts: &super::Parts) -> anyhow::Result<bool> {
        parts.settings.vars.parse_or("TESTNET_ENABLED", false)
    }

    /// One call to Testnet's API with the channel's token: its answer, or its refusal.
    async fn call(&self, auth: &Auth, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self
            .api.http
            .request(method, format!("{}{path}", self.api.base))
            .bearer_auth(&auth.access_token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        http::call("Testnet", request, |answered| {
            let error = &answered.body["error"];
            let code = error["code"].as_str().unwrap_or("unknown");
            let message = error["message"].as_str().unwrap_or("no reason given");
            let failure = match answered.status {
                401 => Failure::new(
                    crate::FailureKind::Auth,
                    "CHANNEL_AUTH_INVALID",
                    format!("Testnet refused the channel's token ({message}); connect it again"),
                ),
                429 => Failure::retryable("RATE_LIMITED", format!("Testnet: {message}")),
                _ => Failure::permanent("PLATFORM_REFUSED", format!("Testnet refused: {message}")),
            };
            failure.platform(code)
        })
        .await
    }

    /// What a publish of `post` sends.
    fn upload(account_id: &str, post: &Post) -> Value {
        json!({
            "channelId": account_id,
            "title": post.title,
            "text": post.text,
            "videoUrl": post.media_url,
        })
    }
}

impl Named for Testnet {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Testnet"
    }
}

#[async_trait]
impl Connect for Testnet {
    fn code_grant(&self) -> Option<&oauth::CodeGrant> {
        Some(&self.api.grant)
    }

}

impl Rules for Testnet {
    fn text_limits(&self) -> Vec<TextLimit> {
        vec![TextLimit::chars(TextField::Text, TEXT_MAX)]
    }

    fn profile(&self) -> Profile {
        Profile {
            color: COLOR,
            author_kinds: &[],
            media_kinds: &[MediaKind::Video],
            media_formats: MediaFormats {
                photo: &[],
                video: &["video/mp4"],
            },
            hashtags_max: Some(HASHTAGS_MAX),
            mentions_max: None,
            preview_chars: None,
            quota: None,
            carousel: None,
            first_comment: false,
            video: None,
        }
    }

    fn validate(&self, post: &Post, _options: &Options) -> Vec<Problem> {
        let video = (post.media != MediaKind::Video).then(|| {
            let why = "Testnet publishes videos: make this entry a video";
            Problem::new("MEDIA_UNSUPPORTED", "format", why)
        });
        let hashtags = (post.hashtags() > HASHTAGS_MAX).then(|| {
            let why = format!("a Testnet post carries {HASHTAGS_MAX} hashtags at most");
            Problem::new("TOO_MANY_HASHTAGS", "hashtags", why)
        });
        let what = "the Testnet post (caption, call to action and hashtags)";
        let long = post::too_long("caption", what, post.text_chars(), TEXT_MAX);
        [video, long, hashtags].into_iter().flatten().collect()
    }

    fn plan(&self, account_id: &str, post: &Post, _options: &Options) -> Vec<PlannedRequest> {
        let bearer = json!({ "Authorization": "Bearer ***" });
        vec![
            PlannedRequest {
                method: "GET".into(),
                url: format!("{}/v1/channels/{account_id}", self.api.base),
                headers: bearer.clone(),
                body: Value::Null,
                effect: "read-only".into(),
            },
            PlannedRequest {
                method: "POST".into(),
                url: format!("{}/v1/videos", self.api.base),
                headers: bearer,
                body: Self::upload(account_id, post),
                effect: "publishes".into(),
            },
        ]
    }
}

#[async_trait]
impl Publish for Testnet {
    /// The channel is read: it must still be the account's and take uploads.
    async fn check(&self, at: Attempt<'_>) -> Result<Checked, Failure> {
        let path = format!("/v1/channels/{}", at.auth.account_id);
        let channel = self
            .call(at.auth, reqwest::Method::GET, &path, None)
            .await
            .read("Testnet", "channel")?;
        if channel["uploads"] != true {
            return Err(Failure::permanent(
                "PLATFORM_REFUSED",
                "this Testnet channel does not take uploads",
            ));
        }
        Ok(Checked {
            options: at.options.clone(),
            remaining: None,
        })
    }

    async fn send(&self, at: Attempt<'_>, _prepared: Option<&str>) -> Sent {
        let body = Self::upload(&at.auth.account_id, at.post);
        let reply = self
            .call(at.auth, reqwest::Method::POST, "/v1/videos", Some(body))
            .await;
        reply.sent(|video| match video["id"].as_str() {
            Some(id) => Sent::Accepted {
                remote_id: id.to_owned(),
                post_id: Some(id.to_owned()),
            },
            None => Sent::Unknown("Testnet answered without the video's id".into()),
        })
    }

    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote {
        let Some(id) = sent.remote_id else {
            return Remote::Pending("Testnet named no video yet".into());
        };
        let path = format!("/v1/videos/{id}");
        match self.call(auth, reqwest::Method::GET, &path, None).await {
            Reply::Ok(video) => match video["status"].as_str() {
                Some("live") => Remote::Published {
                    post_id: Some(id.to_owned()),
                },
                Some("failed") => Remote::Failed(Failure::permanent(
                    "PLATFORM_REFUSED",
                    "Testnet could not process the video",
                )),
                _ => Remote::Pending("Testnet is still processing the video".into()),
            },
            Reply::Refused(failure) => Remote::Failed(failure),
            Reply::Lost(reason, _) => Remote::Pending(reason),
        }
    }

    async fn post_url(&self, _auth: &Auth, post_id: &str) -> Option<String> {
        Some(format!("https://testnet.invalid/watch/{post_id}"))
    }
}

#[async_trait]
impl Measure for Testnet {
    /// A video's views and likes.
    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure> {
        let path = format!("/v1/videos/{post_id}/stats");
        let stats = self
            .call(auth, reqwest::Method::GET, &path, None)
            .await
            .read("Testnet", "video's numbers")?;
        if stats.is_null() || stats.as_object().is_some_and(|o| o.is_empty()) {
            return Ok(None);
        }
        Ok(Some(PostMetrics {
            reading: Reading {
                views: count(&stats["views"]),
                likes: count(&stats["likes"]),
                ..Reading::default()
            },
            ..PostMetrics::default()
        }))
    }
}
