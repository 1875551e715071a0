//! Typed settings, read from the environment once at start-up.
//!
//! Every variable is documented in the README; a bad or missing value stops the process
//! with a one-line error naming the variable.

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use anyhow::{Context, bail};

use crate::publish::{PlatformSettings, PublishSettings, crypto::TokenKey};

/// A value that must never be printed: `Debug` and `Display` show a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AiProviderKind {
    Offline,
    OpenAi,
}

impl AiProviderKind {
    /// The `AI_PROVIDER` value naming it.
    pub fn as_str(self) -> &'static str {
        match self {
            AiProviderKind::Offline => "offline",
            AiProviderKind::OpenAi => "openai",
        }
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
    /// Tokens a user may spend a UTC day (`AI_USER_DAILY_TOKENS`; unset: no limit).
    pub user_daily_tokens: Option<u64>,
    /// The circuit breaker (`AI_BREAKER_FAILURES`, `_WINDOW_SECS`, `_COOLDOWN_SECS`).
    pub breaker: crate::ai::breaker::BreakerSettings,
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

/// Settings of the job ledger, the worker and the reconciler.
///
/// A crashed worker's jobs run again within [`JobSettings::recovery_bound`]: their
/// heartbeat goes stale `JOB_STALE_MS` after the last one, and the next reconciler pass
/// (every `RECONCILE_INTERVAL_MS`) gives them back and queues them. The defaults (2 s, 8 s,
/// 2 s) keep that under 10 s; `make bench` measures it.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// How often a running job refreshes its heartbeat.
    pub heartbeat: Duration,
    /// A running job whose heartbeat is older than this is taken to have lost its worker.
    pub stale_after: Duration,
    /// A pending job unclaimed for this long is pushed onto its queue again.
    pub requeue_after: Duration,
    /// How often the reconciler runs.
    pub reconcile_every: Duration,
    /// First retry delay; doubled per attempt, with full jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Jobs one worker process runs at once, per queue.
    pub concurrency: usize,
    /// Fallback poll interval of an idle worker; pickup normally comes from the queue's signal.
    pub idle_poll: Duration,
    /// After a shutdown signal, how long in-flight jobs may run before their claims are
    /// released for another worker.
    pub shutdown_grace: Duration,
}

impl JobSettings {
    /// How long a crashed worker's jobs may wait before they run again (plus the moment a
    /// worker takes to claim them).
    pub fn recovery_bound(&self) -> Duration {
        self.stale_after + self.reconcile_every
    }

    /// The settings must agree with each other; the error names the variable to change.
    fn validate(&self) -> anyhow::Result<()> {
        if self.heartbeat.is_zero() {
            bail!("JOB_HEARTBEAT_MS: must be greater than 0");
        }
        // One late heartbeat (a busy machine, a database blip) must not make a live job
        // look dead and run twice.
        if self.stale_after < self.heartbeat * 2 {
            bail!("JOB_STALE_MS: must be at least twice JOB_HEARTBEAT_MS");
        }
        if self.reconcile_every.is_zero() {
            bail!("RECONCILE_INTERVAL_MS: must be greater than 0");
        }
        if self.requeue_after.is_zero() {
            bail!("JOB_REQUEUE_MS: must be greater than 0");
        }
        if self.concurrency == 0 {
            bail!("WORKER_CONCURRENCY: must be at least 1");
        }
        Ok(())
    }
}

/// Settings of calendar generation (seed 000).
#[derive(Debug, Clone)]
pub struct CalendarSettings {
    /// A run still generating after this long ends `timeout`, keeping what it generated
    /// (`CALENDAR_TIMEOUT_SECS`).
    pub timeout: Duration,
    /// AI calls one run makes at once (`CALENDAR_AI_CONCURRENCY`).
    pub ai_concurrency: usize,
    /// Slots per AI call (`CALENDAR_BATCH_SLOTS`); the first call takes fewer, so the
    /// first entries arrive soon.
    pub batch_slots: usize,
}

/// Settings of the organic week (seed 003).
#[derive(Debug, Clone)]
pub struct OrganicSettings {
    /// Placements one request may seed (`ORGANIC_MAX_PLACEMENTS`); the preset's and the
    /// newsletter's come on top.
    pub max_placements: usize,
    /// The least time between two posts of one account (`ORGANIC_MIN_GAP_MINUTES`).
    pub min_gap: chrono::Duration,
    /// AI calls one run makes at once (`ORGANIC_AI_CONCURRENCY`).
    pub ai_concurrency: usize,
}

/// Per-user limits on the endpoints that create jobs, each read from `<NAME>_RATE_LIMIT`
/// and `<NAME>_RATE_WINDOW_SECS` (a kind to come adds one field and one line below).
#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    /// `POST /api/ai/generations`: `GENERATION_RATE_*`.
    pub generations: RateLimit,
    /// `POST /v1/ai/calendar`, first runs and regenerations: `CALENDAR_RATE_*`.
    pub calendars: RateLimit,
    /// `POST /api/v1/themes/{id}/syntheses` (not the scheduler's): `SYNTHESIS_RATE_*`.
    pub syntheses: RateLimit,
    /// `POST /api/organic/generate-calendar`: `ORGANIC_RATE_*`.
    pub organic: RateLimit,
    /// `POST /v1/calendars/{id}/publish`, spooled requests included: `PUBLISH_RATE_*`.
    pub publish: RateLimit,
}

