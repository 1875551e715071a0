//! What Bluesky reads of a post's text: its length in graphemes and bytes, and its rich
//! text facets (links, mentions, hashtags), each at its UTF-8 byte range
//! (docs.bsky.app, "Links, mentions, and rich text"). No I/O: a mention's DID is looked up
//! by the adapter and given here.

use std::collections::HashMap;

use serde_json::{Value, json};
use unicode_segmentation::UnicodeSegmentation;

/// A post's text holds at most 300 graphemes and 3,000 UTF-8 bytes (`app.bsky.feed.post`'s
/// lexicon: `maxGraphemes`, `maxLength`).
pub const TEXT_GRAPHEMES_MAX: usize = 300;
pub const TEXT_BYTES_MAX: usize = 3_000;

/// A hashtag facet's tag holds at most 64 graphemes (and 640 bytes).
const TAG_GRAPHEMES_MAX: usize = 64;
const TAG_BYTES_MAX: usize = 640;

/// User-perceived characters, as Bluesky counts a post's length.
pub fn graphemes(text: &str) -> usize {
    text.graphemes(true).count()
}

/// One rich-text feature found in a text, at its byte range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    Link(String),
    /// A handle (without the `@`), its DID looked up when the post is sent.
    Mention(String),
    /// A hashtag's tag (without the `#`).
    Tag(String),
}

/// The links, mentions and hashtags of `text`, each with its byte range: words that start
/// with `http://` or `https://`, `@` and a handle (a domain name), or `#` and a tag that is
/// not only digits, after a space, a line break, an opening parenthesis or the text's start;
/// their trailing punctuation is not part of them.
pub fn features(text: &str) -> Vec<(usize, usize, Feature)> {
    let mut found = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_whitespace(), start) {
            (false, None) => start = Some(at),
            (true, Some(from)) => {
                found.extend(feature(text, from, at));
                start = None;
            }
            _ => {}
        }
    }
    found
}

/// The feature of the word at `from..to`, if it is one.
fn feature(text: &str, from: usize, to: usize) -> Option<(usize, usize, Feature)> {
    let word = &text[from..to];
    let open = word.starts_with('(') as usize;
    let from = from + open;
    let word = trim_trailing(&word[open..]);
    let to = from + word.len();
    if word.starts_with("https://") || word.starts_with("http://") {
        let valid = url::Url::parse(word).is_ok_and(|url| url.host_str().is_some());
        return valid.then(|| (from, to, Feature::Link(word.to_owned())));
    }
    if let Some(handle) = word.strip_prefix('@') {
        return is_handle(handle).then(|| (from, to, Feature::Mention(handle.to_lowercase())));
    }
    let tag = word.strip_prefix('#')?;
    let valid = !tag.is_empty()
        && !tag.chars().all(|c| c.is_ascii_digit())
        && !tag.contains('#')
        && graphemes(tag) <= TAG_GRAPHEMES_MAX
        && tag.len() <= TAG_BYTES_MAX;
    valid.then(|| (from, to, Feature::Tag(tag.to_owned())))
}

/// `word` without the punctuation that ends a sentence or closes a parenthesis after it.
fn trim_trailing(word: &str) -> &str {
    word.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\''])
}

/// Whether `handle` is a handle as atproto.com/specs/handle allows: a domain name of at
/// least two labels of ASCII letters, digits and hyphens (none at a label's ends), the last
/// not starting with a digit, 253 characters at most.
pub fn is_handle(handle: &str) -> bool {
    let labels: Vec<&str> = handle.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    handle.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(label_ok)
        && labels
            .last()
            .is_some_and(|tld| !tld.starts_with(|c: char| c.is_ascii_digit()))
}

/// The handles `text` mentions, each once.
pub fn mentions(text: &str) -> Vec<String> {
    let mut handles: Vec<String> = features(text)
        .into_iter()
        .filter_map(|(_, _, feature)| match feature {
            Feature::Mention(handle) => Some(handle),
            _ => None,
        })
        .collect();
    handles.sort();
    handles.dedup();
    handles
}

