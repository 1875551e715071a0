//! YouTube (issue 56) against its fake (`almanac_publishing::platforms::youtube::fake`, which the sandbox
//! serves too): connected offline with consent; a dry run holding the title and the
//! description to their limits; a video uploaded once by a resumable `videos.insert`, now
//! and at the entry's time with its latest text; a lost answer read from the session, else
//! from the channel's uploads by Almanac's marker; tokens refreshed before they expire, a
//! "Testing" project's lapsing refresh token announced and a refused one said at once; the
//! project's daily uploads counted per Pacific day and a post past them deferred, as are
//! YouTube's own quota and rate-limit refusals.

use almanac_shared::clock::SystemClock;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Entry, Setup,
    channels::{callback, complete, start_connect},
    setup_plus,
};
use crate::media::{mp4, multipart};
use almanac_publishing::platforms::youtube::fake::CHANNEL;

async fn setup() -> Setup {
    setup_with_uploads(100).await
}

async fn setup_with_uploads(daily: u32) -> Setup {
    setup_plus(true, [("YOUTUBE_DAILY_UPLOADS", daily.to_string())]).await
}

fn video(caption: &str) -> Entry<'_> {
    Entry {
        format: "short video",
        media: None,
        ..Entry::on("youtube", caption)
    }
}

impl Setup {
    /// YouTube connected through Google's consent page; the channel's id.
    async fn youtube(&self) -> Uuid {
        self.youtube_as(self.user).await
    }

    async fn youtube_as(&self, user: Uuid) -> Uuid {
        let (state, query) = start_connect(self, user, "youtube").await;
        assert_eq!(query["client_id"], "youtube-client");
        assert_eq!(
            query["scope"],
            "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly https://www.googleapis.com/auth/youtube.force-ssl"
        );
        assert_eq!(query["access_type"], "offline");
        assert_eq!(query["prompt"], "consent");
        let carried = callback(self, "youtube", &format!("code=good-code&state={state}")).await;
        let (status, connected) = complete(self, user, "youtube", &carried).await;
        assert_eq!(status, 200, "{connected}");
        connected["data"]["id"].as_str().unwrap().parse().unwrap()
    }

    /// A video entry with an uploaded MP4.
    async fn clip(&self, entry: Entry<'_>) -> Uuid {
        let id = self.entry(entry).await;
        self.attach(id, multipart("clip.mp4", "video/mp4", &mp4(), None))
            .await;
        id
    }

    /// A video entry of another user's calendar (`of`), with an MP4 they uploaded.
    async fn clip_of(&self, of: (Uuid, Uuid), entry: Entry<'_>) -> Uuid {
        let id = self.entry_of(of, entry).await;
        self.attach_as(of.0, id, multipart("clip.mp4", "video/mp4", &mp4(), None))
            .await;
        id
    }

    fn videos(&self) -> Vec<crate::helpers::fake_platforms::Posted> {
        self.fake
            .posts()
            .into_iter()
            .filter(|p| p.platform == "youtube")
            .collect()
    }

    /// The `PUT`s that sent a video's bytes (not the status checks).
    fn uploads(&self) -> usize {
        self.fake
            .calls_to("/youtube/upload/youtube/v3/videos")
            .iter()
            .filter(|c| c.method == "PUT" && !c.headers.contains_key("content-range"))
            .count()
    }
}

