//! An OpenAI-compatible chat-completions client (OpenRouter by default).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{AiError, AiProvider, ChatRequest, ChatResponse, Usage, retry_delay};
use crate::config::AiSettings;

pub struct OpenAiClient {
    http: reqwest::Client,
    settings: AiSettings,
}

#[derive(Deserialize)]
struct Completion {
    id: Option<String>,
    model: Option<String>,
    choices: Vec<Choice>,
    usage: Option<CompletionUsage>,
}

#[derive(Deserialize)]
struct Choice {
    message: ChoiceMessage,
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

impl OpenAiClient {
    pub fn new(settings: AiSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Self { http, settings })
    }

    /// One HTTP exchange. Errors say what happened in words for the user; what the
    /// provider or the transport said goes into the redacted diagnostic excerpt.
    async fn attempt(&self, body: &serde_json::Value) -> Result<Completion, AiError> {
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
            AiError::transient(message).with_excerpt(&format!("{e:#}"))
        })?;
        let status = response.status().as_u16();
        let request_id = ["x-request-id", "request-id"].iter().find_map(|name| {
            let value = response.headers().get(*name)?.to_str().ok()?;
            Some(value.chars().take(200).collect::<String>())
        });
        let with_status = |error: AiError| AiError {
            status: Some(status),
            request_id: request_id.clone(),
            ..error
        };
        let text = response.text().await.map_err(|e| {
            let message = if e.is_timeout() {
                format!("the AI provider gave no complete answer within {timeout_ms} ms")
            } else {
                "the AI provider's answer was cut off".to_owned()
            };
            with_status(AiError::transient(message).with_excerpt(&format!("{e:#}")))
        })?;
        if !(200..300).contains(&status) {
            let message = format!("the AI provider answered HTTP {status}");
            let error = if status == 429 || status >= 500 || status == 408 {
                AiError::transient(message)
            } else {
                AiError::permanent(message)
            };
            return Err(with_status(error.with_excerpt(&text)));
        }
        serde_json::from_str(&text).map_err(|_| {
            with_status(
                AiError::permanent("the AI provider's answer could not be read")
                    .with_excerpt(&text),
            )
        })
    }
}

#[async_trait]
impl AiProvider for OpenAiClient {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, AiError> {
        let model = request.model.unwrap_or_else(|| self.settings.model.clone());
        let mut body = json!({
            "model": model,
            "messages": request.messages,
            "usage": {"include": true},
        });
        if request.json {
            body["response_format"] = json!({"type": "json_object"});
        }
        if let Some(max) = request.max_tokens {
            body["max_tokens"] = json!(max);
        }
        let started = Instant::now();
        let mut attempts = 0;
        let completion = loop {
            attempts += 1;
            match self.attempt(&body).await {
                Ok(c) => break c,
                Err(e) if e.is_transient() && attempts <= self.settings.max_retries => {
                    tracing::warn!(attempt = attempts, error = %e, status = e.status, excerpt = e.excerpt.as_deref(), "AI call failed; retrying");
                    tokio::time::sleep(retry_delay(attempts, self.settings.retry_base)).await;
                }
                Err(e) => {
                    return Err(AiError {
                        latency_ms: started.elapsed().as_millis() as u64,
                        ..e
                    });
                }
            }
        };
        let content = completion
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| AiError {
                latency_ms: started.elapsed().as_millis() as u64,
                ..AiError::permanent("the AI provider's answer had no content")
            })?;
        let usage = completion
            .usage
            .as_ref()
            .map_or(Usage::default(), |u| Usage {
                input_tokens: u.prompt_tokens.unwrap_or(0),
                output_tokens: u.completion_tokens.unwrap_or(0),
            });
        let cost_usd = completion
            .usage
            .as_ref()
            .and_then(|u| u.cost)
            .unwrap_or_else(|| {
                f64::from(usage.input_tokens) * self.settings.price_input_per_mtok / 1e6
                    + f64::from(usage.output_tokens) * self.settings.price_output_per_mtok / 1e6
            });
        Ok(ChatResponse {
            content,
            provider: "openai".into(),
            model: completion.model.unwrap_or(model),
            usage,
            cost_usd,
            latency_ms: started.elapsed().as_millis() as u64,
            attempts,
            response_id: completion.id,
        })
    }
}
