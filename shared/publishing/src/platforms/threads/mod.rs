//! Threads (Meta's Threads API, `docs/platforms.md`): its own app id and secret (not the
//! Meta app's), an authorization code exchanged for a short-lived token and at once for a
//! 60-day one (`th_exchange_token`), refreshed with `th_refresh_token` once a day old. A
//! post is a container (`POST /{user}/threads`: harmless, invisible until published),
//! polled until `FINISHED`, then `threads_publish`, the one call with an outside effect. The
//! account's quota (250 posts in a moving day) is read before publishing; a post past it
//! waits for a place. Errors are the Graph API's `{"error": {"message", "code", ...}}`.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::{
    Attempt, Connect, Measure, Named, Publish, Rules, Settling, Auth, Checked, Failure, MediaKind, Mode, Options, PlannedRequest, Platform,
    Post, PostMetrics, Refresh, Remote, Reply, Sent,
    TokenPolicy,
    catalogue::{MediaFormats, Profile, Quota},
    platforms::meta::{self, ContainerApi, Containers},
    oauth,
    post::{self, Problem, TextField, TextLimit, TextUnit},
};

/// Threads' name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("threads");

super::register!(PLATFORM, Threads::new);

/// The Graph API version every call names.
const VERSION: &str = "v1.0";

/// The permission reading a post's insights needs.
const METRICS_SCOPE: &str = "threads_manage_insights";

/// A post's text holds at most 500 characters, each emoji counted as its UTF-8 bytes.
pub const TEXT_MAX: usize = 500;

/// Threads asks for containers to be polled for at most five minutes.
const CONTAINER_WAIT_MAX: Duration = Duration::from_secs(300);

const NOT_CONFIGURED: &str = "Threads is not configured: set THREADS_CLIENT_ID and THREADS_CLIENT_SECRET (the Threads app id and secret)";

pub struct Threads {
    http: reqwest::Client,
    base: String,
    grant: oauth::CodeGrant,
    poll: Duration,
    wait: Duration,
}

impl Threads {
    pub fn new(parts: &super::Parts) -> Self {
        let (http, settings) = (parts.clients.api.clone(), parts.settings);
        let grant = oauth::CodeGrant::new(
            http.clone(),
            "Threads",
            &settings.threads,
            NOT_CONFIGURED,
            "threads_basic,threads_content_publish,threads_manage_insights",
        )
        .account_field("user_id");
        Self {
            http,
            base: settings
                .threads
                .api_base_url
                .trim_end_matches('/')
                .to_owned(),
            grant,
            poll: settings.check_interval,
            wait: settings.confirm_window.min(CONTAINER_WAIT_MAX),
        }
    }

    fn container_body(post: &Post) -> Value {
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
    version: VERSION,
    grants: "th",
    me: "id,username,name",
    create: "threads",
    publish: "threads_publish",
    status: "status",
    detail: "error_message",
    text: "text",
};

#[async_trait]
impl Containers for Threads {
    fn api(&self) -> &ContainerApi {
        &CONTAINERS
    }

    fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn base(&self) -> &str {
        &self.base
    }

    fn poll(&self) -> Duration {
        self.poll
    }

    fn wait(&self) -> Duration {
        self.wait
    }

