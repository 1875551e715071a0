//! Dry runs, publishing now and at the entry's time, refusals, and ownership.

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;

use super::{Entry, by_entry, setup};
use crate::helpers::fake_platforms::{IG_USER, TikTokOutcome};

/// A timestamp of an answer, as UTC with `Z`.
fn at(value: &serde_json::Value) -> String {
    let at: chrono::DateTime<chrono::Utc> = value.as_str().unwrap().parse().unwrap();
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test]
async fn a_dry_run_plans_every_entry_exactly_and_publishes_nothing() {
    let s = setup().await;
    s.connect_both().await;
    let video = s.entry(Entry::on("tiktok", "Behind the scenes")).await;
    let photo = s
        .entry(Entry {
            format: "carousel",
            media: Some("https://cdn.example.com/a.jpg"),
            ..Entry::on("tiktok", "Three tips")
        })
        .await;
    let long = "x".repeat(2_190);
    let too_long = s.entry(Entry::on("tiktok", &long)).await;
    let image = s.entry(Entry::on("instagram", "Our new look")).await;
    let reel = s
        .entry(Entry {
            format: "reel",
            ..Entry::on("instagram", "The reel")
        })
        .await;
    let no_media = s
        .entry(Entry {
            media: None,
            ..Entry::on("instagram", "No picture")
        })
        .await;
    let x = s.entry(Entry::on("x", "Hiring")).await;

    let (status, answer) = s.publish(json!({ "all": true })).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["dryRun"], true);
    assert_eq!(answer["data"]["spooled"], false);
    assert!(answer["data"]["reason"].is_null());
    let intents = by_entry(&answer);
    assert_eq!(intents.len(), 7);
    let status_of = |id: &Uuid| {
        intents[&id.to_string()]["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for valid in [video, photo, image, reel] {
        assert_eq!(
            status_of(&valid),
            "dry_run",
            "{}",
            intents[&valid.to_string()]
        );
    }
    for invalid in [too_long, no_media, x] {
        assert_eq!(status_of(&invalid), "failed");
    }
    let error = |id: &Uuid| intents[&id.to_string()]["error"].clone();
    assert_eq!(error(&too_long)["code"], "CAPTION_TOO_LONG");
    assert_eq!(
        error(&too_long)["message"],
        "the TikTok caption (caption, call to action and hashtags) is 2225 characters; the limit is 2200"
    );
    assert_eq!(error(&no_media)["code"], "MEDIA_REQUIRED");
    assert_eq!(error(&x)["code"], "UNSUPPORTED_CHANNEL");

    // The exact requests a publish would send, secrets masked.
    let base = s.fake.base_url();
    let plan = &intents[&video.to_string()]["payload"]["requests"];
    let text = "Behind the scenes\n\nFollow for more\n\n#launch #almanac";
    assert_eq!(
        plan,
        &json!([
            { "method": "POST", "url": format!("{base}/tiktok/v2/post/publish/creator_info/query/"),
              "headers": { "Authorization": "Bearer ***", "Content-Type": "application/json; charset=UTF-8" },
              "body": null, "effect": "read-only" },
            { "method": "POST", "url": format!("{base}/tiktok/v2/post/publish/video/init/"),
              "headers": { "Authorization": "Bearer ***", "Content-Type": "application/json; charset=UTF-8" },
              "body": { "post_info": { "title": text, "privacy_level": "PUBLIC_TO_EVERYONE",
                  "disable_comment": false, "disable_duet": false, "disable_stitch": false,
                  "video_cover_timestamp_ms": 1000 },
                "source_info": { "source": "PULL_FROM_URL", "video_url": "https://cdn.example.com/media/launch.mp4" } },
              "effect": "publishes" },
            { "method": "POST", "url": format!("{base}/tiktok/v2/post/publish/status/fetch/"),
              "headers": { "Authorization": "Bearer ***", "Content-Type": "application/json; charset=UTF-8" },
              "body": { "publish_id": "<publish_id>" }, "effect": "read-only" },
        ])
    );
    let reel_plan = &intents[&reel.to_string()]["payload"]["requests"];
    assert_eq!(
        reel_plan[1]["url"],
        format!("{base}/instagram/{IG_USER}/media?access_token=***")
    );
    assert_eq!(reel_plan[1]["body"]["media_type"], "REELS");
    assert_eq!(
        reel_plan[3]["url"],
        format!(
            "{base}/instagram/{IG_USER}/media_publish?creation_id=<container_id>&access_token=***"
        )
    );
    assert_eq!(
        intents[&photo.to_string()]["payload"]["requests"][1]["body"]["media_type"],
        "PHOTO"
    );

    // Only read-only calls reached the platforms, one per account.
    assert_eq!(s.fake.publishing_calls(), 0);
    assert!(s.fake.posts().is_empty());
    assert_eq!(s.fake.calls_to("/creator_info/query/").len(), 1);
    assert_eq!(s.fake.calls_to("/content_publishing_limit").len(), 1);
    let printed = answer.to_string();
    assert!(!printed.contains("tt-token") && !printed.contains("ig-token"));

    // A repeated dry run refreshes the same intents.
    let (_, again) = s.publish(json!({ "all": true })).await;
    assert_eq!(again["data"]["intents"], answer["data"]["intents"]);
}

