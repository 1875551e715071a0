//! Bluesky (issue 56) against its fake (`almanac_publishing::platforms::bluesky::fake`, which the sandbox
//! serves too): connected with a handle and an app password (never kept; the account's own
//! password refused), a dry run that holds a post to 300 graphemes and 3,000 bytes, posts
//! with facets and an image written once under their intent's record key, now and at the
//! entry's time with its latest text; a lost answer settled by `getRecord`; sessions
//! refreshed before they expire and announced before they lapse; a 429 deferring the publish
//! to its reset without spending its attempts.

use almanac_publishing::platforms::bluesky::tid;
use almanac_shared::clock::ManualClock;
use chrono::{Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Entry, Setup, setup_plus};
use crate::helpers::fake_platforms::{APP_PASSWORD, Call};
use crate::media::{multipart, png};
use almanac_publishing::platforms::bluesky::fake::{
    DID, FRIEND_DID, FRIEND_HANDLE, HANDLE, OWN_PASSWORD,
};

async fn setup() -> Setup {
    setup_plus(true, [("FETCH_ALLOW_PRIVATE_NETWORKS", "true".into())]).await
}

/// A Bluesky text entry.
fn text(caption: &str) -> Entry<'_> {
    Entry {
        format: "post",
        media: None,
        ..Entry::on("bluesky", caption)
    }
}

impl Setup {
    /// `POST /v1/channels/{platform}/credentials`: status and answer.
    async fn sign_in(&self, platform: &str, identifier: &str, password: &str) -> (u16, Value) {
        self.app
            .send_json(
                Method::POST,
                self.user,
                &format!("/v1/channels/{platform}/credentials"),
                &json!({ "identifier": identifier, "password": password }),
            )
            .await
    }

    /// Bluesky connected with the fake's handle and an app password; the channel's id.
    async fn bluesky(&self) -> Uuid {
        let (status, channel) = self.sign_in("bluesky", HANDLE, APP_PASSWORD).await;
        assert_eq!(status, 201, "{channel}");
        channel["data"]["id"].as_str().unwrap().parse().unwrap()
    }

    /// The calls to Bluesky's XRPC method `method`.
    fn xrpc(&self, method: &str) -> Vec<Call> {
        self.fake.calls_to(&format!("/xrpc/{method}"))
    }

    fn records(&self) -> Vec<almanac_publishing::platforms::bluesky::fake::Record> {
        self.fake.with(|f| f.bsky.records.clone())
    }
}

#[tokio::test]
async fn a_handle_and_an_app_password_connect_and_the_password_is_never_kept() {
    let s = setup().await;
    // Refused, in words; nothing connected.
    let (status, refused) = s.sign_in("bluesky", HANDLE, "not-an-app-password").await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "CREDENTIALS_REFUSED");
    assert_eq!(refused["error"]["details"]["field"], "password");
    assert_eq!(
        refused["error"]["details"]["platformCode"],
        "AuthenticationRequired"
    );
    // The account's own password opens a session that is ended at once and never kept.
    let (status, own) = s.sign_in("bluesky", HANDLE, OWN_PASSWORD).await;
    assert_eq!(status, 422, "{own}");
    assert_eq!(own["error"]["code"], "CREDENTIALS_REFUSED");
    assert!(
        own["error"]["message"]
            .as_str()
            .unwrap()
            .contains("app password"),
        "{own}"
    );
    assert_eq!(s.xrpc("com.atproto.server.deleteSession").len(), 1);
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"], json!([]));
    // An OAuth platform takes no credentials; Bluesky has no consent page.
    let (status, oauth) = s.sign_in("tiktok", "someone", APP_PASSWORD).await;
    assert_eq!(status, 422, "{oauth}");
    assert_eq!(oauth["error"]["code"], "CREDENTIALS_UNSUPPORTED");
    let (status, _) = s.sign_in("myspace", HANDLE, APP_PASSWORD).await;
    assert_eq!(status, 404);
    let (status, consent) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/channels/bluesky/connect",
            &Value::Null,
        )
        .await;
    assert_eq!(status, 422, "{consent}");
    assert!(
        consent["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/v1/channels/bluesky/credentials")
    );

    // Connected: the DID, the handle and the profile's name; the PDS the session named.
    let (status, channel) = s
        .sign_in("bluesky", &format!("@{HANDLE}"), APP_PASSWORD)
        .await;
    assert_eq!(status, 201, "{channel}");
    let data = &channel["data"];
    assert_eq!(data["platform"], "bluesky");
    assert_eq!(data["accountId"], DID);
    assert_eq!(data["handle"], HANDLE);
    assert_eq!(data["displayName"], "Almanac Studio");
    assert_eq!(data["status"], "connected");
    let sessions = s.xrpc("com.atproto.server.createSession");
    assert_eq!(sessions.len(), 3);
    assert!(
        sessions
            .iter()
            .all(|c| c.path.starts_with("/bluesky/xrpc/"))
    );
    let profile = &s.xrpc("app.bsky.actor.getProfile")[0];
    assert!(
        profile.path.starts_with("/bluesky/pds/"),
        "{}",
        profile.path
    );
    let id: Uuid = data["id"].as_str().unwrap().parse().unwrap();
    let (service, row): (Option<String>, String) = sqlx::query_as(
        "select service_url, row_to_json(a)::text from platform_accounts a where id = $1",
    )
    .bind(id)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(service, Some(format!("{}/bluesky/pds", s.fake.base_url())));
    assert!(!row.contains(APP_PASSWORD), "the password is never stored");
    assert!(!row.contains("bsky-access"), "tokens are sealed: {row}");
    assert!(!channel.to_string().contains("bsky-access"));
}

