//! Webhooks (issue 34): a burst of 1,000 events, each staged by its own committed change
//! (`stage_webhook_event`, what every trigger calls), delivered by a worker to a local
//! receiver answering 200; latency from each change's commit to its delivery's arrival,
//! timed by this process's clock on both ends, and the burst's throughput. The floor, in
//! the same run: a raw Postgres `NOTIFY` reaching a `LISTEN`ing connection, which is how the
//! relay hears of a commit.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use almanac_shared::{Settings, crypto::TokenCipher};
use sqlx::{PgPool, postgres::PgListener};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use crate::{ms, percentile};

const EVENTS: usize = 1000;
/// Changes committed at once: a burst, as a busy account's publishing would make.
const WRITERS: usize = 16;

pub async fn run(settings: &Settings, pool: &PgPool) -> anyhow::Result<()> {
    let floor = raw_notify(pool).await?;
    let key = almanac_shared::crypto::TokenKey::generate();
    let mut settings = settings.clone();
    settings.publish.token_key =
        Some(almanac_shared::crypto::TokenKey::parse(&key).map_err(anyhow::Error::msg)?);
    settings.fetch.allow_private_networks = true;
    let worker = almanac_worker::Application::build(settings.clone()).await?;
    tokio::spawn(worker.run_until_stopped(std::future::pending()));

    let arrived: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let url = receiver(arrived.clone()).await?;
    let user = Uuid::now_v7();
    let endpoint = Uuid::now_v7();
    let cipher = TokenCipher::new(settings.publish.token_key.as_ref().unwrap());
    let sealed = cipher.seal(
        endpoint,
        almanac_shared::webhooks::SECRET_FIELD,
        &almanac_shared::webhooks::new_secret(),
    );
    sqlx::query(
        "insert into webhook_endpoints (id, user_id, url, events, secret)
         values ($1, $2, $3, '{job.succeeded}', $4)",
    )
    .bind(endpoint)
    .bind(user)
    .bind(&url)
    .bind(sealed)
    .execute(pool)
    .await?;
    // Let the worker's relay listen before the burst.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let committed: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let started = Instant::now();
    let mut writers = Vec::new();
    for writer in 0..WRITERS {
        let (pool, committed) = (pool.clone(), committed.clone());
        writers.push(tokio::spawn(async move {
            let mut seq = writer as u64;
            while seq < EVENTS as u64 {
                let mut tx = pool.begin().await?;
                sqlx::query("select stage_webhook_event($1, 'job.succeeded', $2)")
                    .bind(user)
                    .bind(sqlx::types::Json(serde_json::json!({ "seq": seq })))
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                committed.lock().unwrap().insert(seq, Instant::now());
                seq += WRITERS as u64;
            }
            anyhow::Ok(())
        }));
    }
    for writer in writers {
        writer.await??;
    }
    let staged = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrived.lock().unwrap().len() < EVENTS {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {EVENTS} deliveries arrived within 120 s",
            arrived.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let all = started.elapsed();
    // Each recorded too (after its receiver answered).
    while sqlx::query_scalar::<_, i64>(
        "select count(*) from webhook_deliveries where endpoint_id = $1 and status = 'succeeded'",
    )
    .bind(endpoint)
    .fetch_one(pool)
    .await?
        < EVENTS as i64
    {
        anyhow::ensure!(
            Instant::now() < deadline,
            "deliveries not all recorded within 120 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let committed = committed.lock().unwrap().clone();
    let arrived = arrived.lock().unwrap().clone();
    let mut latencies: Vec<Duration> = committed
        .iter()
        .map(|(seq, at)| arrived[seq].saturating_duration_since(*at))
        .collect();
    latencies.sort();
    let succeeded: i64 = sqlx::query_scalar(
        "select count(*) from webhook_deliveries where endpoint_id = $1 and status = 'succeeded'",
    )
    .bind(endpoint)
    .fetch_one(pool)
    .await?;
    println!(
        "webhooks  a burst of {EVENTS} events ({WRITERS} changes committing at once), each delivered to a local receiver"
    );
    println!(
        "  commit to arrival p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms   (raw NOTIFY to LISTEN p50 {:.2} ms)",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(*latencies.last().unwrap()),
        ms(percentile(&floor, 50.0)),
    );
    println!(
        "  {:.0} deliveries/s   (all committed after {:.2} s, all delivered after {:.2} s; {succeeded} recorded succeeded, {} arrived)",
        EVENTS as f64 / all.as_secs_f64(),
        staged.as_secs_f64(),
        all.as_secs_f64(),
        arrived.len()
    );
    println!();
    Ok(())
}

/// A receiver answering 200 to every POST, noting when each event (`data.seq`) arrived.
async fn receiver(arrived: Arc<Mutex<HashMap<u64, Instant>>>) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/in", listener.local_addr()?);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let arrived = arrived.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                while let Some(request) =
                    almanac_tests::fake_http::read_request(&mut socket, &mut buffer).await
                {
                    let at = Instant::now();
                    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(&request.body)
                        && let Some(seq) = body["data"]["seq"].as_u64()
                    {
                        arrived.lock().unwrap().entry(seq).or_insert(at);
                    }
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(url)
}

/// A `NOTIFY` committed on one connection reaching another that listens: the floor of the
/// relay's wake-up.
async fn raw_notify(pool: &PgPool) -> anyhow::Result<Vec<Duration>> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen("bench_webhook_floor").await?;
    let mut samples = Vec::new();
    for _ in 0..100 {
        let sent = Instant::now();
        sqlx::query("select pg_notify('bench_webhook_floor', '')")
            .execute(pool)
            .await?;
        listener.recv().await?;
        samples.push(sent.elapsed());
    }
    samples.sort();
    Ok(samples)
}
