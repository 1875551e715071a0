//! `testnet`: a publishing platform that exists only in the tests, under a name no seed
//! and no registry uses (`youtube` is left for a real adapter). It is what adding a platform takes, whole (the
//! checklist: `docs/architecture.md`, section 11): this adapter's four capabilities
//! (`Connect`: its OAuth grant, refresh and token policy; `Rules`; `Publish`: its requests
//! and how it answers; `Measure`), registered with
//! `Platforms::with` (here through `TestOptions::platforms`, in the API and every worker).
//! No core file names it: the API checks the `{platform}` against the registry, the web app
//! reads the list from `/app/config.json`, and the `platforms` table is filled at start.

use std::sync::{Arc, Mutex};

use almanac_publishing::{
    Attempt, Auth, Checked, Connect, Failure, FailureKind, Measure, MediaKind, Named, Options,
    PlannedRequest, Platform, Post, PostMetrics, Publish, Refresh, Remote, Rules, Sent, Settling,
    TokenPolicy,
    catalogue::{Grant, MediaFormats, Profile},
    oauth::Tokens,
    post::{self, Problem, TextField, TextLimit},
};
use almanac_shared::domain::analytics::Reading;
use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Entry, Setup, publish_env, setup_with};
use crate::helpers::{TestOptions, fake_platforms::FakePlatforms};

/// The channel the fake grant connects.
const CHANNEL_ID: &str = "UC-almanac-test";
/// The most characters a post's text may have.
const TEXT_MAX: usize = 280;
/// The most hashtags a post may carry.
const HASHTAGS_MAX: usize = 5;
/// The colour its posts are marked with.
pub const COLOR: &str = "#2a9d8f";
/// The code the fake grant accepts; any other is refused.
const GRANTED: &str = "granted";

/// The test's network: answers from memory, and records every call it is asked to make.
#[derive(Default)]
pub struct Testnet {
    calls: Mutex<Vec<&'static str>>,
}

impl Testnet {
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
            refresh_token: Some("tn-refresh".into()),
            expires_in: Some(3600),
            account_id: Some(CHANNEL_ID.into()),
            scope: Some("testnet.upload".into()),
            ..Tokens::default()
        }
    }
}

impl Named for Testnet {
    fn platform(&self) -> Platform {
        Platform::of_static("testnet")
    }

    fn label(&self) -> &'static str {
        "Testnet"
    }
}

#[async_trait]
impl Connect for Testnet {
    /// Its grant answers from memory, not through a declared code grant: it says it is
    /// one.
    fn grant(&self) -> Grant {
        Grant::Oauth
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
        let mut url = url::Url::parse("https://accounts.testnet.invalid/o/oauth2/v2/auth").unwrap();
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
            Ok(Self::tokens("tn-access"))
        } else {
            Err(Failure::new(
                FailureKind::Auth,
                "CHANNEL_AUTH_INVALID",
                "Testnet refused the token request: the code is invalid (invalid_grant)",
            )
            .platform("invalid_grant"))
        }
    }

    async fn refresh(&self, _access: &str, _refresh: Option<&str>) -> Result<Tokens, Failure> {
        self.record("refresh");
        Ok(Self::tokens("tn-access-2"))
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
        }
    }

    fn validate(&self, post: &Post, _options: &Options) -> Vec<Problem> {
        let mut problems = Vec::new();
        if post.media != MediaKind::Video {
            problems.push(Problem::new(
                "TESTNET_VIDEO_ONLY",
                "format",
                "Testnet publishes videos: make this entry a video",
            ));
        }
        problems.extend(post::too_long(
            "caption",
            "the Testnet post (caption, call to action and hashtags)",
            post.text_chars(),
            TEXT_MAX,
        ));
        if post.hashtags() > HASHTAGS_MAX {
            problems.push(Problem::new(
                "TOO_MANY_HASHTAGS",
                "hashtags",
                format!("a Testnet post carries {HASHTAGS_MAX} hashtags at most"),
            ));
        }
        problems
    }

    fn plan(&self, account_id: &str, post: &Post, _options: &Options) -> Vec<PlannedRequest> {
        vec![PlannedRequest {
            method: "POST".into(),
            url: "https://api.testnet.invalid/upload/videos".into(),
            headers: json!({ "Authorization": "Bearer ***" }),
            body: json!({ "channelId": account_id, "title": post.title }),
            effect: "publishes".into(),
        }]
    }
}

