//! Fetching a theme's sources (seed 004): RSS and Atom feeds through a real feed parser,
//! web pages reduced to their text, each with a time and a size limit. Only globally
//! reachable addresses are fetched from (IANA's special-purpose registries; an IPv6 form
//! that embeds an IPv4 address is judged by it): checked by name at every resolution, and
//! as literal addresses, redirects included, unless `FETCH_ALLOW_PRIVATE_NETWORKS=true`.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
};

use futures::StreamExt;
use url::Url;

use crate::domain::synthesis::{Document, DocumentKind};

/// Items taken from one feed.
pub const FEED_ITEMS: usize = 20;
/// Characters kept of a page's or an item's text.
pub const TEXT_CHARS: usize = 4_000;

pub use crate::config::FetchSettings;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("refused: {0} is not a public internet address")]
    Private(String),
    #[error("no answer within {0} ms")]
    Timeout(u128),
    #[error("larger than {0} bytes")]
    TooLarge(usize),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("{0}")]
    Failed(String),
    #[error("not a feed: {0}")]
    NotAFeed(String),
}

/// An IPv4 block: its first address and prefix length.
type V4Block = ([u8; 4], u8);
/// An IPv6 block.
type V6Block = ([u16; 8], u8);

/// IANA's IPv4 special-purpose registry (RFC 6890, as updated): every block whose
/// addresses are not globally reachable, plus multicast, the deprecated 6to4 relay anycast
/// and the reserved 240/4. The exceptions inside `192.0.0.0/24` (`.9` and `.10`, globally
/// reachable anycast) are [`V4_GLOBAL_EXCEPTIONS`].
const V4_NOT_GLOBAL: [V4Block; 17] = [
    ([0, 0, 0, 0], 8),          // "this network" (RFC 791)
    ([10, 0, 0, 0], 8),         // private (RFC 1918)
    ([100, 64, 0, 0], 10),      // shared address space (RFC 6598)
    ([127, 0, 0, 0], 8),        // loopback (RFC 1122)
    ([169, 254, 0, 0], 16),     // link-local (RFC 3927)
    ([172, 16, 0, 0], 12),      // private (RFC 1918)
    ([192, 0, 0, 0], 24),       // IETF protocol assignments (RFC 6890)
    ([192, 0, 2, 0], 24),       // documentation, TEST-NET-1 (RFC 5737)
    ([192, 88, 99, 0], 24),     // 6to4 relay anycast, deprecated (RFC 7526)
    ([192, 168, 0, 0], 16),     // private (RFC 1918)
    ([198, 18, 0, 0], 15),      // benchmarking (RFC 2544)
    ([198, 51, 100, 0], 24),    // documentation, TEST-NET-2 (RFC 5737)
    ([203, 0, 113, 0], 24),     // documentation, TEST-NET-3 (RFC 5737)
    ([224, 0, 0, 0], 4),        // multicast (RFC 5771)
    ([240, 0, 0, 0], 4),        // reserved (RFC 1112)
    ([255, 255, 255, 255], 32), // limited broadcast (RFC 919)
    ([192, 0, 0, 170], 31),     // NAT64/DNS64 discovery (RFC 7050), inside 192.0.0.0/24
];

/// Globally reachable addresses inside [`V4_NOT_GLOBAL`]'s `192.0.0.0/24`: the PCP and
/// TURN anycast addresses (RFC 7723, RFC 8155).
const V4_GLOBAL_EXCEPTIONS: [V4Block; 2] = [([192, 0, 0, 9], 32), ([192, 0, 0, 10], 32)];

/// IANA's IPv6 special-purpose blocks inside global unicast (`2000::/3`) that are not
/// globally reachable; everything outside `2000::/3` (loopback, unspecified, unique-local,
/// link-local, site-local, multicast, discard-only, SRv6 SIDs, ...) is refused as a whole,
/// and the forms that embed an IPv4 address are judged by it ([`embedded_v4`]).
const V6_NOT_GLOBAL: [V6Block; 3] = [
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments (RFC 2928), Teredo included
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation (RFC 3849)
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation (RFC 9637)
];

