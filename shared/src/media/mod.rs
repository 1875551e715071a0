//! Uploaded media (`docs/media.md`): what an upload is (read from its bytes), where the
//! bytes live (`store`), the JPEG copy made of PNG and WebP images (`image`), a video's
//! length and frame (`mp4`), and the signed addresses platforms fetch them from (`token`). The rows are `store::media`'s.

pub mod format;
pub mod image;
pub mod mp4;
pub mod store;
pub mod token;

pub use format::MediaFormat;
pub use store::MediaStore;
pub use token::{Copy, MediaUrlKey, Signed};

use std::time::Duration;

use chrono::Utc;
use uuid::Uuid;

use crate::Settings;

/// The media store and the signing of its addresses, as a process uses them.
#[derive(Clone, Debug)]
pub struct Media {
    pub store: MediaStore,
    key: MediaUrlKey,
    /// `PUBLIC_BASE_URL` (else the redirect base): where `/media/{token}` is served.
    base_url: String,
    ttl: Duration,
    /// The images this process decodes at once (`MEDIA_DECODE_CONCURRENCY`).
    pub decodes: image::Decodes,
}

impl std::fmt::Debug for MediaUrlKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaUrlKey(…)")
    }
}

impl Media {
    /// From the settings: the key is derived from `TOKEN_ENCRYPTION_KEY`, or from
    /// `JWT_SECRET` where publishing is off and no platform fetches media (the web app's
    /// thumbnails still use signed addresses).
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let key = match &settings.publish.token_key {
            Some(key) => MediaUrlKey::derive(key.bytes()),
            None => MediaUrlKey::derive(settings.jwt_secret.expose().as_bytes()),
        };
        Ok(Self {
            store: MediaStore::open(&settings.media)?,
            key,
            base_url: settings.app_base_url().trim_end_matches('/').to_owned(),
            ttl: settings.media.url_ttl,
            decodes: image::Decodes::new(settings.media.decode_concurrency),
        })
    }

    /// The same, its addresses served from `base_url`.
    pub fn served_from(mut self, base_url: &str) -> Self {
        self.base_url = base_url.trim_end_matches('/').to_owned();
        self
    }

    /// The address of `copy` of media `id`, valid for `MEDIA_URL_TTL_SECS` from now.
    pub fn url(&self, id: Uuid, copy: Copy) -> String {
        let expires =
            Utc::now() + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::days(1));
        format!(
            "{}/media/{}",
            self.base_url,
            self.key.token(id, copy, expires)
        )
    }

    /// What a token names, when valid now.
    pub fn verify(&self, token: &str) -> Option<Signed> {
        self.key.verify(token, Utc::now())
    }
}
