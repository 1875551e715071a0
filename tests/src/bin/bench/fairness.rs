//! `BENCH_ONLY=fairness`: what one user's backlog costs another user (issue 50).
//!
//! User A submits a backlog of generation jobs (`BENCH_FAIRNESS_JOBS`, 10,000; its rate
//! limit lifted and its `JOB_MAX_RUNNING_PER_USER` above `WORKER_CONCURRENCY`, so that the
//! claim order is what is measured; the offline provider answering in
//! `BENCH_FAIRNESS_AI_MS`, 200), user B submits 50 one at a time. Printed: B's
//! submit-to-done p50 and p99 alone and while A's backlog drains, their ratio, and A's
//! throughput with B and without (both on this build). Then the outside scenario: A has 20
//! webhook endpoints that accept and never answer and sends 200 tests; how long B's
//! `job.succeeded` delivery takes from its job's end to B's receiver.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use almanac_shared::{auth::JwtKeys, crypto::TokenKey};
use almanac_tests::fake_http::read_request;
use sqlx::PgPool;
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::{BENCH_TEXT, SECRET, ms, percentile, settings_with};

const B_JOBS: usize = 50;

pub(crate) async fn run(
    db_url: &str,
    prefix: &str,
    pool: &PgPool,
    clients: usize,
) -> anyhow::Result<()> {
    let backlog: usize = crate::env_or("BENCH_FAIRNESS_JOBS", 10_000);
    // The provider takes this long to answer (a fast model): a job waits on it, as in
    // production, rather than on the two cores every job in flight shares, so that B's
    // times show the order of the claims, not how many of A's jobs share the CPU with B's.
    let ai_ms: u64 = crate::env_or("BENCH_FAIRNESS_AI_MS", 200);
    let ai_ms = ai_ms.to_string();
    let key = TokenKey::generate();
    let settings = settings_with(
        db_url,
        prefix,
        &[
            ("AI_OFFLINE_LATENCY_MS", ai_ms.as_str()),
            ("JOB_MAX_RUNNING_PER_USER", "1000"),
            ("TOKEN_ENCRYPTION_KEY", key.as_str()),
            ("FETCH_ALLOW_PRIVATE_NETWORKS", "true"),
            ("WEBHOOK_TEST_RATE_LIMIT", "1000"),
        ],
    );
    let api = almanac_api::Application::build(settings.clone()).await?;
    let base = format!("http://127.0.0.1:{}", api.port());
    tokio::spawn(api.run_until_stopped(std::future::pending()));
    let worker = almanac_worker::Application::build(settings.clone()).await?;
    tokio::spawn(worker.run_until_stopped(std::future::pending()));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let keys = JwtKeys::new(SECRET);
    let b = keys.mint(Uuid::new_v4(), 3600);

    println!(
        "fairness  user A's backlog of {backlog} generation jobs, user B's {B_JOBS} one at a time (the provider answers in {ai_ms} ms, WORKER_CONCURRENCY {})",
        settings.jobs.concurrency
    );
    let alone = b_latencies(&http, &base, &b, pool).await?;
    let (a_alone, _) = a_backlog(&http, &base, &keys, pool, clients, backlog, None).await?;
    let (a_with_b, during) = {
        let b_run = (http.clone(), base.clone(), b.clone(), pool.clone());
        a_backlog(&http, &base, &keys, pool, clients, backlog, Some(b_run)).await?
    };
    let during = during.expect("B ran during A's backlog");
    let p = |l: &[Duration], q| ms(percentile(l, q));
    println!(
        "  B alone               p50 {:.1} ms  p99 {:.1} ms",
        p(&alone, 50.0),
        p(&alone, 99.0)
    );
    println!(
        "  B while A drains      p50 {:.1} ms  p99 {:.1} ms   p99 ratio {:.2} (goal <= 2)",
        p(&during, 50.0),
        p(&during, 99.0),
        p(&during, 99.0) / p(&alone, 99.0).max(0.001)
    );
    println!(
        "  A's throughput        {a_alone:.0} jobs/s alone, {a_with_b:.0} jobs/s with B   ratio {:.3} (goal >= 0.9)",
        a_with_b / a_alone
    );
    let delay = webhook_scenario(&http, &base, &keys).await?;
    println!(
        "  webhooks: A's 20 hanging endpoints, 200 tests; B's job.succeeded arrived {:.1} ms after its job ended",
        ms(delay)
    );
    println!();
    Ok(())
}

