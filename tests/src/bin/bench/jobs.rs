//! What the job phases share (submit, end to end, and the retention phase's runs of it): the
//! load's clients, one submission, and an end-to-end run timed to its last job.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use almanac_shared::auth::JwtKeys;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{BENCH_TEXT, SECRET};

/// What `clients` loops of load share: an HTTP client pooling a connection each, and a
/// token each, of a user of its own (rate limits are per user).
pub(crate) fn load_clients(clients: usize) -> anyhow::Result<(reqwest::Client, Arc<Vec<String>>)> {
    let keys = JwtKeys::new(SECRET);
    let tokens = (0..clients)
        .map(|_| keys.mint(Uuid::new_v4(), 3600))
        .collect();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    Ok((http, Arc::new(tokens)))
}

/// One submitting client's request: `POST /api/ai/generations` as the client's user,
/// true when answered 202.
pub(crate) fn submitter(
    http: &reqwest::Client,
    base: &str,
    tokens: &Arc<Vec<String>>,
) -> impl Fn(usize, usize) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    let body =
        Arc::new(serde_json::json!({ "source_text": BENCH_TEXT, "reuse": false }).to_string());
    let (http, base, tokens) = (http.clone(), base.to_owned(), tokens.clone());
    move |client: usize, _| {
        let (http, base, tokens, body) = (http.clone(), base.clone(), tokens.clone(), body.clone());
        Box::pin(async move {
            let response = http
                .post(format!("{base}/api/ai/generations"))
                .bearer_auth(&tokens[client])
                .header("content-type", "application/json")
                .body(body.as_str().to_owned())
                .send()
                .await;
            matches!(response, Ok(r) if r.status() == 202)
        })
    }
}

/// Submits `jobs` jobs from `clients` loops of `submit`, each taking the next one until
/// all are taken; returns once every one was accepted.
pub(crate) async fn submit_all<F, Fut>(clients: usize, jobs: usize, submit: F) -> anyhow::Result<()>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let submitted = Arc::new(AtomicUsize::new(0));
    let mut submitters = Vec::new();
    for client in 0..clients {
        let (submit, submitted) = (submit.clone(), submitted.clone());
        submitters.push(tokio::spawn(async move {
            while submitted.fetch_add(1, Ordering::Relaxed) < jobs {
                assert!(submit(client, 0).await, "submit failed");
            }
        }));
    }
    for submitter in submitters {
        submitter.await?;
    }
    Ok(())
}

/// Submits `jobs` jobs from `clients` loops of `submit` while a worker runs, and waits
/// until none is unfinished: jobs per second, when the last was submitted, when the last
/// ended, and how many failed. Polls count unfinished jobs (the partial index answers), so
/// measuring does not load the database it measures.
pub(crate) async fn end_to_end<F, Fut>(
    pool: &PgPool,
    clients: usize,
    jobs: usize,
    submit: F,
) -> anyhow::Result<(f64, Duration, Duration, i64)>
where
    F: Fn(usize, usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    // Polled every 20 ms while the jobs run: `exists` stops at the first unfinished job, where a
    // count would walk thousands of index entries each time and add its own Postgres time
    // to the jobs' (about 5 % of it, in a profile of this phase).
    let unfinished = "select exists (select 1 from jobs where status in ('pending', 'running'))";
    // Counted among this round's jobs only: the retention phase deletes older ones meanwhile.
    let since: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select now()").fetch_one(pool).await?;
    let ended = |status: &'static str| async move {
        sqlx::query_scalar::<_, i64>(
            "select count(*) from jobs where status = $1::text and created_at >= $2",
        )
        .bind(status)
        .bind(since)
        .fetch_one(pool)
        .await
    };
    let started = Instant::now();
    submit_all(clients, jobs, submit).await?;
    let submit_done = started.elapsed();
    let target = jobs as i64;
    loop {
        let left: bool = sqlx::query_scalar(unfinished).fetch_one(pool).await?;
        if !left {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let done = ended("succeeded").await?;
            let states: Vec<(String, i64, Option<String>)> = sqlx::query_as(
                "select status, count(*), min(error::text) from jobs group by status",
            )
            .fetch_all(pool)
            .await?;
            let stuck: Option<String> = sqlx::query_scalar(
                "select string_agg(format('%s attempt %s: due %s ago, enqueued %s ago, heartbeat %s ago',
                        status, attempts, now() - run_after, now() - enqueued_at, now() - heartbeat_at), '; ')
                 from (select * from jobs where status in ('pending', 'running') limit 5) j",
            )
            .fetch_one(pool)
            .await?;
            let waits: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
                "select state, wait_event_type, left(query, 120) from pg_stat_activity
                 where datname = current_database() and pid <> pg_backend_pid()",
            )
            .fetch_all(pool)
            .await?;
            anyhow::bail!(
                "end-to-end phase did not finish: {done}/{target}; jobs by status: {states:?}\n\
                 stuck: {stuck:?}\n\
                 sessions: {waits:#?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let total = started.elapsed();
    let succeeded = ended("succeeded").await?;
    anyhow::ensure!(
        succeeded == target,
        "{succeeded} of {target} jobs succeeded"
    );
    let failed = ended("failed").await?;
    Ok((
        jobs as f64 / total.as_secs_f64(),
        submit_done,
        total,
        failed,
    ))
}
