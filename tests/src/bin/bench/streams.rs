//! What the streamed phases (calendar, organic, streamed AI answers) share: one answer
//! timed to its first event and its end, calendar runs timed alike, and the raw floor of
//! the writes a run makes.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

use crate::percentile;

/// `runs` calendars of `body` streamed as SSE by `POST {base}/v1/ai/calendar`, each for a
/// new user, checked to stream `entries` entries and end succeeded: the sorted times to
/// the first entry and to the final frame.
pub async fn timed_calendars(
    base: &str,
    body: &serde_json::Value,
    runs: usize,
    entries: usize,
) -> anyhow::Result<(Vec<Duration>, Vec<Duration>)> {
    let http = reqwest::Client::new();
    let keys = almanac_shared::auth::JwtKeys::new(crate::SECRET);
    let mut firsts = Vec::new();
    let mut finals = Vec::new();
    for _ in 0..runs {
        let post = http
            .post(format!("{base}/v1/ai/calendar"))
            .bearer_auth(keys.mint(Uuid::new_v4(), 3600))
            .header("accept", "text/event-stream")
            .json(body);
        let (first, last, text) = timed_stream(post, "event: entry").await?;
        let streamed = text.matches("event: entry").count();
        anyhow::ensure!(
            streamed == entries,
            "{streamed} entries streamed, not {entries}"
        );
        anyhow::ensure!(
            text.contains("event: done") && text.contains("\"status\":\"succeeded\""),
            "the run did not end with a succeeded final frame"
        );
        firsts.push(first);
        finals.push(last);
    }
    firsts.sort();
    finals.sort();
    Ok((firsts, finals))
}

/// One streamed answer, timed: the request `post`, the time until `first` appeared in the
/// body and until the body ended, and the whole body.
pub async fn timed_stream(
    post: reqwest::RequestBuilder,
    first: &str,
) -> anyhow::Result<(Duration, Duration, String)> {
    use anyhow::Context;
    use futures::StreamExt;
    let started = Instant::now();
    let response = post.send().await?;
    anyhow::ensure!(response.status() == 200, "stream: {}", response.status());
    let mut chunks = response.bytes_stream();
    let mut text = String::new();
    let mut first_at = None;
    while let Some(chunk) = chunks.next().await {
        text.push_str(std::str::from_utf8(&chunk?).context("UTF-8 stream")?);
        if first_at.is_none() && text.contains(first) {
            first_at = Some(started.elapsed());
        }
    }
    let first_at = first_at.with_context(|| format!("no `{first}` arrived"))?;
    Ok((first_at, started.elapsed(), text))
}

/// The raw floor of a streamed run's writes: `n` copies of `row` inserted in one statement
/// and `n` copies of `event` appended to a Redis stream in one pipeline (median of five).
pub async fn raw_writes(
    pool: &PgPool,
    redis: &almanac_shared::redis_conn::RedisConn,
    row: &serde_json::Value,
    event: &str,
    n: usize,
) -> anyhow::Result<Duration> {
    sqlx::query(
        "create table if not exists bench_raw_writes (run uuid, key text, row jsonb, primary key (run, key))",
    )
    .execute(pool)
    .await?;
    let mut samples = Vec::new();
    for _ in 0..5 {
        let run = Uuid::new_v4();
        let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
        let rows: Vec<serde_json::Value> = (0..n).map(|_| row.clone()).collect();
        let started = Instant::now();
        sqlx::query(
            "insert into bench_raw_writes (run, key, row)
             select $1, k, r from unnest($2::text[], $3::jsonb[]) as t(k, r)",
        )
        .bind(run)
        .bind(&keys)
        .bind(&rows)
        .execute(pool)
        .await?;
        let mut pipe = redis::pipe();
        let stream = format!("bench-raw-writes:{run}");
        for _ in 0..n {
            pipe.cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("d")
                .arg(event)
                .ignore();
        }
        pipe.cmd("DEL").arg(&stream).ignore();
        let mut conn = redis.clone();
        pipe.query_async::<()>(&mut conn).await?;
        samples.push(started.elapsed());
    }
    samples.sort();
    Ok(percentile(&samples, 50.0))
}
