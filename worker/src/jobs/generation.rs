//! The flashcard generation job (seed 002): ask the AI for cards batch by batch, store
//! each card as a proposed suggestion and stream it the moment its object closes, and
//! record usage, cost and attribution.

use almanac_shared::{
    ai::ChatResponse,
    domain::generation::{self, GenerationJob, Suggestion},
    events::{Event, SuggestionItem},
    jobs::{Claim, JobStatus},
    store, telemetry,
};
use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::{
    ai_error,
    answer::{Answer, Next, Stop, account, accounted},
};
use crate::job::{Context, Finished, Job, JobContext, JobError, JobResult, LogContext};

impl Job for GenerationJob {
    type Input = Input;

    /// The generation becomes `running`; its input comes back, with how far an earlier
    /// attempt got.
    const START: &'static str = "update ai_generations g set status = 'running', updated_at = now()
        from claimed where g.id = (claimed.payload ->> 'generation_id')::uuid
        returning g.id as generation_id, g.source_text, g.model, g.prompt_version, g.batches_done,
            (select count(*) from ai_suggestions s where s.generation_id = g.id) as saved,
            (select coalesce(jsonb_agg(s.front), '[]'::jsonb) from ai_suggestions s
             where s.generation_id = g.id and s.batch = g.batches_done) as fronts";

    const MISSING: &'static str = "GENERATION_MISSING";

    fn log_context(input: &Input) -> LogContext {
        LogContext {
            generation_id: Some(input.generation_id),
            ..LogContext::default()
        }
    }

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        generate(ctx, claim, self.generation_id, input).await
    }
}

