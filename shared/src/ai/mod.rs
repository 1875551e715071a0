//! AI providers behind one trait (docs/architecture.md section 2): an OpenAI-compatible HTTP
//! client and a deterministic offline provider. Responses say which provider and model
//! produced them, with token usage, cost and latency.

pub mod breaker;
pub mod items;
mod offline;
mod openai;
mod stream;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use offline::{OfflineAnswers, OfflineProvider};
pub use openai::OpenAiClient;
pub use stream::{ChatStream, Piece, Prices, estimate_tokens};

use crate::config::{AiProviderKind, Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

#[derive(Debug, Clone)]
pub struct ChatRequest {
    /// The server-side prompt template and its version, e.g. `flashcards.v1`.
    pub template: &'static str,
    /// Overrides the configured model when set.
    pub model: Option<String>,
    pub messages: Vec<Message>,
    /// The answer's JSON schema, sent as structured output where the provider takes it
    /// (`AI_STRUCTURED_OUTPUT`); the prompt describes the same shape in words.
    pub schema: AnswerSchema,
    pub max_tokens: Option<u32>,
}

/// A template's answer shape as a JSON schema (strict: every property required, no others).
#[derive(Debug, Clone, Copy)]
pub struct AnswerSchema {
    pub name: &'static str,
    pub schema: fn() -> serde_json::Value,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u32,
    pub output_tokens: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    pub content: String,
    pub provider: String,
    pub model: String,
    pub usage: Usage,
    pub cost_usd: f64,
    pub latency_ms: u64,
    /// HTTP attempts made, including retries.
    pub attempts: u32,
    /// The provider's id for the response, when it gives one.
    pub response_id: Option<String>,
    /// The provider's id for the HTTP request (`x-request-id`), when it gives one.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// A failed AI call: what a user may be told, and the provider's diagnostics, which seed
/// 002 keeps on the generation (`ai_generations.error`) and nowhere else.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct AiError {
    /// Worth retrying later (rate limited, server error, timeout, connection failure), as
    /// opposed to a refusal that retrying will not change (bad request, authentication,
    /// an unusable answer).
    pub transient: bool,
    /// What went wrong, in words for the user; it quotes nothing the provider sent.
    pub message: String,
    /// The provider's HTTP status.
    pub status: Option<u16>,
    /// The provider's id for the request (`x-request-id`), to quote to its support.
    pub request_id: Option<String>,
    /// How long the call took, retries included.
    pub latency_ms: u64,
    /// What the provider answered (or the transport's complaint), cut to
    /// [`EXCERPT_CHARS`] with anything that looks like a key or token redacted.
    pub excerpt: Option<String>,
    /// Who was asked (`openai`), and the last model tried.
    pub provider: Option<String>,
    pub model: Option<String>,
    /// HTTP attempts made, retries and fallbacks included.
    pub attempts: u32,
    /// No request was made, and none should be before this: every model's breaker is
    /// open, or the model has `AI_MAX_CONCURRENCY` requests in flight.
    pub retry_after: Option<Duration>,
}

/// The longest provider text kept in a diagnostic.
pub const EXCERPT_CHARS: usize = 300;

impl AiError {
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(true, message)
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(false, message)
    }

    fn new(transient: bool, message: impl Into<String>) -> Self {
        Self {
            transient,
            message: message.into(),
            status: None,
            request_id: None,
            latency_ms: 0,
            excerpt: None,
            provider: None,
            model: None,
            attempts: 0,
            retry_after: None,
        }
    }

    /// Keeps `text` as the diagnostic excerpt, redacted and cut.
    pub fn with_excerpt(mut self, text: &str) -> Self {
        self.excerpt = Some(excerpt(text));
        self
    }

    pub fn is_transient(&self) -> bool {
        self.transient
    }

    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The diagnostics as the generation's `error` keeps them.
    pub fn diagnostics(&self) -> serde_json::Value {
        serde_json::json!({
            "provider": self.provider,
            "model": self.model,
            "provider_attempts": self.attempts,
            "provider_status": self.status,
            "provider_request_id": self.request_id,
            "latency_ms": self.latency_ms,
            "body_excerpt": self.excerpt,
        })
    }
}