/// At most `limit` requests per user in any `window`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// The name of the family, in Redis keys and metrics.
    pub family: &'static str,
    pub limit: u32,
    pub window: Duration,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: Secret,
    pub database_max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub database_acquire_timeout: Duration,
    /// How long a worker waits for a connection: background work queues rather than fails.
    pub worker_database_acquire_timeout: Duration,
    pub redis_url: Secret,
    pub redis_prefix: String,
    pub api_addr: SocketAddr,
    /// The API's `/metrics` listener (`METRICS_ADDR`), apart from the API's own port.
    pub metrics_addr: SocketAddr,
    /// A bearer token that also opens `/metrics` on the API's port (`METRICS_TOKEN`).
    pub metrics_token: Option<Secret>,
    pub worker_metrics_addr: SocketAddr,
    pub jwt_secret: Secret,
    /// `ALMANAC_DEV=true`: a development machine (`make run`, the tests). Only then may
    /// `JWT_SECRET` be unset (the development secret is used) and may secrets be short or
    /// known placeholders.
    pub dev: bool,
    /// A bearer token for the admin endpoints besides a `service_role` JWT (`ADMIN_TOKEN`).
    pub admin_token: Option<Secret>,
    /// How often each process reloads the feature flags, besides when notified
    /// (`FLAGS_REFRESH_MS`).
    pub flags_refresh: Duration,
    pub log_format: LogFormat,
    pub otlp_endpoint: Option<String>,
    pub ai: AiSettings,
    pub jobs: JobSettings,
    pub rate_limits: RateLimitSettings,
    pub events: EventSettings,
    /// Origins a browser may call the API from (`CORS_ALLOWED_ORIGINS`); empty: none.
    pub cors_allowed_origins: Vec<String>,
    /// The web app's "Sign in as a developer" button, which mints a token for any user
    /// (`DEV_LOGIN`; `make run` sets it, nothing else does).
    pub dev_login: bool,
    /// Where people reach the web app (`PUBLIC_BASE_URL`): the only origin whose pages may
    /// use a browser session, and `https` makes its cookie `Secure`. Unset: the OAuth
    /// redirect base (`OAUTH_REDIRECT_BASE_URL`), else the address the API bound.
    pub public_base_url: Option<String>,
    pub max_body_bytes: usize,
    /// How long a request's body may take to arrive once its head has (`BODY_TIMEOUT_SECS`).
    pub body_timeout: Duration,
    pub calendar_service_enabled: bool,
    pub calendar: CalendarSettings,
    pub organic: OrganicSettings,
    /// Publishing (seed 001): `PUBLISH_SERVICE_ENABLED`, the platforms, tokens.
    pub publish: crate::publish::PublishSettings,
    pub smtp_url: Option<Secret>,
    /// Who sends the digests (`EMAIL_PROVIDER`; see [`EmailProvider`]).
    pub email_provider: EmailProvider,
    /// Resend's API key (`RESEND_API_KEY`) and base URL (`RESEND_BASE_URL`, for tests).
    pub resend_api_key: Option<Secret>,
    pub resend_base_url: String,
    /// Where the `outbox` provider writes each email as an `.eml` file
    /// (`EMAIL_OUTBOX_DIR`).
    pub email_outbox_dir: std::path::PathBuf,
    pub email_from: String,
    /// How long one SMTP exchange may take (`SMTP_TIMEOUT_MS`).
    pub smtp_timeout: Duration,
    /// Fetching theme sources (`FETCH_*`).
    pub fetch: crate::fetch::FetchSettings,
    /// How often the scheduler looks for due schedules (`SCHEDULER_TICK_SECS`).
    pub scheduler_tick: Duration,
}

/// The secret `make run` and tests use when `JWT_SECRET` is unset in development.
pub const DEV_JWT_SECRET: &str = "almanac-dev-secret-change-me-0123456789";

/// Words of the values that documentation and templates put where a secret goes.
const PLACEHOLDER_WORDS: [&str; 10] = [
    "change-me",
    "changeme",
    "change_me",
    "replace-me",
    "replaceme",
    "placeholder",
    "your-super-secret",
    "your-secret",
    "example",
    "almanac-dev-secret",
];

/// Why `value` cannot be a production secret: shorter than 32 bytes, a known placeholder,
/// or too uniform to be random (fewer than 8 distinct bytes, as `aaaa...` or a zero key).
pub fn weak_secret(value: &[u8]) -> Option<&'static str> {
    let lower = String::from_utf8_lossy(value).to_lowercase();
    let distinct = value
        .iter()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if value.len() < 32 {
        Some("must be at least 32 bytes long")
    } else if PLACEHOLDER_WORDS.iter().any(|word| lower.contains(word)) {
        Some("is a placeholder, not a secret")
    } else if distinct < 8 {
        Some("is not random enough to be a secret")
    } else {
        None
    }
}

