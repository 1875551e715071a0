//! `PUBLISH_*`, `PLATFORM_*`, `OAUTH_REDIRECT_BASE_URL`, `TOKEN_ENCRYPTION_KEY`: publishing
//! (seed 001). Each platform reads its own `<NAME>_*` in its folder of `almanac-publishing`,
//! from the [`Vars`] kept here.

use std::{fmt, net::SocketAddr, time::Duration};

use anyhow::bail;
use base64::Engine;
use rand::RngCore;

use super::env::{Env, Vars, check_secret, http_url};

/// Settings of publishing (seed 001).
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// `PUBLISH_SERVICE_ENABLED`: off, every publish is a deterministic dry run and no
    /// adapter is called.
    pub enabled: bool,
    /// `PLATFORM_SANDBOX`: where the API serves fake platforms (its address and
    /// `/sandbox`), to which the platforms' addresses and app credentials default
    /// (development only).
    pub sandbox: Option<String>,
    /// The variables each platform reads its own settings from (`TIKTOK_*`, ...), in its
    /// folder of `almanac-publishing`.
    pub vars: Vars,
    /// `OAUTH_REDIRECT_BASE_URL`: where the platforms send the browser back to.
    pub redirect_base_url: String,
    /// It was not set: the API's own address, which the API reads back once bound (so
    /// `API_ADDR` with port 0 works too).
    pub redirect_base_is_api_addr: bool,
    /// `TOKEN_ENCRYPTION_KEY` (base64 of 32 bytes).
    pub token_key: Option<TokenKey>,
    /// `PUBLISH_CONFIRM_WINDOW_SECS`: how long read-only checks may try to settle an
    /// unknown (or still processing) publish before it is `unconfirmed`.
    pub confirm_window: Duration,
    /// `PUBLISH_CHECK_INTERVAL_MS`: the pause between read-only checks.
    pub check_interval: Duration,
    /// `PUBLISH_HTTP_TIMEOUT_MS`: one call to a platform.
    pub http_timeout: Duration,
    /// `PLATFORM_MAX_CONCURRENCY`: requests in flight to one platform for one channel
    /// across the fleet (4).
    pub max_concurrency: u32,
    /// `PUBLISH_TICK_MS`: how often workers look for due intents.
    pub tick: Duration,
    /// `CHANNEL_EXPIRY_WARNING_DAYS`: a channel whose connection ends (its token cannot be
    /// refreshed past then) within this is announced to its owner (7 days).
    pub expiry_warning: chrono::Duration,
    /// `QUEUE_MIN_GAP_MINUTES`: the least time between two queued posts of one channel
    /// (30).
    pub queue_min_gap: chrono::Duration,
    /// `PUBLISH_LATE_LIMIT_MINUTES`: how late an intent held while publishing was off for
    /// its owner may still go out once it is back on (60); later, it fails
    /// `SCHEDULE_PASSED`.
    pub late_limit: chrono::Duration,
    /// `PUBLISH_SPOOL_MAX_PER_USER`: requests one user may have spooled at once.
    pub spool_max_per_user: u32,
    /// `PUBLISH_SPOOL_MAX_TOTAL`: requests spooled at once, all users.
    pub spool_max_total: u32,
    /// `PUBLISH_SPOOL_MAX_BYTES`: bytes of requests spooled at once, all users (64 MiB): a
    /// request may be as large as `MAX_BODY_BYTES`, so the counts alone would let the spool
    /// grow to gigabytes.
    pub spool_max_bytes: u64,
}

/// The key; `Debug` never shows it.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

impl TokenKey {
    /// Reads base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let bytes = engines
            .iter()
            .find_map(|engine| engine.decode(raw).ok())
            .ok_or("expected base64")?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("expected 32 bytes, got {}", b.len()))?;
        Ok(Self(key))
    }

    /// The key's bytes (for the check that it is not a placeholder).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// A random key, base64 (`make run` and tests).
    pub fn generate() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        base64::engine::general_purpose::STANDARD.encode(key)
    }
}

