//! One digest, no repeats (issue 37): what makes an item the same as one already sent. A
//! feed item is known by its GUID, its normalised link and its content; feeds rotate GUIDs
//! and edit dates, so an item matching a sent one on any of the three was sent. A page is
//! known by its link and text together (sent again once it changed); the theme's own text
//! is material for every synthesis, never news.

use sha2::{Digest, Sha256};

use super::content::{Document, DocumentKind};

/// What identifies an item a synthesis was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemKeys {
    pub guid: Option<String>,
    pub link: Option<String>,
    pub content_hash: String,
}

/// Query parameters that say where a reader came from, not what they read.
fn is_tracking(name: &str) -> bool {
    const NAMES: &[&str] = &[
        "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid", "ref",
        "ref_src", "_hsenc", "_hsmi", "mkt_tok",
    ];
    let name = name.to_ascii_lowercase();
    name.starts_with("utm_") || NAMES.contains(&name.as_str())
}

/// A link as the same article's other links would read: without its scheme (`http` and
/// `https` alike), a `www.` prefix, default port, fragment, tracking parameters or trailing
/// slash, its other parameters sorted. `None` when it is not an absolute web address.
pub fn normalise_link(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let host = url.host_str()?;
    let host = host.strip_prefix("www.").unwrap_or(host);
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    let path = url.path().trim_end_matches('/');
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !is_tracking(name))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    query.sort();
    let query = if query.is_empty() {
        String::new()
    } else {
        let mut encoded = url::form_urlencoded::Serializer::new(String::from("?"));
        encoded.extend_pairs(query);
        encoded.finish()
    };
    Some(format!("{host}{port}{path}{query}"))
}

fn hash(parts: &[&str]) -> String {
    let mut digest = Sha256::new();
    for part in parts {
        let squashed: Vec<String> = part.split_whitespace().map(str::to_lowercase).collect();
        digest.update(squashed.join(" ").as_bytes());
        digest.update([0]);
    }
    hex::encode(digest.finalize())
}

/// The keys of a document that is news (a feed item or a page); `None` for the theme's text.
pub fn item_keys(document: &Document) -> Option<ItemKeys> {
    let link = document.url.as_deref().and_then(normalise_link);
    match document.kind {
        DocumentKind::Text => None,
        DocumentKind::FeedItem => Some(ItemKeys {
            guid: document
                .guid
                .as_deref()
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned),
            content_hash: hash(&[&document.title, &document.text]),
            link,
        }),
        DocumentKind::Page => Some(ItemKeys {
            guid: None,
            content_hash: hash(&[link.as_deref().unwrap_or(&document.source), &document.text]),
            link: None,
        }),
    }
}

/// Keys already sent, as the store found them among a run's items.
#[derive(Debug, Default)]
pub struct SentKeys {
    pub guids: std::collections::HashSet<String>,
    pub links: std::collections::HashSet<String>,
    pub content_hashes: std::collections::HashSet<String>,
}

impl SentKeys {
    pub fn insert(&mut self, keys: ItemKeys) {
        self.guids.extend(keys.guid);
        self.links.extend(keys.link);
        self.content_hashes.insert(keys.content_hash);
    }

    pub fn contains(&self, keys: &ItemKeys) -> bool {
        keys.guid.as_ref().is_some_and(|g| self.guids.contains(g))
            || keys.link.as_ref().is_some_and(|l| self.links.contains(l))
            || self.content_hashes.contains(&keys.content_hash)
    }
}

/// What a scheduled run is left with: the documents not already sent (the theme's text
/// kept), how many were left out, and whether any of those kept is news.
pub struct Fresh {
    pub documents: Vec<Document>,
    pub left_out: usize,
    pub news: usize,
}

