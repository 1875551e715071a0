//! Threads (Meta's Threads API, `docs/platforms.md`): its own app id and secret (not the
//! Meta app's), an authorization code exchanged for a short-lived token and at once for a
//! 60-day one (`th_exchange_token`), refreshed with `th_refresh_token` once a day old. A
//! post is a container (`POST /{user}/threads`: harmless, invisible until published),
//! polled until `FINISHED`, then `threads_publish`, the one call with an outside effect. The
//! account's quota (250 posts in a moving day) is read before publishing; a post past it
//! waits for a place. Errors are the Graph API's `{"error": {"message", "code", ...}}`.


use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{
    Named, Rules, MediaKind, Options, PlannedRequest, Platform,
    Post, PostMetrics,
    catalogue::{Profile, Quota},
    platforms::meta::{self, CommentBy, ContainerApi, Containers},
    post::{self, Medium, Problem, TextField, TextLimit, TextUnit},
};

/// Threads' name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("threads");

super::register!(PLATFORM, Threads::new);

/// Threads's own settings: `THREADS_API_BASE_URL`, `THREADS_AUTHORIZE_URL`,
/// `THREADS_TOKEN_URL`, and its app's credentials (the Threads app's, not the Meta app's).
pub(crate) const HOSTS: super::Hosts = super::Hosts {
    name: "threads",
    credentials: ("THREADS_CLIENT_ID", "THREADS_CLIENT_SECRET"),
    real: [
        "https://graph.threads.net",
        "https://threads.com/oauth/authorize",
        "https://graph.threads.net/oauth/access_token",
    ],
    token_path: "",
};

/// The Graph API version every call names.
const VERSION: &str = "v1.0";

/// What connecting asks for.
const SCOPE: &str =
    "threads_basic,threads_content_publish,threads_manage_insights,threads_manage_replies";

/// The permission replying under a post needs.
const COMMENT_SCOPE: &str = "threads_manage_replies";

/// The permission reading a post's insights needs.
const METRICS_SCOPE: &str = "threads_manage_insights";

/// A post's text holds at most 500 characters, each emoji counted as its UTF-8 bytes.
pub const TEXT_MAX: usize = 500;


const NOT_CONFIGURED: &str = "Threads is not configured: set THREADS_CLIENT_ID and THREADS_CLIENT_SECRET (the Threads app id and secret)";

pub struct Threads(meta::Graph);

impl Threads {
    pub fn new(parts: &super::Parts) -> anyhow::Result<Self> {
        meta::Graph::new(parts, &HOSTS, &CONTAINERS, NOT_CONFIGURED, SCOPE).map(Self)
    }
}

/// Whether `c` is an emoji as Unicode's `Extended_Pictographic` marks them (its blocks;
/// the web app's counter asks the browser for the same property).
fn is_emoji(c: char) -> bool {
    matches!(u32::from(c),
        0x00A9 | 0x00AE | 0x203C | 0x2049 | 0x2122 | 0x2139 | 0x2194..=0x2199 | 0x21A9..=0x21AA
        | 0x231A..=0x231B | 0x2328 | 0x2388 | 0x23CF | 0x23E9..=0x23F3 | 0x23F8..=0x23FA
        | 0x24C2 | 0x25AA..=0x25AB | 0x25B6 | 0x25C0 | 0x25FB..=0x25FE | 0x2600..=0x2605
        | 0x2607..=0x2612 | 0x2614..=0x2685 | 0x2690..=0x2705 | 0x2708..=0x2712 | 0x2714
        | 0x2716 | 0x271D | 0x2721 | 0x2728 | 0x2733..=0x2734 | 0x2744 | 0x2747 | 0x274C
        | 0x274E | 0x2753..=0x2755 | 0x2757 | 0x2763..=0x2767 | 0x2795..=0x2797 | 0x27A1
        | 0x27B0 | 0x27BF | 0x2934..=0x2935 | 0x2B05..=0x2B07 | 0x2B1B..=0x2B1C | 0x2B50
        | 0x2B55 | 0x3030 | 0x303D | 0x3297 | 0x3299 | 0x1F000..=0x1F0FF | 0x1F10D..=0x1F10F
        | 0x1F12F | 0x1F16C..=0x1F171 | 0x1F17E..=0x1F17F | 0x1F18E | 0x1F191..=0x1F19A
        | 0x1F1AD..=0x1F1E5 | 0x1F201..=0x1F20F | 0x1F21A | 0x1F22F | 0x1F232..=0x1F23A
        | 0x1F23C..=0x1F23F | 0x1F249..=0x1F3FA | 0x1F400..=0x1F53D | 0x1F546..=0x1F64F
        | 0x1F680..=0x1F6FF | 0x1F774..=0x1F77F | 0x1F7D5..=0x1F7FF | 0x1F80C..=0x1F80F
        | 0x1F848..=0x1F84F | 0x1F85A..=0x1F85F | 0x1F888..=0x1F88F | 0x1F8AE..=0x1F8FF
        | 0x1F90C..=0x1F93A | 0x1F93C..=0x1F945 | 0x1F947..=0x1FAFF | 0x1FC00..=0x1FFFD)
}

