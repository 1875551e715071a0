//! The platform contract, run over every registered platform (`platforms::BUILT_IN`, the
//! test-only `testnet` included), each against its fake: connected as its catalogue entry
//! says (OAuth through its consent step, or a handle and an app password), a dry run that
//! sends nothing, a post published once and never again, a lost answer read back and
//! settled once, and the refusals every platform gives (a real publish with nothing
//! connected, a refused grant or password, a caption over its limit). Each platform's own
//! file keeps only what is particular to it.

use std::{collections::HashMap, time::Duration};

use almanac_publishing::platforms::BUILT_IN;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Entry, Setup, setup_plus};
use crate::helpers::{eventually, fake_platforms::APP_PASSWORD};
use crate::media::{mp4, multipart};

/// An app publishing to the fakes, every registered platform on.
pub(super) async fn setup() -> Setup {
    setup_plus(
        true,
        [
            ("TESTNET_ENABLED", "true".to_owned()),
            ("FETCH_ALLOW_PRIVATE_NETWORKS", "true".to_owned()),
        ],
    )
    .await
}

/// What the contract is told of each platform: a post it takes (its format, and its video
/// as an address the platform fetches itself, as an upload to Almanac for a platform that
/// sends the bytes itself, or none for a text post), and where a lost answer settles:
/// `published` where the platform shows the post to a read-only check, `unconfirmed` where
/// it cannot (TikTok's and Testnet's lost answer held the only id to ask with; LinkedIn
/// lets no app read a member's posts).
pub(super) struct Particulars {
    pub(super) format: &'static str,
    pub(super) media: Media,
    pub(super) lost: &'static str,
}

pub(super) enum Media {
    None,
    Address,
    Upload,
}

pub(super) fn particulars(platform: &str) -> Particulars {
    let (format, media, lost) = match platform {
        "tiktok" => ("short video", Media::Address, "unconfirmed"),
        "testnet" => ("short video", Media::Address, "unconfirmed"),
        "instagram" => ("image", Media::Address, "published"),
        "youtube" => ("short video", Media::Upload, "published"),
        "linkedin" => ("post", Media::None, "unconfirmed"),
        "bluesky" | "threads" | "facebook" => ("post", Media::None, "published"),
        other => panic!("the platform contract knows nothing of `{other}`: add it to particulars"),
    };
    Particulars {
        format,
        media,
        lost,
    }
}

/// The handle the Bluesky-like fakes take.
const HANDLE: &str = almanac_publishing::platforms::bluesky::fake::HANDLE;

/// The catalogue (`GET /v1/platforms`), by platform name.
pub(super) async fn catalogue(s: &Setup) -> HashMap<String, Value> {
    let (status, listed) = s.app.get_json(s.user, "/v1/platforms").await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["data"]["items"].as_array().unwrap();
    let by_name: HashMap<String, Value> = items
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_owned(), p.clone()))
        .collect();
    for registered in BUILT_IN {
        assert!(
            by_name.contains_key(registered.platform.as_str()),
            "{listed}"
        );
    }
    by_name
}

/// An entry of the platform's post, with `caption`; its id.
pub(super) async fn entry(s: &Setup, platform: &'static str, caption: &str) -> Uuid {
    let post = particulars(platform);
    let media = match post.media {
        Media::Address => Some("https://cdn.example.com/media/launch.mp4"),
        Media::None | Media::Upload => None,
    };
    let entry = Entry {
        format: post.format,
        media,
        ..Entry::on(platform, caption)
    };
    let id = s.entry(entry).await;
    if let Media::Upload = post.media {
        s.attach(id, multipart("clip.mp4", "video/mp4", &mp4(), None))
            .await;
    }
    id
}

