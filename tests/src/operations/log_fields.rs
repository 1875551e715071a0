//! What an operator reads (seed 001, "Log fields required"): the real binaries' JSON logs
//! while a calendar streams, one of its entries is published and a synthesis is emailed.
//! Every line of the calendar request, in the API and in the worker's job, carries
//! `requestId`, `userId`, `channel` (the request's channels, comma-joined), `calendarId`,
//! `runId` and `status`; every line of the publish request carries `requestId`, `userId`,
//! `channel` (the platform) and `calendarId`, and those about its intent `runId` and
//! `status` too. No token, secret or email body is in any line. The metrics count the
//! stream's outcome and the publish.

use std::time::Duration;

use almanac_shared::{auth::JwtKeys, crypto::TokenKey};
use serde_json::{Value, json};
use uuid::Uuid;

use almanac_tests::processes::Service;

use crate::{
    helpers::{
        JWT_SECRET, drop_database, eventually,
        fake_platforms::{FakePlatforms, TIKTOK_OPEN_ID},
        fresh_database, redis_url,
        smtp::SmtpServer,
    },
    publishing::publish_env,
};

const ADMIN_TOKEN: &str = "admin-token-of-the-log-fields-test-0123456789";

/// The lines whose `requestId` is `id`.
fn lines_of<'a>(lines: &'a [Value], id: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["requestId"] == id).collect()
}

/// Asserts each of `fields` is on `line`, with the expected value where one is given.
fn assert_fields(line: &Value, fields: &[(&str, Option<&str>)]) {
    for (field, expected) in fields {
        let value = line[*field].as_str().unwrap_or_default();
        assert!(!value.is_empty(), "`{field}` missing from {line}");
        if let Some(expected) = expected {
            assert_eq!(value, *expected, "`{field}` of {line}");
        }
    }
}

/// Requests of the test's user to the API, each with its request id.
struct Caller<'a> {
    http: &'a reqwest::Client,
    api: &'a Service,
    token: &'a str,
}

impl Caller<'_> {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        request_id: &str,
        body: Value,
    ) -> reqwest::Result<reqwest::Response> {
        self.http
            .request(method, self.api.url(path))
            .bearer_auth(self.token)
            .header("x-request-id", request_id)
            .header("accept", "text/event-stream, application/json")
            .json(&body)
            .send()
            .await
    }
}

