//! Single sign-on with an OpenID Connect provider (`OIDC_*`): the authorization code flow
//! with PKCE (S256), and the ID token's checks: its signature by a key of the provider's
//! JWKS under an algorithm of [`ALGORITHMS`], `iss`, `aud` (and `azp`), `exp`, the
//! `nonce` this browser was given, and a verified `email`.
//!
//! The discovery document and the keys come from `OIDC_ISSUER_URL`, which the operator sets
//! and which is trusted as the platforms' `*_API_BASE_URL` are (a company's provider may
//! sit on a private network). An endpoint the document names on another host is held to
//! the outside-fetch rule: `https`, and a public address.
//!
//! `provider.rs` fetches and keeps what the provider publishes; `id_token.rs` checks its ID
//! tokens.

mod id_token;
mod provider;

use std::{sync::Arc, time::Duration};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use url::Url;

pub use id_token::ALGORITHMS;
use provider::{Provider, describe, limited};

use crate::{config::OidcSettings, fetch};

/// Why a sign-in was refused, as a person is told (and a metric's label).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the provider could not be reached or answered something unexpected: {0}")]
    Provider(String),
    #[error("the provider refused the sign-in: {0}")]
    Denied(String),
    #[error("this sign-in was not started in this browser, or took too long; start again")]
    State,
    #[error("the ID token was not issued for this sign-in (its nonce differs)")]
    Nonce,
    #[error("the ID token is for another application (audience or authorized party)")]
    Audience,
    #[error("the ID token comes from another issuer")]
    Issuer,
    #[error("the ID token's signature is not the provider's")]
    Signature,
    #[error("the ID token is signed with an algorithm that is not accepted ({0})")]
    Algorithm(String),
    #[error("the ID token has expired")]
    Expired,
    #[error("the provider has not verified this account's email address")]
    EmailNotVerified,
    #[error("the ID token is malformed: {0}")]
    Malformed(String),
}

impl Refusal {
    /// The refusal's label in metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Provider(_) => "provider",
            Refusal::Denied(_) => "denied",
            Refusal::State => "state",
            Refusal::Nonce => "nonce",
            Refusal::Audience => "audience",
            Refusal::Issuer => "issuer",
            Refusal::Signature => "signature",
            Refusal::Algorithm(_) => "algorithm",
            Refusal::Expired => "expired",
            Refusal::EmailNotVerified => "email_not_verified",
            Refusal::Malformed(_) => "malformed",
        }
    }
}

/// What a browser keeps between the start and the callback (in a cookie of its own): the
/// `state` it must come back with, the `nonce` its ID token must carry, and the PKCE
/// verifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

impl Attempt {
    pub fn new() -> Self {
        use crate::sign_in::random_token;
        Self {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
        }
    }

    /// The cookie's value: the three parts, `.`-separated.
    pub fn to_cookie(&self) -> String {
        format!("{}.{}.{}", self.state, self.nonce, self.verifier)
    }

    /// An attempt read back from its cookie; `None` when it is not one.
    pub fn from_cookie(value: &str) -> Option<Self> {
        let mut parts = value.split('.');
        let (state, nonce, verifier) = (parts.next()?, parts.next()?, parts.next()?);
        let well_formed = [state, nonce, verifier]
            .into_iter()
            .all(crate::sign_in::well_formed);
        (parts.next().is_none() && well_formed).then(|| Self {
            state: state.to_owned(),
            nonce: nonce.to_owned(),
            verifier: verifier.to_owned(),
        })
    }

    /// The PKCE challenge of the verifier (S256).
    fn challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }
}

impl Default for Attempt {
    fn default() -> Self {
        Self::new()
    }
}

/// The person a verified ID token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub iss: String,
    pub sub: String,
    /// Verified by the provider; lower-case.
    pub email: String,
    pub name: Option<String>,
}

