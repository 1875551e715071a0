//! An ID token's checks: its signature by a key of the provider's JWKS under an algorithm
//! of [`ALGORITHMS`], `iss`, `aud` (and `azp`), `exp`, the browser's `nonce` and a
//! verified `email`.

use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{Oidc, Person, Refusal, provider::Provider};

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

/// Seconds of clock difference tolerated on `exp`, `iat` and `nbf`.
const LEEWAY_SECS: u64 = 60;

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
    /// Every check of an ID token.
    pub(super) async fn verify(
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

#[cfg(test)]
mod tests {
    use super::*;

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
