//! What a toggle does, without a restart: publishing turned off on one API replica makes
//! the other answer dry runs and the workers hold due intents (nothing dropped, sent once
//! it is back on; one that may have been sent is checked, never sent again); `users` mode
//! publishes for the listed users only; calendars turned off
//! take the legacy stream, and a hand edit survives toggling both ways (seed 000 IV1, IV4).

use almanac_shared::flags::Flag;
use serde_json::json;
use uuid::Uuid;

use super::{CALENDAR, PUBLISH};
use crate::{
    calendars::{request, summary},
    publishing::{Entry, Setup, setup},
};

/// Waits until the first worker publishes for each user as `publishes` says.
async fn worker_applies(s: &Setup, publishes: &[(Uuid, bool)]) {
    let worker = s.app.worker_context(0);
    crate::helpers::eventually(
        std::time::Duration::from_secs(10),
        "the worker to apply the flag",
        || async {
            publishes
                .iter()
                .all(|(user, on)| worker.flags.enabled(Flag::PublishService, *user) == *on)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn publishing_turned_off_on_one_replica_makes_the_other_answer_dry_runs() {
    let mut s = setup().await;
    s.connect_both().await;
    let other = s.app.start_api_replica().await;
    let before = s
        .entry(Entry::on("tiktok", "Published before the rollback"))
        .await;
    let after = s
        .entry(Entry::on("tiktok", "Asked for after the rollback"))
        .await;
    let waiting = s
        .entry(Entry::on("instagram", "Scheduled across the rollback"))
        .await;
    let (_, scheduled) = s
        .publish(json!({ "entryIds": [waiting], "dryRun": false, "when": "scheduled" }))
        .await;
    let scheduled = scheduled["data"]["intents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let publish_at_other = |entry: uuid::Uuid| {
        let client = s.app.client.clone();
        let url = format!("{other}/v1/calendars/{}/publish", s.calendar);
        let token = s.app.token(s.user);
        async move {
            let response = client
                .post(url)
                .bearer_auth(token)
                .json(&json!({ "entryIds": [entry], "dryRun": false }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let published = publish_at_other(before).await;
    assert_eq!(published["data"]["dryRun"], false);
    let id = published["data"]["intents"][0]["id"].as_str().unwrap();
    s.settled(id, "published").await;
    assert_eq!(s.fake.posts().len(), 1);

    // Rollback step 1, on the first replica.
    s.app
        .turn_flag(
            &s.app.address,
            PUBLISH,
            &json!({ "state": "off", "note": "rollback" }),
        )
        .await;
    s.app.flag_applied(&other, PUBLISH, "off").await;
    let dry = publish_at_other(after).await;
    assert_eq!(dry["data"]["dryRun"], true);
    assert_eq!(dry["data"]["reason"], "PUBLISH_DISABLED");
    assert_eq!(dry["data"]["intents"][0]["status"], "dry_run");
    // The due intent waits, unsent and kept.
    worker_applies(&s, &[(s.user, false)]).await;
    assert_eq!(s.tick("2030-01-07T09:00:00Z").await.dispatched, 0);
    assert_eq!(s.intent(&scheduled).await["status"], "scheduled");
    assert_eq!(s.fake.posts().len(), 1, "nothing more was sent");

    // Back on: the waiting intent goes, once.
    s.app
        .turn_flag(&other, PUBLISH, &json!({ "state": "on" }))
        .await;
    worker_applies(&s, &[(s.user, true)]).await;
    assert_eq!(s.tick("2030-01-07T09:01:00Z").await.dispatched, 1);
    s.settled(&scheduled, "published").await;
    assert_eq!(s.fake.posts().len(), 2);
}

#[tokio::test]
async fn in_users_mode_only_the_listed_users_publish() {
    let s = setup().await;
    s.connect_both().await;
    let b = s.another_user().await;
    s.connect_both_as(b.0).await;
    let a_now = s.entry(Entry::on("tiktok", "A, now")).await;
    let a_later = s.entry(Entry::on("instagram", "A, scheduled")).await;
    let b_now = s.entry_of(b, Entry::on("tiktok", "B, now")).await;
    let b_later = s.entry_of(b, Entry::on("instagram", "B, scheduled")).await;
    // Both scheduled while publishing was on for everyone.
    let scheduled = |answer: serde_json::Value| {
        answer["data"]["intents"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let body = |entry| json!({ "entryIds": [entry], "dryRun": false, "when": "scheduled" });
    let a_scheduled = scheduled(s.publish(body(a_later)).await.1);
    let b_scheduled = scheduled(s.publish_of(b, body(b_later)).await.1);

    s.app
        .turn_flag(
            &s.app.address,
            PUBLISH,
            &json!({ "state": "users", "users": [s.user] }),
        )
        .await;
    let now = |entry| json!({ "entryIds": [entry], "dryRun": false });
    let (_, a) = s.publish(now(a_now)).await;
    assert_eq!(
        (a["data"]["dryRun"].as_bool(), a["data"]["reason"].is_null()),
        (Some(false), true)
    );
    let (_, b_answer) = s.publish_of(b, now(b_now)).await;
    assert_eq!(b_answer["data"]["dryRun"], true);
    assert_eq!(b_answer["data"]["reason"], "PUBLISH_DISABLED");
    s.settled(&scheduled(a), "published").await;

    // The dispatcher sends A's due intent and keeps B's.
    worker_applies(&s, &[(s.user, true), (b.0, false)]).await;
    assert_eq!(s.tick("2030-01-07T09:00:00Z").await.dispatched, 1);
    s.settled(&a_scheduled, "published").await;
    let b_status: String =
        sqlx::query_scalar("select status from publish_intents where id = $1::uuid")
            .bind(&b_scheduled)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(b_status, "scheduled", "B's intent waits, kept");
    let posts: Vec<String> = s.fake.posts().iter().map(|p| p.body.to_string()).collect();
    assert_eq!(posts.len(), 2, "{posts:?}");
    assert!(
        posts
            .iter()
            .all(|p| p.contains("A, ") && !p.contains("B, ")),
        "{posts:?}"
    );
}

#[tokio::test]
async fn calendars_turned_off_take_the_legacy_stream_and_edits_survive_both_ways() {
    let s = setup().await;
    let app = &s.app;
    let user = uuid::Uuid::new_v4();
    let first = app.calendar_stream(user, &request(3, "tea")).await;
    assert_eq!(summary(&first)["meta"]["mode"], "service");
    let id = summary(&first)["data"]["calendarId"]
        .as_str()
        .unwrap()
        .to_owned();
    let saved = app.calendar(user, &id).await;
    let entry = saved["entries"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .send_json(
            reqwest::Method::PATCH,
            user,
            &format!("/v1/calendars/{id}/entries/{entry}"),
            &json!({ "title": "Mine, whatever the flag" }),
        )
        .await;
    assert_eq!(status, 200);
    let mut again = request(3, "tea");
    again["calendarId"] = json!(id);
    for (state, mode, version) in [("off", "legacy", 2), ("on", "service", 3)] {
        app.turn_flag(&app.address, CALENDAR, &json!({ "state": state }))
            .await;
        let frames = app.calendar_stream(user, &again).await;
        let done = summary(&frames);
        assert_eq!(done["meta"]["mode"], mode);
        assert_eq!(done["data"]["version"], version);
        let kept = app.calendar(user, &id).await["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == entry.as_str())
            .unwrap()["title"]
            .clone();
        assert_eq!(
            kept, "Mine, whatever the flag",
            "after turning calendars {state}"
        );
    }
    // In `users` mode another user gets the legacy path.
    app.turn_flag(
        &app.address,
        CALENDAR,
        &json!({ "state": "users", "users": [user] }),
    )
    .await;
    let other = app
        .calendar_stream(uuid::Uuid::new_v4(), &request(2, "tea"))
        .await;
    assert_eq!(summary(&other)["meta"]["mode"], "legacy");
    let listed = app.calendar_stream(user, &request(2, "tea")).await;
    assert_eq!(summary(&listed)["meta"]["mode"], "service");
}

#[tokio::test]
async fn an_intent_that_may_have_been_sent_is_still_checked_never_sent_while_publishing_is_off() {
    let mut s = setup().await;
    s.connect_both().await;
    s.fake.with(|f| f.hang_after_publish = true);
    let entry = s
        .entry(Entry::on("instagram", "Sent as the rollback began"))
        .await;
    let id = s
        .publish_one(json!({ "entryIds": [entry], "dryRun": false }))
        .await;
    crate::helpers::eventually(
        std::time::Duration::from_secs(20),
        "media_publish sent",
        || async { (s.fake.calls_to("/media_publish").len() == 1).then_some(()) },
    )
    .await;
    // Its worker dies with the answer outstanding, and publishing is rolled back.
    s.app.kill_worker(0);
    s.app
        .turn_flag(
            &s.app.address,
            PUBLISH,
            &json!({ "state": "off", "note": "rollback" }),
        )
        .await;
    // The worker that takes the job over only checks (read-only): it settles, once.
    s.app.start_worker().await;
    let published = s.settled(&id, "published").await;
    assert_eq!(s.fake.calls_to("/media_publish").len(), 1);
    assert_eq!(s.fake.posts().len(), 1);
    assert_eq!(published["remotePostId"], s.fake.posts()[0].id.as_str());
}
