//! A platform's own settings, read in its folder from its own variables: `<NAME>_API_BASE_URL`,
//! `<NAME>_AUTHORIZE_URL`, `<NAME>_TOKEN_URL` and its app's two credentials, each defaulting
//! to the platform's real addresses, or to the sandbox's (`PLATFORM_SANDBOX`: `<sandbox>/<name>`
//! and the real address's path, the browser's step at `<sandbox>/<name>/authorize`, and
//! credentials the fakes take).

use almanac_shared::config::{Secret, Vars};

use super::Parts;
use crate::PublishSettings;
use crate::oauth::CodeGrant;

/// A platform's endpoints and its app's credentials.
#[derive(Debug, Clone)]
pub struct PlatformSettings {
    pub api_base_url: String,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub authorize_url: String,
    pub token_url: String,
}

/// What a platform's settings are read from: its name (`tiktok`; its variables' prefix in
/// capitals), the names of its app's two credentials, and its real API base, authorize and
/// token URLs (a token URL left empty follows the API base through `token_path`).
pub struct Hosts {
    pub name: &'static str,
    pub credentials: (&'static str, &'static str),
    pub real: [&'static str; 3],
    /// The token endpoint's path under the API base, where `real` leaves it empty.
    pub token_path: &'static str,
}

/// What an OAuth platform's adapter calls with: the client every platform shares, its API's
/// base (without a trailing `/`), and its code grant.
pub struct OauthApi {
    pub http: reqwest::Client,
    pub base: String,
    pub grant: CodeGrant,
}

impl Hosts {
    /// The platform's API and its code grant (`label`, `not_configured` and `scope` as
    /// [`CodeGrant::new`] takes them, then what `declare` says of it), from its own settings.
    pub fn oauth(
        &self,
        parts: &Parts,
        label: &'static str,
        not_configured: &'static str,
        scope: &str,
        declare: impl FnOnce(CodeGrant) -> CodeGrant,
    ) -> anyhow::Result<OauthApi> {
        let (http, settings) = (parts.clients.api.clone(), self.read(parts)?);
        let grant = CodeGrant::new(http.clone(), label, &settings, not_configured, scope);
        Ok(OauthApi {
            http,
            base: settings.base(),
            grant: declare(grant),
        })
    }

    /// The platform's settings as the environment and `PLATFORM_SANDBOX` give them; an error
    /// naming the variable when one is not an http(s) URL.
    pub fn read(&self, parts: &Parts) -> anyhow::Result<PlatformSettings> {
        self.read_from(parts.settings)
    }

    /// [`Hosts::read`] from the publishing settings alone.
    pub fn read_from(&self, settings: &PublishSettings) -> anyhow::Result<PlatformSettings> {
        let vars = &settings.vars;
        let sandbox = settings.sandbox.as_deref();
        let [api, authorize, token] = self.real;
        let api_base_url = self.url(vars, "API_BASE_URL", &self.served(sandbox, api))?;
        let token_default = match token {
            "" => format!("{}{}", api_base_url.trim_end_matches('/'), self.token_path),
            token => self.served(sandbox, token),
        };
        let authorize_default = match sandbox {
            Some(base) => format!("{base}/{}/authorize", self.name),
            None => authorize.to_owned(),
        };
        let (id, secret) = self.credentials;
        let sandboxed = |value: &str| sandbox.map(|_| format!("sandbox-{value}"));
        Ok(PlatformSettings {
            client_id: vars.optional(id).or_else(|| sandboxed("client")),
            client_secret: vars
                .optional(secret)
                .or_else(|| sandboxed("secret"))
                .map(Secret::new),
            authorize_url: self.url(vars, "AUTHORIZE_URL", &authorize_default)?,
            token_url: self.url(vars, "TOKEN_URL", &token_default)?,
            api_base_url,
        })
    }

    /// `<NAME>_<suffix>`, an http(s) URL, else `default`.
    pub fn url(&self, vars: &Vars, suffix: &str, default: &str) -> anyhow::Result<String> {
        vars.url_or(&self.var(suffix), default)
    }

    /// The name of the platform's variable `<NAME>_<suffix>`.
    pub fn var(&self, suffix: &str) -> String {
        variable(self.name, suffix)
    }

