//! What the provider publishes: its discovery document (`<issuer>/.well-known/openid-configuration`)
//! and its keys, fetched through the guarded client and kept for an hour.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;
use url::Url;

use super::{Oidc, Refusal};
use crate::fetch;

/// How long the discovery document and the keys are kept before being fetched again.
const KEPT: Duration = Duration::from_secs(3600);
/// The keys are fetched again for an unknown key id at most this often.
const REFETCH_KEYS_AFTER: Duration = Duration::from_secs(60);
/// The largest answer read from the provider.
const MAX_ANSWER: usize = 512 * 1024;
#[derive(Debug, Deserialize)]
struct Discovery {
    pub(super) issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

/// The provider as its discovery document and keys describe it.
pub(super) struct Provider {
    pub(super) issuer: String,
    pub(super) authorization: Url,
    pub(super) token: Url,
    jwks: Url,
    /// `client_secret_post` when the provider does not take `client_secret_basic`.
    pub(super) secret_in_body: bool,
    pub(super) keys: JwkSet,
    fetched: Instant,
    keys_fetched: Instant,
}

impl Oidc {
    /// The provider, fetched when not kept or kept over an hour.
    pub(super) async fn provider(&self) -> Result<Arc<Provider>, Refusal> {
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
    pub(super) async fn refetch_keys(
        &self,
        seen: &Arc<Provider>,
    ) -> Result<Arc<Provider>, Refusal> {
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

pub(super) fn describe(error: &reqwest::Error) -> String {
    match fetch::refused_host(error) {
        Some(host) => format!("{host} is not an address Almanac may reach"),
        None if error.is_timeout() => "the provider did not answer in time".into(),
        None => "the provider could not be reached".into(),
    }
}

/// An answer's body, at most [`MAX_ANSWER`] bytes.
pub(super) async fn limited(mut answer: reqwest::Response) -> Result<Vec<u8>, Refusal> {
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