/// The client of one provider, its discovery document and keys kept for an hour.
#[derive(Clone)]
pub struct Oidc {
    settings: OidcSettings,
    redirect_uri: String,
    http: reqwest::Client,
    allow_private_networks: bool,
    provider: Arc<Mutex<Option<Arc<Provider>>>>,
}

#[derive(Debug, Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Oidc {
    /// The client for `settings`, its callback at `redirect_uri`.
    pub fn new(
        settings: OidcSettings,
        redirect_uri: String,
        allow_private_networks: bool,
    ) -> anyhow::Result<Self> {
        let issuer_host = Url::parse(&settings.issuer)?
            .host_str()
            .unwrap_or_default()
            .to_owned();
        let http = fetch::guarded_trusting(
            reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .connect_timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none()),
            allow_private_networks,
            vec![issuer_host],
        )
        .build()?;
        Ok(Self {
            settings,
            redirect_uri,
            http,
            allow_private_networks,
            provider: Arc::default(),
        })
    }

    pub fn label(&self) -> &str {
        &self.settings.label
    }

    /// Where to send the browser to sign in, for `attempt`.
    pub async fn authorization_url(&self, attempt: &Attempt) -> Result<Url, Refusal> {
        let provider = self.provider().await?;
        let mut url = provider.authorization.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.settings.scopes)
            .append_pair("state", &attempt.state)
            .append_pair("nonce", &attempt.nonce)
            .append_pair("code_challenge", &attempt.challenge())
            .append_pair("code_challenge_method", "S256");
        Ok(url)
    }

    /// The person the provider's answer names: `state` must be the attempt's, the `code`
    /// is exchanged (with the PKCE verifier) for an ID token, and the token must pass every
    /// check.
    pub async fn finish(
        &self,
        attempt: &Attempt,
        state: &str,
        code: &str,
    ) -> Result<Person, Refusal> {
        if state.as_bytes() != attempt.state.as_bytes() {
            return Err(Refusal::State);
        }
        let provider = self.provider().await?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", attempt.verifier.as_str()),
        ];
        let mut request = self.http.post(provider.token.clone());
        if provider.secret_in_body {
            form.push(("client_id", &self.settings.client_id));
            form.push(("client_secret", self.settings.client_secret.expose()));
        } else {
            request = request.basic_auth(
                form_encoded(&self.settings.client_id),
                Some(form_encoded(self.settings.client_secret.expose())),
            );
        }
        let answer = request
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| Refusal::Provider(describe(&e)))?;
        let status = answer.status();
        let body = limited(answer).await?;
        let said: TokenAnswer = serde_json::from_slice(&body).map_err(|_| {
            Refusal::Provider(format!("the token endpoint answered {status} without JSON"))
        })?;
        let id_token = match (said.id_token, said.error) {
            (Some(token), None) if status.is_success() => token,
            (_, Some(error)) => {
                let description = said.error_description.unwrap_or_default();
                return Err(Refusal::Denied(
                    format!("{error} {description}").trim().to_owned(),
                ));
            }
            _ => {
                return Err(Refusal::Provider(format!(
                    "the token endpoint answered {status} without an ID token"
                )));
            }
        };
        self.verify(&provider, &id_token, &attempt.nonce).await
    }
}

/// A client id or secret as HTTP Basic carries it for OAuth (RFC 6749 section 2.3.1).
fn form_encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_survives_its_cookie_and_a_tampered_one_does_not() {
        let attempt = Attempt::new();
        assert_eq!(
            Attempt::from_cookie(&attempt.to_cookie()),
            Some(attempt.clone())
        );
        assert_eq!(Attempt::from_cookie("a.b.c"), None);
        assert_eq!(
            Attempt::from_cookie(&format!("{}.x", attempt.to_cookie())),
            None
        );
        // RFC 7636's example: the challenge of its verifier.
        let rfc = Attempt {
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            ..attempt
        };
        assert_eq!(
            rfc.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
