//! How adapters reach their platforms: one HTTP client for every adapter, guarded like
//! every outside fetch (names resolve to public addresses only, but for the hosts the
//! operator configured: `*_API_BASE_URL`, `*_AUTHORIZE_URL`, `*_TOKEN_URL`,
//! `BLUESKY_API_BASE_URL`, which stay trusted), no redirects followed; one guarded
//! [`Fetcher`] for the media URLs an adapter uploads itself; and the rule for an address a
//! platform supplies in an answer ([`supplied`]). Adapters build no client of their own
//! (a structure test holds them to it): the registry hands them these. And one call, made
//! the same way for every platform ([`exchange`], [`call`]): under the channel's permits,
//! its answer read, a lost one said, and a refusal in the platform's own reading.

use std::time::Duration;

use url::Url;

use serde_json::Value;

use super::{Failure, PublishSettings, Reply};
use almanac_shared::fetch::{FetchSettings, Fetcher, guarded_trusting};

/// The code of a platform-supplied address that is refused.
pub const CHANNEL_HOST_REFUSED: &str = "CHANNEL_HOST_REFUSED";

/// The longest service address kept (`platform_accounts.service_url`), in bytes.
const SERVICE_MAX_LEN: usize = 2048;

/// The clients the registry hands its adapters.
#[derive(Clone)]
pub struct Clients {
    /// Every call to a platform.
    pub api: reqwest::Client,
    /// The media URLs of entries (`mediaUrl`) an adapter uploads itself.
    pub media: Fetcher,
    /// `FETCH_ALLOW_PRIVATE_NETWORKS`: a platform-supplied address may be private and
    /// `http` (development and tests only).
    pub allow_private_networks: bool,
}

impl Clients {
    /// The clients, trusting `operator_hosts` (the platforms' addresses the operator set,
    /// which may be local) as the guard's exceptions.
    pub fn new(
        settings: &PublishSettings,
        fetch: &FetchSettings,
        operator_hosts: Vec<String>,
    ) -> anyhow::Result<Self> {
        let builder = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .connect_timeout(settings.http_timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none());
        let api =
            guarded_trusting(builder, fetch.allow_private_networks, operator_hosts).build()?;
        Ok(Self {
            api,
            media: Fetcher::new(fetch.clone())?,
            allow_private_networks: fetch.allow_private_networks,
        })
    }
}

/// What a platform-supplied address is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Supplied {
    /// A service Almanac calls with the account's token (a Bluesky account's PDS, named by
    /// its DID document): a base address, so it carries no query either.
    Service,
    /// Where one upload's bytes go (LinkedIn's `uploadUrl`): its query is the platform's
    /// signature of the upload, and is kept.
    Upload,
}

/// An address a platform supplied, as Almanac may call it: absolute, `https` (or `http`
/// where private networks are allowed, for development), without a user name, password or
/// fragment (nor a query, nor over 2,048 characters, for a [`Supplied::Service`]), and not naming a local or private
/// host: the webhook URLs' rule (`almanac_shared::webhooks::check_url`). Its name is judged again
/// by the addresses it resolves to when called. `what` names it in the refusal.
pub fn supplied(
    raw: &str,
    kind: Supplied,
    allow_private_networks: bool,
    what: &str,
) -> Result<Url, Failure> {
    let refused = |why: String| {
        Failure::permanent(
            CHANNEL_HOST_REFUSED,
            format!("{what} is not an address Almanac calls: {why}"),
        )
    };
    let url = almanac_shared::webhooks::check_url(raw, allow_private_networks)
        .map_err(|refusal| refused(refusal.to_string()))?;
    if url.fragment().is_some() {
        return Err(refused("it carries a fragment".into()));
    }
    if kind == Supplied::Service && url.query().is_some() {
        return Err(refused("it carries a query".into()));
    }
    if kind == Supplied::Service && raw.trim().len() > SERVICE_MAX_LEN {
        return Err(refused(format!(
            "it is longer than {SERVICE_MAX_LEN} characters"
        )));
    }
    Ok(url)
}

