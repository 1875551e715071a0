//! An OpenAI-compatible chat-completions client (OpenRouter by default).
//!
//! Answers are streamed (`stream: true`, server-sent chunks) unless `AI_STREAM=false`.
//! Transient failures (429, 5xx, timeouts, connection failures) are retried with jitter
//! until the answer's first piece has arrived, never after; a model that keeps failing for
//! reasons that are not the caller's (server errors, overload, an unknown model) gives way
//! to the next of `AI_FALLBACK_MODELS`. The template's JSON schema is sent as structured
//! output per `AI_STRUCTURED_OUTPUT`.

use std::{
    collections::{HashSet, VecDeque},
    sync::Mutex,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use futures::{StreamExt, stream::BoxStream};
use serde::Deserialize;
use serde_json::{Value, json};

use super::breaker::{Breaker, Gate};
use super::{
    AiError, AiProvider, ChatRequest, ChatStream, Piece, Prices, Usage, estimate_tokens,
    retry_delay,
};
use crate::config::{AiSettings, StructuredOutput};
use crate::permits::Permits;

pub struct OpenAiClient {
    http: reqwest::Client,
    settings: AiSettings,
    /// Models whose provider refused `response_format` (with `auto`), for the process's life.
    unstructured: Mutex<HashSet<String>>,
    /// Stops asking a model the fleet finds failing (`AI_BREAKER_*`).
    breaker: Breaker,
    /// Requests in flight to a model across the fleet (`AI_MAX_CONCURRENCY`).
    permits: Permits,
}

#[derive(Deserialize)]
struct Completion {
    id: Option<String>,
    model: Option<String>,
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<CompletionUsage>,
    error: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: Option<ChoiceMessage>,
    delta: Option<ChoiceMessage>,
}

#[derive(Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

#[derive(Deserialize)]
struct CompletionUsage {
    prompt_tokens: Option<u32>,
    completion_tokens: Option<u32>,
    /// OpenRouter reports the charged cost in USD when asked with `usage.include`.
    cost: Option<f64>,
}

impl Completion {
    fn meta(&self) -> Option<Piece> {
        let usage = self.usage.as_ref();
        (usage.is_some() || self.id.is_some() || self.model.is_some()).then(|| Piece::Meta {
            usage: usage.map(|u| Usage {
                input_tokens: u.prompt_tokens.unwrap_or(0),
                output_tokens: u.completion_tokens.unwrap_or(0),
            }),
            cost_usd: usage.and_then(|u| u.cost),
            response_id: self.id.clone(),
            model: self.model.clone(),
        })
    }
}

/// A failed attempt, with what decides the next one.
struct Failed {
    error: AiError,
    /// The provider refused `response_format`.
    refused_format: bool,
    /// The provider does not know the model.
    unknown_model: bool,
}

impl OpenAiClient {
    pub fn new(settings: AiSettings, breaker: Breaker, permits: Permits) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Self {
            http,
            settings,
            unstructured: Mutex::new(HashSet::new()),
            breaker,
            permits,
        })
    }

    fn structured(&self, model: &str) -> bool {
        match self.settings.structured_output {
            StructuredOutput::On => true,
            StructuredOutput::Off => false,
            StructuredOutput::Auto => !self
                .unstructured
                .lock()
                .expect("the set of unstructured models")
                .contains(model),
        }
    }

    fn body(&self, request: &ChatRequest, model: &str, structured: bool) -> Value {
        let mut body = json!({
            "model": model,
            "messages": request.messages,
            "usage": {"include": true},
        });
        if self.settings.stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        if structured {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {
                    "name": request.schema.name,
                    "strict": true,
                    "schema": (request.schema.schema)(),
                },
            });
        }
        if let Some(max) = request.max_tokens {
            body["max_tokens"] = json!(max);
        }
        body
    }

    /// One HTTP exchange, up to the answer's first piece. Errors say what happened in
    /// words for the user; what the provider or the transport said goes into the redacted
    /// diagnostic excerpt.
    async fn attempt(
        &self,
        body: &Value,
    ) -> Result<(BoxStream<'static, Result<Piece, AiError>>, Option<String>), Failed> {
        let failed = |error: AiError| Failed {
            error,
            refused_format: false,
            unknown_model: false,
        };
        let url = format!(
            "{}/chat/completions",
            self.settings.base_url.trim_end_matches('/')
        );
        let mut request = self.http.post(url).json(body);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose());
        }
        let timeout_ms = self.settings.timeout.as_millis();
        let response = request.send().await.map_err(|e| {
            let message = if e.is_timeout() {
                format!("the AI provider gave no answer within {timeout_ms} ms")
            } else {
                "the AI provider could not be reached".to_owned()
            };
            failed(AiError::transient(message).with_excerpt(&format!("{e:#}")))
        })?;
        let status = response.status().as_u16();
        let request_id = ["x-request-id", "request-id"].iter().find_map(|name| {
            let value = response.headers().get(*name)?.to_str().ok()?;
            Some(value.chars().take(200).collect::<String>())
        });
        let labelled = Labels {
            status,
            request_id,
            timeout_ms,
        };
        if !(200..300).contains(&status) {
            let text = response.text().await.unwrap_or_default();
            return Err(refusal(status, &text, &labelled));
        }
        let mut pieces = if self.settings.stream {
            sse_pieces(response, labelled.clone())
        } else {
            whole_answer(response, &labelled).await.map_err(failed)?
        };
        // Up to the first piece of text, a failure is the attempt's (and may be retried).
        let mut before = Vec::new();
        loop {
            match pieces.next().await {
                Some(Ok(piece)) => {
                    let text = matches!(piece, Piece::Text(_));
                    before.push(Ok(piece));
                    if text {
                        break;
                    }
                }
                Some(Err(error)) => return Err(failed(error)),
                None => {
                    return Err(failed(labelled.apply(AiError::permanent(
                        "the AI provider's answer had no content",
                    ))));
                }
            }
        }
        let request_id = labelled.request_id.clone();
        Ok((
            futures::stream::iter(before).chain(pieces).boxed(),
            request_id,
        ))
    }
}

