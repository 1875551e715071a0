//! `FETCH_*`: fetching theme sources (seed 004) through the guarded fetcher.

use std::time::Duration;

use super::env::Env;

/// The guarded fetcher's settings.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// `FETCH_ALLOW_PRIVATE_NETWORKS`: reach private and special-purpose addresses (tests).
    pub allow_private_networks: bool,
    /// `FETCH_TIMEOUT_MS`: one fetch, redirects included.
    pub timeout: Duration,
    /// `FETCH_MAX_BYTES`: a body longer than this is refused.
    pub max_bytes: usize,
}

impl FetchSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        Ok(FetchSettings {
            allow_private_networks: env.parse_or("FETCH_ALLOW_PRIVATE_NETWORKS", false)?,
            timeout: env.millis_or("FETCH_TIMEOUT_MS", 10_000)?,
            max_bytes: env.parse_or("FETCH_MAX_BYTES", 2 * 1024 * 1024)?,
        })
    }
}
