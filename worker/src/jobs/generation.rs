//! The flashcard generation job (seed 002): ask the AI for cards batch by batch, store
//! them as proposed suggestions, stream each batch, and record usage, cost and attribution.

use almanac_shared::{
    ai::ChatResponse,
    domain::generation::{self, GenerationJob, Suggestion},
    events::{Event, SuggestionItem},
    jobs::{Claim, JobStatus},
    telemetry,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{ai_error, record_ai_call};
use crate::job::{Context, Finished, Job, JobContext, JobError, JobResult};

impl Job for GenerationJob {
    type Input = Input;

    /// The generation becomes `running`; its input comes back, with how far an earlier
    /// attempt got.
    const START: &'static str = "update ai_generations g set status = 'running', updated_at = now()
        from claimed where g.id = (claimed.payload ->> 'generation_id')::uuid
        returning g.source_text, g.model, g.prompt_version, g.batches_done,
            (select count(*) from ai_suggestions s where s.generation_id = g.id) as saved";

    const MISSING: &'static str = "GENERATION_MISSING";

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        generate(ctx, claim, self.generation_id, input).await
    }
}

#[derive(Deserialize)]
pub struct Input {
    source_text: String,
    model: Option<String>,
    prompt_version: String,
    batches_done: usize,
    saved: usize,
}

/// What this attempt's AI calls cost and who answered, for the generation's metadata.
#[derive(Default)]
struct Attribution {
    provider: String,
    model: String,
    latency_ms: u64,
    provider_attempts: u32,
    response_id: Option<String>,
}

/// Sends the source text to the AI batch by batch; each batch's suggestions are saved
/// (fenced by the claim, so a retry resumes after them) and streamed as they complete.
async fn generate(ctx: &JobContext, claim: &Claim, generation_id: Uuid, input: Input) -> JobResult {
    let Input {
        source_text,
        model,
        prompt_version,
        batches_done,
        mut saved,
    } = input;
    let batches = generation::batches(&source_text);
    let total = batches.len() as u64;
    let emit = async |event: Event| ctx.emitter.emit_or_log(claim.id, &event).await;
    emit(Event::progress(
        batches_done as u64,
        total,
        "generating",
        format!("asking the AI for flashcards ({total} batches)"),
    ))
    .await;
    let saving = || Event::progress(total, total, "saving", "saving the generation");
    let mut attribution = Attribution::default();
    let metadata = |attribution: &Attribution| {
        json!({
            "provider": attribution.provider,
            "model": attribution.model,
            "latency_ms": attribution.latency_ms,
            "prompt_version": prompt_version,
            "template": generation::TEMPLATE,
            "provider_attempts": attribution.provider_attempts,
            "batches": total,
            "job_attempt": claim.attempt,
            "response_id": attribution.response_id,
            "trace_id": telemetry::current_trace_id(),
        })
    };
    let result = |saved: usize| json!({ "generation_id": generation_id, "suggestions": saved, "batches": total });
    for (index, batch) in batches.iter().enumerate().skip(batches_done) {
        if saved >= generation::MAX_SUGGESTIONS {
            break;
        }
        let response = ctx
            .ai
            .chat(generation::prompt(batch, model.clone()))
            .await
            .map_err(|e| ai_error(&e))?;
        record_ai_call(&response);
        let mut suggestions = generation::parse_answer(&response.content).map_err(|message| {
            JobError::transient("AI_OUTPUT_INVALID", message).with("model", response.model.clone())
        })?;
        suggestions.truncate(generation::MAX_SUGGESTIONS - saved);
        attribution.add(&response);
        let last =
            index + 1 == batches.len() || saved + suggestions.len() >= generation::MAX_SUGGESTIONS;
        let items = items(&suggestions, saved);
        // The last batch also ends the job and the generation, in the same statement.
        let finish = if last {
            emit(saving()).await;
            Some((result(saved + items.len()), metadata(&attribution)))
        } else {
            None
        };
        let batch_saved = Event::Suggestions {
            generation_id,
            batch: index as u32,
            suggestions: items.clone(),
        };
        let staged = ctx.emitter.stage(claim.id, vec![batch_saved]).await;
        if !save_batch(
            ctx,
            claim,
            Batch {
                generation_id,
                index,
                items: &items,
                response: &response,
                events: staged.token,
            },
            finish.as_ref(),
        )
        .await?
        {
            tracing::warn!("claim lost before saving a batch; this attempt's batch was discarded");
            return Ok(None);
        }
        saved += items.len();
        if let Some((result, _)) = finish {
            return Ok(Some(Finished::succeeded(result).after(staged)));
        }
        ctx.emitter.publish(claim.id, &staged).await;
        emit(Event::progress(
            index as u64 + 1,
            total,
            "generating",
            format!("batch {} of {total} saved", index + 1),
        ))
        .await;
    }
    // Every batch was saved by an earlier attempt (or the card limit was reached): only
    // the job and the generation remain to be ended.
    emit(saving()).await;
    let (result, metadata) = (result(saved), metadata(&attribution));
    let mut query = QueryBuilder::new("with finished as (");
    claim.push_finish(&mut query, JobStatus::Succeeded, Some(&result), None, None);
    query
        .push(
            "), saved as (
            update ai_generations set status = 'succeeded', error = null, updated_at = now(),
                   ai_metadata = ",
        )
        .push_bind(sqlx::types::Json(&metadata))
        .push(" where id = ")
        .push_bind(generation_id)
        .push(
            " and exists (select 1 from finished))
         select count(*) from finished",
        );
    let finished: i64 = query
        .build_query_scalar()
        .fetch_one(&ctx.pool)
        .await
        .context("ending the generation")?;
    if finished == 0 {
        tracing::warn!("claim lost before saving; this attempt's output was discarded");
        return Ok(None);
    }
    Ok(Some(Finished::succeeded(result)))
}