#[tokio::test]
async fn publishing_now_posts_each_entry_once_even_when_asked_twice() {
    let s = setup().await;
    s.connect_both().await;
    let entries = [
        s.entry(Entry::on("tiktok", "One")).await,
        s.entry(Entry::on("tiktok", "Two")).await,
        s.entry(Entry::on("instagram", "Three")).await,
        s.entry(Entry::on("instagram", "Four")).await,
    ];
    let body = json!({ "all": true, "dryRun": false });
    let (status, first) = s.publish(body.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"]["dryRun"], false);
    let (_, second) = s.publish(body).await;
    let ids = |answer: &serde_json::Value| {
        let mut ids: Vec<String> = answer["data"]["intents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        ids(&first),
        ids(&second),
        "the second request found the first's intents"
    );
    for id in ids(&first) {
        let intent = s.settled(&id, "published").await;
        assert!(intent["remoteId"].is_string(), "{intent}");
        assert!(intent["remotePostId"].is_string(), "{intent}");
        assert!(intent["publishedAt"].is_string());
        assert!(intent["error"].is_null());
    }
    let posts = s.fake.posts();
    assert_eq!(posts.len(), 4);
    assert_eq!(s.fake.calls_to("/video/init/").len(), 2);
    assert_eq!(s.fake.calls_to("/media_publish").len(), 2);
    let (_, third) = s
        .publish(json!({ "entryIds": [entries[0]], "dryRun": false }))
        .await;
    assert_eq!(third["data"]["intents"][0]["status"], "published");
    assert_eq!(
        s.fake.posts().len(),
        4,
        "a published entry is not posted again"
    );
    let (_, list) = s
        .app
        .get_json(
            s.user,
            &format!(
                "/v1/publish-intents?calendarId={}&status=published",
                s.calendar
            ),
        )
        .await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn scheduled_intents_follow_their_entry_and_publish_its_latest_edit() {
    let s = setup().await;
    s.connect_both().await;
    let edited = s.entry(Entry::on("instagram", "First draft")).await;
    let cancelled = s.entry(Entry::on("tiktok", "Cancelled")).await;
    let deleted = s.entry(Entry::on("tiktok", "Deleted")).await;
    let (status, answer) = s
        .publish(json!({ "all": true, "dryRun": false, "when": "scheduled" }))
        .await;
    assert_eq!(status, 200, "{answer}");
    let intents = by_entry(&answer);
    for intent in intents.values() {
        assert_eq!(intent["status"], "scheduled");
        assert_eq!(at(&intent["publishAt"]), "2030-01-07T09:00:00Z");
        assert_eq!(intent["timezone"], "Europe/Madrid");
    }
    // Edited after scheduling: a new caption and a later time (local Madrid time).
    let (status, patched) = s
        .app
        .send_json(
            Method::PATCH,
            s.user,
            &format!("/v1/calendars/{}/entries/{edited}", s.calendar),
            &json!({ "caption": "Final words", "time": "12:30", "mediaUrl": "https://cdn.example.com/final.jpg" }),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let edited_intent = intents[&edited.to_string()]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        at(&s.intent(&edited_intent).await["publishAt"]),
        "2030-01-07T11:30:00Z"
    );
    let cancel_id = intents[&cancelled.to_string()]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, gone) = s.cancel(&cancel_id).await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["data"]["status"], "cancelled");
    assert_eq!(
        s.app
            .delete(
                s.user,
                &format!("/v1/calendars/{}/entries/{deleted}", s.calendar)
            )
            .await,
        204
    );
    let deleted_intent = intents[&deleted.to_string()]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(s.intent(&deleted_intent).await["status"], "cancelled");

    // Nothing is due before its time.
    assert_eq!(s.tick("2030-01-07T09:05:00Z").await.dispatched, 0);
    assert!(s.fake.posts().is_empty());
    assert_eq!(s.tick("2030-01-07T11:30:00Z").await.dispatched, 1);
    s.settled(&edited_intent, "published").await;
    // The job the dispatcher started carries the tick's trace.
    let traceparent: String = sqlx::query_scalar(
        "select coalesce(j.trace_context ->> 'traceparent', '') from publish_intents i
         join jobs j on j.id = i.job_id where i.id = $1::uuid",
    )
    .bind(&edited_intent)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(
        traceparent.split('-').nth(1).map(str::len),
        Some(32),
        "a dispatched job continues its tick's trace: {traceparent:?}"
    );
    let posts = s.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].body["caption"],
        "Final words\n\nFollow for more\n\n#launch #almanac"
    );
    assert_eq!(
        posts[0].body["image_url"],
        "https://cdn.example.com/final.jpg"
    );
    assert_eq!(s.tick("2030-01-08T00:00:00Z").await.dispatched, 0);
    assert_eq!(
        s.fake.calls_to("/init/").len(),
        0,
        "cancelled intents are never sent"
    );
    // Cancelling twice, or after it ran, is refused.
    let (status, refused) = s.cancel(&edited_intent).await;
    assert_eq!(status, 409);
    assert_eq!(refused["error"]["code"], "INTENT_NOT_CANCELLABLE");
}

