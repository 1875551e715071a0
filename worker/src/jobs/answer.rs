//! An AI answer read item by item: the provider's stream goes through the
//! incremental parser, and each batch of items that closed together is handed to the job,
//! which validates, saves and emits them at once. Every call's cost is recorded against
//! its user's day, and the daily budget checked.

use almanac_shared::{
    ai::{
        AiError, AiProvider, ChatRequest, ChatResponse, ChatStream,
        items::{ItemParser, Malformed, RawItem},
    },
    store,
    store::jobs::Claim,
    usage,
};
use futures::FutureExt;
use serde_json::Value;

use super::record_ai_call;
use crate::job::{Context, JobContext, JobError};

/// What the answer gave next.
pub(crate) enum Next {
    /// Items whose objects closed, in order (at least one).
    Items(Vec<RawItem>),
    /// The answer is complete: its whole object.
    Done(Value),
}

/// Why the answer stopped before it was complete.
#[derive(Debug)]
pub(crate) enum Stop {
    /// The stream was cut (timeout, dropped connection, a provider error mid-answer).
    Cut(AiError),
    /// The answer is not the JSON asked for.
    Malformed(Malformed),
}

impl Stop {
    pub(crate) fn message(&self) -> String {
        match self {
            Stop::Cut(error) => error.message.clone(),
            Stop::Malformed(error) => error.0.clone(),
        }
    }
}

/// An AI answer read item by item, through the incremental parser.
pub(crate) struct ItemReader {
    stream: ChatStream,
    parser: ItemParser,
    /// How the stream ended, once it has (`Err`: cut).
    ended: Option<Result<(), AiError>>,
}

impl ItemReader {
    /// Starts the answer to `request`.
    pub(crate) async fn open(ai: &dyn AiProvider, request: ChatRequest) -> Result<Self, AiError> {
        Ok(Self {
            stream: ai.stream(request).await?,
            parser: ItemParser::new(),
            ended: None,
        })
    }

    /// The items that closed with the next pieces: waits for one piece, then takes every
    /// piece already there, so items that arrive together are saved together.
    pub(crate) async fn next(&mut self) -> Result<Next, Stop> {
        loop {
            if let Some(fault) = self.parser.fault() {
                return Err(Stop::Malformed(fault.clone()));
            }
            match &self.ended {
                Some(Err(error)) => return Err(Stop::Cut(error.clone())),
                Some(Ok(())) => {
                    return self
                        .parser
                        .finish()
                        .map(Next::Done)
                        .map_err(Stop::Malformed);
                }
                None => {}
            }
            let mut items = Vec::new();
            let mut piece = Some(self.stream.next().await);
            while let Some(next) = piece {
                match next {
                    None => self.ended = Some(Ok(())),
                    Some(Err(error)) => self.ended = Some(Err(error)),
                    Some(Ok(text)) => items.extend(self.parser.feed(&text)),
                }
                if self.ended.is_some() || self.parser.fault().is_some() {
                    break;
                }
                piece = self.stream.next().now_or_never();
            }
            if !items.is_empty() {
                return Ok(Next::Items(items));
            }
        }
    }

    /// Whether the answer has come to its end, complete and well formed, with the items
    /// [`ItemReader::next`] gave last: what remains is [`Next::Done`].
    pub(crate) fn complete(&self) -> bool {
        matches!(self.ended, Some(Ok(()))) && self.parser.fault().is_none()
    }

    /// The answer so far and what it cost.
    pub(crate) fn response(&self) -> ChatResponse {
        self.stream.response()
    }
}

/// Records a finished (or cut) call: logs, metrics, and its cost against the user's day.
/// Gives the job's end, `BUDGET_EXCEEDED`, when the user's day is now over
/// `AI_WORKSPACE_DAILY_TOKENS`: the call that crosses the budget is the job's last.
pub(crate) async fn account(
    ctx: &JobContext,
    claim: &Claim,
    response: &ChatResponse,
) -> Result<Option<JobError>, JobError> {
    let spent = store::usage::record(&ctx.pool, claim.actor(), claim.kind.as_str(), response)
        .await
        .context("recording the AI call's usage")?;
    Ok(accounted(ctx, response, spent))
}

/// [`account`] once the call's usage is recorded (by a statement that also saved what it
/// wrote) and the user has `spent` that many tokens today.
pub(crate) fn accounted(ctx: &JobContext, response: &ChatResponse, spent: i64) -> Option<JobError> {
    record_ai_call(response);
    match ctx.settings.ai.workspace_daily_tokens {
        Some(limit) if spent >= limit as i64 => Some(budget_exceeded(limit, spent)),
        _ => None,
    }
}

/// The job's end when its owner's daily budget is spent.
pub(crate) fn budget_exceeded(limit: u64, spent: i64) -> JobError {
    let resets =
        usage::resets_at(chrono::Utc::now()).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    JobError::permanent(
        "BUDGET_EXCEEDED",
        format!(
            "the daily AI budget of {limit} tokens is spent ({spent} used today); what was \
             written so far is kept, and the budget resets at {resets}"
        ),
    )
    .with("resetAt", resets)
}
