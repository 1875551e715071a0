//! Publishing calendar entries to TikTok and Instagram (seed 001; the platforms' contracts: `docs/platforms.md`).
//!
//! Every publish is an intent row first ([`IntentStatus`]), dry run by default. The pure
//! rules (what a post says, what each platform allows, the exact requests a publish sends)
//! are in [`post`] (`domain::publish`, with the intent's types); the platforms behind one [`Adapter`] trait in [`tiktok`] and
//! [`instagram`]; credentials, encrypted at rest ([`crypto`]) and refreshed from the
//! platform's own `expires_in`, in [`oauth`] and [`channels`]; the publish request itself,
//! shared by the API and the replay of requests spooled while Postgres was down, in
//! [`request`] and [`spool`]; the intents' rows in `store::publish`.
//!
//! At most once: the one request with an outside effect (TikTok's init, Instagram's
//! `media_publish`) is sent once per intent. It is marked (`sending_at`, committed) before
//! it goes; a lost answer makes the intent `unknown`, and only read-only checks resolve it.

use std::{fmt, sync::Arc, time::Duration};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::config::{PlatformSettings, PublishSettings};

pub mod channels;
pub mod crypto;
pub mod instagram;
pub mod oauth;
pub mod request;
pub mod spool;
pub mod tiktok;

pub use crate::domain::publish::*;

/// A token an adapter calls with, and the account it acts for.
#[derive(Clone)]
pub struct Auth {
    /// TikTok's `open_id` or the Instagram user id.
    pub account_id: String,
    pub access_token: String,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("account_id", &self.account_id)
            .field("access_token", &"***")
            .finish()
    }
}

/// One request a publish sends, as a dry run shows it (secrets masked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedRequest {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: Value,
    #[serde(default)]
    pub body: Value,
    /// What the request does (`read-only`, `harmless`, `publishes`).
    pub effect: String,
}

/// What the read-only checks found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The options as a publish sends them (TikTok's privacy level resolved).
    pub options: Options,
    /// Posts the account may still publish today (Instagram).
    pub remaining: Option<i64>,
}

/// The answer to the request with an outside effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// Taken: the remote id to follow it by, and the post's id when it is already known.
    Accepted {
        remote_id: String,
        post_id: Option<String>,
    },
    /// The platform said it did not apply it.
    NotApplied(Failure),
    /// No answer (a timeout, a dropped connection, a 5xx after sending): it may have.
    Unknown(String),
}

/// A platform call's answer, as both adapters read them.
pub(crate) enum Answer {
    Ok(Value),
    Refused(Failure),
    /// No usable answer (why); `true` when the request certainly never left (connection
    /// refused), so it cannot have had an effect.
    Lost(String, bool),
}

impl Answer {
    /// A request that got no answer from `platform`.
    pub(crate) fn lost(error: &reqwest::Error, platform: Platform) -> Self {
        let label = platform.label();
        let reason = if error.is_timeout() {
            "the request timed out".to_owned()
        } else if error.is_connect() {
            format!("{label} could not be reached")
        } else {
            format!("the connection was lost before {label} answered")
        };
        Answer::Lost(reason, error.is_connect())
    }
}

/// What a read-only check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    Published {
        post_id: Option<String>,
    },
    DraftSent,
    Failed(Failure),
    /// Not settled yet, or not knowable now (the reason).
    Pending(String),
}

/// A platform, as the publish job and the dry run use it.
#[async_trait]
pub trait Adapter: Send + Sync {
    fn platform(&self) -> Platform;

    /// Problems the platform's rules find in `post` (no I/O).
    fn validate(&self, post: &Post, options: &Options) -> Vec<post::Problem>;

    /// The requests a publish of `post` sends, secrets masked (no I/O).
    fn plan(&self, account_id: &str, post: &Post, options: &Options) -> Vec<PlannedRequest>;

    /// The read-only checks a publish depends on (TikTok's creator options, Instagram's
    /// remaining quota); the options as a publish would send them (TikTok's privacy level
    /// resolved).
    async fn check(&self, auth: &Auth, post: &Post, options: &Options) -> Result<Checked, Failure>;

    /// Steps without an outside effect before the one with it (Instagram's container,
    /// until it is `FINISHED`); the remote id to keep.
    async fn prepare(
        &self,
        auth: &Auth,
        post: &Post,
        options: &Options,
    ) -> Result<Option<String>, Failure>;

    /// The request with an outside effect. Sent once per intent.
    async fn send(
        &self,
        auth: &Auth,
        post: &Post,
        options: &Options,
        prepared: Option<&str>,
    ) -> Sent;

    /// Read-only: where a sent publish is (`remote_id` as `send` or `prepare` returned it).
    async fn confirm(&self, auth: &Auth, remote_id: Option<&str>, post: &Post) -> Remote;
}

/// The adapters, sharing one HTTP client.
#[derive(Clone)]
pub struct Platforms {
    pub settings: Arc<PublishSettings>,
    pub http: reqwest::Client,
    tiktok: Arc<tiktok::TikTok>,
    instagram: Arc<instagram::Instagram>,
}

impl Platforms {
    pub fn new(settings: &PublishSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .connect_timeout(settings.http_timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            tiktok: Arc::new(tiktok::TikTok::new(http.clone(), settings)),
            instagram: Arc::new(instagram::Instagram::new(http.clone(), settings)),
            settings: Arc::new(settings.clone()),
            http,
        })
    }

    pub fn adapter(&self, platform: Platform) -> &dyn Adapter {
        match platform {
            Platform::Tiktok => self.tiktok.as_ref(),
            Platform::Instagram => self.instagram.as_ref(),
        }
    }

    pub fn of(&self, platform: Platform) -> &PlatformSettings {
        match platform {
            Platform::Tiktok => &self.settings.tiktok,
            Platform::Instagram => &self.settings.instagram,
        }
    }
}

/// Counts an intent's outcome (`publish_intents_total{channel, outcome}`).
/// A channel a platform does not publish to is counted as `other`: channels are the
/// users' own slugs, which never go into a label.
pub fn count_outcome(channel: &str, outcome: IntentStatus) {
    let channel = Platform::of_channel(channel).map_or("other", Platform::as_str);
    metrics::counter!("publish_intents_total", "channel" => channel, "outcome" => outcome.as_str())
        .increment(1);
}

/// Counts and logs a request refused for credentials missing: a channel's (its token is
/// absent or refused) or the app's own (OAuth client credentials, `TOKEN_ENCRYPTION_KEY`;
/// `channel` empty for the key, which is every channel's).
/// `adapter_auth_missing_total{channel, reason}`, `reason` one of `token_missing`,
/// `token_refused`, `oauth_not_configured`, `token_key_missing`.
pub fn auth_missing(channel: &str, code: &str) {
    let reason = match code {
        "CHANNEL_NOT_CONNECTED" => "token_missing",
        "OAUTH_NOT_CONFIGURED" => "oauth_not_configured",
        "TOKEN_STORE_UNCONFIGURED" => "token_key_missing",
        _ => "token_refused",
    };
    let channel = Platform::of_channel(channel).map_or("", Platform::as_str);
    tracing::warn!(
        channel,
        code,
        reason,
        "channel auth or app configuration missing; nothing attempted"
    );
    metrics::counter!("adapter_auth_missing_total", "channel" => channel, "reason" => reason)
        .increment(1);
}
