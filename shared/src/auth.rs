//! Bearer tokens: HS256 JWTs with Supabase's claims (`sub`, `exp`, `aud = "authenticated"`),
//! so tokens Supabase issues with the same secret work unchanged. `exp`, `sub` and `aud` are
//! required; `nbf` and `iat` are checked when present (a token not valid yet, or issued in
//! the future, is refused), with the same leeway as `exp`; `role` is optional, as RFC 7519
//! has it, and defaults to `authenticated`.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const AUDIENCE: &str = "authenticated";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    pub aud: String,
    #[serde(default = "default_role")]
    pub role: String,
}

fn default_role() -> String {
    AUDIENCE.to_owned()
}

/// Seconds of clock difference tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 5;

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
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| InvalidToken(e.to_string()))?;
        let now = chrono::Utc::now().timestamp();
        if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECS as i64) {
            return Err(InvalidToken("issued in the future (iat)".into()));
        }
        Ok(claims)
    }

    /// Mints a token for `user` valid for `ttl_secs` (the `token` subcommand and tests).
    pub fn mint(&self, user: Uuid, ttl_secs: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            exp: now + ttl_secs,
            nbf: None,
            iat: Some(now),
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

    fn signed(claims: serde_json::Value) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET.as_bytes()),
        )
        .unwrap()
    }

    #[test]
    fn nbf_and_iat_are_checked_when_present_and_role_is_optional() {
        let keys = JwtKeys::new(SECRET);
        let user = Uuid::now_v7();
        let now = chrono::Utc::now().timestamp();
        let base = serde_json::json!({"sub": user, "exp": now + 600, "aud": AUDIENCE});
        let with = |extra: serde_json::Value| {
            let mut claims = base.clone();
            claims
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            signed(claims)
        };
        // A token from an issuer that sets neither `iat` nor `role`.
        let claims = keys.verify(&signed(base.clone())).unwrap();
        assert_eq!((claims.sub, claims.role.as_str()), (user, AUDIENCE));
        assert!(
            keys.verify(&with(serde_json::json!({"nbf": now + 3600})))
                .is_err()
        );
        assert!(
            keys.verify(&with(serde_json::json!({"nbf": now - 60, "iat": now - 60})))
                .is_ok()
        );
        assert!(
            keys.verify(&with(serde_json::json!({"iat": now + 3600})))
                .is_err()
        );
        // Within the leeway, a clock a little ahead is tolerated.
        assert!(
            keys.verify(&with(serde_json::json!({"nbf": now + 2, "iat": now + 2})))
                .is_ok()
        );
        // `sub`, `exp` and `aud` stay required.
        for claim in ["sub", "exp", "aud"] {
            let mut claims = base.clone();
            claims.as_object_mut().unwrap().remove(claim);
            assert!(keys.verify(&signed(claims)).is_err(), "{claim} missing");
        }
    }
}
