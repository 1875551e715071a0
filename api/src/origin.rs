//! Where the web app lives: the origins whose pages may send the session cookie.

use std::sync::Arc;

/// The cookie's name.
pub const COOKIE: &str = "almanac_session";

/// Where the web app lives (`PUBLIC_BASE_URL`): the origins whose pages' requests may
/// carry the cookie, and whether the cookie is `Secure`.
#[derive(Debug, Clone)]
pub struct WebOrigin {
    origins: Arc<[String]>,
    secure: bool,
}

impl WebOrigin {
    /// `public_base_url`, as configured or defaulted (the OAuth redirect base, else the bound
    /// address). A default on a loopback address also accepts the other loopback names for
    /// the same port, so `make run`'s page works as `localhost` and as `127.0.0.1`.
    pub fn new(public_base_url: &str, defaulted: bool) -> anyhow::Result<Self> {
        let url = url::Url::parse(public_base_url)
            .map_err(|e| anyhow::anyhow!("PUBLIC_BASE_URL: `{public_base_url}`: {e}"))?;
        let origin = url.origin().ascii_serialization();
        let mut origins = vec![origin];
        let loopback = match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback() || ip.is_unspecified(),
            Some(url::Host::Domain(name)) => name == "localhost",
            None => false,
        };
        if defaulted && loopback {
            let port = url.port_or_known_default().unwrap_or(80);
            for host in ["127.0.0.1", "localhost", "[::1]"] {
                origins.push(format!("{}://{host}:{port}", url.scheme()));
            }
        }
        origins.dedup();
        Ok(Self {
            origins: origins.into(),
            secure: url.scheme() == "https",
        })
    }

    /// The origins the app is served at.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    pub(crate) fn allows(&self, origin: &[u8]) -> bool {
        self.origins.iter().any(|o| o.as_bytes() == origin)
    }

    /// The `Set-Cookie` value carrying `id` for `max_age` seconds (0 ends it).
    pub(crate) fn cookie(&self, id: &str, max_age: i64) -> String {
        self.cookie_named(COOKIE, id, max_age)
    }

    /// A cookie that a top-level navigation from another site brings back (`SameSite=Lax`),
    /// sent only under `path`: the single sign-on attempt's, which must survive the
    /// provider's redirect to the callback.
    pub(crate) fn lax_cookie(&self, name: &str, value: &str, path: &str, max_age: i64) -> String {
        format!(
            "{name}={value}; HttpOnly; SameSite=Lax; Path={path}; Max-Age={max_age}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }

    /// The same for the cookie `name` (the admin's, `almanac_admin`).
    pub(crate) fn cookie_named(&self, name: &str, id: &str, max_age: i64) -> String {
        format!(
            "{name}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{}",
            if self.secure { "; Secure" } else { "" }
        )
    }
}