/// Globally reachable blocks inside `2001::/23` (IANA's registry says so of each).
const V6_GLOBAL_EXCEPTIONS: [V6Block; 7] = [
    ([0x2001, 1, 0, 0, 0, 0, 0, 1], 128), // port control protocol anycast (RFC 7723)
    ([0x2001, 1, 0, 0, 0, 0, 0, 2], 128), // TURN anycast (RFC 8155)
    ([0x2001, 1, 0, 0, 0, 0, 0, 3], 128), // DNS-SD SRP anycast (RFC 9665)
    ([0x2001, 3, 0, 0, 0, 0, 0, 0], 32),  // AMT (RFC 7450)
    ([0x2001, 4, 0x112, 0, 0, 0, 0, 0], 48), // AS112-v6 (RFC 7535)
    ([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28), // ORCHIDv2 (RFC 7343)
    ([0x2001, 0x30, 0, 0, 0, 0, 0, 0], 28), // drone remote ID (RFC 9374)
];

fn in_v4(ip: std::net::Ipv4Addr, (first, len): V4Block) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from_be_bytes(first) & mask
}

fn in_v6(ip: std::net::Ipv6Addr, (first, len): V6Block) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(std::net::Ipv6Addr::from(first)) & mask
}

/// The IPv4 address an IPv6 address carries, for the forms that embed one: IPv4-mapped
/// (`::ffff:0:0/96`), IPv4-compatible (`::/96`, deprecated), NAT64's well-known prefix
/// (`64:ff9b::/96`) and 6to4 (`2002::/16`, the address in bits 16-47). (The local-use
/// NAT64 prefix `64:ff9b:1::/48` is not globally reachable at all.)
fn embedded_v4(ip: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let bits = u128::from(ip);
    let low = std::net::Ipv4Addr::from(bits as u32);
    let s = ip.segments();
    if in_v6(ip, ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96))
        || in_v6(ip, ([0; 8], 96))
        || in_v6(ip, ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96))
    {
        Some(low)
    } else if s[0] == 0x2002 {
        Some(std::net::Ipv4Addr::from(
            (u32::from(s[1]) << 16) | u32::from(s[2]),
        ))
    } else {
        None
    }
}

/// Whether an outside fetch may connect to `ip`: only an address that IANA's
/// special-purpose registries leave globally reachable. An IPv6 address that embeds an
/// IPv4 one is judged by the IPv4 address (a NAT64 or 6to4 path to `127.0.0.1` is
/// `127.0.0.1`).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            V4_GLOBAL_EXCEPTIONS.iter().any(|b| in_v4(v4, *b))
                || !V4_NOT_GLOBAL.iter().any(|b| in_v4(v4, *b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            let global_unicast = in_v6(v6, ([0x2000, 0, 0, 0, 0, 0, 0, 0], 3));
            global_unicast
                && (V6_GLOBAL_EXCEPTIONS.iter().any(|b| in_v6(v6, *b))
                    || !V6_NOT_GLOBAL.iter().any(|b| in_v6(v6, *b)))
        }
    }
}

/// `builder` resolving names to public addresses only, unless private networks are
/// allowed. (An address written in a URL is not resolved: check it with
/// [`host_is_refused`] before sending.)
pub fn guarded(
    builder: reqwest::ClientBuilder,
    allow_private_networks: bool,
) -> reqwest::ClientBuilder {
    guarded_trusting(builder, allow_private_networks, Vec::new())
}

/// [`guarded`], resolving the names in `trusted` (hosts the operator configured, such as a
/// platform's `*_API_BASE_URL`) as they are, wherever they point.
pub fn guarded_trusting(
    builder: reqwest::ClientBuilder,
    allow_private_networks: bool,
    trusted: Vec<String>,
) -> reqwest::ClientBuilder {
    if allow_private_networks {
        builder
    } else {
        let trusted = trusted
            .into_iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        builder.dns_resolver(Arc::new(PublicOnly { trusted }))
    }
}

/// The host a [`guarded`] client refused to reach (its refusal comes back wrapped in the
/// request's error), if that is why `error` happened.
pub fn refused_host(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&dyn std::error::Error> = Some(error);
    while let Some(cause) = source {
        if let Some(FetchError::Private(host)) = cause.downcast_ref::<FetchError>() {
            return Some(host.clone());
        }
        source = cause.source();
    }
    None
}