impl Attribution {
    fn add(&mut self, response: &ChatResponse) {
        self.latency_ms += response.latency_ms;
        self.provider_attempts += response.attempts;
        self.provider = response.provider.clone();
        self.model = response.model.clone();
        self.response_id = response.response_id.clone();
    }
}

/// A batch's suggestions with their ids and positions (after the `first` already saved).
fn items(suggestions: &[Suggestion], first: usize) -> Vec<SuggestionItem> {
    suggestions
        .iter()
        .enumerate()
        .map(|(i, s)| SuggestionItem {
            id: Uuid::now_v7(),
            position: (first + i) as i32,
            front: s.front.clone(),
            back: s.back.clone(),
        })
        .collect()
}

/// One batch of a generation, as the AI answered it.
struct Batch<'a> {
    generation_id: Uuid,
    index: usize,
    items: &'a [SuggestionItem],
    response: &'a ChatResponse,
    /// The token its `suggestions` event was staged under.
    events: Uuid,
}

/// Saves one batch's suggestions and its usage, if the claim still holds and the batch is
/// the next one; with `finish` (the job's result and the generation's metadata) the same
/// statement also ends the job and the generation. Returns `false` when the claim was lost.
async fn save_batch(
    ctx: &JobContext,
    claim: &Claim,
    batch: Batch<'_>,
    finish: Option<&(Value, Value)>,
) -> Result<bool, JobError> {
    let Batch {
        generation_id,
        index,
        items,
        response,
        events,
    } = batch;
    let mut query = QueryBuilder::<Postgres>::new("with fence as (");
    match finish {
        Some((result, _)) => claim.push_finish(
            &mut query,
            JobStatus::Succeeded,
            Some(result),
            None,
            Some(events),
        ),
        None => claim.push_alive(&mut query, Some(events)),
    }
    query.push(
        "), generation as (
            update ai_generations set batches_done = batches_done + 1,
                   tokens_input = coalesce(tokens_input, 0) + ",
    );
    query
        .push_bind(response.usage.input_tokens as i32)
        .push(", tokens_output = coalesce(tokens_output, 0) + ")
        .push_bind(response.usage.output_tokens as i32)
        .push(", cost_usd = coalesce(cost_usd, 0) + ")
        .push_bind(response.cost_usd)
        .push(", updated_at = now()");
    if let Some((_, metadata)) = finish {
        query
            .push(", status = 'succeeded', error = null, ai_metadata = ")
            .push_bind(sqlx::types::Json(metadata));
    }
    query
        .push(" where id = ")
        .push_bind(generation_id)
        .push(" and batches_done = ")
        .push_bind(index as i32)
        .push(
            " and exists (select 1 from fence) returning id),
         inserted as (
            insert into ai_suggestions (id, user_id, generation_id, position, front, back, status)
            select t.id, ",
        )
        .push_bind(claim.user_id)
        .push(", ")
        .push_bind(generation_id)
        .push(", t.position, t.front, t.back, 'proposed' from unnest(")
        .push_bind(items.iter().map(|s| s.id).collect::<Vec<Uuid>>())
        .push("::uuid[], ")
        .push_bind(items.iter().map(|s| s.position).collect::<Vec<i32>>())
        .push("::int[], ")
        .push_bind(
            items
                .iter()
                .map(|s| s.front.as_str())
                .collect::<Vec<&str>>(),
        )
        .push("::text[], ")
        .push_bind(items.iter().map(|s| s.back.as_str()).collect::<Vec<&str>>())
        .push(
            "::text[]) as t(id, position, front, back)
            where exists (select 1 from generation)
            on conflict (generation_id, position) do nothing)
         select count(*) from generation",
        );
    let saved: i64 = query
        .build_query_scalar()
        .fetch_one(&ctx.pool)
        .await
        .context("saving a batch of suggestions")?;
    Ok(saved == 1)
}
