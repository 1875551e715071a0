//! Idle event streams on one API process: the resident memory each costs and how punctual
//! their heartbeats are, and where that memory goes.

use std::time::{Duration, Instant};

use almanac_shared::{Settings, auth::JwtKeys};
use sqlx::PgPool;
use tokio::net::TcpStream;
use uuid::Uuid;

use almanac_tests::processes::Service;

use crate::{
    SECRET, ms, percentile,
    relay::{create_jobs, end_jobs, frame_type, open_all, start_api},
};

/// The soft limit of open files of this process (the API, its child, inherits it).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// How many of `asked` streams the open-files limit allows: each is a socket in the API
/// and one here, with a margin for the rest. With the limit, when it is lower.
fn allowed(asked: usize) -> (usize, Option<usize>) {
    match open_files_limit() {
        Some(limit) if asked + 1_000 > limit => (limit.saturating_sub(1_000), Some(limit)),
        _ => (asked, None),
    }
}

/// The API's allocator as its `/metrics` reports it (refreshed every 2 s): KiB held by
/// live allocations, and KiB of the allocator's pages in memory. `None` from a build
/// without the gauges.
async fn heap_kib(api: &Service) -> Option<(f64, f64)> {
    // A value read after this call started.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let kib = async |name: &str| Some(api.metric(name).await.ok()?? / 1024.0);
    Some((
        kib("process_heap_allocated_bytes").await?,
        kib("process_heap_resident_bytes").await?,
    ))
}

/// `after - before` of allocated and allocator-resident KiB, each over `n`.
fn heap_each(
    before: Option<(f64, f64)>,
    after: Option<(f64, f64)>,
    n: usize,
) -> Option<(f64, f64)> {
    let ((allocated0, resident0), (allocated1, resident1)) = (before?, after?);
    Some((
        (allocated1 - allocated0) / n as f64,
        (resident1 - resident0) / n as f64,
    ))
}

/// Idle streams: resident memory per stream and heartbeat punctuality.
pub async fn idle(settings: &Settings, pool: &PgPool, streams: usize) -> anyhow::Result<()> {
    let (measured, limit) = allowed(streams);
    if let Some(limit) = limit {
        println!(
            "idle streams  {streams} asked, but the open-files limit here is {limit} (`ulimit -Hn`; `make bench` raises the soft limit to it): measuring {measured}"
        );
    }
    let streams = measured;
    const HEARTBEAT_SECS: u64 = 2;
    // Held long enough (12 s) for the allocator to return what opening them freed.
    const BEATS: usize = 7;
    let api = start_api(
        settings,
        &[("HEARTBEAT_SECS", "2"), ("DATABASE_MAX_CONNECTIONS", "16")],
    )
    .await?;
    let user = Uuid::new_v4();
    let token = JwtKeys::new(SECRET).mint(user, 3600);
    let jobs = create_jobs(pool, user, streams, "pending").await?;
    // A first tenth warms up pools and allocator; growth is measured over the rest.
    let warm = streams / 10;
    let mut held = open_all(api.addr, &jobs[..warm], &token, 64).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before = api.rss_kib()?;
    let heap_before = heap_kib(&api).await;
    let opened_at = Instant::now();
    held.extend(open_all(api.addr, &jobs[warm..], &token, 64).await?);
    let open_secs = opened_at.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_after = api.rss_kib()?;
    let per_stream =
        (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / (streams - warm) as f64;

    let readers: Vec<_> = held
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut beats = Vec::new();
                while beats.len() < BEATS {
                    match stream.next_frame().await {
                        Ok(Some(frame)) if frame_type(&frame) == Some("heartbeat") => {
                            beats.push(Instant::now())
                        }
                        Ok(Some(_)) => {}
                        _ => break,
                    }
                }
                // Intervals between consecutive heartbeats of this stream.
                let intervals: Vec<Duration> = beats.windows(2).map(|w| w[1] - w[0]).collect();
                (beats.len(), intervals, stream)
            })
        })
        .collect();
    let mut intervals = Vec::new();
    let mut complete = 0;
    let mut keep = Vec::new();
    for reader in readers {
        let (beats, mut own, stream) = reader.await?;
        if beats == BEATS {
            complete += 1;
        }
        intervals.append(&mut own);
        keep.push(stream);
    }
    // Every stream is still open: the steady state of holding them.
    let rss_held = api.rss_kib()?;
    let heap_held = heap_each(heap_before, heap_kib(&api).await, streams - warm);
    let per_stream_held =
        (rss_held.saturating_sub(rss_before)) as f64 * 1024.0 / (streams - warm) as f64;
    intervals.sort();
    let expected = Duration::from_secs(HEARTBEAT_SECS);
    let late = |d: Duration| ms(d.saturating_sub(expected));
    println!(
        "idle streams  {streams} concurrent SSE streams on one API process (opened in {open_secs:.1} s)"
    );
    println!(
        "  resident memory {} MiB -> {} MiB just after opening ({:.1} KiB per stream), {} MiB after holding them {} s ({:.1} KiB per stream)",
        rss_before / 1024,
        rss_after / 1024,
        per_stream / 1024.0,
        rss_held / 1024,
        HEARTBEAT_SECS * (BEATS as u64 - 1),
        per_stream_held / 1024.0
    );
    if let Some((allocated, resident)) = heap_held {
        println!(
            "  the allocator, held: {allocated:.1} KiB per stream in live allocations, {resident:.1} KiB of its pages resident"
        );
    }
    println!(
        "  heartbeats every {HEARTBEAT_SECS} s: {complete}/{streams} streams got {BEATS} in a row; interval lateness p50 {:.1} ms p99 {:.1} ms max {:.1} ms",
        late(percentile(&intervals, 50.0)),
        late(percentile(&intervals, 99.0)),
        late(intervals.last().copied().unwrap_or_default()),
    );
    println!("  targets: 100,000 streams, <= 8 KiB per stream, heartbeats on time");
    println!();
    drop(keep);
    drop(api);
    Ok(())
}

