//! `youtube`: a publishing platform that exists only in the tests, under one of seed 003's
//! platform names that has no adapter yet. It is what adding a platform takes, whole (the
//! checklist: `docs/architecture.md`, section 11): this adapter (its OAuth grant and
//! refresh, its token policy, its rules, its requests and how it answers), registered with
//! `Platforms::with` (here through `TestOptions::platforms`, in the API and every worker).
//! No core file names it: the API checks the `{platform}` against the registry, the web app
//! reads the list from `/app/config.json`, and the `platforms` table is filled at start.

use std::sync::{Arc, Mutex};

use almanac_shared::publish::{
    Adapter, Auth, Checked, Failure, FailureKind, MediaKind, Options, PlannedRequest, Platform,
    Post, Refresh, Remote, Sent, TokenPolicy, oauth::Tokens, post::Problem,
};
use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Entry, Setup, publish_env, setup_with};
use crate::helpers::{TestOptions, fake_platforms::FakePlatforms};

/// The channel the fake grant connects.
const CHANNEL_ID: &str = "UC-almanac-test";
/// The code the fake grant accepts; any other is refused.
const GRANTED: &str = "granted";

/// The test's YouTube: answers from memory, and records every call it is asked to make.
#[derive(Default)]
pub struct YouTube {
    calls: Mutex<Vec<&'static str>>,
}

impl YouTube {
    fn record(&self, call: &'static str) {
        self.calls.lock().unwrap().push(call);
    }

    /// How many times `call` was made.
    fn calls(&self, call: &str) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| **c == call)
            .count()
    }

    fn tokens(access: &str) -> Tokens {
        Tokens {
            access_token: access.to_owned(),
            refresh_token: Some("yt-refresh".into()),
            expires_in: Some(3600),
            account_id: Some(CHANNEL_ID.into()),
            scope: Some("youtube.upload".into()),
            ..Tokens::default()
        }
    }
}

#[async_trait]
impl Adapter for YouTube {
    fn platform(&self) -> Platform {
        Platform::of_static("youtube")
    }

    fn label(&self) -> &'static str {
        "YouTube"
    }

    fn token_policy(&self) -> TokenPolicy {
        TokenPolicy {
            refresh: Refresh::WithRefreshToken,
            ahead: chrono::Duration::minutes(10),
            min_age: chrono::Duration::zero(),
        }
    }

    fn uses_pkce(&self) -> bool {
        true
    }

    fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        challenge: Option<&str>,
    ) -> Result<String, String> {
        let mut url = url::Url::parse("https://accounts.youtube.invalid/o/oauth2/v2/auth").unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", "almanac-test")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("code_challenge", challenge.unwrap_or_default());
        Ok(url.into())
    }

    async fn exchange_code(
        &self,
        _redirect_uri: &str,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Tokens, Failure> {
        self.record("token");
        if code == GRANTED && verifier.is_some() {
            Ok(Self::tokens("yt-access"))
        } else {
            Err(Failure::new(
                FailureKind::Auth,
                "CHANNEL_AUTH_INVALID",
                "YouTube refused the token request: the code is invalid (invalid_grant)",
            )
            .platform("invalid_grant"))
        }
    }

    async fn refresh(&self, _access: &str, _refresh: Option<&str>) -> Result<Tokens, Failure> {
        self.record("refresh");
        Ok(Self::tokens("yt-access-2"))
    }

    fn text_limits(&self) -> Vec<almanac_shared::publish::post::TextLimit> {
        Vec::new()
    }

    fn validate(&self, post: &Post, _options: &Options) -> Vec<Problem> {
        match post.media {
            MediaKind::Video => Vec::new(),
            _ => vec![Problem::new(
                "YOUTUBE_VIDEO_ONLY",
                "format",
                "YouTube publishes videos: make this entry a video",
            )],
        }
    }

    fn plan(&self, account_id: &str, post: &Post, _options: &Options) -> Vec<PlannedRequest> {
        vec![PlannedRequest {
            method: "POST".into(),
            url: "https://www.googleapis.invalid/upload/youtube/v3/videos".into(),
            headers: json!({ "Authorization": "Bearer ***" }),
            body: json!({ "channelId": account_id, "title": post.title }),
            effect: "publishes".into(),
        }]
    }

    async fn check(
        &self,
        auth: &Auth,
        _post: &Post,
        options: &Options,
    ) -> Result<Checked, Failure> {
        assert_eq!(auth.account_id, CHANNEL_ID);
        self.record("check");
        Ok(Checked {
            options: options.clone(),
            remaining: None,
        })
    }

    async fn prepare(&self, _: &Auth, _: &Post, _: &Options) -> Result<Option<String>, Failure> {
        Ok(None)
    }

    async fn send(&self, _: &Auth, post: &Post, _: &Options, _: Option<&str>) -> Sent {
        self.record("send");
        Sent::Accepted {
            remote_id: format!("upload-{}", post.entry_id),
            post_id: Some("video-1".into()),
        }
    }

    async fn confirm(
        &self,
        _: &Auth,
        _: Option<&str>,
        _: &Post,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Remote {
        self.record("confirm");
        Remote::Published {
            post_id: Some("video-1".into()),
        }
    }
}

/// An app publishing to the fakes of the real two and to the test's YouTube.
async fn setup() -> (Setup, Arc<YouTube>) {
    let fake = FakePlatforms::start().await;
    let youtube = Arc::new(YouTube::default());
    let options = TestOptions {
        env: publish_env(&fake, true),
        platforms: vec![youtube.clone()],
        ..Default::default()
    };
    (setup_with(options, fake).await, youtube)
}

/// Connects the test's YouTube through its OAuth with `code`: `complete`'s status and body.
async fn connect(s: &Setup, code: &str) -> (u16, Value) {
    let (status, started) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/channels/youtube/connect",
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let url = url::Url::parse(started["data"]["authorizeUrl"].as_str().unwrap()).unwrap();
    assert_eq!(url.host_str(), Some("accounts.youtube.invalid"));
    // PKCE, as the adapter asks: the challenge of a verifier the API keeps.
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "code_challenge" && v.len() == 43),
        "{url}"
    );
    let body = json!({ "state": started["data"]["state"], "code": code });
    s.app
        .send_json(Method::POST, s.user, "/v1/channels/youtube/complete", &body)
        .await
}