#[tokio::test]
async fn platform_refusals_fail_the_post_with_the_platforms_code_and_reason() {
    let s = setup().await;
    s.connect_both().await;
    s.fake
        .with(|f| f.tiktok_outcome = TikTokOutcome::Failed("spam_risk_too_many_posts"));
    let spam = s.entry(Entry::on("tiktok", "Too many")).await;
    let id = s
        .publish_one(json!({ "entryIds": [spam], "dryRun": false }))
        .await;
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "POST_LIMIT_REACHED");
    assert_eq!(failed["error"]["platformCode"], "spam_risk_too_many_posts");
    assert_eq!(
        failed["error"]["message"],
        "the TikTok account reached its daily post limit (spam_risk_too_many_posts)"
    );

    // Instagram's daily quota spent: the dry run says so, and the publish is not sent.
    s.fake.with(|f| f.quota_usage = 50);
    let quota = s.entry(Entry::on("instagram", "Over quota")).await;
    let (_, dry) = s.publish(json!({ "entryIds": [quota] })).await;
    assert_eq!(
        dry["data"]["intents"][0]["error"]["code"],
        "DAILY_QUOTA_EXHAUSTED"
    );
    // Published, it waits for a place (deferred an hour, no attempt spent), then goes.
    let id = s
        .publish_one(json!({ "entryIds": [quota], "dryRun": false }))
        .await;
    assert_eq!(s.deferred(&id, "50 minutes").await, 0);
    let waiting = s.intent(&id).await;
    assert_eq!(
        waiting["error"]["code"], "DAILY_QUOTA_EXHAUSTED",
        "{waiting}"
    );
    assert_eq!(s.fake.calls_to("/media_publish").len(), 0);
    s.fake.with(|f| f.quota_usage = 49);
    s.release(&id).await;
    s.settled(&id, "published").await;
    assert_eq!(s.fake.calls_to("/media_publish").len(), 1);

    // A privacy level the creator does not allow.
    s.fake.with(|f| f.privacy_options = vec!["SELF_ONLY"]);
    let private = s.entry(Entry::on("tiktok", "Private account")).await;
    let (_, dry) = s
        .publish(json!({ "entryIds": [private], "privacyLevel": "PUBLIC_TO_EVERYONE" }))
        .await;
    assert_eq!(
        dry["data"]["intents"][0]["error"]["code"],
        "PRIVACY_LEVEL_NOT_ALLOWED"
    );
    let (_, answer) = s
        .publish(
            json!({ "entryIds": [private], "dryRun": false, "privacyLevel": "PUBLIC_TO_EVERYONE" }),
        )
        .await;
    let id = answer["data"]["intents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = s.settled(&id, "failed").await;
    assert_eq!(failed["error"]["code"], "PRIVACY_LEVEL_NOT_ALLOWED");
    assert_eq!(
        failed["error"]["platformCode"],
        "privacy_level_option_mismatch"
    );
    assert_eq!(
        s.fake.calls_to("/video/init/").len(),
        1,
        "only the spam-capped post was sent"
    );

    // Instagram has no drafts.
    let draft = s.entry(Entry::on("instagram", "Draft")).await;
    let (_, dry) = s
        .publish(json!({ "entryIds": [draft], "mode": "draft" }))
        .await;
    assert_eq!(
        dry["data"]["intents"][0]["error"]["code"],
        "DRAFT_UNSUPPORTED"
    );
}

