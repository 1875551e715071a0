//! Never twice under faults: lost answers, an unconfirmable publish, the flag turned off,
//! Postgres cut off, several workers.

use reqwest::Method;
use serde_json::json;

use super::{Entry, Setup, publish_env, setup, setup_with};
use crate::helpers::{TestOptions, fake_platforms::FakePlatforms};

#[tokio::test]
async fn a_lost_answer_is_checked_and_never_sent_again() {
    let s = setup().await;
    s.connect_both().await;
    s.fake.with(|f| f.drop_after_publish = true);
    let entry = s.entry(Entry::on("instagram", "Lost answer")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    let published = s.settled(&id, "published").await;
    assert_eq!(s.fake.posts().len(), 1);
    assert_eq!(s.fake.calls_to("/media_publish").len(), 1, "sent once");
    assert_eq!(published["remotePostId"], s.fake.posts()[0].id.as_str());
    // The read-only check that resolved it, after the intent had gone `unknown`.
    assert!(
        !s.fake
            .calls_to(published["remoteId"].as_str().unwrap())
            .is_empty()
    );
    assert!(s.was_unknown(&id).await);
}

#[tokio::test]
async fn a_worker_killed_while_publishing_leaves_a_check_not_a_second_post() {
    let mut s = setup().await;
    let id = s.publish_left_hanging("Killed mid-publish").await;
    s.app.kill_worker(0);
    // Another worker takes the job over once its heartbeat is stale: it checks, never resends.
    s.app.start_worker().await;
    let published = s.settled(&id, "published").await;
    assert_eq!(s.fake.calls_to("/media_publish").len(), 1);
    assert_eq!(s.fake.posts().len(), 1);
    assert_eq!(published["remotePostId"], s.fake.posts()[0].id.as_str());
}

/// A worker killed while the first comment's request was out: the post stays published, the
/// comment `unknown`, and the worker taking the job over never sends it again.
#[tokio::test]
async fn a_worker_killed_while_commenting_never_comments_twice() {
    let mut s = setup().await;
    s.connect_both().await;
    s.fake.with(|f| f.hang_after_comment = true);
    let entry = s.entry(Entry::on("instagram", "Killed mid-comment")).await;
    sqlx::query("update calendar_entries set first_comment = 'Link in bio' where id = $1")
        .bind(entry)
        .execute(&s.app.db)
        .await
        .unwrap();
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    crate::helpers::eventually(
        std::time::Duration::from_secs(20),
        "the comment sent",
        || async { (s.fake.with(|f| f.comments.len()) == 1).then_some(()) },
    )
    .await;
    s.app.kill_worker(0);
    s.app.start_worker().await;
    let published = s.settled(&id, "published").await;
    assert_eq!(
        published["firstComment"]["status"], "unknown",
        "{published}"
    );
    assert_eq!(
        published["firstComment"]["error"]["code"],
        "FIRST_COMMENT_UNCONFIRMED"
    );
    assert_eq!(s.fake.with(|f| f.comments.len()), 1, "commented twice");
    assert_eq!(s.fake.calls_to("/comments").len(), 1);
    assert_eq!(s.fake.posts().len(), 1);
}

#[tokio::test]
async fn an_unconfirmable_publish_is_unconfirmed_and_retried_only_on_request() {
    let s = setup().await;
    s.connect_both().await;
    s.fake.with(|f| {
        f.drop_after_publish = true;
        f.cannot_confirm = true;
    });
    let entry = s.entry(Entry::on("instagram", "Cannot tell")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    let unconfirmed = s.settled(&id, "unconfirmed").await;
    assert_eq!(unconfirmed["error"]["code"], "PUBLISH_UNCONFIRMED");
    let message = unconfirmed["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("check the Instagram account before retrying"),
        "{message}"
    );
    assert_eq!(s.fake.posts().len(), 1);
    assert_eq!(s.fake.calls_to("/media_publish").len(), 1);
    // Nothing retries it by itself: the dispatcher finds nothing, the request finds it.
    assert_eq!(s.tick("2031-01-01T00:00:00Z").await.dispatched, 0);
    let (_, again) = s
        .publish(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    assert_eq!(again["data"]["intents"][0]["id"], id.as_str());
    assert_eq!(s.fake.calls_to("/media_publish").len(), 1);
    // The user checked the account and decided to post it again.
    s.fake.with(|f| f.cannot_confirm = false);
    let (status, retried) = s.retry(&id).await;
    assert_eq!(status, 200, "{retried}");
    assert_eq!(retried["data"]["status"], "scheduled");
    s.settled(&id, "published").await;
    assert_eq!(s.fake.calls_to("/media_publish").len(), 2);
    let (status, refused) = s.retry(&id).await;
    assert_eq!(status, 409);
    assert_eq!(refused["error"]["code"], "INTENT_NOT_RETRYABLE");
}

#[tokio::test]
async fn a_lost_tiktok_init_is_unconfirmed_without_a_second_post() {
    let s = setup().await;
    s.connect_both().await;
    s.fake.with(|f| f.drop_after_publish = true);
    let entry = s.entry(Entry::on("tiktok", "No publish id")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    s.settled(&id, "unconfirmed").await;
    assert_eq!(s.fake.calls_to("/video/init/").len(), 1);
    assert_eq!(s.fake.posts().len(), 1);
}

#[tokio::test]
async fn with_the_flag_off_publishing_is_a_deterministic_dry_run_and_due_intents_wait() {
    let fake = FakePlatforms::start().await;
    let mut worker_env = publish_env(&fake, false);
    let env = publish_env(&fake, true);
    // One key for every process of the app.
    let key = env
        .iter()
        .find(|(k, _)| *k == "TOKEN_ENCRYPTION_KEY")
        .unwrap()
        .1
        .clone();
    worker_env.retain(|(k, _)| *k != "TOKEN_ENCRYPTION_KEY");
    worker_env.push(("TOKEN_ENCRYPTION_KEY", key));
    let mut s = setup_with(
        TestOptions {
            env,
            worker_env,
            ..Default::default()
        },
        fake,
    )
    .await;
    s.connect_both().await;
    let later = s
        .entry(Entry::on("tiktok", "Scheduled before the flag went off"))
        .await;
    let now = s.entry(Entry::on("instagram", "Flag off")).await;
    // Scheduled while publishing was on.
    let (_, scheduled) = s
        .publish(json!({ "entryIds": [later], "dryRun": false, "when": "scheduled" }))
        .await;
    let scheduled_id = scheduled["data"]["intents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // An API with the flag off: a dry run whatever was asked, identical twice, no calls.
    let mut off = s.app.settings.clone();
    off.publish.enabled = false;
    let address = s.app.start_api_replica_with(off).await;
    let publish_off = || async {
        let response = s
            .app
            .client
            .post(format!("{address}/v1/calendars/{}/publish", s.calendar))
            .bearer_auth(s.app.token(s.user))
            .json(&json!({ "entryIds": [now], "dryRun": false }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<serde_json::Value>().await.unwrap()
    };
    let first = publish_off().await;
    let second = publish_off().await;
    assert_eq!(first["data"], second["data"]);
    assert_eq!(first["data"]["dryRun"], true);
    assert_eq!(first["data"]["reason"], "PUBLISH_DISABLED");
    assert_eq!(first["data"]["intents"][0]["status"], "dry_run");
    assert!(
        s.fake.all_calls().is_empty(),
        "no adapter is called with the flag off"
    );

    // The worker has the flag off: the due intent stays scheduled, unsent.
    assert_eq!(s.tick("2030-01-07T09:00:00Z").await.dispatched, 0);
    assert_eq!(s.intent(&scheduled_id).await["status"], "scheduled");
    assert!(s.fake.all_calls().is_empty());
    // Turned on (the worker restarted with the flag): it goes.
    s.app.stop_worker(0).await;
    let on = s.app.settings.clone();
    let worker = s.app.start_worker_with(on).await;
    let clock = almanac_shared::clock::ManualClock::new("2030-01-07T09:01:00Z".parse().unwrap());
    let ticked = almanac_worker::dispatcher::tick(&s.app.worker_context(worker), &clock)
        .await
        .unwrap();
    assert_eq!(ticked.dispatched, 1);
    s.settled(&scheduled_id, "published").await;
    assert_eq!(s.fake.posts().len(), 1);
}

#[tokio::test]
async fn a_request_made_while_postgres_is_cut_off_is_spooled_and_replayed_once() {
    let fake = FakePlatforms::start().await;
    let s = setup_with(
        TestOptions {
            env: publish_env(&fake, true),
            db_proxy: true,
            ..Default::default()
        },
        fake,
    )
    .await;
    s.connect_both().await;
    let entries = [
        s.entry(Entry::on("tiktok", "Spooled one")).await,
        s.entry(Entry::on("instagram", "Spooled two")).await,
    ];
    let proxy = s.app.db_proxy.as_ref().unwrap();
    proxy.partition();
    let (status, answer) = s.publish(json!({ "all": true })).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(
        answer["data"],
        json!({ "dryRun": true, "reason": "STORE_UNAVAILABLE", "spooled": true, "intents": [], "refused": [] })
    );
    // A request for another user's calendar, spooled too: refused on replay, recorded.
    let other = uuid::Uuid::now_v7();
    let (status, _) = s
        .app
        .send_json(
            Method::POST,
            other,
            &format!("/v1/calendars/{}/publish", s.calendar),
            &json!({ "all": true }),
        )
        .await;
    assert_eq!(status, 202);
    proxy.heal();
    // The worker's connections went through the cut too: ticks fail until they recover.
    let clock = almanac_shared::clock::ManualClock::new(chrono::Utc::now());
    let replayed =
        crate::helpers::eventually(std::time::Duration::from_secs(20), "the replay", || async {
            let ticked = almanac_worker::dispatcher::tick(&s.app.worker_context(0), &clock).await;
            ticked.ok().map(|t| t.replayed).filter(|n| *n > 0)
        })
        .await;
    assert_eq!(replayed, 2);
    let again = almanac_worker::dispatcher::tick(&s.app.worker_context(0), &clock)
        .await
        .unwrap();
    assert_eq!(again.replayed, 0, "replayed once");
    // The API's pooled connections went through the cut too: a request on one answers
    // 503 (with Retry-After) until the pool has replaced it.
    let path = format!("/v1/publish-intents?calendarId={}", s.calendar);
    let list =
        crate::helpers::eventually(std::time::Duration::from_secs(20), "the list", || async {
            let (status, list) = s.app.get_json(s.user, &path).await;
            (status == 200).then_some(list)
        })
        .await;
    let items = list["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    for entry in entries {
        let intent = items
            .iter()
            .find(|i| i["entryId"] == entry.to_string())
            .unwrap();
        assert_eq!(intent["status"], "dry_run");
    }
    let (_, theirs) = s.app.get_json(other, "/v1/publish-intents").await;
    let theirs = theirs["data"]["items"].as_array().unwrap().clone();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0]["status"], "failed");
    assert_eq!(theirs[0]["error"]["code"], "NOT_FOUND");
    let untouched: i64 = sqlx::query_scalar(
        "select count(*) from publish_intents where user_id = $1 and entry_id is not null",
    )
    .bind(other)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(untouched, 0, "another user's calendar is never touched");
}

#[tokio::test]
async fn three_workers_publish_a_due_intent_once() {
    let mut s = setup().await;
    s.app.start_worker().await;
    s.app.start_worker().await;
    s.connect_both().await;
    let entry = s.entry(Entry::on("tiktok", "Three workers")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false, "when": "scheduled" }))
        .await;
    let clock = almanac_shared::clock::ManualClock::new("2030-01-07T09:00:00Z".parse().unwrap());
    let ticks = futures::future::join_all((0..3).map(|w| {
        let ctx = s.app.worker_context(w);
        let clock = &clock;
        async move {
            almanac_worker::dispatcher::tick(&ctx, clock)
                .await
                .unwrap()
                .dispatched
        }
    }))
    .await;
    assert_eq!(ticks.iter().sum::<usize>(), 1, "{ticks:?}");
    s.settled(&id, "published").await;
    assert_eq!(s.fake.posts().len(), 1);
    assert_eq!(s.fake.calls_to("/video/init/").len(), 1);
}

#[tokio::test]
async fn tokens_are_sealed_at_rest_and_never_returned() {
    let s = setup().await;
    let (tiktok, _) = s.connect_both().await;
    let (access, refresh): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("select access_token, refresh_token from platform_accounts where id = $1")
            .bind(tiktok)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    for sealed in [&access, &refresh] {
        assert!(!String::from_utf8_lossy(sealed).contains("tt-"));
    }
    let dump: String =
        sqlx::query_scalar("select string_agg(t::text, ' ') from platform_accounts t")
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert!(
        !dump.contains("tt-token") && !dump.contains("tt-refresh") && !dump.contains("ig-token")
    );
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let printed = channels.to_string();
    assert!(
        !printed.contains("tt-token") && !printed.contains("ig-token"),
        "{printed}"
    );
    assert_eq!(channels["data"]["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_post_tiktok_never_finishes_is_unconfirmed_after_the_window() {
    let s = setup().await;
    s.connect_both().await;
    s.fake
        .with(|f| f.tiktok_outcome = crate::helpers::fake_platforms::TikTokOutcome::Processing);
    let entry = s.entry(Entry::on("tiktok", "Still processing")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    let unconfirmed = s.settled(&id, "unconfirmed").await;
    let message = unconfirmed["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("TikTok had not finished the post"),
        "{message}"
    );
    assert!(message.contains("PROCESSING_DOWNLOAD"), "{message}");
    assert!(unconfirmed["remoteId"].is_string());
    assert_eq!(s.fake.calls_to("/video/init/").len(), 1);
    assert!(
        s.fake.calls_to("/status/fetch/").len() >= 2,
        "it was checked, not resent"
    );
}

#[tokio::test]
async fn a_refusal_that_applied_nothing_is_retried_with_backoff_and_fails_when_attempts_run_out() {
    let s = setup().await;
    s.connect_both().await;
    s.fake.with(|f| f.rate_limited = 1);
    let entry = s.entry(Entry::on("tiktok", "Rate limited once")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    let published = s.settled(&id, "published").await;
    assert_eq!(published["attempts"], 2);
    assert_eq!(s.fake.calls_to("/video/init/").len(), 2);
    assert_eq!(s.fake.posts().len(), 1);

    s.app.expect_failed_jobs();
    s.fake.with(|f| f.rate_limited = 100);
    let entry = s.entry(Entry::on("tiktok", "Always rate limited")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "RATE_LIMITED");
    assert_eq!(failed["attempts"], 3);
    assert_eq!(
        s.fake.calls_to("/video/init/").len(),
        2 + 3,
        "one init per attempt"
    );
    assert_eq!(s.fake.posts().len(), 1);
}

/// With Postgres down, each user may spool `PUBLISH_SPOOL_MAX_PER_USER` requests and all
/// together `PUBLISH_SPOOL_MAX_TOTAL`; past either, 503 with `Retry-After` and nothing
/// kept. The publish rate limit counts spooled requests too. What was kept is replayed,
/// and the spool's counts go with it.
#[tokio::test]
async fn the_spool_refuses_past_its_bounds_and_keeps_nothing_it_refuses() {
    let (s, down) = spool_setup(&[
        ("PUBLISH_SPOOL_MAX_PER_USER", "3"),
        ("PUBLISH_SPOOL_MAX_TOTAL", "5"),
        ("PUBLISH_RATE_LIMIT", "4"),
    ])
    .await;
    let publish = |user: uuid::Uuid| spooled_publish(&s, &down, user, json!({ "all": true }));
    let (a, b, c) = (s.user, uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    for _ in 0..3 {
        let (status, _, body) = publish(a).await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(body["data"]["spooled"], true);
    }
    let (status, retry, body) = publish(a).await;
    assert_eq!((status, retry), (503, true), "{body}");
    assert_eq!(body["error"]["code"], "STORE_UNAVAILABLE");
    // Spooled or not, each request took a slot of the publish rate limit.
    let (status, retry, body) = publish(a).await;
    assert_eq!((status, retry), (429, true), "{body}");
    for _ in 0..2 {
        assert_eq!(publish(b).await.0, 202);
    }
    let (status, _, body) = publish(c).await;
    assert_eq!(status, 503, "the spool is full: {body}");
    let spool = s.app.settings.redis_key(&["publish", "spool"]);
    let mut redis = s.app.redis.clone();
    let kept: i64 = redis::cmd("LLEN")
        .arg(&spool)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(kept, 5, "exactly the accepted requests are kept");

    replayed_and_emptied(&s, 5).await;
}

/// The spool is held to `PUBLISH_SPOOL_MAX_BYTES` too: a request that would take it past
/// the cap is refused (503 with `Retry-After`, nothing kept) while the counts have room, a
/// smaller one still fits, the refusals are counted by reason, and the bytes go with the
/// requests when they are replayed.
#[tokio::test]
async fn the_spool_refuses_past_its_bytes_and_keeps_nothing_it_refuses() {
    let (s, down) = spool_setup(&[("PUBLISH_SPOOL_MAX_BYTES", "6000")]).await;
    let publish = |body: serde_json::Value| spooled_publish(&s, &down, s.user, body);
    // About 3.7 KB spooled: 100 entry ids of 37 bytes each.
    let large = || {
        let ids: Vec<uuid::Uuid> = (0..100).map(|_| uuid::Uuid::now_v7()).collect();
        json!({ "entryIds": ids })
    };
    let (status, _, body) = publish(large()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["spooled"], true);
    let (status, retry, body) = publish(large()).await;
    assert_eq!((status, retry), (503, true), "past the bytes: {body}");
    assert_eq!(body["error"]["code"], "STORE_UNAVAILABLE");
    let (status, _, body) = publish(json!({ "all": true })).await;
    assert_eq!(status, 202, "a small one still fits: {body}");

    let spool = s.app.settings.redis_key(&["publish", "spool"]);
    let mut redis = s.app.redis.clone();
    let kept: Vec<String> = redis::cmd("LRANGE")
        .arg(&spool)
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(kept.len(), 2, "exactly the accepted requests are kept");
    let bytes: i64 = redis::cmd("HGET")
        .arg(format!("{spool}:counts"))
        .arg("bytes")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(
        bytes,
        kept.iter().map(|item| item.len() as i64).sum::<i64>()
    );
    assert_eq!(
        s.app
            .metric(r#"publish_requests_spool_refused_total{reason="bytes"}"#)
            .await,
        1.0
    );

    replayed_and_emptied(&s, 2).await;
}

/// A publishing setup with `limits`, and the address of an API replica whose Postgres is
/// unreachable (so it spools).
async fn spool_setup(limits: &[(&'static str, &str)]) -> (Setup, String) {
    let fake = FakePlatforms::start().await;
    let mut env = publish_env(&fake, true);
    env.extend(limits.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let mut s = setup_with(
        TestOptions {
            env,
            ..Default::default()
        },
        fake,
    )
    .await;
    let mut settings = s.app.settings.clone();
    settings.database_url =
        almanac_shared::config::Secret::new("postgres://nobody@127.0.0.1:1/none");
    let down = s.app.start_api_replica_with(settings).await;
    (s, down)
}

/// `user`'s publish request to the replica at `down`: its status, whether it says when to
/// retry, and its body.
async fn spooled_publish(
    s: &Setup,
    down: &str,
    user: uuid::Uuid,
    body: serde_json::Value,
) -> (u16, bool, serde_json::Value) {
    let response = s
        .app
        .client
        .post(format!("{down}/v1/calendars/{}/publish", s.calendar))
        .bearer_auth(s.app.token(user))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response.headers().get("retry-after").is_some();
    (status, retry_after, response.json().await.unwrap())
}

/// A dispatcher tick replays exactly `n` spooled requests, and leaves the spool and its
/// counts empty.
async fn replayed_and_emptied(s: &Setup, n: usize) {
    let clock = almanac_shared::clock::ManualClock::new(chrono::Utc::now());
    let ticked = almanac_worker::dispatcher::tick(&s.app.worker_context(0), &clock)
        .await
        .unwrap();
    assert_eq!(ticked.replayed, n);
    let spool = s.app.settings.redis_key(&["publish", "spool"]);
    let mut redis = s.app.redis.clone();
    let left: (i64, i64) = redis::pipe()
        .cmd("LLEN")
        .arg(&spool)
        .cmd("EXISTS")
        .arg(format!("{spool}:counts"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(left, (0, 0), "the spool and its counts are empty");
}
