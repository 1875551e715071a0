//! LinkedIn (issue 35) against the fake LinkedIn: a member and the page they administer
//! connected in one grant, text and image posts, each exactly once, now and at the entry's
//! time; a lost answer read back for a page and `unconfirmed` for a member; a duplicate
//! refused and never retried; 429 backed off; 60-day tokens refreshed where LinkedIn gave a
//! refresh token, else announced and then `needs_reauth` once expired.

use almanac_shared::clock::{ManualClock, SystemClock};
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Entry, Setup,
    channels::{callback, complete, start_connect},
    setup_plus,
};
use crate::helpers::fake_platforms::{LI_MEMBER, LI_PAGE};

/// An app publishing to the fake, allowed to fetch entries' images from it (a local
/// address the outside fetch rules refuse otherwise).
async fn setup() -> Setup {
    setup_plus(true, [("FETCH_ALLOW_PRIVATE_NETWORKS", "true".into())]).await
}

/// A LinkedIn text entry (no media).
fn text(caption: &str) -> Entry<'_> {
    Entry {
        format: "post",
        media: None,
        ..Entry::on("linkedin", caption)
    }
}

/// The text a LinkedIn post of `caption` carries (the entry's call to action and hashtags).
fn commentary(caption: &str) -> String {
    format!("{caption}\n\nFollow for more\n\n#launch #almanac")
}

impl Setup {
    /// A LinkedIn channel imported with the fake's token, valid for `expires_in` seconds.
    async fn linkedin(&self, author: &str, refresh: Option<&str>, expires_in: i64) -> Uuid {
        self.connect("linkedin", author, "li-token", refresh, expires_in)
            .await
    }

    /// Publishes `entry` on `channel` now; the intent's id.
    async fn publish_on(&self, entry: Uuid, channel: Uuid) -> String {
        self.publish_one(json!({ "entryIds": [entry], "channels": [channel], "dryRun": false }))
            .await
    }

    /// The calls to LinkedIn's REST API (`/rest/...`).
    fn rest_calls(&self) -> Vec<crate::helpers::fake_platforms::Call> {
        self.fake.with(|f| {
            f.calls
                .iter()
                .filter(|c| c.path.starts_with("/linkedin/rest/"))
                .cloned()
                .collect()
        })
    }

    fn post_calls(&self) -> usize {
        self.rest_calls()
            .iter()
            .filter(|c| c.method == "POST" && c.path == "/linkedin/rest/posts")
            .count()
    }
}

/// The `n`th author (`channel`, posting as `author`, named `name`): the dry run with the
/// exact post, then now, then at the entry's time, and asked again nothing is posted twice.
async fn posts_exactly_once(s: &Setup, n: usize, channel: Uuid, author: &str, name: &str) {
    let base = s.fake.base_url();
    let caption = format!("Hello (world) from {name} @team");
    let now = s.entry(text(&caption)).await;
    let (status, planned) = s
        .publish(json!({ "entryIds": [now], "channels": [channel] }))
        .await;
    assert_eq!(status, 200, "{planned}");
    let intent = &planned["data"]["intents"][0];
    assert_eq!(intent["status"], "dry_run", "{planned}");
    assert_eq!(
        intent["payload"]["requests"],
        json!([{
            "method": "POST", "url": format!("{base}/linkedin/rest/posts"),
            "headers": { "Authorization": "Bearer ***", "LinkedIn-Version": "202610",
                "X-Restli-Protocol-Version": "2.0.0", "Content-Type": "application/json" },
            "body": { "author": author,
                "commentary": format!("Hello \\(world\\) from {name} \\@team\n\nFollow for more\n\n#launch #almanac"),
                "visibility": "PUBLIC",
                "distribution": { "feedDistribution": "MAIN_FEED", "targetEntities": [],
                    "thirdPartyDistributionChannels": [] },
                "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": false },
            "effect": "publishes",
        }])
    );
    assert_eq!(s.post_calls(), 2 * n, "a dry run sends nothing");

    let id = s.publish_on(now, channel).await;
    let published = s.settled(&id, "published").await;
    let posts = s.fake.with(|f| f.li_posts.clone());
    assert_eq!(posts.len(), 2 * n + 1);
    let post = posts.last().unwrap();
    assert_eq!(post.author, author);
    assert_eq!(published["remotePostId"], post.urn.as_str());

    let day = format!("2030-01-{:02}", 8 + n);
    let at = format!("{day}T08:00:00Z");
    let later = s
        .entry(Entry {
            at: &at,
            ..text(&format!("Scheduled news from {name}"))
        })
        .await;
    let (status, scheduled) = s
        .publish(json!({ "entryIds": [later], "channels": [channel], "dryRun": false, "when": "scheduled" }))
        .await;
    assert_eq!(status, 200, "{scheduled}");
    let intent = &scheduled["data"]["intents"][0];
    assert_eq!(intent["status"], "scheduled");
    let later_id = intent["id"].as_str().unwrap().to_owned();
    assert_eq!(s.tick(&format!("{day}T07:59:00Z")).await.dispatched, 0);
    assert_eq!(s.tick(&at).await.dispatched, 1);
    let published = s.settled(&later_id, "published").await;
    let posts = s.fake.with(|f| f.li_posts.clone());
    assert_eq!(posts.len(), 2 * n + 2);
    let post = posts.last().unwrap();
    assert_eq!(post.author, author);
    assert_eq!(
        post.commentary,
        commentary(&format!("Scheduled news from {name}"))
    );
    assert_eq!(published["remotePostId"], post.urn.as_str());

    // Asked again, nothing is posted twice.
    let (_, again) = s
        .publish(json!({ "entryIds": [now, later], "channels": [channel], "dryRun": false }))
        .await;
    for intent in again["data"]["intents"].as_array().unwrap() {
        assert_eq!(intent["status"], "published", "{again}");
    }
    assert_eq!(s.post_calls(), 2 * n + 2);
}

