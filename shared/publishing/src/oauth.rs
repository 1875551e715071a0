//! The platforms' OAuth: one authorization-code grant ([`CodeGrant`], RFC 6749 section 4.1,
//! with PKCE where a platform asks for it) that every OAuth platform declares rather than
//! writes (its client id's name, its scopes, its further parameters, how its token endpoint
//! takes the code), and the pieces it is made of: the callback URL, the app's credentials,
//! grants posted to a token endpoint and their answers. What a platform does after the
//! code (exchanging a short-lived token, learning who connected) is its `Connect::connected`.
//! Lifetimes always come from the platform's `expires_in`: they have changed over time, and
//! hard-coded ones go stale.

use base64::Engine;
use rand::RngCore;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{Failure, FailureKind, Platform, PlatformSettings, TokenPolicy};

/// The platform code of a grant that acts for no account Almanac can post to (a Facebook
/// login sharing no Page, a Google account without a YouTube channel): the web app says so
/// in its own words.
pub const NO_ACCOUNT: &str = "NO_ACCOUNT";

/// Tokens a platform issued.
#[derive(Clone, Default)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// Seconds, as the platform said.
    pub expires_in: Option<i64>,
    pub refresh_expires_in: Option<i64>,
    /// TikTok's `open_id`, Instagram's `user_id`, LinkedIn's member URN.
    pub account_id: Option<String>,
    /// The account's name as people read it, when the connect flow learnt it: its
    /// username (`ig_leafy`) where the platform has one, else its name.
    pub handle: Option<String>,
    /// The name its profile shows (`Leafy Co`), when the connect flow learnt it.
    pub display_name: Option<String>,
    pub scope: Option<String>,
    /// Where the account's API is served, where the platform has many hosts (a Bluesky
    /// account's PDS); `None` for the platform's own API base.
    pub service_url: Option<String>,
    /// Other accounts the same grant acts for (the LinkedIn pages its member administers,
    /// the Facebook pages its person manages): each becomes a channel of its own, with these
    /// tokens or its own.
    pub more_accounts: Vec<Account>,
}

/// An account a grant acts for besides its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub handle: Option<String>,
    pub display_name: Option<String>,
    /// Its own access token, where the platform gives each account one (a Facebook page's);
    /// `None`: the grant's.
    pub access_token: Option<String>,
}

impl Tokens {
    /// The account `id` these tokens act for, with the names the connect flow learnt.
    pub fn account(&self, id: String) -> Account {
        Account {
            id,
            handle: self.handle.clone(),
            display_name: self.display_name.clone(),
            access_token: None,
        }
    }

    /// The account's credentials to call the platform with, once it named the account.
    pub fn auth(&self) -> Option<super::Auth> {
        Some(super::Auth {
            account_id: self.account_id.clone()?,
            access_token: self.access_token.clone(),
            service_url: self.service_url.clone(),
        })
    }
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

/// A random URL-safe string of `bytes` random bytes.
pub fn random_token(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut raw);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// PKCE's S256 challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where the platform sends the browser back to (`OAUTH_REDIRECT_BASE_URL`, or the API's
/// own address once bound).
pub fn redirect_uri(redirect_base_url: &str, platform: Platform) -> String {
    format!(
        "{}/v1/channels/{platform}/callback",
        redirect_base_url.trim_end_matches('/')
    )
}

/// The app's client id and secret for a platform, or `OAUTH_NOT_CONFIGURED` with
/// `missing` (which variables to set).
pub fn app_credentials<'a>(
    settings: &'a PlatformSettings,
    missing: &str,
) -> Result<(&'a str, &'a str), Failure> {
    match (&settings.client_id, &settings.client_secret) {
        (Some(id), Some(secret)) => Ok((id, secret.expose())),
        _ => Err(Failure::permanent("OAUTH_NOT_CONFIGURED", missing)),
    }
}

/// A grant posted as a form to the platform's token URL.
pub async fn post_grant(
    http: &reqwest::Client,
    settings: &PlatformSettings,
    label: &str,
    form: &[(&str, &str)],
) -> Result<Value, Failure> {
    token_call(http.post(&settings.token_url).form(form), label).await
}

