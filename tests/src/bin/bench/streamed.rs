//! Streamed AI answers: a 90-entry calendar (30 days x 3 channels) generated
//! through the OpenAI-compatible client against the local fake provider writing 200 tokens
//! a second, once with streamed answers and once with whole ones (`AI_STREAM=false`), in
//! the same run: time to the first `entry` on the wire and to the final frame. The first
//! call asks for 6 slots, so a streamed first entry can come about 6x sooner.

use std::time::Duration;

use almanac_shared::config::{AiProviderKind, Settings};
use almanac_tests::fake_ai::{Behaviour, FakeAi};
use uuid::Uuid;

use crate::{ms, percentile};

const RUNS: usize = 3;
const ENTRIES: usize = 90;
const TOKENS_PER_SEC: usize = 200;

pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    fake.set_token_rate(TOKENS_PER_SEC);
    let body = serde_json::json!({
        "channels": ["tiktok", "instagram", "linkedin"],
        "cadence": "daily",
        "start": "2028-03-01",
        "end": "2028-03-30",
        "constraints": { "topic": "benchmarks", "timezone": "Europe/Paris" },
    });
    let mut medians = Vec::new();
    for stream in [true, false] {
        let mut settings = settings.clone();
        settings.redis_prefix = format!("benchai{}", &Uuid::new_v4().simple().to_string()[..8]);
        settings.ai.provider = AiProviderKind::OpenAi;
        settings.ai.base_url = fake.base_url();
        settings.ai.api_key = Some(almanac_shared::config::Secret::new("bench-key"));
        settings.ai.model = "fake-model-1".into();
        settings.ai.stream = stream;
        settings.ai.timeout = Duration::from_secs(60);
        let api = almanac_api::Application::build(settings.clone()).await?;
        let base = format!("http://127.0.0.1:{}", api.port());
        let stop = tokio_util::sync::CancellationToken::new();
        tokio::spawn(api.run_until_stopped(stop.clone().cancelled_owned()));
        let worker = almanac_worker::Application::build(settings.clone()).await?;
        tokio::spawn(worker.run_until_stopped(stop.clone().cancelled_owned()));
        let (firsts, finals) = crate::streams::timed_calendars(&base, &body, RUNS, ENTRIES).await?;
        stop.cancel();
        medians.push((percentile(&firsts, 50.0), percentile(&finals, 50.0)));
        println!(
            "ai stream POST /v1/ai/calendar, {ENTRIES} entries, fake provider at {TOKENS_PER_SEC} tokens/s, {} answers ({RUNS} runs)",
            if stream { "streamed" } else { "whole" }
        );
        println!(
            "  first entry  p50 {:.0} ms  max {:.0} ms;  final frame  p50 {:.0} ms  max {:.0} ms",
            ms(percentile(&firsts, 50.0)),
            ms(percentile(&firsts, 100.0)),
            ms(percentile(&finals, 50.0)),
            ms(percentile(&finals, 100.0)),
        );
    }
    let (streamed, whole) = (medians[0], medians[1]);
    println!(
        "  first entry {:.1}x sooner streamed (target >= 3x; about 6x is the ideal); whole run streamed/whole {:.2} (target <= 1, no slower)",
        whole.0.as_secs_f64() / streamed.0.as_secs_f64(),
        streamed.1.as_secs_f64() / whole.1.as_secs_f64(),
    );
    println!();
    Ok(())
}