/// Connects the platform as its catalogue entry says, with `secret` as the code the consent
/// step sends back (OAuth) or the password: `complete`'s or the sign-in's status and body.
async fn connect_with(
    s: &Setup,
    platform: &str,
    how: &Value,
    secret: Option<&str>,
) -> (u16, Value) {
    if how == "credentials" {
        let body = json!({ "identifier": HANDLE, "password": secret.unwrap_or(APP_PASSWORD) });
        let path = format!("/v1/channels/{platform}/credentials");
        return s.app.send_json(Method::POST, s.user, &path, &body).await;
    }
    assert_eq!(how, "oauth", "{platform} connects neither way");
    let path = format!("/v1/channels/{platform}/connect");
    let (status, started) = s
        .app
        .send_json(Method::POST, s.user, &path, &Value::Null)
        .await;
    assert_eq!(status, 200, "{platform}: {started}");
    // The consent step, as the browser follows it: the fake grants at once.
    let authorize = started["data"]["authorizeUrl"].as_str().unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let granted = browser.get(authorize).send().await.unwrap();
    assert_eq!(granted.status(), 302, "{platform}: {authorize}");
    let back = url::Url::parse(granted.headers()["location"].to_str().unwrap()).unwrap();
    let back: HashMap<_, _> = back.query_pairs().into_owned().collect();
    let body = json!({ "state": back["state"], "code": secret.unwrap_or(&back["code"]) });
    let path = format!("/v1/channels/{platform}/complete");
    s.app.send_json(Method::POST, s.user, &path, &body).await
}

/// The platform connected; its channel's id.
pub(super) async fn connect(s: &Setup, platform: &str, how: &Value) -> Uuid {
    let (status, connected) = connect_with(s, platform, how, None).await;
    assert!(
        [200, 201].contains(&status),
        "{platform}: {status} {connected}"
    );
    let channel = &connected["data"];
    assert_eq!(channel["platform"], platform, "{connected}");
    assert_eq!(channel["status"], "connected", "{connected}");
    channel["id"].as_str().unwrap().parse().unwrap()
}

/// The posts the platform's fake took.
pub(super) fn posts(s: &Setup, platform: &str) -> usize {
    s.fake
        .posts()
        .iter()
        .filter(|p| p.platform == platform)
        .count()
}

/// A dry run plans the platform's requests, ending with the one that publishes, and sends
/// nothing.
async fn dry_run(s: &Setup, platform: &'static str, channel: Uuid) {
    let before = s.fake.publishing_calls();
    let entry = entry(s, platform, "A dry run").await;
    let (status, dry) = s
        .publish(json!({ "entryIds": [entry], "channels": [channel] }))
        .await;
    assert_eq!(status, 200, "{platform}: {dry}");
    let intent = &dry["data"]["intents"][0];
    assert_eq!(intent["status"], "dry_run", "{platform}: {dry}");
    assert_eq!(intent["channel"], platform, "{dry}");
    let requests = intent["payload"]["requests"].as_array().unwrap();
    assert!(
        requests.iter().any(|r| r["effect"] == "publishes"),
        "{platform}: {dry}"
    );
    assert_eq!(
        s.fake.publishing_calls(),
        before,
        "{platform}: a dry run sent"
    );
    assert_eq!(posts(s, platform), 0, "{platform}");
}

/// Published for real: one post, confirmed with its id; asking again and the dispatcher's
/// next pass send nothing more. The calls with an outside effect one post took.
async fn publish_once(s: &Setup, platform: &'static str, channel: Uuid) -> usize {
    let sent = s.fake.publishing_calls();
    let entry = entry(s, platform, "Published once").await;
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    assert!(
        published["remotePostId"].is_string(),
        "{platform}: {published}"
    );
    let again = s.publish_now(entry, channel).await;
    assert_eq!(
        again, id,
        "{platform}: the entry's intent is answered again"
    );
    s.tick("2030-01-07T10:00:00Z").await;
    assert_eq!(posts(s, platform), 1, "{platform}");
    s.fake.publishing_calls() - sent
}

/// The platform applies the post and its answer is lost: checked read-only until it is
/// settled as the platform's particulars say, and never sent again: it took the calls a
/// post takes (`calls`).
async fn lost_answer(s: &Setup, platform: &'static str, channel: Uuid, calls: usize) {
    let entry = entry(s, platform, "Lost and found").await;
    lost_answer_of(s, (platform, channel), entry, calls).await;
}