#[tokio::test]
async fn a_member_and_their_page_connect_together_and_each_posts_exactly_once() {
    let s = setup().await;
    let (state, query) = start_connect(&s, s.user, "linkedin").await;
    assert_eq!(query["client_id"], "linkedin-client");
    assert_eq!(
        query["scope"],
        "openid profile w_member_social w_organization_social r_organization_social"
    );
    let carried = callback(&s, "linkedin", &format!("code=good-code&state={state}")).await;
    let (status, connected) = complete(&s, s.user, "linkedin", &carried).await;
    assert_eq!(status, 200, "{connected}");
    let data = &connected["data"];
    assert_eq!(data["accountId"], LI_MEMBER);
    assert_eq!(data["handle"], "Ada Lovelace");
    assert_eq!(data["status"], "connected");
    let pages = data["alsoConnected"].as_array().unwrap();
    assert_eq!(pages.len(), 1, "{connected}");
    assert_eq!(pages[0]["accountId"], LI_PAGE);
    assert_eq!(pages[0]["handle"], "Devtestco");
    assert_eq!(pages[0]["status"], "connected");
    assert!(!connected.to_string().contains("li-token"));
    let exchange = &s.fake.calls_to("/linkedin/oauth/v2/accessToken")[0];
    assert_eq!(exchange.query["grant_type"], "authorization_code");
    assert_eq!(exchange.query["client_secret"], "linkedin-secret");
    let member: Uuid = data["id"].as_str().unwrap().parse().unwrap();
    let page: Uuid = pages[0]["id"].as_str().unwrap().parse().unwrap();
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"].as_array().unwrap().len(), 2);
    // Whose name each posts under, as the platform's adapter reads it.
    assert_eq!(data["authorKind"], "member");
    assert_eq!(pages[0]["authorKind"], "organization");
    let kinds: Vec<(&str, &str)> = channels["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["accountId"].as_str().unwrap(),
                c["authorKind"].as_str().unwrap(),
            )
        })
        .collect();
    // Listed by account id: the page's URN sorts before the member's.
    assert_eq!(kinds, [(LI_PAGE, "organization"), (LI_MEMBER, "member")]);

    // Each author: the dry run with the exact post, then now, then at the entry's time.
    for (n, (channel, author, name)) in [(member, LI_MEMBER, "Ada"), (page, LI_PAGE, "Devtestco")]
        .into_iter()
        .enumerate()
    {
        posts_exactly_once(&s, n, channel, author, name).await;
    }
    // Every REST call named the version and the protocol.
    for call in s.rest_calls() {
        assert_eq!(
            call.headers.get("linkedin-version").map(String::as_str),
            Some("202610")
        );
        assert_eq!(
            call.headers
                .get("x-restli-protocol-version")
                .map(String::as_str),
            Some("2.0.0")
        );
    }
}

