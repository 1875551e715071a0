//! The flashcard generation job (seed 002): ask the AI for cards batch by batch, store
//! each card as a proposed suggestion and stream it the moment its object closes, and
//! record usage, cost and attribution.

use almanac_shared::store::jobs::Claim;
use almanac_shared::{
    ai::ChatResponse,
    domain::generation::{self, CardType, GenerationJob, Suggestion},
    events::{Event, SuggestionItem},
    store, telemetry, trips,
};
use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    ai_error,
    answer::{Answer, Next, Stop, account, accounted},
};
use crate::job::{Context, Finished, Job, JobContext, JobError, JobResult, LogContext};
use store::generations::{Last, Sides, Step};

impl Job for GenerationJob {
    type Input = Input;

    /// The generation becomes `running`; its input comes back, with how far an earlier
    /// attempt got.
    const START: &'static str = store::generations::START;

    const MISSING: &'static str = "GENERATION_MISSING";

    fn log_context(input: &Input) -> LogContext {
        LogContext {
            generation_id: Some(input.generation_id),
            ..LogContext::default()
        }
    }

    async fn run(self, ctx: &JobContext, claim: &Claim, input: Input) -> JobResult {
        Generator::new(ctx, claim, input).run().await
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
    /// The earlier generation of the same source whose suggestions this one lists.
    reused_from: Option<Uuid>,
    /// The card types asked for.
    card_types: Vec<CardType>,
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

/// A generation's attempt, as named steps. It sends the source text to the AI batch by
/// batch ([`Generator::ask`]); each card is saved (fenced by the claim, so a retry resumes
/// after it) and streamed the moment its object closes; a batch's end records its usage
/// ([`Generator::end_batch`]), the last one ending the job and the generation too. A cut
/// answer is asked for again whole (at most `AI_MAX_RETRIES` times), and the cards it
/// repeats are not saved twice.
struct Generator<'a> {
    ctx: &'a JobContext,
    claim: &'a Claim,
    id: Uuid,
    model: Option<String>,
    prompt_version: String,
    batches: Vec<String>,
    batches_done: usize,
    /// Cards saved so far (by earlier attempts too).
    saved: usize,
    /// The current batch's cards an earlier attempt saved, by their duplicate key.
    resumed: HashSet<String>,
    reused_from: Option<Uuid>,
    card_types: Vec<CardType>,
    /// The keys of the suggestions saved (`card_type_key`), read on first need.
    keys: Option<HashSet<String>>,
    attribution: Attribution,
}

/// What one batch's answer gave.
struct Asked {
    response: ChatResponse,
    /// Cards the answer held, saved or not.
    usable: usize,
    /// Cards that closed with the answer's end, saved with the batch's end.
    held: Vec<SuggestionItem>,
}

/// How a batch's end left the attempt.
enum Ended {
    /// On to the next batch.
    Next,
    /// The attempt is over (the job ended, or the claim was lost).
    Over(JobResult),
}

impl<'a> Generator<'a> {
    fn new(ctx: &'a JobContext, claim: &'a Claim, input: Input) -> Self {
        Self {
            ctx,
            claim,
            id: input.generation_id,
            model: input.model,
            prompt_version: input.prompt_version,
            batches: generation::batches(&input.source_text),
            batches_done: input.batches_done,
            saved: input.saved,
            resumed: input
                .fronts
                .iter()
                .map(|f| generation::duplicate_key(f))
                .collect(),
            reused_from: input.reused_from,
            card_types: input.card_types,
            keys: None,
            attribution: Attribution::default(),
        }
    }

    fn total(&self) -> u64 {
        self.batches.len() as u64
    }

    async fn emit(&self, event: Event) {
        self.ctx.emitter.emit_or_log(self.claim.id, &event).await;
    }

    fn saving(&self) -> Event {
        Event::progress(
            self.total(),
            self.total(),
            "saving",
            "saving the generation",
        )
    }

    fn result(&self) -> Value {
        json!({ "generation_id": self.id, "suggestions": self.saved, "batches": self.total() })
    }

    fn metadata(&self) -> Value {
        let attribution = &self.attribution;
        json!({
            "provider": attribution.provider,
            "model": attribution.model,
            "latency_ms": attribution.latency_ms,
            "prompt_version": self.prompt_version,
            "template": generation::TEMPLATE,
            "provider_attempts": attribution.provider_attempts,
            "batches": self.total(),
            "job_attempt": self.claim.attempt,
            "response_id": attribution.response_id,
            "trace_id": telemetry::current_trace_id(),
        })
    }

