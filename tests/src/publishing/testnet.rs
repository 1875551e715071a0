//! `testnet`: the platform that exists only in builds with the `sandbox` feature
//! (`almanac_publishing::platforms::testnet`), turned on by `TESTNET_ENABLED=true`. It was
//! added as one folder under `platforms/` and one line in its `registry!`, and nothing else:
//! these tests show it in the catalogue, the app's channel list, its grid and counters, and
//! connecting, dry-running and publishing once through its fake, as any platform does. (The
//! sandbox serves it too: `publishing::sandbox`.)

use almanac_publishing::platforms::testnet::{COLOR, HASHTAGS_MAX, TEXT_MAX, fake::CHANNEL_ID};
use reqwest::Method;
use serde_json::{Value, json};

use super::{Entry, Setup, setup_plus};

/// An app publishing to the fakes, Testnet turned on.
async fn setup() -> Setup {
    setup_plus(true, [("TESTNET_ENABLED", "true".to_owned())]).await
}

/// Connects Testnet as a person does: connect, the platform's page (its fake grants at
/// once and sends the browser back with a code), complete: `complete`'s status and body.
async fn connect(s: &Setup) -> (u16, Value) {
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
    let authorize = started["data"]["authorizeUrl"].as_str().unwrap();
    assert!(
        authorize.starts_with(&format!("{}/testnet/authorize?", s.fake.base_url())),
        "{authorize}"
    );
    // PKCE, as the adapter declares: the challenge of a verifier the API keeps.
    let url = url::Url::parse(authorize).unwrap();
    let asked: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(asked["code_challenge"].len(), 43, "{url}");
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["client_id"], "testnet-client");
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let granted = browser.get(authorize).send().await.unwrap();
    assert_eq!(granted.status(), 302);
    let back = url::Url::parse(granted.headers()["location"].to_str().unwrap()).unwrap();
    let back: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    let body = json!({ "state": back["state"], "code": back["code"] });
    s.app
        .send_json(Method::POST, s.user, "/v1/channels/testnet/complete", &body)
        .await
}

/// The calls Testnet's fake took for `path` (under `/testnet`) with `method`.
fn calls(s: &Setup, method: &str, path: &str) -> usize {
    let path = format!("/testnet{path}");
    s.fake
        .all_calls()
        .iter()
        .filter(|c| c.method == method && c.path == path)
        .count()
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

/// What each platform's catalogue entry says it takes: how it connects, its text limits,
/// media, formats, quota and preview, in a colour of its own.
fn each_platform_says_what_it_takes(items: &[Value]) {
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
            "quota": null, "carousel": null, "firstComment": false, "video": null,
        })
    );
    // Carousels and first comments, as each platform's documentation states them.
    for (name, carousel, comment) in [
        ("tiktok", json!({ "maxItems": 35, "mixed": false }), false),
        ("instagram", json!({ "maxItems": 10, "mixed": true }), true),
        ("linkedin", json!({ "maxItems": 20, "mixed": false }), true),
        ("threads", json!({ "maxItems": 20, "mixed": true }), true),
        ("bluesky", json!({ "maxItems": 4, "mixed": false }), true),
        ("facebook", json!({ "maxItems": 10, "mixed": false }), true),
        ("youtube", Value::Null, true),
    ] {
        assert_eq!(named(name)["carousel"], carousel, "{name}");
        assert_eq!(named(name)["firstComment"], comment, "{name}");
    }
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
}

/// `GET /v1/platforms` describes each registered platform from its adapter, the test's
/// network too, and `/app/config.json` lists the same objects for the page before
/// sign-in; its channels add those no adapter publishes to.
#[tokio::test]
async fn the_catalogue_describes_every_registered_platform_as_the_app_s_configuration_does() {
    let s = setup().await;
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
    each_platform_says_what_it_takes(items);

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
    let s = setup().await;
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

/// The web app's list of platforms is the registry's, each with its adapter's limits.
fn the_app_lists_every_platform_with_its_limits(config: &Value) {
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
}

#[tokio::test]
async fn a_platform_registered_by_the_tests_connects_dry_runs_and_publishes_once() {
    let s = setup().await;
    the_app_lists_every_platform_with_its_limits(&app_config(&s).await);

    let (status, channel) = connect(&s).await;
    assert_eq!(status, 200, "{channel}");
    assert_eq!(channel["data"]["platform"], "testnet");
    // One kind of author: a channel posts as itself.
    assert_eq!(channel["data"]["authorKind"], Value::Null);
    assert_eq!(channel["data"]["accountId"], CHANNEL_ID);
    assert_eq!(channel["data"]["status"], "connected");
    assert_eq!(calls(&s, "POST", "/token"), 1);

    // A dry run plans with the adapter's requests and checks, and sends nothing.
    let entry = s.entry(video("Launch on Testnet")).await;
    let (status, dry) = s.publish(json!({ "entryIds": [entry] })).await;
    assert_eq!(status, 200, "{dry}");
    let intent = &dry["data"]["intents"][0];
    assert_eq!(intent["status"], "dry_run", "{dry}");
    assert_eq!(intent["channel"], "testnet");
    let requests = intent["payload"]["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 2, "{dry}");
    assert_eq!(
        requests[1]["url"],
        format!("{}/testnet/v1/videos", s.fake.base_url())
    );
    assert_eq!(requests[1]["effect"], "publishes");
    assert_eq!(requests[1]["body"]["channelId"], CHANNEL_ID);
    let channel_read = format!("/v1/channels/{CHANNEL_ID}");
    assert_eq!(calls(&s, "GET", &channel_read), 1);
    assert_eq!(calls(&s, "POST", "/v1/videos"), 0);

    // Published for real: sent once, confirmed, its address made, and never again.
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    let published = s.settled(&id, "published").await;
    assert_eq!(published["remotePostId"], "tn-video-1", "{published}");
    assert_eq!(
        published["postUrl"], "https://testnet.invalid/watch/tn-video-1",
        "{published}"
    );
    s.tick("2030-01-07T10:00:00Z").await;
    assert_eq!(calls(&s, "POST", "/v1/videos"), 1);
    let posted: Vec<_> = s
        .fake
        .posts()
        .into_iter()
        .filter(|p| p.platform == "testnet")
        .collect();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0].body["title"], "Launch day");
    assert_eq!(
        posted[0].body["videoUrl"],
        "https://cdn.example.com/media/launch.mp4"
    );
}

/// What every platform refuses alike (a refused grant, nothing connected, a caption too
/// long) the platform contract shows (`publishing::contract`); here, a platform nobody
/// registered, and Testnet's own rule.
#[tokio::test]
async fn a_platform_registered_by_the_tests_is_refused_like_the_real_ones() {
    let s = setup().await;
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

    // The platform's own rules: a photo is refused by the dry run and by the publish.
    let (status, _) = connect(&s).await;
    assert_eq!(status, 200);
    let photo = s.entry(Entry::on("testnet", "A photo")).await;
    let (_, dry) = s.publish(json!({ "entryIds": [photo] })).await;
    assert_eq!(
        dry["data"]["intents"][0]["error"]["code"], "MEDIA_UNSUPPORTED",
        "{dry}"
    );
    let id = s
        .publish_one(json!({ "entryIds": [photo], "dryRun": false }))
        .await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "MEDIA_UNSUPPORTED", "{failed}");
    assert_eq!(calls(&s, "POST", "/v1/videos"), 0);
}
