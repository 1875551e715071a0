//! Typed settings, read from the environment once at start-up: one file per section, each
//! reading and validating its own variables (`env.rs` reads them and keeps secrets). This
//! module is the ground floor of `shared`: it imports nothing of the crate.
//!
//! Every variable is documented in `docs/configuration.md` (a test holds it to what is read);
//! a bad or missing value stops the process with a one-line error naming the variable.

use std::{net::SocketAddr, time::Duration};

use anyhow::bail;

mod ai;
mod calendar;
mod email;
mod env;
mod events;
mod fetch;
mod jobs;
mod media;
mod organic;
mod publish;
mod rate_limits;
mod sign_in;
mod webhooks;

pub use ai::{AiProviderKind, AiSettings, BreakerSettings, StructuredOutput};
pub use calendar::CalendarSettings;
pub use email::{EmailProvider, EmailSettings};
pub use env::{DEV_JWT_SECRET, Secret, Vars, jwt_secret_from_env, weak_secret};
pub use events::{EventSettings, EventsRedis};
pub use fetch::FetchSettings;
pub use jobs::JobSettings;
pub use media::{MediaSettings, MediaStoreLocation};
pub use organic::OrganicSettings;
pub use publish::{PublishSettings, TokenKey};
pub use rate_limits::{RateLimit, RateLimitSettings};
pub use sign_in::{OidcSettings, SignInSettings, SignUp};
pub use webhooks::WebhookSettings;

use env::{check_secret, jwt_secret};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
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
    pub publish: PublishSettings,
    /// Sending the digests (`EMAIL_*`, `SMTP_*`, `RESEND_*`).
    pub email: EmailSettings,
    /// Fetching theme sources (`FETCH_*`).
    pub fetch: FetchSettings,
    pub webhooks: WebhookSettings,
    /// Uploaded media (`MEDIA_*`, `S3_*`).
    pub media: MediaSettings,
    /// How often the scheduler looks for due schedules (`SCHEDULER_TICK_SECS`).
    pub scheduler_tick: Duration,
    /// Signing in to the web app and signing up (`SIGN_IN_*`, `SIGN_UP*`, `OIDC_*`).
    pub sign_in: SignInSettings,
}

impl Settings {
    /// The address people open the app at, for links in emails and feeds:
    /// `PUBLIC_BASE_URL`, else the OAuth redirect base.
    pub fn app_base_url(&self) -> &str {
        self.public_base_url
            .as_deref()
            .unwrap_or(&self.publish.redirect_base_url)
    }

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
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> anyhow::Result<Self> {
        let vars = env::Vars(std::sync::Arc::new(lookup));
        let env = vars.env();
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
        let api_addr: SocketAddr =
            env.parse_or("API_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?;
        let redis_url = env.string_or("REDIS_URL", "redis://127.0.0.1:6379")?;
        let settings = Settings {
            database_url: Secret::new(env.required("DATABASE_URL")?),
            database_max_connections: env.parse_or("DATABASE_MAX_CONNECTIONS", 20)?,
            database_acquire_timeout: env.millis_or("DATABASE_ACQUIRE_TIMEOUT_MS", 800)?,
            worker_database_acquire_timeout: env
                .millis_or("WORKER_DATABASE_ACQUIRE_TIMEOUT_MS", 30_000)?,
            events: EventSettings::read(&env, &redis_url)?,
            redis_url: Secret::new(redis_url),
            redis_prefix,
            api_addr,
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
            ai: AiSettings::read(&env)?,
            jobs: JobSettings::read(&env)?,
            rate_limits: RateLimitSettings::read(&env)?,
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
            calendar: CalendarSettings::read(&env)?,
            organic: OrganicSettings::read(&env)?,
            publish: PublishSettings::read(&vars, &api_addr, dev)?,
            email: EmailSettings::read(&env)?,
            fetch: FetchSettings::read(&env)?,
            webhooks: WebhookSettings::read(&env)?,
            media: MediaSettings::read(&env)?,
            scheduler_tick: env.seconds_or("SCHEDULER_TICK_SECS", 60.0)?,
            sign_in: SignInSettings::read(&env)?,
        };
        for (name, token) in [
            ("ADMIN_TOKEN", &settings.admin_token),
            ("METRICS_TOKEN", &settings.metrics_token),
        ] {
            if let Some(token) = token {
                check_secret(name, token.expose().as_bytes(), dev, "openssl rand -hex 32")?;
            }
        }
        if settings.dev_login && !dev {
            bail!(
                "DEV_LOGIN=true needs ALMANAC_DEV=true: the development sign-in opens a session as \
                 any user, so it runs on a development machine only (unset DEV_LOGIN, or set \
                 ALMANAC_DEV=true there)"
            );
        }
        if settings.body_timeout.is_zero() {
            bail!("BODY_TIMEOUT_SECS: must be greater than 0");
        }
        if settings.flags_refresh.is_zero() {
            bail!("FLAGS_REFRESH_MS: must be greater than 0");
        }
        if settings.scheduler_tick.is_zero() {
            bail!("SCHEDULER_TICK_SECS: must be greater than 0");
        }
        Ok(settings)
    }

    /// Logs, once at start, what makes this process unfit to face the internet.
    pub fn warn_at_start(&self) {
        if self.dev_login {
            tracing::warn!(
                "DEV_LOGIN=true: anyone who reaches the web app can sign in as any user \
                 (a development machine only)"
            );
        }
        if let Some(base) = &self.publish.sandbox {
            tracing::warn!(
                sandbox = %base,
                "PLATFORM_SANDBOX=true: every platform is a fake served by the API; nothing is \
                 published anywhere (a development machine only)"
            );
        }
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

#[cfg(test)]
mod tests;