#[tokio::test]
async fn youtube_connects_offline_and_a_dry_run_holds_title_and_description_to_their_limits() {
    let s = setup().await;
    let channel = s.youtube().await;
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let connected = &channels["data"]["items"][0];
    assert_eq!(connected["accountId"], CHANNEL);
    assert_eq!(connected["handle"], "@leafyco");
    assert_eq!(connected["displayName"], "Leafy Co");
    assert!(!channels.to_string().contains("yt-token"));
    let (lifetime, refresh): (f64, bool) = sqlx::query_as(
        "select extract(epoch from token_expires_at - now())::float8, refresh_token is not null
         from platform_accounts where id = $1",
    )
    .bind(channel)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert!((3000.0..=3600.0).contains(&lifetime), "{lifetime}");
    assert!(refresh, "offline access keeps a refresh token");

    let fine = s.clip(video("Launch teaser")).await;
    let no_video = s.entry(video("No clip")).await;
    let long_title = "t".repeat(101);
    let titled = s
        .clip(Entry {
            title: &long_title,
            ..video("Long title")
        })
        .await;
    let angled = s
        .clip(Entry {
            title: "Launch <day>",
            ..video("Angles")
        })
        .await;
    // 4,942 bytes and the 35 of the call to action and hashtags make the 4,977 a
    // description may have besides Almanac's marker line; one more is too many.
    let at_most = s.clip(video(&"d".repeat(4942))).await;
    let over = s.clip(video(&"d".repeat(4943))).await;
    let (status, planned) = s
        .publish(
            json!({ "entryIds": [fine, no_video, titled, angled, at_most, over],
            "channels": [channel] }),
        )
        .await;
    assert_eq!(status, 200, "{planned}");
    let intents = super::by_entry(&planned);
    let code = |id: Uuid| intents[&id.to_string()]["error"]["code"].clone();
    assert_eq!(intents[&fine.to_string()]["status"], "dry_run");
    assert_eq!(intents[&at_most.to_string()]["status"], "dry_run");
    assert_eq!(code(no_video), "MEDIA_REQUIRED");
    assert_eq!(code(titled), "TITLE_TOO_LONG");
    assert_eq!(code(angled), "TITLE_INVALID");
    assert_eq!(code(over), "CAPTION_TOO_LONG");
    assert_eq!(
        intents[&over.to_string()]["error"]["message"],
        "the YouTube description (caption, call to action and hashtags) is 4978 bytes; the limit is 4977 (5000, less Almanac's marker line)"
    );
    let requests = &intents[&fine.to_string()]["payload"]["requests"];
    let base = s.fake.base_url();
    assert_eq!(
        requests[0]["url"],
        format!("{base}/youtube/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status")
    );
    assert_eq!(requests[0]["effect"], "harmless");
    assert_eq!(requests[0]["body"]["snippet"]["title"], "Launch day");
    assert_eq!(requests[0]["body"]["status"]["privacyStatus"], "public");
    assert_eq!(requests[1]["method"], "PUT");
    assert_eq!(requests[1]["effect"], "publishes");
    assert!(
        s.fake
            .calls_to("/youtube/upload/youtube/v3/videos")
            .is_empty()
    );
}

#[tokio::test]
async fn a_video_is_uploaded_once_by_a_resumable_insert_now_and_at_its_time() {
    let s = setup().await;
    let channel = s.youtube().await;
    let now = s.clip(video("Hello from Almanac")).await;
    let id = s
        .publish_one(
            json!({ "entryIds": [now], "channels": [channel], "dryRun": false,
            "privacyLevel": "SELF_ONLY" }),
        )
        .await;
    let published = s.settled(&id, "published").await;
    let videos = s.videos();
    assert_eq!(videos.len(), 1);
    let sent = &videos[0].body;
    assert_eq!(sent["bytes"], mp4().len());
    assert_eq!(sent["contentType"], "video/mp4");
    assert_eq!(sent["snippet"]["title"], "Launch day");
    assert_eq!(sent["status"]["privacyStatus"], "private");
    let description = sent["snippet"]["description"].as_str().unwrap();
    let (text, marker) = description.rsplit_once("\n\n").unwrap();
    assert_eq!(
        text,
        "Hello from Almanac\n\nFollow for more\n\n#launch #almanac"
    );
    let tid = marker.strip_prefix("almanac:").unwrap();
    assert!(
        almanac_publishing::platforms::bluesky::tid::is_valid(tid),
        "{marker}"
    );
    assert_eq!(published["remotePostId"], videos[0].id.as_str());
    assert_eq!(
        published["postUrl"],
        format!("https://www.youtube.com/watch?v={}", videos[0].id)
    );
    // The session was opened with the video's size and type.
    let opened = s
        .fake
        .calls_to("/youtube/upload/youtube/v3/videos")
        .into_iter()
        .find(|c| c.method == "POST")
        .unwrap();
    assert_eq!(
        opened.headers["x-upload-content-length"],
        mp4().len().to_string()
    );
    assert_eq!(opened.headers["x-upload-content-type"], "video/mp4");

    // At the entry's time, with its text as it is then.
    let later = s
        .clip(Entry {
            at: "2030-01-09T09:00:00Z",
            ..video("First draft")
        })
        .await;
    s.scheduled_then_edited(later, channel, "2030-01-09T09:00:00Z")
        .await;
    let last = s.videos().pop().unwrap();
    assert!(
        last.body["snippet"]["description"]
            .as_str()
            .unwrap()
            .starts_with("Final words\n\n")
    );
    assert_eq!(last.body["status"]["privacyStatus"], "public");
    assert_eq!(s.uploads(), 2, "each video sent once");
}

