//! Threads (issue 56) against its fake (`almanac_publishing::platforms::threads::fake`, which the sandbox
//! serves too): connected through its consent page with its own app, the short-lived token
//! exchanged for a 60-day one; a dry run that counts each emoji as its bytes; text, image
//! and video posts sent once, now and at the entry's time with its latest text; a lost
//! answer read back; tokens refreshed a week ahead, by a publish or else by the expiry
//! check, and a refused refresh said at once (`needs_reauth`); the
//! quota read before publishing and a full one waited out, as is a rate limit.

use almanac_shared::clock::SystemClock;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Entry, Setup,
    channels::{callback, complete, start_connect},
    setup_plus,
};
use almanac_publishing::platforms::threads::fake::USER;

async fn setup() -> Setup {
    setup_plus(true, [("FETCH_ALLOW_PRIVATE_NETWORKS", "true".into())]).await
}

fn text(caption: &str) -> Entry<'_> {
    Entry {
        format: "post",
        media: None,
        ..Entry::on("threads", caption)
    }
}

impl Setup {
    /// Threads connected through its consent page; the channel's id.
    async fn threads(&self) -> Uuid {
        let (state, query) = start_connect(self, self.user, "threads").await;
        assert_eq!(query["client_id"], "threads-client");
        assert_eq!(
            query["scope"],
            "threads_basic,threads_content_publish,threads_manage_insights,threads_manage_replies"
        );
        let carried = callback(self, "threads", &format!("code=good-code&state={state}")).await;
        let (status, connected) = complete(self, self.user, "threads", &carried).await;
        assert_eq!(status, 200, "{connected}");
        connected["data"]["id"].as_str().unwrap().parse().unwrap()
    }

    fn threads_calls(&self, suffix: &str) -> usize {
        self.fake
            .all_calls()
            .iter()
            .filter(|c| c.path.starts_with("/threads/") && c.path.ends_with(suffix))
            .count()
    }

    fn threads_posts(&self) -> Vec<crate::helpers::fake_platforms::Posted> {
        self.fake
            .posts()
            .into_iter()
            .filter(|p| p.platform == "threads")
            .collect()
    }
}

#[tokio::test]
async fn threads_connects_with_its_own_app_and_holds_a_post_to_500_with_emoji_as_bytes() {
    let s = setup().await;
    let channel = s.threads().await;
    let exchange = s.fake.calls_to("/threads/access_token");
    assert_eq!(exchange.len(), 1);
    assert_eq!(exchange[0].query["grant_type"], "th_exchange_token");
    assert_eq!(exchange[0].query["client_secret"], "threads-secret");
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let connected = &channels["data"]["items"][0];
    assert_eq!(connected["accountId"], USER);
    assert_eq!(connected["handle"], "almanac.studio");
    assert_eq!(connected["displayName"], "Almanac Studio");
    assert!(!channels.to_string().contains("th-token"));

    // 465 characters and the 35 of the call to action and hashtags make 500; one emoji
    // (4 bytes) in place of a letter makes 503.
    let at_most = s.entry(text(&"a".repeat(465))).await;
    let emoji = format!("🎉{}", "a".repeat(464));
    let over = s.entry(text(&emoji)).await;
    let (status, planned) = s
        .publish(json!({ "entryIds": [at_most, over], "channels": [channel] }))
        .await;
    assert_eq!(status, 200, "{planned}");
    let intents = super::by_entry(&planned);
    assert_eq!(
        intents[&at_most.to_string()]["status"],
        "dry_run",
        "{planned}"
    );
    let refused = &intents[&over.to_string()]["error"];
    assert_eq!(refused["code"], "CAPTION_TOO_LONG");
    assert_eq!(
        refused["message"],
        "the Threads post (caption, call to action and hashtags) is 503 characters, each emoji counted as its bytes; the limit is 500"
    );
    let requests = &intents[&at_most.to_string()]["payload"]["requests"];
    let base = s.fake.base_url();
    assert_eq!(
        requests[0]["url"],
        format!(
            "{base}/threads/v1.0/{USER}/threads_publishing_limit?fields=quota_usage,config&access_token=***"
        )
    );
    assert_eq!(requests[1]["body"]["media_type"], "TEXT");
    assert_eq!(requests[3]["effect"], "publishes");
    assert!(s.threads_posts().is_empty());
    assert_eq!(s.threads_calls("/threads_publish"), 0);
}

#[tokio::test]
async fn text_image_and_video_posts_go_out_once_now_and_at_their_time_with_the_latest_text() {
    let s = setup().await;
    let channel = s.threads().await;
    let now = s.entry(text("Hello from Almanac")).await;
    let id = s.publish_now(now, channel).await;
    let published = s.settled(&id, "published").await;
    let posts = s.threads_posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body["media_type"], "TEXT");
    assert_eq!(
        posts[0].body["text"],
        "Hello from Almanac\n\nFollow for more\n\n#launch #almanac"
    );
    assert_eq!(published["remotePostId"], posts[0].id.as_str());
    assert_eq!(
        published["postUrl"],
        format!(
            "https://www.threads.com/@almanac.studio/post/C{}",
            posts[0].id
        )
    );

    // An image and a video, pulled by Threads from their addresses.
    let image = s
        .entry(Entry {
            format: "image",
            media: Some("https://cdn.example.com/media/launch.jpg"),
            ..Entry::on("threads", "A picture")
        })
        .await;
    let video = s
        .entry(Entry {
            format: "short video",
            media: Some("https://cdn.example.com/media/launch.mp4"),
            ..Entry::on("threads", "A clip")
        })
        .await;
    for (entry, kind, field) in [(image, "IMAGE", "image_url"), (video, "VIDEO", "video_url")] {
        let id = s.publish_now(entry, channel).await;
        s.settled(&id, "published").await;
        let last = s.threads_posts().pop().unwrap();
        assert_eq!(last.body["media_type"], kind);
        let extension = if kind == "IMAGE" { "jpg" } else { "mp4" };
        assert_eq!(
            last.body[field],
            format!("https://cdn.example.com/media/launch.{extension}")
        );
    }

    // At the entry's time, with its text as it is then.
    let later = s
        .entry(Entry {
            at: "2030-01-09T09:00:00Z",
            ..text("First draft")
        })
        .await;
    s.scheduled_then_edited(later, channel, "2030-01-09T09:00:00Z")
        .await;
    assert_eq!(
        s.threads_posts().pop().unwrap().body["text"],
        "Final words\n\nFollow for more\n\n#launch #almanac"
    );
    assert_eq!(
        s.threads_calls("/threads_publish"),
        4,
        "each post sent once"
    );
}

