//! Evergreen collections (issue 57): entries queued again when their channel's queue has
//! nothing else, never twice within `minGapDays` on a channel (a simulated clock runs the
//! worker's pass day by day); with `ai` each repeat is rewritten, its usage counted, and no
//! text repeats on a channel within the gap, whatever the model says.

use almanac_shared::clock::ManualClock;
use chrono::{DateTime, Duration, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Entry, Setup, publish_env, setup, setup_with};
use crate::helpers::{Behaviour, FakeAi, TestOptions, fake_platforms::FakePlatforms};

/// A slot every day at 09:00 UTC on `channel`.
pub(crate) async fn daily_slot(s: &Setup, channel: Uuid) {
    let slots: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| json!({ "weekday": day, "time": "09:00" }))
        .collect();
    let (status, kept) = s
        .app
        .send_json(
            Method::PUT,
            s.user,
            &format!("/v1/channels/{channel}/slots"),
            &json!({ "timezone": "UTC", "slots": slots }),
        )
        .await;
    assert_eq!(status, 200, "{kept}");
}

async fn collection(s: &Setup, body: Value) -> Value {
    let (status, made) = s
        .app
        .send_json(Method::POST, s.user, "/v1/evergreen", &body)
        .await;
    assert_eq!(status, 201, "{made}");
    made["data"].clone()
}

/// TikTok with a slot every day at 09:00 UTC, one entry ("Matcha, whisked") and a
/// collection of it rewritten by the AI, `min_gap_days` apart; the channel and entry.
async fn matcha(s: &Setup, min_gap_days: u32) -> (Uuid, Uuid) {
    let channel = s.connect_tiktok().await;
    daily_slot(s, channel).await;
    let entry = s.entry(Entry::on("tiktok", "Matcha, whisked")).await;
    collection(
        s,
        json!({ "name": "Matcha", "channelIds": [channel], "entryIds": [entry],
            "minGapDays": min_gap_days, "variation": "ai" }),
    )
    .await;
    (channel, entry)
}

/// Runs the worker's evergreen pass at `at`, then lets what it queued go out at its slot
/// (as the platform would take it); the (entry, slot, text) queued.
async fn day(s: &Setup, at: DateTime<Utc>) -> Vec<(Uuid, DateTime<Utc>, String)> {
    let clock = ManualClock::new(at);
    let repeated = almanac_worker::evergreen::tick(&s.app.worker_context(0), &clock)
        .await
        .unwrap();
    let mut out = Vec::new();
    for r in repeated {
        let text: String = sqlx::query_scalar(
            "update publish_intents set status = 'published', published_at = publish_at,
                 sent_at = publish_at
             where id = $1
             returning coalesce(payload ->> 'variant', payload -> 'post' ->> 'text')",
        )
        .bind(r.intent)
        .fetch_one(&s.app.db)
        .await
        .unwrap();
        out.push((r.entry, r.publish_at, text));
    }
    out
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

#[tokio::test]
async fn a_seven_day_gap_never_posts_an_entry_twice_within_seven_days() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    daily_slot(&s, channel).await;
    let first = s.entry(Entry::on("tiktok", "Steeping times")).await;
    let second = s.entry(Entry::on("tiktok", "Water temperature")).await;
    let made = collection(
        &s,
        json!({ "name": "Tea basics", "channelIds": [channel], "entryIds": [first, second],
            "minGapDays": 7, "variation": "none" }),
    )
    .await;
    assert_eq!(made["paused"], false);

    // Four weeks of days, the pass running at 08:00 UTC before each day's 09:00 slot.
    let start = at("2030-03-01T08:00:00Z");
    let mut posted: Vec<(Uuid, DateTime<Utc>)> = Vec::new();
    for n in 0..28 {
        for (entry, slot, _) in day(&s, start + Duration::days(n)).await {
            posted.push((entry, slot));
        }
    }
    let slot = |n: i64| at("2030-03-01T09:00:00Z") + Duration::days(n);
    assert_eq!(
        posted,
        vec![
            (first, slot(0)),
            (second, slot(1)),
            (first, slot(7)),
            (second, slot(8)),
            (first, slot(14)),
            (second, slot(15)),
            (first, slot(21)),
            (second, slot(22)),
        ]
    );

    // Paused, nothing is queued; resumed, it goes on.
    let path = format!("/v1/evergreen/{}", made["id"].as_str().unwrap());
    let (status, paused) = s
        .app
        .send_json(Method::PATCH, s.user, &path, &json!({ "paused": true }))
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["data"]["paused"], true);
    assert!(day(&s, start + Duration::days(28)).await.is_empty());
    let (status, _) = s
        .app
        .send_json(Method::PATCH, s.user, &path, &json!({ "paused": false }))
        .await;
    assert_eq!(status, 200);
    let resumed = day(&s, start + Duration::days(28)).await;
    assert_eq!(resumed.len(), 1);
    assert_eq!((resumed[0].0, resumed[0].1), (first, slot(28)));

    // Its next repeat, once queued, is listed with it.
    let (_, listed) = s.app.get_json(s.user, "/v1/evergreen").await;
    assert_eq!(listed["data"]["items"][0]["nextRepeat"], Value::Null);
    let clock = ManualClock::new(start + Duration::days(29));
    let queued = almanac_worker::evergreen::tick(&s.app.worker_context(0), &clock)
        .await
        .unwrap();
    assert_eq!(queued.len(), 1);
    let (_, listed) = s.app.get_json(s.user, "/v1/evergreen").await;
    let next = &listed["data"]["items"][0]["nextRepeat"];
    assert_eq!(next["entryId"], queued[0].entry.to_string(), "{listed}");
    assert_eq!(next["channelId"], channel.to_string());
    assert_eq!(
        at(next["publishAt"].as_str().unwrap()),
        queued[0].publish_at
    );

    // Listed; another user's is not found; deleted, it queues nothing more.
    let (status, listed) = s.app.get_json(s.user, "/v1/evergreen").await;
    assert_eq!(status, 200);
    assert_eq!(listed["data"]["items"].as_array().unwrap().len(), 1);
    let (other, _) = s.another_user().await;
    let (status, _) = s
        .app
        .send_json(Method::PATCH, other, &path, &json!({ "paused": true }))
        .await;
    assert_eq!(status, 404);
    let (status, _) = s.app.send_empty(Method::DELETE, s.user, &path).await;
    assert_eq!(status, 204);
    assert!(day(&s, start + Duration::days(29)).await.is_empty());
}

