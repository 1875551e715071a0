//! Publishing calendar entries to TikTok, Instagram, LinkedIn, Bluesky, Threads, Facebook
//! Pages and YouTube (seed 001; the platforms' contracts: `docs/platforms.md`).
//!
//! Every publish is an intent row first ([`IntentStatus`]), dry run by default. The pure
//! rules (what a post says, what each platform allows, the exact requests a publish sends)
//! are in [`post`] (`domain::publish`, with the intent's types); the platforms behind one
//! [`Adapter`] trait, one folder each in [`platforms`] (with its fake, for the sandbox and
//! the tests, behind the `sandbox` feature, in `sandbox`); credentials, encrypted
//! at rest ([`crypto`]) and refreshed from the platform's own `expires_in`, in [`oauth`] and
//! [`channels`]; the publish request itself,
//! shared by the API and the replay of requests spooled while Postgres was down, in
//! [`request`] and [`spool`]; the intents' rows in `store::publish`.
//!
//! At most once: the one request with an outside effect (TikTok's init, Instagram's
//! `media_publish`, LinkedIn's post) is sent once per intent. It is marked (`sending_at`,
//! committed) before it goes; a lost answer makes the intent `unknown`, and only read-only
//! checks resolve it.

use std::{collections::BTreeMap, fmt, sync::Arc, time::Duration};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use almanac_shared::config::PublishSettings;
use almanac_shared::media::Media;
pub use platforms::PlatformSettings;

pub mod catalogue;
pub mod channels;
pub mod evergreen;
pub mod http;
pub mod oauth;
pub mod platforms;
pub mod posting_queue;
pub mod quota;
pub mod request;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod spool;
pub mod uploads;

pub use almanac_shared::domain::publish::*;
use almanac_shared::store::publish as store;

/// The refusal code of a request to a platform that found its channel's permits
/// (`PLATFORM_MAX_CONCURRENCY`) taken: nothing was sent, and the publish job goes back to
/// the ledger for a moment.
pub const PLATFORM_BUSY: &str = "PLATFORM_BUSY";

tokio::task_local! {
    /// The permits of the publish being run: its requests to one platform for one channel.
    pub static REQUEST_PERMITS: RequestPermits;
}

/// Whose permits a publish's requests take (`PLATFORM_MAX_CONCURRENCY` per platform and
/// channel, across the fleet).
pub struct RequestPermits {
    pub permits: Arc<almanac_shared::permits::Permits>,
    /// `<platform>:<channel>`.
    pub scope: String,
    pub max: u32,
}

/// How long a request waits for its channel's permit before its publish goes back to the
/// ledger: a publish is a few requests in a row, and one that went back at every taken
/// permit would start over each time.
const PERMIT_PATIENCE: Duration = Duration::from_secs(2);

/// A permit for one request to the platform called `label`, held for the request and its
/// answer, when a publish is being run (none is needed otherwise); or, when none came free
/// within [`PERMIT_PATIENCE`], the refusal to answer with. A job waiting between requests
/// holds none.
pub(crate) async fn request_permit(
    label: &str,
) -> Result<Option<almanac_shared::permits::Permit>, Failure> {
    let Ok((permits, scope, max)) =
        REQUEST_PERMITS.try_with(|asked| (asked.permits.clone(), asked.scope.clone(), asked.max))
    else {
        return Ok(None);
    };
    match permits.take_within(&scope, max, PERMIT_PATIENCE).await {
        Ok(permit) => Ok(Some(permit)),
        Err(_) => {
            metrics::counter!("platform_permits_refused_total", "platform" => label.to_owned())
                .increment(1);
            Err(Failure::retryable(
                PLATFORM_BUSY,
                format!(
                    "{label} already has {max} requests in flight for this channel (PLATFORM_MAX_CONCURRENCY); this publish waits its turn"
                ),
            ))
        }
    }
}

/// A token an adapter calls with, and the account it acts for.
#[derive(Clone)]
pub struct Auth {
    /// TikTok's `open_id` or the Instagram user id.
    pub account_id: String,
    pub access_token: String,
    /// Where the account's API is served, where its platform has many hosts (a Bluesky
    /// account's PDS).
    pub service_url: Option<String>,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("account_id", &self.account_id)
            .field("access_token", &"***")
            .field("service_url", &self.service_url)
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

/// One publish as its platform is asked it: the account's credentials, the post, and the
/// options (as the checks resolved them, once they ran).
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub auth: &'a Auth,
    pub post: &'a Post,
    pub options: &'a Options,
}

/// A sent publish, as a read-only check looks for it: the remote id `send` or `prepare`
/// returned, the post, and when it was marked sending (nothing older is taken for it).
#[derive(Debug, Clone, Copy)]
pub struct Settling<'a> {
    pub remote_id: Option<&'a str>,
    pub post: &'a Post,
    pub since: DateTime<Utc>,
}

/// A published post's first comment as its platform is asked it: the post's id (as the
/// publish settled it), the comment, and the intent sending both (a platform where the
/// sender names its records derives the comment's name from it, so a repeat names the
/// same).
#[derive(Debug, Clone, Copy)]
pub struct Commenting<'a> {
    pub post_id: &'a str,
    pub text: &'a str,
    pub intent_id: Option<uuid::Uuid>,
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
pub(crate) enum Reply {
    Ok(Value),
    Refused(Failure),
    /// No usable answer (why); `true` when the request certainly never left (connection
    /// refused), so it cannot have had an effect.
    Lost(String, bool),
}