    async fn run(mut self) -> JobResult {
        if let Some(earlier) = self.reused_from {
            return self.reuse(earlier).await;
        }
        let total = self.total();
        self.emit(Event::progress(
            self.batches_done as u64,
            total,
            "generating",
            format!("asking the AI for flashcards ({total} batches)"),
        ))
        .await;
        for index in self.batches_done..self.batches.len() {
            if self.saved >= generation::MAX_SUGGESTIONS {
                break;
            }
            let Some(asked) = self.ask(index).await? else {
                return Ok(None);
            };
            if let Ended::Over(outcome) = self.end_batch(index, asked).await? {
                return outcome;
            }
            self.emit(Event::progress(
                index as u64 + 1,
                total,
                "generating",
                format!("batch {} of {total} saved", index + 1),
            ))
            .await;
        }
        self.finish().await
    }

    /// Asks the AI for batch `index`'s cards until an answer ends whole, saving (and
    /// streaming) each card as it closes. `None` when the claim was lost.
    async fn ask(&mut self, index: usize) -> Result<Option<Asked>, JobError> {
        let (ctx, claim) = (self.ctx, self.claim);
        // Cards of this batch saved so far (by an earlier attempt too).
        let mut seen = std::mem::take(&mut self.resumed);
        let mut cuts = 0;
        loop {
            let prompt =
                generation::prompt(&self.batches[index], self.model.clone(), &self.card_types);
            let mut answer = Answer::open(ctx.ai.as_ref(), prompt)
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
                    Ok(Next::Done(_)) => {
                        let response = answer.response();
                        self.attribution.add(&response);
                        return Ok(Some(Asked {
                            response,
                            usable,
                            held,
                        }));
                    }
                    Err(stop) => break stop,
                };
                let cards: Vec<Suggestion> = items
                    .iter()
                    .filter(|item| item.field == "suggestions")
                    .filter_map(|item| generation::parse_suggestion(&item.value, &self.card_types))
                    .inspect(|_| usable += 1)
                    .filter(|card| seen.insert(generation::duplicate_key(&card.front)))
                    .take(generation::MAX_SUGGESTIONS.saturating_sub(self.saved))
                    .collect();
                let cards = self.new_cards(cards).await?;
                if cards.is_empty() {
                    continue;
                }
                let items = items_at(&cards, self.saved);
                self.saved += items.len();
                if answer.complete() {
                    held = items;
                    continue;
                }
                if !save_cards(ctx, claim, self.id, index, items).await? {
                    return Ok(None);
                }
            };
            // A valid prefix is kept, even when what follows it is not.
            if !held.is_empty() && !save_cards(ctx, claim, self.id, index, held).await? {
                return Ok(None);
            }
            let response = answer.response();
            self.attribution.add(&response);
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
        }
    }

    /// `cards` without those the user has as cards already or this generation proposed
    /// already (counted as skipped). The keys come from Postgres (`card_type_key`), once
    /// per card; those of the suggestions saved are kept here (read back once when an
    /// earlier attempt saved some).
    async fn new_cards(&mut self, cards: Vec<Suggestion>) -> Result<Vec<Suggestion>, JobError> {
        if cards.is_empty() {
            return Ok(cards);
        }
        if self.keys.is_none() {
            let saved = if self.saved > 0 {
                store::generations::suggestion_keys(&self.ctx.pool, self.id)
                    .await
                    .context("reading the saved suggestions' keys")?
            } else {
                Vec::new()
            };
            self.keys = Some(saved.into_iter().collect());
        }
        let sides = Sides::new(
            self.claim.user_id,
            cards
                .iter()
                .map(|c| (c.card_type, c.front.as_str(), c.back.as_str())),
        );
        let keyed = self
            .ctx
            .statements
            .checks
            .statement(sides)
            .await
            .context("checking the cards for duplicates")?;
        let seen = self.keys.get_or_insert_with(HashSet::new);
        let mut new = Vec::with_capacity(cards.len());
        let mut skipped = 0;
        for (card, (key, carded)) in cards.into_iter().zip(keyed) {
            if !carded && seen.insert(key) {
                new.push(card);
            } else {
                skipped += 1;
            }
        }
        if skipped > 0 {
            store::generations::skipped(&self.ctx.pool, self.id, skipped)
                .await
                .context("counting the duplicates skipped")?;
        }
        Ok(new)
    }

    /// Saves batch `index`'s end in one statement: the cards held for it, its call's
    /// usage, and for the last batch the end of the job and the generation.
    async fn end_batch(&mut self, index: usize, asked: Asked) -> Result<Ended, JobError> {
        let (ctx, claim) = (self.ctx, self.claim);
        let Asked {
            response,
            usable,
            held,
        } = asked;
        if usable == 0 {
            let over_budget = account(ctx, claim, &response).await?;
            return Err(over_budget.unwrap_or_else(|| {
                JobError::transient("AI_OUTPUT_INVALID", "the answer holds no usable flashcard")
                    .with("model", response.model.clone())
            }));
        }
        let last = index + 1 == self.batches.len() || self.saved >= generation::MAX_SUGGESTIONS;
        let mut events = Vec::new();
        if !held.is_empty() {
            events.push(Event::Suggestions {
                generation_id: self.id,
                batch: index as u32,
                suggestions: held.clone(),
            });
        }
        // The last batch also ends the job and the generation, in the same statement.
        let finish = if last {
            events.push(self.saving());
            Some((self.result(), self.metadata()))
        } else {
            None
        };
        let staged = if events.is_empty() {
            None
        } else {
            Some(ctx.emitter.stage(claim.id, events).await)
        };
        let token = staged.as_ref().map(|staged| staged.token);
        if let Some((result, metadata)) = finish {
            let last = Last::new(
                claim,
                self.id,
                index,
                held,
                &response,
                result.clone(),
                metadata,
                token,
            );
            let saved = ctx.statements.lasts.statement(last).await;
            let Some(spent) = saved.context("ending the generation")? else {
                tracing::warn!(
                    "claim lost before ending the generation; this attempt's end was discarded"
                );
                return Ok(Ended::Over(Ok(None)));
            };
            // The budget is for the calls to come: none does.
            accounted(ctx, &response, spent);
            let finished = Finished::succeeded(result);
            return Ok(Ended::Over(Ok(Some(match staged {
                Some(staged) => finished.after(staged),
                None => finished,
            }))));
        }
        let step = Step {
            index,
            cards: &held,
            end: Some(&response),
        };
        let Some(spent) = save(ctx, claim, self.id, step, token).await? else {
            tracing::warn!("claim lost before ending a batch; this attempt's end was discarded");
            return Ok(Ended::Over(Ok(None)));
        };
        let over_budget = accounted(ctx, &response, spent.unwrap_or_default());
        if let Some(staged) = staged {
            ctx.emitter.publish(claim.id, &staged).await;
        }
        match over_budget {
            Some(error) => Err(error),
            None => Ok(Ended::Next),
        }
    }

    /// Ends a generation that reuses `earlier`'s suggestions: no AI call, nothing spent.
    async fn reuse(self, earlier: Uuid) -> JobResult {
        self.emit(Event::progress(
            1,
            1,
            "saving",
            "the same text was generated before: its suggestions are listed again",
        ))
        .await;
        let listed = store::generations::listed(&self.ctx.pool, self.id)
            .await
            .context("counting the reused suggestions")?;
        let result = json!({ "generation_id": self.id, "suggestions": listed, "batches": 0,
            "reused_from": earlier });
        let metadata = json!({
            "provider": null,
            "reused_from": earlier,
            "prompt_version": self.prompt_version,
            "template": generation::TEMPLATE,
            "provider_attempts": 0,
            "job_attempt": self.claim.attempt,
            "trace_id": telemetry::current_trace_id(),
        });
        let finished = trips::within(
            trips::Step::End,
            store::generations::finish(&self.ctx.pool, self.claim, self.id, &result, &metadata),
        )
        .await
        .context("ending the generation")?;
        if !finished {
            return Ok(None);
        }
        tracing::info!(reused_from = %earlier, "generation reused an earlier one's suggestions");
        Ok(Some(Finished::succeeded(result)))
    }

    /// Every batch was saved by an earlier attempt (or the card limit was reached): only
    /// the job and the generation remain to be ended.
    async fn finish(self) -> JobResult {
        self.emit(self.saving()).await;
        let (result, metadata) = (self.result(), self.metadata());
        let finished = trips::within(
            trips::Step::End,
            store::generations::finish(&self.ctx.pool, self.claim, self.id, &result, &metadata),
        )
        .await
        .context("ending the generation")?;
        if !finished {
            tracing::warn!("claim lost before saving; this attempt's output was discarded");
            return Ok(None);
        }
        Ok(Some(Finished::succeeded(result)))
    }
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
            card_type: s.card_type,
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

/// Saves a step before the last batch if the claim still holds, in one statement (see
/// [`store::generations::save_step`]). `None` when the claim was lost; with an end, the
/// user's tokens of the day.
async fn save(
    ctx: &JobContext,
    claim: &Claim,
    generation_id: Uuid,
    step: Step<'_>,
    events: Option<Uuid>,
) -> Result<Option<Option<i64>>, JobError> {
    let what = if step.end.is_some() {
        "ending a generation's batch"
    } else {
        "saving a generation's cards"
    };
    store::generations::save_step(&ctx.pool, claim, generation_id, step, events)
        .await
        .context(what)
}