/// Refuses a weak secret outside development, in one line naming the variable and how to
/// make a good one.
fn check_secret(name: &str, value: &[u8], dev: bool, generate: &str) -> anyhow::Result<()> {
    match weak_secret(value) {
        Some(why) if !dev => bail!(
            "{name}: {why}: generate one with `{generate}` (ALMANAC_DEV=true allows it on a development machine)"
        ),
        _ => Ok(()),
    }
}

/// `JWT_SECRET`, checked; the development secret when it is unset and `dev`.
fn jwt_secret(env: &Env, dev: bool) -> anyhow::Result<Secret> {
    match env.optional("JWT_SECRET") {
        Some(secret) => {
            check_secret("JWT_SECRET", secret.as_bytes(), dev, "openssl rand -hex 32")?;
            Ok(Secret::new(secret))
        }
        None if dev => Ok(Secret::new(DEV_JWT_SECRET)),
        None => bail!(
            "JWT_SECRET: required: generate one with `openssl rand -hex 32` (ALMANAC_DEV=true uses a development secret)"
        ),
    }
}

/// The secret `almanac-api token` signs with: `JWT_SECRET` as `serve` would take it.
pub fn jwt_secret_from_env() -> anyhow::Result<Secret> {
    let lookup = |key: &str| std::env::var(key).ok();
    let env = Env(&lookup);
    let dev = env.parse_or("ALMANAC_DEV", false)?;
    jwt_secret(&env, dev)
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|key| std::env::var(key).ok())
    }

    /// Reads the process environment for a command that signs, serves and seals nothing
    /// (`almanac-api migrate`, `almanac-api flags`): the secrets are not asked for.
    pub fn for_tools_from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|key| match key {
            "ALMANAC_DEV" => Some("true".into()),
            _ => std::env::var(key).ok(),
        })
    }

    /// Reads settings through `lookup`, so tests can build settings without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let env = Env(&lookup);
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
        let dev = env.parse_or("ALMANAC_DEV", false)?;
        let jwt_secret = jwt_secret(&env, dev)?;
        let redis_prefix = env.string_or("REDIS_PREFIX", "almanac")?;
        if redis_prefix.is_empty()
            || !redis_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("REDIS_PREFIX: use letters, digits, `_` and `-` only, got `{redis_prefix}`");
        }
        let log_format = match env.string_or("LOG_FORMAT", "json")?.as_str() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => bail!("LOG_FORMAT: expected `json` or `pretty`, got `{other}`"),
        };
        let api_addr_default: SocketAddr =
            env.parse_or("API_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        let settings = Settings {
            database_url: Secret::new(env.required("DATABASE_URL")?),
            database_max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 20)?,
            database_acquire_timeout: env.millis_or("DATABASE_ACQUIRE_TIMEOUT_MS", 800)?,
            worker_database_acquire_timeout: env
                .millis_or("WORKER_DATABASE_ACQUIRE_TIMEOUT_MS", 30_000)?,
            redis_url: Secret::new(env.string_or("REDIS_URL", "redis://127.0.0.1:6379")?),
            redis_prefix,
            api_addr: api_addr_default,
            metrics_addr: env.parse_or("METRICS_ADDR", SocketAddr::from(([127, 0, 0, 1], 9464)))?,
            metrics_token: env.optional("METRICS_TOKEN").map(Secret::new),
            worker_metrics_addr: env.parse_or(
                "WORKER_METRICS_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 9091)),
            )?,
            jwt_secret,
            dev,
            admin_token: env.optional("ADMIN_TOKEN").map(Secret::new),
            flags_refresh: env.millis_or("FLAGS_REFRESH_MS", 500)?,
            log_format,
            otlp_endpoint: env.optional("OTEL_EXPORTER_OTLP_ENDPOINT"),
            ai: AiSettings {
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
                    other => bail!(
                        "AI_STRUCTURED_OUTPUT: expected `true`, `false` or `auto`, got `{other}`"
                    ),
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
                breaker: crate::ai::breaker::BreakerSettings {
                    failures: env.parse_or("AI_BREAKER_FAILURES", 5)?,
                    window: env.seconds_or("AI_BREAKER_WINDOW_SECS", 60.0)?,
                    cooldown: env.seconds_or("AI_BREAKER_COOLDOWN_SECS", 30.0)?,
                },
                user_daily_tokens: match env.optional("AI_USER_DAILY_TOKENS") {
                    None => None,
                    Some(raw) => Some(raw.trim().parse::<u64>().ok().filter(|n| *n > 0).with_context(
                        || format!("AI_USER_DAILY_TOKENS: expected a positive number of tokens, got `{raw}`"),
                    )?),
                },
            },
            jobs: JobSettings {
                heartbeat: env.millis_or("JOB_HEARTBEAT_MS", 2_000)?,
                stale_after: env.millis_or("JOB_STALE_MS", 8_000)?,
                requeue_after: env.millis_or("JOB_REQUEUE_MS", 30_000)?,
                reconcile_every: env.millis_or("RECONCILE_INTERVAL_MS", 2_000)?,
                backoff_base: env.millis_or("JOB_BACKOFF_BASE_MS", 1_000)?,
                backoff_max: env.millis_or("JOB_BACKOFF_MAX_MS", 60_000)?,
                concurrency: env.parse_or("WORKER_CONCURRENCY", 32)?,
                idle_poll: env.millis_or("WORKER_IDLE_POLL_MS", 1_000)?,
                shutdown_grace: env.millis_or("WORKER_SHUTDOWN_GRACE_MS", 20_000)?,
            },
            rate_limits: RateLimitSettings {
                generations: env.rate_limit("generations", "GENERATION", 5, 300)?,
                calendars: env.rate_limit("calendars", "CALENDAR", 20, 600)?,
                syntheses: env.rate_limit("syntheses", "SYNTHESIS", 20, 600)?,
                organic: env.rate_limit("organic", "ORGANIC", 20, 600)?,
                publish: env.rate_limit("publish", "PUBLISH", 60, 60)?,
            },
            events: EventSettings {
                heartbeat: env.seconds_or("HEARTBEAT_SECS", 15.0)?,
                retention: env.seconds_or("EVENTS_RETENTION_SECS", 6.0 * 3600.0)?,
                max_len: env.parse_or("EVENTS_MAX_LEN", 10_000)?,
                relay_buffer: env.parse_or("RELAY_BUFFER_EVENTS", 16)?,
            },
            cors_allowed_origins: env
                .string_or("CORS_ALLOWED_ORIGINS", "")?
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            dev_login: env.parse_or("DEV_LOGIN", false)?,
            public_base_url: env
                .optional("PUBLIC_BASE_URL")
                .map(|url| {
                    match url::Url::parse(&url) {
                        Ok(parsed) if ["http", "https"].contains(&parsed.scheme()) => {
                            Ok(url.trim_end_matches('/').to_owned())
                        }
                        _ => Err(anyhow::anyhow!(
                            "PUBLIC_BASE_URL: expected the http(s) address people open the app at, got `{url}`"
                        )),
                    }
                })
                .transpose()?,
            max_body_bytes: env.parse_or("MAX_BODY_BYTES", 256 * 1024)?,
            body_timeout: env.seconds_or("BODY_TIMEOUT_SECS", 30.0)?,
            calendar_service_enabled: env.parse_or("CALENDAR_SERVICE_ENABLED", true)?,
            calendar: CalendarSettings {
                timeout: env.seconds_or("CALENDAR_TIMEOUT_SECS", 30.0)?,
                ai_concurrency: env.parse_or("CALENDAR_AI_CONCURRENCY", 4)?,
                batch_slots: env.parse_or("CALENDAR_BATCH_SLOTS", 40)?,
            },
            organic: OrganicSettings {
                max_placements: env.parse_or("ORGANIC_MAX_PLACEMENTS", 60)?,
                min_gap: chrono::Duration::minutes(env.parse_or("ORGANIC_MIN_GAP_MINUTES", 30)?),
                ai_concurrency: env.parse_or("ORGANIC_AI_CONCURRENCY", 8)?,
            },
            publish: publish_settings(&env, &api_addr_default, dev)?,
            smtp_url: env.optional("SMTP_URL").map(Secret::new),
            email_provider: match env.optional("EMAIL_PROVIDER").as_deref() {
                Some("smtp") => EmailProvider::Smtp,
                Some("resend") => EmailProvider::Resend,
                Some("outbox") => EmailProvider::Outbox,
                Some(other) => bail!(
                    "EMAIL_PROVIDER: expected `smtp`, `resend` or `outbox`, got `{other}`"
                ),
                None if env.optional("SMTP_URL").is_some() => EmailProvider::Smtp,
                None if env.optional("RESEND_API_KEY").is_some() => EmailProvider::Resend,
                None => EmailProvider::None,
            },
            resend_api_key: env.optional("RESEND_API_KEY").map(Secret::new),
            resend_base_url: env.string_or("RESEND_BASE_URL", "https://api.resend.com")?,
            email_outbox_dir: env.string_or("EMAIL_OUTBOX_DIR", ".data/outbox")?.into(),
            email_from: env.string_or("EMAIL_FROM", "Almanac <almanac@localhost>")?,
            smtp_timeout: env.millis_or("SMTP_TIMEOUT_MS", 15_000)?,
            fetch: crate::fetch::FetchSettings {
                allow_private_networks: env.parse_or("FETCH_ALLOW_PRIVATE_NETWORKS", false)?,
                timeout: env.millis_or("FETCH_TIMEOUT_MS", 10_000)?,
                max_bytes: env.parse_or("FETCH_MAX_BYTES", 2 * 1024 * 1024)?,
            },
            scheduler_tick: env.seconds_or("SCHEDULER_TICK_SECS", 60.0)?,
        };
        for (name, token) in [
            ("ADMIN_TOKEN", &settings.admin_token),
            ("METRICS_TOKEN", &settings.metrics_token),
        ] {
            if let Some(token) = token {
                check_secret(name, token.expose().as_bytes(), dev, "openssl rand -hex 32")?;
            }
        }
        if settings.body_timeout.is_zero() {
            bail!("BODY_TIMEOUT_SECS: must be greater than 0");
        }
        if settings.ai.breaker.failures == 0 {
            bail!("AI_BREAKER_FAILURES: must be at least 1");
        }
        if settings.flags_refresh.is_zero() {
            bail!("FLAGS_REFRESH_MS: must be greater than 0");
        }
        if settings.scheduler_tick.is_zero() {
            bail!("SCHEDULER_TICK_SECS: must be greater than 0");
        }
        if let Some(url) = &settings.smtp_url
            && !(url.expose().starts_with("smtp://") || url.expose().starts_with("smtps://"))
        {
            bail!("SMTP_URL: expected smtp://host:port or smtps://host:port");
        }
        match settings.email_provider {
            EmailProvider::Smtp if settings.smtp_url.is_none() => {
                bail!("SMTP_URL: required when EMAIL_PROVIDER=smtp")
            }
            EmailProvider::Resend if settings.resend_api_key.is_none() => {
                bail!("RESEND_API_KEY: required when EMAIL_PROVIDER=resend")
            }
            _ => {}
        }
        if settings
            .email_from
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            bail!("EMAIL_FROM: not a mailbox (`Name <address>` or `address`)");
        }
        settings.jobs.validate()?;
        if settings.events.heartbeat.is_zero() {
            bail!("HEARTBEAT_SECS: must be greater than 0");
        }
        if settings.events.relay_buffer == 0 || settings.events.max_len == 0 {
            bail!("RELAY_BUFFER_EVENTS and EVENTS_MAX_LEN: must be at least 1");
        }
        if settings.organic.ai_concurrency == 0
            || settings.organic.min_gap < chrono::Duration::zero()
        {
            bail!(
                "ORGANIC_AI_CONCURRENCY: must be at least 1; ORGANIC_MIN_GAP_MINUTES: not negative"
            );
        }
        if settings.calendar.ai_concurrency == 0 || settings.calendar.batch_slots == 0 {
            bail!("CALENDAR_AI_CONCURRENCY and CALENDAR_BATCH_SLOTS: must be at least 1");
        }
        Ok(settings)
    }

    /// The apalis queue name of a job kind, namespaced by `REDIS_PREFIX` (no `:` inside).
    pub fn queue_name(&self, kind: crate::jobs::JobKind) -> String {
        format!("{}.{}", self.redis_prefix, kind.as_str())
    }

    /// A Redis key in this deployment's namespace.
    pub fn redis_key(&self, parts: &[&str]) -> String {
        let mut key = self.redis_prefix.clone();
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        key
    }
}