impl Reply {
    /// The answer to the request with an outside effect: a 2xx read by `accepted`, a
    /// refusal not applied, a lost answer unknown (unless the request certainly never
    /// left).
    pub(crate) fn sent(self, accepted: impl FnOnce(Value) -> Sent) -> Sent {
        match self {
            Reply::Ok(body) => accepted(body),
            Reply::Refused(failure) => Sent::NotApplied(failure),
            Reply::Lost(reason, false) => Sent::Unknown(reason),
            Reply::Lost(reason, true) => {
                Sent::NotApplied(Failure::retryable("PLATFORM_UNAVAILABLE", reason))
            }
        }
    }

    /// The answer to a comment's request: taken, its id the first of `fields` the answer
    /// holds (none: unknown, as a lost answer is), or refused, or lost.
    pub(crate) fn commented(self, fields: &[&str]) -> Sent {
        self.sent(
            |body| match fields.iter().find_map(|field| body[*field].as_str()) {
                Some(id) => Sent::Accepted {
                    remote_id: id.to_owned(),
                    post_id: Some(id.to_owned()),
                },
                None => Sent::Unknown("the comment's answer named no id".into()),
            },
        )
    }

    /// A request that got no answer from the platform called `label`.
    pub(crate) fn lost(error: &reqwest::Error, label: &str) -> Self {
        let reason = if error.is_timeout() {
            "the request timed out".to_owned()
        } else if error.is_connect() {
            format!("{label} could not be reached")
        } else {
            format!("the connection was lost before {label} answered")
        };
        Reply::Lost(reason, error.is_connect())
    }

    /// The answer to a read-only request for `what`: a refusal as it is, a lost answer
    /// retried later.
    pub(crate) fn read(self, label: &str, what: &str) -> Result<Value, Failure> {
        match self {
            Reply::Ok(body) => Ok(body),
            Reply::Refused(failure) => Err(failure),
            Reply::Lost(reason, _) => Err(Failure::retryable(
                "PLATFORM_UNAVAILABLE",
                format!("{label}'s {what} could not be read: {reason}"),
            )),
        }
    }
}

/// A published post's numbers as its platform reported them ([`Measure::metrics`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostMetrics {
    pub reading: almanac_shared::domain::analytics::Reading,
    /// The platform's own reach (accounts reached), where it has one.
    pub reach: Option<u64>,
    /// The account's followers now, where the platform gives no views or impressions.
    pub followers: Option<u64>,
}

/// The refusal code of a metrics read the channel was not granted.
pub const ANALYTICS_SCOPE_MISSING: &str = "ANALYTICS_SCOPE_MISSING";

/// The refusal of a metrics read `label` did not grant (`scope`, the permission it needs).
pub fn analytics_refused(label: &str, scope: &str) -> Failure {
    Failure::permanent(
        ANALYTICS_SCOPE_MISSING,
        format!(
            "{label} did not grant `{scope}`, which reading a post's numbers needs: connect again to see analytics"
        ),
    )
}

/// The refusal of a metrics read by a channel granted `granted` (as its platform listed
/// it), when that lacks the permission `adapter` reads numbers with; `None` when it has it
/// or the grant is not known.
pub fn scope_missing(adapter: &dyn Adapter, granted: Option<&str>) -> Option<Failure> {
    let needed = adapter.metrics_scope()?;
    (!grants(granted?, needed)).then(|| analytics_refused(adapter.label(), needed))
}

/// Whether a grant (scopes as its platform listed them, comma- or space-separated; Google's
/// as addresses) holds `needed`.
fn grants(granted: &str, needed: &str) -> bool {
    granted
        .split([',', ' '])
        .any(|scope| scope == needed || scope.ends_with(&format!("/{needed}")))
}

/// A first comment under a post whose id `label` did not give: nothing is sent.
pub(crate) fn no_post_to_comment(label: &str) -> Sent {
    Sent::NotApplied(Failure::permanent(
        "FIRST_COMMENT_UNSUPPORTED",
        format!("the {label} post's id is not known, so no comment can go under it"),
    ))
}

/// The refusal code of a first comment the channel was not granted the permission for.
pub const FIRST_COMMENT_SCOPE_MISSING: &str = "FIRST_COMMENT_SCOPE_MISSING";

/// Why a channel granted `granted` (as its platform listed it) cannot post `adapter`'s first
/// comments: the permission commenting needs is missing. `None` when it has it, the
/// platform needs none, or the grant is not known.
pub fn comment_scope_missing(adapter: &dyn Adapter, granted: Option<&str>) -> Option<Failure> {
    let needed = adapter.comment_scope()?;
    (!grants(granted?, needed)).then(|| {
        Failure::permanent(
            FIRST_COMMENT_SCOPE_MISSING,
            format!(
                "{} did not grant `{needed}`, which posting a first comment needs: connect again to post first comments",
                adapter.label()
            ),
        )
    })
}

