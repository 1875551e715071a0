//! The event relay under load: latency from a worker's emit to a client's receipt with
//! 1,000 concurrent streams, and the same split over two API processes (each should receive
//! only its own half of the events). The clients and the API process that `idle.rs` uses
//! too. The API runs as its own process (the release
//! `almanac-api` binary), so its resident memory is its own; clients are raw HTTP/1.1
//! connections, as light as a client can be.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use almanac_shared::{
    Settings,
    auth::JwtKeys,
    events::{Emitter, Event},
};
use anyhow::Context;
use futures::StreamExt;
use sqlx::PgPool;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Semaphore,
};
use uuid::Uuid;

use almanac_tests::processes::Service;

use crate::{SECRET, ms, percentile};

/// The API as a child process, on the benchmark's database and Redis prefix.
pub(crate) async fn start_api(
    settings: &Settings,
    extra: &[(&str, &str)],
) -> anyhow::Result<Service> {
    let mut env = vec![
        ("DATABASE_URL", settings.database_url.expose().to_owned()),
        ("REDIS_URL", settings.redis_url.expose().to_owned()),
        ("REDIS_PREFIX", settings.redis_prefix.clone()),
        ("JWT_SECRET", SECRET.to_owned()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    Service::api(&env).await
}

pub(crate) fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// An open SSE connection, read raw.
pub(crate) struct RawStream {
    socket: TcpStream,
    buffer: Vec<u8>,
}

impl RawStream {
    async fn open(addr: SocketAddr, job: Uuid, token: &str) -> anyhow::Result<Self> {
        // From 127.0.0.1 to 127.0.0.8 in turn: one source address has some 28,000 ports
        // to one server port, fewer than the idle phase may open.
        static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        let source = 1 + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 8;
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, source], 0)))?;
        let mut socket = socket.connect(addr).await?;
        socket.set_nodelay(true)?;
        let request = format!(
            "GET /v1/jobs/{job}/events HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
        );
        socket.write_all(request.as_bytes()).await?;
        let mut stream = Self {
            socket,
            buffer: Vec::with_capacity(2048),
        };
        let head_end = loop {
            if let Some(i) = find(&stream.buffer, b"\r\n\r\n") {
                break i + 4;
            }
            anyhow::ensure!(stream.fill().await?, "closed before the response head");
        };
        let head = String::from_utf8_lossy(&stream.buffer[..head_end]).into_owned();
        anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "stream refused: {head}");
        stream.buffer.drain(..head_end);
        Ok(stream)
    }

    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 4096];
        let n = self.socket.read(&mut chunk).await?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The next SSE frame's text (chunked-encoding size lines sit between frames and are
    /// skipped); `None` at the end of the stream.
    pub(crate) async fn next_frame(&mut self) -> std::io::Result<Option<String>> {
        loop {
            if let Some(end) = find(&self.buffer, b"\n\n") {
                let frame: Vec<u8> = self.buffer.drain(..end + 2).collect();
                return Ok(Some(String::from_utf8_lossy(&frame).into_owned()));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The event type of a frame (`event: <type>`).
pub(crate) fn frame_type(frame: &str) -> Option<&str> {
    frame
        .lines()
        .find_map(|l| l.strip_prefix("event: "))
        .map(str::trim)
}

/// Jobs owned by `user`, straight into the ledger.
pub(crate) async fn create_jobs(
    pool: &PgPool,
    user: Uuid,
    n: usize,
    status: &str,
) -> anyhow::Result<Vec<Uuid>> {
    let ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "insert into jobs (id, user_id, kind, status, payload, max_attempts)
         select id, $2, 'generation', $3, '{\"type\": \"generation.v1\", \"generation_id\": \"00000000-0000-0000-0000-000000000000\"}', 3
         from unnest($1::uuid[]) as t(id)",
    )
    .bind(&ids)
    .bind(user)
    .bind(status)
    .execute(pool)
    .await?;
    Ok(ids)
}

/// Opens one stream per job, `parallel` at a time (each open checks ownership in Postgres).
pub(crate) async fn open_all(
    addr: SocketAddr,
    jobs: &[Uuid],
    token: &str,
    parallel: usize,
) -> anyhow::Result<Vec<RawStream>> {
    let gate = Arc::new(Semaphore::new(parallel));
    let opens = jobs.iter().map(|&job| {
        let gate = gate.clone();
        let token = token.to_owned();
        async move {
            let _permit = gate.acquire().await.expect("gate open");
            let mut stream = RawStream::open(addr, job, &token).await?;
            // The stream has started when its first frame (`retry:`) arrives.
            stream.next_frame().await?.context("stream ended at once")?;
            anyhow::Ok(stream)
        }
    });
    futures::stream::iter(opens)
        .buffer_unordered(parallel)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

/// Raw Redis pub/sub delivery latency: PUBLISH to a subscriber in this process.
async fn pubsub_floor(settings: &Settings, samples: usize) -> anyhow::Result<Vec<Duration>> {
    let client = redis::Client::open(settings.redis_url.expose())?;
    let mut pubsub = client.get_async_pubsub().await?;
    let channel = settings.redis_key(&["bench-floor"]);
    pubsub.subscribe(&channel).await?;
    let mut messages = pubsub.into_on_message();
    let mut conn = client.get_multiplexed_async_connection().await?;
    let mut latencies = Vec::with_capacity(samples);
    for _ in 0..samples {
        let sent = Instant::now();
        redis::cmd("PUBLISH")
            .arg(&channel)
            .arg("x")
            .query_async::<i64>(&mut conn)
            .await?;
        messages.next().await.context("floor subscription ended")?;
        latencies.push(sent.elapsed());
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    latencies.sort();
    Ok(latencies)
}

/// A reader per stream, each collecting the emit-to-receipt latency of its `progress`
/// events until the final one.
fn read_latencies(opened: Vec<RawStream>) -> Vec<tokio::task::JoinHandle<Vec<Duration>>> {
    opened
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while let Ok(Some(frame)) = stream.next_frame().await {
                    let received = now_nanos();
                    match frame_type(&frame) {
                        Some("progress") => {
                            // The emit time travels in the message.
                            let sent: u128 = frame
                                .split("\"message\":\"")
                                .nth(1)
                                .and_then(|rest| rest.split('"').next())
                                .and_then(|n| n.parse().ok())
                                .unwrap_or(received);
                            latencies
                                .push(Duration::from_nanos(received.saturating_sub(sent) as u64));
                        }
                        Some("done") => break,
                        _ => {}
                    }
                }
                latencies
            })
        })
        .collect()
}