/// `PUBLISH_*`, `TIKTOK_*`, `INSTAGRAM_*`, `OAUTH_REDIRECT_BASE_URL`, `TOKEN_ENCRYPTION_KEY`.
fn publish_settings(
    env: &Env,
    api_addr: &SocketAddr,
    dev: bool,
) -> anyhow::Result<PublishSettings> {
    let enabled = env.parse_or("PUBLISH_SERVICE_ENABLED", false)?;
    let token_key = match env.optional("TOKEN_ENCRYPTION_KEY") {
        Some(raw) => {
            let key =
                TokenKey::parse(&raw).map_err(|e| anyhow::anyhow!("TOKEN_ENCRYPTION_KEY: {e}"))?;
            if enabled {
                check_secret(
                    "TOKEN_ENCRYPTION_KEY",
                    key.bytes(),
                    dev,
                    "openssl rand -base64 32",
                )?;
            }
            Some(key)
        }
        None if enabled => bail!(
            "TOKEN_ENCRYPTION_KEY: required when PUBLISH_SERVICE_ENABLED=true (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
        ),
        None => None,
    };
    let tiktok_base = env.string_or("TIKTOK_API_BASE_URL", "https://open.tiktokapis.com")?;
    let instagram_base = env.string_or("INSTAGRAM_API_BASE_URL", "https://graph.instagram.com")?;
    let tiktok_token = format!("{}/v2/oauth/token/", tiktok_base.trim_end_matches('/'));
    let settings = PublishSettings {
        enabled,
        tiktok: PlatformSettings {
            client_id: env.optional("TIKTOK_CLIENT_KEY"),
            client_secret: env.optional("TIKTOK_CLIENT_SECRET").map(Secret::new),
            authorize_url: env.string_or(
                "TIKTOK_AUTHORIZE_URL",
                "https://www.tiktok.com/v2/auth/authorize/",
            )?,
            token_url: env.string_or("TIKTOK_TOKEN_URL", &tiktok_token)?,
            api_base_url: tiktok_base,
        },
        instagram: PlatformSettings {
            client_id: env.optional("INSTAGRAM_APP_ID"),
            client_secret: env.optional("INSTAGRAM_APP_SECRET").map(Secret::new),
            authorize_url: env.string_or(
                "INSTAGRAM_AUTHORIZE_URL",
                "https://www.instagram.com/oauth/authorize",
            )?,
            token_url: env.string_or(
                "INSTAGRAM_TOKEN_URL",
                "https://api.instagram.com/oauth/access_token",
            )?,
            api_base_url: instagram_base,
        },
        redirect_base_url: env
            .string_or("OAUTH_REDIRECT_BASE_URL", &format!("http://{api_addr}"))?,
        redirect_base_is_api_addr: env.optional("OAUTH_REDIRECT_BASE_URL").is_none(),
        token_key,
        confirm_window: env.seconds_or("PUBLISH_CONFIRM_WINDOW_SECS", 1800.0)?,
        check_interval: env.millis_or("PUBLISH_CHECK_INTERVAL_MS", 20_000)?,
        http_timeout: env.millis_or("PUBLISH_HTTP_TIMEOUT_MS", 30_000)?,
        tick: env.millis_or("PUBLISH_TICK_MS", 5_000)?,
        spool_max_per_user: env.parse_or("PUBLISH_SPOOL_MAX_PER_USER", 100)?,
        spool_max_total: env.parse_or("PUBLISH_SPOOL_MAX_TOTAL", 10_000)?,
    };
    for (key, url) in [
        ("TIKTOK_API_BASE_URL", &settings.tiktok.api_base_url),
        ("INSTAGRAM_API_BASE_URL", &settings.instagram.api_base_url),
        ("TIKTOK_AUTHORIZE_URL", &settings.tiktok.authorize_url),
        ("TIKTOK_TOKEN_URL", &settings.tiktok.token_url),
        ("INSTAGRAM_AUTHORIZE_URL", &settings.instagram.authorize_url),
        ("INSTAGRAM_TOKEN_URL", &settings.instagram.token_url),
        ("OAUTH_REDIRECT_BASE_URL", &settings.redirect_base_url),
    ] {
        match url::Url::parse(url) {
            Ok(parsed) if ["http", "https"].contains(&parsed.scheme()) => {}
            _ => bail!("{key}: expected an http(s) URL, got `{url}`"),
        }
    }
    if settings.check_interval.is_zero() || settings.tick.is_zero() {
        bail!("PUBLISH_CHECK_INTERVAL_MS and PUBLISH_TICK_MS: must be greater than 0");
    }
    Ok(settings)
}

struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    fn optional(&self, key: &str) -> Option<String> {
        (self.0)(key).filter(|v| !v.trim().is_empty())
    }

    fn required(&self, key: &str) -> anyhow::Result<String> {
        self.optional(key)
            .with_context(|| format!("{key}: required but not set"))
    }

    fn string_or(&self, key: &str, default: &str) -> anyhow::Result<String> {
        Ok(self.optional(key).unwrap_or_else(|| default.to_owned()))
    }

    fn parse_or<T>(&self, key: &str, default: T) -> anyhow::Result<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.optional(key) {
            None => Ok(default),
            Some(raw) => raw
                .trim()
                .parse()
                .map_err(|e| anyhow::anyhow!("{key}: cannot parse `{raw}`: {e}")),
        }
    }

    /// Seconds, fractions allowed (`0.5`).
    /// `<prefix>_RATE_LIMIT` per `<prefix>_RATE_WINDOW_SECS`.
    fn rate_limit(
        &self,
        family: &'static str,
        prefix: &str,
        limit: u32,
        window_secs: u64,
    ) -> anyhow::Result<RateLimit> {
        let limit = self.parse_or(&format!("{prefix}_RATE_LIMIT"), limit)?;
        let window_key = format!("{prefix}_RATE_WINDOW_SECS");
        let window_secs: u64 = self.parse_or(&window_key, window_secs)?;
        anyhow::ensure!(window_secs > 0, "{window_key} must be at least 1");
        Ok(RateLimit {
            family,
            limit,
            window: Duration::from_secs(window_secs),
        })
    }

    fn seconds_or(&self, key: &str, default_secs: f64) -> anyhow::Result<Duration> {
        let secs: f64 = self.parse_or(key, default_secs)?;
        Duration::try_from_secs_f64(secs).map_err(|_| {
            anyhow::anyhow!("{key}: expected a non-negative number of seconds, got `{secs}`")
        })
    }

    fn millis_or(&self, key: &str, default_ms: u64) -> anyhow::Result<Duration> {
        self.parse_or(key, default_ms).map(Duration::from_millis)
    }
}