#[tokio::test]
async fn the_dry_run_holds_a_post_to_300_graphemes_and_3000_bytes() {
    let s = setup().await;
    let channel = s.bluesky().await;
    // The call to action and hashtags add 35 characters ("\n\nFollow for more\n\n#launch
    // #almanac"): a caption of 265 makes 300.
    let at_most = s.entry(text(&"é".repeat(265))).await;
    let one_more = s.entry(text(&"é".repeat(266))).await;
    let family = "👩\u{200d}👩\u{200d}👧\u{200d}👧";
    let heavy = s.entry(text(&family.repeat(120))).await;
    let video = s
        .entry(Entry {
            format: "short video",
            ..Entry::on("bluesky", "A clip")
        })
        .await;
    let (status, planned) = s
        .publish(json!({ "entryIds": [at_most, one_more, heavy, video], "channels": [channel] }))
        .await;
    assert_eq!(status, 200, "{planned}");
    let intents = super::by_entry(&planned);
    let intent = |id: Uuid| intents[&id.to_string()].clone();
    assert_eq!(intent(at_most)["status"], "dry_run", "{planned}");
    assert_eq!(intent(one_more)["error"]["code"], "CAPTION_TOO_LONG");
    assert_eq!(
        intent(one_more)["error"]["message"],
        "the Bluesky post (caption, call to action and hashtags) is 301 characters; the limit is 300"
    );
    assert_eq!(intent(heavy)["error"]["code"], "CAPTION_TOO_LONG");
    assert_eq!(
        intent(heavy)["error"]["message"],
        "the Bluesky post (caption, call to action and hashtags) is 3035 bytes in UTF-8 (emoji and accents take several); the limit is 3000"
    );
    assert_eq!(intent(video)["error"]["code"], "MEDIA_UNSUPPORTED");
    // The plan: the post's record under a key still to be made.
    let requests = &intent(at_most)["payload"]["requests"];
    assert_eq!(requests.as_array().unwrap().len(), 1, "{requests}");
    assert_eq!(
        requests[0]["url"],
        "<pds>/xrpc/com.atproto.repo.createRecord"
    );
    assert_eq!(requests[0]["effect"], "publishes");
    assert_eq!(requests[0]["body"]["repo"], DID);
    assert_eq!(requests[0]["body"]["record"]["$type"], "app.bsky.feed.post");
    assert!(s.records().is_empty());
    assert!(s.xrpc("com.atproto.repo.createRecord").is_empty());
}