/// A first comment's refusal: a permission refused says to connect again (where the
/// platform grants commenting on its own); the rest stay as they are.
pub fn comment_refusal(adapter: &dyn Adapter, failure: Failure) -> Failure {
    match adapter.comment_scope() {
        Some(scope) => when_denied(failure, || {
            Failure::permanent(
                FIRST_COMMENT_SCOPE_MISSING,
                format!(
                    "{} refused the comment: it needs `{scope}`, so connect again to post first comments",
                    adapter.label()
                ),
            )
        }),
        None => failure,
    }
}

/// A metrics read's refusal: a permission refused becomes [`analytics_refused`]; the rest
/// stay as they are.
pub(crate) fn metrics_refusal(failure: Failure, label: &str, scope: &str) -> Failure {
    when_denied(failure, || analytics_refused(label, scope))
}

/// `failure`, or, when the platform refused a permission, the refusal `instead` makes,
/// keeping the platform's own code.
fn when_denied(failure: Failure, instead: impl FnOnce() -> Failure) -> Failure {
    match failure.code.as_str() {
        "PERMISSION_DENIED" | "SCOPE_NOT_AUTHORIZED" => {
            let refused = instead();
            match failure.platform_code {
                Some(code) => refused.platform(code),
                None => refused,
            }
        }
        _ => failure,
    }
}

/// The refusal of a draft by a platform that keeps none made by other apps (`why`: what
/// the person can do instead), when `options` ask for one.
pub(crate) fn no_drafts(options: &Options, why: &str) -> Option<post::Problem> {
    (options.mode == Mode::Draft).then(|| post::Problem::new("DRAFT_UNSUPPORTED", "mode", why))
}

/// A count in a platform's answer, as a number or as the digits of one.
pub(crate) fn count(value: &Value) -> Option<u64> {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
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
    /// The platform gives no way to read it (LinkedIn's member posts): no check will ever
    /// settle it, and the message tells the user where to look before retrying.
    Unreadable(String),
}

/// How a platform's tokens are refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// A refresh token gets a new access token, also after the access token expired, as
    /// long as the refresh token lives (TikTok; the refresh token rotates).
    WithRefreshToken,
    /// A still valid access token is exchanged for a new one; an expired one cannot be
    /// (Instagram's long-lived tokens).
    WhileValid,
}

/// When a platform's tokens are refreshed, read from its own rules (lifetimes themselves
/// always come from the platform's `expires_in`).
#[derive(Debug, Clone, Copy)]
pub struct TokenPolicy {
    pub refresh: Refresh,
    /// A token expiring within this is refreshed before a call.
    pub ahead: chrono::Duration,
    /// Only tokens at least this old are refreshed.
    pub min_age: chrono::Duration,
}

/// A channel's token as the policy reads it.
#[derive(Debug, Clone, Copy)]
pub struct TokenState {
    pub expires_at: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub has_refresh_token: bool,
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

impl TokenPolicy {
    /// A rotating refresh token gets new tokens when the access token expires within
    /// `ahead` (also once it has expired).
    pub const fn rotating(ahead: chrono::Duration) -> Self {
        Self {
            refresh: Refresh::WithRefreshToken,
            ahead,
            min_age: chrono::Duration::zero(),
        }
    }

    /// A still valid access token is exchanged for a new one when it expires within
    /// `ahead`.
    pub const fn while_valid(ahead: chrono::Duration) -> Self {
        Self {
            refresh: Refresh::WhileValid,
            ..Self::rotating(ahead)
        }
    }

    /// Only tokens at least `min_age` old are refreshed.
    pub const fn after(self, min_age: chrono::Duration) -> Self {
        Self { min_age, ..self }
    }

    fn expired(token: &TokenState, now: DateTime<Utc>) -> bool {
        token.expires_at.is_some_and(|at| at <= now)
    }

    /// The token should be refreshed before the next call (a token without the refresh
    /// token its platform refreshes with is used until it expires).
    pub fn due(&self, token: &TokenState, now: DateTime<Utc>) -> bool {
        let refreshable = match self.refresh {
            Refresh::WithRefreshToken => token.has_refresh_token,
            Refresh::WhileValid => !Self::expired(token, now),
        };
        refreshable
            && token.expires_at.is_some_and(|at| at - now <= self.ahead)
            && token.issued_at.is_none_or(|at| now - at >= self.min_age)
    }

    /// No refresh can help (with `force`: the platform refused the token): the channel
    /// must be connected again.
    pub fn hopeless(&self, token: &TokenState, now: DateTime<Utc>, force: bool) -> bool {
        let expired = Self::expired(token, now);
        match self.refresh {
            Refresh::WhileValid => expired,
            Refresh::WithRefreshToken => {
                let refresh_expired = token.refresh_expires_at.is_some_and(|at| at <= now);
                (expired || force) && (!token.has_refresh_token || refresh_expired)
            }
        }
    }

