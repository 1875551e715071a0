//! Calendar generation (seed 000): a 366-day, 3-channel daily calendar (1,098 entries)
//! streamed by `POST /v1/ai/calendar` with the zero-latency offline provider: time to the
//! first `entry` on the wire and to the final frame, against the raw floor of the same
//! work measured in the same run (1,098 rows written to Postgres in one statement and 1,098
//! events appended to a Redis stream in one pipeline).

use std::time::Duration;

use sqlx::PgPool;

use crate::{ms, percentile};

const RUNS: usize = 7;
const ENTRIES: usize = 366 * 3;

pub async fn run(
    base: &str,
    pool: &PgPool,
    redis: &almanac_shared::redis_conn::RedisConn,
) -> anyhow::Result<()> {
    let floor = raw_floor(pool, redis).await?;
    let body = serde_json::json!({
        "channels": ["tiktok", "instagram", "linkedin"],
        "cadence": "daily",
        "start": "2028-01-01",
        "end": "2028-12-31",
        "constraints": { "topic": "benchmarks", "timezone": "Europe/Paris" },
    });
    let (firsts, finals) = crate::streams::timed_calendars(base, &body, RUNS, ENTRIES).await?;
    println!(
        "calendar  POST /v1/ai/calendar, 366 days x 3 channels ({ENTRIES} entries), SSE, zero-latency provider ({RUNS} runs)"
    );
    println!(
        "  first entry on the wire  p50 {:.1} ms  max {:.1} ms",
        ms(percentile(&firsts, 50.0)),
        ms(*firsts.last().unwrap())
    );
    println!(
        "  final frame              p50 {:.1} ms  max {:.1} ms   ratio to the raw floor ({:.1} ms) {:.1}",
        ms(percentile(&finals, 50.0)),
        ms(*finals.last().unwrap()),
        ms(floor),
        percentile(&finals, 50.0).as_secs_f64() / floor.as_secs_f64()
    );
    println!("  targets: final frame <= 1000 ms, first entry <= 50 ms");
    println!();
    Ok(())
}

/// The same volume of writes done raw: 1,098 JSON rows and 1,098 stream appends.
async fn raw_floor(
    pool: &PgPool,
    redis: &almanac_shared::redis_conn::RedisConn,
) -> anyhow::Result<Duration> {
    let entry = serde_json::json!({
        "title": "Tip of the day: benchmarks on tiktok", "caption": "x".repeat(160),
        "format": "short video", "hashtags": ["#a", "#b", "#c"], "callToAction": "Follow for more",
    });
    crate::streams::raw_writes(pool, redis, &entry, &entry.to_string(), ENTRIES).await
}