/// Where an idle stream's memory goes, by difference: `n` connections that have sent
/// nothing yet (a socket, a task and hyper's connection), then `n` streams all of one job
/// (what a stream adds: its request and its relay state), against `n` streams of `n`
/// jobs as the idle phase holds them (what a watched job adds: its topic in the hub and its
/// subscription). Each set on a fresh API process, measured as the idle phase does.
pub async fn idle_breakdown(settings: &Settings, pool: &PgPool, n: usize) -> anyhow::Result<()> {
    let (n, _) = allowed(n);
    let user = Uuid::new_v4();
    let token = JwtKeys::new(SECRET).mint(user, 3600);
    let jobs = create_jobs(pool, user, n, "pending").await?;
    let warm = n / 10;
    // Resident KiB a connection, over the last nine tenths of `n`, and the allocator's
    // live and resident KiB.
    let measure = async |what: &str| -> anyhow::Result<(f64, Option<(f64, f64)>)> {
        let api = start_api(settings, &[("DATABASE_MAX_CONNECTIONS", "16")]).await?;
        let mut held_sockets = Vec::new();
        let mut held_streams = Vec::new();
        let mut open = async |range: std::ops::Range<usize>| -> anyhow::Result<()> {
            match what {
                "connections" => {
                    for _ in range {
                        held_sockets.push(TcpStream::connect(api.addr).await?);
                    }
                }
                "one job" => {
                    let same = vec![jobs[0]; range.len()];
                    held_streams.extend(open_all(api.addr, &same, &token, 64).await?);
                }
                _ => held_streams.extend(open_all(api.addr, &jobs[range], &token, 64).await?),
            }
            Ok(())
        };
        open(0..warm).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = api.rss_kib()?;
        let heap_before = heap_kib(&api).await;
        open(warm..n).await?;
        // Long enough for the allocator to give back what opening them freed.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = api.rss_kib()?;
        let heap = heap_each(heap_before, heap_kib(&api).await, n - warm);
        Ok((
            after.saturating_sub(before) as f64 / (n - warm) as f64,
            heap,
        ))
    };
    let (connection, connection_heap) = measure("connections").await?;
    let (one_job, one_job_heap) = measure("one job").await?;
    let (own_jobs, own_jobs_heap) = measure("own jobs").await?;
    println!("idle streams, where the memory goes  ({n} of each, resident KiB each)");
    println!(
        "  a connection that sent nothing {connection:.1}; a stream of a job others watch too {one_job:.1} (+{:.1} for the request and the relay's state); a stream of a job of its own {own_jobs:.1} (+{:.1} for the job's topic and subscription)",
        one_job - connection,
        own_jobs - one_job
    );
    if let (Some(c), Some(o), Some(j)) = (connection_heap, one_job_heap, own_jobs_heap) {
        println!(
            "  the allocator's live allocations {:.1}, +{:.1}, +{:.1}; its resident pages {:.1}, +{:.1}, +{:.1}",
            c.0,
            o.0 - c.0,
            j.0 - o.0,
            c.1,
            o.1 - c.1,
            j.1 - o.1
        );
    }
    println!();
    end_jobs(pool, &jobs).await?;
    Ok(())
}
