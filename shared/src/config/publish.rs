//! `PUBLISH_*`, `TIKTOK_*`, `INSTAGRAM_*`, `LINKEDIN_*`, `THREADS_*`, `BLUESKY_*`, `FACEBOOK_*`,
//! `YOUTUBE_*`, `OAUTH_REDIRECT_BASE_URL`,
//! `TOKEN_ENCRYPTION_KEY`:
//! publishing (seed 001).

use std::{fmt, net::SocketAddr, time::Duration};

use anyhow::bail;
use base64::Engine;
use rand::RngCore;

use super::env::{Env, Secret, check_secret};

/// The platforms' endpoints and the app's credentials (`TIKTOK_*`, `INSTAGRAM_*`,
/// `LINKEDIN_*`).
#[derive(Debug, Clone)]
pub struct PlatformSettings {
    pub api_base_url: String,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub authorize_url: String,
    pub token_url: String,
}

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
    pub tiktok: PlatformSettings,
    pub instagram: PlatformSettings,
    pub linkedin: PlatformSettings,
    /// `THREADS_*`: the Threads app (its own id and secret, not the Meta app's).
    pub threads: PlatformSettings,
    /// `FACEBOOK_*`: the Meta app Facebook Login and the Pages API are used through.
    pub facebook: PlatformSettings,
    /// `YOUTUBE_*`: the Google Cloud project's OAuth client the YouTube Data API is used
    /// through.
    pub youtube: PlatformSettings,
    /// `YOUTUBE_DAILY_UPLOADS`: the uploads the Google Cloud project may make a Pacific day
    /// (100, Google's default `videos.insert` bucket), shared by every user.
    pub youtube_daily_uploads: u32,
    /// `BLUESKY_API_BASE_URL`: where a Bluesky account signs in (`https://bsky.social`, the
    /// entryway of Bluesky's hosted accounts; a self-hosted PDS's own address for its
    /// accounts). Posts then go to the PDS its session names.
    pub bluesky_api_base_url: String,
    /// `LINKEDIN_API_VERSION`: the `LinkedIn-Version` (YYYYMM) every REST call names.
    pub linkedin_version: String,
    /// `LINKEDIN_SCOPES`: what connecting asks for (an app without LinkedIn's Community
    /// Management product drops the organisation scopes and posts as members only).
    pub linkedin_scopes: String,
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