#[tokio::test]
async fn posts_go_out_once_under_their_intent_s_key_with_facets_an_image_and_the_latest_text() {
    let s = setup().await;
    let channel = s.bluesky().await;
    // Now: a link, a mention that resolves, one that does not, and hashtags.
    let caption =
        format!("New (https://almanac.test/launch). Thanks @{FRIEND_HANDLE} and @nobody.invalid!");
    let entry = s.entry(text(&caption)).await;
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    let records = s.records();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    let intent: Uuid = id.parse().unwrap();
    assert!(tid::is_valid(&record.rkey), "{}", record.rkey);
    assert_eq!(Some(record.rkey.clone()), tid::of_intent(intent));
    assert_eq!(published["remotePostId"], record.uri.as_str());
    assert_eq!(
        published["postUrl"],
        format!("https://bsky.app/profile/{DID}/post/{}", record.rkey)
    );
    let written = record.value["text"].as_str().unwrap();
    assert_eq!(
        written,
        format!("{caption}\n\nFollow for more\n\n#launch #almanac")
    );
    let spans: Vec<(String, Value)> = record.value["facets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|facet| {
            let start = facet["index"]["byteStart"].as_u64().unwrap() as usize;
            let end = facet["index"]["byteEnd"].as_u64().unwrap() as usize;
            (written[start..end].to_owned(), facet["features"][0].clone())
        })
        .collect();
    assert_eq!(
        spans,
        [
            (
                "https://almanac.test/launch".to_owned(),
                json!({ "$type": "app.bsky.richtext.facet#link", "uri": "https://almanac.test/launch" })
            ),
            (
                format!("@{FRIEND_HANDLE}"),
                json!({ "$type": "app.bsky.richtext.facet#mention", "did": FRIEND_DID })
            ),
            (
                "#launch".to_owned(),
                json!({ "$type": "app.bsky.richtext.facet#tag", "tag": "launch" })
            ),
            (
                "#almanac".to_owned(),
                json!({ "$type": "app.bsky.richtext.facet#tag", "tag": "almanac" })
            ),
        ]
    );
    assert_eq!(s.xrpc("com.atproto.repo.createRecord").len(), 1);
    assert!(
        s.xrpc("com.atproto.repo.createRecord")[0]
            .path
            .starts_with("/bluesky/pds/")
    );

    // An uploaded image, with its alt text, as one blob.
    let (status, uploaded) = s
        .app
        .upload(
            s.user,
            multipart("cat.png", "image/png", &png(40, 20, 0), Some("A red cat")),
        )
        .await;
    assert_eq!(status, 201, "{uploaded}");
    let pictured = s
        .entry(text(
            "Notre chat dort au soleil toute la journée, sur le rebord de la fenêtre du salon.",
        ))
        .await;
    sqlx::query("update calendar_entries set media_ids = array[$1::uuid] where id = $2")
        .bind(uploaded["data"]["id"].as_str().unwrap())
        .bind(pictured)
        .execute(&s.app.db)
        .await
        .unwrap();
    let id = s.publish_now(pictured, channel).await;
    s.settled(&id, "published").await;
    let blobs = s.xrpc("com.atproto.repo.uploadBlob");
    assert_eq!(blobs.len(), 1);
    assert_eq!(blobs[0].headers["content-type"], "image/png");
    assert_eq!(blobs[0].body_len, png(40, 20, 0).len());
    // Its language, told by its text.
    assert_eq!(s.records()[1].value["langs"], json!(["fr"]));
    let images = s.records()[1].value["embed"]["images"].clone();
    assert_eq!(images.as_array().unwrap().len(), 1, "{images}");
    assert_eq!(images[0]["alt"], "A red cat");
    assert_eq!(images[0]["image"]["mimeType"], "image/png");

    // At the entry's time, with the text it has then.
    let later = s
        .entry(Entry {
            at: "2030-01-08T09:00:00Z",
            ..text("First draft")
        })
        .await;
    s.scheduled_then_edited(later, channel, "2030-01-08T09:00:00Z")
        .await;
    let records = s.records();
    assert_eq!(records.len(), 3);
    assert_eq!(
        records[2].value["text"],
        "Final words\n\nFollow for more\n\n#launch #almanac"
    );
    assert_eq!(s.xrpc("com.atproto.repo.createRecord").len(), 3);
}

#[tokio::test]
async fn a_lost_create_record_answer_settles_through_get_record_and_is_never_sent_twice() {
    let s = setup().await;
    let channel = s.bluesky().await;
    s.fake.with(|f| f.drop_after_publish = true);
    let entry = s.entry(text("Lost and found")).await;
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    assert!(s.was_unknown(&id).await);
    let records = s.records();
    assert_eq!(records.len(), 1);
    assert_eq!(published["remotePostId"], records[0].uri.as_str());
    assert_eq!(s.xrpc("com.atproto.repo.createRecord").len(), 1);
    let reads = s.xrpc("com.atproto.repo.getRecord");
    assert!(!reads.is_empty());
    assert_eq!(reads[0].query["repo"], DID);
    assert_eq!(reads[0].query["collection"], "app.bsky.feed.post");
    assert_eq!(reads[0].query["rkey"], records[0].rkey);

    // Never found within the confirm window: unconfirmed, and still one write.
    s.fake.with(|f| {
        f.drop_after_publish = true;
        f.cannot_confirm = true;
    });
    let entry = s.entry(text("Lost for good")).await;
    let id = s.publish_now(entry, channel).await;
    let unconfirmed = s.settled(&id, "unconfirmed").await;
    assert_eq!(unconfirmed["error"]["code"], "PUBLISH_UNCONFIRMED");
    assert_eq!(s.xrpc("com.atproto.repo.createRecord").len(), 2);
    assert_eq!(s.records().len(), 2);
}