/// Who sends the digests' emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailProvider {
    /// An SMTP server (`SMTP_URL`).
    Smtp,
    /// Resend's HTTP API (seed 004's provider).
    Resend,
    /// No sending: each email is an `.eml` file in `EMAIL_OUTBOX_DIR` (`make run`'s).
    Outbox,
    /// None configured: deliveries are recorded failed, `EMAIL_NOT_CONFIGURED`.
    None,
}

impl EmailProvider {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailProvider::Smtp => "smtp",
            EmailProvider::Resend => "resend",
            EmailProvider::Outbox => "outbox",
            EmailProvider::None => "none",
        }
    }
}

/// Settings of the event relay.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Keep-alive interval of an open stream (`HEARTBEAT_SECS`).
    pub heartbeat: Duration,
    /// How long a job's events are kept after its last event (`EVENTS_RETENTION_SECS`).
    pub retention: Duration,
    /// At most this many events are kept per job, oldest dropped first (`EVENTS_MAX_LEN`).
    pub max_len: u64,
    /// Events one stream may fall behind before it is told and closed (`RELAY_BUFFER_EVENTS`).
    pub relay_buffer: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Settings from `pairs`, on a development machine unless `ALMANAC_DEV` is among them.
    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let mut map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        map.entry("ALMANAC_DEV".into()).or_insert("true".into());
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const STRONG: &str = "9f1c4be07a5d3e2816c0b4f9a7e3d5c1";

    #[test]
    fn outside_development_secrets_must_be_strong() {
        let production = |pairs: &[(&str, &str)]| {
            let mut all = vec![("DATABASE_URL", "x"), ("ALMANAC_DEV", "false")];
            all.extend_from_slice(pairs);
            settings(&all).map(|_| ()).map_err(|e| e.to_string())
        };
        let refused = production(&[]).unwrap_err();
        assert!(refused.starts_with("JWT_SECRET: required"), "{refused}");
        assert!(!refused.contains('\n'));
        for (secret, why) in [
            ("short", "must be at least 32 bytes long"),
            (
                "change-me-change-me-change-me-change-me",
                "is a placeholder",
            ),
            (DEV_JWT_SECRET, "is a placeholder"),
            (
                "your-super-secret-jwt-token-with-at-least-32-characters-long",
                "is a placeholder",
            ),
            (
                "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "is not random enough",
            ),
        ] {
            let refused = production(&[("JWT_SECRET", secret)]).unwrap_err();
            assert!(
                refused.starts_with(&format!("JWT_SECRET: {why}")),
                "{secret}: {refused}"
            );
            assert!(!refused.contains(secret), "the secret is not printed");
        }
        assert_eq!(production(&[("JWT_SECRET", STRONG)]), Ok(()));
        let refused = production(&[
            ("JWT_SECRET", STRONG),
            ("ADMIN_TOKEN", "change-me-change-me-change-me-change-me"),
        ])
        .unwrap_err();
        assert!(
            refused.starts_with("ADMIN_TOKEN: is a placeholder"),
            "{refused}"
        );
        let refused =
            production(&[("JWT_SECRET", STRONG), ("METRICS_TOKEN", "short")]).unwrap_err();
        assert!(
            refused.starts_with("METRICS_TOKEN: must be at least 32"),
            "{refused}"
        );
        // deploy/k8s once shipped this key: base64 of `change-me-change-me-change-me-01`.
        let placeholder_key = "Y2hhbmdlLW1lLWNoYW5nZS1tZS1jaGFuZ2UtbWUtMDE=";
        let zero_key = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        for key in [placeholder_key, zero_key] {
            let refused = production(&[
                ("JWT_SECRET", STRONG),
                ("PUBLISH_SERVICE_ENABLED", "true"),
                ("TOKEN_ENCRYPTION_KEY", key),
            ])
            .unwrap_err();
            assert!(
                refused.starts_with("TOKEN_ENCRYPTION_KEY: is "),
                "{refused}"
            );
        }
        // Unused while publishing is off.
        assert_eq!(
            production(&[("JWT_SECRET", STRONG), ("TOKEN_ENCRYPTION_KEY", zero_key)]),
            Ok(())
        );
        let good_key = TokenKey::generate();
        assert_eq!(
            production(&[
                ("JWT_SECRET", STRONG),
                ("PUBLISH_SERVICE_ENABLED", "true"),
                ("TOKEN_ENCRYPTION_KEY", &good_key),
            ]),
            Ok(())
        );
    }

    #[test]
    fn a_key_picks_the_provider_when_none_is_named() {
        let provider = |pairs: &[(&str, &str)]| {
            let mut all = vec![("DATABASE_URL", "x")];
            all.extend_from_slice(pairs);
            let s = settings(&all).unwrap();
            (s.ai.provider, s.ai.api_key.map(|k| k.expose().to_owned()))
        };
        assert_eq!(provider(&[]), (AiProviderKind::Offline, None));
        assert_eq!(
            provider(&[("OPENROUTER_API_KEY", "or-key")]),
            (AiProviderKind::OpenAi, Some("or-key".into()))
        );
        assert_eq!(
            provider(&[("OPENROUTER_API_KEY", "or-key"), ("AI_API_KEY", "ai-key")]),
            (AiProviderKind::OpenAi, Some("ai-key".into()))
        );
        assert_eq!(
            provider(&[("AI_PROVIDER", "offline"), ("AI_API_KEY", "ai-key")]).0,
            AiProviderKind::Offline
        );
        let s = settings(&[("DATABASE_URL", "x"), ("OPENROUTER_API_KEY", "k")]).unwrap();
        assert_eq!(s.ai.base_url, "https://openrouter.ai/api/v1");
    }

    #[test]
    fn a_development_machine_may_use_the_development_secret() {
        let s = settings(&[("DATABASE_URL", "x")]).unwrap();
        assert!(s.dev);
        assert_eq!(s.jwt_secret.expose(), DEV_JWT_SECRET);
        let s = settings(&[("DATABASE_URL", "x"), ("JWT_SECRET", "short")]).unwrap();
        assert_eq!(s.jwt_secret.expose(), "short");
    }

    #[test]
    fn defaults_apply_when_only_the_database_is_given() {
        let s = settings(&[("DATABASE_URL", "postgres://x/y")]).unwrap();
        assert_eq!(s.api_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.ai.provider, AiProviderKind::Offline);
        assert_eq!(s.rate_limits.generations.limit, 5);
        assert_eq!(s.rate_limits.calendars.limit, 20);
        assert_eq!(s.rate_limits.syntheses.window, Duration::from_secs(600));
        assert_eq!(s.ai.timeout, Duration::from_secs(30));
    }

    #[test]
    fn errors_name_the_variable_in_one_line() {
        let err = settings(&[]).unwrap_err().to_string();
        assert_eq!(err, "DATABASE_URL: required but not set");
        let err = settings(&[("DATABASE_URL", "x"), ("API_ADDR", "nope")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("API_ADDR: cannot parse `nope`"), "{err}");
        assert!(!err.contains('\n'));
        let err = settings(&[("DATABASE_URL", "x"), ("AI_PROVIDER", "openai")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "AI_API_KEY: required when AI_PROVIDER=openai (or OPENROUTER_API_KEY)"
        );
        let err = settings(&[("DATABASE_URL", "x"), ("REDIS_PREFIX", "a:b")])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("REDIS_PREFIX:"), "{err}");
    }

    #[test]
    fn by_default_a_crashed_workers_jobs_run_again_within_fifteen_seconds() {
        let s = settings(&[("DATABASE_URL", "x")]).unwrap();
        assert!(s.jobs.recovery_bound() <= Duration::from_secs(15));
        assert!(s.jobs.stale_after >= s.jobs.heartbeat * 2);
    }

    #[test]
    fn job_settings_are_checked_against_each_other() {
        let err = settings(&[
            ("DATABASE_URL", "x"),
            ("JOB_HEARTBEAT_MS", "5000"),
            ("JOB_STALE_MS", "8000"),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(err, "JOB_STALE_MS: must be at least twice JOB_HEARTBEAT_MS");
        let err = settings(&[("DATABASE_URL", "x"), ("RECONCILE_INTERVAL_MS", "0")])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "RECONCILE_INTERVAL_MS: must be greater than 0");
        assert!(
            settings(&[
                ("DATABASE_URL", "x"),
                ("JOB_HEARTBEAT_MS", "100"),
                ("JOB_STALE_MS", "200"),
            ])
            .is_ok()
        );
    }

    #[test]
    fn publishing_needs_the_token_key() {
        let err = settings(&[("DATABASE_URL", "x"), ("PUBLISH_SERVICE_ENABLED", "true")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("TOKEN_ENCRYPTION_KEY: required when PUBLISH_SERVICE_ENABLED=true"),
            "{err}"
        );
        let err = settings(&[("DATABASE_URL", "x"), ("TOKEN_ENCRYPTION_KEY", "c2hvcnQ=")])
            .unwrap_err()
            .to_string();
        assert_eq!(err, "TOKEN_ENCRYPTION_KEY: expected 32 bytes, got 5");
        let key = TokenKey::generate();
        let s = settings(&[
            ("DATABASE_URL", "x"),
            ("PUBLISH_SERVICE_ENABLED", "true"),
            ("TOKEN_ENCRYPTION_KEY", key.as_str()),
        ])
        .unwrap();
        assert!(s.publish.enabled);
        assert_eq!(s.publish.confirm_window, Duration::from_secs(1800));
        assert_eq!(
            s.publish.tiktok.token_url,
            "https://open.tiktokapis.com/v2/oauth/token/"
        );
        assert!(!format!("{s:?}").contains(&key));
    }

    #[test]
    fn secrets_are_not_printed() {
        let s = settings(&[("DATABASE_URL", "postgres://user:hunter2@h/d")]).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"));
        assert!(!printed.contains(DEV_JWT_SECRET));
        let token = "admin-token-admin-token-admin-token-0001";
        let s = settings(&[("DATABASE_URL", "x"), ("ADMIN_TOKEN", token)]).unwrap();
        assert!(!format!("{s:?}").contains(token));
        let err = settings(&[
            ("DATABASE_URL", "x"),
            ("ALMANAC_DEV", "false"),
            ("JWT_SECRET", STRONG),
            ("ADMIN_TOKEN", "short"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("ADMIN_TOKEN: must be at least 32"), "{err}");
    }
}