/// `PUBLISH_*`, `PLATFORM_*`, `OAUTH_REDIRECT_BASE_URL`, `TOKEN_ENCRYPTION_KEY`.
impl PublishSettings {
    pub(super) fn read(vars: &Vars, api_addr: &SocketAddr, dev: bool) -> anyhow::Result<Self> {
        let env = &vars.env();
        let enabled = env.parse_or("PUBLISH_SERVICE_ENABLED", false)?;
        let token_key = token_key(env, enabled, dev)?;
        let sandbox = sandbox_base(env, api_addr, dev)?;
        let settings = PublishSettings {
            enabled,
            sandbox,
            vars: vars.clone(),
            redirect_base_url: env
                .string_or("OAUTH_REDIRECT_BASE_URL", &format!("http://{api_addr}"))?,
            redirect_base_is_api_addr: env.optional("OAUTH_REDIRECT_BASE_URL").is_none(),
            token_key,
            confirm_window: env.seconds_or("PUBLISH_CONFIRM_WINDOW_SECS", 1800.0)?,
            check_interval: env.millis_or("PUBLISH_CHECK_INTERVAL_MS", 20_000)?,
            http_timeout: env.millis_or("PUBLISH_HTTP_TIMEOUT_MS", 30_000)?,
            max_concurrency: {
                let most: u32 = env.parse_or("PLATFORM_MAX_CONCURRENCY", 4)?;
                anyhow::ensure!(most > 0, "PLATFORM_MAX_CONCURRENCY must be at least 1");
                most
            },
            tick: env.millis_or("PUBLISH_TICK_MS", 5_000)?,
            expiry_warning: {
                let days: i64 = env.parse_or("CHANNEL_EXPIRY_WARNING_DAYS", 7)?;
                anyhow::ensure!(
                    (1..=60).contains(&days),
                    "CHANNEL_EXPIRY_WARNING_DAYS must be between 1 and 60, got {days}"
                );
                chrono::Duration::days(days)
            },
            queue_min_gap: minutes_within_a_week(env, "QUEUE_MIN_GAP_MINUTES", 30)?,
            late_limit: minutes_within_a_week(env, "PUBLISH_LATE_LIMIT_MINUTES", 60)?,
            spool_max_per_user: env.parse_or("PUBLISH_SPOOL_MAX_PER_USER", 100)?,
            spool_max_total: env.parse_or("PUBLISH_SPOOL_MAX_TOTAL", 10_000)?,
            spool_max_bytes: env.parse_or("PUBLISH_SPOOL_MAX_BYTES", 64 * 1024 * 1024)?,
        };
        http_url("OAUTH_REDIRECT_BASE_URL", &settings.redirect_base_url)?;
        if settings.check_interval.is_zero() || settings.tick.is_zero() {
            bail!("PUBLISH_CHECK_INTERVAL_MS and PUBLISH_TICK_MS: must be greater than 0");
        }
        Ok(settings)
    }
}

/// `PLATFORM_SANDBOX=true`: where the API serves the sandbox (`<PUBLIC_BASE_URL, else
/// OAUTH_REDIRECT_BASE_URL, else the API's address>/sandbox`), on a development machine only.
fn sandbox_base(env: &Env, api_addr: &SocketAddr, dev: bool) -> anyhow::Result<Option<String>> {
    if !env.parse_or("PLATFORM_SANDBOX", false)? {
        return Ok(None);
    }
    if !dev {
        bail!(
            "PLATFORM_SANDBOX=true needs ALMANAC_DEV=true: the sandbox's fake platforms take \
             any sign-in and publish nowhere, so they run on a development machine only (unset \
             PLATFORM_SANDBOX, or set ALMANAC_DEV=true there)"
        );
    }
    let base = match env
        .optional("PUBLIC_BASE_URL")
        .or_else(|| env.optional("OAUTH_REDIRECT_BASE_URL"))
    {
        Some(base) => base,
        None if api_addr.port() == 0 => bail!(
            "PLATFORM_SANDBOX=true needs the API's address before it binds: set API_ADDR with \
             a port, or PUBLIC_BASE_URL"
        ),
        None => format!("http://{api_addr}"),
    };
    Ok(Some(format!("{}/sandbox", base.trim_end_matches('/'))))
}

/// `TOKEN_ENCRYPTION_KEY`: required when publishing is on, and then not a weak one.
fn token_key(env: &Env, enabled: bool, dev: bool) -> anyhow::Result<Option<TokenKey>> {
    match env.optional("TOKEN_ENCRYPTION_KEY") {
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
            Ok(Some(key))
        }
        None if enabled => bail!(
            "TOKEN_ENCRYPTION_KEY: required when PUBLISH_SERVICE_ENABLED=true (base64 of 32 random bytes, e.g. `openssl rand -base64 32`)"
        ),
        None => Ok(None),
    }
}

/// `key`, a number of minutes from 0 to a week (10,080), else `default`.
fn minutes_within_a_week(env: &Env, key: &str, default: i64) -> anyhow::Result<chrono::Duration> {
    let minutes: i64 = env.parse_or(key, default)?;
    anyhow::ensure!(
        (0..=10_080).contains(&minutes),
        "{key} must be between 0 and 10080 (a week), got {minutes}"
    );
    Ok(chrono::Duration::minutes(minutes))
}
