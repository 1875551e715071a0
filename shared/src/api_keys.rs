//! Personal API keys: `alm_` and 43 base64url characters (256 random bits), for scripts,
//! CI jobs and agents. A key is shown once; Postgres keeps its SHA-256 digest and its
//! [`prefix`] (`alm_` and the next 8 characters), by which its owner tells keys apart. Each
//! key holds [`Scope`]s; which scope an operation needs is the API's rule
//! (`docs/api-keys.md`).

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// What every key starts with.
pub const KEY_PREFIX: &str = "alm_";

/// Random bytes in a key.
const KEY_BYTES: usize = 32;

/// Characters after [`KEY_PREFIX`]: 32 bytes in base64url without padding.
pub const KEY_CHARS: usize = 43;

/// Characters after [`KEY_PREFIX`] that [`prefix`] keeps.
const SHOWN_CHARS: usize = 8;

crate::text_enum! {
    /// What a key may do. A JWT or a browser session may do all three.
    pub enum Scope in "lowercase" {
        /// Every `GET` or `HEAD` of a user operation.
        Read,
        /// Every other user operation, but those of `publish`.
        Write,
        /// Connecting channels, publish intents, and `POST /v1/calendars/{id}/publish`
        /// (a dry run included).
        Publish,
    }
}

/// A new key.
pub fn new_key() -> String {
    let mut bytes = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Whether `token` has a key's shape (and so is judged as a key, never as a JWT).
pub fn is_key(token: &str) -> bool {
    token.strip_prefix(KEY_PREFIX).is_some_and(|rest| {
        rest.len() == KEY_CHARS
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// What Postgres keeps of a key.
pub fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// What a key's owner is shown of it: `alm_` and the next 8 characters.
pub fn prefix(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + SHOWN_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_alm_and_43_base64url_characters_each_new() {
        let (one, two) = (new_key(), new_key());
        assert_ne!(one, two);
        for key in [&one, &two] {
            assert!(is_key(key), "{key}");
            assert_eq!(key.len(), KEY_PREFIX.len() + KEY_CHARS);
            assert_eq!(prefix(key), key[..12]);
            assert_eq!(digest(key), digest(&key.clone()));
        }
        assert!(!is_key("alm_short"));
        assert!(!is_key(&format!("alm_{}", "=".repeat(KEY_CHARS))));
        assert!(!is_key(&one.replacen("alm_", "alx_", 1)));
        assert!(!is_key("eyJhbGciOiJIUzI1NiJ9.e30.sig"));
    }

    #[test]
    fn scopes_are_words() {
        assert_eq!(Scope::parse("publish"), Some(Scope::Publish));
        assert_eq!(Scope::Read.as_str(), "read");
        assert_eq!(Scope::parse("admin"), None);
    }
}