/// Submits one generation as the token's user; its job id.
async fn submit(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<Uuid> {
    let response = http
        .post(format!("{base}/api/ai/generations"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(serde_json::json!({ "source_text": BENCH_TEXT, "reuse": false }).to_string())
        .send()
        .await?;
    anyhow::ensure!(response.status() == 202, "submit: {}", response.status());
    let accepted: serde_json::Value = response.json().await?;
    Ok(accepted["job_id"].as_str().unwrap_or_default().parse()?)
}

/// B's 50 jobs, one at a time: each one's submit-to-done time as the ledger has it
/// (`finished_at - created_at`), sorted.
async fn b_latencies(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    pool: &PgPool,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(B_JOBS);
    for _ in 0..B_JOBS {
        let job = submit(http, base, token).await?;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let took: Option<f64> = sqlx::query_scalar(
                "select extract(epoch from finished_at - created_at)::float8 from jobs
                 where id = $1 and status = 'succeeded'",
            )
            .bind(job)
            .fetch_optional(pool)
            .await?;
            if let Some(secs) = took {
                latencies.push(Duration::from_secs_f64(secs));
                break;
            }
            anyhow::ensure!(Instant::now() < deadline, "B's job {job} did not end");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    latencies.sort();
    Ok(latencies)
}

/// A's backlog, submitted from `clients` connections as one user, and its throughput (jobs
/// a second, first submit to A's last success); with `b`, B's jobs run one at a time once
/// A's backlog has formed, and their latencies come back too.
async fn a_backlog(
    http: &reqwest::Client,
    base: &str,
    keys: &JwtKeys,
    pool: &PgPool,
    clients: usize,
    jobs: usize,
    b: Option<(reqwest::Client, String, String, PgPool)>,
) -> anyhow::Result<(f64, Option<Vec<Duration>>)> {
    let user = Uuid::new_v4();
    let tokens = Arc::new(vec![keys.mint(user, 3600); clients]);
    let submit = crate::jobs::submitter(http, base, &tokens);
    let during = b.map(|(http, base, token, pool)| {
        tokio::spawn(async move {
            // B starts once A's backlog is there (a fifth of it waiting), or after 5 s.
            let formed = (jobs / 5).max(1) as i64;
            let give_up = Instant::now() + Duration::from_secs(5);
            while Instant::now() < give_up {
                let waiting: i64 = sqlx::query_scalar(
                    "select count(*) from (select 1 from jobs where status = 'pending' limit $1) j",
                )
                .bind(formed)
                .fetch_one(&pool)
                .await?;
                if waiting >= formed {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            b_latencies(&http, &base, &token, &pool).await
        })
    });
    let started = Instant::now();
    crate::jobs::submit_all(clients, jobs, submit).await?;
    // Polled every 20 ms: `exists` stops at the first unfinished job (the partial index of
    // unfinished jobs answers), so measuring does not load the database it measures.
    loop {
        let open: bool = sqlx::query_scalar(
            "select exists (select 1 from jobs
                            where status in ('pending', 'running') and user_id = $1)",
        )
        .bind(user)
        .fetch_one(pool)
        .await?;
        if !open {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "A's backlog did not drain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let done: i64 =
        sqlx::query_scalar("select count(*) from jobs where user_id = $1 and status = 'succeeded'")
            .bind(user)
            .fetch_one(pool)
            .await?;
    anyhow::ensure!(done == jobs as i64, "{done} of A's {jobs} jobs succeeded");
    let rate = jobs as f64 / elapsed.as_secs_f64();
    let during = match during {
        Some(handle) => Some(handle.await??),
        None => None,
    };
    Ok((rate, during))
}

/// A listener that reads requests and answers none (until the process ends), as A's
/// endpoints do; its address.
async fn hanging() -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                while read_request(&mut socket, &mut buffer).await.is_some() {
                    std::future::pending::<()>().await;
                }
            });
        }
    });
    Ok(address)
}

/// A listener that answers 200 and notes when the first request came.
async fn answering(
    arrived: Arc<Mutex<Option<chrono::DateTime<chrono::Utc>>>>,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}/in", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                while read_request(&mut socket, &mut buffer).await.is_some() {
                    arrived.lock().unwrap().get_or_insert_with(chrono::Utc::now);
                    let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if socket.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(address)
}

/// Adds an endpoint for `token`'s user; its id.
async fn endpoint(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    url: &str,
) -> anyhow::Result<String> {
    let response = http
        .post(format!("{base}/v1/webhooks"))
        .bearer_auth(token)
        .json(&serde_json::json!({ "url": url, "events": ["job.succeeded"] }))
        .send()
        .await?;
    anyhow::ensure!(response.status() == 201, "webhook: {}", response.status());
    let created: serde_json::Value = response.json().await?;
    Ok(created["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// The outside scenario: A's 20 endpoints hang, A sends 200 tests, then B's job succeeds;
/// from its end to B's receiver.
async fn webhook_scenario(
    http: &reqwest::Client,
    base: &str,
    keys: &JwtKeys,
) -> anyhow::Result<Duration> {
    let (a, b) = (
        keys.mint(Uuid::new_v4(), 3600),
        keys.mint(Uuid::new_v4(), 3600),
    );
    let hang = hanging().await?;
    let mut endpoints = Vec::new();
    for n in 0..20 {
        endpoints.push(endpoint(http, base, &a, &format!("{hang}/hooks/{n}")).await?);
    }
    let arrived = Arc::new(Mutex::new(None));
    endpoint(http, base, &b, &answering(arrived.clone()).await?).await?;
    for n in 0..200 {
        let id = &endpoints[n % endpoints.len()];
        let response = http
            .post(format!("{base}/v1/webhooks/{id}/test"))
            .bearer_auth(&a)
            .send()
            .await?;
        anyhow::ensure!(response.status() == 202, "test: {}", response.status());
    }
    let job = submit(http, base, &b).await?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got = *arrived.lock().unwrap();
        if let Some(at) = got {
            let response = http
                .get(format!("{base}/v1/jobs/{job}"))
                .bearer_auth(&b)
                .send()
                .await?;
            let view: serde_json::Value = response.json().await?;
            let finished: chrono::DateTime<chrono::Utc> = view["data"]["finishedAt"]
                .as_str()
                .unwrap_or_default()
                .parse()?;
            return Ok((at - finished).to_std().unwrap_or_default());
        }
        anyhow::ensure!(Instant::now() < deadline, "B's delivery never arrived");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