    /// What the stored token says without asking the platform: an expired token that
    /// cannot be refreshed.
    pub fn expired_for_good(&self, token: &TokenState, now: DateTime<Utc>) -> bool {
        self.refresh == Refresh::WhileValid && Self::expired(token, now)
    }
}

/// What every capability of a platform names: which platform it is and how people call it.
pub trait Named: Send + Sync {
    fn platform(&self) -> Platform;
    /// Its name as people read it ("TikTok").
    fn label(&self) -> &'static str;
}

/// How an account connects: the token policy, and either the OAuth grant (authorize,
/// exchange, refresh) or a sign-in with credentials; a platform connecting with
/// credentials keeps the OAuth pair's defaults, which refuse.
#[async_trait]
pub trait Connect: Named {
    /// Its OAuth authorization-code grant, declared ([`oauth::CodeGrant`]); `None` for a
    /// platform whose accounts connect with credentials ([`Connect::sign_in`]).
    fn code_grant(&self) -> Option<&oauth::CodeGrant> {
        None
    }
    /// How its accounts connect (the catalogue's `connect`): read from which it has, a
    /// code grant or a sign-in.
    fn grant(&self) -> catalogue::Grant {
        match self.code_grant() {
            Some(_) => catalogue::Grant::Oauth,
            None => catalogue::Grant::Credentials,
        }
    }
    /// When its tokens are refreshed: as its code grant declares ([`oauth::CodeGrant::policy`]).
    fn token_policy(&self) -> TokenPolicy {
        self.code_grant()
            .map_or(oauth::DEFAULT_POLICY, oauth::CodeGrant::token_policy)
    }
    /// Whether its authorisation uses PKCE (S256).
    fn uses_pkce(&self) -> bool {
        self.code_grant().is_some_and(oauth::CodeGrant::uses_pkce)
    }
    /// The URL the user opens to grant access, or why connecting cannot start (the app's
    /// credentials for the platform are not configured: which variables to set). A platform
    /// connecting with credentials says where to send them.
    fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        challenge: Option<&str>,
    ) -> Result<String, String> {
        match self.code_grant() {
            Some(grant) => grant.authorize_url(redirect_uri, state, challenge),
            None => Err(format!(
                "{} connects with its account's own credentials: POST /v1/channels/{}/credentials",
                self.label(),
                self.platform()
            )),
        }
    }
    /// Exchanges the callback's code for tokens, then learns what else the connection
    /// needs ([`Connect::connected`]). A platform connecting with credentials refuses.
    async fn exchange_code(
        &self,
        redirect_uri: &str,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<oauth::Tokens, Failure> {
        let Some(grant) = self.code_grant() else {
            return Err(Failure::permanent(
                "OAUTH_NOT_CONFIGURED",
                format!(
                    "{} connects with its account's own credentials, not through a sign-in page",
                    self.label()
                ),
            ));
        };
        let tokens = grant.exchange(redirect_uri, code, verifier).await?;
        self.connected(tokens).await
    }
    /// What the platform adds once the code's tokens are in: a short-lived token exchanged
    /// for a long-lived one, the account they act for and its names, the other accounts the
    /// grant acts for.
    async fn connected(&self, tokens: oauth::Tokens) -> Result<oauth::Tokens, Failure> {
        Ok(tokens)
    }
    /// Signs in with the credentials a person gave (a platform whose catalogue `connect` is
    /// `credentials`): the tokens and the account they act for. The credentials are sent
    /// once and never kept. A platform connecting through OAuth refuses.
    async fn sign_in(&self, _identifier: &str, _password: &str) -> Result<oauth::Tokens, Failure> {
        Err(Failure::permanent(
            "CREDENTIALS_UNSUPPORTED",
            format!(
                "{} connects through its own sign-in page: use connect (POST /v1/channels/{}/connect)",
                self.label(),
                self.platform()
            ),
        ))
    }
    /// A refreshed token ([`TokenPolicy::refresh`] says with what): by default the code
    /// grant's refresh token exchanged for new tokens.
    async fn refresh(
        &self,
        _access_token: &str,
        refresh_token: Option<&str>,
    ) -> Result<oauth::Tokens, Failure> {
        match self.code_grant() {
            Some(grant) => grant.refresh(refresh_token).await,
            None => Err(Failure::new(
                FailureKind::Auth,
                "CHANNEL_AUTH_INVALID",
                format!(
                    "{} cannot refresh this channel's token; connect it again",
                    self.label()
                ),
            )),
        }
    }
    /// Why `account_id` cannot be one of this platform's accounts (an imported token's
    /// `accountId`), if it cannot.
    fn account_problem(&self, _account_id: &str) -> Option<String> {
        None
    }
    /// Whose name a connection's posts go out under, where the platform lets a connection
    /// choose ([`catalogue::Profile::author_kinds`]): read from its account id.
    fn author_kind(&self, _account_id: &str) -> Option<catalogue::AuthorKind> {
        None
    }
}

/// What the platform allows, without I/O: its profile and text limits (the catalogue's),
/// the problems it finds in a post, and the requests a publish sends (the dry run's).
pub trait Rules: Named {
    /// The limits the platform sets on a post's text, those [`Rules::validate`] holds a
    /// post to (the web app counts against them as a person types).
    fn text_limits(&self) -> Vec<post::TextLimit>;
    /// What the catalogue shows of it besides its name, label, text limits and grant: its
    /// colour, whose name it posts under, its media, and its limits on
    /// hashtags and mentions (those [`Rules::validate`] holds a post to).
    fn profile(&self) -> catalogue::Profile;
    /// Problems the platform's rules find in `post` (no I/O).
    fn validate(&self, post: &Post, options: &Options) -> Vec<post::Problem>;
    /// Every problem a publish of `post` would meet (no I/O): [`Rules::validate`]'s, then
    /// its media against the platform's carousel ([`catalogue::Profile::carousel`]) and
    /// its videos against the platform's limits ([`catalogue::Profile::video`]). The
    /// dry run, the publish and the posting queue judge a post by these.
    fn problems(&self, post: &Post, options: &Options) -> Vec<post::Problem> {
        let mut problems = self.validate(post, options);
        if let Some(carousel) = self.profile().carousel {
            problems.extend(carousel.problem(post, self.label()));
        }
        if let Some(video) = self.profile().video {
            problems.extend(video.problem(post, self.label()));
        }
        problems
    }
    /// The requests a publish of `post` sends, secrets masked (no I/O).
    fn plan(&self, account_id: &str, post: &Post, options: &Options) -> Vec<PlannedRequest>;
}

/// A publish at the platform: the read-only checks, the steps before the one request with
/// an outside effect, that request (sent once per intent), how it settled, and the post's
/// address.
#[async_trait]
pub trait Publish: Named {
    /// The read-only checks a publish depends on (TikTok's creator options, Instagram's
    /// remaining quota); the options as a publish would send them (TikTok's privacy level
    /// resolved). None by default: the options as given, no quota read.
    async fn check(&self, at: Attempt<'_>) -> Result<Checked, Failure> {
        Ok(Checked {
            options: at.options.clone(),
            remaining: None,
        })
    }
    /// Steps without an outside effect before the one with it (Instagram's container,
    /// until it is `FINISHED`); the remote id to keep. None by default.
    async fn prepare(&self, _at: Attempt<'_>) -> Result<Option<String>, Failure> {
        Ok(None)
    }
    /// The request with an outside effect (`prepared`: what `prepare` kept). Sent once per
    /// intent.
    async fn send(&self, at: Attempt<'_>, prepared: Option<&str>) -> Sent;
    /// Read-only: where a sent publish is.
    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote;
    /// The public address of a published post (`post_id` as the publish settled it), read
    /// or made once, when the intent settles; `None` where the platform gives none.
    async fn post_url(&self, _auth: &Auth, _post_id: &str) -> Option<String> {
        None
    }
    /// The permission commenting needs beyond publishing's, where the platform grants
    /// permissions one by one (the connect flow asks for it).
    fn comment_scope(&self) -> Option<&'static str> {
        None
    }
    /// The first comment under a published post (`post_id` as the publish settled it): the
    /// one request with an outside effect of its own step, sent once. A platform whose
    /// catalogue says `firstComment: false` refuses.
    async fn comment(&self, _auth: &Auth, _on: Commenting<'_>) -> Sent {
        Sent::NotApplied(Failure::permanent(
            "FIRST_COMMENT_UNSUPPORTED",
            format!("{} takes no comment from other apps", self.label()),
        ))
    }
    /// The refusal of a post past the account's daily quota (when `check` reports one,
    /// `Checked::remaining`), the entries before it in the same request having spent it.
    fn quota_spent(&self) -> Failure {
        Failure::permanent(
            "DAILY_QUOTA_EXHAUSTED",
            format!(
                "the {} account's remaining daily quota is spent by the entries before this one",
                self.label()
            ),
        )
    }
}

/// A published post's numbers.
#[async_trait]
pub trait Measure: Named {
    /// The permission reading a post's numbers needs beyond publishing's, where the
    /// platform grants permissions one by one (the connect flow asks for it).
    fn metrics_scope(&self) -> Option<&'static str> {
        None
    }
    /// Read-only: a published post's numbers now (`post_id` as the publish settled it).
    /// `Ok(None)`: the platform answered empty (not measured yet); a permission refused is
    /// [`analytics_refused`].
    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure>;
}

