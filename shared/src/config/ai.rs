//! `AI_*`: the provider, its model and limits, the circuit breaker, the daily budget.

use std::time::Duration;

use anyhow::{Context, bail};

use super::env::{Env, Secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum AiProviderKind {
    Offline,
    OpenAi,
}

impl AiProviderKind {
    /// The `AI_PROVIDER` value naming it.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Settings of the AI provider.
#[derive(Debug, Clone)]
pub struct AiSettings {
    pub provider: AiProviderKind,
    pub base_url: String,
    pub api_key: Option<Secret>,
    pub model: String,
    pub timeout: Duration,
    /// Retries after the first attempt on 429, 5xx and timeouts.
    pub max_retries: u32,
    pub retry_base: Duration,
    /// Price in USD per million input/output tokens, used when the provider reports no cost.
    pub price_input_per_mtok: f64,
    pub price_output_per_mtok: f64,
    pub offline_latency: Duration,
    /// How fast the offline provider writes its answers (`AI_OFFLINE_TOKENS_PER_SEC`; 0:
    /// all at once).
    pub offline_tokens_per_sec: u32,
    /// Ask for answers as a stream (`AI_STREAM`, default true).
    pub stream: bool,
    /// Structured output: `AI_STRUCTURED_OUTPUT`.
    pub structured_output: StructuredOutput,
    /// Models tried in turn when the model fails for reasons not the caller's
    /// (`AI_FALLBACK_MODELS`, comma-separated).
    pub fallback_models: Vec<String>,
    /// Tokens a workspace's members may spend together a UTC day
    /// (`AI_WORKSPACE_DAILY_TOKENS`, formerly `AI_USER_DAILY_TOKENS`; unset: no limit).
    pub workspace_daily_tokens: Option<u64>,
    /// The circuit breaker (`AI_BREAKER_FAILURES`, `_WINDOW_SECS`, `_COOLDOWN_SECS`).
    pub breaker: BreakerSettings,
    /// `GENERATION_DEDUP_DAYS`: a generation of the same source text, prompt version and
    /// model within this many days reuses the earlier one's suggestions (0: never).
    pub generation_dedup_days: u32,
    /// `AI_MAX_CONCURRENCY`: requests in flight to one remote provider and model across the
    /// fleet (16; the `offline` provider is not limited).
    pub max_concurrency: u32,
}

/// Whether answers are asked for with the template's JSON schema (`response_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StructuredOutput {
    /// Always; a provider that refuses it fails the call.
    On,
    /// Never: the JSON is asked for in the prompt's words only.
    Off,
    /// Tried, and given up for a model (for the process's life) once the provider answers
    /// 400 about `response_format`.
    Auto,
}

/// The breaker's settings (`AI_BREAKER_*`).
#[derive(Debug, Clone, Copy)]
pub struct BreakerSettings {
    pub failures: u32,
    pub window: Duration,
    pub cooldown: Duration,
}

impl AiSettings {
    /// `AI_*` (and seed 002's `OPENROUTER_API_KEY`).
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        // Seed 002 names OPENROUTER_API_KEY; AI_API_KEY is any OpenAI-compatible provider's.
        let api_key = env
            .optional("AI_API_KEY")
            .or_else(|| env.optional("OPENROUTER_API_KEY"))
            .map(Secret::new);
        let provider = match env.optional("AI_PROVIDER").as_deref() {
            Some("offline") => AiProviderKind::Offline,
            Some("openai") => AiProviderKind::OpenAi,
            Some(other) => bail!("AI_PROVIDER: expected `offline` or `openai`, got `{other}`"),
            // A key says which: the user who set one wants real answers.
            None if api_key.is_some() => AiProviderKind::OpenAi,
            None => AiProviderKind::Offline,
        };
        if provider == AiProviderKind::OpenAi && api_key.is_none() {
            bail!("AI_API_KEY: required when AI_PROVIDER=openai (or OPENROUTER_API_KEY)");
        }
        let settings = AiSettings {
            provider,
            base_url: env.string_or("AI_BASE_URL", "https://openrouter.ai/api/v1")?,
            api_key,
            model: env.string_or("AI_MODEL", "openai/gpt-4o-mini")?,
            timeout: env.millis_or("AI_TIMEOUT_MS", 30_000)?,
            max_retries: env.parse_or("AI_MAX_RETRIES", 2)?,
            retry_base: env.millis_or("AI_RETRY_BASE_MS", 250)?,
            price_input_per_mtok: env.parse_or("AI_PRICE_INPUT_PER_MTOK", 0.0)?,
            price_output_per_mtok: env.parse_or("AI_PRICE_OUTPUT_PER_MTOK", 0.0)?,
            offline_latency: env.millis_or("AI_OFFLINE_LATENCY_MS", 0)?,
            offline_tokens_per_sec: env.parse_or("AI_OFFLINE_TOKENS_PER_SEC", 0)?,
            stream: env.parse_or("AI_STREAM", true)?,
            structured_output: match env.string_or("AI_STRUCTURED_OUTPUT", "auto")?.as_str() {
                "true" => StructuredOutput::On,
                "false" => StructuredOutput::Off,
                "auto" => StructuredOutput::Auto,
                other => {
                    bail!("AI_STRUCTURED_OUTPUT: expected `true`, `false` or `auto`, got `{other}`")
                }
            },
            fallback_models: env
                .optional("AI_FALLBACK_MODELS")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|m| !m.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            generation_dedup_days: {
                let days: u32 = env.parse_or("GENERATION_DEDUP_DAYS", 30)?;
                anyhow::ensure!(
                    days <= 3650,
                    "GENERATION_DEDUP_DAYS must be at most 3650, got {days}"
                );
                days
            },
            max_concurrency: {
                let most: u32 = env.parse_or("AI_MAX_CONCURRENCY", 16)?;
                anyhow::ensure!(most > 0, "AI_MAX_CONCURRENCY must be at least 1");
                most
            },
            breaker: BreakerSettings {
                failures: env.parse_or("AI_BREAKER_FAILURES", 5)?,
                window: env.seconds_or("AI_BREAKER_WINDOW_SECS", 60.0)?,
                cooldown: env.seconds_or("AI_BREAKER_COOLDOWN_SECS", 30.0)?,
            },
            workspace_daily_tokens: {
                let key = env.renamed("AI_WORKSPACE_DAILY_TOKENS", "AI_USER_DAILY_TOKENS");
                match env.optional(key) {
                    None => None,
                    Some(raw) => Some(
                        raw.trim()
                            .parse::<u64>()
                            .ok()
                            .filter(|n| *n > 0)
                            .with_context(|| {
                                format!("{key}: expected a positive number of tokens, got `{raw}`")
                            })?,
                    ),
                }
            },
        };
        if settings.breaker.failures == 0 {
            bail!("AI_BREAKER_FAILURES: must be at least 1");
        }
        Ok(settings)
    }
}
