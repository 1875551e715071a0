//! The flashcard generation job (seed 002): ask the AI for cards, store them as proposed
//! suggestions, and record usage, cost and attribution.

use almanac_shared::{
    ai::AiError,
    domain::generation,
    jobs::{self, Claim, JobStatus},
    telemetry,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Postgres, Transaction};
use uuid::Uuid;

use crate::runner::{JobContext, JobError};

/// Runs with the claim: the generation becomes `running` and its input comes back.
pub const START: &str = "update ai_generations g set status = 'running', updated_at = now()
    from claimed where g.id = (claimed.payload ->> 'generation_id')::uuid
    returning g.source_text, g.model, g.prompt_version";

#[derive(Deserialize)]
struct Input {
    source_text: String,
    model: Option<String>,
    prompt_version: String,
}

pub async fn run(ctx: &JobContext, claim: &Claim, generation_id: Uuid) -> Result<(), JobError> {
    let input = claim
        .started
        .clone()
        .and_then(|row| serde_json::from_value::<Input>(row).ok());
    let Some(Input {
        source_text,
        model,
        prompt_version,
    }) = input
    else {
        return Err(JobError::permanent(
            "GENERATION_MISSING",
            format!("generation {generation_id} does not exist"),
        ));
    };
    let request = generation::prompt(&source_text, model);
    let response = ctx.ai.chat(request).await.map_err(|e| ai_error(&e))?;
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
    let suggestions = generation::parse_answer(&response.content).map_err(|message| {
        JobError::transient("AI_OUTPUT_INVALID", message).with("model", response.model.clone())
    })?;
    let metadata = json!({
        "provider": response.provider,
        "model": response.model,
        "latency_ms": response.latency_ms,
        "prompt_version": prompt_version,
        "template": generation::TEMPLATE,
        "provider_attempts": response.attempts,
        "job_attempt": claim.attempt,
        "response_id": response.response_id,
        "trace_id": telemetry::current_trace_id(),
    });

    let result = json!({ "generation_id": generation_id, "suggestions": suggestions.len() });
    let ids: Vec<Uuid> = suggestions.iter().map(|_| Uuid::now_v7()).collect();
    let positions: Vec<i32> = (0..suggestions.len() as i32).collect();
    let fronts: Vec<&str> = suggestions.iter().map(|s| s.front.as_str()).collect();
    let backs: Vec<&str> = suggestions.iter().map(|s| s.back.as_str()).collect();
    // One atomic statement: end the job (fenced by the claim), insert every suggestion
    // (a rerun inserts nothing twice), and record the outcome. If the claim was lost,
    // nothing is written.
    let sql = format!(
        "with finished as ({} returning id),
         inserted as (
            insert into ai_suggestions (id, user_id, generation_id, position, front, back, status)
            select t.id, $7, $8, t.position, t.front, t.back, 'proposed'
            from unnest($9::uuid[], $10::int[], $11::text[], $12::text[]) as t(id, position, front, back)
            where exists (select 1 from finished)
            on conflict (generation_id, position) do nothing),
         saved as (
            update ai_generations set status = 'succeeded', tokens_input = $13, tokens_output = $14,
                   cost_usd = $15, ai_metadata = $16, error = null, updated_at = now()
            where id = $8 and exists (select 1 from finished))
         select count(*) from finished",
        jobs::FINISH_FENCED
    );
    let finished: i64 = claim
        .bind_finish(
            sqlx::query(AssertSqlSafe(sql)),
            JobStatus::Succeeded,
            Some(&result),
            None,
        )
        .bind(claim.user_id)
        .bind(generation_id)
        .bind(&ids)
        .bind(&positions)
        .bind(&fronts)
        .bind(&backs)
        .bind(response.usage.input_tokens as i32)
        .bind(response.usage.output_tokens as i32)
        .bind(response.cost_usd)
        .bind(sqlx::types::Json(&metadata))
        .fetch_one(&ctx.pool)
        .await
        .map(|row| sqlx::Row::get(&row, 0))?;
    if finished == 0 {
        tracing::warn!("claim lost before saving; this attempt's output was discarded");
    }
    Ok(())
}

fn ai_error(error: &AiError) -> JobError {
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

pub async fn mark_failed(
    tx: &mut Transaction<'static, Postgres>,
    generation_id: Uuid,
    detail: &Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "update ai_generations set status = 'failed', error = $2, updated_at = now() where id = $1",
    )
    .bind(generation_id)
    .bind(sqlx::types::Json(detail))
    .execute(&mut **tx)
    .await?;
    Ok(())
}
