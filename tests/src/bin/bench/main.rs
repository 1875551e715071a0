//! `make bench`: Almanac's load benchmark. Prints raw Postgres and Redis ceilings measured
//! in the same run, then the API's submit throughput and latency, end-to-end job throughput
//! with a zero-latency AI provider, the idle worker's pickup latency, the time to stream a
//! year-long calendar (first entry and final frame) and an organic week (first placement
//! and `complete`, 6 and 60 placements) and a burst of webhook deliveries, each with its ratio
//! to the ceilings (these machines are noisy; ratios travel better than absolute numbers).
//!
//! The submit, pickup and end-to-end phases run the release `almanac-api` and
//! `almanac-worker` binaries as child processes, so that the CPU each spends is read apart
//! (and any build's binaries can be measured by this one, through `ALMANAC_BIN_DIR`), with
//! the round trips a job took at each step read from their `/metrics`.
//!
//! The event relay's phases run the release `almanac-api` binary as a child process:
//! emit-to-receipt latency with 1,000 streams, the same over two API processes each streaming
//! half (what each receives from Redis), and memory and heartbeats of 100,000 idle ones (or
//! as many as the open-files limit allows).
//! The last phases run the binaries too: calendar runs past seed 000's wall-clock deadline,
//! until their final frame, with a worker stopping them and with none (the API ending
//! them); then `almanac-api` and two `almanac-worker` processes, the worker holding jobs
//! killed, and their recovery timed with the default settings; and, on a database of its
//! own, a million finished jobs past their retention swept while end to end runs.
//!
//! Environment: DATABASE_URL (a server to create a scratch database on), REDIS_URL,
//! BENCH_SECS (default 5), BENCH_CLIENTS (default 64), BENCH_JOBS (default 5000),
//! BENCH_STREAMS (default 1000), BENCH_IDLE_STREAMS (default 100000), BENCH_IDLE_BREAKDOWN=1
//! (after the idle phase, where an idle stream's memory goes), ALMANAC_BIN_DIR (where
//! `almanac-api` and `almanac-worker` are; default: beside this binary), BENCH_ONLY=relay
//! (stop after the relay phases), BENCH_ONLY=idle (only the idle streams, which any build's
//! `almanac-api` serves: this binary measures an older API through ALMANAC_BIN_DIR), BENCH_ONLY=recovery (only the last phase),
//! BENCH_ONLY=deadline (only the calendar deadline), BENCH_ONLY=retention (only a million
//! expired jobs swept while end to end runs, against end to end without sweeping),
//! BENCH_ONLY=organic (only the organic week, after the ceilings), BENCH_ONLY=streamed (only
//! the streamed AI answers against the fake provider at 200 tokens/s, after the ceilings),
//! BENCH_ONLY=console (the operator console on a million jobs, on a database of its own, kept
//! for a look with BENCH_KEEP_DATABASE=1),
//! BENCH_ONLY=flags (only the runtime flags' propagation, after the ceilings), BENCH_ONLY=api_keys
//! (only a deleted API key's refusal by another API process, and a key's cost a read, after
//! the ceilings), BENCH_ONLY=webhooks
//! (only a burst of 1,000 webhook events, commit to delivery, after the ceilings),
//! BENCH_ONLY=fairness (one user's backlog of BENCH_FAIRNESS_JOBS, default 10,000, against
//! another user's jobs one at a time, and webhook deliveries past another user's hanging
//! endpoints, after the ceilings), BENCH_ONLY=live (only a teammate's edit reaching an open
//! calendar's live stream, after the ceilings), BENCH_ONLY=media (only a 200 MiB upload streamed to the
//! file store against a raw file write of the same bytes, and the memory it takes, after
//! the ceilings) or BENCH_ONLY=jobs (only submit, pickup and end to end, after the ceilings).

mod api_keys;
mod budget;
mod calendar;
mod console;
mod cpu;
mod deadline;
mod fairness;
mod flags;
mod idle;
mod jobs;
mod live;
mod media;
mod organic;
mod recovery;
mod relay;
mod retention;
mod streamed;
mod streams;
mod webhooks;

use jobs::{end_to_end, load_clients, submitter};

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use almanac_shared::{Settings, db};
use almanac_tests::processes::Service;
use sqlx::{Connection, PgConnection, PgPool, postgres::PgConnectOptions, postgres::PgPoolOptions};
use uuid::Uuid;