fn video(caption: &str) -> Entry<'_> {
    Entry {
        format: "short video",
        ..Entry::on("youtube", caption)
    }
}

#[tokio::test]
async fn a_platform_registered_by_the_tests_connects_dry_runs_and_publishes_once() {
    let (s, youtube) = setup().await;
    let config: Value = s
        .app
        .client
        .get(s.app.url("/app/config.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The web app's list of platforms is the registry's, each with its adapter's limits.
    let listed: Vec<(Value, Value, Value)> = config["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].clone(),
                p["label"].clone(),
                p["textLimits"].clone(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                json!("instagram"),
                json!("Instagram"),
                json!([{ "field": "text", "max": 2200, "unit": "chars" }])
            ),
            (
                json!("linkedin"),
                json!("LinkedIn"),
                json!([{ "field": "text", "max": 3000, "unit": "chars" }])
            ),
            (
                json!("tiktok"),
                json!("TikTok"),
                json!([
                    { "field": "text", "max": 2200, "unit": "chars", "media": "video" },
                    { "field": "title", "max": 90, "unit": "chars", "media": "photo" },
                    { "field": "description", "max": 4000, "unit": "chars", "media": "photo" },
                ])
            ),
            (json!("youtube"), json!("YouTube"), json!([])),
        ]
    );

    let (status, channel) = connect(&s, GRANTED).await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["data"]["platform"], "youtube");
    assert_eq!(channel["data"]["accountId"], CHANNEL_ID);
    assert_eq!(channel["data"]["status"], "connected");
    assert_eq!(youtube.calls("token"), 1);

    // A dry run plans with the adapter's requests and checks, and sends nothing.
    let entry = s.entry(video("Launch on YouTube")).await;
    let (status, dry) = s.publish(json!({ "entryIds": [entry] })).await;
    assert_eq!(status, 200, "{dry}");
    let intent = &dry["data"]["intents"][0];
    assert_eq!(intent["status"], "dry_run", "{dry}");
    assert_eq!(intent["channel"], "youtube");
    assert_eq!(
        intent["payload"]["requests"][0]["url"],
        "https://www.googleapis.invalid/upload/youtube/v3/videos"
    );
    assert_eq!(youtube.calls("check"), 1);
    assert_eq!(youtube.calls("send"), 0);

    // Published for real: sent once, confirmed, and never again.
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    let published = s.settled(&id, "published").await;
    assert_eq!(published["remotePostId"], "video-1", "{published}");
    s.tick("2030-01-07T10:00:00Z").await;
    assert_eq!(youtube.calls("send"), 1);
}

#[tokio::test]
async fn a_platform_registered_by_the_tests_is_refused_like_the_real_ones() {
    let (s, youtube) = setup().await;
    // A platform nobody registered: 404 in a path, 422 in a body.
    let (status, unknown) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/channels/myspace/connect",
            &Value::Null,
        )
        .await;
    assert_eq!(status, 404, "{unknown}");
    assert_eq!(unknown["error"]["code"], "UNKNOWN_PLATFORM");
    assert_eq!(
        unknown["error"]["details"]["platforms"],
        json!(["instagram", "linkedin", "tiktok", "youtube"])
    );
    let body = json!({ "platform": "myspace", "accountId": "me", "accessToken": "t" });
    let (status, unknown) = s
        .app
        .send_json(Method::POST, s.user, "/v1/channels", &body)
        .await;
    assert_eq!(status, 422, "{unknown}");
    assert_eq!(unknown["error"]["code"], "UNKNOWN_PLATFORM");

    // A refused grant, as the built-in platforms' would be.
    let (status, refused) = connect(&s, "stolen").await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "OAUTH_EXCHANGE_FAILED");
    assert_eq!(refused["error"]["details"]["platformCode"], "invalid_grant");

    // Nothing connected: a real publish is refused whole, naming the channel.
    let entry = s.entry(video("Nowhere to go")).await;
    let (status, refused) = s
        .publish(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "CHANNEL_NOT_CONNECTED");
    assert_eq!(refused["error"]["details"]["channel"], "youtube");

    // The platform's own rules: a photo is refused by the dry run and by the publish.
    let (status, _) = connect(&s, GRANTED).await;
    assert_eq!(status, 200);
    let photo = s.entry(Entry::on("youtube", "A photo")).await;
    let (_, dry) = s.publish(json!({ "entryIds": [photo] })).await;
    assert_eq!(
        dry["data"]["intents"][0]["error"]["code"], "YOUTUBE_VIDEO_ONLY",
        "{dry}"
    );
    let id = s
        .publish_one(json!({ "entryIds": [photo], "dryRun": false }))
        .await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "YOUTUBE_VIDEO_ONLY", "{failed}");
    assert_eq!(youtube.calls("send"), 0);
}