#[tokio::test]
async fn a_lost_answer_is_read_from_the_session_else_from_the_uploads_and_never_sent_twice() {
    let s = setup().await;
    let channel = s.youtube().await;
    // The session says the video is in.
    s.fake.with(|f| f.drop_after_publish = true);
    let entry = s.clip(video("Lost and found")).await;
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    assert!(s.was_unknown(&id).await);
    assert_eq!(published["remotePostId"], s.videos()[0].id.as_str());
    let asked = s
        .fake
        .calls_to("/youtube/upload/youtube/v3/videos")
        .into_iter()
        .filter(|c| c.headers.contains_key("content-range"))
        .collect::<Vec<_>>();
    assert_eq!(
        asked[0].headers["content-range"],
        format!("bytes */{}", mp4().len())
    );

    // The session is gone: the channel's uploads show the video by its marker.
    s.fake.with(|f| {
        f.drop_after_publish = true;
        f.youtube.forget_sessions = true;
    });
    let entry = s.clip(video("Found in the uploads")).await;
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    assert_eq!(published["remotePostId"], s.videos()[1].id.as_str());
    assert!(
        !s.fake
            .calls_to("/youtube/youtube/v3/playlistItems")
            .is_empty()
    );

    // Neither shows it: unconfirmed, still sent once.
    s.fake.with(|f| {
        f.drop_after_publish = true;
        f.cannot_confirm = true;
    });
    let entry = s.clip(video("Lost for good")).await;
    let id = s.publish_now(entry, channel).await;
    s.settled(&id, "unconfirmed").await;
    assert_eq!(s.uploads(), 3);
    assert_eq!(s.videos().len(), 3);
}

#[tokio::test]
async fn tokens_refresh_before_expiry_and_a_lapsing_or_refused_refresh_token_is_announced() {
    let s = setup().await;
    // A project in "Testing" status: its refresh tokens lapse after days, said by Google.
    s.fake
        .with(|f| f.youtube.refresh_lifetime = Some(6 * 86_400));
    let channel = s.youtube().await;
    s.update_channel(channel, "token_expires_at = now() + interval '2 minutes'")
        .await;
    let entry = s.clip(video("Fresh token")).await;
    let id = s.publish_now(entry, channel).await;
    s.settled(&id, "published").await;
    let grants = s.fake.calls_to("/youtube/token");
    assert_eq!(grants.len(), 2, "the code, then one refresh");
    assert_eq!(grants[1].query["grant_type"], "refresh_token");

    // Its refresh token lapses within the warning window: the owner is told, once.
    let ctx = s.app.worker_context(0);
    let warned = almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    assert_eq!(
        warned.iter().map(|w| w.channel_id).collect::<Vec<_>>(),
        [channel]
    );
    let again = almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");

    // Google refuses the refresh: the publish is refused at once, and the channel needs
    // connecting again.
    s.fake.with(|f| f.refuse_refresh = true);
    s.update_channel(channel, "token_expires_at = now() - interval '1 minute'")
        .await;
    let entry = s.clip(video("Refused")).await;
    let (status, refused) = s
        .publish(json!({ "entryIds": [entry], "channels": [channel], "dryRun": false }))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "CHANNEL_AUTH_INVALID");
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"][0]["status"], "needs_reauth");
    assert_eq!(s.videos().len(), 1);
}

