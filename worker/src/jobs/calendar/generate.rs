//! The AI's part of a calendar run: the slots in batches, each batch asked for and its
//! entries sent the moment each object closes in the answer.

use super::{
    AtomicBool, Claim, Entry, FIRST_BATCH, ItemReader, JobContext, JobError, Next, Ordering,
    Produced, Slot, Stop, Value, account, ai_error, calendar, mpsc,
};

/// The slots in batches: a small first one, then `size` each.
pub(super) fn split(slots: Vec<(i32, Slot)>, size: usize) -> Vec<Vec<(i32, Slot)>> {
    let mut batches = Vec::new();
    let mut rest = slots.into_iter().peekable();
    let mut limit = FIRST_BATCH.min(size);
    while rest.peek().is_some() {
        batches.push(rest.by_ref().take(limit).collect());
        limit = size;
    }
    batches
}

/// Asks the AI for a batch and sends each entry the moment its object closes. A stream cut
/// after some entries is followed by asking only for the missing slots (at most
/// `AI_MAX_RETRIES` times); slots a complete answer left out are asked for once more. Each
/// call is accounted as it ends; none is made once the owner's budget is `spent`.
pub(super) async fn generate(
    ctx: &JobContext,
    claim: &Claim,
    spent: &AtomicBool,
    brief: &Value,
    batch: Vec<(i32, Slot)>,
    out: mpsc::UnboundedSender<Produced>,
) -> Result<(), JobError> {
    let mut missing = batch;
    let (mut cuts, mut short_answers) = (0, 0);
    loop {
        if spent.load(Ordering::SeqCst) {
            return Ok(());
        }
        let slots: Vec<Slot> = missing.iter().map(|(_, s)| s.clone()).collect();
        let mut answer = ItemReader::open(ctx.ai.as_ref(), calendar::prompt(brief, &slots, None))
            .await
            .map_err(|e| ai_error(&e))?;
        let stop = loop {
            match answer.next().await {
                Ok(Next::Items(items)) => {
                    let mut entries = Vec::new();
                    for item in items.iter().filter(|i| i.field == "entries") {
                        let Some((key, content)) = calendar::parse_entry(&item.value) else {
                            continue;
                        };
                        if let Some(at) = missing.iter().position(|(_, slot)| slot.key == key) {
                            let (position, slot) = missing.swap_remove(at);
                            entries.push((position, Entry { slot, content }));
                        }
                    }
                    if !entries.is_empty() {
                        entries.sort_by_key(|(position, _)| *position);
                        let _ = out.send(Produced::Entries(entries));
                    }
                }
                Ok(Next::Done(_)) => break None,
                Err(stop) => break Some(stop),
            }
        };
        let response = answer.response();
        let model = response.model.clone();
        let over_budget = account(ctx, claim, &response).await?;
        let _ = out.send(Produced::Call(response));
        if let Some(error) = over_budget {
            spent.store(true, Ordering::SeqCst);
            let _ = out.send(Produced::OverBudget(error));
            return Ok(());
        }
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_by_key(|(position, _)| *position);
        match stop {
            Some(Stop::Cut(error)) => {
                cuts += 1;
                if cuts > ctx.settings.ai.max_retries {
                    return Err(ai_error(&error));
                }
                tracing::warn!(missing = missing.len(), error = %error.message, "the answer was cut; asking for the missing slots");
            }
            stop => {
                short_answers += 1;
                if short_answers > 1 {
                    let reason = stop.map_or_else(
                        || format!("the AI left {} slots without an entry", missing.len()),
                        |stop| stop.message(),
                    );
                    return Err(
                        JobError::transient("AI_OUTPUT_INCOMPLETE", reason).with("model", model)
                    );
                }
            }
        }
    }
}
