//! The addresses platforms fetch media from (`PUBLIC_BASE_URL/media/{token}`): the token
//! names the media, which copy (as uploaded, or its JPEG rendition) and an expiry, signed
//! with an HMAC of a key derived for this purpose only. Nothing is stored: a forged,
//! edited or expired token fails the check, and deleting the media ends every address.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

const TAG_BYTES: usize = 16;
const PAYLOAD_BYTES: usize = 16 + 1 + 8;
/// The length of every token this key makes.
pub const TOKEN_CHARS: usize = ((PAYLOAD_BYTES + TAG_BYTES) * 4).div_ceil(3);

/// Which copy of a media an address serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copy {
    /// The bytes as uploaded.
    Original,
    /// The JPEG made from a PNG or WebP image at upload.
    Jpeg,
    /// A video's poster frame (a JPEG the web app took from it).
    Poster,
}

/// What a valid token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signed {
    pub media_id: Uuid,
    pub copy: Copy,
}

/// The key media addresses are signed with.
#[derive(Clone)]
pub struct MediaUrlKey([u8; 32]);

impl MediaUrlKey {
    /// Derived from a deployment secret (`TOKEN_ENCRYPTION_KEY`'s bytes), for this purpose
    /// only.
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
        mac.update(b"almanac/media-url/v1");
        Self(mac.finalize().into_bytes().into())
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(payload);
        mac
    }

    /// The token of `copy` of `media_id`, valid until `expires`.
    pub fn token(&self, media_id: Uuid, copy: Copy, expires: DateTime<Utc>) -> String {
        let mut bytes = Vec::with_capacity(PAYLOAD_BYTES + TAG_BYTES);
        bytes.extend_from_slice(media_id.as_bytes());
        bytes.push(match copy {
            Copy::Original => 0,
            Copy::Jpeg => 1,
            Copy::Poster => 2,
        });
        bytes.extend_from_slice(&expires.timestamp().to_be_bytes());
        let tag = self.mac(&bytes).finalize().into_bytes();
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// What `token` names, when this key made it and it has not expired at `now`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<Signed> {
        if token.len() != TOKEN_CHARS {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let (payload, tag) = bytes.split_at_checked(PAYLOAD_BYTES)?;
        self.mac(payload).verify_truncated_left(tag).ok()?;
        let media_id = Uuid::from_slice(&payload[..16]).ok()?;
        let copy = match payload[16] {
            0 => Copy::Original,
            1 => Copy::Jpeg,
            2 => Copy::Poster,
            _ => return None,
        };
        let expires = i64::from_be_bytes(payload[17..].try_into().ok()?);
        (now.timestamp() <= expires).then_some(Signed { media_id, copy })
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    #[test]
    fn a_token_opens_until_it_expires_and_only_with_its_key() {
        let key = MediaUrlKey::derive(b"0123456789abcdef0123456789abcdef");
        let now = Utc::now();
        let media = Uuid::now_v7();
        let token = key.token(media, Copy::Jpeg, now + Duration::seconds(60));
        assert_eq!(token.len(), TOKEN_CHARS);
        assert_eq!(
            key.verify(&token, now),
            Some(Signed {
                media_id: media,
                copy: Copy::Jpeg
            })
        );
        assert_eq!(key.verify(&token, now + Duration::seconds(61)), None);
        let other = MediaUrlKey::derive(b"another secret of thirty-two b..");
        assert_eq!(other.verify(&token, now), None);
        // One character changed anywhere fails the check.
        for at in [0, 20, token.len() - 1] {
            let mut edited = token.clone().into_bytes();
            edited[at] = if edited[at] == b'A' { b'B' } else { b'A' };
            assert_eq!(key.verify(std::str::from_utf8(&edited).unwrap(), now), None);
        }
        assert_eq!(key.verify("short", now), None);
    }
}
