//! `MEDIA_*`, `S3_*`: where uploaded media is kept, how much of it, and how long the
//! addresses platforms fetch it from stay valid.

use std::time::Duration;

use anyhow::bail;

use super::env::{Env, Secret};

/// Where media objects live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaStoreLocation {
    /// `file://<dir>`: a directory on this machine (every process must see the same one).
    Directory(String),
    /// `s3://<bucket>/<prefix>`: an S3-compatible bucket.
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        region: String,
        access_key_id: Option<String>,
        secret_access_key: Option<Secret>,
    },
}

#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// `MEDIA_STORE` (`file://.data/media`).
    pub store: MediaStoreLocation,
    /// `MEDIA_UPLOAD_TIMEOUT_SECS` (600): how long an upload's body may take to arrive.
    pub upload_timeout: Duration,
    /// `MEDIA_MAX_BYTES_PER_WORKSPACE` (formerly `MEDIA_MAX_BYTES_PER_USER`; 1 GiB): what
    /// one workspace may keep in all.
    pub max_bytes_per_workspace: u64,
    /// `MEDIA_URL_TTL_SECS` (86,400): how long a media address a platform fetches stays
    /// valid (Instagram fetches a container's media up to a day after it was made).
    pub url_ttl: Duration,
    /// `MEDIA_DECODE_CONCURRENCY` (2): images decoded at once in one process (each takes
    /// up to a few hundred MiB); the others wait their turn.
    pub decode_concurrency: usize,
}

impl MediaSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        let store = location(env, &env.string_or("MEDIA_STORE", "file://.data/media")?)?;
        let upload_timeout = env.seconds_or("MEDIA_UPLOAD_TIMEOUT_SECS", 600.0)?;
        if upload_timeout.is_zero() {
            bail!("MEDIA_UPLOAD_TIMEOUT_SECS: must be greater than 0");
        }
        let url_ttl = env.seconds_or("MEDIA_URL_TTL_SECS", 86_400.0)?;
        if url_ttl < Duration::from_secs(1) {
            bail!("MEDIA_URL_TTL_SECS: must be at least 1");
        }
        let decode_concurrency: usize = env.parse_or("MEDIA_DECODE_CONCURRENCY", 2)?;
        if !(1..=64).contains(&decode_concurrency) {
            bail!("MEDIA_DECODE_CONCURRENCY: must be between 1 and 64, got {decode_concurrency}");
        }
        Ok(Self {
            store,
            upload_timeout,
            decode_concurrency,
            max_bytes_per_workspace: env.parse_renamed_or(
                "MEDIA_MAX_BYTES_PER_WORKSPACE",
                "MEDIA_MAX_BYTES_PER_USER",
                1 << 30,
            )?,
            url_ttl,
        })
    }
}

fn location(env: &Env, raw: &str) -> anyhow::Result<MediaStoreLocation> {
    if let Some(dir) = raw.strip_prefix("file://") {
        if dir.is_empty() {
            bail!("MEDIA_STORE: `file://` needs a directory, e.g. `file:///var/lib/almanac/media`");
        }
        return Ok(MediaStoreLocation::Directory(dir.to_owned()));
    }
    if let Some(rest) = raw.strip_prefix("s3://") {
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            bail!("MEDIA_STORE: `s3://` needs a bucket, e.g. `s3://almanac-media/uploads`");
        }
        let endpoint = env.optional("S3_ENDPOINT");
        if let Some(endpoint) = &endpoint
            && !matches!(url::Url::parse(endpoint), Ok(u) if ["http", "https"].contains(&u.scheme()))
        {
            bail!("S3_ENDPOINT: expected an http(s) address, got `{endpoint}`");
        }
        return Ok(MediaStoreLocation::S3 {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint,
            region: env.string_or("S3_REGION", "us-east-1")?,
            access_key_id: env.optional("S3_ACCESS_KEY_ID"),
            secret_access_key: env.optional("S3_SECRET_ACCESS_KEY").map(Secret::new),
        });
    }
    bail!("MEDIA_STORE: expected `file://<dir>` or `s3://<bucket>/<prefix>`, got `{raw}`")
}