/// An answer other than 2xx: retried when it may pass later (429, 408, 5xx); whether it
/// refused the structured output asked for, or the model.
fn refusal(status: u16, text: &str, labelled: &Labels) -> Failed {
    let message = format!("the AI provider answered HTTP {status}");
    let transient = status == 429 || status >= 500 || status == 408;
    let lower = text.to_lowercase();
    let refused_format =
        status == 400 && (lower.contains("response_format") || lower.contains("json_schema"));
    let unknown_model = status == 404
        || (status == 400
            && lower.contains("model")
            && [
                "not found",
                "does not exist",
                "not a valid model",
                "no endpoints",
            ]
            .iter()
            .any(|phrase| lower.contains(phrase)));
    let error = if transient {
        AiError::transient(message)
    } else {
        AiError::permanent(message)
    };
    Failed {
        error: labelled.apply(error.with_excerpt(text)),
        refused_format,
        unknown_model,
    }
}

/// A whole (not streamed) completion as pieces: its text, then what it says of itself.
async fn whole_answer(
    response: reqwest::Response,
    labelled: &Labels,
) -> Result<BoxStream<'static, Result<Piece, AiError>>, AiError> {
    let text = response
        .text()
        .await
        .map_err(|e| labelled.apply(labelled.cut(&e)))?;
    let completion: Completion = serde_json::from_str(&text).map_err(|_| {
        labelled.apply(
            AiError::permanent("the AI provider's answer could not be read").with_excerpt(&text),
        )
    })?;
    let content = completion
        .choices
        .first()
        .and_then(|c| c.message.as_ref())
        .and_then(|m| m.content.clone())
        .ok_or_else(|| {
            labelled.apply(AiError::permanent(
                "the AI provider's answer had no content",
            ))
        })?;
    let meta = completion.meta();
    Ok(futures::stream::iter(
        [Some(Piece::Text(content)), meta]
            .into_iter()
            .flatten()
            .map(Ok),
    )
    .boxed())
}

/// The provider's labels for an exchange's errors.
#[derive(Clone)]
struct Labels {
    status: u16,
    request_id: Option<String>,
    timeout_ms: u128,
}

impl Labels {
    fn apply(&self, error: AiError) -> AiError {
        AiError {
            status: Some(self.status),
            request_id: self.request_id.clone(),
            ..error
        }
    }

