//! One batch of a generation: the AI asked until an answer ends whole, each card checked
//! against the ones the user has and saved (and streamed) as it closes, then the batch's
//! end written with its costs.

use super::{
    Asked, Context, Ended, Event, Finished, Generator, HashSet, ItemReader, JobError, Last, Next,
    Sides, Step, Stop, Suggestion, account, accounted, ai_error, generation, items_at, save,
    save_cards, store,
};

impl Generator<'_> {
    /// Asks the AI for batch `index`'s cards until an answer ends whole, saving (and
    /// streaming) each card as it closes. `None` when the claim was lost.
    pub(super) async fn ask(&mut self, index: usize) -> Result<Option<Asked>, JobError> {
        let (ctx, claim) = (self.ctx, self.claim);
        // Cards of this batch saved so far (by an earlier attempt too).
        let mut seen = std::mem::take(&mut self.resumed);
        let mut cuts = 0;
        loop {
            let prompt =
                generation::prompt(&self.batches[index], self.model.clone(), &self.card_types);
            let mut answer = ItemReader::open(ctx.ai.as_ref(), prompt)
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
    pub(super) async fn new_cards(
        &mut self,
        cards: Vec<Suggestion>,
    ) -> Result<Vec<Suggestion>, JobError> {
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
            self.claim.workspace_id,
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
    pub(super) async fn end_batch(
        &mut self,
        index: usize,
        asked: Asked,
    ) -> Result<Ended, JobError> {
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
}
