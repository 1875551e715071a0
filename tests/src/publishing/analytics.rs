//! What worked (issue 58), its first part: posts' readings kept once each (an empty one
//! kept as empty), a channel's measured posts read back by their 7-day reading, and its
//! best times from them, as the formula gives them by hand.

use almanac_shared::workspaces::Actor;
use almanac_shared::{
    domain::analytics::{Measured, Reading, from_history},
    store::{analytics, user_tx},
};
use chrono::{DateTime, Duration, Utc, Weekday};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::publishing::{Setup, setup};

/// A post published on `channel` at `at`; its intent id.
async fn published(s: &crate::publishing::Setup, channel: Uuid, at: DateTime<Utc>) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into publish_intents (id, user_id, calendar_id, channel, account, mode, dry_run,
             timing, publish_at, status, published_at)
         values ($1, $2, $3, 'tiktok', $4, 'publish', false, 'scheduled', $5, 'published', $5)",
    )
    .bind(id)
    .bind(s.user)
    .bind(s.calendar)
    .bind(channel)
    .bind(at)
    .execute(&s.app.db)
    .await
    .unwrap();
    id
}

/// Ten posts published on `channel`: five on Mondays at 08:00 UTC, then five on
/// Wednesdays at 19:00 UTC; their intents and times.
async fn ten_posts(s: &crate::publishing::Setup, channel: Uuid) -> Vec<(Uuid, DateTime<Utc>)> {
    let monday: DateTime<Utc> = "2030-01-07T08:00:00Z".parse().unwrap();
    let mut posts = Vec::new();
    for n in 0..10 {
        let at = if n < 5 {
            monday + Duration::weeks(n)
        } else {
            monday + Duration::weeks(n - 5) + Duration::days(2) + Duration::hours(11)
        };
        posts.push((published(s, channel, at).await, at));
    }
    posts
}

/// [`ten_posts`] with their 7-day readings: the Monday ones 80 likes in 1,000 views, the
/// Wednesday ones 20 in 2,000.
pub(crate) async fn a_history(s: &crate::publishing::Setup, channel: Uuid) {
    for (n, (intent, _)) in ten_posts(s, channel).await.into_iter().enumerate() {
        let (views, likes) = if n < 5 { (1_000, 80) } else { (2_000, 20) };
        let kept = analytics::NewReading {
            intent_id: intent,
            user_id: s.user,
            account: Some(channel),
            reading: "7d",
            metrics: Some(reading(views, likes)),
            reach: None,
            followers: None,
        };
        assert!(analytics::record(&s.app.db, &kept).await.unwrap());
    }
}

fn reading(views: u64, likes: u64) -> Reading {
    Reading {
        views: Some(views),
        likes: Some(likes),
        comments: Some(0),
        ..Default::default()
    }
}

/// Each post's scheduled readings are kept once (the day's empty one too, as Instagram's
/// lag leaves it), manual ones as often as asked.
async fn readings_are_kept_once(s: &Setup, channel: Uuid, posts: &[(Uuid, DateTime<Utc>)]) {
    let keep = |intent: Uuid, kind: &'static str, metrics: Option<Reading>| analytics::NewReading {
        intent_id: intent,
        user_id: s.user,
        account: Some(channel),
        reading: kind,
        metrics,
        reach: None,
        followers: None,
    };
    for (n, (intent, _)) in posts.iter().enumerate() {
        let (views, likes) = if n < 5 { (1_000, 80) } else { (2_000, 20) };
        assert!(
            analytics::record(&s.app.db, &keep(*intent, "1h", Some(reading(10, 1))))
                .await
                .unwrap()
        );
        // Instagram-like lag: the day's reading came back empty, and is kept so.
        assert!(
            analytics::record(&s.app.db, &keep(*intent, "24h", None))
                .await
                .unwrap()
        );
        assert!(
            analytics::record(&s.app.db, &keep(*intent, "7d", Some(reading(views, likes))))
                .await
                .unwrap()
        );
        // Each scheduled reading once; manual ones as often as asked.
        assert!(
            !analytics::record(&s.app.db, &keep(*intent, "7d", Some(reading(1, 1))))
                .await
                .unwrap()
        );
        assert!(
            !analytics::record(&s.app.db, &keep(*intent, "24h", None))
                .await
                .unwrap()
        );
    }
    assert!(
        analytics::record(&s.app.db, &keep(posts[0].0, "manual", Some(reading(5, 5))))
            .await
            .unwrap()
    );
    assert!(
        analytics::record(&s.app.db, &keep(posts[0].0, "manual", Some(reading(6, 6))))
            .await
            .unwrap()
    );
    let rows: i64 = sqlx::query_scalar("select count(*) from post_metrics where account = $1")
        .bind(channel)
        .fetch_one(&s.app.db)
        .await
        .unwrap();
    assert_eq!(rows, 32);
    let empty: i64 =
        sqlx::query_scalar("select count(*) from post_metrics where account = $1 and empty")
            .bind(channel)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(empty, 10);
}