    /// `real`, one of the platform's addresses, or where the sandbox serves it: under
    /// `<sandbox>/<name>`, at the real address's path.
    pub fn served(&self, sandbox: Option<&str>, real: &str) -> String {
        let Some(base) = sandbox else {
            return real.to_owned();
        };
        let path = url::Url::parse(real).map_or(String::new(), |url| url.path().to_owned());
        let path = if path == "/" { "" } else { path.as_str() };
        format!("{base}/{}{path}", self.name)
    }
}

/// The hosts of the platforms' addresses the operator set (`<NAME>_API_BASE_URL` of each
/// registered platform, and `_AUTHORIZE_URL` and `_TOKEN_URL` of those with an OAuth app)
/// and the sandbox's: the guarded client trusts them even where they are local. The real
/// addresses are public.
pub(crate) fn operator_hosts(vars: &Vars, sandbox: Option<&str>) -> Vec<String> {
    let set = super::BUILT_IN.iter().flat_map(|registered| {
        let hosts = registered.hosts;
        let oauth = !hosts.credentials.0.is_empty();
        let suffixes: &[&str] = match oauth {
            true => &["API_BASE_URL", "AUTHORIZE_URL", "TOKEN_URL"],
            false => &["API_BASE_URL"],
        };
        suffixes
            .iter()
            .map(|suffix| vars.optional(&hosts.var(suffix)))
    });
    set.flatten()
        .chain(sandbox.map(str::to_owned))
        .filter_map(|raw| url::Url::parse(&raw).ok()?.host_str().map(str::to_owned))
        .collect()
}

/// The variable `<NAME>_<suffix>` of the platform named `name`.
fn variable(name: &str, suffix: &str) -> String {
    format!("{}_{suffix}", name.to_ascii_uppercase())
}

impl PlatformSettings {
    /// The API base, without a trailing `/` (paths are appended to it).
    pub fn base(&self) -> String {
        self.api_base_url.trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{facebook, instagram, linkedin, threads, tiktok, youtube};
    use super::*;

    fn settings(pairs: &'static [(&'static str, &'static str)]) -> PublishSettings {
        almanac_shared::Settings::from_lookup(|key| {
            pairs
                .iter()
                .chain(&[
                    ("DATABASE_URL", "postgres://localhost/none"),
                    ("ALMANAC_DEV", "true"),
                ])
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        })
        .unwrap()
        .publish
    }

    /// Under `PLATFORM_SANDBOX` each platform is served under its name, at its real URLs'
    /// paths, with credentials the fakes take; what is set explicitly stays. Without it,
    /// the real addresses, and no credentials.
    #[test]
    fn the_sandbox_points_each_platform_under_its_name_at_its_real_paths() {
        let sandbox = settings(&[
            ("API_ADDR", "127.0.0.1:8085"),
            ("PLATFORM_SANDBOX", "true"),
            ("LINKEDIN_API_BASE_URL", "https://api.linkedin.com"),
        ]);
        let base = "http://127.0.0.1:8085/sandbox";
        let read = |hosts: &Hosts| hosts.read_from(&sandbox).unwrap();
        let tiktok = read(&tiktok::HOSTS);
        assert_eq!(tiktok.api_base_url, format!("{base}/tiktok"));
        assert_eq!(tiktok.authorize_url, format!("{base}/tiktok/authorize"));
        assert_eq!(tiktok.token_url, format!("{base}/tiktok/v2/oauth/token/"));
        assert_eq!(tiktok.client_id.as_deref(), Some("sandbox-client"));
        let threads = read(&threads::HOSTS);
        assert_eq!(threads.api_base_url, format!("{base}/threads"));
        assert_eq!(
            threads.token_url,
            format!("{base}/threads/oauth/access_token")
        );
        assert_eq!(threads.client_id.as_deref(), Some("sandbox-client"));
        assert_eq!(
            read(&instagram::HOSTS).token_url,
            format!("{base}/instagram/oauth/access_token")
        );
        let linkedin = read(&linkedin::HOSTS);
        assert_eq!(linkedin.authorize_url, format!("{base}/linkedin/authorize"));
        assert_eq!(
            linkedin.token_url,
            format!("{base}/linkedin/oauth/v2/accessToken")
        );
        assert_eq!(linkedin.api_base_url, "https://api.linkedin.com");
        assert_eq!(
            read(&youtube::HOSTS).token_url,
            format!("{base}/youtube/token")
        );
        assert_eq!(
            read(&facebook::HOSTS).token_url,
            format!("{base}/facebook/v25.0/oauth/access_token")
        );

        let real = settings(&[]);
        let tiktok = tiktok::HOSTS.read_from(&real).unwrap();
        assert_eq!(tiktok.api_base_url, "https://open.tiktokapis.com");
        assert_eq!(
            tiktok.token_url,
            "https://open.tiktokapis.com/v2/oauth/token/"
        );
        assert_eq!(tiktok.client_id, None);
        assert_eq!(
            instagram::HOSTS.read_from(&real).unwrap().token_url,
            "https://api.instagram.com/oauth/access_token"
        );
    }

    /// A platform's address that is not an http(s) URL stops the process, naming it.
    #[test]
    fn a_platform_address_that_is_not_a_url_is_refused_by_name() {
        let wrong = settings(&[("TIKTOK_TOKEN_URL", "ftp://example.com/token")]);
        let error = tiktok::HOSTS.read_from(&wrong).unwrap_err().to_string();
        assert_eq!(
            error,
            "TIKTOK_TOKEN_URL: expected an http(s) URL, got `ftp://example.com/token`"
        );
    }
}
