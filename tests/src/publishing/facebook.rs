//! Facebook Pages (issue 56) against its fake (`almanac_publishing::platforms::facebook::fake`, which the
//! sandbox serves too): connected through Facebook Login, every page the person manages a
//! channel with its own page token; a dry run with its refusals in words; text, photo and
//! video posts sent once, now and at the entry's time with its latest text; a lost answer
//! read back from the page's posts; page tokens that never expire (nothing refreshed or
//! announced ahead) and one Facebook stopped taking announced at once; a page's rate limit
//! deferring the post.

use almanac_shared::clock::SystemClock;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Entry, Setup,
    channels::{callback, complete, start_connect},
    setup_plus,
};
use almanac_publishing::platforms::facebook::fake::{PAGES, page_token};

async fn setup() -> Setup {
    setup_plus(true, [("FETCH_ALLOW_PRIVATE_NETWORKS", "true".into())]).await
}

fn text(caption: &str) -> Entry<'_> {
    Entry {
        format: "post",
        media: None,
        ..Entry::on("facebook", caption)
    }
}

impl Setup {
    /// Facebook connected through its login dialog: the channels of the two pages, by page.
    async fn facebook(&self) -> (Uuid, Uuid) {
        let (state, query) = start_connect(self, self.user, "facebook").await;
        assert_eq!(query["client_id"], "facebook-client");
        assert_eq!(
            query["scope"],
            "pages_show_list,pages_manage_posts,pages_read_engagement,pages_manage_engagement,pages_read_user_engagement,publish_video,read_insights"
        );
        let carried = callback(self, "facebook", &format!("code=good-code&state={state}")).await;
        let (status, connected) = complete(self, self.user, "facebook", &carried).await;
        assert_eq!(status, 200, "{connected}");
        let first = connected["data"]["id"].as_str().unwrap().parse().unwrap();
        let also = &connected["data"]["alsoConnected"];
        assert_eq!(also.as_array().unwrap().len(), 1, "{connected}");
        (first, also[0]["id"].as_str().unwrap().parse().unwrap())
    }

    fn facebook_posts(&self) -> Vec<crate::helpers::fake_platforms::Posted> {
        self.fake
            .posts()
            .into_iter()
            .filter(|p| p.platform == "facebook")
            .collect()
    }

    /// Posting calls to a page's feed, photos or videos.
    fn facebook_sends(&self) -> usize {
        self.fake
            .all_calls()
            .iter()
            .filter(|c| c.method == "POST" && c.path.starts_with("/facebook/"))
            .count()
    }
}

