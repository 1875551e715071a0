//! The organic week (seed 003): a 6-placement and a 60-placement request (no preset)
//! streamed by `POST /api/organic/generate-calendar` with the zero-latency offline
//! provider: time to the first `placement` line and to `complete`, against the raw floor
//! of the same work measured in the same run (the placements' rows inserted in one
//! statement and their events appended to a Redis stream in one pipeline; for the first
//! placement, one row and one event).

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::{SECRET, ms, percentile};

const RUNS: usize = 7;

pub async fn run(
    base: &str,
    pool: &PgPool,
    redis: &almanac_shared::redis_conn::RedisConn,
) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let keys = almanac_shared::auth::JwtKeys::new(SECRET);
    let user = Uuid::new_v4();
    let token = keys.mint(user, 3600);
    library(&http, base, &token).await?;
    for placements in [6, 60] {
        let body = request(placements);
        let sample = serde_json::to_value(placement_line(&body["placements"][0]))?;
        let floor_first = raw_floor(pool, redis, &sample, 1).await?;
        let floor_all = raw_floor(pool, redis, &sample, placements).await?;
        let mut firsts = Vec::new();
        let mut completes = Vec::new();
        for _ in 0..RUNS {
            let post = http
                .post(format!("{base}/api/organic/generate-calendar"))
                .bearer_auth(&token)
                .json(&body);
            let (first, complete, text) =
                crate::streams::timed_stream(post, "\"type\":\"placement\"").await?;
            firsts.push(first);
            completes.push(complete);
            let streamed = text.matches("\"type\":\"placement\"").count();
            anyhow::ensure!(
                streamed == placements,
                "{streamed} placements, not {placements}"
            );
            anyhow::ensure!(
                text.contains("\"type\":\"complete\"") && text.contains("\"status\":\"succeeded\""),
                "the week did not end with a succeeded complete line"
            );
        }
        firsts.sort();
        completes.sort();
        println!(
            "organic   POST /api/organic/generate-calendar, {placements} placements, NDJSON, zero-latency provider ({RUNS} runs)"
        );
        println!(
            "  first placement  p50 {:.1} ms  max {:.1} ms   ratio to the raw floor ({:.2} ms) {:.1}",
            ms(percentile(&firsts, 50.0)),
            ms(*firsts.last().unwrap()),
            ms(floor_first),
            percentile(&firsts, 50.0).as_secs_f64() / floor_first.as_secs_f64()
        );
        println!(
            "  complete         p50 {:.1} ms  max {:.1} ms   ratio to the raw floor ({:.2} ms) {:.1}",
            ms(percentile(&completes, 50.0)),
            ms(*completes.last().unwrap()),
            ms(floor_all),
            percentile(&completes, 50.0).as_secs_f64() / floor_all.as_secs_f64()
        );
    }
    println!("  targets: first placement <= 25 ms p50, 60-placement complete <= 300 ms p50");
    println!();
    Ok(())
}

/// The brand, its two accounts and a trend its placements use.
async fn library(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<()> {
    let created = [
        (
            "/api/organic/brands",
            json!({ "id": "bench", "name": "Bench", "timezone": "UTC" }),
        ),
        (
            "/api/organic/brands/bench/accounts",
            json!({ "platform": "instagram", "accountId": "ig_bench" }),
        ),
        (
            "/api/organic/brands/bench/accounts",
            json!({ "platform": "linkedin", "accountId": "li_bench" }),
        ),
        (
            "/api/organic/trends",
            json!({ "id": "bench-trend", "kind": "trend", "title": "Benchmarks", "keywords": ["speed"] }),
        ),
        (
            "/api/organic/assets",
            json!({ "id": "bench-asset", "kind": "image", "title": "Chart", "tags": ["speed"] }),
        ),
    ];
    for (path, body) in created {
        let response = http
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(response.status() == 201, "{path}: {}", response.status());
    }
    Ok(())
}

/// `n` placements over the week of 2029-01-01, alternating two accounts, 40 minutes apart
/// on each day (no conflict to shift).
fn request(n: usize) -> Value {
    let placements: Vec<Value> = (0..n)
        .map(|i| {
            let day = 1 + i % 7;
            let minutes = 8 * 60 + 40 * (i / 7);
            let platform = if i % 2 == 0 { "instagram" } else { "linkedin" };
            json!({
                "placementId": format!("p{i}"), "trendId": "bench-trend",
                "dayId": format!("2029-01-{day:02}"),
                "scheduledAt": format!("2029-01-{day:02}T{:02}:{:02}:00Z", minutes / 60, minutes % 60),
                "platform": platform, "desiredFormat": "post",
            })
        })
        .collect();
    json!({
        "brandProfileId": "bench", "weekStart": "2029-01-01", "timezone": "UTC",
        "platformAccountIds": { "instagram": "ig_bench", "linkedin": "li_bench" },
        "placements": placements,
    })
}

/// A placement line of the size the stream carries.
fn placement_line(seed: &Value) -> Value {
    json!({ "type": "placement", "placement": {
        "placementId": seed["placementId"], "schedule": { "dayId": seed["dayId"],
            "scheduledAt": seed["scheduledAt"], "timeOfDay": "morning", "adjusted": false },
        "platform": { "name": seed["platform"], "accountId": "ig_bench" },
        "seed": { "trendId": "bench-trend", "source": "trend" },
        "content": { "type": "post", "format": "Post", "titleTopic": "Benchmarks as a Post",
            "objective": "Educate", "target": "Our community", "tone": "Friendly", "cta": "Learn more", "numSlides": 1 },
        "creative": { "creativeIdea": "A Post about Benchmarks", "assetIds": ["bench-asset"],
            "assetHints": [{ "role": "visual", "suggestion": "Use the brand's colours" }] },
        "copy": { "caption": "x".repeat(120), "hashtags": { "high": ["#speed"], "medium": ["#benchmarks"], "low": [] } },
    }})
}

/// The same volume of writes done raw: `n` placement rows and `n` lines appended.
async fn raw_floor(
    pool: &PgPool,
    redis: &almanac_shared::redis_conn::RedisConn,
    line: &Value,
    n: usize,
) -> anyhow::Result<Duration> {
    crate::streams::raw_writes(pool, redis, &line["placement"], &line.to_string(), n).await
}