    async fn call(&self, request: reqwest::RequestBuilder, token: &str) -> Reply {
        meta::call(request, token, "Threads", |error, regain| {
            meta::refusal("Threads", error, regain)
        })
        .await
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

#[async_trait]
impl Connect for Threads {
    /// Long-lived tokens (60 days) are refreshed while valid, once at least a day old, when
    /// a week is left; an expired one cannot be.
    fn token_policy(&self) -> TokenPolicy {
        TokenPolicy {
            refresh: Refresh::WhileValid,
            ahead: chrono::Duration::days(7),
            min_age: chrono::Duration::hours(24),
        }
    }

    fn code_grant(&self) -> Option<&oauth::CodeGrant> {
        Some(&self.grant)
    }

    async fn connected(&self, short: oauth::Tokens) -> Result<oauth::Tokens, Failure> {
        self.long_lived(&self.grant, short).await
    }

    async fn refresh(
        &self,
        access_token: &str,
        _refresh_token: Option<&str>,
    ) -> Result<oauth::Tokens, Failure> {
        self.refresh_long_lived(access_token).await
    }
}

impl Rules for Threads {
    fn profile(&self) -> Profile {
        Profile {
            color: "#101010",
            author_kinds: &[],
            media_kinds: &[MediaKind::Photo, MediaKind::Video],
            media_formats: MediaFormats {
                photo: &["image/jpeg", "image/png"],
                video: &["video/mp4"],
            },
            hashtags_max: None,
            mentions_max: None,
            preview_chars: None,
            quota: Some(Quota::read_daily(250)),
        }
    }

    fn text_limits(&self) -> Vec<TextLimit> {
        vec![TextLimit {
            unit: TextUnit::CharsEmojiBytes,
            ..TextLimit::chars(TextField::Text, TEXT_MAX)
        }]
    }

    fn validate(&self, post: &Post, options: &Options) -> Vec<Problem> {
        let mut problems = Vec::new();
        if options.mode == Mode::Draft {
            problems.push(Problem::new(
                "DRAFT_UNSUPPORTED",
                "mode",
                "Threads keeps no drafts made by other apps: publish it, or export it",
            ));
        }
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
        let request = |method: &str, url: String, body: Value, effect: &str| PlannedRequest {
            method: method.into(),
            url,
            headers: Value::Null,
            body,
            effect: effect.into(),
        };
        let limit = self.url(&format!("{account_id}/threads_publishing_limit"));
        vec![
            request(
                "GET",
                format!("{limit}?fields=quota_usage,config&access_token=***"),
                Value::Null,
                "read-only",
            ),
            request(
                "POST",
                format!(
                    "{}?access_token=***",
                    self.url(&format!("{account_id}/threads"))
                ),
                Self::container_body(post),
                "harmless",
            ),
            request(
                "GET",
                format!(
                    "{}?fields=status,error_message&access_token=***",
                    self.url("<container_id>")
                ),
                Value::Null,
                "read-only",
            ),
            request(
                "POST",
                format!(
                    "{}?creation_id=<container_id>&access_token=***",
                    self.url(&format!("{account_id}/threads_publish"))
                ),
                Value::Null,
                "publishes",
            ),
        ]
    }
}

#[async_trait]
impl Publish for Threads {
    /// Threads' own word for it: 250 posts in a moving day.
    fn quota_spent(&self) -> Failure {
        Failure::permanent(
            "DAILY_QUOTA_EXHAUSTED",
            "the Threads account's remaining posts of the last 24 hours are spent by the entries before this one",
        )
        .platform("threads_publishing_limit")
    }

    /// The account's quota, read: a post past it waits an hour and reads it again.
    async fn check(&self, at: Attempt<'_>) -> Result<Checked, Failure> {
        let Attempt { auth, options, .. } = at;
        let path = format!("{}/threads_publishing_limit", auth.account_id);
        let body = match self
            .get(&path, &[("fields", "quota_usage,config")], auth)
            .await
        {
            Reply::Ok(body) => body,
            Reply::Refused(failure) => return Err(failure),
            Reply::Lost(reason, _) => return Err(self.unavailable("publishing quota", &reason)),
        };
        let left = meta::quota_left("Threads", "threads_publishing_limit", &body)?;
        Ok(Checked {
            options: options.clone(),
            remaining: Some(left),
        })
    }

    async fn prepare(&self, at: Attempt<'_>) -> Result<Option<String>, Failure> {
        let Attempt { auth, post, .. } = at;
        self.container(auth, &Self::container_body(post))
            .await
            .map(Some)
    }

    async fn send(&self, at: Attempt<'_>, prepared: Option<&str>) -> Sent {
        let Attempt { auth, .. } = at;
        self.publish(auth, prepared).await
    }

    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote {
        let Settling { remote_id, post, .. } = sent;
        self.confirm_container(auth, remote_id, &post.text).await
    }

    async fn post_url(&self, auth: &Auth, post_id: &str) -> Option<String> {
        self.permalink(auth, post_id).await
    }
}

#[async_trait]
impl Measure for Threads {
    fn metrics_scope(&self) -> Option<&'static str> {
        Some(METRICS_SCOPE)
    }

    /// The post's insights: views, likes, replies, and its reposts, quotes and shares
    /// counted as shares.
    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure> {
        let metrics = "views,likes,replies,reposts,quotes,shares";
        let Some(counts) = self.insights(auth, post_id, metrics, METRICS_SCOPE).await? else {
            return Ok(None);
        };
        let n = |name: &str| counts.get(name).copied();
        let shared = ["reposts", "quotes", "shares"]
            .iter()
            .filter_map(|name| n(name))
            .reduce(|a, b| a + b);
        Ok(Some(PostMetrics {
            reading: almanac_shared::domain::analytics::Reading {
                views: n("views"),
                likes: n("likes"),
                comments: n("replies"),
                shares: shared,
                ..Default::default()
            },
            ..PostMetrics::default()
        }))
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
