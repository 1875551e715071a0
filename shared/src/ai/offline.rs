//! The offline provider: deterministic, template-based answers, so Almanac runs with no key
//! and no network. It answers the same JSON shapes the prompts ask a real model for, with
//! the answer functions the domain gives it (`domain::OFFLINE_ANSWERS`), one per template,
//! and streams them like a real provider: in pieces of a few tokens, all at once or at
//! `AI_OFFLINE_TOKENS_PER_SEC`.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use super::{AiError, AiProvider, ChatRequest, ChatStream, Piece, Role, Usage};
/// Each template's answer to a prompt's user text.
pub type OfflineAnswers = &'static [(&'static str, fn(&str) -> String)];

/// Characters a streamed piece holds (about four tokens).
const PIECE_CHARS: usize = 16;

pub struct OfflineProvider {
    latency: Duration,
    tokens_per_sec: u32,
    answers: OfflineAnswers,
}

impl OfflineProvider {
    pub fn new(latency: Duration, answers: OfflineAnswers) -> Self {
        Self {
            latency,
            tokens_per_sec: 0,
            answers,
        }
    }

    /// Writes answers at `tokens_per_sec` (0: all at once).
    pub fn with_rate(mut self, tokens_per_sec: u32) -> Self {
        self.tokens_per_sec = tokens_per_sec;
        self
    }
}

fn count_tokens(text: &str) -> u32 {
    text.split_whitespace().count() as u32
}

/// `text` in pieces of at most `size` characters.
pub(crate) fn pieces(text: &str, size: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[async_trait]
impl AiProvider for OfflineProvider {
    async fn stream(&self, request: ChatRequest) -> Result<ChatStream, AiError> {
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
        // A piece is about four tokens.
        let pause = (self.tokens_per_sec > 0)
            .then(|| Duration::from_secs_f64(4.0 / f64::from(self.tokens_per_sec)));
        let meta = Piece::Meta {
            usage: Some(usage),
            cost_usd: Some(0.0),
            response_id: None,
            model: None,
        };
        let texts = pieces(&content, PIECE_CHARS).into_iter().map(Piece::Text);
        let all = texts.chain([meta]).map(Ok);
        let stream = match pause {
            None => futures::stream::iter(all).boxed(),
            Some(pause) => futures::stream::iter(all)
                .enumerate()
                .then(move |(i, piece)| async move {
                    if i > 0 {
                        tokio::time::sleep(pause).await;
                    }
                    piece
                })
                .boxed(),
        };
        Ok(ChatStream::new(
            stream,
            "offline",
            "offline-template-v1",
            started,
        ))
    }
}
