//! The circuit breaker on the AI provider (seed 000's "circuit-breaker standards"), across
//! two worker processes sharing it through Redis: failures open it, calls then stop
//! reaching the provider for the cooldown (jobs wait without spending attempts), one probe
//! half-opens it, and its success closes it.

use std::time::Duration;

use almanac_shared::auth::JwtKeys;
use almanac_tests::processes::Service;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, JWT_SECRET, drop_database, eventually, fresh_database, redis_url,
    source_text,
};

/// The value of a counter summed over the processes' `/metrics` pages.
async fn counted(http: &reqwest::Client, pages: &[String], series: &str) -> f64 {
    let mut total = 0.0;
    for page in pages {
        let text = http.get(page).send().await.unwrap().text().await.unwrap();
        total += almanac_tests::processes::metric_value(&text, series).unwrap_or(0.0);
    }
    total
}

/// Processes of their own sharing a breaker that opens after two failures in a row and
/// cools down for 3 s; no retry within an attempt, and quick backoffs.
fn breaker_env(db_name: &str, prefix: &str, fake: &FakeAi) -> Vec<(&'static str, String)> {
    vec![
        (
            "DATABASE_URL",
            almanac_shared::db::with_database(&crate::helpers::admin_url(), db_name),
        ),
        ("REDIS_URL", redis_url()),
        ("REDIS_PREFIX", prefix.to_owned()),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("AI_BASE_URL", fake.base_url()),
        ("AI_API_KEY", "test-key".into()),
        ("AI_MODEL", "fake-model-1".into()),
        ("AI_MAX_RETRIES", "0".into()),
        ("AI_BREAKER_FAILURES", "2".into()),
        ("AI_BREAKER_COOLDOWN_SECS", "3".into()),
        ("JOB_BACKOFF_BASE_MS", "20".into()),
        ("JOB_BACKOFF_MAX_MS", "100".into()),
    ]
}

/// Waits for `job` to end; its status and the attempts it spent.
async fn ended(db: &sqlx::PgPool, job: Uuid) -> (String, i32) {
    eventually(Duration::from_secs(30), "the jobs to end", || async {
        let row: (String, i32) = sqlx::query_as("select status, attempts from jobs where id = $1")
            .bind(job)
            .fetch_one(db)
            .await
            .unwrap();
        (row.0 != "pending" && row.0 != "running").then_some(row)
    })
    .await
}

#[tokio::test]
async fn failures_open_the_breaker_for_the_fleet_and_one_probe_closes_it() {
    // Two failures, then the provider answers again.
    let fake = FakeAi::start(
        vec![Behaviour::Status(500), Behaviour::Status(500)],
        Behaviour::Ok,
    )
    .await;
    let (db_name, db) = fresh_database().await;
    let prefix = format!("brk{}", &Uuid::new_v4().simple().to_string()[..10]);
    let env = breaker_env(&db_name, &prefix, &fake);
    let api = Service::api(&env).await.unwrap();
    let workers = [
        Service::worker(&env).await.unwrap(),
        Service::worker(&env).await.unwrap(),
    ];
    let pages: Vec<String> = workers.iter().map(Service::metrics_url).collect();
    let http = reqwest::Client::new();
    let user = Uuid::now_v7();
    let token = JwtKeys::new(JWT_SECRET).mint(user, 600);
    let submit = || async {
        let accepted: Value = http
            .post(api.url("/api/ai/generations"))
            .bearer_auth(&token)
            .json(&json!({ "source_text": source_text(1500) }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let job: Uuid = accepted["job_id"].as_str().unwrap().parse().unwrap();
        job
    };

    // A's first two attempts fail, on either worker: the breaker opens for both.
    let a = submit().await;
    fake.wait_for_calls(2).await;
    let opened =
        "ai_breaker_transitions_total{provider=\"openai\",model=\"fake-model-1\",to=\"open\"}";
    eventually(Duration::from_secs(10), "the breaker to open", || async {
        (counted(&http, &pages, opened).await >= 1.0).then_some(())
    })
    .await;
    // B, submitted while it is open, waits for it without the provider being asked.
    let b = submit().await;
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    eventually(Duration::from_secs(10), "B to wait for the breaker", || {
        let mut redis = redis.clone();
        let key = format!("{prefix}:{{{b}}}:stream");
        async move {
            let events: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
                .arg(&key)
                .arg("-")
                .arg("+")
                .query_async(&mut redis)
                .await
                .ok()?;
            events
                .iter()
                .flat_map(|(_, fields)| fields)
                .any(|(name, value)| name == "d" && value.contains("waits"))
                .then_some(())
        }
    })
    .await;
    assert_eq!(fake.calls(), 2, "no call while the breaker is open");

    // After the cooldown, one probe goes through, succeeds and closes it; both end.
    for job in [a, b] {
        let (status, attempts) = ended(&db, job).await;
        assert_eq!(status, "succeeded", "job {job}");
        let expected = if job == a { 3 } else { 1 };
        assert_eq!(
            attempts, expected,
            "job {job}: waiting for the breaker spends no attempt"
        );
    }
    assert_eq!(fake.calls(), 4, "2 failures, the probe, then B");
    let half_open =
        "ai_breaker_transitions_total{provider=\"openai\",model=\"fake-model-1\",to=\"half_open\"}";
    let closed =
        "ai_breaker_transitions_total{provider=\"openai\",model=\"fake-model-1\",to=\"closed\"}";
    assert_eq!(
        counted(&http, &pages, half_open).await,
        1.0,
        "exactly one probe"
    );
    assert_eq!(counted(&http, &pages, closed).await, 1.0);
    let _ = redis::cmd("DEL")
        .arg(format!("{prefix}:ai:breaker:openai:fake-model-1"))
        .query_async::<i64>(&mut redis)
        .await;
    drop((api, workers));
    drop_database(&db_name).await;
}
