//! A calendar, live (issue 79): how long after one member's edit the other member's open
//! copy receives it (`entry.changed` on `GET /v1/calendars/{id}/live`), timed from the
//! moment the `PATCH` is sent (its commit comes inside that request) to the event read off
//! the other person's stream; against the floor, in the same run, of a raw Postgres
//! single-row update plus a raw Redis `PUBLISH` reaching a subscriber.

use std::time::{Duration, Instant};

use almanac_shared::Settings;
use futures::StreamExt;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{ms, percentile};

const EDITS: usize = 200;

pub async fn run(settings: &Settings, pool: &PgPool) -> anyhow::Result<()> {
    let floor = raw_floor(settings, pool).await?;
    let base = crate::in_process_app(settings).await?;
    let keys = almanac_shared::auth::JwtKeys::new(crate::SECRET);
    let (owner, teammate) = (Uuid::now_v7(), Uuid::now_v7());
    let (calendar, team) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "with w as (insert into workspaces (id, name, created_by) values ($2, 'Bench team', $3)),
              m as (insert into workspace_members (workspace_id, user_id, role)
                    values ($2, $3, 'owner'), ($2, $4, 'editor'))
         insert into calendars (id, user_id, workspace_id, name, request)
         values ($1, $3, $2, 'Live', '{}')",
    )
    .bind(calendar)
    .bind(team)
    .bind(owner)
    .bind(teammate)
    .execute(pool)
    .await?;
    let http = reqwest::Client::new();
    let (owner_token, teammate_token) = (keys.mint(owner, 3600), keys.mint(teammate, 3600));
    let added: serde_json::Value = http
        .post(format!("{base}/v1/calendars/{calendar}/entries"))
        .bearer_auth(&owner_token)
        .json(&serde_json::json!({ "channel": "bluesky", "date": "2030-01-07", "title": "0" }))
        .send()
        .await?
        .json()
        .await?;
    let entry = added["data"]["id"].as_str().unwrap().to_owned();
    let mut stream = http
        .get(format!("{base}/v1/calendars/{calendar}/live"))
        .bearer_auth(&owner_token)
        .send()
        .await?
        .bytes_stream();
    let mut buffer = String::new();
    next_event(&mut stream, &mut buffer, "ready").await?;

    let (mut delays, mut answers) = (Vec::with_capacity(EDITS), Vec::with_capacity(EDITS));
    for i in 1..=EDITS {
        let title = format!("edit {i}");
        let sent = Instant::now();
        let patch = http
            .patch(format!("{base}/v1/calendars/{calendar}/entries/{entry}"))
            .bearer_auth(&teammate_token)
            .json(&serde_json::json!({ "title": title }))
            .send();
        let seen = async {
            loop {
                let data = next_event(&mut stream, &mut buffer, "entry.changed").await?;
                if data.contains(&format!("\"title\":\"{title}\"")) {
                    return anyhow::Ok(sent.elapsed());
                }
            }
        };
        let (answer, seen) = tokio::join!(
            async {
                let answer = patch.await?;
                anyhow::ensure!(answer.status() == 200, "PATCH answered {}", answer.status());
                anyhow::Ok(sent.elapsed())
            },
            seen
        );
        answers.push(answer?);
        delays.push(seen?);
    }
    delays.sort();
    answers.sort();
    let p = |v: &[Duration], q: f64| ms(percentile(v, q));
    println!("live calendar  (a teammate's edit reaching an open copy, {EDITS} edits)");
    println!(
        "  edit sent -> other copy's event  p50 {:.2} ms  p95 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        p(&delays, 50.0),
        p(&delays, 95.0),
        p(&delays, 99.0),
        ms(*delays.last().unwrap())
    );
    println!(
        "  the edit's own answer            p50 {:.2} ms  p99 {:.2} ms",
        p(&answers, 50.0),
        p(&answers, 99.0)
    );
    println!(
        "  ratio to raw update + raw PUBLISH p50 ({:.2} ms) {:.1}",
        p(&floor, 50.0),
        p(&delays, 50.0) / p(&floor, 50.0).max(0.001)
    );
    println!();
    Ok(())
}

/// The next event `kind`'s data off an SSE stream (other events passed over).
async fn next_event(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    buffer: &mut String,
    kind: &str,
) -> anyhow::Result<String> {
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut event = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_owned());
                } else if let Some(text) = line.strip_prefix("data: ") {
                    data.push_str(text);
                }
            }
            if event.as_deref() == Some(kind) {
                return Ok(data);
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .map_err(|_| anyhow::anyhow!("no {kind} within 10 s"))?
            .ok_or_else(|| anyhow::anyhow!("the live stream ended"))??;
        buffer.push_str(std::str::from_utf8(&chunk)?);
    }
}

/// The floor: a raw single-row update committed, then a raw `PUBLISH` read by a
/// subscriber, timed together [`EDITS`] times.
async fn raw_floor(settings: &Settings, pool: &PgPool) -> anyhow::Result<Vec<Duration>> {
    sqlx::query("create table if not exists bench_live_raw (id int primary key, title text)")
        .execute(pool)
        .await?;
    sqlx::query("insert into bench_live_raw values (1, '') on conflict do nothing")
        .execute(pool)
        .await?;
    let client = redis::Client::open(settings.redis_url.expose())?;
    let mut pubsub = client.get_async_pubsub().await?;
    let channel = format!("{}:bench-live-raw", settings.redis_prefix);
    pubsub.subscribe(&channel).await?;
    let mut publisher = client.get_multiplexed_async_connection().await?;
    let mut messages = pubsub.on_message();
    let mut samples = Vec::with_capacity(EDITS);
    for i in 0..EDITS {
        let sent = Instant::now();
        sqlx::query("update bench_live_raw set title = $1 where id = 1")
            .bind(i.to_string())
            .execute(pool)
            .await?;
        redis::cmd("PUBLISH")
            .arg(&channel)
            .arg(i)
            .query_async::<i64>(&mut publisher)
            .await?;
        messages
            .next()
            .await
            .ok_or_else(|| anyhow::anyhow!("the raw subscription ended"))?;
        samples.push(sent.elapsed());
    }
    samples.sort();
    Ok(samples)
}