/// Leaves out the documents `sent` already holds, and repeats within this run.
pub fn leave_out_sent(documents: Vec<Document>, sent: &SentKeys) -> Fresh {
    let mut seen = SentKeys::default();
    let (mut kept, mut left_out, mut news) = (Vec::new(), 0, 0);
    for document in documents {
        match item_keys(&document) {
            None => kept.push(document),
            Some(keys) if sent.contains(&keys) || seen.contains(&keys) => left_out += 1,
            Some(keys) => {
                seen.insert(keys);
                news += 1;
                kept.push(document);
            }
        }
    }
    Fresh {
        documents: kept,
        left_out,
        news,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(guid: &str, link: &str, title: &str, text: &str) -> Document {
        Document {
            source: "https://tea.example/feed.xml".into(),
            title: title.into(),
            text: text.into(),
            url: Some(link.into()),
            kind: DocumentKind::FeedItem,
            guid: Some(guid.into()),
        }
    }

    #[test]
    fn links_of_one_article_normalise_alike() {
        let same = [
            "https://www.tea.example/news/matcha/",
            "http://tea.example/news/matcha",
            "https://tea.example/news/matcha?utm_source=rss&utm_medium=feed#comments",
            "https://TEA.example/news/matcha?fbclid=abc",
        ];
        for link in same {
            assert_eq!(
                normalise_link(link).as_deref(),
                Some("tea.example/news/matcha"),
                "{link}"
            );
        }
        assert_eq!(
            normalise_link("https://tea.example/item?b=2&a=1&utm_campaign=x"),
            normalise_link("https://tea.example/item?a=1&b=2")
        );
        assert_ne!(
            normalise_link("https://tea.example/item?id=1"),
            normalise_link("https://tea.example/item?id=2")
        );
        assert_eq!(normalise_link("mailto:a@tea.example"), None);
        assert_eq!(normalise_link("not a link"), None);
    }

    #[test]
    fn an_item_sent_once_is_left_out_whatever_key_it_keeps() {
        let first = [
            item("g1", "https://tea.example/a", "Matcha", "Prices rise."),
            item("g2", "https://tea.example/b", "Sencha", "A new harvest."),
        ];
        let mut sent = SentKeys::default();
        for keys in first.iter().filter_map(item_keys) {
            sent.insert(keys);
        }
        let text = Document {
            source: "text".into(),
            title: "Notes".into(),
            text: "Chai is spiced tea.".into(),
            url: None,
            kind: DocumentKind::Text,
            guid: None,
        };
        let second = vec![
            // Rotated GUID, same link with tracking.
            item(
                "g1-rotated",
                "https://tea.example/a?utm_source=rss",
                "Matcha",
                "Prices rise.",
            ),
            // Same GUID, edited text.
            item(
                "g2",
                "https://tea.example/b2",
                "Sencha",
                "A new harvest, edited.",
            ),
            // Same content under a new GUID and link.
            item("g9", "https://mirror.example/x", "matcha", "Prices   rise."),
            item("g3", "https://tea.example/c", "Gyokuro", "Shade grown."),
            // The same new item twice in one feed.
            item("g3", "https://tea.example/c", "Gyokuro", "Shade grown."),
            text,
        ];
        let fresh = leave_out_sent(second, &sent);
        let titles: Vec<&str> = fresh.documents.iter().map(|d| d.title.as_str()).collect();
        assert_eq!(titles, ["Gyokuro", "Notes"]);
        assert_eq!((fresh.left_out, fresh.news), (4, 1));
    }

    #[test]
    fn a_page_is_news_again_once_its_text_changed() {
        let page = |text: &str| Document {
            source: "https://tea.example/matcha".into(),
            title: "Matcha".into(),
            text: text.into(),
            url: Some("https://tea.example/matcha".into()),
            kind: DocumentKind::Page,
            guid: None,
        };
        let keys = item_keys(&page("Grade A.")).unwrap();
        let mut sent = SentKeys::default();
        sent.content_hashes.insert(keys.content_hash);
        assert_eq!(leave_out_sent(vec![page("Grade A.")], &sent).news, 0);
        assert_eq!(leave_out_sent(vec![page("Grade B.")], &sent).news, 1);
    }
}