    /// The body stopped: too slow, or the connection went.
    fn cut(&self, error: &reqwest::Error) -> AiError {
        let message = if error.is_timeout() {
            format!(
                "the AI provider gave no complete answer within {} ms",
                self.timeout_ms
            )
        } else {
            "the AI provider's answer was cut off".to_owned()
        };
        AiError::transient(message).with_excerpt(&format!("{error:#}"))
    }
}

/// The pieces of a server-sent chat-completions stream: `data: {chunk}` lines until
/// `data: [DONE]`. A stream that ends without it was cut.
fn sse_pieces(
    response: reqwest::Response,
    labels: Labels,
) -> BoxStream<'static, Result<Piece, AiError>> {
    struct Sse {
        body: BoxStream<'static, reqwest::Result<Vec<u8>>>,
        buffer: Vec<u8>,
        ready: VecDeque<Result<Piece, AiError>>,
        ended: bool,
        labels: Labels,
    }
    impl Sse {
        /// Turns the buffer's complete lines into pieces.
        fn lines(&mut self) {
            while let Some(newline) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=newline).collect();
                let line = String::from_utf8_lossy(&line);
                let Some(data) = line.trim_end().strip_prefix("data:") else {
                    continue;
                };
                let data = data.trim();
                if data == "[DONE]" {
                    self.ended = true;
                    return;
                }
                match serde_json::from_str::<Completion>(data) {
                    Ok(chunk) if chunk.error.is_some() => {
                        self.ready.push_back(Err(self.labels.apply(
                            AiError::transient(
                                "the AI provider failed in the middle of its answer",
                            )
                            .with_excerpt(data),
                        )));
                        self.ended = true;
                        return;
                    }
                    Ok(chunk) => {
                        let text = chunk
                            .choices
                            .first()
                            .and_then(|c| c.delta.as_ref())
                            .and_then(|d| d.content.clone())
                            .filter(|t| !t.is_empty());
                        if let Some(text) = text {
                            self.ready.push_back(Ok(Piece::Text(text)));
                        }
                        if let Some(meta) = chunk.meta() {
                            self.ready.push_back(Ok(meta));
                        }
                    }
                    Err(_) => {
                        self.ready.push_back(Err(self.labels.apply(
                            AiError::permanent("the AI provider's answer could not be read")
                                .with_excerpt(data),
                        )));
                        self.ended = true;
                        return;
                    }
                }
            }
        }
    }
    let sse = Sse {
        body: response
            .bytes_stream()
            .map(|chunk| chunk.map(|bytes| bytes.to_vec()))
            .boxed(),
        buffer: Vec::new(),
        ready: VecDeque::new(),
        ended: false,
        labels,
    };
    futures::stream::unfold(sse, |mut sse| async move {
        loop {
            if let Some(piece) = sse.ready.pop_front() {
                return Some((piece, sse));
            }
            if sse.ended {
                return None;
            }
            match sse.body.next().await {
                Some(Ok(bytes)) => {
                    sse.buffer.extend_from_slice(&bytes);
                    sse.lines();
                }
                Some(Err(error)) => {
                    let cut = sse.labels.apply(sse.labels.cut(&error));
                    sse.ready.push_back(Err(cut));
                    sse.ended = true;
                }
                None => {
                    sse.buffer.push(b'\n');
                    sse.lines();
                    if !sse.ended {
                        sse.ready.push_back(Err(sse
                            .labels
                            .apply(AiError::transient("the AI provider's answer was cut off"))));
                        sse.ended = true;
                    }
                }
            }
        }
    })
    .boxed()
}

impl OpenAiClient {
    /// The models to ask, in order: the request's (else the configured one), then the
    /// fallbacks not already named.
    fn models(&self, request: &ChatRequest) -> Vec<String> {
        let first = request
            .model
            .clone()
            .unwrap_or_else(|| self.settings.model.clone());
        let mut models = vec![first];
        for model in &self.settings.fallback_models {
            if !models.contains(model) {
                models.push(model.clone());
            }
        }
        models
    }

    /// The answer, priced: its input estimated from the request's messages.
    fn priced(&self, stream: ChatStream, request: &ChatRequest) -> ChatStream {
        let input = request
            .messages
            .iter()
            .map(|m| estimate_tokens(&m.content))
            .sum();
        let prices = Prices {
            input_per_mtok: self.settings.price_input_per_mtok,
            output_per_mtok: self.settings.price_output_per_mtok,
        };
        stream.with_prices(prices, input)
    }
}

