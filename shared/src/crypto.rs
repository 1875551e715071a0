//! Tokens at rest: AES-256-GCM with `TOKEN_ENCRYPTION_KEY` (base64 of 32 bytes). A sealed
//! value is the 12-byte random nonce followed by the ciphertext and its tag; the
//! associated data names the row and the field, so a ciphertext moved elsewhere does not
//! open.

use aes_gcm::{
    Aes256Gcm, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;
use uuid::Uuid;

const NONCE_LEN: usize = 12;

pub use crate::config::TokenKey;

/// Seals and opens tokens of platform accounts.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

impl TokenCipher {
    pub fn new(key: &TokenKey) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.bytes().into()),
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