/// `text` with keys, tokens and other long secrets replaced by `[redacted]`, then cut to
/// [`EXCERPT_CHARS`] characters. Redaction comes first, so a cut never leaves a partial
/// secret that no longer looks like one.
pub fn excerpt(text: &str) -> String {
    use std::sync::LazyLock;
    // `Bearer xyz`, then `key: xyz`, `"api_key": "xyz"`, `token=xyz` and the like.
    static SCHEME: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r#"(?i)\b(bearer|basic)\s+[^\s"',;}]{4,}"#).expect("a valid pattern")
    });
    static LABELLED: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(
            r#"(?i)\b(token|access[_-]?token|api[_-]?key|key|secret|password|authorization)(["']?\s*[:=]\s*["']?)[^\s"',;}]{4,}"#,
        )
        .expect("a valid pattern")
    });
    static OPAQUE: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"\b(?:sk|pk|rk|ak)[-_][A-Za-z0-9_\-]{6,}|[A-Za-z0-9_\-+/=.]{32,}")
            .expect("a valid pattern")
    });
    let text = SCHEME.replace_all(text, "$1 [redacted]");
    let labelled = LABELLED.replace_all(&text, "$1$2[redacted]");
    let redacted = OPAQUE.replace_all(&labelled, "[redacted]");
    redacted.chars().take(EXCERPT_CHARS).collect()
}

#[async_trait]
pub trait AiProvider: Send + Sync + 'static {
    /// Starts the answer. Transient failures before its first piece are retried (and
    /// other models tried) here; a failure after it cuts the stream, and the caller
    /// decides what to ask again.
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, AiError>;
}

/// Builds the configured provider; the offline one answers with `offline_answers`.
pub fn from_settings(
    all: &Settings,
    offline_answers: OfflineAnswers,
) -> anyhow::Result<Arc<dyn AiProvider>> {
    let settings = &all.ai;
    if settings.provider == AiProviderKind::Offline {
        tracing::warn!(
            ai.provider = "offline",
            "AI answers are offline templates: set AI_API_KEY (or OPENROUTER_API_KEY) for a real model"
        );
    }
    Ok(match settings.provider {
        AiProviderKind::Offline => Arc::new(
            OfflineProvider::new(settings.offline_latency, offline_answers)
                .with_rate(settings.offline_tokens_per_sec),
        ),
        AiProviderKind::OpenAi => Arc::new(OpenAiClient::new(
            settings.clone(),
            breaker::Breaker::new(all),
            crate::permits::Permits::new(all, "ai"),
        )?),
    })
}

/// Full-jitter exponential delay for the provider's retries.
pub(crate) fn retry_delay(retry: u32, base: Duration) -> Duration {
    use rand::Rng;
    let ceiling = base.saturating_mul(1 << retry.min(10));
    Duration::from_millis(
        rand::rng().random_range(base.as_millis() as u64..=ceiling.as_millis() as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_redact_keys_and_tokens_and_stay_short() {
        let body = r#"{"error": {"message": "Incorrect API key provided: sk-proj-abcdef1234567890XYZ. Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl", "api_key": "hunter2hunter2", "token=abc123def"}}"#;
        let kept = excerpt(body);
        for secret in [
            "sk-proj-abcdef1234567890XYZ",
            "eyJhbGciOiJIUzI1NiJ9",
            "hunter2hunter2",
            "abc123def",
        ] {
            assert!(!kept.contains(secret), "{secret} leaked: {kept}");
        }
        assert!(kept.contains("Incorrect API key provided"), "{kept}");
        assert!(kept.contains("[redacted]"));
        let long = "x ".repeat(1000);
        assert_eq!(excerpt(&long).chars().count(), EXCERPT_CHARS);
        assert_eq!(excerpt("Service Unavailable"), "Service Unavailable");
    }
}
