//! AI providers behind one trait (ARCHITECTURE.md section 5): an OpenAI-compatible HTTP
//! client and a deterministic offline provider. Responses say which provider and model
//! produced them, with token usage, cost and latency.

mod offline;
mod openai;

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub use offline::OfflineProvider;
pub use openai::OpenAiClient;

use crate::config::{AiProviderKind, AiSettings};

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
    /// Ask for a JSON object answer.
    pub json: bool,
    pub max_tokens: Option<u32>,
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
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AiError {
    /// Worth retrying later: rate limited, server error, timeout, connection failure.
    #[error("AI provider unavailable: {message}")]
    Transient {
        status: Option<u16>,
        message: String,
    },
    /// Retrying will not help: bad request, authentication, unusable answer.
    #[error("AI provider refused the request: {message}")]
    Permanent {
        status: Option<u16>,
        message: String,
    },
}

impl AiError {
    pub fn is_transient(&self) -> bool {
        matches!(self, AiError::Transient { .. })
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            AiError::Transient { status, .. } | AiError::Permanent { status, .. } => *status,
        }
    }
}

#[async_trait]
pub trait AiProvider: Send + Sync + 'static {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, AiError>;
}

/// Builds the configured provider.
pub fn from_settings(settings: &AiSettings) -> anyhow::Result<Arc<dyn AiProvider>> {
    Ok(match settings.provider {
        AiProviderKind::Offline => Arc::new(OfflineProvider::new(settings.offline_latency)),
        AiProviderKind::OpenAi => Arc::new(OpenAiClient::new(settings.clone())?),
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
