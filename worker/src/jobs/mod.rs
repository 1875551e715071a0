//! One module per job kind, each implementing [`Job`](crate::job::Job) on its payload type.

mod calendar;
mod email;
mod generation;
mod synthesis;

use almanac_shared::{
    ai::{AiError, ChatResponse},
    domain::{
        calendar::CalendarJob,
        generation::GenerationJob,
        synthesis::{EmailJob, SynthesisJob},
    },
};

use crate::job::{JobError, Registry};

/// Every kind the worker runs.
pub fn registry() -> Registry {
    Registry::new()
        .register::<GenerationJob>()
        .register::<CalendarJob>()
        .register::<SynthesisJob>()
        .register::<EmailJob>()
}

/// Logs an AI call with its latency and tokens, and counts it in the metrics.
pub(crate) fn record_ai_call(response: &ChatResponse) {
    tracing::info!(
        latencyMs = response.latency_ms,
        tokens = response.usage.input_tokens + response.usage.output_tokens,
        provider = %response.provider,
        model = %response.model,
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

/// A provider failure as a job error: transient ones are retried.
pub(crate) fn ai_error(error: &AiError) -> JobError {
    let base = match error {
        AiError::Transient { message, .. } => {
            JobError::transient("AI_PROVIDER_UNAVAILABLE", message.clone())
        }
        AiError::Permanent { message, .. } => {
            JobError::permanent("AI_PROVIDER_REFUSED", message.clone())
        }
    };
    match error.status() {
        Some(status) => base.with("provider_status", status),
        None => base,
    }
}