/// Emits `rounds` progress events to every job of `jobs`, at `rate` events per second in
/// all, then each job's final event; returns how long the progress events took.
async fn emit_paced(
    settings: &Settings,
    jobs: &[Uuid],
    rounds: usize,
    rate: f64,
) -> anyhow::Result<Duration> {
    let conn = almanac_shared::redis_conn::RedisConn::connect(settings).await?;
    let emitter = Emitter::new(settings, conn);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let started = Instant::now();
    let total = jobs.len() * rounds;
    // Emitters pace themselves on a shared schedule: event i is due at i * interval.
    let lanes = 16;
    let mut tasks = Vec::new();
    for lane in 0..lanes {
        let (emitter, jobs) = (emitter.clone(), jobs.to_vec());
        tasks.push(tokio::spawn(async move {
            let mut i = lane;
            while i < total {
                let due = started + interval * i as u32;
                tokio::time::sleep_until(due.into()).await;
                let job = jobs[i % jobs.len()];
                let event =
                    Event::progress((i / jobs.len()) as u64, 0, "bench", now_nanos().to_string());
                // Each job's first event, as the API emits `queued`.
                let emitted = if i < jobs.len() {
                    emitter.emit_first(job, &event).await
                } else {
                    emitter.emit(job, &event).await
                };
                emitted.expect("emit");
                i += lanes;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let emitted_in = started.elapsed();
    for &job in jobs {
        let done = Event::done(almanac_shared::jobs::JobStatus::Succeeded, None, None);
        emitter.emit(job, &done).await?;
    }
    Ok(emitted_in)
}

/// Gathers the readers' latencies, sorted, checking that all `total` events arrived.
async fn gather(
    readers: Vec<tokio::task::JoinHandle<Vec<Duration>>>,
    total: usize,
) -> anyhow::Result<Vec<Duration>> {
    let mut latencies = Vec::with_capacity(total);
    for reader in readers {
        latencies.extend(reader.await?);
    }
    latencies.sort();
    anyhow::ensure!(
        latencies.len() == total,
        "{} of {total} events arrived",
        latencies.len()
    );
    Ok(latencies)
}

/// Their streams are done; the ledger rows must not look like running work to the phases
/// that follow.
pub(crate) async fn end_jobs(pool: &PgPool, jobs: &[Uuid]) -> anyhow::Result<()> {
    sqlx::query("update jobs set status = 'succeeded', finished_at = now() where id = any($1)")
        .bind(jobs)
        .execute(pool)
        .await?;
    Ok(())
}

/// Relay latency: `streams` clients, each job gets `rounds` events, emitted at
/// `rate` events per second in total.
pub async fn latency(
    settings: &Settings,
    pool: &PgPool,
    streams: usize,
    rounds: usize,
    rate: f64,
) -> anyhow::Result<()> {
    let api = start_api(settings, &[]).await?;
    let user = Uuid::new_v4();
    let token = JwtKeys::new(SECRET).mint(user, 3600);
    let jobs = create_jobs(pool, user, streams, "running").await?;
    let opened = open_all(api.addr, &jobs, &token, 100).await?;
    let readers = read_latencies(opened);
    let total = streams * rounds;
    let emitted_in = emit_paced(settings, &jobs, rounds, rate).await?;
    let latencies = gather(readers, total).await?;
    end_jobs(pool, &jobs).await?;
    let floor = pubsub_floor(settings, 2000).await?;
    let rtt = {
        let mut conn = almanac_shared::redis_conn::RedisConn::connect(settings).await?;
        let mut rtts = Vec::with_capacity(2000);
        for _ in 0..2000 {
            let t = Instant::now();
            redis::cmd("PUBLISH")
                .arg(settings.redis_key(&["bench-nobody"]))
                .arg("x")
                .query_async::<i64>(&mut conn)
                .await?;
            rtts.push(t.elapsed());
        }
        rtts.sort();
        rtts
    };
    println!(
        "relay latency  worker emit -> client receipt, {streams} concurrent SSE streams, {total} events at {:.0}/s",
        total as f64 / emitted_in.as_secs_f64()
    );
    println!(
        "  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms   floor: redis PUBLISH round trip p50 {:.2} ms p99 {:.2} ms, pub/sub delivery p50 {:.2} ms p99 {:.2} ms",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(*latencies.last().unwrap()),
        ms(percentile(&rtt, 50.0)),
        ms(percentile(&rtt, 99.0)),
        ms(percentile(&floor, 50.0)),
        ms(percentile(&floor, 99.0)),
    );
    println!(
        "  ratio to pub/sub delivery: p50 {:.1}x, p99 {:.1}x",
        ms(percentile(&latencies, 50.0)) / ms(percentile(&floor, 50.0)),
        ms(percentile(&latencies, 99.0)) / ms(percentile(&floor, 99.0))
    );
    println!("  targets: p50 <= 2 ms, p99 <= 10 ms");
    println!();
    drop(api);
    Ok(())
}

/// The notifications one API process received (`relay_notifications_total`).
async fn notifications(api: &Service) -> anyhow::Result<u64> {
    let page = reqwest::get(api.metrics_url()).await?.text().await?;
    Ok(page
        .lines()
        .find_map(|line| line.strip_prefix("relay_notifications_total "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64)
}

/// Two API processes, each streaming a disjoint half of the jobs: what each receives from
/// Redis (it should be its own half, not the fleet's events), and the latency.
pub async fn split(
    settings: &Settings,
    pool: &PgPool,
    streams: usize,
    rounds: usize,
    rate: f64,
) -> anyhow::Result<()> {
    let apis = [
        start_api(settings, &[]).await?,
        start_api(settings, &[]).await?,
    ];
    let user = Uuid::new_v4();
    let token = JwtKeys::new(SECRET).mint(user, 3600);
    let jobs = create_jobs(pool, user, streams, "running").await?;
    let half = streams / 2;
    let mut opened = open_all(apis[0].addr, &jobs[..half], &token, 100).await?;
    opened.extend(open_all(apis[1].addr, &jobs[half..], &token, 100).await?);
    let before = [
        notifications(&apis[0]).await?,
        notifications(&apis[1]).await?,
    ];
    let readers = read_latencies(opened);
    let total = streams * rounds;
    emit_paced(settings, &jobs, rounds, rate).await?;
    let latencies = gather(readers, total).await?;
    end_jobs(pool, &jobs).await?;
    let received = [
        notifications(&apis[0]).await? - before[0],
        notifications(&apis[1]).await? - before[1],
    ];
    // One notification an event: `rounds` progress events and the final one a job.
    let own = [half * (rounds + 1), (streams - half) * (rounds + 1)];
    let published = streams * (rounds + 1);
    println!(
        "relay split  2 API processes, {streams} SSE streams, each process streaming half of the jobs, {published} events"
    );
    println!(
        "  notifications received: {} and {} (their own halves: {} and {}; every process receiving every event would be {published} each)",
        received[0], received[1], own[0], own[1]
    );
    println!(
        "  latency p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(*latencies.last().unwrap()),
    );
    println!(
        "  targets: each process receives at most its own half; latency as the one-process phase"
    );
    println!();
    anyhow::ensure!(
        received[0] <= own[0] as u64 && received[1] <= own[1] as u64,
        "a process received events of jobs it does not stream"
    );
    Ok(())
}