/// A text's length as Threads counts it: characters, each emoji counted as its UTF-8 bytes.
pub fn length(text: &str) -> usize {
    text.chars()
        .map(|c| if is_emoji(c) { c.len_utf8() } else { 1 })
        .sum()
}

/// How Threads names its containers and posts.
const CONTAINERS: ContainerApi = ContainerApi {
    label: "Threads",
    // 250 posts in a moving day.
    quota: "threads_publishing_limit",
    refusal: |error, regain| meta::refusal("Threads", error, regain),
    insights: "views,likes,replies,reposts,quotes,shares",
    insights_scope: METRICS_SCOPE,
    version: VERSION,
    grants: "th",
    me: "id,username,name",
    comment: CommentBy::Reply,
    comment_scope: COMMENT_SCOPE,
    create: "threads",
    publish: "threads_publish",
    status: "status",
    detail: "error_message",
    text: "text",
};

impl Containers for Threads {
    fn graph(&self) -> &meta::Graph {
        &self.0
    }

    /// The post's insights: views, likes, replies, and its reposts, quotes and shares
    /// counted as shares.
    fn reading(&self, counts: &BTreeMap<String, u64>) -> PostMetrics {
        let n = |name: &str| counts.get(name).copied();
        let shared = ["reposts", "quotes", "shares"]
            .iter()
            .filter_map(|name| n(name))
            .reduce(|a, b| a + b);
        PostMetrics {
            reading: almanac_shared::domain::analytics::Reading {
                views: n("views"),
                likes: n("likes"),
                comments: n("replies"),
                shares: shared,
                ..Default::default()
            },
            ..PostMetrics::default()
        }
    }

    fn container_body(&self, post: &Post) -> Value {
        let url = post.media_url.clone();
        match (&url, post.media) {
            (Some(url), MediaKind::Video) => {
                json!({ "media_type": "VIDEO", "video_url": url, "text": post.text })
            }
            (Some(url), MediaKind::Photo) => {
                json!({ "media_type": "IMAGE", "image_url": url, "text": post.text })
            }
            (None, _) => json!({ "media_type": "TEXT", "text": post.text }),
        }
    }

    fn item_body(&self, medium: &Medium) -> Value {
        let mut body = match medium.kind {
            MediaKind::Video => json!({ "media_type": "VIDEO", "video_url": medium.url }),
            MediaKind::Photo => json!({ "media_type": "IMAGE", "image_url": medium.url }),
        };
        body["is_carousel_item"] = Value::Bool(true);
        if !medium.upload.alt_text.is_empty() {
            body["alt_text"] = Value::from(medium.upload.alt_text.as_str());
        }
        body
    }

    fn carousel_body(&self, post: &Post, children: &str) -> Value {
        json!({ "media_type": "CAROUSEL", "children": children, "text": post.text })
    }
}

impl Named for Threads {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Threads"
    }
}

impl Rules for Threads {
    fn profile(&self) -> Profile {
        Profile {
            quota: Some(Quota::read_daily(250)),
            // A carousel holds 2 to 20 images and videos, mixed.
            carousel: Some(crate::catalogue::Carousel::of(20, true)),
            first_comment: true,
            video: Some(crate::catalogue::VideoLimits::of(0, 300, Some(1_920))),
            ..Profile::of("#101010")
        }
    }

    fn text_limits(&self) -> Vec<TextLimit> {
        vec![TextLimit {
            unit: TextUnit::CharsEmojiBytes,
            ..TextLimit::chars(TextField::Text, TEXT_MAX)
        }]
    }

    fn validate(&self, post: &Post, options: &Options) -> Vec<Problem> {
        let mut problems = Vec::from_iter(crate::no_drafts(options, "Threads keeps no drafts made by other apps: publish it, or export it"));
        if let Some(mime) = &post.unsupported_upload {
            problems.push(post::unsupported_media("Threads", mime));
        }
        if post.text.trim().is_empty() && post.media_url.is_none() {
            problems.push(Problem::new(
                "CAPTION_REQUIRED",
                "caption",
                "a Threads text post needs text: write the entry's caption",
            ));
        }
        if let Some(comment) = &post.first_comment {
            let counted = "characters, each emoji counted as its bytes";
            problems.extend(post::comment_too_long("Threads", length(comment), TEXT_MAX, counted));
        }
        let count = length(&post.text);
        if count > TEXT_MAX {
            problems.push(Problem::new(
                "CAPTION_TOO_LONG",
                "caption",
                format!(
                    "the Threads post (caption, call to action and hashtags) is {count} characters, each emoji counted as its bytes; the limit is {TEXT_MAX}"
                ),
            ));
        }
        problems
    }

    fn plan(&self, account_id: &str, post: &Post, _options: &Options) -> Vec<PlannedRequest> {
        self.plan_containers(account_id, post)
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emoji_counts_as_its_bytes() {
        assert_eq!(length("hello"), 5);
        assert_eq!(length("é"), 1);
        assert_eq!(length("🎉"), 4);
        assert_eq!(length("☕"), 3);
        // A family: four people of 4 bytes, and the joiners count one each.
        assert_eq!(length("👩\u{200d}👩\u{200d}👧\u{200d}👧"), 19);
    }
}