/// The endpoint, in the channel's slot zone, cell by cell (`m`: the mean rate).
async fn the_endpoint_gives_each_cell_in_the_slot_zone(s: &Setup, channel: Uuid, m: f64) {
    let (status, set) = s
        .app
        .send_json(
            Method::PUT,
            s.user,
            &format!("/v1/channels/{channel}/slots"),
            &json!({ "timezone": "Europe/Madrid", "slots": [] }),
        )
        .await;
    assert_eq!(status, 200, "{set}");
    let best = best_times(s, channel).await;
    assert_eq!(best["source"], "history");
    assert_eq!(best["timezone"], "Europe/Madrid");
    assert_eq!(best["posts"], 10);
    let hours = best["hours"].as_array().unwrap();
    assert_eq!(hours.len(), 168);
    for cell in hours {
        let expected = match (
            cell["weekday"].as_str().unwrap(),
            cell["hour"].as_u64().unwrap(),
        ) {
            ("mon", 9) => (400.0 + 5.0 * m) / 5_005.0,
            ("wed", 20) => (100.0 + 5.0 * m) / 10_005.0,
            _ => m,
        };
        let rate = cell["rate"].as_f64().unwrap();
        assert!((rate - expected).abs() < 1e-12, "{cell}");
    }
    assert_eq!(
        (hours[0]["weekday"].as_str(), hours[0]["hour"].as_u64()),
        (Some("mon"), Some(9))
    );
}

