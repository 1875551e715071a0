//! Single sign-on with an OpenID Connect provider (`OIDC_*`): the authorization code flow
//! with PKCE (S256), and the ID token's checks: its signature by a key of the provider's
//! JWKS under an algorithm of [`ALGORITHMS`], `iss`, `aud` (and `azp`), `exp`, the
//! `nonce` this browser was given, and a verified `email`.
//!
//! The discovery document and the keys come from `OIDC_ISSUER_URL`, which the operator sets
//! and which is trusted as the platforms' `*_API_BASE_URL` are (a company's provider may
//! sit on a private network). An endpoint the document names on another host is held to
//! the outside-fetch rule: `https`, and a public address.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, jwk::JwkSet};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use url::Url;

use crate::{config::OidcSettings, fetch};

/// The signing algorithms an ID token may use: asymmetric ones only (`none` and the HMAC
/// family, which would be keyed with the client secret, are refused).
pub const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How long the discovery document and the keys are kept before being fetched again.
const KEPT: Duration = Duration::from_secs(3600);
/// The keys are fetched again for an unknown key id at most this often.
const REFETCH_KEYS_AFTER: Duration = Duration::from_secs(60);
/// The largest answer read from the provider.
const MAX_ANSWER: usize = 512 * 1024;
/// Seconds of clock difference tolerated on `exp`, `iat` and `nbf`.
const LEEWAY_SECS: u64 = 60;

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

