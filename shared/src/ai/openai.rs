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

    async fn attempt(&self, body: &serde_json::Value) -> Result<Completion, AiError> {
        let url = format!(
            "{}/chat/completions",
            self.settings.base_url.trim_end_matches('/')
        );
        let mut request = self.http.post(url).json(body);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = request.send().await.map_err(|e| AiError::Transient {
            status: None,
            message: if e.is_timeout() {
                format!("no answer within {} ms", self.settings.timeout.as_millis())
            } else {
                format!("request failed: {e}")
            },
        })?;
        let status = response.status();
        let text = response.text().await.map_err(|e| AiError::Transient {
            status: Some(status.as_u16()),
            message: if e.is_timeout() {
                format!(
                    "no complete answer within {} ms",
                    self.settings.timeout.as_millis()
                )
            } else {
                format!("reading the answer failed: {e}")
            },
        })?;
        if !status.is_success() {
            let excerpt: String = text.chars().take(300).collect();
            let message = format!("HTTP {}: {excerpt}", status.as_u16());
            let status = Some(status.as_u16());
            return Err(
                if status == Some(429) || status >= Some(500) || status == Some(408) {
                    AiError::Transient { status, message }
                } else {
                    AiError::Permanent { status, message }
                },
            );
        }
        serde_json::from_str(&text).map_err(|e| AiError::Permanent {
            status: Some(status.as_u16()),
            message: format!("unreadable completion: {e}"),
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
                    tracing::warn!(attempt = attempts, error = %e, "AI call failed; retrying");
                    tokio::time::sleep(retry_delay(attempts, self.settings.retry_base)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let content = completion
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| AiError::Permanent {
                status: None,
                message: "the completion has no content".into(),
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