/// Resolves names, keeping only public addresses (but for the operator's own hosts).
struct PublicOnly {
    trusted: std::collections::HashSet<String>,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let trusted = self.trusted.contains(&host.to_ascii_lowercase());
        Box::pin(async move {
            if trusted {
                let addrs: Vec<SocketAddr> =
                    tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
                return Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs);
            }
            if name_is_local(&host) {
                return Err(
                    Box::new(FetchError::Private(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(FetchError::Private(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether a host name means this machine whatever DNS says: once lower-cased and rid of
/// one trailing dot (the root, which names the same host), `localhost`, a name under
/// `.localhost` (RFC 6761), or the loopback names of `/etc/hosts` (`ip6-localhost`,
/// `ip6-loopback`).
pub fn name_is_local(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let name = name.strip_suffix('.').unwrap_or(&name);
    matches!(name, "localhost" | "ip6-localhost" | "ip6-loopback") || name.ends_with(".localhost")
}

/// The one rule for the host of every outside request (a webhook's URL when it is signed up
/// or changed, each delivery, each fetch and redirect), judged before anything resolves:
/// a local name ([`name_is_local`]) or an address written in the URL that is not public. A
/// name that passes is judged again by the addresses it resolves to ([`guarded`]).
pub fn host_is_refused(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name_is_local(name),
        Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        None => false,
    }
}

#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    settings: FetchSettings,
}

impl Fetcher {
    pub fn new(settings: FetchSettings) -> anyhow::Result<Self> {
        let guard = !settings.allow_private_networks;
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("more than 5 redirects")
            } else if guard && host_is_refused(attempt.url()) {
                let host = attempt.url().host_str().unwrap_or_default().to_owned();
                attempt.error(FetchError::Private(host))
            } else {
                attempt.follow()
            }
        });
        let builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(redirects)
            .user_agent(concat!(
                "Almanac/",
                env!("CARGO_PKG_VERSION"),
                " (news synthesis)"
            ));
        Ok(Self {
            http: guarded(builder, settings.allow_private_networks).build()?,
            settings,
        })
    }

    /// The body of `url`, at most `FETCH_MAX_BYTES`.
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        self.get_at_most(url, self.settings.max_bytes).await
    }

    /// The body of `url`, at most `max` bytes.
    pub async fn get_at_most(&self, url: &Url, max: usize) -> Result<Vec<u8>, FetchError> {
        if !self.settings.allow_private_networks && host_is_refused(url) {
            return Err(FetchError::Private(
                url.host_str().unwrap_or_default().to_owned(),
            ));
        }
        let timeout = self.settings.timeout.as_millis();
        let describe = |e: reqwest::Error| {
            if e.is_timeout() {
                return FetchError::Timeout(timeout);
            }
            match refused_host(&e) {
                Some(host) => FetchError::Private(host),
                None => FetchError::Failed(format!("{e}")),
            }
        };
        let response = self.http.get(url.clone()).send().await.map_err(describe)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        if response.content_length().is_some_and(|n| n as usize > max) {
            return Err(FetchError::TooLarge(max));
        }
        let mut body = Vec::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(describe)?;
            if body.len() + chunk.len() > max {
                return Err(FetchError::TooLarge(max));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The items of an RSS or Atom feed.
    pub async fn feed(&self, url: &Url) -> Result<Vec<Document>, FetchError> {
        let body = self.get(url).await?;
        parse_feed(url.as_str(), &body)
    }

    /// A web page's title and text.
    pub async fn page(&self, url: &Url) -> Result<Document, FetchError> {
        let body = self.get(url).await?;
        Ok(page_document(url.as_str(), &String::from_utf8_lossy(&body)))
    }
}

/// The newest items of a feed (RSS 0.9-2.0, Atom, JSON Feed).
pub fn parse_feed(source: &str, body: &[u8]) -> Result<Vec<Document>, FetchError> {
    let feed = feed_rs::parser::parse(body).map_err(|e| FetchError::NotAFeed(e.to_string()))?;
    let mut entries = feed.entries;
    entries.sort_by_key(|e| std::cmp::Reverse(e.published.or(e.updated)));
    Ok(entries
        .into_iter()
        .take(FEED_ITEMS)
        .map(|entry| {
            let text = entry
                .summary
                .map(|t| t.content)
                .or_else(|| entry.content.and_then(|c| c.body))
                .unwrap_or_default();
            Document {
                source: source.to_owned(),
                title: entry
                    .title
                    .map(|t| squash(&strip_tags(&t.content)))
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| "(untitled)".into()),
                text: squash(&strip_tags(&text))
                    .chars()
                    .take(TEXT_CHARS)
                    .collect(),
                url: entry.links.first().map(|l| l.href.clone()),
                kind: DocumentKind::FeedItem,
                guid: Some(entry.id).filter(|id| !id.trim().is_empty()),
            }
        })
        .collect())
}

/// A page as a document: its `<title>` and its visible text.
pub fn page_document(source: &str, html: &str) -> Document {
    let lower = html.to_ascii_lowercase();
    let title = lower
        .find("<title")
        .and_then(|start| lower[start..].find('>').map(|end| start + end + 1))
        .and_then(|start| {
            lower[start..]
                .find("</title>")
                .map(|end| (start, start + end))
        })
        .map(|(start, end)| squash(&decode_entities(&html[start..end])))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| source.to_owned());
    let mut text = html.to_owned();
    for tag in ["script", "style", "head", "noscript"] {
        text = remove_elements(&text, tag);
    }
    Document {
        source: source.to_owned(),
        title,
        text: squash(&strip_tags(&text))
            .chars()
            .take(TEXT_CHARS)
            .collect(),
        url: Some(source.to_owned()),
        kind: DocumentKind::Page,
        guid: None,
    }
}

/// `html` without the `<tag>...</tag>` elements (case-insensitive).
fn remove_elements(html: &str, tag: &str) -> String {
    let lower = html.to_ascii_lowercase();
    let (open, close) = (format!("<{tag}"), format!("</{tag}>"));
    let mut out = String::with_capacity(html.len());
    let mut at = 0;
    while let Some(start) = lower[at..].find(&open).map(|i| at + i) {
        out.push_str(&html[at..start]);
        match lower[start..].find(&close) {
            Some(end) => at = start + end + close.len(),
            None => return out,
        }
    }
    out.push_str(&html[at..]);
    out
}

/// Text without tags, entities decoded.
fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    decode_entities(&out)
}

fn decode_entities(text: &str) -> String {
    text.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Whitespace runs as one space, trimmed.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One address (first, inside, last where it matters) of every refused block, and
    /// addresses just outside them that must pass.
    const REFUSED: &[&str] = &[
        "0.0.0.0",
        "0.255.255.255",
        "10.0.0.1",
        "10.255.255.255",
        "100.64.0.1",
        "100.127.255.254",
        "127.0.0.1",
        "127.255.255.254",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.254",
        "192.0.0.1",
        "192.0.0.8",
        "192.0.0.170",
        "192.0.0.171",
        "192.0.0.255",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.254",
        "198.51.100.1",
        "203.0.113.1",
        "224.0.0.1",
        "239.255.255.255",
        "240.0.0.1",
        "255.255.255.254",
        "255.255.255.255",
        // IPv6 outside global unicast.
        "::",
        "::1",
        "100::1",
        "5f00::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        // Inside 2000::/3, not global.
        "2001::1",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        "2001:2::1",
        "2001:10::1",
        "2001:db8::1",
        "3fff::1",
        // IPv4 embedded: mapped, compatible, NAT64 (both), 6to4.
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "::10.0.0.1",
        "::169.254.169.254",
        "64:ff9b::7f00:1",
        "64:ff9b::a9fe:a9fe",
        "64:ff9b::c612:1",
        "64:ff9b:1::1.1.1.1",
        "64:ff9b:1::7f00:1",
        "2002:7f00:1::",
        "2002:a00:1::1",
        "2002:c0a8:101::1",
        "2002:c612:1::",
    ];

    const ALLOWED: &[&str] = &[
        "1.1.1.1",
        "8.8.8.8",
        "93.184.216.34",
        "9.255.255.255",
        "11.0.0.1",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.255.255",
        "172.32.0.1",
        "192.0.0.9",
        "192.0.0.10",
        "192.0.1.1",
        "192.31.196.1",
        "192.52.193.1",
        "192.175.48.1",
        "198.17.255.255",
        "198.20.0.1",
        "223.255.255.255",
        "2606:4700::1111",
        "2a00:1450:4001::1",
        "2001:1::1",
        "2001:1::2",
        "2001:3::1",
        "2001:4:112::1",
        "2001:20::1",
        "2001:30::1",
        "2620:4f:8000::1",
        // IPv4 embedded: judged by the address inside.
        "::ffff:1.1.1.1",
        "64:ff9b::101:101",
        "2002:101:101::1",
    ];

    #[test]
    fn only_globally_reachable_addresses_are_public() {
        for ip in REFUSED {
            assert!(!is_public(ip.parse().unwrap()), "{ip} must be refused");
        }
        for ip in ALLOWED {
            assert!(is_public(ip.parse().unwrap()), "{ip} must be allowed");
        }
    }

    /// The fetcher itself refuses each of them before any connection (a literal address
    /// in the URL, as after a redirect): nothing listens at most of them, so an attempt
    /// would show as a timeout or a refused connection, not as `Private`.
    #[tokio::test]
    async fn the_fetcher_refuses_every_special_purpose_address() {
        let fetcher = Fetcher::new(FetchSettings {
            allow_private_networks: false,
            timeout: std::time::Duration::from_millis(200),
            max_bytes: 1024,
        })
        .unwrap();
        for ip in REFUSED {
            let host = if ip.contains(':') {
                format!("[{ip}]")
            } else {
                (*ip).to_owned()
            };
            let url = Url::parse(&format!("http://{host}:9/feed.xml")).unwrap();
            let refused = fetcher.get(&url).await.unwrap_err();
            assert!(matches!(refused, FetchError::Private(_)), "{ip}: {refused}");
        }
        // Local names are refused before anything resolves them.
        for name in [
            "localhost.",
            "ip6-localhost",
            "ip6-loopback",
            "feeds.localhost.",
        ] {
            let url = Url::parse(&format!("http://{name}:9/feed.xml")).unwrap();
            let refused = fetcher.get(&url).await.unwrap_err();
            assert!(
                matches!(refused, FetchError::Private(_)),
                "{name}: {refused}"
            );
        }
    }

    #[test]
    fn local_names_are_judged_lower_cased_without_their_root_dot() {
        for name in [
            "localhost",
            "LOCALHOST.",
            "a.b.localhost",
            "ip6-localhost.",
            "Ip6-Loopback",
        ] {
            assert!(name_is_local(name), "{name}");
        }
        for name in [
            "localhost..",
            "localhost.example",
            "mylocalhost",
            "ip6-localhostx",
        ] {
            assert!(!name_is_local(name), "{name}");
        }
    }

    #[test]
    fn feeds_and_pages_become_documents() {
        let rss = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
            <item><title>Old</title><link>https://e.com/1</link><description>&lt;p&gt;First &amp;amp; best&lt;/p&gt;</description><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>
            <item><title>New</title><link>https://e.com/2</link><description>Second</description><pubDate>Tue, 03 Nov 2026 10:00:00 GMT</pubDate></item>
            </channel></rss>"#;
        let docs = parse_feed("https://e.com/feed", rss.as_bytes()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].title, "New", "newest first");
        assert_eq!(docs[1].text, "First & best");
        let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>x</id><updated>2026-11-01T00:00:00Z</updated>
            <entry><title>Atom item</title><id>1</id><updated>2026-11-01T00:00:00Z</updated><link href="https://a.com/1"/><summary>Sum</summary></entry></feed>"#;
        let docs = parse_feed("https://a.com/feed", atom.as_bytes()).unwrap();
        assert_eq!(
            (docs[0].title.as_str(), docs[0].url.as_deref()),
            ("Atom item", Some("https://a.com/1"))
        );
        assert!(matches!(
            parse_feed("x", b"<html>no</html>"),
            Err(FetchError::NotAFeed(_))
        ));
        let page = page_document(
            "https://p.com",
            "<html><head><title>Hello &amp; bye</title><style>x{}</style></head><body><script>evil()</script><p>Visible   text</p></body></html>",
        );
        assert_eq!(page.title, "Hello & bye");
        assert_eq!(page.text, "Visible text");
    }
}
