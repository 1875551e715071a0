//! The flashcard generation job (seed 002): ask the AI for cards batch by batch, store
//! them as proposed suggestions, stream each batch, and record usage, cost and attribution.

use almanac_shared::{
    ai::ChatResponse,
    domain::generation::{self, Suggestion},
    events::{Event, SuggestionItem},
    jobs::{self, Claim, JobStatus},
    telemetry,
};
use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Postgres, Transaction};
use uuid::Uuid;

use super::{ai_error, record_ai_call};
use crate::runner::{Finished, JobContext, JobError, JobResult, started};

/// Runs with the claim: the generation becomes `running` and its input comes back, with
/// how far an earlier attempt got.
pub const START: &str = "update ai_generations g set status = 'running', updated_at = now()
    from claimed where g.id = (claimed.payload ->> 'generation_id')::uuid
    returning g.source_text, g.model, g.prompt_version, g.batches_done,
        (select count(*) from ai_suggestions s where s.generation_id = g.id) as saved";

#[derive(Deserialize)]
struct Input {
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
pub async fn run(ctx: &JobContext, claim: &Claim, generation_id: Uuid) -> JobResult {
    let Input {
        source_text,
        model,
        prompt_version,
        batches_done,
        mut saved,
    } = started(claim, "GENERATION_MISSING", || {
        format!("generation {generation_id}")
    })?;
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
        if !save_batch(
            ctx,
            claim,
            generation_id,
            index,
            &items,
            &response,
            finish.as_ref(),
        )
        .await?
        {
            tracing::warn!("claim lost before saving a batch; this attempt's batch was discarded");
            return Ok(None);
        }
        saved += items.len();
        emit(Event::Suggestions {
            generation_id,
            batch: index as u32,
            suggestions: items,
        })
        .await;
        if let Some((result, _)) = finish {
            return Ok(Some(Finished::succeeded(result)));
        }
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
    let sql = format!(
        "with finished as ({} returning id),
         saved as (
            update ai_generations set status = 'succeeded', ai_metadata = $7, error = null,
                   updated_at = now()
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
        .bind(sqlx::types::Json(&metadata))
        .bind(generation_id)
        .fetch_one(&ctx.pool)
        .await
        .map(|row| sqlx::Row::get(&row, 0))?;
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

/// Saves one batch's suggestions and its usage, if the claim still holds and the batch is
/// the next one; with `finish` (the job's result and the generation's metadata) the same
/// statement also ends the job and the generation. Returns `false` when the claim was lost.
async fn save_batch(
    ctx: &JobContext,
    claim: &Claim,
    generation_id: Uuid,
    batch: usize,
    items: &[SuggestionItem],
    response: &ChatResponse,
    finish: Option<&(Value, Value)>,
) -> Result<bool, JobError> {
    let ids: Vec<Uuid> = items.iter().map(|s| s.id).collect();
    let positions: Vec<i32> = items.iter().map(|s| s.position).collect();
    let fronts: Vec<&str> = items.iter().map(|s| s.front.as_str()).collect();
    let backs: Vec<&str> = items.iter().map(|s| s.back.as_str()).collect();
    let sql = save_statement(finish.is_some());
    let query = match finish {
        Some((result, _)) => claim.bind_finish(
            sqlx::query(AssertSqlSafe(sql)),
            JobStatus::Succeeded,
            Some(result),
            None,
        ),
        None => claim.bind_fence(sqlx::query(AssertSqlSafe(sql))),
    };
    let mut query = query
        .bind(generation_id)
        .bind(batch as i32)
        .bind(response.usage.input_tokens as i32)
        .bind(response.usage.output_tokens as i32)
        .bind(response.cost_usd)
        .bind(claim.user_id)
        .bind(&ids)
        .bind(&positions)
        .bind(&fronts)
        .bind(&backs);
    if let Some((_, metadata)) = finish {
        query = query.bind(sqlx::types::Json(metadata));
    }
    let saved: i64 = query
        .fetch_one(&ctx.pool)
        .await
        .map(|row| sqlx::Row::get(&row, 0))?;
    Ok(saved == 1)
}

/// The batch-saving statement. Its first parameters are the fence's: `ALIVE_FENCED`
/// (`$1..$3`), or for the last batch `FINISH_FENCED` (`$1..$6`), which ends the job; the
/// batch's own parameters follow, and the last batch adds the generation's metadata.
fn save_statement(last: bool) -> String {
    let (fence, p) = if last {
        (format!("{} returning id", jobs::FINISH_FENCED), 7)
    } else {
        (jobs::ALIVE_FENCED.to_owned(), 4)
    };
    let ends = if last {
        format!(
            "status = 'succeeded', ai_metadata = ${}, error = null,",
            p + 10
        )
    } else {
        String::new()
    };
    format!(
        "with fence as ({fence}),
         generation as (
            update ai_generations set batches_done = batches_done + 1,
                   tokens_input = coalesce(tokens_input, 0) + ${t_in},
                   tokens_output = coalesce(tokens_output, 0) + ${t_out},
                   cost_usd = coalesce(cost_usd, 0) + ${cost}, {ends} updated_at = now()
            where id = ${g} and batches_done = ${b} and exists (select 1 from fence)
            returning id),
         inserted as (
            insert into ai_suggestions (id, user_id, generation_id, position, front, back, status)
            select t.id, ${user}, ${g}, t.position, t.front, t.back, 'proposed'
            from unnest(${ids}::uuid[], ${pos}::int[], ${fronts}::text[], ${backs}::text[])
                 as t(id, position, front, back)
            where exists (select 1 from generation)
            on conflict (generation_id, position) do nothing)
         select count(*) from generation",
        g = p,
        b = p + 1,
        t_in = p + 2,
        t_out = p + 3,
        cost = p + 4,
        user = p + 5,
        ids = p + 6,
        pos = p + 7,
        fronts = p + 8,
        backs = p + 9,
    )
}

/// What a generation that ended otherwise (failed, cancelled) kept: the job's result.
/// Its suggestions stay; its row follows the job (`jobs::end_domain_rows`).
pub async fn kept(
    tx: &mut Transaction<'static, Postgres>,
    generation_id: Uuid,
) -> sqlx::Result<Value> {
    let saved: i64 =
        sqlx::query_scalar("select count(*) from ai_suggestions where generation_id = $1")
            .bind(generation_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(json!({ "generation_id": generation_id, "suggestions": saved }))
}