#[tokio::test]
async fn a_lost_answer_is_read_back_and_never_sent_twice() {
    let s = setup().await;
    let channel = s.threads().await;
    s.fake.with(|f| f.drop_after_publish = true);
    let entry = s.entry(text("Lost and found")).await;
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    assert!(s.was_unknown(&id).await);
    let posts = s.threads_posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(published["remotePostId"], posts[0].id.as_str());
    assert_eq!(s.threads_calls("/threads_publish"), 1);

    s.fake.with(|f| {
        f.drop_after_publish = true;
        f.cannot_confirm = true;
    });
    let entry = s.entry(text("Lost for good")).await;
    let id = s.publish_now(entry, channel).await;
    s.settled(&id, "unconfirmed").await;
    assert_eq!(s.threads_calls("/threads_publish"), 2);
    assert_eq!(s.threads_posts().len(), 2);
}

#[tokio::test]
async fn tokens_refresh_a_week_ahead_with_or_without_a_publish_and_a_refusal_is_said() {
    let s = setup().await;
    let channel = s.threads().await;
    // Six days left, issued long ago: refreshed before the publish.
    s.update_channel(
        channel,
        "token_expires_at = now() + interval '6 days', token_issued_at = now() - interval '54 days'",
    )
    .await;
    let entry = s.entry(text("Fresh token")).await;
    let id = s.publish_now(entry, channel).await;
    s.settled(&id, "published").await;
    let refreshes = s.fake.calls_to("/threads/refresh_access_token");
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].query["grant_type"], "th_refresh_token");

    // Three days left and no publish due: the expiry check refreshes it rather than let it
    // lapse, and has nothing to announce.
    s.update_channel(
        channel,
        "token_expires_at = now() + interval '3 days', token_issued_at = now() - interval '57 days'",
    )
    .await;
    let ctx = s.app.worker_context(0);
    let warned = almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    assert!(warned.is_empty(), "{warned:?}");
    assert_eq!(s.fake.calls_to("/threads/refresh_access_token").len(), 2);
    let fresh: bool = sqlx::query_scalar(
        "select token_expires_at > now() + interval '59 days' from platform_accounts where id = $1",
    )
    .bind(channel)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert!(fresh, "refreshed for another 60 days");

    // One Threads refuses to refresh: the channel needs connecting again, said at once.
    s.fake.with(|f| f.refuse_refresh = true);
    s.update_channel(
        channel,
        "token_expires_at = now() + interval '3 days', token_issued_at = now() - interval '57 days'",
    )
    .await;
    let warned = almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    assert!(warned.is_empty(), "{warned:?}");
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"][0]["status"], "needs_reauth");
}

#[tokio::test]
async fn a_full_quota_and_a_rate_limit_defer_the_post_instead_of_failing_it() {
    let s = setup().await;
    let channel = s.threads().await;
    // The quota read before publishing: full, the dry run says so.
    s.fake.with(|f| f.threads.quota_usage = 250);
    let entry = s.entry(text("Quota day")).await;
    let (status, planned) = s
        .publish(json!({ "entryIds": [entry], "channels": [channel] }))
        .await;
    assert_eq!(status, 200, "{planned}");
    let error = &planned["data"]["intents"][0]["error"];
    assert_eq!(error["code"], "DAILY_QUOTA_EXHAUSTED", "{planned}");
    assert_eq!(error["platformCode"], "threads_publishing_limit");
    assert_eq!(s.threads_calls("/threads_publish"), 0);

    // Published while full: the publish waits an hour for a place, and is not failed.
    let waiting = s.entry(text("Waits for a place")).await;
    let id = s.publish_now(waiting, channel).await;
    assert_eq!(
        s.deferred(&id, "50 minutes").await,
        0,
        "waiting spends no attempt"
    );
    assert_eq!(s.threads_calls("/threads_publish"), 0);
    // An hour on, a place is free: it goes out, once.
    s.fake.with(|f| f.threads.quota_usage = 249);
    s.release(&id).await;
    s.settled(&id, "published").await;
    assert_eq!(s.threads_calls("/threads_publish"), 1);

    // Graph API rate limits (613), more of them than a publish has attempts: each waits
    // what the usage header says, without spending an attempt.
    s.fake.with(|f| {
        f.threads.quota_usage = 0;
        f.threads.rate_limited = 4;
        f.threads.regain_minutes = 0;
    });
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    assert_eq!(published["error"], Value::Null);
    assert_eq!(s.attempts(&id).await, 1);
    assert_eq!(s.threads_calls("/threads_publish"), 6);
    assert_eq!(s.threads_posts().len(), 2);
}
