//! What an operator sees of a publish: the binaries' JSON logs and metrics. Tokens (and
//! the app's client secret) appear in no log line; the publish lines carry seed 001's
//! fields; the metrics count outcomes and durations per channel.

use std::time::Duration;

use almanac_shared::{auth::JwtKeys, publish::crypto::TokenKey};
use serde_json::{Value, json};
use uuid::Uuid;

use super::publish_env;
use almanac_tests::processes::Service;

use crate::helpers::{
    JWT_SECRET, drop_database, eventually,
    fake_platforms::{FakePlatforms, TIKTOK_OPEN_ID},
    fresh_database, redis_url,
};

#[tokio::test]
async fn tokens_appear_in_no_log_line_and_publish_lines_carry_the_seeds_fields() {
    let fake = FakePlatforms::start().await;
    let (db_name, db) = fresh_database().await;
    let mut env = publish_env(&fake, true);
    env.retain(|(k, _)| *k != "TOKEN_ENCRYPTION_KEY");
    env.extend([
        ("TOKEN_ENCRYPTION_KEY", TokenKey::generate()),
        (
            "DATABASE_URL",
            almanac_shared::db::with_database(&crate::helpers::admin_url(), &db_name),
        ),
        ("REDIS_URL", redis_url()),
        (
            "REDIS_PREFIX",
            format!("logs{}", &Uuid::new_v4().simple().to_string()[..10]),
        ),
        ("JWT_SECRET", JWT_SECRET.into()),
    ]);
    let dir = std::env::temp_dir().join(format!("almanac-logs-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (api_log, worker_log) = (dir.join("api.log"), dir.join("worker.log"));
    let mut api = Service::logged(false, &env, &api_log).await.unwrap();
    let mut worker = Service::logged(true, &env, &worker_log).await.unwrap();

    let user = Uuid::now_v7();
    let calendar = Uuid::now_v7();
    sqlx::query(
        "insert into calendars (id, user_id, name, request, current_version) values ($1, $2, 'Logs', '{}', 1)",
    )
    .bind(calendar)
    .bind(user)
    .execute(&db)
    .await
    .unwrap();
    let entry = Uuid::now_v7();
    sqlx::query(
        "insert into calendar_entries (id, calendar_id, user_id, key, channel, local_date, local_time,
             scheduled_at, title, caption, format, origin, media_url)
         values ($1, $2, $3, 'manual/x', 'tiktok', '2030-01-07', '09:00', '2030-01-07T09:00:00Z',
             'Logged', 'A post', 'short video', 'manual', 'https://cdn.example.com/v.mp4')",
    )
    .bind(entry)
    .bind(calendar)
    .bind(user)
    .execute(&db)
    .await
    .unwrap();
    let http = reqwest::Client::new();
    let token = JwtKeys::new(JWT_SECRET).mint(user, 600);
    let send = |path: &str, body: Value| {
        http.post(api.url(path))
            .bearer_auth(&token)
            .header("x-request-id", "req-logs-1")
            .json(&body)
            .send()
    };
    // Expiring within the refresh margin: the refreshed tokens go through the logs' reach too.
    let connected = send(
        "/v1/channels",
        json!({ "platform": "tiktok", "accountId": TIKTOK_OPEN_ID, "accessToken": "tt-token",
                "refreshToken": "tt-refresh", "expiresIn": 60 }),
    )
    .await
    .unwrap();
    assert_eq!(connected.status(), 201);
    let published = send(
        &format!("/v1/calendars/{calendar}/publish"),
        json!({ "entryIds": [entry], "dryRun": false }),
    )
    .await
    .unwrap();
    assert_eq!(published.status(), 200);
    let answer: Value = published.json().await.unwrap();
    let intent = answer["data"]["intents"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually(Duration::from_secs(20), "the intent published", || async {
        let status: String =
            sqlx::query_scalar("select status from publish_intents where id = $1::uuid")
                .bind(&intent)
                .fetch_one(&db)
                .await
                .unwrap();
        (status == "published").then_some(())
    })
    .await;
    let metrics = eventually(
        Duration::from_secs(20),
        "the worker's publish metrics",
        || async {
            let text = http
                .get(worker.url("/metrics"))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            text.contains("publish_duration_seconds").then_some(text)
        },
    )
    .await;
    assert!(
        metrics.contains("publish_intents_total{channel=\"tiktok\",outcome=\"published\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("publish_duration_seconds_count{channel=\"tiktok\"} 1"),
        "{metrics}"
    );
    let api_metrics = http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        api_metrics.contains("publish_intents_total{channel=\"tiktok\",outcome=\"scheduled\"} 1")
    );
    assert!(api.terminate().await.unwrap());
    assert!(worker.terminate().await.unwrap());

    let logs =
        std::fs::read_to_string(&api_log).unwrap() + &std::fs::read_to_string(&worker_log).unwrap();
    for secret in ["tt-token", "tt-refresh", "tt-secret"] {
        assert!(!logs.contains(secret), "`{secret}` is in a log line");
    }
    let line = |message: &str| -> Value {
        logs.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l.to_string().contains(message))
            .unwrap_or_else(|| panic!("no `{message}` line in\n{logs}"))
    };
    for (message, status) in [
        ("publish intent recorded", "scheduled"),
        ("publish intent settled", "published"),
    ] {
        let text = line(message).to_string();
        for field in [
            "\"requestId\":\"req-logs-1\"".to_owned(),
            format!("\"userId\":\"{user}\""),
            "\"channel\":\"tiktok\"".to_owned(),
            format!("\"calendarId\":\"{calendar}\""),
            "\"runId\":".to_owned(),
            format!("\"status\":\"{status}\""),
        ] {
            assert!(text.contains(&field), "{field} missing from {text}");
        }
    }
    assert!(logs.contains("channel token refreshed"));
    std::fs::remove_dir_all(&dir).ok();
    drop_database(&db_name).await;
}