/// [`lost_answer`] of `entry` on the platform's channel: one post more, never a second.
pub(super) async fn lost_answer_of(
    s: &Setup,
    (platform, channel): (&'static str, Uuid),
    entry: Uuid,
    calls: usize,
) {
    let sent = s.fake.publishing_calls();
    s.fake.with(|f| f.drop_after_publish = true);
    let id = s.publish_now(entry, channel).await;
    let settled = eventually(
        Duration::from_secs(20),
        "the lost answer settled",
        || async {
            let intent = s.intent(&id).await;
            ["published", "unconfirmed"]
                .contains(&intent["status"].as_str().unwrap_or_default())
                .then_some(intent)
        },
    )
    .await;
    let expected = particulars(platform).lost;
    assert_eq!(settled["status"], expected, "{platform}: {settled}");
    assert!(s.was_unknown(&id).await, "{platform}: {settled}");
    assert!(
        !s.fake.with(|f| f.drop_after_publish),
        "{platform}: never sent"
    );
    s.tick("2030-01-07T10:00:00Z").await;
    assert_eq!(posts(s, platform), 2, "{platform}");
    assert_eq!(
        s.fake.publishing_calls(),
        sent + calls,
        "{platform}: sent again"
    );
}

/// Every registered platform connects, dry-runs, publishes once and settles a lost answer.
#[tokio::test]
async fn every_registered_platform_connects_dry_runs_publishes_once_and_settles_a_lost_answer() {
    let s = setup().await;
    let catalogue = catalogue(&s).await;
    for registered in BUILT_IN {
        let platform = registered.platform.as_str();
        let channel = connect(&s, platform, &catalogue[platform]["connect"]).await;
        dry_run(&s, platform, channel).await;
        let calls = publish_once(&s, platform, channel).await;
        lost_answer(&s, platform, channel, calls).await;
    }
    assert_eq!(s.fake.posts().len(), 2 * BUILT_IN.len());
}

/// Every registered platform refuses alike: a real publish with nothing connected (422
/// naming the channel), a refused grant or password (nothing connected), and a caption
/// over the platform's text limit (the dry run's and the publish's `CAPTION_TOO_LONG`,
/// nothing sent).
#[tokio::test]
async fn every_registered_platform_refuses_as_documented() {
    let s = setup().await;
    let catalogue = catalogue(&s).await;
    for registered in BUILT_IN {
        let platform = registered.platform.as_str();
        let about = &catalogue[platform];
        let nowhere = entry(&s, platform, "Nowhere to go").await;
        let (status, refused) = s
            .publish(json!({ "entryIds": [nowhere], "dryRun": false }))
            .await;
        assert_eq!(status, 422, "{platform}: {refused}");
        assert_eq!(refused["error"]["code"], "CHANNEL_NOT_CONNECTED");
        assert_eq!(refused["error"]["details"]["channel"], platform);

        let (status, refused) =
            connect_with(&s, platform, &about["connect"], Some("stolen-xxxx-xxxx")).await;
        assert_eq!(status, 422, "{platform}: {refused}");
        let expected = match about["connect"].as_str() {
            Some("credentials") => "CREDENTIALS_REFUSED",
            _ => "OAUTH_EXCHANGE_FAILED",
        };
        assert_eq!(refused["error"]["code"], expected, "{platform}: {refused}");

        let channel = connect(&s, platform, &about["connect"]).await;
        too_long(&s, platform, about, channel).await;
    }
    assert_eq!(s.fake.posts().len(), 0);
}

/// A caption one past the platform's text limit (every unit counts an ASCII letter as
/// one) is refused by the dry run and by the publish, which sends nothing.
async fn too_long(s: &Setup, platform: &'static str, about: &Value, channel: Uuid) {
    let limits = about["textLimits"].as_array().unwrap();
    let text = limits
        .iter()
        .filter(|limit| limit["field"] == "text")
        .map(|limit| limit["max"].as_u64().unwrap())
        .min()
        .unwrap_or_else(|| panic!("{platform} has no text limit: {about}"));
    let caption = "a".repeat(text as usize + 1);
    let entry = entry(s, platform, &caption).await;
    let (_, dry) = s
        .publish(json!({ "entryIds": [entry], "channels": [channel] }))
        .await;
    let intent = &dry["data"]["intents"][0];
    assert_eq!(intent["status"], "failed", "{platform}: {dry}");
    assert_eq!(
        intent["error"]["code"], "CAPTION_TOO_LONG",
        "{platform}: {dry}"
    );
    let id = s.publish_now(entry, channel).await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(
        failed["error"]["code"], "CAPTION_TOO_LONG",
        "{platform}: {failed}"
    );
}