#[derive(Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// The provider as its discovery document and keys describe it.
struct Provider {
    issuer: String,
    authorization: Url,
    token: Url,
    jwks: Url,
    /// `client_secret_post` when the provider does not take `client_secret_basic`.
    secret_in_body: bool,
    keys: JwkSet,
    fetched: Instant,
    keys_fetched: Instant,
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

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(serde::de::IgnoredAny),
    Many(Vec<serde::de::IgnoredAny>),
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Verified {
    Bool(bool),
    Text(String),
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    iss: String,
    sub: String,
    aud: Audience,
    azp: Option<String>,
    nonce: Option<String>,
    email: Option<String>,
    email_verified: Option<Verified>,
    name: Option<String>,
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

    /// Every check of an ID token.
    async fn verify(
        &self,
        provider: &Arc<Provider>,
        token: &str,
        nonce: &str,
    ) -> Result<Person, Refusal> {
        let algorithm = token_algorithm(token)?;
        if !ALGORITHMS.contains(&algorithm) {
            return Err(Refusal::Algorithm(format!("{algorithm:?}")));
        }
        let kid = jsonwebtoken::decode_header(token)
            .map_err(|e| Refusal::Malformed(e.to_string()))?
            .kid;
        let key = match self.key(provider, kid.as_deref(), algorithm) {
            Some(key) => key,
            // A key id the set does not hold: the provider may have rotated its keys.
            None => {
                let fresh = self.refetch_keys(provider).await?;
                self.key(&fresh, kid.as_deref(), algorithm)
                    .ok_or(Refusal::Signature)?
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&provider.issuer]);
        validation.set_audience(&[&self.settings.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let claims = jsonwebtoken::decode::<IdClaims>(token, &key, &validation)
            .map_err(|error| {
                use jsonwebtoken::errors::ErrorKind;
                match error.kind() {
                    ErrorKind::InvalidSignature => Refusal::Signature,
                    ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => Refusal::Expired,
                    ErrorKind::InvalidIssuer => Refusal::Issuer,
                    ErrorKind::InvalidAudience => Refusal::Audience,
                    ErrorKind::InvalidAlgorithm => Refusal::Algorithm(format!("{algorithm:?}")),
                    _ => Refusal::Malformed(error.to_string()),
                }
            })?
            .claims;
        if claims.nonce.as_deref() != Some(nonce) {
            return Err(Refusal::Nonce);
        }
        let audiences = match &claims.aud {
            Audience::One(_) => 1,
            Audience::Many(all) => all.len(),
        };
        let azp_ok = match &claims.azp {
            Some(azp) => *azp == self.settings.client_id,
            None => audiences == 1,
        };
        if !azp_ok {
            return Err(Refusal::Audience);
        }
        let verified = matches!(claims.email_verified, Some(Verified::Bool(true)))
            || matches!(&claims.email_verified, Some(Verified::Text(t)) if t == "true");
        let email = claims
            .email
            .as_deref()
            .and_then(crate::email::sign_in_address);
        match email {
            Some(email) if verified => Ok(Person {
                iss: claims.iss,
                sub: claims.sub,
                email,
                name: claims
                    .name
                    .map(|n| n.trim().chars().take(100).collect::<String>())
                    .filter(|n| !n.is_empty()),
            }),
            _ => Err(Refusal::EmailNotVerified),
        }
    }

    /// The key of `kid` (or the only key for the algorithm's family when the token names
    /// none) that may verify `algorithm`.
    fn key(
        &self,
        provider: &Provider,
        kid: Option<&str>,
        algorithm: Algorithm,
    ) -> Option<DecodingKey> {
        use jsonwebtoken::jwk::AlgorithmParameters;
        let fits = |jwk: &&jsonwebtoken::jwk::Jwk| {
            let family = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => matches!(
                    algorithm,
                    Algorithm::RS256
                        | Algorithm::RS384
                        | Algorithm::RS512
                        | Algorithm::PS256
                        | Algorithm::PS384
                        | Algorithm::PS512
                ),
                AlgorithmParameters::EllipticCurve(_) => {
                    matches!(algorithm, Algorithm::ES256 | Algorithm::ES384)
                }
                AlgorithmParameters::OctetKeyPair(_) => algorithm == Algorithm::EdDSA,
                _ => false,
            };
            let named_alg = jwk
                .common
                .key_algorithm
                .is_none_or(|named| format!("{named:?}") == format!("{algorithm:?}"));
            family && named_alg
        };
        let found = match kid {
            Some(kid) => provider.keys.find(kid).filter(|jwk| fits(jwk)),
            None => {
                let mut candidates = provider.keys.keys.iter().filter(fits);
                match (candidates.next(), candidates.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        }?;
        DecodingKey::from_jwk(found).ok()
    }

    /// The provider, fetched when not kept or kept over an hour.
    async fn provider(&self) -> Result<Arc<Provider>, Refusal> {
        let mut kept = self.provider.lock().await;
        if let Some(provider) = kept.as_ref()
            && provider.fetched.elapsed() < KEPT
        {
            return Ok(provider.clone());
        }
        let fresh = Arc::new(self.discover().await?);
        *kept = Some(fresh.clone());
        Ok(fresh)
    }

    /// The keys fetched again (at most once a minute), for a key id the set lacks.
    async fn refetch_keys(&self, seen: &Arc<Provider>) -> Result<Arc<Provider>, Refusal> {
        let mut kept = self.provider.lock().await;
        let current = kept.clone().unwrap_or_else(|| seen.clone());
        if current.keys_fetched.elapsed() < REFETCH_KEYS_AFTER {
            return Ok(current);
        }
        let keys = self.get_json::<JwkSet>(&current.jwks).await?;
        let fresh = Arc::new(Provider {
            issuer: current.issuer.clone(),
            authorization: current.authorization.clone(),
            token: current.token.clone(),
            jwks: current.jwks.clone(),
            secret_in_body: current.secret_in_body,
            keys,
            fetched: current.fetched,
            keys_fetched: Instant::now(),
        });
        *kept = Some(fresh.clone());
        Ok(fresh)
    }

    async fn discover(&self) -> Result<Provider, Refusal> {
        let issuer = &self.settings.issuer;
        let address = Url::parse(&format!("{issuer}/.well-known/openid-configuration"))
            .map_err(|e| Refusal::Provider(e.to_string()))?;
        let document: Discovery = self.get_json(&address).await?;
        if document.issuer.trim_end_matches('/') != issuer.as_str() {
            return Err(Refusal::Issuer);
        }
        let endpoint = |name: &str, value: &str| self.endpoint(name, value);
        let jwks = endpoint("jwks_uri", &document.jwks_uri)?;
        let keys = self.get_json::<JwkSet>(&jwks).await?;
        let methods = &document.token_endpoint_auth_methods_supported;
        Ok(Provider {
            authorization: endpoint("authorization_endpoint", &document.authorization_endpoint)?,
            token: endpoint("token_endpoint", &document.token_endpoint)?,
            jwks,
            secret_in_body: !methods.is_empty()
                && !methods.iter().any(|m| m == "client_secret_basic")
                && methods.iter().any(|m| m == "client_secret_post"),
            issuer: document.issuer,
            keys,
            fetched: Instant::now(),
            keys_fetched: Instant::now(),
        })
    }

    /// An endpoint the discovery document names: on the issuer's own host (trusted), else
    /// `https` at an address the outside-fetch rule allows.
    fn endpoint(&self, name: &str, value: &str) -> Result<Url, Refusal> {
        let url = Url::parse(value)
            .map_err(|e| Refusal::Provider(format!("{name} `{value}` is not an address: {e}")))?;
        let issuer = Url::parse(&self.settings.issuer).ok();
        let same_host = issuer.as_ref().is_some_and(|issuer| {
            issuer.host_str() == url.host_str() && issuer.scheme() == url.scheme()
        });
        let outside_ok = url.scheme() == "https"
            && (self.allow_private_networks || !fetch::host_is_refused(&url))
            && url.username().is_empty()
            && url.password().is_none();
        if same_host || outside_ok {
            Ok(url)
        } else {
            Err(Refusal::Provider(format!(
                "{name} `{value}` is neither on the issuer's host nor an https address Almanac may reach"
            )))
        }
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &Url) -> Result<T, Refusal> {
        let answer = self
            .http
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| Refusal::Provider(describe(&e)))?;
        if !answer.status().is_success() {
            return Err(Refusal::Provider(format!(
                "{url} answered {}",
                answer.status()
            )));
        }
        let body = limited(answer).await?;
        serde_json::from_slice(&body).map_err(|e| Refusal::Provider(format!("{url}: {e}")))
    }
}

/// The algorithm a token's header names, `none` and unknown ones included.
fn token_algorithm(token: &str) -> Result<Algorithm, Refusal> {
    let header = token
        .split('.')
        .next()
        .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .ok_or_else(|| Refusal::Malformed("no header".into()))?;
    let named = header["alg"].as_str().unwrap_or_default().to_owned();
    serde_json::from_value::<Algorithm>(serde_json::Value::String(named.clone()))
        .map_err(|_| Refusal::Algorithm(named))
}

/// A client id or secret as HTTP Basic carries it for OAuth (RFC 6749 section 2.3.1).
fn form_encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn describe(error: &reqwest::Error) -> String {
    match fetch::refused_host(error) {
        Some(host) => format!("{host} is not an address Almanac may reach"),
        None if error.is_timeout() => "the provider did not answer in time".into(),
        None => "the provider could not be reached".into(),
    }
}

/// An answer's body, at most [`MAX_ANSWER`] bytes.
async fn limited(mut answer: reqwest::Response) -> Result<Vec<u8>, Refusal> {
    let mut body = Vec::new();
    while let Some(chunk) = answer
        .chunk()
        .await
        .map_err(|e| Refusal::Provider(describe(&e)))?
    {
        if body.len() + chunk.len() > MAX_ANSWER {
            return Err(Refusal::Provider("the answer is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
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

    #[test]
    fn the_algorithm_is_read_from_the_header_whatever_it_names() {
        let header = |alg: &str| {
            format!(
                "{}.e30.",
                URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"{alg}"}}"#))
            )
        };
        assert_eq!(token_algorithm(&header("RS256")), Ok(Algorithm::RS256));
        assert_eq!(token_algorithm(&header("HS256")), Ok(Algorithm::HS256));
        assert_eq!(
            token_algorithm(&header("none")),
            Err(Refusal::Algorithm("none".into()))
        );
    }
}