/// One of the calendar's entries published to TikTok, with a token due for a refresh on
/// the way.
async fn one_entry_published_to_tiktok(caller: &Caller<'_>, db: &sqlx::PgPool, calendar: &str) {
    let (http, api, token) = (caller.http, caller.api, caller.token);
    let connected = caller
        .send(
            reqwest::Method::POST,
            "/v1/channels",
            "req-connect",
            json!({ "platform": "tiktok", "accountId": TIKTOK_OPEN_ID, "accessToken": "tt-token",
                "refreshToken": "tt-refresh", "expiresIn": 60 }),
        )
        .await
        .unwrap();
    assert_eq!(connected.status(), 201);
    let saved: Value = http
        .get(api.url(&format!("/v1/calendars/{calendar}")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = saved["data"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["channel"] == "tiktok")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let edited = caller
        .send(
            reqwest::Method::PATCH,
            &format!("/v1/calendars/{calendar}/entries/{entry}"),
            "req-edit",
            json!({ "mediaUrl": "https://cdn.example.com/v.mp4" }),
        )
        .await
        .unwrap();
    assert_eq!(edited.status(), 200);
    let published = caller
        .send(
            reqwest::Method::POST,
            &format!("/v1/calendars/{calendar}/publish"),
            "req-publish",
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
                .fetch_one(db)
                .await
                .unwrap();
        (status == "published").then_some(())
    })
    .await;
}

/// A synthesis the scheduler emails (due since midnight, every day).
async fn a_synthesis_scheduled_by_email(caller: &Caller<'_>) {
    let theme = caller
        .send(
            reqwest::Method::POST,
            "/api/v1/themes",
            "req-theme",
            json!({ "name": "Tea", "sources": [{ "type": "text",
                "value": "Matcha whisked at 80 degrees keeps its sweetness." }] }),
        )
        .await
        .unwrap();
    assert_eq!(theme.status(), 201);
    let theme: Value = theme.json().await.unwrap();
    let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let scheduled = caller
        .send(
            reqwest::Method::PUT,
            &format!("/api/v1/themes/{}/schedule", theme["id"].as_str().unwrap()),
            "req-schedule",
            json!({ "enabled": true, "days": days, "time_utc": "00:00",
                "emails": ["reader@example.com"] }),
        )
        .await
        .unwrap();
    assert_eq!(scheduled.status(), 200);
}

/// The worker counted the publish and its time, the API the intent it recorded and the
/// calendar stream's outcome.
async fn the_metrics_count_the_stream_and_the_publish(
    http: &reqwest::Client,
    api: &Service,
    worker: &Service,
) {
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
        .get(api.metrics_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        api_metrics.contains("publish_intents_total{channel=\"tiktok\",outcome=\"scheduled\"} 1")
    );
    assert!(
        api_metrics
            .contains("stream_outcomes_total{route=\"/v1/ai/calendar\",kind=\"calendar\",outcome=\"succeeded\"} 1"),
        "{api_metrics}"
    );
}

/// No secret (`secrets`, `more`), and no line of the email's body (`mail`), is in `logs`.
fn nothing_secret_is_logged(logs: &str, mail: &Value, secrets: &[&str], more: &[&String]) {
    let body_line = mail["text"]
        .as_str()
        .unwrap()
        .lines()
        .max_by_key(|l| l.len())
        .unwrap()
        .to_owned();
    assert!(body_line.len() > 40, "{body_line}");
    let more = more.iter().map(|s| s.as_str());
    let body = [body_line.as_str(), "Matcha whisked at 80 degrees"];
    for secret in secrets.iter().copied().chain(more).chain(body) {
        assert!(!logs.contains(secret), "`{secret}` is in a log line");
    }
}

/// The calendar request, in the API and in the worker: every line, every field.
fn calendar_lines_carry_their_fields(lines: &[Value], user: &str, calendar: &str, run: &str) {
    let calendar_lines = lines_of(lines, "req-calendar");
    for (binary, message) in [
        ("almanac_api", "calendar run accepted"),
        ("almanac_worker", "job claimed"),
        ("almanac_worker", "job attempt finished"),
    ] {
        assert!(
            calendar_lines
                .iter()
                .any(|l| l["message"] == message
                    && l["target"].as_str().unwrap().starts_with(binary)),
            "no `{message}` line of {binary} in {calendar_lines:?}"
        );
    }
    for line in &calendar_lines {
        assert_fields(
            line,
            &[
                ("userId", Some(user)),
                ("channel", Some("tiktok,instagram")),
                ("calendarId", Some(calendar)),
                ("runId", Some(run)),
                ("status", None),
            ],
        );
    }
}

/// The publish request: its lines name the calendar and the platform; those about the
/// intent (the API's record of it, the worker's job) its run and status.
fn publish_lines_carry_their_fields(lines: &[Value], user: &str, calendar: &str, run: &str) {
    let publish_lines = lines_of(lines, "req-publish");
    for message in [
        "publish intent recorded",
        "channel token refreshed",
        "job claimed",
        "publish intent settled",
    ] {
        assert!(
            publish_lines.iter().any(|l| l["message"] == message),
            "no `{message}` line in {publish_lines:?}"
        );
    }
    for line in &publish_lines {
        assert_fields(
            line,
            &[
                ("userId", Some(user)),
                ("channel", Some("tiktok")),
                ("calendarId", Some(calendar)),
            ],
        );
        if line.get("intentId").is_some() || line.get("job.id").is_some() {
            assert_fields(line, &[("runId", Some(run)), ("status", None)]);
        }
    }
    let settled = publish_lines
        .iter()
        .find(|l| l["message"] == "publish intent settled")
        .unwrap();
    assert_eq!(settled["status"], "published");
}

#[tokio::test]
async fn calendar_publish_and_email_lines_carry_the_seeds_fields_and_no_secret() {
    let fake = FakePlatforms::start().await;
    let smtp = SmtpServer::start(0).await;
    let (db_name, db) = fresh_database().await;
    let token_key = TokenKey::generate();
    let mut env = publish_env(&fake, true);
    env.retain(|(k, _)| *k != "TOKEN_ENCRYPTION_KEY");
    env.extend([
        ("TOKEN_ENCRYPTION_KEY", token_key.clone()),
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
        ("ADMIN_TOKEN", ADMIN_TOKEN.into()),
        ("SMTP_URL", smtp.url()),
        ("SCHEDULER_TICK_SECS", "0.2".into()),
    ]);
    let dir = std::env::temp_dir().join(format!("almanac-logs-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (api_log, worker_log) = (dir.join("api.log"), dir.join("worker.log"));
    let mut api = Service::logged(false, &env, &api_log).await.unwrap();
    let mut worker = Service::logged(true, &env, &worker_log).await.unwrap();

    let user = Uuid::now_v7();
    let http = reqwest::Client::new();
    let token = JwtKeys::new(JWT_SECRET).mint(user, 600);
    let caller = Caller {
        http: &http,
        api: &api,
        token: &token,
    };

    // A calendar streamed by the worker fleet.
    let stream = caller
        .send(
            reqwest::Method::POST,
            "/v1/ai/calendar",
            "req-calendar",
            json!({ "channels": ["tiktok", "instagram"], "cadence": "daily",
                "start": "2030-01-07", "end": "2030-01-08" }),
        )
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let frames = stream.text().await.unwrap();
    let done: Value = frames
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .find(|d| d["type"] == "done")
        .expect("the stream ends with done");
    assert_eq!(done["status"], "succeeded", "{done}");
    let calendar = done["data"]["calendarId"].as_str().unwrap().to_owned();
    let run = done["data"]["runId"].as_str().unwrap().to_owned();

    one_entry_published_to_tiktok(&caller, &db, &calendar).await;

    a_synthesis_scheduled_by_email(&caller).await;
    let mail = smtp.wait_for(1).await.remove(0);

    the_metrics_count_the_stream_and_the_publish(&http, &api, &worker).await;
    assert!(api.terminate().await.unwrap());
    assert!(worker.terminate().await.unwrap());

    let logs =
        std::fs::read_to_string(&api_log).unwrap() + &std::fs::read_to_string(&worker_log).unwrap();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();

    let secrets = [
        "tt-token",
        "tt-refresh",
        "tiktok-secret",
        JWT_SECRET,
        ADMIN_TOKEN,
    ];
    nothing_secret_is_logged(&logs, &mail, &secrets, &[&token_key, &token]);

    let user = user.to_string();
    calendar_lines_carry_their_fields(&lines, &user, &calendar, &run);

    publish_lines_carry_their_fields(&lines, &user, &calendar, &run);

    std::fs::remove_dir_all(&dir).ok();
    drop_database(&db_name).await;
}

/// Seed 002: every worker line of a generation carries `generation_id`, and the AI call's
/// line the provider's request id.
#[tokio::test]
async fn a_generation_s_worker_lines_carry_its_id_and_the_provider_request_id() {
    use crate::helpers::{Behaviour, FakeAi};
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let (db_name, _db) = fresh_database().await;
    let env = vec![
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
        ("AI_PROVIDER", "openai".into()),
        ("AI_BASE_URL", fake.base_url()),
        ("AI_API_KEY", "test-key".into()),
        ("AI_MODEL", "fake-model-1".into()),
    ];
    let dir = std::env::temp_dir().join(format!("almanac-logs-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let worker_log = dir.join("worker.log");
    let api = Service::api(&env).await.unwrap();
    let mut worker = Service::logged(true, &env, &worker_log).await.unwrap();
    let user = Uuid::now_v7();
    let http = reqwest::Client::new();
    let token = JwtKeys::new(JWT_SECRET).mint(user, 600);
    let accepted: Value = http
        .post(api.url("/api/ai/generations"))
        .bearer_auth(&token)
        .json(&json!({ "source_text": crate::helpers::source_text(1500) }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let generation = accepted["generation_id"].as_str().unwrap().to_owned();
    eventually(Duration::from_secs(20), "the generation to end", || async {
        let view: Value = http
            .get(api.url(&format!("/api/ai/generations/{generation}")))
            .bearer_auth(&token)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        (view["status"] == "succeeded").then_some(())
    })
    .await;
    assert!(worker.terminate().await.unwrap());
    let lines: Vec<Value> = std::fs::read_to_string(&worker_log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let job_lines: Vec<&Value> = lines
        .iter()
        .filter(|l| l["job.kind"] == "generation")
        .collect();
    assert!(job_lines.len() >= 3, "{lines:?}");
    for line in &job_lines {
        assert_fields(line, &[("generation_id", Some(&generation))]);
    }
    let call = job_lines
        .iter()
        .find(|l| l["message"] == "AI call finished")
        .expect("the AI call's line");
    assert_fields(call, &[("provider_request_id", Some("req-fake-1"))]);
    drop(api);
    drop_database(&db_name).await;
}
