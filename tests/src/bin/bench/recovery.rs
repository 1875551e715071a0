//! Recovery: a worker process holding jobs is killed with SIGKILL; how long until each of
//! them runs on another worker, with the default job settings (heartbeat, stale and
//! reconcile intervals). The baseline is the bound those settings promise
//! (`JobSettings::recovery_bound`); the target is 15 s.
//!
//! It runs on a database of its own, so that no other phase's worker reconciles its jobs.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use almanac_shared::{Settings, auth::JwtKeys, db};
use almanac_tests::processes::Service;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{BENCH_TEXT, SECRET, ms, percentile};

const JOBS: usize = 20;

pub async fn run(admin_url: &str) -> anyhow::Result<()> {
    crate::on_scratch_database(admin_url, "recovery", measure).await
}

async fn measure(db_url: String) -> anyhow::Result<()> {
    let db_url = db_url.as_str();
    let pool = PgPool::connect(db_url).await?;
    db::migrate(&pool).await?;
    let url = db_url.to_owned();
    let defaults = Settings::from_lookup(move |key| match key {
        "DATABASE_URL" => Some(url.clone()),
        "ALMANAC_DEV" => Some("true".to_owned()),
        _ => None,
    })?;
    let env = vec![
        ("DATABASE_URL", db_url.to_owned()),
        (
            "REDIS_URL",
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        (
            "REDIS_PREFIX",
            format!("benchrec{}", &Uuid::new_v4().simple().to_string()[..8]),
        ),
        ("JWT_SECRET", SECRET.to_owned()),
        ("GENERATION_RATE_LIMIT", "1000000".to_owned()),
        // Every job stays inside its AI call, held by the worker that claimed it.
        ("AI_OFFLINE_LATENCY_MS", "600000".to_owned()),
    ];
    let api = Service::api(&env).await?;
    let mut holder = Service::worker(&env).await?;
    let http = reqwest::Client::new();
    let keys = JwtKeys::new(SECRET);
    for _ in 0..JOBS {
        // Each its own user's: one user runs at most `JOB_MAX_RUNNING_PER_USER` at once.
        let token = keys.mint(Uuid::new_v4(), 3600);
        let response = http
            .post(api.url("/api/ai/generations"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "source_text": BENCH_TEXT, "reuse": false }))
            .send()
            .await?;
        anyhow::ensure!(response.status() == 202, "submit: {}", response.status());
    }
    wait_for(&pool, "the jobs to be claimed", |running| running == JOBS).await?;
    // A second worker, idle, ready to take them over.
    let mut rescuer = Service::worker(&env).await?;
    holder.kill().await;
    let killed = Instant::now();
    let mut recovered: HashMap<Uuid, Duration> = HashMap::new();
    while recovered.len() < JOBS {
        anyhow::ensure!(
            killed.elapsed() < Duration::from_secs(60),
            "only {} of {JOBS} jobs ran again within 60 s",
            recovered.len()
        );
        let again: Vec<Uuid> =
            sqlx::query_scalar("select id from jobs where status = 'running' and attempts = 2")
                .fetch_all(&pool)
                .await?;
        for id in again {
            recovered.entry(id).or_insert_with(|| killed.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rescuer.kill().await;
    drop(api);
    let mut times: Vec<Duration> = recovered.into_values().collect();
    times.sort();
    let bound = defaults.jobs.recovery_bound();
    println!(
        "recovery  {JOBS} jobs held by a worker killed with SIGKILL, until each runs on another (default settings)"
    );
    println!(
        "  p50 {:.0} ms  max {:.0} ms   ratio to the settings' bound ({:.0} ms: JOB_STALE_MS {} + RECONCILE_INTERVAL_MS {}) {:.2}",
        ms(percentile(&times, 50.0)),
        ms(*times.last().unwrap()),
        ms(bound),
        defaults.jobs.stale_after.as_millis(),
        defaults.jobs.reconcile_every.as_millis(),
        times.last().unwrap().as_secs_f64() / bound.as_secs_f64()
    );
    println!("  target: <= 15000 ms");
    println!();
    Ok(())
}

async fn wait_for(pool: &PgPool, what: &str, done: impl Fn(usize) -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let running: i64 = sqlx::query_scalar("select count(*) from jobs where status = 'running'")
            .fetch_one(pool)
            .await?;
        if done(running as usize) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
