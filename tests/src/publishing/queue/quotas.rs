//! Platform quotas as the queue's limits (issue 57): a full TikTok inbox holds a queued
//! draft, saying why and until when (as the channel's quota says too, issue 84), and lets
//! it go once a place frees; an Instagram quota
//! answered without its figures is said, never taken as room.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::{at, queue_entries, set_slots};
use crate::publishing::{Entry, setup};

/// Every hour of the week: a queued entry is due within the hour.
fn hourly() -> Value {
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    json!(
        days.iter()
            .flat_map(
                |day| (0..24).map(move |h| json!({ "weekday": day, "time": format!("{h:02}:00") }))
            )
            .collect::<Vec<_>>()
    )
}

#[tokio::test]
async fn a_full_tiktok_inbox_holds_a_queued_draft_until_a_place_frees_and_says_why() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    set_slots(&s, channel, "UTC", hourly()).await;
    let draft = s.entry(Entry::on("tiktok", "Queued draft")).await;
    let answer = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [draft], "mode": "draft" }),
    )
    .await;
    assert_eq!(answer["refused"], json!([]), "{answer}");
    let slot = answer["queued"][0]["publishAt"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    let item = &listed["data"]["items"][0];
    assert_eq!(item["problem"], Value::Null, "{listed}");
    let intent = item["intentId"].as_str().unwrap().to_owned();

    // Five drafts sent now fill the creator's inbox (TikTok holds five waiting).
    for n in 0..5 {
        let entry = s.entry(Entry::on("tiktok", &format!("Draft {n}"))).await;
        let id = s
            .publish_one(
                json!({ "entryIds": [entry], "dryRun": false, "mode": "draft", "when": "now" }),
            )
            .await;
        s.settled(&id, "draft_sent").await;
    }
    let oldest: DateTime<Utc> = sqlx::query_scalar(
        "select min(coalesce(sending_at, sent_at, unknown_since, published_at))
         from publish_intents where user_id = $1 and mode = 'draft' and status = 'draft_sent'",
    )
    .bind(s.user)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    let expected = json!({
        "code": "QUOTA_FULL",
        "message": "TikTok holds at most 5 drafts sent to the account's inbox in 24 hours and not yet posted, and 5 are there: it waits until a place frees",
    });
    let problem = |listed: &Value| {
        let problem = listed["data"]["items"][0]["problem"].clone();
        let frees_at = at(problem["freesAt"]
            .as_str()
            .unwrap_or("1970-01-01T00:00:00Z"));
        (
            json!({ "code": problem["code"], "message": problem["message"] }),
            frees_at,
        )
    };
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    assert_eq!(
        problem(&listed),
        (expected.clone(), oldest + chrono::Duration::hours(24)),
        "{listed}"
    );
    // The channel's quota says the same: five of five drafts, and when a place frees.
    let (status, quota) = s
        .app
        .get_json(s.user, &format!("/v1/channels/{channel}/quota"))
        .await;
    assert_eq!(status, 200, "{quota}");
    let quota = &quota["data"];
    assert_eq!(
        (
            &quota["limit"],
            &quota["used"],
            &quota["counts"],
            &quota["windowSecs"]
        ),
        (&json!(5), &json!(5), &json!("drafts"), &json!(86_400)),
        "{quota}"
    );
    assert_eq!(
        at(quota["freesAt"].as_str().unwrap()),
        oldest + chrono::Duration::hours(24)
    );
    assert!(
        quota["message"]
            .as_str()
            .unwrap()
            .starts_with("TikTok holds at most 5 drafts"),
        "{quota}"
    );

    // Due, it is dispatched but nothing is sent: it waits for the oldest draft's day to
    // end, no attempt spent, and still says why.
    assert_eq!(s.tick(&slot).await.dispatched, 1);
    assert_eq!(s.deferred(&intent, "23 hours").await, 0);
    assert_eq!(s.fake.calls_to("/inbox/video/init/").len(), 5);
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    assert_eq!(problem(&listed).0, expected, "{listed}");

    // A day on, the drafts no longer count (the creator posted them): it goes.
    sqlx::query(
        "update publish_intents set sent_at = sent_at - interval '25 hours',
             published_at = published_at - interval '25 hours'
         where user_id = $1 and mode = 'draft' and status = 'draft_sent'",
    )
    .bind(s.user)
    .execute(&s.app.db)
    .await
    .unwrap();
    s.fake.with(|f| f.tiktok_pending = 0);
    s.release(&intent).await;
    s.settled(&intent, "draft_sent").await;
    assert_eq!(s.fake.calls_to("/inbox/video/init/").len(), 6);
}

#[tokio::test]
async fn an_unreadable_instagram_quota_is_said_and_nothing_is_published() {
    let s = setup().await;
    let (_, instagram) = s.connect_both().await;
    set_slots(&s, instagram, "UTC", hourly()).await;
    s.fake.with(|f| f.quota_unreadable = true);
    let entry = s.entry(Entry::on("instagram", "Matcha notes")).await;
    let answer = queue_entries(
        &s,
        &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [entry] }),
    )
    .await;
    let slot = answer["queued"][0]["publishAt"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, intent) = s.first_queued(instagram).await;
    assert_eq!(s.tick(&slot).await.dispatched, 1);
    // Not taken as room: the publish stops before anything is sent, and says why.
    let waiting = crate::helpers::eventually(
        std::time::Duration::from_secs(20),
        "the quota refusal recorded",
        || async {
            let intent = s.intent(&intent).await;
            (intent["error"]["code"] == "QUOTA_UNREADABLE").then_some(intent)
        },
    )
    .await;
    assert_eq!(
        waiting["error"]["message"],
        "the Instagram publishing quota could not be read (its answer had no quota_usage or quota_total): nothing was published, and it is read again before publishing"
    );
    assert_eq!(s.fake.calls_to("/media_publish").len(), 0);
    assert_eq!(s.fake.calls_to("/media").len(), 0);
    // Read again once Instagram answers it: published once.
    s.fake.with(|f| f.quota_unreadable = false);
    s.release(&intent).await;
    s.settled(&intent, "published").await;
    assert_eq!(s.fake.calls_to("/media_publish").len(), 1);
}
