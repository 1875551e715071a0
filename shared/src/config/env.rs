//! The environment, read one variable at a time: every reader names the variable in its
//! error. And secrets: a value never printed, and the checks a production secret passes.

use std::{fmt, str::FromStr, sync::Arc, time::Duration};

use anyhow::{Context, bail};

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
pub(super) fn check_secret(
    name: &str,
    value: &[u8],
    dev: bool,
    generate: &str,
) -> anyhow::Result<()> {
    match weak_secret(value) {
        Some(why) if !dev => bail!(
            "{name}: {why}: generate one with `{generate}` (ALMANAC_DEV=true allows it on a development machine)"
        ),
        _ => Ok(()),
    }
}

/// `JWT_SECRET`, checked; the development secret when it is unset and `dev`.
pub(super) fn jwt_secret(env: &Env, dev: bool) -> anyhow::Result<Secret> {
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

/// Reads variables through a lookup (the process environment, or a test's map).
pub(super) struct Env<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

/// The variables the settings were read from, kept for the parts that read their own: each
/// publishing platform reads its `<NAME>_*` in its own folder (`almanac-publishing`). Every
/// reader names the variable in its error, as the settings' do.
#[derive(Clone)]
pub struct Vars(pub(super) Arc<Lookup>);

/// How a variable is looked up: its value, if set.
pub(super) type Lookup = dyn Fn(&str) -> Option<String> + Send + Sync;

impl fmt::Debug for Vars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Vars(..)")
    }
}

impl Vars {
    pub(super) fn env(&self) -> Env<'_> {
        Env(&*self.0)
    }

    /// `key`'s value, when set and not blank.
    pub fn optional(&self, key: &str) -> Option<String> {
        self.env().optional(key)
    }

    /// `key`'s value, else `default`.
    pub fn string_or(&self, key: &str, default: &str) -> anyhow::Result<String> {
        self.env().string_or(key, default)
    }

    /// `key` read as a `T`, else `default`; an error naming `key` when it does not read.
    pub fn parse_or<T>(&self, key: &str, default: T) -> anyhow::Result<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.env().parse_or(key, default)
    }

    /// `key`, an http(s) URL, else `default`.
    pub fn url_or(&self, key: &str, default: &str) -> anyhow::Result<String> {
        let value = self.string_or(key, default)?;
        http_url(key, &value)?;
        Ok(value)
    }
}

/// `url`, the value of `key`, is an http(s) URL.
pub(super) fn http_url(key: &str, url: &str) -> anyhow::Result<()> {
    match url::Url::parse(url) {
        Ok(parsed) if ["http", "https"].contains(&parsed.scheme()) => Ok(()),
        _ => bail!("{key}: expected an http(s) URL, got `{url}`"),
    }
}

impl Env<'_> {
    pub(super) fn optional(&self, key: &str) -> Option<String> {
        (self.0)(key).filter(|v| !v.trim().is_empty())
    }

    pub(super) fn required(&self, key: &str) -> anyhow::Result<String> {
        self.optional(key)
            .with_context(|| format!("{key}: required but not set"))
    }

    pub(super) fn string_or(&self, key: &str, default: &str) -> anyhow::Result<String> {
        Ok(self.optional(key).unwrap_or_else(|| default.to_owned()))
    }

    pub(super) fn parse_or<T>(&self, key: &str, default: T) -> anyhow::Result<T>
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

    /// The name `key` is set under: `key`, else its former name `old` (still read, so a
    /// deployment's settings keep working after a rename).
    pub(super) fn renamed<'k>(&self, key: &'k str, old: &'k str) -> &'k str {
        if self.optional(key).is_none() && self.optional(old).is_some() {
            old
        } else {
            key
        }
    }

    /// [`Env::parse_or`] of `key`, else of its former name `old`.
    pub(super) fn parse_renamed_or<T>(&self, key: &str, old: &str, default: T) -> anyhow::Result<T>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        self.parse_or(self.renamed(key, old), default)
    }

    /// Seconds, fractions allowed (`0.5`).
    pub(super) fn seconds_or(&self, key: &str, default_secs: f64) -> anyhow::Result<Duration> {
        let secs: f64 = self.parse_or(key, default_secs)?;
        Duration::try_from_secs_f64(secs).map_err(|_| {
            anyhow::anyhow!("{key}: expected a non-negative number of seconds, got `{secs}`")
        })
    }

    pub(super) fn millis_or(&self, key: &str, default_ms: u64) -> anyhow::Result<Duration> {
        self.parse_or(key, default_ms).map(Duration::from_millis)
    }
}
