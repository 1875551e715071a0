//! An answer on its way: text pieces as the provider writes them, then what it cost.

use std::time::Instant;

use futures::{StreamExt, stream::BoxStream};

use super::{AiError, ChatResponse, Usage};

/// What a provider's stream carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    /// The answer's figures (usually last): usage, the provider's cost, its ids.
    Meta {
        usage: Option<Usage>,
        cost_usd: Option<f64>,
        response_id: Option<String>,
        model: Option<String>,
    },
}

/// Prices per million tokens, for a cost the provider does not report.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prices {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
}

/// A streamed answer. [`next`](Self::next) gives its text piece by piece;
/// [`response`](Self::response) what has arrived so far and what it cost (estimated from
/// the text when the provider has not said, as for a cut stream).
pub struct ChatStream {
    pieces: BoxStream<'static, Result<Piece, AiError>>,
    provider: String,
    model: String,
    attempts: u32,
    started: Instant,
    prices: Prices,
    /// Input tokens estimated from the prompt, until the provider reports them.
    input_estimate: u32,
    content: String,
    usage: Option<Usage>,
    cost_usd: Option<f64>,
    response_id: Option<String>,
    request_id: Option<String>,
    ended: bool,
    /// The request's permit (`AI_MAX_CONCURRENCY`), given back when the answer ends.
    permit: Option<crate::permits::Permit>,
}

/// Roughly four characters a token, the rule of thumb of OpenAI's tokenizers.
pub fn estimate_tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4)
}

impl ChatStream {
    pub fn new(
        pieces: BoxStream<'static, Result<Piece, AiError>>,
        provider: impl Into<String>,
        model: impl Into<String>,
        started: Instant,
    ) -> Self {
        Self {
            pieces,
            provider: provider.into(),
            model: model.into(),
            attempts: 1,
            started,
            prices: Prices::default(),
            input_estimate: 0,
            content: String::new(),
            usage: None,
            cost_usd: None,
            response_id: None,
            request_id: None,
            ended: false,
            permit: None,
        }
    }

    /// Holds `permit` until the answer ends (or the stream is dropped).
    pub fn with_permit(mut self, permit: crate::permits::Permit) -> Self {
        self.permit = Some(permit);
        self
    }

    /// The provider's id for the HTTP request that answered.
    pub fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// HTTP attempts made before the answer started, retries and fallbacks included.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    pub fn with_prices(mut self, prices: Prices, input_estimate: u32) -> Self {
        self.prices = prices;
        self.input_estimate = input_estimate;
        self
    }

    /// The next piece of text; `None` once the answer is complete. An error means the
    /// answer was cut: the text so far stays in [`response`](Self::response).
    pub async fn next(&mut self) -> Option<Result<String, AiError>> {
        let next = self.next_piece().await;
        if self.ended {
            self.permit = None;
        }
        next
    }

    async fn next_piece(&mut self) -> Option<Result<String, AiError>> {
        while !self.ended {
            match self.pieces.next().await {
                None => self.ended = true,
                Some(Err(error)) => {
                    self.ended = true;
                    return Some(Err(AiError {
                        latency_ms: self.started.elapsed().as_millis() as u64,
                        ..error
                    }));
                }
                Some(Ok(Piece::Text(text))) => {
                    if text.is_empty() {
                        continue;
                    }
                    self.content.push_str(&text);
                    return Some(Ok(text));
                }
                Some(Ok(Piece::Meta {
                    usage,
                    cost_usd,
                    response_id,
                    model,
                })) => {
                    self.usage = usage.or(self.usage);
                    self.cost_usd = cost_usd.or(self.cost_usd);
                    self.response_id = response_id.or(self.response_id.take());
                    if let Some(model) = model {
                        self.model = model;
                    }
                }
            }
        }
        None
    }

    /// Reads the rest of the answer: what arrived (all of it, unless cut), with the error
    /// that cut it if one did.
    pub async fn collect(mut self) -> (ChatResponse, Option<AiError>) {
        let mut cut = None;
        while let Some(piece) = self.next().await {
            if let Err(error) = piece {
                cut = Some(error);
            }
        }
        (self.response(), cut)
    }

    /// The answer so far, with its usage (as reported, else estimated) and cost.
    pub fn response(&self) -> ChatResponse {
        let usage = self.usage.unwrap_or(Usage {
            input_tokens: self.input_estimate,
            output_tokens: estimate_tokens(&self.content),
        });
        let cost_usd = self.cost_usd.unwrap_or_else(|| {
            f64::from(usage.input_tokens) * self.prices.input_per_mtok / 1e6
                + f64::from(usage.output_tokens) * self.prices.output_per_mtok / 1e6
        });
        ChatResponse {
            content: self.content.clone(),
            provider: self.provider.clone(),
            model: self.model.clone(),
            usage,
            cost_usd,
            latency_ms: self.started.elapsed().as_millis() as u64,
            attempts: self.attempts,
            response_id: self.response_id.clone(),
            request_id: self.request_id.clone(),
        }
    }
}