#[tokio::test]
async fn entries_and_channels_not_the_callers_are_refused_naming_them() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    let entry = s.entry(Entry::on("tiktok", "Steeping times")).await;
    let stranger = Uuid::now_v7();
    let (status, refused) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/evergreen",
            &json!({ "name": "Tea", "channelIds": [channel], "entryIds": [entry, stranger],
                "minGapDays": 7, "variation": "none" }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "ENTRY_NOT_FOUND");
    assert_eq!(refused["error"]["details"]["ids"], json!([stranger]));
    let (status, refused) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/evergreen",
            &json!({ "name": "Tea", "channelIds": [stranger], "entryIds": [entry],
                "minGapDays": 7, "variation": "none" }),
        )
        .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "CHANNEL_NOT_FOUND");
}

#[tokio::test]
async fn ai_rewrites_never_repeat_a_text_on_the_channel_and_are_counted() {
    let s = setup().await;
    matcha(&s, 1).await;
    let start = at("2030-03-01T08:00:00Z");
    let mut texts: Vec<String> = Vec::new();
    for n in 0..10 {
        let queued = day(&s, start + Duration::days(n)).await;
        assert_eq!(queued.len(), 1, "day {n}");
        texts.push(queued[0].2.clone());
    }
    let mut distinct = texts.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{texts:?}");
    assert!(
        texts.iter().all(|t| t.contains("Matcha, whisked")),
        "{texts:?}"
    );
    let calls: i64 = sqlx::query_scalar(
        "select coalesce(sum(calls), 0)::bigint from ai_usage
         where user_id = $1 and kind = 'evergreen.v1'",
    )
    .bind(s.user)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(calls, 10);
}

#[tokio::test]
async fn a_model_that_repeats_itself_gets_no_repeat_queued() {
    let fake_ai = FakeAi::start(
        Vec::new(),
        Behaviour::Says(json!({ "text": "Same words, every day" }).to_string()),
    )
    .await;
    let fake = FakePlatforms::start().await;
    let s = setup_with(
        TestOptions {
            env: publish_env(&fake, true),
            fake_ai: Some(fake_ai.clone()),
            ..Default::default()
        },
        fake,
    )
    .await;
    let (channel, _) = matcha(&s, 3).await;
    let start = at("2030-03-01T08:00:00Z");
    let first = day(&s, start).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].2, "Same words, every day");
    // Three days on, the channel had those words within the gap: asked twice, then
    // nothing is queued rather than the same text again.
    let calls = fake_ai.calls();
    assert!(day(&s, start + Duration::days(3)).await.is_empty());
    assert_eq!(fake_ai.calls() - calls, 2);
    let posted: i64 = sqlx::query_scalar(
        "select count(*) from publish_intents where account = $1 and evergreen_id is not null",
    )
    .bind(channel)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(posted, 1);
}

#[tokio::test]
async fn a_rewritten_repeat_goes_out_in_its_new_words() {
    let s = setup().await;
    let (channel, _) = matcha(&s, 7).await;
    let clock = ManualClock::new(at("2030-03-01T08:00:00Z"));
    let repeated = almanac_worker::evergreen::tick(&s.app.worker_context(0), &clock)
        .await
        .unwrap();
    assert_eq!(repeated.len(), 1);
    let intent = repeated[0].intent.to_string();
    let variant = s.intent(&intent).await["payload"]["variant"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        variant.contains("Matcha, whisked") && variant != "Matcha, whisked",
        "{variant}"
    );
    // In the queue, marked as the collection's.
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={channel}"))
        .await;
    assert_eq!(listed["data"]["items"][0]["intentId"], intent.as_str());
    assert!(
        listed["data"]["items"][0]["evergreenId"].is_string(),
        "{listed}"
    );
    assert_eq!(s.tick("2030-03-01T09:00:00Z").await.dispatched, 1);
    s.settled(&intent, "published").await;
    let posts = s.fake.posts();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body["post_info"]["title"], variant.as_str());
}
