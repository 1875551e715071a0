//! API keys (issue 53): how long after a key's `DELETE` answers another API process
//! (in-process, with its own pool) refuses it, asked back to back with no pause (the
//! goal: a second at most; every process looks keys up in Postgres, so it should be the
//! next request); and what a key costs a request, the same read with the owner's JWT and
//! with a key, one client after another.

use std::time::{Duration, Instant};

use almanac_shared::Settings;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{ms, percentile};

const ROUNDS: usize = 40;
const READS: usize = 400;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let first = almanac_api::Application::build(settings.clone()).await?;
    let base = format!("http://127.0.0.1:{}", first.port());
    tokio::spawn(first.run_until_stopped(std::future::pending()));
    let other = almanac_api::Application::build(settings.clone()).await?;
    let replica = format!("http://127.0.0.1:{}", other.port());
    tokio::spawn(other.run_until_stopped(std::future::pending()));

    let http = reqwest::Client::new();
    let user = Uuid::now_v7();
    let token = almanac_shared::auth::JwtKeys::new(crate::SECRET).mint(user, 3600);
    let read = |base: &str, bearer: &str| {
        http.get(format!("{base}/v1/calendars"))
            .bearer_auth(bearer)
            .send()
    };
    let mut refused_after = Vec::with_capacity(ROUNDS);
    let mut requests_until_refused = 0usize;
    for _ in 0..ROUNDS {
        let (key, id) = make_key(&http, &base, &token).await?;
        anyhow::ensure!(read(&replica, &key).await?.status() == 200, "the key works");
        let deleted = http
            .delete(format!("{base}/v1/api-keys/{id}"))
            .bearer_auth(&token)
            .send()
            .await?;
        anyhow::ensure!(
            deleted.status() == 204,
            "DELETE answered {}",
            deleted.status()
        );
        let answered = Instant::now();
        loop {
            requests_until_refused += 1;
            if read(&replica, &key).await?.status() == 401 {
                break;
            }
            anyhow::ensure!(
                answered.elapsed() < Duration::from_secs(10),
                "never refused"
            );
        }
        refused_after.push(answered.elapsed());
    }
    refused_after.sort();

    let (key, _) = make_key(&http, &base, &token).await?;
    let timed = |bearer: String| {
        let read = &read;
        let base = base.clone();
        async move {
            let mut samples = Vec::with_capacity(READS);
            for _ in 0..READS {
                let sent = Instant::now();
                let status = read(&base, &bearer).await?.status();
                anyhow::ensure!(status == 200, "a read answered {status}");
                samples.push(sent.elapsed());
            }
            samples.sort();
            anyhow::Ok(samples)
        }
    };
    let with_jwt = timed(token.clone()).await?;
    let with_key = timed(key).await?;

    println!("api keys  (a key deleted through one API, {ROUNDS} rounds; {READS} reads each way)");
    println!(
        "  other replica refuses it   p50 {:.2} ms  max {:.2} ms   requests until refused {:.2} a round",
        ms(percentile(&refused_after, 50.0)),
        ms(*refused_after.last().unwrap()),
        requests_until_refused as f64 / ROUNDS as f64
    );
    println!(
        "  GET /v1/calendars          JWT p50 {:.2} ms   key p50 {:.2} ms   ratio {:.2}",
        ms(percentile(&with_jwt, 50.0)),
        ms(percentile(&with_key, 50.0)),
        ms(percentile(&with_key, 50.0)) / ms(percentile(&with_jwt, 50.0))
    );
    println!("  target: every process refuses a deleted key within 1 s");
    println!();
    Ok(())
}

/// A new `read` key of the token's user: the key and its id.
async fn make_key(
    http: &reqwest::Client,
    base: &str,
    token: &str,
) -> anyhow::Result<(String, String)> {
    let made: Value = http
        .post(format!("{base}/v1/api-keys"))
        .bearer_auth(token)
        .json(&json!({ "name": "bench", "scopes": ["read"] }))
        .send()
        .await?
        .json()
        .await?;
    let field = |name: &str| made["data"][name].as_str().map(str::to_owned);
    field("key")
        .zip(field("id"))
        .ok_or_else(|| anyhow::anyhow!("no key made: {made}"))
}