#[tokio::test]
async fn each_page_connects_as_a_channel_with_its_own_token_and_a_dry_run_says_its_refusals() {
    let s = setup().await;
    let (leafy, shop) = s.facebook().await;
    // The code's user token made long-lived, then the pages listed with it.
    let grants = s.fake.calls_to("/facebook/v25.0/oauth/access_token");
    assert_eq!(grants.len(), 2);
    assert_eq!(grants[0].query["code"], "good-code");
    assert_eq!(grants[1].query["grant_type"], "fb_exchange_token");
    assert_eq!(grants[1].query["fb_exchange_token"], "fb-short");
    let accounts = s.fake.calls_to("/me/accounts");
    assert_eq!(accounts.len(), 1);
    assert!(accounts[0].query["access_token"].starts_with("fb-user-"));
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let listed: Vec<(&str, &str, &str)> = channels["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["accountId"].as_str().unwrap(),
                c["handle"].as_str().unwrap(),
                c["displayName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 2);
    for (id, name, username) in PAGES {
        assert!(listed.contains(&(id, username, name)), "{listed:?}");
    }
    assert_eq!(channels["data"]["items"][0]["tokenExpiresAt"], Value::Null);
    assert!(!channels.to_string().contains("fb-page"));

    // Refusals in words: no text, too long, a draft.
    let empty = s.entry(text("")).await;
    sqlx::query("update calendar_entries set hashtags = '{}', call_to_action = '' where id = $1")
        .bind(empty)
        .execute(&s.app.db)
        .await
        .unwrap();
    let long = s.entry(text(&"a".repeat(63_200))).await;
    let fine = s.entry(text("Open on Sunday")).await;
    let (status, planned) = s
        .publish(json!({ "entryIds": [empty, long, fine], "channels": [leafy] }))
        .await;
    assert_eq!(status, 200, "{planned}");
    let intents = super::by_entry(&planned);
    let error = |id: Uuid| intents[&id.to_string()]["error"].clone();
    assert_eq!(error(empty)["code"], "CAPTION_REQUIRED");
    assert_eq!(
        error(empty)["message"],
        "a Facebook text post needs text: write the entry's caption"
    );
    assert_eq!(
        error(long)["message"],
        "the Facebook post (caption, call to action and hashtags) is 63235 characters; the limit is 63206"
    );
    assert_eq!(intents[&fine.to_string()]["status"], "dry_run");
    let requests = &intents[&fine.to_string()]["payload"]["requests"];
    let base = s.fake.base_url();
    assert_eq!(
        requests,
        &json!([{ "method": "POST",
            "url": format!("{base}/facebook/v25.0/{}/feed?access_token=***", PAGES[0].0),
            "headers": null,
            "body": { "message": "Open on Sunday\n\nFollow for more\n\n#launch #almanac" },
            "effect": "publishes" }])
    );
    let (status, draft) = s
        .publish(json!({ "entryIds": [fine], "channels": [shop], "mode": "draft" }))
        .await;
    assert_eq!(status, 200, "{draft}");
    assert_eq!(
        draft["data"]["intents"][0]["error"]["code"],
        "DRAFT_UNSUPPORTED"
    );
    assert_eq!(s.facebook_sends(), 0);
}

#[tokio::test]
async fn a_login_sharing_no_page_connects_nothing_and_says_why() {
    let s = setup().await;
    s.fake.with(|f| f.facebook.no_pages = true);
    let (state, _) = start_connect(&s, s.user, "facebook").await;
    let carried = callback(&s, "facebook", &format!("code=good-code&state={state}")).await;
    let (status, refused) = complete(&s, s.user, "facebook", &carried).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "OAUTH_EXCHANGE_FAILED");
    assert_eq!(refused["error"]["details"]["platformCode"], "NO_ACCOUNT");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Facebook shared no Page you can post to"),
        "{refused}"
    );
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"], json!([]));
}

#[tokio::test]
async fn text_photo_and_video_posts_go_out_once_with_the_page_s_token_now_and_at_their_time() {
    let s = setup().await;
    let (leafy, shop) = s.facebook().await;
    let now = s.entry(text("Hello from Almanac")).await;
    let id = s.publish_now(now, shop).await;
    let published = s.settled(&id, "published").await;
    let posts = s.facebook_posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body["page"], PAGES[1].0);
    assert_eq!(
        posts[0].body["message"],
        "Hello from Almanac\n\nFollow for more\n\n#launch #almanac"
    );
    let sent = s.fake.calls_to("/feed");
    assert_eq!(sent[0].query["access_token"], page_token(PAGES[1].0));
    assert_eq!(published["remotePostId"], posts[0].id.as_str());
    let (page, post) = posts[0].id.split_once('_').unwrap();
    assert_eq!(
        published["postUrl"],
        format!("https://www.facebook.com/{page}/posts/{post}")
    );

    // A photo (with its caption) and a video, fetched by Facebook from their addresses.
    let photo = s
        .entry(Entry {
            format: "image",
            media: Some("https://cdn.example.com/media/launch.jpg"),
            ..Entry::on("facebook", "A picture")
        })
        .await;
    let video = s
        .entry(Entry {
            format: "short video",
            media: Some("https://cdn.example.com/media/launch.mp4"),
            ..Entry::on("facebook", "A clip")
        })
        .await;
    let id = s.publish_now(photo, leafy).await;
    let published = s.settled(&id, "published").await;
    let last = s.facebook_posts().pop().unwrap();
    assert_eq!(last.body["edge"], "photos");
    assert_eq!(last.body["url"], "https://cdn.example.com/media/launch.jpg");
    assert_eq!(
        last.body["caption"],
        "A picture\n\nFollow for more\n\n#launch #almanac"
    );
    assert_eq!(published["remotePostId"], last.id.as_str(), "the post's id");
    let id = s.publish_now(video, leafy).await;
    let published = s.settled(&id, "published").await;
    let last = s.facebook_posts().pop().unwrap();
    assert_eq!(last.body["edge"], "videos");
    assert_eq!(
        last.body["file_url"],
        "https://cdn.example.com/media/launch.mp4"
    );
    assert_eq!(last.body["title"], "Launch day");
    assert_eq!(
        published["postUrl"],
        format!(
            "https://www.facebook.com/{}/videos/{}/",
            PAGES[0].0, last.id
        )
    );

    // At the entry's time, with its text as it is then.
    let later = s
        .entry(Entry {
            at: "2030-01-09T09:00:00Z",
            ..text("First draft")
        })
        .await;
    s.scheduled_then_edited(later, leafy, "2030-01-09T09:00:00Z")
        .await;
    assert_eq!(
        s.facebook_posts().pop().unwrap().body["message"],
        "Final words\n\nFollow for more\n\n#launch #almanac"
    );
    assert_eq!(s.facebook_sends(), 4, "each post sent once");
    assert_eq!(s.facebook_posts().len(), 4);
}