/// A token endpoint's JSON, or its refusal (auth: the grant was refused) or unavailability.
pub async fn token_call(request: reqwest::RequestBuilder, label: &str) -> Result<Value, Failure> {
    let response = request.send().await.map_err(|error| {
        Failure::retryable(
            "PLATFORM_UNAVAILABLE",
            format!(
                "{label}'s token endpoint could not be reached{}",
                if error.is_timeout() { " (timeout)" } else { "" }
            ),
        )
    })?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let refused = body
        .get("error")
        .filter(|e| !e.is_null() && e.get("code").and_then(Value::as_str) != Some("ok"));
    if (200..300).contains(&status) && refused.is_none() && body.get("access_token").is_some() {
        return Ok(body);
    }
    if status >= 500 {
        return Err(Failure::retryable(
            "PLATFORM_UNAVAILABLE",
            format!("{label}'s token endpoint answered {status}"),
        ));
    }
    let code = match &body["error"] {
        Value::String(code) => code.clone(),
        Value::Object(error) => error
            .get("code")
            .map(|c| c.as_str().map_or_else(|| c.to_string(), str::to_owned))
            .unwrap_or_default(),
        _ => status.to_string(),
    };
    let description = body["error_description"]
        .as_str()
        .or(body["error"]["message"].as_str())
        .or(body["error_message"].as_str())
        .unwrap_or("the grant was refused");
    Err(Failure::new(
        FailureKind::Auth,
        "CHANNEL_AUTH_INVALID",
        format!("{label} refused the token request: {description} ({code})"),
    )
    .platform(code))
}

/// How a platform's token endpoint takes the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRequest {
    /// A form posted, with `grant_type=authorization_code` (the standard's).
    Form,
    /// A query of a GET, without `grant_type` (Facebook's).
    Query,
}

/// A platform's authorization-code grant, declared: everything that differs between the
/// platforms is a field; the requests are [`CodeGrant`]'s alone.
#[derive(Clone)]
pub struct CodeGrant {
    http: reqwest::Client,
    label: &'static str,
    settings: PlatformSettings,
    /// What to set when the app's credentials are missing (`OAUTH_NOT_CONFIGURED`).
    not_configured: &'static str,
    /// The parameter the client id goes under (`client_id`; TikTok's `client_key`).
    client_field: &'static str,
    /// The permissions asked for.
    scope: String,
    /// The platform's further authorize parameters (Google's `access_type`, `prompt`).
    extra: &'static [(&'static str, &'static str)],
    pkce: bool,
    /// The field of a token answer naming the account (TikTok's `open_id`); empty: the
    /// answer names none.
    account_field: &'static str,
    request: TokenRequest,
    policy: TokenPolicy,
}

/// When a code grant's tokens are refreshed unless it says otherwise: its rotating refresh
/// token, five minutes before the access token expires.
pub const DEFAULT_POLICY: TokenPolicy = TokenPolicy::rotating(chrono::Duration::minutes(5));

impl CodeGrant {
    /// The grant of the platform called `label` (`settings`: its endpoints and the app's
    /// credentials; `not_configured`: which variables to set without them), asking for
    /// `scope`; the standard's choices until said otherwise.
    pub fn new(
        http: reqwest::Client,
        label: &'static str,
        settings: &PlatformSettings,
        not_configured: &'static str,
        scope: impl Into<String>,
    ) -> Self {
        Self {
            http,
            label,
            settings: settings.clone(),
            not_configured,
            client_field: "client_id",
            scope: scope.into(),
            extra: &[],
            pkce: false,
            account_field: "",
            request: TokenRequest::Form,
            policy: DEFAULT_POLICY,
        }
    }

    /// Its tokens are refreshed as `policy` says.
    pub fn policy(self, policy: TokenPolicy) -> Self {
        Self { policy, ..self }
    }

    /// When its tokens are refreshed.
    pub fn token_policy(&self) -> TokenPolicy {
        self.policy
    }

    /// The client id goes under `field`.
    pub fn client_field(self, field: &'static str) -> Self {
        Self {
            client_field: field,
            ..self
        }
    }

    /// The authorize URL carries `extra` too.
    pub fn with(self, extra: &'static [(&'static str, &'static str)]) -> Self {
        Self { extra, ..self }
    }

    /// Authorisation uses PKCE (S256).
    pub fn pkce(self) -> Self {
        Self { pkce: true, ..self }
    }

    /// A token answer names the account in `field`.
    pub fn account_field(self, field: &'static str) -> Self {
        Self {
            account_field: field,
            ..self
        }
    }

    /// The token endpoint takes the code as `request` says.
    pub fn request(self, request: TokenRequest) -> Self {
        Self { request, ..self }
    }

    pub fn uses_pkce(&self) -> bool {
        self.pkce
    }

    /// The app's client id and secret, or `OAUTH_NOT_CONFIGURED` saying what to set.
    pub fn credentials(&self) -> Result<(&str, &str), Failure> {
        app_credentials(&self.settings, self.not_configured)
    }