#[async_trait]
impl Publish for Testnet {
    async fn check(&self, at: Attempt<'_>) -> Result<Checked, Failure> {
        let Attempt { auth, options, .. } = at;
        assert_eq!(auth.account_id, CHANNEL_ID);
        self.record("check");
        Ok(Checked {
            options: options.clone(),
            remaining: None,
        })
    }

    async fn send(&self, at: Attempt<'_>, _: Option<&str>) -> Sent {
        let post = at.post;
        self.record("send");
        Sent::Accepted {
            remote_id: format!("upload-{}", post.entry_id),
            post_id: Some("video-1".into()),
        }
    }

    async fn confirm(&self, _: &Auth, _: Settling<'_>) -> Remote {
        self.record("confirm");
        Remote::Published {
            post_id: Some("video-1".into()),
        }
    }
}

#[async_trait]
impl Measure for Testnet {
    /// A video's views and likes, more at each read.
    async fn metrics(&self, _: &Auth, _: &str) -> Result<Option<PostMetrics>, Failure> {
        self.record("metrics");
        let reads = self.calls("metrics") as u64;
        Ok(Some(PostMetrics {
            reading: Reading {
                views: Some(100 * reads),
                likes: Some(9 * reads),
                ..Reading::default()
            },
            ..PostMetrics::default()
        }))
    }
}

/// An app publishing to the fakes of the real two and to the test's network.
async fn setup() -> (Setup, Arc<Testnet>) {
    let fake = FakePlatforms::start().await;
    let testnet = Arc::new(Testnet::default());
    let options = TestOptions {
        env: publish_env(&fake, true),
        platforms: vec![testnet.clone()],
        ..Default::default()
    };
    (setup_with(options, fake).await, testnet)
}

/// Connects the test's network through its OAuth with `code`: `complete`'s status and body.
async fn connect(s: &Setup, code: &str) -> (u16, Value) {
    let (status, started) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/channels/testnet/connect",
            &Value::Null,
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let url = url::Url::parse(started["data"]["authorizeUrl"].as_str().unwrap()).unwrap();
    assert_eq!(url.host_str(), Some("accounts.testnet.invalid"));
    // PKCE, as the adapter asks: the challenge of a verifier the API keeps.
    assert!(
        url.query_pairs()
            .any(|(k, v)| k == "code_challenge" && v.len() == 43),
        "{url}"
    );
    let body = json!({ "state": started["data"]["state"], "code": code });
    s.app
        .send_json(Method::POST, s.user, "/v1/channels/testnet/complete", &body)
        .await
}

/// What the web app reads before sign-in (`/app/config.json`).
async fn app_config(s: &Setup) -> Value {
    let response = s.app.client.get(s.app.url("/app/config.json")).send();
    response.await.unwrap().json().await.unwrap()
}

fn video(caption: &str) -> Entry<'_> {
    Entry {
        format: "short video",
        ..Entry::on("testnet", caption)
    }
}