/// A 2xx is not a post (issue 73): a `createRecord` answer that does not name the record
/// (its `uri` and `cid`) leaves the post unknown, and a `getRecord` answer without the
/// record's `uri` and `value` finds nothing; the record read back settles it, and it is
/// written once.
#[tokio::test]
async fn an_answer_that_names_no_record_is_unknown_until_the_record_is_read_back() {
    let s = setup().await;
    let channel = s.bluesky().await;
    s.fake.with(|f| {
        f.bsky.answer_without_record = true;
        f.bsky.hollow_reads = 2;
    });
    let entry = s.entry(text("Named at last")).await;
    let id = s.publish_now(entry, channel).await;
    let published = s.settled(&id, "published").await;
    assert!(s.was_unknown(&id).await);
    let records = s.records();
    assert_eq!(records.len(), 1);
    assert_eq!(published["remotePostId"], records[0].uri.as_str());
    assert_eq!(s.xrpc("com.atproto.repo.createRecord").len(), 1);
    assert!(
        s.xrpc("com.atproto.repo.getRecord").len() >= 3,
        "the hollow reads did not settle it"
    );
}

#[tokio::test]
async fn sessions_refresh_before_they_expire_and_a_lapsing_one_is_announced() {
    let s = setup().await;
    // Access JWTs of ten minutes: within the quarter hour, so refreshed before a call.
    s.fake.with(|f| {
        f.bsky.access_ttl_secs = 600;
        f.bsky.refresh_ttl_secs = 3 * 86_400;
    });
    let channel = s.bluesky().await;
    // The refreshed session's JWT lives two hours, as Bluesky's do.
    s.fake.with(|f| f.bsky.access_ttl_secs = 7_200);
    let first_access = s.xrpc("app.bsky.actor.getProfile")[0]
        .authorization
        .clone()
        .unwrap();
    let entry = s.entry(text("Fresh session")).await;
    let id = s.publish_now(entry, channel).await;
    s.settled(&id, "published").await;
    let refreshes = s.xrpc("com.atproto.server.refreshSession");
    assert_eq!(refreshes.len(), 1);
    assert!(refreshes[0].path.starts_with("/bluesky/xrpc/"));
    let write = &s.xrpc("com.atproto.repo.createRecord")[0];
    assert_ne!(write.authorization.as_ref(), Some(&first_access));

    // The refresh JWT ends in three days: announced, then lapsed after it.
    let ctx = s.app.worker_context(0);
    let warned = almanac_worker::expiry::check(&ctx, &almanac_shared::clock::SystemClock)
        .await
        .unwrap();
    assert_eq!(
        warned.iter().map(|w| w.channel_id).collect::<Vec<_>>(),
        [channel]
    );
    let after = ManualClock::new(Utc::now() + Duration::days(3) + Duration::minutes(1));
    assert_eq!(
        almanac_worker::expiry::lapse(&ctx, &after).await.unwrap(),
        [channel]
    );

    // A session Bluesky refuses to refresh: the channel needs connecting again.
    let again = s.bluesky().await;
    assert_eq!(again, channel, "the same account, connected again");
    s.fake.with(|f| f.refuse_refresh = true);
    s.update_channel(channel, "token_expires_at = now() + interval '5 minutes'")
        .await;
    let entry = s.entry(text("Refused")).await;
    let (status, refused) = s
        .publish(json!({ "entryIds": [entry], "channels": [channel], "dryRun": false }))
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "CHANNEL_AUTH_INVALID");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Bluesky refused the session"),
        "{refused}"
    );
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    assert_eq!(channels["data"]["items"][0]["status"], "needs_reauth");
    assert_eq!(s.xrpc("com.atproto.repo.createRecord").len(), 1);
}

#[tokio::test]
async fn a_rate_limit_defers_the_publish_to_its_reset_without_spending_attempts() {
    let s = setup().await;
    let channel = s.bluesky().await;
    // More 429s than a publish has attempts (3): deferred each time, never failed.
    s.fake.with(|f| {
        f.bsky.rate_limited = 4;
        f.bsky.reset_in_secs = 1;
    });
    let entry = s.entry(text("Busy network")).await;
    let id = s.publish_now(entry, channel).await;
    s.settled(&id, "published").await;
    assert_eq!(
        s.attempts(&id).await,
        1,
        "each 429 waited without spending an attempt"
    );
    assert_eq!(s.xrpc("com.atproto.repo.createRecord").len(), 5);
    assert_eq!(s.records().len(), 1);
}

