//! One module per job kind, each implementing [`Job`](crate::job::Job) on its payload type.

mod analytics;
mod answer;
mod calendar;
mod email;
mod generation;
mod organic;
mod publish;
mod synthesis;
mod webhook;

use almanac_shared::{
    ai::{AiError, ChatResponse},
    domain::{
        calendar::CalendarJob,
        generation::GenerationJob,
        organic::OrganicJob,
        synthesis::{EmailJob, SynthesisJob},
    },
};

use crate::job::{JobError, Registry};

/// Every kind the worker runs.
pub fn registry() -> Registry {
    Registry::new()
        .register::<GenerationJob>()
        .register::<CalendarJob>()
        .register::<OrganicJob>()
        .register::<SynthesisJob>()
        .register::<EmailJob>()
        .register::<almanac_publishing::PublishJob>()
        .register::<almanac_shared::webhooks::WebhookJob>()
        .register::<almanac_shared::domain::analytics::PostMetricsJob>()
}

/// Logs an AI call with its latency and tokens, and counts it in the metrics.
pub(crate) fn record_ai_call(response: &ChatResponse) {
    tracing::info!(
        latencyMs = response.latency_ms,
        tokens = response.usage.input_tokens + response.usage.output_tokens,
        provider = %response.provider,
        model = %response.model,
        provider_request_id = response.request_id.as_deref().or(response.response_id.as_deref()),
        "AI call finished"
    );
    let provider = response.provider.clone();
    metrics::histogram!("ai_call_duration_seconds", "provider" => provider.clone())
        .record(response.latency_ms as f64 / 1000.0);
    metrics::counter!("ai_tokens_total", "provider" => provider.clone(), "direction" => "input")
        .increment(u64::from(response.usage.input_tokens));
    metrics::counter!("ai_tokens_total", "provider" => provider.clone(), "direction" => "output")
        .increment(u64::from(response.usage.output_tokens));
    metrics::counter!("ai_cost_usd_micros_total", "provider" => provider)
        .increment((response.cost_usd * 1e6) as u64);
}

/// A provider failure as a job error: transient ones are retried. The provider's
/// diagnostics stay on the kind's row.
pub(crate) fn ai_error(error: &AiError) -> JobError {
    let mut job_error = if error.is_transient() {
        JobError::transient("AI_PROVIDER_UNAVAILABLE", error.message.clone())
    } else {
        JobError::permanent("AI_PROVIDER_REFUSED", error.message.clone())
    };
    job_error.diagnostics = Some(error.diagnostics());
    if let Some(wait) = error.retry_after {
        // The breaker refused the call: the job waits for it, its attempt not spent.
        job_error = job_error.with("retryAfterSecs", wait.as_secs().max(1));
        job_error.release_after = Some(wait);
    }
    job_error
}
