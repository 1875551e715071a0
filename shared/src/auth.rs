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
    /// The user's address (Supabase's tokens carry it): where what needs them is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

fn default_role() -> String {
    AUDIENCE.to_owned()
}

/// The role of Supabase's service key, and of every token the admin endpoints accept.
pub const SERVICE_ROLE: &str = "service_role";

/// What the admin endpoints read from a token: a service key has no `sub` and no `aud`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleClaims {
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default = "default_role")]
    pub role: String,
}

/// Seconds of clock difference tolerated on `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 5;

/// Verifies and mints tokens with one secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    /// For [`JwtKeys::role`]: the signature, `exp` (required), `nbf`; no audience.
    role_validation: Validation,
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
        let mut role_validation = Validation::new(Algorithm::HS256);
        role_validation.validate_aud = false;
        role_validation.set_required_spec_claims(&["exp"]);
        role_validation.validate_nbf = true;
        role_validation.leeway = LEEWAY_SECS;
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            validation,
            role_validation,
        }
    }

    pub fn verify(&self, token: &str) -> Result<Claims, InvalidToken> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| InvalidToken(e.to_string()))?;
        not_issued_in_the_future(claims.iat)?;
        Ok(claims)
    }

    /// The role of a token signed with the secret and not expired, whatever its audience
    /// and subject: Supabase's service key (`role: service_role`) has neither.
    pub fn role(&self, token: &str) -> Result<String, InvalidToken> {
        let claims =
            jsonwebtoken::decode::<RoleClaims>(token, &self.decoding, &self.role_validation)
                .map(|data| data.claims)
                .map_err(|e| InvalidToken(e.to_string()))?;
        not_issued_in_the_future(claims.iat)?;
        Ok(claims.role)
    }

    /// Mints a service-role token valid for `ttl_secs`, shaped like Supabase's service key
    /// (`almanac-api token --service-role`).
    pub fn mint_service_role(&self, ttl_secs: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = RoleClaims {
            exp: now + ttl_secs,
            iat: Some(now),
            role: SERVICE_ROLE.to_owned(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail")
    }

    /// Mints a token for `user` valid for `ttl_secs` (the `token` subcommand and tests).
    pub fn mint(&self, user: Uuid, ttl_secs: i64) -> String {
        self.mint_with_email(user, None, ttl_secs)
    }

    /// [`JwtKeys::mint`] with an `email` claim, as Supabase's tokens have.
    pub fn mint_with_email(&self, user: Uuid, email: Option<&str>, ttl_secs: i64) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            exp: now + ttl_secs,
            nbf: None,
            iat: Some(now),
            aud: AUDIENCE.to_owned(),
            role: AUDIENCE.to_owned(),
            email: email.map(str::to_owned),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 encoding of plain claims cannot fail")
    }
}

fn not_issued_in_the_future(iat: Option<i64>) -> Result<(), InvalidToken> {
    let now = chrono::Utc::now().timestamp();
    if iat.is_some_and(|iat| iat > now + LEEWAY_SECS as i64) {
        return Err(InvalidToken("issued in the future (iat)".into()));
    }
    Ok(())
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

    #[test]
    fn the_role_is_read_from_any_valid_token_of_the_secret() {
        let keys = JwtKeys::new(SECRET);
        assert_eq!(
            keys.role(&keys.mint_service_role(60)).unwrap(),
            SERVICE_ROLE
        );
        assert_eq!(keys.role(&keys.mint(Uuid::now_v7(), 60)).unwrap(), AUDIENCE);
        // Supabase's service key: no sub, no aud, an issuer.
        let now = chrono::Utc::now().timestamp();
        let service_key = signed(serde_json::json!({
            "iss": "supabase", "ref": "abc", "role": "service_role", "iat": now, "exp": now + 60
        }));
        assert_eq!(keys.role(&service_key).unwrap(), SERVICE_ROLE);
        // A user token refuses it: no sub, no aud.
        assert!(keys.verify(&service_key).is_err());
        assert!(keys.role(&keys.mint_service_role(-60)).is_err());
        assert!(
            JwtKeys::new("another-secret-another-secret-xx")
                .role(&keys.mint_service_role(60))
                .is_err()
        );
        let no_exp = signed(serde_json::json!({ "role": "service_role" }));
        assert!(keys.role(&no_exp).is_err());
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
