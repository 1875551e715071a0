//! Publishing off means nothing goes out and nothing is fetched (issue 73): with
//! `PUBLISH_SERVICE_ENABLED` off, the queue and its shuffle answer a dry run and store
//! nothing, evergreen queues nothing, readings and token renewals wait, and connecting is
//! refused, all without one call to any platform; once it is back on, an intent that fell
//! due meanwhile goes out if it is within `PUBLISH_LATE_LIMIT_MINUTES`, and fails
//! `SCHEDULE_PASSED` unsent if it is later.

use std::time::Duration;

use almanac_shared::{clock::SystemClock, flags::Flag};
use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Entry, Setup,
    channels::{callback, start_connect},
    setup,
};
use crate::helpers::eventually;

/// Turns publishing `state` ("on" or "off") and waits until the worker applies it.
async fn publishing(s: &Setup, state: &str) {
    s.app
        .turn_flag(
            &s.app.address,
            "PUBLISH_SERVICE_ENABLED",
            &json!({ "state": state }),
        )
        .await;
    let ctx = s.app.worker_context(0);
    let on = state == "on";
    eventually(Duration::from_secs(10), "the worker to apply the flag", || {
        let ctx = ctx.clone();
        async move { (ctx.flags.enabled(Flag::PublishService, Uuid::nil()) == on).then_some(()) }
    })
    .await;
}

async fn intents(s: &Setup) -> i64 {
    sqlx::query_scalar("select count(*) from publish_intents")
        .fetch_one(&s.app.db)
        .await
        .unwrap()
}

/// Waits until the `post_metrics` job `job` waits again, its attempt given back.
async fn waiting(s: &Setup, job: Uuid) -> Value {
    eventually(Duration::from_secs(20), "the reading to wait", || async {
        let row: Option<(String, i32, bool, Option<Value>)> = sqlx::query_as(
            "select status, attempts, run_after > now() + interval '30 seconds', error
             from jobs where id = $1",
        )
        .bind(job)
        .fetch_optional(&s.app.db)
        .await
        .unwrap();
        row.filter(|(status, _, later, _)| status == "pending" && *later)
            .map(|(_, attempts, _, error)| json!({ "attempts": attempts, "error": error }))
    })
    .await
}

/// Each entry scheduled on `tiktok` and fallen due the minutes given ago: their intents.
async fn fell_due(s: &Setup, tiktok: Uuid, due: [(Uuid, i32); 2]) -> Vec<Uuid> {
    let mut scheduled = Vec::new();
    for (entry, minutes) in due {
        let (status, answer) = s
            .publish(
                json!({ "entryIds": [entry], "channels": [tiktok], "dryRun": false,
                "when": "scheduled" }),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        let id: Uuid = answer["data"]["intents"][0]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        sqlx::query(
            "update publish_intents set publish_at = now() - make_interval(mins => $2)
             where id = $1",
        )
        .bind(id)
        .bind(minutes)
        .execute(&s.app.db)
        .await
        .unwrap();
        scheduled.push(id);
    }
    scheduled
}

/// The queue and its shuffle: where the entries would go, nothing kept.
async fn the_queue_says_where_entries_would_go_and_keeps_nothing(s: &Setup, tiktok: Uuid) {
    let queued_entry = s.entry(Entry::on("tiktok", "Queued while off")).await;
    let (status, queue) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/queue",
            &json!({ "calendarId": s.calendar, "notBefore": "now", "entryIds": [queued_entry] }),
        )
        .await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["data"]["dryRun"], true);
    assert_eq!(queue["data"]["reason"], "PUBLISH_DISABLED");
    assert_eq!(
        queue["data"]["queued"][0]["entryId"],
        queued_entry.to_string()
    );
    assert_eq!(queue["data"]["queued"][0]["channelId"], tiktok.to_string());
    // Every action on the queue is a dry run too: a pause kept nothing either.
    for action in ["pack", "shuffle", "swap", "remove", "pause", "resume"] {
        let body = match action {
            "swap" => json!({ "channelId": tiktok, "entryIds": [queued_entry, Uuid::now_v7()] }),
            "remove" => json!({ "channelId": tiktok, "entryIds": [queued_entry] }),
            _ => json!({ "channelId": tiktok }),
        };
        let (status, answer) = s
            .app
            .send_json(Method::POST, s.user, &format!("/v1/queue/{action}"), &body)
            .await;
        assert_eq!(status, 200, "{action}: {answer}");
        assert_eq!(answer["data"]["dryRun"], true, "{action}");
        assert_eq!(answer["data"]["reason"], "PUBLISH_DISABLED", "{action}");
    }
    let paused: Option<chrono::DateTime<Utc>> =
        sqlx::query_scalar("select queue_paused_at from platform_accounts where id = $1")
            .bind(tiktok)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(paused, None, "a dry run paused the queue");
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/queue?channelId={tiktok}"))
        .await;
    assert!(
        !listed["data"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["entryId"] == queued_entry.to_string()),
        "nothing was queued: {listed}"
    );
}

/// Readings, scheduled and asked for, wait unasked.
async fn readings_wait_unasked(
    s: &Setup,
    ctx: &almanac_worker::job::JobContext,
    published: Uuid,
    published_at: chrono::DateTime<Utc>,
) {
    let jobs = almanac_worker::readings::tick(
        ctx,
        &almanac_shared::clock::ManualClock::new(published_at + chrono::Duration::minutes(61)),
    )
    .await
    .unwrap();
    assert_eq!(jobs.len(), 1);
    let waited = waiting(s, jobs[0]).await;
    assert_eq!(waited["attempts"], 0, "{waited}");
    let (status, asked) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            &format!("/v1/analytics/posts/{published}/refresh"),
            &json!(null),
        )
        .await;
    assert_eq!(status, 202, "{asked}");
    let manual: Uuid = sqlx::query_scalar(
        "select job_id from post_metric_reads where intent_id = $1 and reading = 'manual'",
    )
    .bind(published)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    waiting(s, manual).await;
}