#[tokio::test]
async fn an_image_over_a_million_bytes_fails_the_post_before_anything_is_sent() {
    let s = setup().await;
    let channel = s.bluesky().await;
    // A 40×20 picture padded past Bluesky's 1,000,000 bytes (Almanac takes it: 8 MiB).
    let (status, uploaded) = s
        .app
        .upload(
            s.user,
            multipart("big.png", "image/png", &png(40, 20, 1_000_100), None),
        )
        .await;
    assert_eq!(status, 201, "{uploaded}");
    let entry = s.entry(text("A large picture")).await;
    sqlx::query("update calendar_entries set media_ids = array[$1::uuid] where id = $2")
        .bind(uploaded["data"]["id"].as_str().unwrap())
        .bind(entry)
        .execute(&s.app.db)
        .await
        .unwrap();
    let id = s.publish_now(entry, channel).await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "MEDIA_TOO_LARGE", "{failed}");
    let message = failed["error"]["message"].as_str().unwrap();
    assert!(message.contains("at most 1000000 bytes"), "{message}");
    assert!(s.xrpc("com.atproto.repo.uploadBlob").is_empty());
    assert!(s.xrpc("com.atproto.repo.createRecord").is_empty());
    assert!(s.records().is_empty());
}

/// A local listener counting the connections it is offered.
async fn canary() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((_socket, _)) = listener.accept().await {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    (port, connections)
}

/// The PDS a DID document names is an address a platform supplies (issue 73): judged like a
/// webhook's URL before the account's token goes there. Every form of a local or private
/// address, credentials in it, a query, or plain http is refused at connect with 422
/// `CHANNEL_HOST_REFUSED`, and a channel that holds such a PDS from before fails its
/// publish with that code: the canary behind those addresses is never reached.
#[tokio::test]
async fn a_did_document_naming_a_private_pds_is_refused_and_never_called() {
    let s = setup_plus(true, [("FETCH_ALLOW_PRIVATE_NETWORKS", "false".into())]).await;
    let (port, connections) = canary().await;
    let forms = [
        format!("https://127.0.0.1:{port}"),
        format!("https://127.0.0.1:{port}/xrpc?steal=1"),
        format!("https://10.0.0.1:{port}"),
        format!("https://192.168.1.20:{port}"),
        format!("https://169.254.169.254:{port}/latest/meta-data"),
        format!("https://[::1]:{port}"),
        format!("https://[::ffff:127.0.0.1]:{port}"),
        format!("https://[fe80::1]:{port}"),
        format!("https://2130706433:{port}"),
        format!("https://0x7f000001:{port}"),
        format!("https://127.1:{port}"),
        format!("https://localhost:{port}"),
        format!("https://pds.localhost:{port}"),
        format!("https://user:pass@pds.example.com:{port}"),
        format!("https://pds.example.com:{port}/?next=1"),
        format!("https://pds.example.com:{port}/#frag"),
        format!("http://pds.example.com:{port}"),
    ];
    for form in &forms {
        s.fake.with(|f| f.bsky.pds_endpoint = Some(form.clone()));
        let (status, refused) = s.sign_in("bluesky", HANDLE, APP_PASSWORD).await;
        assert_eq!(status, 422, "{form}: {refused}");
        assert_eq!(refused["error"]["code"], "CHANNEL_HOST_REFUSED", "{form}");
    }
    let channels: i64 =
        sqlx::query_scalar("select count(*) from platform_accounts where user_id = $1")
            .bind(s.user)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(channels, 0, "nothing was connected");
    // A channel connected before the rule held: its publish is refused, nothing sent.
    let channel = s
        .connect_as(
            s.user,
            "bluesky",
            DID,
            "bsky-access",
            Some("bsky-refresh"),
            7_200,
        )
        .await;
    s.update_channel(
        channel,
        &format!("service_url = 'https://127.0.0.1:{port}'"),
    )
    .await;
    let entry = s.entry(text("Never to the canary")).await;
    let id = s.publish_now(entry, channel).await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "CHANNEL_HOST_REFUSED", "{failed}");
    assert!(s.xrpc("com.atproto.repo.createRecord").is_empty());
    assert_eq!(
        connections.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the canary was reached"
    );
}