#[tokio::test]
async fn a_lost_answer_is_read_back_from_the_page_and_never_sent_twice() {
    let s = setup().await;
    let (leafy, _) = s.facebook().await;
    s.fake.with(|f| f.drop_after_publish = true);
    let entry = s.entry(text("Lost and found")).await;
    let id = s.publish_now(entry, leafy).await;
    let published = s.settled(&id, "published").await;
    assert!(s.was_unknown(&id).await);
    let posts = s.facebook_posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(published["remotePostId"], posts[0].id.as_str());
    assert_eq!(s.facebook_sends(), 1);
    let read = s.fake.calls_to("/published_posts");
    assert!(!read.is_empty());
    assert!(read[0].query["since"].parse::<i64>().is_ok());

    // A video's lost answer is looked for among the page's videos; never found, it ends
    // unconfirmed, still sent once.
    s.fake.with(|f| {
        f.drop_after_publish = true;
        f.cannot_confirm = true;
    });
    let clip = s
        .entry(Entry {
            format: "short video",
            media: Some("https://cdn.example.com/media/launch.mp4"),
            ..Entry::on("facebook", "Lost for good")
        })
        .await;
    let id = s.publish_now(clip, leafy).await;
    s.settled(&id, "unconfirmed").await;
    assert!(
        !s.fake
            .calls_to(&format!("{}/videos", PAGES[0].0))
            .is_empty()
    );
    assert_eq!(s.facebook_sends(), 2);
    assert_eq!(s.facebook_posts().len(), 2);
}

#[tokio::test]
async fn page_tokens_never_expire_and_one_facebook_stops_taking_is_announced() {
    let s = setup().await;
    let (leafy, shop) = s.facebook().await;
    // No expiry: the expiry check has nothing to refresh or announce.
    let ctx = s.app.worker_context(0);
    let warned = almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    assert!(warned.is_empty(), "{warned:?}");
    assert_eq!(
        s.fake.calls_to("/oauth/access_token").len(),
        2,
        "no refresh"
    );

    // The person changed their password: the page's token is refused, the publish fails
    // for it and the channel needs connecting again; the other page is untouched.
    s.fake
        .with(|f| f.facebook.revoked.push(page_token(PAGES[0].0)));
    let entry = s.entry(text("After the password change")).await;
    let id = s.publish_now(entry, leafy).await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "CHANNEL_AUTH_INVALID");
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let status = |id: Uuid| {
        channels["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id.to_string())
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status(leafy), "needs_reauth");
    assert_eq!(status(shop), "connected");
    assert!(s.facebook_posts().is_empty());
}

#[tokio::test]
async fn a_page_rate_limit_defers_the_post_without_spending_attempts() {
    let s = setup().await;
    let (leafy, _) = s.facebook().await;
    // More refusals (code 32) than a publish has attempts: each waits what the usage
    // header says, never failed.
    s.fake.with(|f| {
        f.facebook.rate_limited = 4;
        f.facebook.regain_minutes = 0;
    });
    let entry = s.entry(text("Busy page")).await;
    let id = s.publish_now(entry, leafy).await;
    let published = s.settled(&id, "published").await;
    assert_eq!(published["error"], Value::Null);
    assert_eq!(s.attempts(&id).await, 1);
    assert_eq!(s.facebook_sends(), 5);
    assert_eq!(s.facebook_posts().len(), 1);

    // A longer wait, as the header says: the job is deferred by it.
    s.fake.with(|f| {
        f.facebook.rate_limited = 1;
        f.facebook.regain_minutes = 30;
    });
    let entry = s.entry(text("Later on")).await;
    let id = s.publish_now(entry, leafy).await;
    assert_eq!(s.deferred(&id, "25 minutes").await, 0);
    s.release(&id).await;
    s.settled(&id, "published").await;
    assert_eq!(s.facebook_posts().len(), 2);
}