/// Nothing asked: every model's breaker is open, the soonest for `wait` more.
fn breakers_open(models: &[String], wait: Duration) -> AiError {
    AiError {
        provider: Some("openai".into()),
        model: models.first().cloned(),
        retry_after: Some(wait),
        ..AiError::transient(format!(
            "the AI provider is failing and is not being asked for {} s; this job waits for it",
            wait.as_secs().max(1)
        ))
    }
}

#[async_trait]
impl AiProvider for OpenAiClient {
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, AiError> {
        let models = self.models(&request);
        let started = Instant::now();
        let mut attempts = 0;
        let mut last = None;
        // The soonest an open breaker lets a model be asked again.
        let mut reopens: Option<Duration> = None;
        'models: for (index, model) in models.iter().enumerate() {
            let probe = match self.breaker.admit("openai", model).await {
                Gate::Open(wait) => {
                    tracing::info!(model = %model, wait_ms = wait.as_millis() as u64, "the model's breaker is open; not asking it");
                    reopens = Some(reopens.map_or(wait, |r| r.min(wait)));
                    continue 'models;
                }
                Gate::Probe => true,
                Gate::Closed => false,
            };
            let most = self.settings.max_concurrency;
            let permit = match self.permits.take(&format!("openai:{model}"), most).await {
                Ok(permit) => permit,
                Err(busy) => {
                    metrics::counter!("ai_permits_refused_total", "provider" => "openai")
                        .increment(1);
                    return Err(AiError {
                        provider: Some("openai".into()),
                        model: Some(model.clone()),
                        retry_after: Some(busy.retry_after),
                        ..AiError::transient(format!(
                            "the AI provider has {most} requests in flight for this model (AI_MAX_CONCURRENCY); this job waits its turn"
                        ))
                    });
                }
            };
            let mut retries = 0;
            loop {
                attempts += 1;
                let structured = self.structured(model);
                let body = self.body(&request, model, structured);
                let failed = match self.attempt(&body).await {
                    Ok((pieces, request_id)) => {
                        self.breaker.record("openai", model, true, probe).await;
                        if index > 0 {
                            tracing::info!(model = %model, "a fallback model answered");
                        }
                        let stream = ChatStream::new(pieces, "openai", model.clone(), started)
                            .with_permit(permit)
                            .with_attempts(attempts)
                            .with_request_id(request_id);
                        return Ok(self.priced(stream, &request));
                    }
                    Err(failed) => failed,
                };
                let error = failed.error;
                if structured
                    && failed.refused_format
                    && self.settings.structured_output == StructuredOutput::Auto
                {
                    tracing::warn!(model = %model, "the provider refused structured output; asking for JSON in text from now on");
                    self.unstructured
                        .lock()
                        .expect("the set of unstructured models")
                        .insert(model.clone());
                    continue;
                }
                if error.is_transient() && retries < self.settings.max_retries {
                    retries += 1;
                    tracing::warn!(attempt = attempts, model = %model, error = %error, status = error.status, excerpt = error.excerpt.as_deref(), "AI call failed; retrying");
                    tokio::time::sleep(retry_delay(retries, self.settings.retry_base)).await;
                    continue;
                }
                // A call that still fails after its retries is the provider's failure; a
                // refusal of the request is an answer.
                self.breaker
                    .record("openai", model, !error.is_transient(), probe)
                    .await;
                if error.is_transient() || failed.unknown_model {
                    tracing::warn!(model = %model, error = %error, status = error.status, "the model failed; trying the next one if any");
                    last = Some(error);
                    continue 'models;
                }
                return Err(AiError {
                    latency_ms: started.elapsed().as_millis() as u64,
                    provider: Some("openai".into()),
                    model: Some(model.clone()),
                    attempts,
                    ..error
                });
            }
        }
        let Some(error) = last else {
            // Every model's breaker was open: nothing was asked.
            return Err(breakers_open(&models, reopens.unwrap_or_default()));
        };
        Err(AiError {
            latency_ms: started.elapsed().as_millis() as u64,
            provider: Some("openai".into()),
            model: models.last().cloned(),
            attempts,
            ..error
        })
    }
}
