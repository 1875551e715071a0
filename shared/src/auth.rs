//! Bearer tokens: HS256 JWTs with Supabase's claims (`sub`, `exp`, `aud = "authenticated"`),
//! so tokens Supabase issues with the same secret work unchanged.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const AUDIENCE: &str = "authenticated";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub exp: i64,
    pub iat: i64,
    pub aud: String,
    pub role: String,
}

/// Verifies and mints tokens with one secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid token: {0}")]
pub struct InvalidToken(String);

impl JwtKeys {
    pub fn new(secret: &str) -> Self {
        // Only HS256 is accepted: `alg: none` and algorithm confusion are refused here.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "aud"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| InvalidToken(e.to_string()))
    }

    /// Mints a token for `user` valid for `ttl_secs` (the `token` subcommand and tests).
    pub fn mint(&self, user: Uuid, ttl_secs: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            exp: now + ttl_secs,
            iat: now,
            aud: AUDIENCE.to_owned(),
            role: AUDIENCE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn minted_tokens_verify() {
        let keys = JwtKeys::new(SECRET);
        let user = Uuid::now_v7();
        assert_eq!(keys.verify(&keys.mint(user, 60)).unwrap().sub, user);
    }

    #[test]
    fn expired_foreign_and_unsigned_tokens_are_refused() {
        let keys = JwtKeys::new(SECRET);
        let user = Uuid::now_v7();
        assert!(keys.verify(&keys.mint(user, -60)).is_err());
        assert!(
            JwtKeys::new("another-secret-another-secret-xx")
                .verify(&keys.mint(user, 60))
                .is_err()
        );
        let token = keys.mint(user, 60);
        let payload = token.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys.verify(&format!("{header}.{payload}.")).is_err());
    }
}