/// The `facets` of a post of `text`: its links and hashtags, and the mentions whose DIDs
/// `dids` holds (a handle that did not resolve stays plain text).
pub fn facets(text: &str, dids: &HashMap<String, String>) -> Vec<Value> {
    features(text)
        .into_iter()
        .filter_map(|(start, end, feature)| {
            let feature = match feature {
                Feature::Link(uri) => {
                    json!({ "$type": "app.bsky.richtext.facet#link", "uri": uri })
                }
                Feature::Tag(tag) => json!({ "$type": "app.bsky.richtext.facet#tag", "tag": tag }),
                Feature::Mention(handle) => {
                    json!({ "$type": "app.bsky.richtext.facet#mention", "did": dids.get(&handle)? })
                }
            };
            Some(json!({
                "index": { "byteStart": start, "byteEnd": end },
                "features": [feature],
            }))
        })
        .collect()
}

/// A JWT's claims, read without checking its signature: only to know when it expires
/// (`exp`, seconds since the epoch) and what it was issued for (`scope`:
/// `com.atproto.appPass` for an app password, `com.atproto.access` for the account's own).
pub fn jwt_claims(token: &str) -> Option<Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The language of a post's text as a record's `langs` names it (BCP-47, ISO 639-1), when
/// the text tells it reliably (a short one often does not: then no language is claimed).
pub fn language(text: &str) -> Option<&'static str> {
    let info = whatlang::detect(text).filter(whatlang::Info::is_reliable)?;
    isolang::Language::from_639_3(info.lang().code())?.to_639_1()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphemes_count_what_a_person_sees() {
        assert_eq!(graphemes("héllo"), 5);
        // A family emoji is one grapheme of 25 bytes.
        let family = "👩\u{200d}👩\u{200d}👧\u{200d}👧";
        assert_eq!(graphemes(family), 1);
        assert_eq!(family.len(), 25);
        assert_eq!(graphemes("e\u{301}"), 1);
    }

    #[test]
    fn facets_sit_at_utf8_byte_ranges() {
        let text = "✨ New (https://example.com/a?b=1). Ask @alice.bsky.social! #launch #2030 #día";
        let dids = HashMap::from([("alice.bsky.social".to_owned(), "did:plc:alice".to_owned())]);
        let facets = facets(text, &dids);
        let slice = |facet: &Value| {
            let start = facet["index"]["byteStart"].as_u64().unwrap() as usize;
            let end = facet["index"]["byteEnd"].as_u64().unwrap() as usize;
            text[start..end].to_owned()
        };
        let spans: Vec<String> = facets.iter().map(slice).collect();
        assert_eq!(
            spans,
            [
                "https://example.com/a?b=1",
                "@alice.bsky.social",
                "#launch",
                "#día"
            ]
        );
        assert_eq!(facets[0]["features"][0]["uri"], "https://example.com/a?b=1");
        assert_eq!(facets[1]["features"][0]["did"], "did:plc:alice");
        assert_eq!(facets[3]["features"][0]["tag"], "día");
        // The sparkle is 3 bytes and the space 1: the link starts after "✨ New (".
        assert_eq!(facets[0]["index"]["byteStart"], 9);
    }

    #[test]
    fn an_unresolved_mention_and_a_non_handle_stay_text() {
        assert_eq!(
            mentions("hi @bob.example.com and @bob.example.com, @nobody"),
            ["bob.example.com"]
        );
        assert!(facets("@bob.example.com", &HashMap::new()).is_empty());
        assert!(!is_handle("a.1com"));
        assert!(!is_handle("-a.com"));
        assert!(is_handle("xn--ls8h.test"));
    }

    #[test]
    fn a_jwt_says_when_it_expires_and_its_scope() {
        use base64::Engine;
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"scope":"com.atproto.appPass","exp":1767225600}"#);
        let token = format!("eyJhbGciOiJFUzI1NksifQ.{payload}.sig");
        let claims = jwt_claims(&token).unwrap();
        assert_eq!(claims["exp"], 1_767_225_600);
        assert_eq!(claims["scope"], "com.atproto.appPass");
        assert_eq!(jwt_claims("not-a-jwt"), None);
    }

    #[test]
    fn a_post_names_its_language_only_when_its_text_tells_it() {
        assert_eq!(
            language(
                "Nous ouvrons la boutique dimanche matin, venez découvrir les nouvelles plantes de saison avec nous."
            ),
            Some("fr")
        );
        assert_eq!(
            language(
                "We open the shop on Sunday morning: come and see the new plants of the season with us."
            ),
            Some("en")
        );
        assert_eq!(language("ok"), None);
    }
}
