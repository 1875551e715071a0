//! The platforms, one folder each: its adapter (`mod.rs` and the files it splits into) and,
//! with the `sandbox` feature, its fake (`fake.rs`), which `PLATFORM_SANDBOX` serves under
//! `/sandbox/<name>` and the tests serve on a server of their own. What Instagram, Threads
//! and Facebook share (Meta's Graph API errors and its container flow) is [`meta`].
//!
//! [`BUILT_IN`] is the only list of platforms: the registry ([`crate::Platforms`]) makes an
//! adapter of each, and the sandbox routes `/<name>/...` to each one's fake. A new platform
//! is a folder here and one line in [`registry!`].

use std::sync::Arc;

use almanac_shared::media::MediaStore;

use crate::{Adapter, Platform, PublishSettings, http::Clients};

pub mod meta;
pub mod settings;

pub use settings::{Hosts, OauthApi, PlatformSettings};

/// What an adapter is made from: the HTTP clients every platform shares, the publishing
/// settings (with the variables the platform reads its own from, [`Hosts::read`]), and the
/// media store (for the bytes an adapter uploads itself).
pub struct Parts<'a> {
    pub clients: &'a Clients,
    pub settings: &'a PublishSettings,
    pub store: MediaStore,
}

/// An adapter the registry made.
pub type Made = Arc<dyn Adapter>;

/// A platform as the registry knows it before anything is made of it.
pub struct Registered {
    pub platform: Platform,
    /// Its adapter, made from its own settings (an error names the variable that is
    /// wrong); `None` where its settings leave it off.
    pub adapter: fn(&Parts) -> anyhow::Result<Option<Made>>,
    /// Where its settings come from (its `HOSTS`, beside its adapter).
    pub hosts: &'static Hosts,
    /// Its fake: the answer to a call under `/<name>` (the call's path without it).
    #[cfg(feature = "sandbox")]
    pub fake: fn(&mut crate::sandbox::State, &crate::sandbox::Call) -> crate::sandbox::Answer,
}

/// A platform's entry in the registry (`REGISTERED`: `platform`, and `adapter` making its
/// adapter, `hosts` its `HOSTS`) and, with the `sandbox` feature, its fake (`fake.rs` beside its `mod.rs`, which
/// answers under `/<name>`): one line in the platform's `mod.rs`, naming its adapter's
/// `new(&Parts) -> anyhow::Result<Self>` and, for a platform its settings may leave off,
/// `enabled(&Parts) -> anyhow::Result<bool>`.
macro_rules! register {
    ($platform:expr, $new:path) => {
        super::register!($platform, $new, |_| Ok(true));
    };
    ($platform:expr, $new:path, $enabled:expr) => {
        /// The platform in the registry ([`super::BUILT_IN`]).
        pub const REGISTERED: super::Registered = super::Registered {
            platform: $platform,
            adapter: |parts| {
                let enabled: fn(&super::Parts) -> anyhow::Result<bool> = $enabled;
                Ok(match enabled(parts)? {
                    true => Some(std::sync::Arc::new($new(parts)?)),
                    false => None,
                })
            },
            hosts: &HOSTS,
            #[cfg(feature = "sandbox")]
            fake: fake::route,
        };

        /// Its fake, which the sandbox serves under its name.
        #[cfg(feature = "sandbox")]
        pub mod fake;
    };
}
use register;

/// Declares each platform's folder and lists it in [`BUILT_IN`], in one line each.
macro_rules! registry {
    ($($(#[$attr:meta])* $name:ident),* $(,)?) => {
        $($(#[$attr])* pub mod $name;)*
        /// Every platform Almanac publishes to, each one's [`Registered`].
        pub const BUILT_IN: &[Registered] = &[$($(#[$attr])* $name::REGISTERED),*];
    };
}

registry! {
    tiktok,
    instagram,
    linkedin,
    bluesky,
    threads,
    facebook,
    youtube,
    #[cfg(feature = "sandbox")] testnet,
}

/// The registered platform served under `/<name>` (the sandbox's router).
#[cfg(feature = "sandbox")]
pub(crate) fn named(name: &str) -> Option<&'static Registered> {
    BUILT_IN.iter().find(|r| r.platform.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each platform is listed once, under the name its adapter answers with.
    #[test]
    fn the_list_names_each_platform_once() {
        let mut names: Vec<_> = BUILT_IN.iter().map(|r| r.platform.as_str()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), BUILT_IN.len());
        assert_eq!(BUILT_IN.len(), 7 + usize::from(cfg!(feature = "sandbox")));
        for registered in BUILT_IN {
            assert_eq!(registered.hosts.name, registered.platform.as_str());
        }
    }
}