/// `PUBLISH_*`, the platforms' ([`Endpoints`]), `OAUTH_REDIRECT_BASE_URL`,
/// `TOKEN_ENCRYPTION_KEY`.
impl PublishSettings {
    pub(super) fn read(env: &Env, api_addr: &SocketAddr, dev: bool) -> anyhow::Result<Self> {
        let enabled = env.parse_or("PUBLISH_SERVICE_ENABLED", false)?;
        let token_key = token_key(env, enabled, dev)?;
        let sandbox = sandbox_base(env, api_addr, dev)?;
        let Endpoints {
            tiktok,
            instagram,
            linkedin,
            threads,
            facebook,
            youtube,
            bluesky_api_base_url,
        } = Endpoints::read(env, sandbox.as_deref())?;
        let linkedin_version = linkedin_version(env)?;
        let settings = PublishSettings {
            enabled,
            sandbox,
            tiktok,
            instagram,
            linkedin,
            threads,
            facebook,
            youtube,
            youtube_daily_uploads: {
                let most: u32 = env.parse_or("YOUTUBE_DAILY_UPLOADS", 100)?;
                anyhow::ensure!(most > 0, "YOUTUBE_DAILY_UPLOADS must be at least 1");
                most
            },
            bluesky_api_base_url,
            linkedin_version,
            linkedin_scopes: env.string_or(
                "LINKEDIN_SCOPES",
                "openid profile w_member_social w_organization_social r_organization_social",
            )?,
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

/// A platform's settings as `Endpoints::read` reads them: its variables' prefix (its name in
/// capitals), the names of its app credentials, and its real API base, authorize and token
/// URLs (an empty token URL follows the API base, as TikTok's does).
struct Hosts {
    prefix: &'static str,
    credentials: (&'static str, &'static str),
    real: [&'static str; 3],
}

const TIKTOK: Hosts = Hosts {
    prefix: "TIKTOK",
    credentials: ("TIKTOK_CLIENT_KEY", "TIKTOK_CLIENT_SECRET"),
    real: [
        "https://open.tiktokapis.com",
        "https://www.tiktok.com/v2/auth/authorize/",
        "",
    ],
};

const INSTAGRAM: Hosts = Hosts {
    prefix: "INSTAGRAM",
    credentials: ("INSTAGRAM_APP_ID", "INSTAGRAM_APP_SECRET"),
    real: [
        "https://graph.instagram.com",
        "https://www.instagram.com/oauth/authorize",
        "https://api.instagram.com/oauth/access_token",
    ],
};

const LINKEDIN: Hosts = Hosts {
    prefix: "LINKEDIN",
    credentials: ("LINKEDIN_CLIENT_ID", "LINKEDIN_CLIENT_SECRET"),
    real: [
        "https://api.linkedin.com",
        "https://www.linkedin.com/oauth/v2/authorization",
        "https://www.linkedin.com/oauth/v2/accessToken",
    ],
};

const THREADS: Hosts = Hosts {
    prefix: "THREADS",
    credentials: ("THREADS_CLIENT_ID", "THREADS_CLIENT_SECRET"),
    real: [
        "https://graph.threads.net",
        "https://threads.com/oauth/authorize",
        "https://graph.threads.net/oauth/access_token",
    ],
};

const FACEBOOK: Hosts = Hosts {
    prefix: "FACEBOOK",
    credentials: ("FACEBOOK_CLIENT_ID", "FACEBOOK_CLIENT_SECRET"),
    real: [
        "https://graph.facebook.com",
        "https://www.facebook.com/v25.0/dialog/oauth",
        "https://graph.facebook.com/v25.0/oauth/access_token",
    ],
};

const YOUTUBE: Hosts = Hosts {
    prefix: "YOUTUBE",
    credentials: ("YOUTUBE_CLIENT_ID", "YOUTUBE_CLIENT_SECRET"),
    real: [
        "https://www.googleapis.com",
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
    ],
};

/// Where the sandbox serves the platform named `name` in place of `real` (one of its URLs):
/// under `<sandbox>/<name>`, at the real URL's path; its authorize step at
/// `<sandbox>/<name>/authorize`. The fakes answer there (`almanac-publishing`'s sandbox).
fn sandboxed(base: &str, name: &str, real: &str, authorize: bool) -> String {
    if authorize {
        return format!("{base}/{name}/authorize");
    }
    let path = url::Url::parse(real).map_or(String::new(), |url| url.path().to_owned());
    let path = if path == "/" { "" } else { path.as_str() };
    format!("{base}/{name}{path}")
}

/// The platforms' endpoints and app credentials (`TIKTOK_*`, `INSTAGRAM_*`, `LINKEDIN_*`,
/// `THREADS_*`, `FACEBOOK_*`, `YOUTUBE_*`, `BLUESKY_*`).
struct Endpoints {
    tiktok: PlatformSettings,
    instagram: PlatformSettings,
    linkedin: PlatformSettings,
    threads: PlatformSettings,
    facebook: PlatformSettings,
    youtube: PlatformSettings,
    bluesky_api_base_url: String,
}

impl Endpoints {
    /// Each platform's settings: the real hosts, or the sandbox's under `sandbox`.
    fn read(env: &Env, sandbox: Option<&str>) -> anyhow::Result<Self> {
        let read = |hosts: &Hosts| {
            let name = hosts.prefix.to_ascii_lowercase();
            let defaults = match sandbox {
                Some(base) => {
                    let [api, authorize, token] = hosts.real;
                    [
                        sandboxed(base, &name, api, false),
                        sandboxed(base, &name, authorize, true),
                        match token {
                            "" => String::new(),
                            token => sandboxed(base, &name, token, false),
                        },
                    ]
                }
                None => hosts.real.map(str::to_owned),
            };
            PlatformSettings::read(
                env,
                hosts.prefix,
                hosts.credentials,
                defaults,
                |base| format!("{}/v2/oauth/token/", base.trim_end_matches('/')),
                sandbox.is_some(),
            )
        };
        let bluesky_api_base_url = env.string_or(
            "BLUESKY_API_BASE_URL",
            &match sandbox {
                Some(base) => format!("{base}/bluesky"),
                None => "https://bsky.social".to_owned(),
            },
        )?;
        http_url("BLUESKY_API_BASE_URL", &bluesky_api_base_url)?;
        Ok(Self {
            tiktok: read(&TIKTOK)?,
            instagram: read(&INSTAGRAM)?,
            linkedin: read(&LINKEDIN)?,
            threads: read(&THREADS)?,
            facebook: read(&FACEBOOK)?,
            youtube: read(&YOUTUBE)?,
            bluesky_api_base_url,
        })
    }
}

impl PlatformSettings {
    /// A platform's `<PREFIX>_API_BASE_URL`, `_AUTHORIZE_URL` and `_TOKEN_URL` (each an
    /// http(s) URL; `defaults` in that order, a token URL left empty following the base
    /// through `token`) and its app credentials (`credentials`: the two variables' names;
    /// the sandbox's when `sandbox` and they are unset).
    fn read(
        env: &Env,
        prefix: &str,
        (id, secret): (&str, &str),
        [api_base, authorize, token_default]: [String; 3],
        token: impl FnOnce(&str) -> String,
        sandbox: bool,
    ) -> anyhow::Result<Self> {
        let url = |suffix: &str, default: &str| -> anyhow::Result<String> {
            let key = format!("{prefix}_{suffix}");
            let value = env.string_or(&key, default)?;
            http_url(&key, &value)?;
            Ok(value)
        };
        let api_base_url = url("API_BASE_URL", &api_base)?;
        let token_default = match token_default.is_empty() {
            true => token(&api_base_url),
            false => token_default,
        };
        let sandboxed = |value: &str| sandbox.then(|| format!("sandbox-{value}"));
        Ok(Self {
            client_id: env.optional(id).or_else(|| sandboxed("client")),
            client_secret: env
                .optional(secret)
                .or_else(|| sandboxed("secret"))
                .map(Secret::new),
            authorize_url: url("AUTHORIZE_URL", &authorize)?,
            token_url: url("TOKEN_URL", &token_default)?,
            api_base_url,
        })
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

/// `LINKEDIN_API_VERSION`: a month, as `YYYYMM`.
fn linkedin_version(env: &Env) -> anyhow::Result<String> {
    let version = env.string_or("LINKEDIN_API_VERSION", "202610")?;
    let month = version.get(4..).and_then(|m| m.parse::<u8>().ok());
    if version.len() != 6
        || !version.bytes().all(|b| b.is_ascii_digit())
        || !month.is_some_and(|m| (1..=12).contains(&m))
    {
        bail!("LINKEDIN_API_VERSION: expected a month as YYYYMM (e.g. 202610), got `{version}`");
    }
    Ok(version)
}

/// `url`, the value of `key`, is an http(s) URL.
/// `key`, a number of minutes from 0 to a week (10,080), else `default`.
fn minutes_within_a_week(env: &Env, key: &str, default: i64) -> anyhow::Result<chrono::Duration> {
    let minutes: i64 = env.parse_or(key, default)?;
    anyhow::ensure!(
        (0..=10_080).contains(&minutes),
        "{key} must be between 0 and 10080 (a week), got {minutes}"
    );
    Ok(chrono::Duration::minutes(minutes))
}

fn http_url(key: &str, url: &str) -> anyhow::Result<()> {
    match url::Url::parse(url) {
        Ok(parsed) if ["http", "https"].contains(&parsed.scheme()) => Ok(()),
        _ => bail!("{key}: expected an http(s) URL, got `{url}`"),
    }
}
