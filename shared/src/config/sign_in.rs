//! `SIGN_IN_*`, `SIGN_UP*`, `OIDC_*`, `TRUSTED_PROXY_HOPS`: how people sign in to the web
//! app (an emailed link, single sign-on) and who may have an account.

use std::time::Duration;

use anyhow::{bail, ensure};

use super::env::{Env, Secret};

/// Who may have an account (`SIGN_UP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignUp {
    /// Only existing users and invited addresses (`almanac-api invite`): the default.
    Invite,
    /// Also any address at one of these domains (`SIGN_UP_DOMAINS`, lower-case).
    Domains(Vec<String>),
    /// Anyone who can read their email.
    Open,
}

impl SignUp {
    /// Whether an address with no account and no invitation may have one.
    pub fn admits(&self, email: &str) -> bool {
        match self {
            SignUp::Invite => false,
            SignUp::Open => true,
            SignUp::Domains(domains) => email
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domains.iter().any(|d| d == domain)),
        }
    }
}

/// Single sign-on with an OpenID Connect provider (all of `OIDC_ISSUER_URL`,
/// `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET` set).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer (`OIDC_ISSUER_URL`, no trailing `/`): its discovery document is
    /// `<issuer>/.well-known/openid-configuration`. Set by the operator and trusted as the
    /// platforms' `*_API_BASE_URL` are (it may sit on a private network).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// The button's words (`OIDC_LABEL`).
    pub label: String,
    /// `OIDC_SCOPES`, space-separated; `openid` always among them.
    pub scopes: String,
}

#[derive(Debug, Clone)]
pub struct SignInSettings {
    /// How long an emailed link works (`SIGN_IN_TTL_MINUTES`, 15).
    pub ttl: Duration,
    /// How long an emailed workspace invitation works (`INVITATION_TTL_DAYS`, 7).
    pub invitation_ttl: Duration,
    /// Links asked for one address per window (`SIGN_IN_RATE_PER_EMAIL`, 5).
    pub rate_per_email: u32,
    /// Sign-in requests (links and single sign-on starts) per client address per window
    /// (`SIGN_IN_RATE_PER_CLIENT`, 20).
    pub rate_per_client: u32,
    /// The window of both (`SIGN_IN_RATE_WINDOW_SECS`, 3600).
    pub rate_window: Duration,
    /// `SIGN_UP` (`invite`, `domains` with `SIGN_UP_DOMAINS`, `open`).
    pub sign_up: SignUp,
    pub oidc: Option<OidcSettings>,
    /// Proxies in front of the API whose `X-Forwarded-For` entries are believed
    /// (`TRUSTED_PROXY_HOPS`, 0: the connection's own address is the client's).
    pub trusted_proxy_hops: usize,
}

impl SignInSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        let ttl_minutes: u64 = env.parse_or("SIGN_IN_TTL_MINUTES", 15)?;
        let invitation_days: u64 = env.parse_or("INVITATION_TTL_DAYS", 7)?;
        anyhow::ensure!(
            (1..=90).contains(&invitation_days),
            "INVITATION_TTL_DAYS: between 1 and 90, got {invitation_days}"
        );
        ensure!(
            (1..=1440).contains(&ttl_minutes),
            "SIGN_IN_TTL_MINUTES: between 1 and 1440, got {ttl_minutes}"
        );
        let rate_window: u64 = env.parse_or("SIGN_IN_RATE_WINDOW_SECS", 3600)?;
        ensure!(
            rate_window > 0,
            "SIGN_IN_RATE_WINDOW_SECS must be at least 1"
        );
        let domains: Vec<String> = env
            .string_or("SIGN_UP_DOMAINS", "")?
            .split(',')
            .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        let sign_up = match env.string_or("SIGN_UP", "invite")?.as_str() {
            "invite" => SignUp::Invite,
            "open" => SignUp::Open,
            "domains" if domains.is_empty() => {
                bail!("SIGN_UP=domains needs SIGN_UP_DOMAINS (comma-separated, e.g. `example.com`)")
            }
            "domains" => SignUp::Domains(domains),
            other => bail!("SIGN_UP: expected `invite`, `domains` or `open`, got `{other}`"),
        };
        Ok(Self {
            ttl: Duration::from_secs(ttl_minutes * 60),
            invitation_ttl: Duration::from_secs(invitation_days * 86_400),
            rate_per_email: env.parse_or("SIGN_IN_RATE_PER_EMAIL", 5)?,
            rate_per_client: env.parse_or("SIGN_IN_RATE_PER_CLIENT", 20)?,
            rate_window: Duration::from_secs(rate_window),
            sign_up,
            oidc: oidc(env)?,
            trusted_proxy_hops: env.parse_or("TRUSTED_PROXY_HOPS", 0)?,
        })
    }
}

fn oidc(env: &Env) -> anyhow::Result<Option<OidcSettings>> {
    let (issuer, client_id, secret) = (
        env.optional("OIDC_ISSUER_URL"),
        env.optional("OIDC_CLIENT_ID"),
        env.optional("OIDC_CLIENT_SECRET"),
    );
    let (issuer, client_id, secret) = match (issuer, client_id, secret) {
        (None, None, None) => return Ok(None),
        (Some(issuer), Some(id), Some(secret)) => (issuer, id, secret),
        _ => bail!(
            "OIDC_ISSUER_URL, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET: set all three for single \
             sign-on, or none"
        ),
    };
    match url::Url::parse(&issuer) {
        Ok(url) if ["http", "https"].contains(&url.scheme()) && url.query().is_none() => {}
        _ => {
            bail!("OIDC_ISSUER_URL: expected the provider's http(s) issuer address, got `{issuer}`")
        }
    }
    let scopes = env.string_or("OIDC_SCOPES", "openid email profile")?;
    let mut scopes: Vec<&str> = scopes.split_whitespace().collect();
    if !scopes.contains(&"openid") {
        scopes.insert(0, "openid");
    }
    Ok(Some(OidcSettings {
        issuer: issuer.trim_end_matches('/').to_owned(),
        client_id,
        client_secret: Secret::new(secret),
        label: env.string_or("OIDC_LABEL", "Sign in with single sign-on")?,
        scopes: scopes.join(" "),
    }))
}