#[tokio::test]
async fn uploads_past_the_daily_count_wait_for_the_pacific_midnight_as_do_youtube_s_refusals() {
    let s = setup_with_uploads(2).await;
    let channel = s.youtube().await;
    let (_, platforms) = s.app.get_json(s.user, "/v1/platforms").await;
    let youtube = platforms["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "youtube")
        .unwrap()
        .clone();
    assert_eq!(
        youtube["quota"],
        json!({ "limit": 2, "windowSecs": 86400, "per": "app", "source": "counted", "counts": "posts" })
    );
    // A dry run of three: the two places left go to the first two.
    let mut entries = Vec::new();
    for caption in ["One", "Two", "Three"] {
        entries.push(s.clip(video(caption)).await);
    }
    let (status, planned) = s
        .publish(json!({ "entryIds": entries, "channels": [channel] }))
        .await;
    assert_eq!(status, 200, "{planned}");
    let intents = super::by_entry(&planned);
    assert_eq!(intents[&entries[0].to_string()]["status"], "dry_run");
    assert_eq!(intents[&entries[1].to_string()]["status"], "dry_run");
    assert_eq!(
        intents[&entries[2].to_string()]["error"]["message"],
        "the YouTube uploads left today for this Almanac server (shared by everyone who publishes through it) are taken by the entries before this one"
    );
    let mut ids = Vec::new();
    for entry in &entries[..2] {
        let id = s.publish_now(*entry, channel).await;
        s.settled(&id, "published").await;
        ids.push(id);
    }
    // Another user's upload is past the quota too: it is the project's, shared.
    let other = s.another_user().await;
    let theirs = s.youtube_as(other.0).await;
    let their_clip = s.clip_of(other, video("Theirs")).await;
    let (status, planned) = s
        .publish_of(
            other,
            json!({ "entryIds": [their_clip], "channels": [theirs] }),
        )
        .await;
    assert_eq!(status, 200, "{planned}");
    let error = &planned["data"]["intents"][0]["error"];
    assert_eq!(error["code"], "DAILY_QUOTA_EXHAUSTED", "{planned}");
    assert_eq!(
        error["message"],
        "the 2 YouTube posts this Almanac server may make a day are spent; the quota is shared by everyone who publishes through it: this post waits until midnight America/Los_Angeles time"
    );
    // Published while the quota is spent: it waits, unsent and unfailed.
    let id = s.publish_now(entries[2], channel).await;
    assert_eq!(
        s.deferred(&id, "0 seconds").await,
        0,
        "waiting spends no attempt"
    );
    assert_eq!(s.uploads(), 2);
    // The next Pacific day: the two are yesterday's, and the third goes out, once.
    sqlx::query(
        "update publish_intents set published_at = published_at - interval '1 day',
             sent_at = sent_at - interval '1 day'
         where id = any($1::uuid[])",
    )
    .bind(
        ids.iter()
            .map(|id| id.parse::<Uuid>().unwrap())
            .collect::<Vec<_>>(),
    )
    .execute(&s.app.db)
    .await
    .unwrap();
    s.release(&id).await;
    s.settled(&id, "published").await;
    assert_eq!(s.uploads(), 3);

    // YouTube's own refusals: the project's quota spent waits for midnight Pacific time,
    // a rate limit for what it says; neither fails the post nor spends an attempt.
    let s = setup().await;
    let channel = s.youtube().await;
    s.fake.with(|f| f.youtube.quota_exceeded = true);
    let entry = s.clip(video("Quota")).await;
    let id = s.publish_now(entry, channel).await;
    assert_eq!(s.deferred(&id, "0 seconds").await, 0);
    let error = s.intent(&id).await["error"].clone();
    assert_eq!(error["code"], "DAILY_QUOTA_EXHAUSTED");
    assert_eq!(error["platformCode"], "quotaExceeded");
    s.fake.with(|f| {
        f.youtube.quota_exceeded = false;
        f.youtube.rate_limited = 4;
    });
    s.release(&id).await;
    let published = s.settled(&id, "published").await;
    assert_eq!(published["error"], Value::Null);
    assert_eq!(s.attempts(&id).await, 1);
    assert_eq!(s.uploads(), 1);
}