#[derive(Deserialize)]
pub struct Input {
    generation_id: Uuid,
    source_text: String,
    model: Option<String>,
    prompt_version: String,
    batches_done: usize,
    saved: usize,
    /// The fronts of the cards of the current batch already saved, so that none is saved
    /// twice when the batch is asked again.
    fronts: Vec<String>,
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

/// Sends the source text to the AI batch by batch. Each card is saved (fenced by the
/// claim, so a retry resumes after it) and streamed the moment its object closes; a
/// batch's end records its usage. A cut answer is asked for again whole (at most
/// `AI_MAX_RETRIES` times), and the cards it repeats are not saved twice.
async fn generate(ctx: &JobContext, claim: &Claim, generation_id: Uuid, input: Input) -> JobResult {
    let Input {
        generation_id: _,
        source_text,
        model,
        prompt_version,
        batches_done,
        mut saved,
        fronts,
    } = input;
    let mut resumed: HashSet<String> = fronts
        .iter()
        .map(|f| generation::duplicate_key(f))
        .collect();
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
        // Cards of this batch saved so far (by an earlier attempt too).
        let mut seen = std::mem::take(&mut resumed);
        let mut cuts = 0;
        let (response, usable, held) = 'answer: loop {
            let mut answer =
                Answer::open(ctx.ai.as_ref(), generation::prompt(batch, model.clone()))
                    .await
                    .map_err(|e| ai_error(&e))?;
            let mut usable = 0;
            // Cards that closed with the answer's end: saved with the batch's end, in one
            // statement (an answer that arrives whole costs one round trip, as before
            // streaming).
            let mut held = Vec::new();
            let stop = loop {
                let items = match answer.next().await {
                    Ok(Next::Items(items)) => items,
                    Ok(Next::Done(_)) => break 'answer (answer.response(), usable, held),
                    Err(stop) => break stop,
                };
                let cards: Vec<Suggestion> = items
                    .iter()
                    .filter(|item| item.field == "suggestions")
                    .filter_map(|item| generation::parse_suggestion(&item.value))
                    .inspect(|_| usable += 1)
                    .filter(|card| seen.insert(generation::duplicate_key(&card.front)))
                    .take(generation::MAX_SUGGESTIONS.saturating_sub(saved))
                    .collect();
                if cards.is_empty() {
                    continue;
                }
                let items = items_at(&cards, saved);
                saved += items.len();
                if answer.complete() {
                    held = items;
                    continue;
                }
                if !save_cards(ctx, claim, generation_id, index, items).await? {
                    return Ok(None);
                }
            };
            // A valid prefix is kept, even when what follows it is not.
            if !held.is_empty() && !save_cards(ctx, claim, generation_id, index, held).await? {
                return Ok(None);
            }
            let response = answer.response();
            attribution.add(&response);
            if let Some(over_budget) = account(ctx, claim, &response).await? {
                return Err(over_budget);
            }
            match stop {
                Stop::Cut(error) if cuts < ctx.settings.ai.max_retries => {
                    cuts += 1;
                    tracing::warn!(error = %error.message, "the answer was cut; asking for the batch again");
                }
                Stop::Cut(error) => return Err(ai_error(&error)),
                Stop::Malformed(error) => {
                    return Err(JobError::transient("AI_OUTPUT_INVALID", error.0)
                        .with("model", response.model.clone()));
                }
            }
        };
        attribution.add(&response);
        if usable == 0 {
            let over_budget = account(ctx, claim, &response).await?;
            return Err(over_budget.unwrap_or_else(|| {
                JobError::transient("AI_OUTPUT_INVALID", "the answer holds no usable flashcard")
                    .with("model", response.model.clone())
            }));
        }
        let last = index + 1 == batches.len() || saved >= generation::MAX_SUGGESTIONS;
        let mut events = Vec::new();
        if !held.is_empty() {
            events.push(Event::Suggestions {
                generation_id,
                batch: index as u32,
                suggestions: held.clone(),
            });
        }
        // The last batch also ends the job and the generation, in the same statement.
        let finish = if last {
            events.push(saving());
            Some((result(saved), metadata(&attribution)))
        } else {
            None
        };
        let staged = if events.is_empty() {
            None
        } else {
            Some(ctx.emitter.stage(claim.id, events).await)
        };
        let step = Step {
            index,
            cards: &held,
            end: Some(End {
                response: &response,
                finish: finish.as_ref(),
            }),
        };
        let token = staged.as_ref().map(|staged| staged.token);
        let Some(spent) = save(ctx, claim, generation_id, step, token).await? else {
            tracing::warn!("claim lost before ending a batch; this attempt's end was discarded");
            return Ok(None);
        };
        let over_budget = accounted(ctx, &response, spent.unwrap_or_default());
        match (finish, staged) {
            (Some((result, _)), Some(staged)) => {
                return Ok(Some(Finished::succeeded(result).after(staged)));
            }
            (Some((result, _)), None) => return Ok(Some(Finished::succeeded(result))),
            (None, Some(staged)) => ctx.emitter.publish(claim.id, &staged).await,
            (None, None) => {}
        }
        if let Some(error) = over_budget {
            return Err(error);
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

/// Cards with their ids and positions (after the `first` already saved).
fn items_at(suggestions: &[Suggestion], first: usize) -> Vec<SuggestionItem> {
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

/// Saves cards of the batch `index` that closed together, and streams them; `false` when
/// the claim was lost.
async fn save_cards(
    ctx: &JobContext,
    claim: &Claim,
    generation_id: Uuid,
    index: usize,
    cards: Vec<SuggestionItem>,
) -> Result<bool, JobError> {
    let event = Event::Suggestions {
        generation_id,
        batch: index as u32,
        suggestions: cards.clone(),
    };
    let staged = ctx.emitter.stage(claim.id, vec![event]).await;
    let step = Step {
        index,
        cards: &cards,
        end: None,
    };
    if save(ctx, claim, generation_id, step, Some(staged.token))
        .await?
        .is_none()
    {
        tracing::warn!("claim lost before saving cards; they were discarded");
        return Ok(false);
    }
    ctx.emitter.publish(claim.id, &staged).await;
    Ok(true)
}

/// What one statement of a generation saves: cards of the batch `index` whose objects
/// closed together, and at the batch's `end` its call.
struct Step<'a> {
    index: usize,
    cards: &'a [SuggestionItem],
    end: Option<End<'a>>,
}

/// The end of a batch: its call's usage (recorded against the user's day too); with
/// `finish` (the job's result and the generation's metadata) the end of the job and the
/// generation.
struct End<'a> {
    response: &'a ChatResponse,
    finish: Option<&'a (Value, Value)>,
}

/// Saves a step if the claim still holds (an end only if its batch is the next one), in
/// one statement. `None` when the claim was lost; with an end, the user's tokens of the
/// day.
async fn save(
    ctx: &JobContext,
    claim: &Claim,
    generation_id: Uuid,
    step: Step<'_>,
    events: Option<Uuid>,
) -> Result<Option<Option<i64>>, JobError> {
    let mut query = QueryBuilder::<Postgres>::new("with fence as (");
    match &step.end {
        Some(End {
            finish: Some((result, _)),
            ..
        }) => claim.push_finish(&mut query, JobStatus::Succeeded, Some(result), None, events),
        _ => claim.push_alive(&mut query, events),
    }
    query.push(")");
    let cards = step.cards;
    if !cards.is_empty() {
        query
            .push(
                ", inserted as (
                insert into ai_suggestions (id, user_id, generation_id, batch, position, front, back, status)
                select t.id, ",
            )
            .push_bind(claim.user_id)
            .push(", ")
            .push_bind(generation_id)
            .push(", ")
            .push_bind(step.index as i32)
            .push(", t.position, t.front, t.back, 'proposed' from unnest(")
            .push_bind(cards.iter().map(|s| s.id).collect::<Vec<Uuid>>())
            .push("::uuid[], ")
            .push_bind(cards.iter().map(|s| s.position).collect::<Vec<i32>>())
            .push("::int[], ")
            .push_bind(cards.iter().map(|s| s.front.clone()).collect::<Vec<String>>())
            .push("::text[], ")
            .push_bind(cards.iter().map(|s| s.back.clone()).collect::<Vec<String>>())
            .push(
                "::text[]) as t(id, position, front, back)
                where exists (select 1 from fence)
                on conflict (generation_id, position) do nothing)",
            );
    }
    let Some(End { response, finish }) = step.end else {
        query.push(" select (select count(*) from fence), null::bigint");
        let (saved, _): (i64, Option<i64>) = query
            .build_query_as()
            .fetch_one(&ctx.pool)
            .await
            .context("saving a generation's cards")?;
        return Ok((saved == 1).then_some(None));
    };
    query
        .push(
            ", generation as (
            update ai_generations set batches_done = batches_done + 1,
                   tokens_input = coalesce(tokens_input, 0) + ",
        )
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
        .push_bind(step.index as i32)
        .push(" and exists (select 1 from fence) returning id), ");
    // The call is recorded whether or not the claim still holds: it was made.
    store::usage::push_record(&mut query, claim.user_id, claim.kind.as_str(), response);
    query.push(" select (select count(*) from generation), ");
    store::usage::push_spent(&mut query, claim.user_id, claim.kind.as_str());
    let (saved, spent): (i64, Option<i64>) = query
        .build_query_as()
        .fetch_one(&ctx.pool)
        .await
        .context("ending a generation's batch")?;
    Ok((saved == 1).then_some(spent))
}