/// One answer of a platform, read: its status, its headers, and its body as JSON (null
/// when it was empty or not JSON: `json` says which).
pub(crate) struct Answered {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    /// The body was JSON.
    pub json: bool,
}

impl Answered {
    /// The header `name`, when it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// How long `Retry-After` asks to wait (its seconds form).
    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|secs| secs.trim().parse::<u64>().ok())
            .map(Duration::from_secs)
    }

    /// The reply of the platform called `label`: a 2xx its body, a 5xx a lost answer, any
    /// other status the refusal `refused` reads.
    pub fn reply(self, label: &str, refused: impl FnOnce(&Answered) -> Failure) -> Reply {
        match self.status {
            200..=299 => Reply::Ok(self.body),
            500.. => Reply::Lost(format!("{label} answered {}", self.status), false),
            _ => Reply::Refused(refused(&self)),
        }
    }
}

/// One call to the platform called `label`, under the channel's permits (a publish's
/// requests take one each: `PLATFORM_MAX_CONCURRENCY`), its answer read; `Err`: the reply
/// without an answer (the permit not had in time, or no answer: why, and whether the request
/// certainly never left).
pub(crate) async fn exchange(
    label: &str,
    request: reqwest::RequestBuilder,
) -> Result<Answered, Reply> {
    let _permit = crate::request_permit(label).await.map_err(Reply::Refused)?;
    let response = request
        .send()
        .await
        .map_err(|error| Reply::lost(&error, label))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.map_err(|_| {
        Reply::Lost(
            format!("the connection was lost while {label} answered {status}"),
            false,
        )
    })?;
    let body = serde_json::from_slice::<Value>(&bytes).ok();
    Ok(Answered {
        status,
        headers,
        json: body.is_some(),
        body: body.unwrap_or(Value::Null),
    })
}

/// One call to the platform called `label`, read as [`Answered::reply`] reads it.
pub(crate) async fn call(
    label: &str,
    request: reqwest::RequestBuilder,
    refused: impl FnOnce(&Answered) -> Failure,
) -> Reply {
    match exchange(label, request).await {
        Ok(answered) => answered.reply(label, refused),
        Err(reply) => reply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supplied_address_passes_the_webhook_rule_and_carries_nothing_else() {
        let service = |raw: &str| supplied(raw, Supplied::Service, false, "the PDS");
        assert!(service("https://pds.example.com").is_ok());
        let long = format!("https://pds.example.com/{}", "a".repeat(2048));
        assert_eq!(
            service(&long).expect_err("too long").code,
            CHANNEL_HOST_REFUSED
        );
        assert!(service("https://pds.example.com/").is_ok());
        for refused in [
            "https://127.0.0.1",
            "https://127.1",
            "https://2130706433",
            "https://0x7f000001",
            "https://10.0.0.8",
            "https://169.254.169.254/latest",
            "https://[::1]",
            "https://[::ffff:127.0.0.1]",
            "https://[::ffff:7f00:1]",
            "https://localhost",
            "https://pds.localhost.",
            "https://user:pw@pds.example.com",
            "https://user@pds.example.com",
            "https://pds.example.com/?steal=1",
            "https://pds.example.com/#x",
            "http://pds.example.com",
            "ftp://pds.example.com",
            "pds.example.com",
        ] {
            let refusal = service(refused).expect_err(refused);
            assert_eq!(refusal.code, CHANNEL_HOST_REFUSED, "{refused}");
        }
        let upload = |raw: &str| supplied(raw, Supplied::Upload, false, "the upload URL");
        assert!(upload("https://www.linkedin.com/dms-uploads/x/0?ca=vector_ads&m=AQ").is_ok());
        assert!(upload("https://10.1.2.3/up?x=1").is_err());
        // Development: http and private hosts, never credentials.
        let dev = |raw: &str| supplied(raw, Supplied::Service, true, "the PDS");
        assert!(dev("http://127.0.0.1:8080/pds").is_ok());
        assert!(dev("http://u:p@127.0.0.1:8080/pds").is_err());
    }
}
