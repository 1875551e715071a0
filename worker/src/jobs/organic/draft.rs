//! Each placement of the week: drafted by its own AI call (or reported as the plan decided
//! it), and the opening progress told while the first ones are drafted.

use super::{
    AtomicBool, Claim, Draft, Event, JobContext, JobError, Library, Ordering, Outcome, Planned,
    Produced, Value, WeekContext, account, content,
};

/// The opening progress events on their way out. Dropped with an interrupted attempt (a
/// cancel, a lost claim), it stops them, so none is appended after the job's final event.
pub(super) struct Opening(pub(super) tokio::task::JoinHandle<()>);

impl Drop for Opening {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits until the opening progress events are out (once).
pub(super) async fn told(opening: &mut Option<Opening>) {
    if let Some(mut opening) = opening.take()
        && let Err(error) = (&mut opening.0).await
    {
        tracing::warn!(error = %error, "emitting the opening progress failed");
    }
}

/// Drafts one placement, or reports what the plan decided for it; `None` once the
/// owner's budget is spent.
pub(super) async fn produce(
    ctx: &JobContext,
    claim: &Claim,
    spent: &AtomicBool,
    library: &Library,
    week: WeekContext<'_>,
    item: Planned,
) -> Option<Produced> {
    if spent.load(Ordering::SeqCst) {
        return None;
    }
    Some(match item {
        Planned::Failed {
            placement_id,
            code,
            message,
        } => failed(&placement_id, code, message),
        Planned::Kept {
            placement_id,
            placement,
        } => Produced {
            placement_id,
            outcome: Outcome::Kept,
            event: Event::Placement { placement },
            stop: None,
        },
        Planned::Draft(draft) => {
            let (drafted, stop) = draft_placement(ctx, claim, library, week, &draft).await;
            if stop.is_some() {
                spent.store(true, Ordering::SeqCst);
            }
            Produced {
                stop,
                ..produced(draft, drafted)
            }
        }
    })
}

/// A drafted placement's outcome, or its failure.
pub(super) fn produced(draft: Box<Draft>, drafted: Result<Value, String>) -> Produced {
    match drafted {
        Ok(placement) => Produced {
            placement_id: draft.placement_id.clone(),
            outcome: Outcome::Placed {
                placement: placement.clone(),
                platform: draft.platform.clone(),
                account_id: draft.account_id.clone(),
                scheduled_at: draft.scheduled_at,
                adjusted: draft.adjusted,
                auto: draft.auto,
            },
            event: Event::Placement { placement },
            stop: None,
        },
        Err(message) => failed(&draft.placement_id, "GENERATION_FAILED", message),
    }
}

pub(super) fn failed(placement_id: &str, code: &str, message: String) -> Produced {
    Produced {
        placement_id: placement_id.to_owned(),
        outcome: Outcome::Failed,
        event: Event::Error {
            code: Some(code.to_owned()),
            message,
            placement_id: Some(placement_id.to_owned()),
            retrying: false,
        },
        stop: None,
    }
}

/// The AI's copy of a placement. The provider client retries what is transient; a cut
/// answer is asked for again (at most `AI_MAX_RETRIES` times), an unusable one once more.
/// Each call is accounted as it ends; the one that crosses the owner's budget is the last,
/// and its error comes back with the outcome.
pub(super) async fn draft_placement(
    ctx: &JobContext,
    claim: &Claim,
    library: &Library,
    week: WeekContext<'_>,
    draft: &Draft,
) -> (Result<Value, String>, Option<JobError>) {
    let assets = content::assets_named(&draft.asset_ids, &library.assets);
    let (mut cuts, mut unusable) = (0, 0);
    loop {
        let request = content::prompt(&library.brand, week, draft, &assets);
        let stream = match ctx.ai.stream(request).await {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(placement_id = %draft.placement_id, error = %error.message, "drafting a placement failed");
                let message = format!("the AI could not draft this placement: {}", error.message);
                return (Err(message), None);
            }
        };
        let (response, cut) = stream.collect().await;
        let stop = account(ctx, claim, &response).await.unwrap_or_else(Some);
        let (reason, given_up) = match (cut, content::parse_answer(&response.content)) {
            (Some(error), _) => {
                cuts += 1;
                let reason = format!("the AI's answer was cut: {}", error.message);
                (reason, cuts > ctx.settings.ai.max_retries)
            }
            (None, Ok(written)) => {
                let placement =
                    content::placement_json(draft, written, &library.brand, week.timezone);
                return (Ok(placement), stop);
            }
            (None, Err(reason)) => {
                unusable += 1;
                (reason, unusable > 1)
            }
        };
        if given_up || stop.is_some() {
            return (Err(reason), stop);
        }
    }
}