const BENCH_TEXT: &str = "Benchmarks measure what users feel, and users feel the slowest request far more than the average one, which is why the tail of the latency distribution matters more than its middle when we decide whether a system is fast enough for people who depend on it every single day of the week. Throughput tells us how much work fits into a second on these two small cores, and latency tells us how long each person waits for an answer that they asked for. Raw ceilings measured in the same run keep the numbers honest on noisy machines where other tenants steal cycles unpredictably and without any warning at all. Ratios against those ceilings travel across machines better than absolute numbers ever could, so they are what we record in our notes. A queue that wakes its workers in milliseconds without polling in a busy loop saves both latency and electricity, which is a rare and welcome combination in the engineering of systems that people run in production for years, long after the people who wrote them have moved on to other work.";
const PICKUP_SAMPLES: usize = 200;
const SECRET: &str = "bench-secret-bench-secret-bench-secret-00";

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Runs `measure` on a database of its own (created on `admin_url`'s server, migrated by
/// whoever starts first, dropped after), so that no other phase's processes touch its jobs.
async fn on_scratch_database<F, Fut>(admin_url: &str, label: &str, measure: F) -> anyhow::Result<()>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let admin: PgConnectOptions = admin_url.parse()?;
    let name = format!("almanac_bench_{label}_{}", Uuid::new_v4().simple());
    let mut conn = PgConnection::connect_with(&admin.clone().database("postgres")).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("create database \"{name}\"")))
        .execute(&mut conn)
        .await?;
    let outcome = measure(db::with_database(admin_url, &name)).await;
    if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
        println!("  (database {name} kept: BENCH_KEEP_DATABASE)");
        return outcome;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists \"{name}\" with (force)"
    )))
    .execute(&mut conn)
    .await?;
    outcome
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs `clients` loops of `op` for `secs`, returning operations per second and sorted latencies.
async fn load<F, Fut>(clients: usize, secs: f64, op: F) -> (f64, Vec<Duration>)
where
    F: Fn(usize, usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut handles = Vec::new();
    for client in 0..clients {
        let (op, stop) = (op.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                assert!(op(client, i).await, "operation failed under load");
                latencies.push(t.elapsed());
                i += 1;
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for handle in handles {
        all.extend(handle.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    (all.len() as f64 / elapsed, all)
}

fn settings(db_url: &str, prefix: &str) -> Settings {
    settings_with(db_url, prefix, &[])
}

/// [`settings`] with some of them set otherwise.
fn settings_with(db_url: &str, prefix: &str, extra: &[(&'static str, &str)]) -> Settings {
    let env = bench_env(db_url, prefix, extra);
    Settings::from_lookup(move |k| env.get(k).cloned()).expect("bench settings")
}

/// The environment the benchmark's processes run with (in this process, or as children):
/// no rate limit in the way, 32 connections, 64 jobs at once, a provider that answers at once.
fn bench_env(
    db_url: &str,
    prefix: &str,
    extra: &[(&'static str, &str)],
) -> HashMap<&'static str, String> {
    let mut env: HashMap<&'static str, String> = HashMap::from([
        ("DATABASE_URL", db_url.to_owned()),
        (
            "REDIS_URL",
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        ("REDIS_PREFIX", prefix.to_owned()),
        ("API_ADDR", "127.0.0.1:0".into()),
        ("WORKER_METRICS_ADDR", "127.0.0.1:0".into()),
        ("METRICS_ADDR", "127.0.0.1:0".into()),
        ("JWT_SECRET", SECRET.into()),
        ("ALMANAC_DEV", "true".into()),
        ("GENERATION_RATE_LIMIT", "1000000".into()),
        ("CALENDAR_RATE_LIMIT", "1000000".into()),
        ("SYNTHESIS_RATE_LIMIT", "1000000".into()),
        ("ORGANIC_RATE_LIMIT", "1000000".into()),
        ("DATABASE_MAX_CONNECTIONS", "32".into()),
        ("WORKER_CONCURRENCY", "64".into()),
        ("AI_OFFLINE_LATENCY_MS", "0".into()),
    ]);
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    env
}

/// [`bench_env`] for a child process, which is given its addresses by [`Service`].
fn child_env(db_url: &str, prefix: &str) -> Vec<(&'static str, String)> {
    bench_env(db_url, prefix, &[])
        .into_iter()
        .filter(|(key, _)| !key.ends_with("_ADDR"))
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = std::env::var_os("BENCH_LOG")
        .map(|_| {
            almanac_shared::telemetry::init(
                "almanac-bench",
                Some(almanac_shared::config::LogFormat::Pretty),
                None,
            )
        })
        .transpose()?;
    let secs: f64 = env_or("BENCH_SECS", 5.0);
    let clients: usize = env_or("BENCH_CLIENTS", 64);
    let jobs: usize = env_or("BENCH_JOBS", 5000);
    let admin_url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into());
    if std::env::var("BENCH_ONLY").as_deref() == Ok("recovery") {
        return recovery::run(&admin_url).await;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("deadline") {
        return deadline::run(&admin_url).await;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("retention") {
        return retention::run(&admin_url, clients, jobs).await;
    }
    if std::env::var("BENCH_ONLY").as_deref() == Ok("console") {
        return console::run(&admin_url).await;
    }
    on_scratch_database(&admin_url, "main", |db_url| async move {
        run(&db_url, secs, clients, jobs).await
    })
    .await?;
    if std::env::var_os("BENCH_ONLY").is_none() {
        // Last: processes of their own, on databases of their own.
        deadline::run(&admin_url).await?;
        recovery::run(&admin_url).await?;
        retention::run(&admin_url, clients, jobs).await?;
        console::run(&admin_url).await?;
    }
    Ok(())
}

/// The phases on the scratch database `db_url`, then what they left in Redis is deleted
/// (event streams are kept for hours otherwise, and repeated runs would fill the shared
/// Redis).
async fn run(db_url: &str, secs: f64, clients: usize, jobs: usize) -> anyhow::Result<()> {
    let prefix = format!("bench{}", &Uuid::new_v4().simple().to_string()[..8]);
    let outcome = phases(db_url, &prefix, secs, clients, jobs).await;
    forget_keys(&settings(db_url, &prefix)).await?;
    outcome
}

/// Deletes every Redis key under `settings`' prefix, a batch at a time (`SCAN`, `UNLINK`),
/// without blocking the server.
async fn forget_keys(settings: &Settings) -> anyhow::Result<()> {
    let mut conn = almanac_shared::redis_conn::RedisConn::connect(settings).await?;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{}*", settings.redis_prefix))
            .arg("COUNT")
            .arg(10_000)
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            redis::cmd("UNLINK")
                .arg(&keys)
                .query_async::<i64>(&mut conn)
                .await?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// The Postgres ceiling: single-row inserts at `clients` concurrent clients for `secs`.
async fn pg_ceiling(
    pool: &PgPool,
    clients: usize,
    secs: f64,
) -> anyhow::Result<(f64, Vec<Duration>)> {
    sqlx::query("create table bench_raw (id uuid primary key, user_id uuid not null, payload jsonb not null, created_at timestamptz not null default now())")
        .execute(pool)
        .await?;
    let raw_pool = pool.clone();
    let (pg_rate, pg_lat) = load(clients, secs, move |_, _| {
        let pool = raw_pool.clone();
        async move {
            sqlx::query("insert into bench_raw (id, user_id, payload) values ($1, $2, $3)")
                .bind(Uuid::now_v7())
                .bind(Uuid::new_v4())
                .bind(sqlx::types::Json(serde_json::json!({"type": "raw"})))
                .execute(&pool)
                .await
                .is_ok()
        }
    })
    .await;
    Ok((pg_rate, pg_lat))
}

/// The Redis ceiling: PING round trips at `clients` concurrent clients for `secs`.
async fn redis_ceiling(
    redis: &almanac_shared::redis_conn::RedisConn,
    clients: usize,
    secs: f64,
) -> (f64, Vec<Duration>) {
    let raw_redis = redis.clone();
    load(clients, secs, move |_, _| {
        let mut conn = raw_redis.clone();
        async move {
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .is_ok()
        }
    })
    .await
}

/// The phase `BENCH_ONLY` names alone, where it is one that runs after the ceilings and
/// then stops: its outcome; none for the others.
async fn only_phase(
    settings: &Settings,
    pool: &PgPool,
    redis: &almanac_shared::redis_conn::RedisConn,
    (db_url, prefix): (&str, &str),
    clients: usize,
) -> Option<anyhow::Result<()>> {
    let only = std::env::var("BENCH_ONLY").ok()?;
    Some(match only.as_str() {
        "flags" => flags::run(settings, pool).await,
        "api_keys" => api_keys::run(settings).await,
        "streamed" => streamed::run(settings).await,
        "media" => media::run(settings).await,
        "webhooks" => webhooks::run(settings, pool).await,
        "live" => live::run(settings, pool).await,
        "fairness" => fairness::run(db_url, prefix, pool, clients).await,
        "organic" => organic_alone(settings, pool, redis).await,
        _ => return None,
    })
}

/// An API and a worker in this process: the API's address.
async fn in_process_app(settings: &Settings) -> anyhow::Result<String> {
    let api = almanac_api::Application::build(settings.clone()).await?;
    let base = format!("http://127.0.0.1:{}", api.port());
    tokio::spawn(api.run_until_stopped(std::future::pending()));
    let worker = almanac_worker::Application::build(settings.clone()).await?;
    tokio::spawn(worker.run_until_stopped(std::future::pending()));
    Ok(base)
}

/// The organic week's phase alone, against an API and a worker in this process.
async fn organic_alone(
    settings: &Settings,
    pool: &PgPool,
    redis: &almanac_shared::redis_conn::RedisConn,
) -> anyhow::Result<()> {
    let base = in_process_app(settings).await?;
    organic::run(&base, pool, redis).await
}

/// Pickup latency: [`PICKUP_SAMPLES`] jobs submitted one at a time to an idle worker, each
/// timed from its submission to its claim (`redis_lat`: the Redis ceiling's, for scale).
async fn pickup(
    pool: &PgPool,
    http: &reqwest::Client,
    base: &str,
    tokens: &[String],
    body: &str,
    [api, worker]: [&Service; 2],
    redis_lat: &[Duration],
) -> anyhow::Result<()> {
    let clients = tokens.len();
    // Let the worker subscribe and register before timing pickups.
    wait_until(
        pool,
        "select count(*) = 0 from jobs where status = 'running'",
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut pickups = Vec::new();
    let trips_before = budget::read(&[api, worker]).await?;
    for i in 0..PICKUP_SAMPLES {
        let response = http
            .post(format!("{base}/api/ai/generations"))
            .bearer_auth(&tokens[i % clients])
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await?;
        let accepted: serde_json::Value = response.json().await?;
        let job: Uuid = accepted["job_id"].as_str().unwrap().parse()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row: Option<(f64,)> = sqlx::query_as(
                "select extract(epoch from (started_at - created_at))::float8 from jobs
                 where id = $1 and status = 'succeeded'",
            )
            .bind(job)
            .fetch_optional(pool)
            .await?;
            if let Some((secs,)) = row {
                pickups.push(Duration::from_secs_f64(secs));
                break;
            }
            anyhow::ensure!(
                Instant::now() < deadline,
                "job {job} was not picked up within 10 s"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        // Idle between submissions, at varied offsets from the worker's fallback tick.
        tokio::time::sleep(Duration::from_millis(20 + (i as u64 * 7) % 40)).await;
    }
    let lone_trips = budget::read(&[api, worker]).await?.since(&trips_before);
    pickups.sort();
    println!("pickup  submit-to-claim latency, idle worker ({PICKUP_SAMPLES} jobs, one at a time)");
    println!(
        "  p50 {:.2} ms  p99 {:.2} ms   (redis round trip p50 {:.2} ms)",
        ms(percentile(&pickups, 50.0)),
        ms(percentile(&pickups, 99.0)),
        ms(percentile(redis_lat, 50.0))
    );
    println!("{}", budget::per(&lone_trips, PICKUP_SAMPLES, "job alone"));
    println!("  target: p50 <= 25 ms without a busy loop");
    println!();
    Ok(())
}

/// How many claim statements the end-to-end phase's `jobs` took (the jobs one statement
/// took share its transaction's `started_at`).
async fn claim_statements(pool: &PgPool, jobs: usize) -> anyhow::Result<()> {
    let claims: i64 = sqlx::query_scalar(
        "select count(distinct started_at) from
            (select started_at from jobs order by created_at desc limit $1) j",
    )
    .bind(jobs as i64)
    .fetch_one(pool)
    .await?;
    println!(
        "  claims: {claims} statements for {jobs} jobs ({:.1} jobs a statement)",
        jobs as f64 / claims.max(1) as f64
    );
    Ok(())
}

/// The phases that run the API and the worker in this process: calendar generation (a
/// year of three channels, streamed; last, so that its writes do not weigh on the phases
/// before), the organic week, streamed answers, media, flags, webhooks, API keys.
async fn in_process_phases(
    settings: &Settings,
    pool: &PgPool,
    redis: &almanac_shared::redis_conn::RedisConn,
) -> anyhow::Result<()> {
    let base = in_process_app(settings).await?;

    calendar::run(&base, pool, redis).await?;
    organic::run(&base, pool, redis).await?;
    streamed::run(settings).await?;
    media::run(settings).await?;
    flags::run(settings, pool).await?;
    live::run(settings, pool).await?;
    webhooks::run(settings, pool).await?;
    api_keys::run(settings).await?;
    Ok(())
}

/// Submit throughput: the API alone (no worker competing for the cores), `tokens.len()`
/// clients for `secs`, against the ceilings (`pg_rate`, `redis_rate`).
async fn submit_phase(
    api: &Service,
    (http, base, tokens): (&reqwest::Client, &str, &Arc<Vec<String>>),
    secs: f64,
    (pg_rate, redis_rate): (f64, f64),
) -> anyhow::Result<()> {
    let clients = tokens.len();
    let submit = submitter(http, base, tokens);
    let trips_before = budget::read(&[api]).await?;
    let cpu_before = cpu::snapshot(&[("api", api.pid())]);
    let (submit_rate, submit_lat) = load(clients, secs, submit.clone()).await;
    let submit_cpu = cpu::per(cpu_before, submit_lat.len(), "request");
    let submit_trips = budget::read(&[api]).await?.since(&trips_before);
    println!("submit  POST /api/ai/generations  ({clients} clients)");
    println!(
        "  {submit_rate:>9.0} req/s   p50 {:.2} ms  p99 {:.2} ms   ratio to postgres inserts {:.2}, to redis round trips {:.3}",
        ms(percentile(&submit_lat, 50.0)),
        ms(percentile(&submit_lat, 99.0)),
        submit_rate / pg_rate,
        submit_rate / redis_rate
    );
    println!("{submit_cpu}");
    println!(
        "{}",
        budget::per(&submit_trips, submit_lat.len(), "request")
    );
    println!("  targets: >= 3000 req/s, p99 < 50 ms");
    println!();
    Ok(())
}

/// The ceilings, as `make bench` prints them first.
fn print_ceilings(
    (pg_rate, pg_lat): (f64, &[Duration]),
    (redis_rate, redis_lat): (f64, &[Duration]),
) {
    println!("ceilings");
    println!(
        "  postgres single-row inserts   {pg_rate:>9.0} /s   p50 {:.2} ms  p99 {:.2} ms",
        ms(percentile(pg_lat, 50.0)),
        ms(percentile(pg_lat, 99.0))
    );
    println!(
        "  redis round trips (PING)      {redis_rate:>9.0} /s   p50 {:.2} ms  p99 {:.2} ms",
        ms(percentile(redis_lat, 50.0)),
        ms(percentile(redis_lat, 99.0))
    );
    println!();
}

async fn phases(
    db_url: &str,
    prefix: &str,
    secs: f64,
    clients: usize,
    jobs: usize,
) -> anyhow::Result<()> {
    let settings = settings(db_url, prefix);
    let pool = PgPoolOptions::new()
        .max_connections(clients as u32)
        .connect(db_url)
        .await?;
    db::migrate(&pool).await?;
    println!(
        "Almanac benchmark: {clients} concurrent clients, {secs} s per phase, {} cores",
        std::thread::available_parallelism()?
    );
    println!();

    // --- Raw ceilings, same machine, same run ---
    let (pg_rate, pg_lat) = pg_ceiling(&pool, clients, secs).await?;
    // Give the baseline's connections back so the system under test gets the server's.
    pool.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(4)
        .connect(db_url)
        .await?;
    let redis = almanac_shared::redis_conn::RedisConn::connect(&settings).await?;
    let (redis_rate, redis_lat) = redis_ceiling(&redis, clients, secs).await;
    print_ceilings((pg_rate, &pg_lat), (redis_rate, &redis_lat));

    if let Some(done) = only_phase(&settings, &pool, &redis, (db_url, prefix), clients).await {
        return done;
    }

    // --- The event relay, against an API process of its own ---
    let jobs_only = std::env::var("BENCH_ONLY").as_deref() == Ok("jobs");
    let idle_only = std::env::var("BENCH_ONLY").as_deref() == Ok("idle");
    if !jobs_only {
        let streams: usize = env_or("BENCH_STREAMS", 1000);
        let idle_streams: usize = env_or("BENCH_IDLE_STREAMS", 100_000);
        if !idle_only {
            relay::latency(&settings, &pool, streams, 10, 2000.0).await?;
            relay::split(&settings, &pool, streams, 10, 2000.0).await?;
        }
        idle::idle(&settings, &pool, idle_streams).await?;
        if std::env::var_os("BENCH_IDLE_BREAKDOWN").is_some() {
            idle::idle_breakdown(&settings, &pool, idle_streams).await?;
        }
    }
    if idle_only || std::env::var("BENCH_ONLY").as_deref() == Ok("relay") {
        return Ok(());
    }

    // --- Submit throughput: the API alone (no worker competing for the cores). The API
    // and the worker run as processes of their own (`ALMANAC_BIN_DIR`, so that one bench
    // binary measures any build), each with its own CPU and `/metrics`.
    let env = child_env(db_url, prefix);
    let api = Service::api(&env).await?;
    let base = api.url("");
    let (http, tokens) = load_clients(clients)?;
    let body =
        Arc::new(serde_json::json!({ "source_text": BENCH_TEXT, "reuse": false }).to_string());
    submit_phase(&api, (&http, &base, &tokens), secs, (pg_rate, redis_rate)).await?;

    // Clear the backlog the submit phase left, so the next phases measure only their own jobs.
    sqlx::query(
        "update jobs set status = 'cancelled', finished_at = now() where status = 'pending'",
    )
    .execute(&pool)
    .await?;
    forget_keys(&settings).await?;

    // --- Pickup latency: an idle worker, one job at a time ---
    let worker = Service::worker(&env).await?;
    pickup(
        &pool,
        &http,
        &base,
        &tokens,
        &body,
        [&api, &worker],
        &redis_lat,
    )
    .await?;

    // --- End to end: submit `jobs` jobs while the worker runs; time to the last success ---
    let trips_before = budget::read(&[&api, &worker]).await?;
    let cpu_before = cpu::snapshot(&[("api", api.pid()), ("worker", worker.pid())]);
    let (e2e_rate, submit_done, total, failed) =
        end_to_end(&pool, clients, jobs, submitter(&http, &base, &tokens)).await?;
    let e2e_cpu = cpu::per(cpu_before, jobs, "job");
    let e2e_trips = budget::read(&[&api, &worker]).await?.since(&trips_before);
    println!("end to end  {jobs} jobs, submit to succeeded, zero-latency (offline) provider");
    println!(
        "  {e2e_rate:>9.0} jobs/s   (all submitted after {:.2} s, all succeeded after {:.2} s, {failed} failed)   ratio to postgres inserts {:.2}",
        submit_done.as_secs_f64(),
        total.as_secs_f64(),
        e2e_rate / pg_rate
    );
    println!("{e2e_cpu}");
    println!("{}", budget::per(&e2e_trips, jobs, "job"));
    claim_statements(&pool, jobs).await?;
    println!("  target: >= 1000 jobs/s");
    println!();
    if jobs_only {
        return Ok(());
    }
    // The phases below run the API and the worker in this process.
    drop((api, worker));
    in_process_phases(&settings, &pool, &redis).await
}

async fn wait_until(pool: &PgPool, query: &'static str) {
    for _ in 0..1000 {
        if sqlx::query_scalar::<_, bool>(query)
            .fetch_one(pool)
            .await
            .unwrap_or(false)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