/// `GET /v1/platforms` describes each registered platform from its adapter, the test's
/// network too, and `/app/config.json` lists the same objects for the page before
/// sign-in; its channels add those no adapter publishes to.
#[tokio::test]
async fn the_catalogue_describes_every_registered_platform_as_the_app_s_configuration_does() {
    let (s, _testnet) = setup().await;
    let (status, listed) = s.app.get_json(s.user, "/v1/platforms").await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["error"], Value::Null);
    assert!(listed["meta"]["requestId"].is_string(), "{listed}");
    let items = listed["data"]["items"].as_array().unwrap();
    let names: Vec<&str> = items.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "bluesky",
            "facebook",
            "instagram",
            "linkedin",
            "testnet",
            "threads",
            "tiktok",
            "youtube"
        ]
    );
    let named = |name: &str| {
        items
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("{name} in the catalogue"))
            .clone()
    };
    // Bluesky signs in with a handle and an app password, and counts graphemes and bytes.
    assert_eq!(named("bluesky")["connect"], "credentials");
    assert_eq!(
        named("bluesky")["textLimits"],
        json!([{ "field": "text", "max": 300, "unit": "graphemes" },
            { "field": "text", "max": 3000, "unit": "utf8Bytes" }])
    );
    assert_eq!(named("bluesky")["mediaKinds"], json!(["photo"]));
    // Every platform states its quota: read where the platform answers it (Instagram,
    // Threads), else counted by Almanac; YouTube's uploads are the Google Cloud project's
    // (every user's); TikTok's counts the drafts waiting in a creator's inbox.
    let quota = |limit: u32, per: &str, source: &str, counts: &str| json!({ "limit": limit, "windowSecs": 86400, "per": per, "source": source, "counts": counts });
    for (name, expected) in [
        ("tiktok", quota(5, "account", "counted", "drafts")),
        ("instagram", quota(100, "account", "read", "posts")),
        ("linkedin", quota(150, "account", "counted", "posts")),
        ("threads", quota(250, "account", "read", "posts")),
        ("bluesky", quota(11_666, "account", "counted", "posts")),
        ("facebook", quota(25, "account", "counted", "posts")),
        ("youtube", quota(100, "app", "counted", "posts")),
    ] {
        assert_eq!(named(name)["quota"], expected, "{name}");
    }
    assert_eq!(named("youtube")["mediaKinds"], json!(["video"]));
    assert_eq!(named("facebook")["previewChars"], 477);
    assert_eq!(
        named("testnet"),
        json!({
            "name": "testnet", "label": "Testnet", "color": COLOR, "connect": "oauth",
            "authorKinds": [], "mediaKinds": ["video"],
            "mediaFormats": { "photo": [], "video": ["video/mp4"] },
            "textLimits": [{ "field": "text", "max": TEXT_MAX, "unit": "chars" }],
            "hashtagsMax": HASHTAGS_MAX, "mentionsMax": null, "previewChars": null,
            "quota": null,
        })
    );
    assert_eq!(
        named("instagram")["hashtagsMax"],
        30,
        "{}",
        named("instagram")
    );
    // Where Instagram's feed folds a caption: what the composer's preview shows.
    assert_eq!(
        named("instagram")["previewChars"],
        125,
        "{}",
        named("instagram")
    );
    assert_eq!(
        named("instagram")["mentionsMax"],
        20,
        "{}",
        named("instagram")
    );
    assert_eq!(
        named("linkedin")["authorKinds"],
        json!(["member", "organization"])
    );
    assert_eq!(named("linkedin")["mediaKinds"], json!(["photo"]));
    // Instagram takes JPEG alone (a PNG goes as its JPEG copy); LinkedIn PNG too.
    assert_eq!(
        named("instagram")["mediaFormats"],
        json!({ "photo": ["image/jpeg"], "video": ["video/mp4"] })
    );
    assert_eq!(
        named("linkedin")["mediaFormats"],
        json!({ "photo": ["image/jpeg", "image/png"], "video": [] })
    );
    for item in items {
        let color = item["color"].as_str().unwrap();
        assert!(almanac_publishing::catalogue::is_color(color), "{item}");
    }

    let config = app_config(&s).await;
    assert_eq!(config["platforms"], listed["data"]["items"]);
    let channels: Vec<(&str, bool)> = config["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["publishes"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        channels,
        [
            ("bluesky", true),
            ("facebook", true),
            ("instagram", true),
            ("linkedin", true),
            ("testnet", true),
            ("threads", true),
            ("tiktok", true),
            ("youtube", true),
            ("x", false),
            ("newsletter", false),
        ]
    );

    // Signed out: refused like every other operation.
    let response = s
        .app
        .client
        .get(s.app.url("/v1/platforms"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

/// The web app offers the test's network with nothing of its own changed: in a new
/// calendar's channel list (checked, as it publishes), in the grid in its colour, and in
/// the entry dialog counted against its limit as a person types.
#[tokio::test]
async fn the_web_app_shows_a_registered_platform_in_its_lists_colours_and_counters() {
    use crate::web::Browser;
    let (s, _testnet) = setup().await;
    s.entry(video("Launch on Testnet")).await;
    let browser = Browser::start(&s.app, "testnet").await;
    browser.sign_in_with_token(&s.app.token(s.user)).await;

    browser.open("#/calendar").await;
    browser
        .wait("form input[name=channel][value=testnet]")
        .await;
    let checked = browser
        .script(
            "return document.querySelector('input[name=channel][value=testnet]').checked \
             && document.querySelector('label:has(> input[value=testnet])').textContent.trim()",
        )
        .await;
    assert_eq!(checked, json!("Testnet"));

    browser.open(&format!("#/calendar/{}", s.calendar)).await;
    browser.wait(".entry.chip[data-platform=testnet]").await;
    let colour = browser
        .script(
            "const chip = document.querySelector('.entry.chip[data-platform=testnet]'); \
             return [getComputedStyle(chip).borderLeftColor, \
             getComputedStyle(chip.querySelector('.mark')).backgroundColor, chip.outerHTML]",
        )
        .await;
    // #2a9d8f
    assert_eq!(
        colour.as_array().unwrap()[..2],
        [json!("rgb(42, 157, 143)"), json!("rgb(42, 157, 143)")],
        "{}",
        colour[2]
    );
    browser.screenshot_of("grid").await;

    browser.click(".entry.chip[data-platform=testnet]").await;
    browser.wait("#entry-editor[open]").await;
    let counter = "#entry-counter [data-field=text]";
    // "Launch on Testnet", "Follow for more" and "#launch #almanac", a blank line apart.
    browser
        .wait_text(counter, &format!("Testnet: 52 of {TEXT_MAX} characters"))
        .await;
    browser
        .set_value(
            "#entry-editor textarea[name=caption]",
            &"x".repeat(TEXT_MAX),
        )
        .await;
    let said = browser.wait_text(counter, "too many").await;
    assert_eq!(
        said,
        format!(
            "Testnet: {} of {TEXT_MAX} characters, 35 too many (caption, call to action and hashtags together)",
            TEXT_MAX + 35
        )
    );
    browser.screenshot_of("counter").await;
}

#[tokio::test]
async fn a_platform_registered_by_the_tests_connects_dry_runs_and_publishes_once() {
    let (s, testnet) = setup().await;
    let config = app_config(&s).await;
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
                json!("bluesky"),
                json!("Bluesky"),
                json!([{ "field": "text", "max": 300, "unit": "graphemes" },
                    { "field": "text", "max": 3000, "unit": "utf8Bytes" }])
            ),
            (
                json!("facebook"),
                json!("Facebook"),
                json!([{ "field": "text", "max": 63206, "unit": "chars" }])
            ),
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
                json!("testnet"),
                json!("Testnet"),
                json!([{ "field": "text", "max": TEXT_MAX, "unit": "chars" }])
            ),
            (
                json!("threads"),
                json!("Threads"),
                json!([{ "field": "text", "max": 500, "unit": "charsEmojiBytes" }])
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
            (
                json!("youtube"),
                json!("YouTube"),
                json!([{ "field": "title", "max": 100, "unit": "chars" },
                    { "field": "text", "max": 4977, "unit": "utf8Bytes" }])
            ),
        ]
    );

    let (status, channel) = connect(&s, GRANTED).await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["data"]["platform"], "testnet");
    // One kind of author: a channel posts as itself.
    assert_eq!(channel["data"]["authorKind"], Value::Null);
    assert_eq!(channel["data"]["accountId"], CHANNEL_ID);
    assert_eq!(channel["data"]["status"], "connected");
    assert_eq!(testnet.calls("token"), 1);

    // A dry run plans with the adapter's requests and checks, and sends nothing.
    let entry = s.entry(video("Launch on Testnet")).await;
    let (status, dry) = s.publish(json!({ "entryIds": [entry] })).await;
    assert_eq!(status, 200, "{dry}");
    let intent = &dry["data"]["intents"][0];
    assert_eq!(intent["status"], "dry_run", "{dry}");
    assert_eq!(intent["channel"], "testnet");
    assert_eq!(
        intent["payload"]["requests"][0]["url"],
        "https://api.testnet.invalid/upload/videos"
    );
    assert_eq!(testnet.calls("check"), 1);
    assert_eq!(testnet.calls("send"), 0);

    // Published for real: sent once, confirmed, and never again.
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    let published = s.settled(&id, "published").await;
    assert_eq!(published["remotePostId"], "video-1", "{published}");
    s.tick("2030-01-07T10:00:00Z").await;
    assert_eq!(testnet.calls("send"), 1);
}

#[tokio::test]
async fn a_platform_registered_by_the_tests_is_refused_like_the_real_ones() {
    let (s, testnet) = setup().await;
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
        json!([
            "bluesky",
            "facebook",
            "instagram",
            "linkedin",
            "testnet",
            "threads",
            "tiktok",
            "youtube"
        ])
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
    assert_eq!(refused["error"]["details"]["channel"], "testnet");

    // The platform's own rules: a photo is refused by the dry run and by the publish.
    let (status, _) = connect(&s, GRANTED).await;
    assert_eq!(status, 200);
    let photo = s.entry(Entry::on("testnet", "A photo")).await;
    let (_, dry) = s.publish(json!({ "entryIds": [photo] })).await;
    assert_eq!(
        dry["data"]["intents"][0]["error"]["code"], "TESTNET_VIDEO_ONLY",
        "{dry}"
    );
    let id = s
        .publish_one(json!({ "entryIds": [photo], "dryRun": false }))
        .await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "TESTNET_VIDEO_ONLY", "{failed}");
    assert_eq!(testnet.calls("send"), 0);
}
