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
    answer::{ItemReader, Next, Stop, account, accounted},
};
use crate::job::{Context, Finished, Job, JobContext, JobError, JobResult, LogContext};
use store::generations::{Last, Sides, Step};

mod batch;
mod save;

use save::{items_at, save, save_cards};

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
