//! A generation's cards written: positioned, and saved fenced by the claim.

use super::{
    Claim, Context, Event, JobContext, JobError, Step, Suggestion, SuggestionItem, Uuid, store,
};

/// Cards with their ids and positions (after the `first` already saved).
pub(super) fn items_at(suggestions: &[Suggestion], first: usize) -> Vec<SuggestionItem> {
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
pub(super) async fn save_cards(
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
pub(super) async fn save(
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