#[tokio::test]
async fn another_users_calendar_channels_and_intents_are_not_found() {
    let s = setup().await;
    let (tiktok, _) = s.connect_both().await;
    let entry = s.entry(Entry::on("tiktok", "Mine")).await;
    let (_, answer) = s.publish(json!({ "entryIds": [entry] })).await;
    let intent = answer["data"]["intents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = Uuid::now_v7();
    let (status, _) = s
        .app
        .send_json(
            Method::POST,
            other,
            &format!("/v1/calendars/{}/publish", s.calendar),
            &json!({ "all": true }),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        s.app
            .get_json(other, &format!("/v1/publish-intents/{intent}"))
            .await
            .0,
        404
    );
    assert_eq!(
        s.app.delete(other, &format!("/v1/channels/{tiktok}")).await,
        404
    );
    let (_, list) = s.app.get_json(other, "/v1/publish-intents").await;
    assert_eq!(list["data"]["items"], json!([]));
    let (_, channels) = s.app.get_json(other, "/v1/channels").await;
    assert_eq!(channels["data"]["items"], json!([]));
    let (status, retried) = s
        .app
        .send_json(
            Method::POST,
            other,
            &format!("/v1/publish-intents/{intent}/retry"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 404, "{retried}");
}

#[tokio::test]
async fn a_tiktok_draft_goes_to_the_creators_inbox() {
    let s = setup().await;
    s.connect_both().await;
    let entry = s.entry(Entry::on("tiktok", "Finish me in the app")).await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false, "mode": "draft" }))
        .await;
    let sent = s.settled(&id, "draft_sent").await;
    assert_eq!(sent["mode"], "draft");
    assert_eq!(s.fake.calls_to("/inbox/video/init/").len(), 1);
    assert_eq!(s.fake.calls_to("/post/publish/video/init/").len(), 0);
    assert_eq!(
        s.fake.posts()[0].body["source_info"]["source"],
        "PULL_FROM_URL"
    );
}

/// `PLATFORM_MAX_CONCURRENCY` holds per platform and channel: with 1 permit, four entries
/// published at once to one TikTok channel reach TikTok one request at a time (each
/// answered after a while), a job that finds the permit taken goes back to the ledger
/// without spending an attempt, and each is posted once.
#[tokio::test]
async fn a_channel_never_has_more_requests_in_flight_than_its_permits() {
    let s = super::setup_plus(true, [("PLATFORM_MAX_CONCURRENCY", "1".to_owned())]).await;
    s.connect_tiktok().await;
    for caption in ["One", "Two", "Three", "Four"] {
        s.entry(Entry::on("tiktok", caption)).await;
    }
    s.fake
        .with(|f| f.answer_after = Some(std::time::Duration::from_millis(100)));
    let (status, answer) = s.publish(json!({ "all": true, "dryRun": false })).await;
    assert_eq!(status, 200, "{answer}");
    let ids: Vec<String> = answer["data"]["intents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 4);
    for id in &ids {
        s.settled(id, "published").await;
    }
    assert_eq!(s.fake.posts().len(), 4, "each posted once");
    assert_eq!(
        s.fake.with(|f| f.most_in_flight),
        1,
        "one request at a time"
    );
    let attempts: Vec<i32> =
        sqlx::query_scalar("select attempts from jobs where kind = 'publish' order by id")
            .fetch_all(&s.app.db)
            .await
            .unwrap();
    assert_eq!(
        attempts,
        [1, 1, 1, 1],
        "no attempt spent waiting for a permit"
    );
}