/// Connecting is refused (a password or an OAuth completion), its state still usable.
async fn connecting_is_refused(s: &Setup, oauth_state: &str) {
    let (status, refused) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/channels/bluesky/credentials",
            &json!({ "identifier": "almanac.bsky.social", "password": crate::helpers::fake_platforms::APP_PASSWORD }),
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "PUBLISH_DISABLED");
    let carried = callback(
        s,
        "instagram",
        &format!("code=good-code&state={oauth_state}"),
    )
    .await;
    let (status, refused) = super::channels::complete(s, s.user, "instagram", &carried).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "PUBLISH_DISABLED");
}

#[tokio::test]
async fn with_publishing_off_nothing_is_sent_fetched_or_stored_and_late_posts_stay_unsent() {
    let s = setup().await;
    // The readings held while publishing was off are still waiting when the test ends.
    s.app.expect_unfinished_jobs();
    let (tiktok, instagram) = s.connect_both().await;
    // Every day at 09:00 UTC, for the queue and evergreen.
    let every_day: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        .iter()
        .map(|day| json!({ "weekday": day, "time": "09:00" }))
        .collect();
    super::queue::set_slots(&s, tiktok, "UTC", json!(every_day)).await;
    // A published post, whose numbers are read; an evergreen collection; an OAuth
    // connection begun; two posts scheduled, which fall due while publishing is off.
    let (published, published_at) =
        crate::publishing::analytics::published_now(&s, "tiktok", tiktok).await;
    let evergreen = s.entry(Entry::on("tiktok", "Matcha, whisked")).await;
    let (status, made) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            "/v1/evergreen",
            &json!({ "name": "Matcha", "channelIds": [tiktok], "entryIds": [evergreen],
                "minGapDays": 1, "variation": "none" }),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    let (oauth_state, _) = start_connect(&s, s.user, "instagram").await;
    let (late, on_time) = (
        s.entry(Entry::on("tiktok", "Ninety minutes late")).await,
        s.entry(Entry::on("tiktok", "Ten minutes late")).await,
    );
    let scheduled = fell_due(&s, tiktok, [(late, 90), (on_time, 10)]).await;
    // Instagram's token is within the renewal window.
    s.update_channel(
        instagram,
        "token_expires_at = now() + interval '3 days', token_issued_at = now() - interval '57 days'",
    )
    .await;

    publishing(&s, "off").await;
    let calls = s.fake.all_calls().len();
    let stored = intents(&s).await;

    the_queue_says_where_entries_would_go_and_keeps_nothing(&s, tiktok).await;

    // Evergreen: nothing queued.
    let ctx = s.app.worker_context(0);
    let clock = almanac_shared::clock::ManualClock::new(Utc::now() + chrono::Duration::days(1));
    let repeated = almanac_worker::evergreen::tick(&ctx, &clock).await.unwrap();
    assert!(repeated.is_empty(), "{repeated:?}");

    readings_wait_unasked(&s, &ctx, published, published_at).await;

    // Renewals wait; connecting is refused, its state still usable.
    let warned = almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    assert!(warned.is_empty());
    connecting_is_refused(&s, &oauth_state).await;

    // What fell due waits, held.
    assert_eq!(s.tick(&Utc::now().to_rfc3339()).await.dispatched, 0);
    let held: i64 = sqlx::query_scalar(
        "select count(*) from publish_intents where id = any($1) and held_since is not null",
    )
    .bind(&scheduled)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!(held, 2);
    assert_eq!(
        s.fake.all_calls().len(),
        calls,
        "no platform was called while publishing was off: {:?}",
        &s.fake.all_calls()[calls..]
    );
    assert_eq!(intents(&s).await, stored, "no intent was stored");

    // Back on: the late one fails unsent, the other goes out once.
    publishing(&s, "on").await;
    let posts_before = s.fake.with(|f| f.posts.len());
    let inits_before = s.fake.calls_to("/video/init/").len();
    assert_eq!(s.tick(&Utc::now().to_rfc3339()).await.dispatched, 2);
    let failed = s.settled(&scheduled[0].to_string(), "failed").await;
    assert_eq!(failed["error"]["code"], "SCHEDULE_PASSED", "{failed}");
    s.settled(&scheduled[1].to_string(), "published").await;
    let inits = s.fake.calls_to("/video/init/").len();
    assert_eq!(inits - inits_before, 1, "one post sent, the late one not");
    assert_eq!(s.fake.with(|f| f.posts.len()) - posts_before, 1);
    // What waited while off goes on now: the renewal, and evergreen's repeat.
    let refreshes = s.fake.calls_to("/refresh_access_token").len();
    almanac_worker::expiry::check(&ctx, &SystemClock)
        .await
        .unwrap();
    assert_eq!(
        s.fake.calls_to("/refresh_access_token").len(),
        refreshes + 1
    );
    let repeated = almanac_worker::evergreen::tick(&ctx, &clock).await.unwrap();
    assert_eq!(
        repeated.len(),
        1,
        "the repeat skipped while off is queued now"
    );
}
