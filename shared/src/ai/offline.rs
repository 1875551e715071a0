//! The offline provider: deterministic, template-based answers, so Almanac runs with no key
//! and no network. It answers the same JSON shapes the prompts ask a real model for, with
//! the answer functions the domain gives it (`domain::OFFLINE_ANSWERS`), one per template.

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{AiError, AiProvider, ChatRequest, ChatResponse, Role, Usage};
/// Each template's answer to a prompt's user text.
pub type OfflineAnswers = &'static [(&'static str, fn(&str) -> String)];

pub struct OfflineProvider {
    latency: Duration,
    answers: OfflineAnswers,
}

impl OfflineProvider {
    pub fn new(latency: Duration, answers: OfflineAnswers) -> Self {
        Self { latency, answers }
    }
}

fn count_tokens(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

#[async_trait]
impl AiProvider for OfflineProvider {
    async fn chat(&self, request: ChatRequest) -> Result<ChatResponse, AiError> {
        let started = Instant::now();
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let user_text = request
            .messages
            .iter()
            .filter(|m| m.role == Role::User)
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let Some((_, answer)) = self
            .answers
            .iter()
            .find(|(template, _)| *template == request.template)
        else {
            return Err(AiError::permanent(format!(
                "the offline provider has no answer for template `{}`",
                request.template
            )));
        };
        let content = answer(&user_text);
        let usage = Usage {
            input_tokens: request
                .messages
                .iter()
                .map(|m| count_tokens(&m.content))
                .sum(),
            output_tokens: count_tokens(&content),
        };
        Ok(ChatResponse {
            content,
            provider: "offline".into(),
            model: "offline-template-v1".into(),
            usage,
            cost_usd: 0.0,
            latency_ms: started.elapsed().as_millis() as u64,
            attempts: 1,
            response_id: None,
        })
    }
}