/// A platform: everything it does differently from the others (its OAuth grant and
/// refresh, its token policy, its rules and limits, its requests and how it answers), in
/// four capabilities ([`Connect`], [`Rules`], [`Publish`], [`Measure`]), each with defaults
/// where a platform may lack a part of it. A new platform is a folder in [`platforms`]
/// implementing them, listed in its registry; nothing else names it.
pub trait Adapter: Connect + Rules + Publish + Measure {}

impl<T: Connect + Rules + Publish + Measure> Adapter for T {}

/// The registry of platforms: the adapters, sharing one HTTP client. The publishing
/// platform list exists here only: the API checks a `{platform}` against it, the web app
/// reads it (`/app/config.json`), and it fills the `platforms` table at start.
#[derive(Clone)]
pub struct Platforms {
    pub http: reqwest::Client,
    adapters: Arc<BTreeMap<Platform, Arc<dyn Adapter>>>,
    /// Uploaded media: the store and its signed addresses, for the media API, the posts'
    /// addresses and the bytes adapters upload themselves.
    pub media: Media,
}

impl Platforms {
    /// The built-in platforms ([`platforms::BUILT_IN`]), with the outside fetch rules
    /// (`FETCH_*`) for a `mediaUrl` an adapter uploads itself, and the media store; an
    /// error when `PLATFORM_SANDBOX` asks for fakes this build does not have.
    pub fn new(all: &almanac_shared::Settings) -> anyhow::Result<Self> {
        let settings = &all.publish;
        sandbox_built(settings)?;
        let media = Media::from_settings(all)?;
        let operator_hosts =
            platforms::settings::operator_hosts(&settings.vars, settings.sandbox.as_deref());
        let clients = http::Clients::new(settings, &all.fetch, operator_hosts)?;
        let parts = platforms::Parts {
            clients: &clients,
            settings,
            store: media.store.clone(),
        };
        let mut built_in = Vec::new();
        for registered in platforms::BUILT_IN {
            built_in.extend((registered.adapter)(&parts)?);
        }
        let platforms = Self {
            adapters: Arc::default(),
            http: clients.api.clone(),
            media,
        };
        Ok(built_in.into_iter().fold(platforms, Self::with))
    }

