//! Tokens at rest: AES-256-GCM with `TOKEN_ENCRYPTION_KEY` (base64 of 32 bytes). A sealed
//! value is the 12-byte random nonce followed by the ciphertext and its tag; the
//! associated data names the row and the field, so a ciphertext moved elsewhere does not
//! open.

use std::fmt;

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use base64::Engine;
use rand::RngCore;
use uuid::Uuid;

const NONCE_LEN: usize = 12;

/// The key; `Debug` never shows it.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

impl TokenKey {
    /// Reads base64 (standard or URL-safe, padded or not) of exactly 32 bytes.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::STANDARD_NO_PAD,
            base64::engine::general_purpose::URL_SAFE,
            base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let bytes = engines
            .iter()
            .find_map(|engine| engine.decode(raw).ok())
            .ok_or("expected base64")?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("expected 32 bytes, got {}", b.len()))?;
        Ok(Self(key))
    }

    /// The key's bytes (for the check that it is not a placeholder).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// A random key, base64 (`make run` and tests).
    pub fn generate() -> String {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        base64::engine::general_purpose::STANDARD.encode(key)
    }
}

/// Seals and opens tokens of platform accounts.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

impl TokenCipher {
    pub fn new(key: &TokenKey) -> Self {
        Self {
            cipher: Aes256Gcm::new((&key.0).into()),
        }
    }

    /// `token` sealed for `field` of the account `account`.
    pub fn seal(&self, account: Uuid, field: &str, token: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let aad = associated(account, field);
        let sealed = self
            .cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: token.as_bytes(),
                    aad: &aad,
                },
            )
            .expect("AES-GCM encrypts any message of this size");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        out
    }

    /// The token, or `None` when it does not open (another key, row or field; tampered).
    pub fn open(&self, account: Uuid, field: &str, sealed: &[u8]) -> Option<String> {
        if sealed.len() <= NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        let aad = associated(account, field);
        let plain = self
            .cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

fn associated(account: Uuid, field: &str) -> Vec<u8> {
    let mut aad = account.as_bytes().to_vec();
    aad.extend_from_slice(field.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> TokenCipher {
        TokenCipher::new(&TokenKey::parse(&TokenKey::generate()).unwrap())
    }

    #[test]
    fn a_sealed_token_opens_only_for_its_row_and_field() {
        let cipher = cipher();
        let account = Uuid::now_v7();
        let sealed = cipher.seal(account, "access", "act.secret-token");
        assert!(
            !sealed
                .windows(b"secret".len())
                .any(|w| w == b"secret".as_slice())
        );
        assert_eq!(
            cipher.open(account, "access", &sealed).as_deref(),
            Some("act.secret-token")
        );
        assert_eq!(cipher.open(account, "refresh", &sealed), None);
        assert_eq!(cipher.open(Uuid::now_v7(), "access", &sealed), None);
        let other = self::cipher();
        assert_eq!(other.open(account, "access", &sealed), None);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(cipher.open(account, "access", &tampered), None);
    }

    #[test]
    fn two_seals_of_one_token_differ() {
        let cipher = cipher();
        let account = Uuid::now_v7();
        assert_ne!(
            cipher.seal(account, "access", "t"),
            cipher.seal(account, "access", "t")
        );
    }

    #[test]
    fn keys_must_be_base64_of_32_bytes() {
        assert!(TokenKey::parse("not base64!").is_err());
        assert_eq!(
            TokenKey::parse("AAAA").unwrap_err(),
            "expected 32 bytes, got 3"
        );
        let key = TokenKey::generate();
        assert!(TokenKey::parse(&key).is_ok());
        assert!(!format!("{:?}", TokenKey::parse(&key).unwrap()).contains(&key));
    }
}