    /// The URL the user opens to grant access: the platform's authorize URL with the
    /// client id, the scope and the platform's own parameters, then the standard ones and
    /// PKCE's challenge.
    pub fn authorize_url(
        &self,
        redirect_uri: &str,
        state: &str,
        challenge: Option<&str>,
    ) -> Result<String, String> {
        let (client, _) = self.credentials().map_err(|f| f.message)?;
        let mut url = url::Url::parse(&self.settings.authorize_url)
            .map_err(|e| format!("the authorize URL is not a URL: {e}"))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair(self.client_field, client)
                .append_pair("scope", &self.scope)
                .extend_pairs(self.extra)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state);
            if let Some(challenge) = challenge.filter(|_| self.pkce) {
                query
                    .append_pair("code_challenge", challenge)
                    .append_pair("code_challenge_method", "S256");
            }
        }
        Ok(url.into())
    }

    /// The callback's code exchanged for tokens at the token endpoint.
    pub async fn exchange(
        &self,
        redirect_uri: &str,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<Tokens, Failure> {
        let (client, secret) = self.credentials()?;
        let mut params = vec![
            (self.client_field, client),
            ("client_secret", secret),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(verifier) = verifier.filter(|_| self.pkce) {
            params.push(("code_verifier", verifier));
        }
        let request = match self.request {
            TokenRequest::Form => {
                params.push(("grant_type", "authorization_code"));
                self.http.post(&self.settings.token_url).form(&params)
            }
            TokenRequest::Query => self.http.get(&self.settings.token_url).query(&params),
        };
        tokens(&token_call(request, self.label).await?, self.account_field)
    }

    /// A refresh token exchanged for new tokens (`grant_type=refresh_token`). Without one
    /// (the platform issued none) the channel must be connected again.
    pub async fn refresh(&self, refresh_token: Option<&str>) -> Result<Tokens, Failure> {
        let Some(refresh_token) = refresh_token else {
            return Err(Failure::new(
                FailureKind::Auth,
                "CHANNEL_AUTH_INVALID",
                format!(
                    "{} issued no refresh token for this channel; connect it again",
                    self.label
                ),
            ));
        };
        let (client, secret) = self.credentials()?;
        let form = [
            (self.client_field, client),
            ("client_secret", secret),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        let request = self.http.post(&self.settings.token_url).form(&form);
        tokens(&token_call(request, self.label).await?, self.account_field)
    }
}

/// The tokens of a token endpoint's answer; the account is `account_field`.
pub fn tokens(body: &Value, account_field: &str) -> Result<Tokens, Failure> {
    let text = |key: &str| {
        body[key]
            .as_str()
            .map(str::to_owned)
            .or_else(|| match &body[key] {
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
    };
    let access_token = text("access_token").ok_or_else(|| {
        Failure::retryable(
            "PLATFORM_UNAVAILABLE",
            "the token answer had no access_token",
        )
    })?;
    Ok(Tokens {
        access_token,
        refresh_token: text("refresh_token"),
        expires_in: body["expires_in"].as_i64(),
        // TikTok's `refresh_expires_in`; LinkedIn's and Google's `refresh_token_expires_in`.
        refresh_expires_in: body["refresh_expires_in"]
            .as_i64()
            .or(body["refresh_token_expires_in"].as_i64()),
        account_id: text(account_field),
        handle: None,
        display_name: None,
        service_url: None,
        more_accounts: Vec::new(),
        scope: text("scope").or_else(|| {
            body["permissions"].as_array().map(|p| {
                p.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
        }),
    })
}

/// A name a platform answered (a username, a display name), trimmed and at most 200
/// characters; `None` when empty or not text.
pub fn name(value: &Value) -> Option<String> {
    let name = value.as_str()?.trim();
    (!name.is_empty()).then(|| name.chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(random_token(32).len(), 43);
        assert_ne!(random_token(32), random_token(32));
    }

    #[test]
    fn token_answers_are_read_with_their_lifetimes() {
        let body = serde_json::json!({"access_token": "act.1", "expires_in": 7200,
            "refresh_token": "rft.1", "refresh_expires_in": 15552000, "open_id": "open-1",
            "scope": "video.publish"});
        let t = tokens(&body, "open_id").unwrap();
        assert_eq!(t.expires_in, Some(7200));
        assert_eq!(t.account_id.as_deref(), Some("open-1"));
        assert!(!format!("{t:?}").contains("act.1"));
        let ig = tokens(
            &serde_json::json!({"access_token": "IG", "user_id": 1784}),
            "user_id",
        )
        .unwrap();
        assert_eq!(ig.account_id.as_deref(), Some("1784"));
    }
}