/// New slots start from the best times: each weekday's best hour, the platform's general
/// best where the history says nothing.
async fn new_slots_start_from_them(s: &Setup, channel: Uuid) {
    let (_, slots) = s
        .app
        .get_json(s.user, &format!("/v1/channels/{channel}/slots"))
        .await;
    let suggested: Vec<String> = slots["data"]["suggested"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| {
            format!(
                "{} {}",
                slot["weekday"].as_str().unwrap(),
                slot["time"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        suggested,
        [
            "mon 09:00",
            "tue 14:00",
            "wed 14:00",
            "thu 14:00",
            "fri 08:00",
            "sat 09:00",
            "sun 09:00"
        ]
    );
}

#[tokio::test]
async fn readings_are_kept_once_and_best_times_follow_the_seven_day_ones() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    let posts = ten_posts(&s, channel).await;
    readings_are_kept_once(&s, channel, &posts).await;

    // Read back as the owner: each post by its 7-day reading.
    let mut tx = user_tx(&s.app.db, Actor::personal(s.user)).await.unwrap();
    let measured = analytics::measured(&mut tx, channel).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(measured.len(), 10);
    assert!(measured.iter().all(|row| row.measured().settled));
    let measured: Vec<Measured> = measured.iter().map(|row| row.measured()).collect();
    assert_eq!(measured[0].engagements, 80);
    assert_eq!(measured[0].reach, 1_000);
    // Another user reads none of them.
    let (other, _) = s.another_user().await;
    let mut tx = user_tx(&s.app.db, Actor::personal(other)).await.unwrap();
    assert!(
        analytics::measured(&mut tx, channel)
            .await
            .unwrap()
            .is_empty()
    );
    tx.commit().await.unwrap();

    // By hand, in Madrid (UTC+1 in winter): m = (5·80 + 5·20) / (5·1000 + 5·2000) = 500 /
    // 15000; Monday 09:00 = (400 + 5m) / (5000 + 5); Wednesday 20:00 = (100 + 5m) / (10000 + 5).
    let cells = from_history(&measured, chrono_tz::Europe::Madrid, "tiktok").unwrap();
    let m = 500.0 / 15_000.0;
    assert_eq!((cells[0].weekday, cells[0].hour), (Weekday::Mon, 9));
    assert!((cells[0].rate - (400.0 + 5.0 * m) / 5_005.0).abs() < 1e-12);
    let last = cells.last().unwrap();
    assert_eq!((last.weekday, last.hour), (Weekday::Wed, 20));
    assert!((last.rate - (100.0 + 5.0 * m) / 10_005.0).abs() < 1e-12);

    the_endpoint_gives_each_cell_in_the_slot_zone(&s, channel, m).await;
    new_slots_start_from_them(&s, channel).await;

    // Nine posts with a 7-day reading are no history: TikTok's general defaults.
    sqlx::query("delete from post_metrics where intent_id = $1 and reading = '7d'")
        .bind(posts[9].0)
        .execute(&s.app.db)
        .await
        .unwrap();
    let best = best_times(&s, channel).await;
    assert_eq!(best["source"], "defaults");
    assert_eq!(best["posts"], 9);
    assert_eq!(best["hours"].as_array().unwrap().len(), 168);
    assert_eq!(
        best["hours"][0],
        json!({ "weekday": "tue", "hour": 14, "rate": 1.0 })
    );
    // Another user's channel is not found.
    let (other, _) = s.another_user().await;
    let (status, _) = s
        .app
        .get_json(other, &format!("/v1/channels/{channel}/best-times"))
        .await;
    assert_eq!(status, 404);
}

/// `GET /v1/channels/{id}/best-times`'s data.
async fn best_times(s: &crate::publishing::Setup, channel: Uuid) -> Value {
    let (status, best) = s
        .app
        .get_json(s.user, &format!("/v1/channels/{channel}/best-times"))
        .await;
    assert_eq!(status, 200, "{best}");
    best["data"].clone()
}

/// Runs the worker's readings pass at `at`; how many readings it made.
pub(crate) async fn pass(s: &crate::publishing::Setup, at: DateTime<Utc>) -> usize {
    let clock = almanac_shared::clock::ManualClock::new(at);
    almanac_worker::readings::tick(&s.app.worker_context(0), &clock)
        .await
        .unwrap()
        .len()
}

/// Waits until no `post_metrics` job is pending or running.
pub(crate) async fn read(s: &crate::publishing::Setup) {
    crate::helpers::eventually(std::time::Duration::from_secs(20), "the readings to end", || async {
        let open: i64 = sqlx::query_scalar(
            "select count(*) from jobs where kind = 'post_metrics' and status in ('pending', 'running')",
        )
        .fetch_one(&s.app.db)
        .await
        .unwrap();
        (open == 0).then_some(())
    })
    .await;
}

/// One entry published now on `channel` (`platform`'s); its intent and when it went out.
pub(crate) async fn published_now(
    s: &crate::publishing::Setup,
    platform: &str,
    channel: Uuid,
) -> (Uuid, DateTime<Utc>) {
    let entry = s
        .entry(crate::publishing::Entry::on(platform, "Matcha, whisked"))
        .await;
    let id = s.publish_now(entry, channel).await;
    s.settled(&id, "published").await;
    let intent: Uuid = id.parse().unwrap();
    let at: DateTime<Utc> =
        sqlx::query_scalar("select published_at from publish_intents where id = $1")
            .bind(intent)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    (intent, at)
}

/// The readings kept of `intent`: (reading, empty, views), oldest first.
pub(crate) async fn kept(
    s: &crate::publishing::Setup,
    intent: Uuid,
) -> Vec<(String, bool, Option<i64>)> {
    sqlx::query_as(
        "select reading, empty, views from post_metrics where intent_id = $1 order by read_at, id",
    )
    .bind(intent)
    .fetch_all(&s.app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn readings_come_at_an_hour_a_day_and_a_week_each_once_and_on_demand() {
    let s = setup().await;
    let channel = s.connect_tiktok().await;
    let (intent, at) = published_now(&s, "tiktok", channel).await;
    // Nothing is due before the hour.
    assert_eq!(pass(&s, at + Duration::minutes(59)).await, 0);
    for (after, reading) in [
        (Duration::hours(1), "1h"),
        (Duration::hours(24), "24h"),
        (Duration::days(7), "7d"),
    ] {
        assert_eq!(pass(&s, at + after).await, 1, "{reading}");
        read(&s).await;
        // Every worker's pass sees it made: none twice.
        assert_eq!(pass(&s, at + after + Duration::minutes(5)).await, 0);
    }
    // Between readings, and after the last, nothing more.
    assert_eq!(pass(&s, at + Duration::days(3)).await, 0);
    assert_eq!(pass(&s, at + Duration::days(30)).await, 0);
    // The fake's numbers grow with each read, as a post's do with time.
    assert_eq!(
        kept(&s, intent).await,
        [
            ("1h".to_owned(), false, Some(500)),
            ("24h".to_owned(), false, Some(1_000)),
            ("7d".to_owned(), false, Some(1_500)),
        ]
    );
    assert_eq!(s.fake.calls_to("/v2/video/query/").len(), 3);

    // The post with its latest numbers and its rate, from the 7-day reading:
    // (120 likes + 18 comments + 12 shares) / 1,500 views.
    let path = format!("/v1/analytics/posts?channelId={channel}");
    let (status, listed) = s.app.get_json(s.user, &path).await;
    assert_eq!(status, 200, "{listed}");
    let items = listed["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["intentId"], intent.to_string());
    assert_eq!(items[0]["reading"], "7d");
    assert_eq!(items[0]["metrics"]["views"], 1_500);
    assert_eq!(items[0]["metrics"]["engagements"], 150);
    assert_eq!(items[0]["engagementRate"], 0.1);
    assert!(items[0]["problem"].is_null());

    // On demand: one `manual` reading per ask, the rate still the week's.
    let refresh = format!("/v1/analytics/posts/{intent}/refresh");
    let (status, asked) = s
        .app
        .send_json(Method::POST, s.user, &refresh, &Value::Null)
        .await;
    assert_eq!(status, 202, "{asked}");
    assert_eq!(asked["reading"], "manual");
    read(&s).await;
    let readings = kept(&s, intent).await;
    assert_eq!(readings.len(), 4);
    assert_eq!(readings[3], ("manual".to_owned(), false, Some(2_000)));
    let (_, listed) = s.app.get_json(s.user, &path).await;
    assert_eq!(listed["data"]["items"][0]["reading"], "manual");
    assert_eq!(listed["data"]["items"][0]["metrics"]["views"], 2_000);
    assert_eq!(listed["data"]["items"][0]["engagementRate"], 0.1);

    // Another user's post is not found; a post not published has nothing to read.
    let (other, _) = s.another_user().await;
    let (status, _) = s
        .app
        .send_json(Method::POST, other, &refresh, &Value::Null)
        .await;
    assert_eq!(status, 404);
    let entry = s
        .entry(crate::publishing::Entry::on("tiktok", "Not yet"))
        .await;
    let dry = s
        .publish_one(json!({ "entryIds": [entry], "channels": [channel] }))
        .await;
    let (status, refused) = s
        .app
        .send_json(
            Method::POST,
            s.user,
            &format!("/v1/analytics/posts/{dry}/refresh"),
            &Value::Null,
        )
        .await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "NOT_PUBLISHED");
    assert_eq!(kept(&s, intent).await.len(), 4);
}

#[tokio::test]
async fn an_empty_reading_is_kept_once_and_not_asked_again() {
    let s = setup().await;
    let (_, instagram) = s.connect_both().await;
    let (intent, at) = published_now(&s, "instagram", instagram).await;
    // Instagram's insights lag: the hour's answer holds none.
    s.fake.with(|f| f.metrics.empty = 1);
    assert_eq!(pass(&s, at + Duration::hours(1)).await, 1);
    read(&s).await;
    assert_eq!(pass(&s, at + Duration::hours(2)).await, 0);
    assert_eq!(pass(&s, at + Duration::hours(23)).await, 0);
    assert_eq!(kept(&s, intent).await, [("1h".to_owned(), true, None)]);
    assert_eq!(s.fake.calls_to("/insights").len(), 1);
    // The day's reading has them.
    assert_eq!(pass(&s, at + Duration::hours(24)).await, 1);
    read(&s).await;
    assert_eq!(
        kept(&s, intent).await,
        [
            ("1h".to_owned(), true, None),
            ("24h".to_owned(), false, Some(500)),
        ]
    );
    let outcomes: Vec<(String, String)> = sqlx::query_as(
        "select status, outcome from post_metric_reads where intent_id = $1 order by created_at",
    )
    .bind(intent)
    .fetch_all(&s.app.db)
    .await
    .unwrap();
    assert_eq!(
        outcomes,
        [
            ("succeeded".to_owned(), "empty".to_owned()),
            ("succeeded".to_owned(), "measured".to_owned())
        ]
    );
    // Instagram's own reach and saves are kept: 350 reached, 3 saved.
    let (reach, saves): (Option<i64>, Option<i64>) = sqlx::query_as(
        "select reach, saves from post_metrics where intent_id = $1 and reading = '24h'",
    )
    .bind(intent)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!((reach, saves), (Some(350), Some(3)));
}

#[tokio::test]
async fn a_refused_permission_is_a_clear_reason_not_a_loop() {
    let s = setup().await;
    s.app.expect_failed_jobs();
    let channel = s.connect_tiktok().await;
    let (intent, at) = published_now(&s, "tiktok", channel).await;
    s.fake.with(|f| f.metrics.denied = true);
    assert_eq!(pass(&s, at + Duration::hours(1)).await, 1);
    read(&s).await;
    // Asked once, refused once: the job failed on its first attempt with the reason.
    assert_eq!(s.fake.calls_to("/v2/video/query/").len(), 1);
    let (status, attempts, error): (String, i32, Value) = sqlx::query_as(
        "select status, attempts, error from jobs where kind = 'post_metrics' and user_id = $1",
    )
    .bind(s.user)
    .fetch_one(&s.app.db)
    .await
    .unwrap();
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    assert_eq!(error["code"], "ANALYTICS_SCOPE_MISSING");
    let reason = error["message"].as_str().unwrap();
    assert!(reason.contains("video.list"), "{reason}");
    assert!(
        reason.contains("connect again to see analytics"),
        "{reason}"
    );
    // The channel says so, the post says why, and no more readings are made for it.
    let (_, channels) = s.app.get_json(s.user, "/v1/channels").await;
    let shown = channels["data"]
        .as_array()
        .or(channels["data"]["items"].as_array())
        .unwrap()
        .iter()
        .find(|c| c["id"] == channel.to_string())
        .unwrap()
        .clone();
    assert_eq!(shown["analyticsProblem"], reason);
    let (_, listed) = s
        .app
        .get_json(s.user, &format!("/v1/analytics/posts?channelId={channel}"))
        .await;
    assert_eq!(
        listed["data"]["items"][0]["problem"]["code"],
        "ANALYTICS_SCOPE_MISSING"
    );
    assert_eq!(pass(&s, at + Duration::hours(24)).await, 0);
    assert_eq!(pass(&s, at + Duration::days(7)).await, 0);
    assert!(kept(&s, intent).await.is_empty());

    // Connected again with the permission: readings resume.
    s.fake.with(|f| f.metrics.denied = false);
    let again = s.connect_tiktok().await;
    assert_eq!(again, channel);
    assert_eq!(pass(&s, at + Duration::days(7)).await, 1);
    read(&s).await;
    assert_eq!(
        kept(&s, intent).await,
        [("7d".to_owned(), false, Some(500))]
    );
}

#[tokio::test]
async fn a_channel_connected_without_the_permission_is_not_asked() {
    let s = setup().await;
    s.app.expect_failed_jobs();
    let channel = s.connect_tiktok().await;
    let (_, at) = published_now(&s, "tiktok", channel).await;
    // Connected before reading needed `video.list`.
    s.update_channel(channel, "scope = 'user.info.basic,video.publish'")
        .await;
    let (_, shown) = s.app.get_json(s.user, "/v1/channels").await;
    assert!(
        shown.to_string().contains("connect again to see analytics"),
        "{shown}"
    );
    assert_eq!(pass(&s, at + Duration::hours(1)).await, 1);
    read(&s).await;
    assert!(s.fake.calls_to("/v2/video/query/").is_empty());
    let code: String =
        sqlx::query_scalar("select error ->> 'code' from post_metric_reads where user_id = $1")
            .bind(s.user)
            .fetch_one(&s.app.db)
            .await
            .unwrap();
    assert_eq!(code, "ANALYTICS_SCOPE_MISSING");
    assert_eq!(pass(&s, at + Duration::hours(24)).await, 0);
}

#[tokio::test]
async fn a_calendar_without_times_posts_a_channel_with_history_at_its_best_hours() {
    let s = setup().await;
    let (tiktok, _) = s.connect_both().await;
    a_history(&s, tiktok).await;
    // No `timesOfDay`: TikTok's history decides its hours in Madrid, Instagram (no history)
    // keeps 09:00.
    let body = json!({ "channels": ["tiktok", "instagram"], "cadence": "daily",
        "start": "2027-03-01", "end": "2027-03-07",
        "constraints": { "topic": "tea", "timezone": "Europe/Madrid" } });
    let frames = s.app.calendar_stream(s.user, &body).await;
    assert_eq!(crate::calendars::summary(&frames)["status"], "succeeded");
    let at = |channel: &str, day: &str| -> String {
        crate::calendars::entries(&frames)
            .into_iter()
            .find(|e| e["channel"] == channel && e["key"].as_str().unwrap().starts_with(day))
            .map(|e| e["scheduledAt"].as_str().unwrap().to_owned())
            .unwrap()
    };
    // Monday at 09:00 (its best hour, 08:00 UTC in winter); the other days at TikTok's
    // general best among hours the history says nothing of (14:00), never at Wednesday's
    // 20:00, which did worse than the channel's rate.
    assert_eq!(at("tiktok", "2027-03-01"), "2027-03-01T08:00:00Z");
    assert_eq!(at("tiktok", "2027-03-02"), "2027-03-02T13:00:00Z");
    assert_eq!(at("tiktok", "2027-03-03"), "2027-03-03T13:00:00Z");
    for day in 1..=7 {
        let day = format!("2027-03-0{day}");
        assert_eq!(at("instagram", &day), format!("{day}T08:00:00Z"));
    }
    // `timesOfDay` given: every channel posts at it.
    let mut given = body.clone();
    given["constraints"]["timesOfDay"] = json!(["18:00"]);
    let frames = s.app.calendar_stream(s.user, &given).await;
    let tiktok_monday = crate::calendars::entries(&frames)
        .into_iter()
        .find(|e| e["channel"] == "tiktok" && e["key"].as_str().unwrap().starts_with("2027-03-01"))
        .map(|e| e["scheduledAt"].clone())
        .unwrap();
    assert_eq!(tiktok_monday, "2027-03-01T17:00:00Z");
}

/// The briefs the fake AI was given, in order: the JSON between `<brief>` and `</brief>`.
fn briefs(fake: &crate::helpers::FakeAi) -> Vec<Value> {
    fake.requests()
        .iter()
        .filter_map(|request| {
            let user = request["messages"][1]["content"].as_str()?;
            let (_, rest) = user.split_once("<brief>")?;
            let (brief, _) = rest.split_once("</brief>")?;
            serde_json::from_str(brief).ok()
        })
        .collect()
}

#[tokio::test]
async fn the_ai_is_shown_the_best_and_worst_posts_and_says_which() {
    let fake_ai = crate::helpers::FakeAi::start(Vec::new(), crate::helpers::Behaviour::Ok).await;
    let fake = crate::helpers::fake_platforms::FakePlatforms::start().await;
    let s = crate::publishing::setup_with(
        crate::helpers::TestOptions {
            env: crate::publishing::publish_env(&fake, true),
            fake_ai: Some(fake_ai.clone()),
            ..Default::default()
        },
        fake,
    )
    .await;
    let channel = s.connect_tiktok().await;
    // Ten recent posts, each with its own rate: post n has n·10 likes in 1,000 views.
    let now = Utc::now();
    let mut intents = Vec::new();
    for n in 1..=10u64 {
        let intent = published(&s, channel, now - Duration::days(n as i64)).await;
        let kept = analytics::NewReading {
            intent_id: intent,
            user_id: s.user,
            account: Some(channel),
            reading: "7d",
            metrics: Some(reading(1_000, n * 10)),
            reach: None,
            followers: None,
        };
        analytics::record(&s.app.db, &kept).await.unwrap();
        intents.push(intent);
    }
    let body = json!({ "channels": ["tiktok"], "cadence": "daily",
        "start": "2027-03-01", "end": "2027-03-02",
        "constraints": { "topic": "tea", "timesOfDay": ["10:00"] } });
    let frames = s.app.calendar_stream(s.user, &body).await;
    let done = crate::calendars::summary(&frames);
    let learned = &done["meta"]["learnedFrom"];
    // Best: posts 10, 9, 8; worst: posts 1, 2, 3.
    let expected = |ns: [usize; 3]| ns.map(|n| intents[n - 1].to_string()).to_vec();
    assert_eq!(intent_ids(&learned["best"]), expected([10, 9, 8]));
    assert_eq!(intent_ids(&learned["worst"]), expected([1, 2, 3]));
    assert_eq!(learned["best"][0]["engagementRate"], 0.1);
    // Every call's brief showed them, with their rates.
    let shown = briefs(&fake_ai);
    assert!(!shown.is_empty());
    for brief in &shown {
        let rates = |of: &str| -> Vec<f64> {
            brief["yourResults"][of]
                .as_array()
                .unwrap()
                .iter()
                .map(|post| post["engagementRate"].as_f64().unwrap())
                .collect()
        };
        assert_eq!(rates("best"), [0.1, 0.09, 0.08]);
        assert_eq!(rates("worst"), [0.01, 0.02, 0.03]);
    }

    // `learnFromResults: false` leaves them out, of the prompt and of the final frame.
    let asked_before = fake_ai.requests().len();
    let mut without = body.clone();
    without["constraints"]["learnFromResults"] = json!(false);
    let frames = s.app.calendar_stream(s.user, &without).await;
    let done = crate::calendars::summary(&frames);
    assert!(done["meta"].get("learnedFrom").is_none(), "{done}");
    let later = briefs(&fake_ai)[asked_before..].to_vec();
    assert!(!later.is_empty());
    assert!(later.iter().all(|brief| brief.get("yourResults").is_none()));
    // A flag that is not a boolean is refused, naming it.
    let mut wrong = body.clone();
    wrong["constraints"]["learnFromResults"] = json!("yes");
    let (status, refused) = s
        .app
        .send_json(Method::POST, s.user, "/v1/ai/calendar", &wrong)
        .await;
    assert_eq!(status, 422, "{refused}");
    assert!(
        refused.to_string().contains("constraints.learnFromResults"),
        "{refused}"
    );
}

/// `n` posts of `user` on `platform` published in the last `n` days, post k (from 1)
/// with k·10 likes in 1,000 views at its 7-day reading; their intents, post 1 first.
pub(crate) async fn rated_history(
    db: &sqlx::PgPool,
    user: Uuid,
    platform: &str,
    n: u64,
) -> Vec<Uuid> {
    let calendar = Uuid::now_v7();
    sqlx::query(
        "insert into calendars (id, user_id, name, request, current_version)
         values ($1, $2, 'History', '{}', 1)",
    )
    .bind(calendar)
    .bind(user)
    .execute(db)
    .await
    .unwrap();
    let mut intents = Vec::new();
    for k in 1..=n {
        let id = Uuid::now_v7();
        let at = Utc::now() - Duration::days(k as i64);
        sqlx::query(
            "insert into publish_intents (id, user_id, calendar_id, channel, mode, dry_run,
                 timing, publish_at, status, published_at)
             values ($1, $2, $3, $4, 'publish', false, 'scheduled', $5, 'published', $5)",
        )
        .bind(id)
        .bind(user)
        .bind(calendar)
        .bind(platform)
        .bind(at)
        .execute(db)
        .await
        .unwrap();
        let kept = analytics::NewReading {
            intent_id: id,
            user_id: user,
            account: None,
            reading: "7d",
            metrics: Some(reading(1_000, k * 10)),
            reach: None,
            followers: None,
        };
        analytics::record(db, &kept).await.unwrap();
        intents.push(id);
    }
    intents
}

/// The `intentId`s of a `learnedFrom` list, in order.
pub(crate) fn intent_ids(of: &Value) -> Vec<String> {
    of.as_array()
        .unwrap()
        .iter()
        .map(|post| post["intentId"].as_str().unwrap().to_owned())
        .collect()
}
