//! Schedules in their reader's time (issue 37), driven by the scheduler's clock: a Paris
//! 08:00 digest follows the clocks of Paris across both changes of 2027, a time the clocks
//! skip runs once when they resume, and a UTC schedule keeps its UTC time.

use std::collections::BTreeMap;

use almanac_shared::clock::ManualClock;
use almanac_worker::scheduler;
use chrono::{DateTime, Duration, Offset, Utc};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, TestOptions, smtp::SmtpServer, spawn_app_with},
    syntheses::themes::{tea_site, tea_theme},
};

const EVERY_DAY: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn utc(raw: &str) -> DateTime<Utc> {
    raw.parse().unwrap()
}

/// A theme of a new user with `schedule` (days every day, one recipient); returns the user,
/// the theme and the schedule as answered.
async fn scheduled(app: &TestApp, schedule: Value) -> (Uuid, String, Value) {
    // The site serves until the test's runtime ends.
    let site = tea_site().await;
    let user = Uuid::new_v4();
    let theme = app.create_theme(user, &tea_theme(&site)).await;
    let mut body = json!({ "enabled": true, "days": EVERY_DAY, "emails": ["ana@example.com"] });
    body.as_object_mut()
        .unwrap()
        .extend(schedule.as_object().unwrap().clone());
    let (status, answer) = app
        .send_json(
            Method::PUT,
            user,
            &format!("/api/v1/themes/{theme}/schedule"),
            &body,
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    (user, theme, answer)
}

/// Ticks the scheduler every 10 minutes from `from` to `to`, letting each started run end
/// before the next tick; returns when each schedule was started.
async fn ticks(
    app: &TestApp,
    clock: &ManualClock,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> BTreeMap<Uuid, Vec<DateTime<Utc>>> {
    let mut started: BTreeMap<Uuid, Vec<DateTime<Utc>>> = BTreeMap::new();
    let mut now = from;
    while now < to {
        clock.set(now);
        let runs = scheduler::tick(&app.worker_context(0), clock)
            .await
            .expect("tick");
        for run in &runs {
            started.entry(run.schedule_id).or_default().push(now);
        }
        if !runs.is_empty() {
            app.jobs_settled().await;
        }
        now += Duration::minutes(10);
    }
    started
}

fn schedule_id(answer: &Value) -> Uuid {
    answer["id"].as_str().unwrap().parse().unwrap()
}

/// The answer keeps the zone and the local time; `time_utc` is today's equivalent. A UTC
/// schedule has neither.
fn the_answer_keeps_the_zone_and_the_local_time(paris: &Value, plain: &Value) {
    let paris_zone = chrono_tz::Europe::Paris;
    let now = Utc::now();
    let offset = now
        .with_timezone(&paris_zone)
        .offset()
        .fix()
        .local_minus_utc();
    let today_utc = (chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap()
        - Duration::seconds(offset.into()))
    .format("%H:%M")
    .to_string();
    assert_eq!(
        (&paris["timezone"], &paris["time_local"], &paris["time_utc"]),
        (&json!("Europe/Paris"), &json!("08:00"), &json!(today_utc)),
        "{paris}"
    );
    assert_eq!(
        (&plain["timezone"], &plain["time_local"], &plain["time_utc"]),
        (&Value::Null, &Value::Null, &json!("08:00"))
    );
}

/// A schedule for tomorrow (in Paris) only runs next tomorrow at 08:00 there, and its
/// answer says so (today's could be due at once, whatever the hour the tests run at);
/// disabled, it will not run.
async fn tomorrow_s_schedule_runs_tomorrow_and_a_disabled_one_never(
    app: &TestApp,
    paris_user: Uuid,
) {
    let (now, paris_zone) = (Utc::now(), chrono_tz::Europe::Paris);
    let tomorrow = (now.with_timezone(&paris_zone) + Duration::days(1)).date_naive();
    let day = tomorrow.format("%a").to_string().to_lowercase();
    let site = tea_site().await;
    let theme = app.create_theme(paris_user, &tea_theme(&site)).await;
    let path = format!("/api/v1/themes/{theme}/schedule");
    let (status, once) = app
        .send_json(
            Method::PUT,
            paris_user,
            &path,
            &json!({ "enabled": true, "days": [day], "timezone": "Europe/Paris",
                     "time_local": "08:00", "emails": [] }),
        )
        .await;
    assert_eq!(status, 200, "{once}");
    let next: DateTime<Utc> = once["next_run_at"].as_str().unwrap().parse().unwrap();
    let local = next.with_timezone(&paris_zone);
    assert_eq!(
        (local.date_naive(), local.format("%H:%M").to_string()),
        (tomorrow, "08:00".to_owned()),
        "{once}"
    );
    let (_, off) = app
        .send_json(
            Method::PUT,
            paris_user,
            &path,
            &json!({ "enabled": false, "days": [day], "timezone": "Europe/Paris",
                     "time_local": "08:00", "emails": [] }),
        )
        .await;
    assert_eq!(off["next_run_at"], Value::Null, "{off}");
}

#[tokio::test]
async fn a_paris_morning_digest_follows_the_clocks_of_paris_and_a_utc_one_keeps_utc() {
    let smtp = SmtpServer::start(0).await;
    let app = spawn_app_with(TestOptions {
        env: vec![("SMTP_URL", smtp.url())],
        ..Default::default()
    })
    .await;
    let (paris_user, paris_theme, paris) = scheduled(
        &app,
        json!({ "timezone": "Europe/Paris", "time_local": "08:00", "time_utc": "23:59" }),
    )
    .await;
    let (_, _, night) = scheduled(
        &app,
        json!({ "timezone": "Europe/Paris", "time_local": "02:30" }),
    )
    .await;
    let (_, _, plain) = scheduled(&app, json!({ "time_utc": "08:00" })).await;

    the_answer_keeps_the_zone_and_the_local_time(&paris, &plain);
    tomorrow_s_schedule_runs_tomorrow_and_a_disabled_one_never(&app, paris_user).await;

    let clock = ManualClock::new(utc("2027-03-26T00:00:00Z"));
    let mut spring = ticks(
        &app,
        &clock,
        utc("2027-03-26T00:00:00Z"),
        utc("2027-03-31T00:00:00Z"),
    )
    .await;
    let mut autumn = ticks(
        &app,
        &clock,
        utc("2027-10-29T00:00:00Z"),
        utc("2027-11-03T00:00:00Z"),
    )
    .await;
    let runs = |all: &mut BTreeMap<Uuid, Vec<DateTime<Utc>>>, schedule: &Value| {
        all.remove(&schedule_id(schedule)).unwrap_or_default()
    };
    // Paris 08:00: 07:00Z in winter, 06:00Z in summer, once each day.
    assert_eq!(
        runs(&mut spring, &paris),
        [
            "2027-03-26T07:00:00Z",
            "2027-03-27T07:00:00Z",
            "2027-03-28T06:00:00Z",
            "2027-03-29T06:00:00Z",
            "2027-03-30T06:00:00Z",
        ]
        .map(utc)
    );
    assert_eq!(
        runs(&mut autumn, &paris),
        [
            "2027-10-29T06:00:00Z",
            "2027-10-30T06:00:00Z",
            "2027-10-31T07:00:00Z",
            "2027-11-01T07:00:00Z",
            "2027-11-02T07:00:00Z",
        ]
        .map(utc)
    );
    // 02:30 does not exist on 28 March: that day it runs once, at 03:00 (01:00Z).
    assert_eq!(
        runs(&mut spring, &night),
        [
            "2027-03-26T01:30:00Z",
            "2027-03-27T01:30:00Z",
            "2027-03-28T01:00:00Z",
            "2027-03-29T00:30:00Z",
            "2027-03-30T00:30:00Z",
        ]
        .map(utc)
    );
    // On 31 October it happens twice: the first (00:30Z) runs, once.
    assert_eq!(
        runs(&mut autumn, &night),
        [
            "2027-10-29T00:30:00Z",
            "2027-10-30T00:30:00Z",
            "2027-10-31T00:30:00Z",
            "2027-11-01T01:30:00Z",
            "2027-11-02T01:30:00Z",
        ]
        .map(utc)
    );
    // The UTC schedule stays at 08:00Z whatever Paris does; nothing else ran.
    let at_eight = |days: [&str; 5]| days.map(|day| utc(&format!("2027-{day}T08:00:00Z")));
    assert_eq!(
        runs(&mut spring, &plain),
        at_eight(["03-26", "03-27", "03-28", "03-29", "03-30"])
    );
    assert_eq!(
        runs(&mut autumn, &plain),
        at_eight(["10-29", "10-30", "10-31", "11-01", "11-02"])
    );
    assert!(
        spring.is_empty() && autumn.is_empty(),
        "{spring:?} {autumn:?}"
    );
    // Each run is recorded in the schedule as it was due.
    let (_, schedule) = app
        .get_json(
            paris_user,
            &format!("/api/v1/themes/{paris_theme}/schedule"),
        )
        .await;
    let last: DateTime<Utc> = schedule["last_run_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(last, utc("2027-11-02T07:00:00Z"));
}
