//! Seed 000's wall-clock deadline: calendar runs whose AI never answers, each followed on its
//! own `POST /v1/ai/calendar` stream until the final frame. Lateness is the frame's arrival
//! minus the run's stored `deadline_at` (`CALENDAR_TIMEOUT_SECS` after its acceptance).
//! Twice: with a worker holding every run (it stops each at its deadline), and with no
//! worker at all (the API serving the stream ends the run a second past its deadline). The
//! bound is one second past the deadline; each case's ratio is its worst lateness to it.

use std::time::Duration;

use almanac_shared::{auth::JwtKeys, db};
use almanac_tests::processes::Service;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{SECRET, ms, percentile};

const RUNS: usize = 20;
const BOUND: Duration = Duration::from_secs(1);

pub async fn run(admin_url: &str) -> anyhow::Result<()> {
    crate::on_scratch_database(admin_url, "deadline", measure).await
}

async fn measure(db_url: String) -> anyhow::Result<()> {
    let pool = PgPool::connect(&db_url).await?;
    db::migrate(&pool).await?;
    let env = vec![
        ("DATABASE_URL", db_url.clone()),
        (
            "REDIS_URL",
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        (
            "REDIS_PREFIX",
            format!("benchdl{}", &Uuid::new_v4().simple().to_string()[..8]),
        ),
        ("JWT_SECRET", SECRET.to_owned()),
        ("AI_PROVIDER", "offline".to_owned()),
        // Every AI call outlasts the run: only the deadline ends it.
        ("AI_OFFLINE_LATENCY_MS", "600000".to_owned()),
        ("CALENDAR_TIMEOUT_SECS", "2".to_owned()),
        ("CALENDAR_RATE_LIMIT", "1000000".to_owned()),
        ("WORKER_CONCURRENCY", "64".to_owned()),
    ];
    let api = Service::api(&env).await?;
    let mut worker = Service::worker(&env).await?;
    let held = lateness(&api, &pool).await?;
    worker.kill().await;
    let alone = lateness(&api, &pool).await?;
    drop(api);
    println!(
        "deadline  {RUNS} calendar runs whose AI never answers, CALENDAR_TIMEOUT_SECS=2, each on its POST /v1/ai/calendar stream: the final frame's arrival past the run's deadline_at"
    );
    for (case, times) in [
        ("a worker holding the run", &held),
        ("no worker (the API ends it)", &alone),
    ] {
        let worst = *times.last().expect("runs");
        println!(
            "  {case:<28} p50 {:>6.0} ms  max {:>6.0} ms   ratio to the 1 s bound {:.2}",
            ms(percentile(times, 50.0)),
            ms(worst),
            worst.as_secs_f64() / BOUND.as_secs_f64()
        );
    }
    let beyond = |at: Duration| ms(at.saturating_sub(BOUND));
    println!(
        "  no worker, past the API's 1 s mark (its fenced update, the final event, the frame): p50 {:.0} ms  max {:.0} ms",
        beyond(percentile(&alone, 50.0)),
        beyond(*alone.last().expect("runs"))
    );
    println!("  target: every final frame within 1000 ms of the deadline (+ one round trip)");
    println!();
    Ok(())
}

/// `RUNS` calendar runs at once, one a user, each streamed to its final frame: how long
/// after its `deadline_at` each frame arrived, sorted. Every run must end `timeout`.
async fn lateness(api: &Service, pool: &PgPool) -> anyhow::Result<Vec<Duration>> {
    let http = reqwest::Client::new();
    let keys = JwtKeys::new(SECRET);
    let body = serde_json::json!({
        "channels": ["tiktok", "instagram"], "cadence": "daily",
        "start": "2028-01-01", "end": "2028-01-31",
    });
    let runs = (0..RUNS).map(|_| {
        let post = http
            .post(api.url("/v1/ai/calendar"))
            .bearer_auth(keys.mint(Uuid::new_v4(), 3600))
            .json(&body);
        async move { final_frame(post).await }
    });
    let mut late = Vec::new();
    for ended in futures::future::join_all(runs).await {
        let (arrived, done) = ended?;
        anyhow::ensure!(
            done["data"]["status"] == "timeout",
            "a run ended otherwise: {done}"
        );
        let run: Uuid = done["meta"]["runId"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no runId in {done}"))?;
        let deadline: DateTime<Utc> =
            sqlx::query_scalar("select deadline_at from calendar_runs where id = $1")
                .bind(run)
                .fetch_one(pool)
                .await?;
        late.push((arrived - deadline).to_std().unwrap_or_default());
    }
    late.sort();
    Ok(late)
}

/// Streams one run; returns when its final frame arrived and the frame.
async fn final_frame(
    post: reqwest::RequestBuilder,
) -> anyhow::Result<(DateTime<Utc>, serde_json::Value)> {
    let response = post.send().await?;
    anyhow::ensure!(response.status() == 200, "stream: {}", response.status());
    let mut chunks = response.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = chunks.next().await {
        text.push_str(std::str::from_utf8(&chunk?)?);
        if let Some(at) = text.find("event: done\ndata: ")
            && let Some(line) = text[at..].lines().nth(1)
            && text[at..].contains("\n\n")
        {
            let arrived = Utc::now();
            let done = serde_json::from_str(line.trim_start_matches("data: "))?;
            return Ok((arrived, done));
        }
    }
    anyhow::bail!("the stream ended without a final frame")
}