    /// The registry with media addresses served from `base_url` (the API, once it knows
    /// the address it bound).
    pub fn served_from(mut self, base_url: &str) -> Self {
        self.media = self.media.served_from(base_url);
        self
    }

    /// The registry with `adapter` added (or replacing the one of its platform).
    pub fn with(mut self, adapter: Arc<dyn Adapter>) -> Self {
        Arc::make_mut(&mut self.adapters).insert(adapter.platform(), adapter);
        self
    }

    /// Writes the registered platforms into the `platforms` table (which a connect's
    /// `state` refers to): at once when Postgres answers within two seconds, else in the
    /// background until it does (the process starts either way).
    pub async fn register_at_start(&self, pool: &sqlx::PgPool) {
        let platforms: Vec<(&'static str, &'static str)> = self
            .all()
            .map(|adapter| (adapter.platform().as_str(), adapter.label()))
            .collect();
        let first = tokio::time::timeout(
            Duration::from_secs(2),
            store::register_platforms(pool, &platforms),
        )
        .await;
        if matches!(first, Ok(Ok(()))) {
            return;
        }
        tracing::warn!(
            "publishing platforms not registered at start-up; trying again in the background"
        );
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut delay = Duration::from_millis(500);
            loop {
                tokio::time::sleep(delay).await;
                if store::register_platforms(&pool, &platforms).await.is_ok() {
                    tracing::info!("publishing platforms registered");
                    return;
                }
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        });
    }

    /// The registered platform named `name`.
    pub fn get(&self, name: &str) -> Option<Platform> {
        self.adapters.keys().find(|p| p.as_str() == name).copied()
    }

    /// The platform a calendar channel slug publishes to, if one is registered.
    pub fn of_channel(&self, channel: &str) -> Option<Platform> {
        self.get(channel)
    }

    /// The adapter of `platform`, if it is registered in this process.
    pub fn adapter(&self, platform: Platform) -> Option<&dyn Adapter> {
        self.adapters.get(&platform).map(|a| a.as_ref())
    }

    /// The adapter of a platform this registry returned (`get`, `of_channel`).
    pub fn registered(&self, platform: Platform) -> &dyn Adapter {
        self.adapter(platform)
            .expect("a platform this registry returned has an adapter")
    }

    /// The registered platforms' names.
    pub fn names(&self) -> Vec<&'static str> {
        self.adapters.keys().map(|p| p.as_str()).collect()
    }

    /// Every registered adapter, by name.
    pub fn all(&self) -> impl Iterator<Item = &dyn Adapter> {
        self.adapters.values().map(|a| a.as_ref())
    }

    /// `platform`'s name as people read it (its own name when it is not registered here).
    pub fn label(&self, platform: Platform) -> &'static str {
        self.adapter(platform)
            .map_or(platform.as_str(), |adapter| adapter.label())
    }

    /// Counts an intent's outcome (`publish_intents_total{channel, outcome}`). A channel no
    /// platform is registered for is counted as `other`: channels are the users' own slugs,
    /// which never go into a label.
    pub fn count_outcome(&self, channel: &str, outcome: IntentStatus) {
        let channel = self.of_channel(channel).map_or("other", Platform::as_str);
        metrics::counter!("publish_intents_total", "channel" => channel, "outcome" => outcome.as_str())
            .increment(1);
    }
}

/// `PLATFORM_SANDBOX=true` needs the fakes, which only a build with the `sandbox` feature
/// has (`make run` and `make test` build with it; a release build does not).
fn sandbox_built(settings: &PublishSettings) -> anyhow::Result<()> {
    if settings.sandbox.is_some() && !cfg!(feature = "sandbox") {
        anyhow::bail!(
            "PLATFORM_SANDBOX=true: this build has no sandbox (its fake platforms are built only \
             with the `sandbox` cargo feature, as `make run` builds); unset PLATFORM_SANDBOX, or \
             build with `--features sandbox` on a development machine"
        );
    }
    Ok(())
}