#[tokio::test]
async fn an_image_post_uploads_its_image_before_the_post() {
    let s = setup().await;
    let page = s.linkedin(LI_PAGE, None, 5_184_000).await;
    let image = format!("{}/linkedin/cdn/launch.jpg", s.fake.base_url());
    let entry = s
        .entry(Entry {
            format: "image",
            media: Some(&image),
            ..Entry::on("linkedin", "Our new look")
        })
        .await;
    let (_, planned) = s
        .publish(json!({ "entryIds": [entry], "channels": [page] }))
        .await;
    let requests = planned["data"]["intents"][0]["payload"]["requests"].clone();
    let steps: Vec<(String, String, String)> = requests
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |v: &Value| v.as_str().unwrap().to_owned();
            (text(&r["method"]), text(&r["url"]), text(&r["effect"]))
        })
        .collect();
    let base = s.fake.base_url();
    assert_eq!(
        steps,
        [
            ("GET".into(), image.clone(), "read-only".into()),
            (
                "POST".into(),
                format!("{base}/linkedin/rest/images?action=initializeUpload"),
                "harmless".into()
            ),
            ("PUT".into(), "<upload_url>".into(), "harmless".into()),
            (
                "POST".into(),
                format!("{base}/linkedin/rest/posts"),
                "publishes".into()
            ),
        ]
    );
    assert_eq!(
        requests[1]["body"],
        json!({ "initializeUploadRequest": { "owner": LI_PAGE } })
    );
    assert_eq!(
        requests[3]["body"]["content"],
        json!({ "media": { "id": "<image_urn>", "altText": "Launch day" } })
    );

    let id = s.publish_on(entry, page).await;
    s.settled(&id, "published").await;
    let (uploads, posts) = s.fake.with(|f| (f.li_images.clone(), f.li_posts.clone()));
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads["img-1"], Some("\"an image's bytes\"".len()));
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].image.as_deref(), Some("urn:li:image:img-1"));
    let order: Vec<String> = s
        .fake
        .all_calls()
        .iter()
        .filter(|c| c.path != "/linkedin/cdn/launch.jpg")
        .map(|c| format!("{} {}", c.method, c.path))
        .collect();
    assert_eq!(
        order,
        [
            "POST /linkedin/rest/images",
            "PUT /linkedin/upload/img-1",
            "POST /linkedin/rest/posts"
        ]
    );
}

#[tokio::test]
async fn a_lost_answer_is_read_back_for_a_page_and_unconfirmed_for_a_member() {
    let s = setup().await;
    let page = s.linkedin(LI_PAGE, None, 5_184_000).await;
    let member = s.linkedin(LI_MEMBER, None, 5_184_000).await;

    // A page: its recent posts show the post, which settles it.
    s.fake.with(|f| f.drop_after_publish = true);
    let entry = s.entry(text("Lost for a page")).await;
    let id = s.publish_on(entry, page).await;
    let published = s.settled(&id, "published").await;
    let posts = s.fake.with(|f| f.li_posts.clone());
    assert_eq!(posts.len(), 1);
    assert_eq!(published["remotePostId"], posts[0].urn.as_str());
    assert_eq!(s.post_calls(), 1, "sent once");
    let reads = s
        .rest_calls()
        .into_iter()
        .filter(|c| c.method == "GET" && c.path == "/linkedin/rest/posts")
        .collect::<Vec<_>>();
    assert!(!reads.is_empty());
    assert_eq!(reads[0].query["author"], LI_PAGE);
    assert!(s.was_unknown(&id).await);

    // A member: LinkedIn does not let apps read their posts; unconfirmed, never resent.
    s.fake.with(|f| f.drop_after_publish = true);
    let entry = s.entry(text("Lost for a member")).await;
    let id = s.publish_on(entry, member).await;
    let unconfirmed = s.settled(&id, "unconfirmed").await;
    assert_eq!(unconfirmed["error"]["code"], "PUBLISH_UNCONFIRMED");
    let message = unconfirmed["error"]["message"].as_str().unwrap();
    assert!(message.contains("look at the profile"), "{message}");
    assert_eq!(s.post_calls(), 2, "one post call each, never a second");
    assert_eq!(s.fake.with(|f| f.li_posts.len()), 2);
    let member_reads = s
        .rest_calls()
        .iter()
        .filter(|c| {
            c.method == "GET" && c.query.get("author").map(String::as_str) == Some(LI_MEMBER)
        })
        .count();
    assert_eq!(member_reads, 0, "nothing read that LinkedIn refuses");
}

#[tokio::test]
async fn a_duplicate_is_refused_and_never_retried_and_a_rate_limit_backs_off() {
    let s = setup().await;
    let member = s.linkedin(LI_MEMBER, None, 5_184_000).await;
    let first = s.entry(text("Same words")).await;
    let id = s.publish_on(first, member).await;
    s.settled(&id, "published").await;

    let second = s.entry(text("Same words")).await;
    let id = s.publish_on(second, member).await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "DUPLICATE_POST", "{failed}");
    assert_eq!(failed["error"]["platformCode"], "422 DUPLICATE_POST");
    assert_eq!(failed["attempts"], 1);
    assert_eq!(s.post_calls(), 2, "the duplicate was asked once");
    assert_eq!(s.fake.with(|f| f.li_posts.len()), 1);

    // 429: nothing applied, tried again after the ledger's backoff, posted once.
    s.fake.with(|f| f.li_rate_limited = 1);
    let third = s.entry(text("Busy day")).await;
    let id = s.publish_on(third, member).await;
    let published = s.settled(&id, "published").await;
    assert_eq!(published["attempts"], 2);
    assert_eq!(s.post_calls(), 4);
    assert_eq!(s.fake.with(|f| f.li_posts.len()), 2);
}

