//! Fetching a theme's sources (seed 004): RSS and Atom feeds through a real feed parser,
//! web pages reduced to their text, each with a time and a size limit. Private, loopback
//! and link-local addresses are refused (by name at every resolution, and as literal
//! addresses, redirects included) unless `FETCH_ALLOW_PRIVATE_NETWORKS=true`.

use std::{
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use futures::StreamExt;
use url::Url;

use crate::domain::synthesis::Document;

/// Items taken from one feed.
pub const FEED_ITEMS: usize = 20;
/// Characters kept of a page's or an item's text.
pub const TEXT_CHARS: usize = 4_000;

#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub allow_private_networks: bool,
    pub timeout: Duration,
    pub max_bytes: usize,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("refused: {0} is a private, loopback or link-local address")]
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

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// Resolves names, keeping only public addresses.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
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

fn literal_is_refused(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        _ => false,
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
            } else if guard && literal_is_refused(attempt.url()) {
                let host = attempt.url().host_str().unwrap_or_default().to_owned();
                attempt.error(FetchError::Private(host))
            } else {
                attempt.follow()
            }
        });
        let mut builder = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout)
            .redirect(redirects)
            .user_agent(concat!(
                "Almanac/",
                env!("CARGO_PKG_VERSION"),
                " (news synthesis)"
            ));
        if guard {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        Ok(Self {
            http: builder.build()?,
            settings,
        })
    }

    /// The body of `url`, at most `FETCH_MAX_BYTES`.
    pub async fn get(&self, url: &Url) -> Result<Vec<u8>, FetchError> {
        if !self.settings.allow_private_networks && literal_is_refused(url) {
            return Err(FetchError::Private(
                url.host_str().unwrap_or_default().to_owned(),
            ));
        }
        let timeout = self.settings.timeout.as_millis();
        let describe = |e: reqwest::Error| {
            if e.is_timeout() {
                return FetchError::Timeout(timeout);
            }
            // The refusal of a private address comes back wrapped; say it plainly.
            let mut source: Option<&dyn std::error::Error> = Some(&e);
            while let Some(error) = source {
                if let Some(refused) = error.downcast_ref::<FetchError>() {
                    return refused.clone();
                }
                source = error.source();
            }
            FetchError::Failed(format!("{e}"))
        };
        let response = self.http.get(url.clone()).send().await.map_err(describe)?;
        if !response.status().is_success() {
            return Err(FetchError::Status(response.status().as_u16()));
        }
        let max = self.settings.max_bytes;
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

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "1.1.1.1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
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