/// Counts and logs a request refused for credentials missing: a channel's (its token is
/// absent or refused) or the app's own (OAuth client credentials, `TOKEN_ENCRYPTION_KEY`;
/// `channel` empty for the key, which is every channel's).
/// `adapter_auth_missing_total{channel, reason}`, `reason` one of `token_missing`,
/// `token_refused`, `oauth_not_configured`, `token_key_missing`.
pub fn auth_missing(platform: Option<Platform>, code: &str) {
    let reason = match code {
        "CHANNEL_NOT_CONNECTED" => "token_missing",
        "OAUTH_NOT_CONFIGURED" => "oauth_not_configured",
        "TOKEN_STORE_UNCONFIGURED" => "token_key_missing",
        _ => "token_refused",
    };
    let channel = platform.map_or("", Platform::as_str);
    tracing::warn!(
        channel,
        code,
        reason,
        "channel auth or app configuration missing; nothing attempted"
    );
    metrics::counter!("adapter_auth_missing_total", "channel" => channel, "reason" => reason)
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use post::{MediaKind, TextField, TextUnit};

    /// A text of `n` `unit`s that is within every other unit's limit of the same field:
    /// bytes as family emoji (one grapheme of 25 bytes each) and letters.
    fn filler(n: usize, unit: TextUnit) -> String {
        match unit {
            TextUnit::Utf8Bytes => {
                "👩\u{200d}👩\u{200d}👧\u{200d}👧".repeat(n / 25) + &"a".repeat(n % 25)
            }
            _ => "a".repeat(n),
        }
    }

    /// The built-in platforms, as a development configuration registers them.
    fn built_in() -> Platforms {
        let settings = almanac_shared::Settings::from_lookup(|key| match key {
            "DATABASE_URL" => Some("postgres://localhost/none".into()),
            "ALMANAC_DEV" => Some("true".into()),
            _ => None,
        })
        .unwrap();
        Platforms::new(&settings).unwrap()
    }

    /// Each adapter's text limits are what its `validate` holds a post to: at the limit a
    /// post passes, one past it is refused for that field, and a text no limit names is
    /// never refused for its length.
    #[test]
    fn each_platforms_text_limits_are_the_ones_it_validates() {
        let platforms = built_in();
        let options = Options::default();
        let catalogue = platforms.catalogue();
        assert_eq!(catalogue.len(), 7);
        for adapter in platforms.all() {
            for (media, format) in [(MediaKind::Video, "reel"), (MediaKind::Photo, "carousel")] {
                let post = |field: TextField, n: usize, unit: TextUnit| {
                    let long = filler(n, unit);
                    let (title, caption) = match field {
                        TextField::Title => (long.as_str(), "caption"),
                        _ => ("Title", long.as_str()),
                    };
                    let post = Post::of_entry(
                        uuid::Uuid::nil(),
                        title,
                        caption,
                        "",
                        &[],
                        format,
                        Some("https://cdn.example.com/a.jpg"),
                    );
                    adapter
                        .validate(&post, &options)
                        .into_iter()
                        .filter(|p| p.code.ends_with("_TOO_LONG"))
                        .map(|p| p.field)
                        .collect::<Vec<_>>()
                };
                let applying: Vec<_> = adapter
                    .text_limits()
                    .into_iter()
                    .filter(|limit| limit.media.is_none_or(|m| m == media))
                    .collect();
                let name = adapter.label();
                for limit in &applying {
                    let said = if limit.field == TextField::Title {
                        "title"
                    } else {
                        "caption"
                    };
                    assert_eq!(
                        post(limit.field, limit.max, limit.unit),
                        Vec::<String>::new(),
                        "{name} {media:?} {limit:?}"
                    );
                    assert_eq!(
                        post(limit.field, limit.max + 1, limit.unit),
                        [said],
                        "{name} {media:?} {limit:?}"
                    );
                }
                for field in [TextField::Text, TextField::Title] {
                    let limited = applying.iter().any(|limit| match field {
                        TextField::Title => limit.field == TextField::Title,
                        _ => limit.field != TextField::Title,
                    });
                    if !limited {
                        assert_eq!(
                            post(field, 100_000, TextUnit::Chars),
                            Vec::<String>::new(),
                            "{name} {media:?} {field:?}"
                        );
                    }
                }
            }
        }
        let json = serde_json::to_value(&catalogue).unwrap();
        assert_eq!(
            json[5],
            serde_json::json!({
                "name": "tiktok", "label": "TikTok", "color": "#111111", "connect": "oauth",
                "authorKinds": [], "mediaKinds": ["video", "photo"],
                "mediaFormats": { "photo": ["image/jpeg", "image/webp"], "video": ["video/mp4"] },
                "textLimits": [
                    { "field": "text", "max": 2200, "unit": "chars", "media": "video" },
                    { "field": "title", "max": 90, "unit": "chars", "media": "photo" },
                    { "field": "description", "max": 4000, "unit": "chars", "media": "photo" },
                ],
                "hashtagsMax": null, "mentionsMax": null, "previewChars": 150,
                "quota": { "limit": 5, "windowSecs": 86400, "per": "account",
                           "source": "counted", "counts": "drafts" },
                "carousel": { "maxItems": 35, "mixed": false }, "firstComment": false,
                "video": { "minDurationMs": 3000, "maxDurationMs": 600000, "maxWidth": null },
            })
        );
    }

    /// A channel's label is its adapter's, or a planned-only channel's; a user's own slug
    /// has none (a calendar's default name then spells it as given).
    #[test]
    fn a_channel_is_labelled_as_its_catalogue_says() {
        let platforms = built_in();
        for (name, label) in [
            ("tiktok", "TikTok"),
            ("instagram", "Instagram"),
            ("linkedin", "LinkedIn"),
            ("youtube", "YouTube"),
            ("x", "X"),
            ("newsletter", "Newsletter"),
        ] {
            assert_eq!(platforms.label_of(name), Some(label), "{name}");
        }
        assert_eq!(platforms.label_of("my-blog"), None);
    }

    /// Each adapter's profile is what its `validate` holds a post to: its most hashtags
    /// and mentions pass and one more is refused (no limit: a hundred pass); a media kind
    /// it does not list is refused. Its colour is `#rrggbb`.
    #[test]
    fn each_platforms_profile_is_what_it_validates() {
        let platforms = built_in();
        let options = Options::default();
        let codes = |adapter: &dyn Adapter, hashtags: usize, mentions: usize, format: &str| {
            let tags: Vec<String> = (0..hashtags).map(|i| format!("#t{i}")).collect();
            let people: Vec<String> = (0..mentions).map(|i| format!("@p{i}")).collect();
            let post = Post::of_entry(
                uuid::Uuid::nil(),
                "Title",
                &people.join(" "),
                "",
                &tags,
                format,
                Some("https://cdn.example.com/a.jpg"),
            );
            let problems = adapter.validate(&post, &options);
            problems.into_iter().map(|p| p.code).collect::<Vec<_>>()
        };
        for adapter in platforms.all() {
            let entry = catalogue::Entry::of(adapter);
            let name = entry.name;
            assert!(catalogue::is_color(entry.color), "{name}: {}", entry.color);
            let format = match entry.media_kinds[0] {
                MediaKind::Video => "reel",
                MediaKind::Photo => "carousel",
            };
            let hashtags = entry.hashtags_max.unwrap_or(100);
            let mentions = entry.mentions_max.unwrap_or(100);
            let at_most = codes(adapter, hashtags, mentions, format);
            assert!(
                !at_most.iter().any(|c| c.starts_with("TOO_MANY_")),
                "{name}: {at_most:?}"
            );
            if entry.hashtags_max.is_some() {
                assert!(
                    codes(adapter, hashtags + 1, 0, format).contains(&"TOO_MANY_HASHTAGS".into())
                );
            }
            if entry.mentions_max.is_some() {
                assert!(
                    codes(adapter, 0, mentions + 1, format).contains(&"TOO_MANY_MENTIONS".into())
                );
            }
            for (media, format) in [(MediaKind::Video, "reel"), (MediaKind::Photo, "carousel")] {
                let refused = !codes(adapter, 0, 0, format).is_empty();
                assert_eq!(
                    refused,
                    !entry.media_kinds.contains(&media),
                    "{name} {media:?}: {:?}",
                    codes(adapter, 0, 0, format)
                );
            }
        }
    }

    /// A post of `kinds` (one upload each) on `adapter`'s platform, judged.
    fn judged_media(adapter: &dyn Adapter, kinds: &[MediaKind]) -> Vec<post::Problem> {
        let mut post = Post::of_entry(
            uuid::Uuid::nil(),
            "Title",
            "Hello",
            "",
            &[],
            "carousel",
            None,
        );
        for (n, kind) in kinds.iter().enumerate() {
            post.items.push(post::Medium {
                kind: *kind,
                url: format!("https://cdn.example.com/{n}"),
                upload: post::PostMedia {
                    id: uuid::Uuid::nil(),
                    mime: "image/jpeg".into(),
                    alt_text: String::new(),
                    key: format!("k{n}"),
                    duration_ms: None,
                    width: None,
                },
            });
        }
        let first = post.items[0].clone();
        post = post.with_upload(first.kind, "image/jpeg", Some((first.upload, first.url)));
        adapter.problems(&post, &Options::default())
    }

    /// Each platform with a carousel takes its most media and refuses one more at
    /// `mediaIds`; one that does not mix refuses a video among photos; one without a
    /// carousel refuses nothing for the count (its first medium goes, as its note says).
    #[test]
    fn each_platforms_carousel_is_what_it_judges() {
        let platforms = built_in();
        for adapter in platforms.all() {
            let name = adapter.label();
            let profile = adapter.profile();
            let photo = profile.media_kinds.contains(&MediaKind::Photo);
            let at = |problems: &[post::Problem], code: &str| {
                problems
                    .iter()
                    .any(|p| p.code == code && p.field == "mediaIds")
            };
            let Some(carousel) = profile.carousel else {
                continue;
            };
            assert!(photo, "{name}: a carousel of photos");
            let most = vec![MediaKind::Photo; carousel.max_items];
            assert_eq!(judged_media(adapter, &most), [], "{name}");
            let over = vec![MediaKind::Photo; carousel.max_items + 1];
            assert!(
                at(&judged_media(adapter, &over), "TOO_MANY_MEDIA"),
                "{name}"
            );
            let mixed = judged_media(adapter, &[MediaKind::Photo, MediaKind::Video]);
            assert_eq!(
                at(&mixed, "MEDIA_MIXED"),
                !carousel.mixed,
                "{name}: {mixed:?}"
            );
        }
    }
}