#[tokio::test]
async fn sixty_day_tokens_refresh_when_linkedin_gave_a_refresh_token_else_end_after_a_warning() {
    let s = setup().await;
    // With a refresh token (LinkedIn's partners): refreshed a week ahead, then used.
    let refreshed = s.linkedin(LI_PAGE, Some("li-refresh"), 2 * 86_400).await;
    s.update_channel(refreshed, "token_issued_at = now() - interval '58 days'")
        .await;
    let entry = s.entry(text("Fresh token")).await;
    let id = s.publish_on(entry, refreshed).await;
    s.settled(&id, "published").await;
    let grants = s.fake.calls_to("/linkedin/oauth/v2/accessToken");
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].query["grant_type"], "refresh_token");
    let post = s
        .rest_calls()
        .into_iter()
        .find(|c| c.path == "/linkedin/rest/posts")
        .unwrap();
    assert_eq!(post.authorization.as_deref(), Some("Bearer li-token-1"));

    // Without one: announced before it ends, used until then, `needs_reauth` after.
    let ending = s.linkedin(LI_MEMBER, None, 3 * 86_400).await;
    let ctx = s.app.worker_context(0);
    let warned = almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    assert_eq!(
        warned.iter().map(|w| w.channel_id).collect::<Vec<_>>(),
        [ending]
    );
    let entry = s.entry(text("Still works")).await;
    let id = s.publish_on(entry, ending).await;
    s.settled(&id, "published").await;
    assert_eq!(
        s.fake.calls_to("/linkedin/oauth/v2/accessToken").len(),
        1,
        "no refresh tried without a refresh token"
    );
    // Before the end nothing lapses; after it, the channel needs connecting again.
    let before = ManualClock::new(Utc::now() + Duration::days(2));
    assert!(
        almanac_worker::expiry::lapse(&ctx, &before)
            .await
            .unwrap()
            .is_empty()
    );
    let after = ManualClock::new(Utc::now() + Duration::days(3) + Duration::minutes(1));
    assert_eq!(
        almanac_worker::expiry::lapse(&ctx, &after).await.unwrap(),
        [ending]
    );
    assert!(
        almanac_worker::expiry::lapse(&ctx, &after)
            .await
            .unwrap()
            .is_empty(),
        "marked once"
    );
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let channel = channels["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == ending.to_string())
        .unwrap()
        .clone();
    assert_eq!(channel["status"], "needs_reauth");
    assert_eq!(
        channel["statusReason"],
        "the LinkedIn token expired; connect the channel again"
    );
    let another = s.entry(text("Too late")).await;
    let (status, refused) = s
        .publish(json!({ "entryIds": [another], "channels": [ending], "dryRun": false }))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "CHANNEL_AUTH_INVALID");
}

#[tokio::test]
async fn linkedin_rules_are_checked_before_anything_is_sent() {
    let s = setup().await;
    let (status, refused) = s
        .app
        .send_json(
            reqwest::Method::POST,
            s.user,
            "/v1/channels",
            &json!({ "platform": "linkedin", "accountId": "li_456", "accessToken": "li-token" }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "INVALID_ACCOUNT_ID");
    assert_eq!(refused["error"]["details"]["field"], "accountId");

    let member = s.linkedin(LI_MEMBER, None, 5_184_000).await;
    let long = "x".repeat(2_970);
    let too_long = s.entry(text(&long)).await;
    let video = s
        .entry(Entry {
            format: "short video",
            ..Entry::on("linkedin", "A clip")
        })
        .await;
    let (status, planned) = s
        .publish(json!({ "entryIds": [too_long, video], "channels": [member] }))
        .await;
    assert_eq!(status, 200, "{planned}");
    let intents = super::by_entry(&planned);
    let error = |id: Uuid| intents[&id.to_string()]["error"].clone();
    assert_eq!(error(too_long)["code"], "CAPTION_TOO_LONG");
    assert_eq!(
        error(too_long)["message"],
        "the LinkedIn commentary (caption, call to action and hashtags) is 3005 characters; the limit is 3000"
    );
    assert_eq!(error(video)["code"], "MEDIA_UNSUPPORTED");
    assert!(s.fake.all_calls().is_empty(), "nothing asked of LinkedIn");
}
