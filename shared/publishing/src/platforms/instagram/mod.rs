//! Instagram's Graph API content publishing (`docs/platforms.md`): the daily quota, a container
//! (harmless: invisible until published), its status until `FINISHED`, then
//! `media_publish`, the one call with an outside effect. Errors are
//! `{"error": {"message", "type", "code", "error_subcode", "is_transient"}}`.

use std::{collections::BTreeMap, time::Duration};

use serde_json::{Value, json};

use crate::{
    Named, Rules, Failure, FailureKind, MediaKind, Options, PlannedRequest,
    Platform, Post, PostMetrics,
    platforms::meta::{self, CommentBy, ContainerApi, Containers},
    post::{
        self, CAPTION_MAX, Medium, INSTAGRAM_HASHTAGS_MAX, INSTAGRAM_MENTIONS_MAX, Problem, TextField,
        TextLimit,
    },
};


/// Instagram's name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("instagram");

super::register!(PLATFORM, Instagram::new);

/// Instagram's own settings: `INSTAGRAM_API_BASE_URL`, `INSTAGRAM_AUTHORIZE_URL`,
/// `INSTAGRAM_TOKEN_URL`, and its app's credentials.
pub(crate) const HOSTS: super::Hosts = super::Hosts {
    name: "instagram",
    credentials: ("INSTAGRAM_APP_ID", "INSTAGRAM_APP_SECRET"),
    real: [
        "https://graph.instagram.com",
        "https://www.instagram.com/oauth/authorize",
        "https://api.instagram.com/oauth/access_token",
    ],
    token_path: "",
};

/// What connecting asks for.
const SCOPE: &str = "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_insights,instagram_business_manage_comments";

/// The permission commenting under a media needs.
const COMMENT_SCOPE: &str = "instagram_business_manage_comments";

/// The permission reading a media's insights needs.
const METRICS_SCOPE: &str = "instagram_business_manage_insights";

const NOT_CONFIGURED: &str =
    "Instagram is not configured: set INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET";

pub struct Instagram(meta::Graph);

impl Instagram {
    pub fn new(parts: &super::Parts) -> anyhow::Result<Self> {
        meta::Graph::new(parts, &HOSTS, &CONTAINERS, NOT_CONFIGURED, SCOPE).map(Self)
    }
}

/// Instagram's error, in our words, with `code/subcode` (`regain`: how long a rate limit
/// asks to wait, when its usage headers said).
fn refusal(error: &Value, regain: Option<Duration>) -> Failure {
    let code = error["code"].as_i64().unwrap_or(0);
    let subcode = error["error_subcode"].as_i64().unwrap_or(0);
    let transient = error["is_transient"].as_bool().unwrap_or(false);
    let theirs = error["message"].as_str().unwrap_or("").to_owned();
    let (kind, ours, reason) = match (code, subcode) {
        (_, 2207042) => {
            return Failure::retryable(
                "DAILY_QUOTA_EXHAUSTED",
                "the Instagram account reached its daily publishing limit; this post waits for a place",
            )
            .platform(format!("{code}/{subcode}"))
            .deferred(meta::QUOTA_WAIT);
        }
        (_, 2207051) => (
            FailureKind::Permanent,
            "SUSPECTED_SPAM",
            "Instagram held the post as suspected spam",
        ),
        (_, 2207050) => (
            FailureKind::Permanent,
            "ACCOUNT_RESTRICTED",
            "the Instagram account is restricted",
        ),
        (_, 2207003) | (_, 2207001) | (_, 2207020) | (_, 2207027) => (
            FailureKind::Retryable,
            "PLATFORM_UNAVAILABLE",
            "Instagram could not take the post now; retried later",
        ),
        (190, _) => (
            FailureKind::Auth,
            "CHANNEL_AUTH_INVALID",
            "Instagram refused the access token (expired or revoked)",
        ),
        (code, _) if crate::platforms::meta::RATE_LIMIT_CODES.contains(&code) => {
            let code = match subcode {
                0 => code.to_string(),
                subcode => format!("{code}/{subcode}"),
            };
            return crate::platforms::meta::rate_limited("Instagram", code, &theirs, regain);
        }
        (341, _) => (
            FailureKind::Retryable,
            "RATE_LIMITED",
            "Instagram's rate limit was reached; retried later",
        ),
        (10 | 200..=299, _) => (
            FailureKind::Permanent,
            "PERMISSION_DENIED",
            "the Instagram account did not grant the publishing permission; connect it again",
        ),
        _ if transient => (
            FailureKind::Retryable,
            "PLATFORM_UNAVAILABLE",
            "Instagram could not take the post now; retried later",
        ),
        _ => (
            FailureKind::Permanent,
            "PLATFORM_REFUSED",
            "Instagram refused the post",
        ),
    };
    let platform_code = if subcode != 0 {
        format!("{code}/{subcode}")
    } else {
        code.to_string()
    };
    let message = if theirs.is_empty() {
        format!("{reason} ({platform_code})")
    } else {
        format!("{reason}: {theirs} ({platform_code})")
    };
    Failure::new(kind, ours, message).platform(platform_code)
}

/// How Instagram names its containers and posts.
const CONTAINERS: ContainerApi = ContainerApi {
    label: "Instagram",
    // `content_publishing_limit`: 100 API-published posts in a moving day (the total has
    // been 25, 50 and 100 in different pages: it is read).
    quota: "content_publishing_limit",
    refusal,
    insights: "views,reach,likes,comments,shares,saved",
    insights_scope: METRICS_SCOPE,
    version: "",
    grants: "ig",
    me: "user_id,username,name",
    comment: CommentBy::Edge,
    comment_scope: COMMENT_SCOPE,
    create: "media",
    publish: "media_publish",
    status: "status_code",
    detail: "status",
    text: "caption",
};

impl Containers for Instagram {
    fn graph(&self) -> &meta::Graph {
        &self.0
    }

    /// The media's insights: views, reach, likes, comments, shares and saves.
    fn reading(&self, counts: &BTreeMap<String, u64>) -> PostMetrics {
        let n = |name: &str| counts.get(name).copied();
        PostMetrics {
            reading: almanac_shared::domain::analytics::Reading {
                views: n("views"),
                likes: n("likes"),
                comments: n("comments"),
                shares: n("shares"),
                saves: n("saved"),
                ..Default::default()
            },
            reach: n("reach"),
            followers: None,
        }
    }

    fn container_body(&self, post: &Post) -> Value {
        let url = post.media_url.clone().unwrap_or_default();
        match post.media {
            MediaKind::Video => json!({
                "media_type": "REELS",
                "video_url": url,
                "caption": post.text,
                "share_to_feed": true,
            }),
            MediaKind::Photo => json!({ "image_url": url, "caption": post.text }),
        }
    }

    fn item_body(&self, medium: &Medium) -> Value {
        match medium.kind {
            MediaKind::Video => json!({
                "media_type": "VIDEO",
                "video_url": medium.url,
                "is_carousel_item": true,
            }),
            MediaKind::Photo => json!({ "image_url": medium.url, "is_carousel_item": true }),
        }
    }

    fn carousel_body(&self, post: &Post, children: &str) -> Value {
        json!({ "media_type": "CAROUSEL", "children": children, "caption": post.text })
    }
}

impl Named for Instagram {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "Instagram"
    }
}

impl Rules for Instagram {
    fn profile(&self) -> crate::catalogue::Profile {
        crate::catalogue::Profile {
            color: "#c13584",
            author_kinds: &[],
            media_kinds: &[MediaKind::Photo, MediaKind::Video],
            media_formats: crate::catalogue::MediaFormats {
                photo: &["image/jpeg"],
                video: &["video/mp4"],
            },
            hashtags_max: Some(INSTAGRAM_HASHTAGS_MAX),
            mentions_max: Some(INSTAGRAM_MENTIONS_MAX),
            preview_chars: Some(125),
            // `content_publishing_limit`: 100 API-published posts in a moving day, read
            // before each publish (the figure read is the one that counts).
            quota: Some(crate::catalogue::Quota::read_daily(100)),
            // A carousel holds 2 to 10 photos and videos, mixed.
            carousel: Some(crate::catalogue::Carousel::of(10, true)),
            first_comment: true,
            video: Some(crate::catalogue::VideoLimits::of(3, 900, Some(1_920))),
        }
    }

    fn text_limits(&self) -> Vec<TextLimit> {
        vec![TextLimit::chars(TextField::Text, CAPTION_MAX)]
    }

    fn validate(&self, post: &Post, options: &Options) -> Vec<Problem> {
        let mut problems = Vec::from_iter(crate::no_drafts(options, "Instagram has no drafts: publish it, or export it"));
        problems.extend(post::media_problem(post, "Instagram"));
        problems.extend(post::too_long(
            "caption",
            "the Instagram caption (caption, call to action and hashtags)",
            post.text_chars(),
            CAPTION_MAX,
        ));
        if post.hashtags() > INSTAGRAM_HASHTAGS_MAX {
            problems.push(Problem::new(
                "TOO_MANY_HASHTAGS",
                "hashtags",
                format!(
                    "the Instagram caption has {} hashtags; the limit is {INSTAGRAM_HASHTAGS_MAX}",
                    post.hashtags()
                ),
            ));
        }
        if post.mentions() > INSTAGRAM_MENTIONS_MAX {
            problems.push(Problem::new(
                "TOO_MANY_MENTIONS",
                "caption",
                format!(
                    "the Instagram caption has {} mentions; the limit is {INSTAGRAM_MENTIONS_MAX}",
                    post.mentions()
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
    fn errors_keep_code_and_subcode() {
        let quota = refusal(
            &json!({"code": 9, "error_subcode": 2207042, "message": "limit"}),
            None,
        );
        assert_eq!(quota.code, "DAILY_QUOTA_EXHAUSTED");
        assert_eq!(quota.platform_code.as_deref(), Some("9/2207042"));
        // A full quota waits for a place: deferred, never failed.
        assert_eq!(quota.kind, FailureKind::Retryable);
        assert_eq!(quota.retry_after, Some(meta::QUOTA_WAIT));
        let expired = refusal(
            &json!({"code": 190, "message": "Error validating access token"}),
            None,
        );
        assert_eq!(expired.kind, FailureKind::Auth);
        assert_eq!(
            expired.message,
            "Instagram refused the access token (expired or revoked): Error validating access token (190)"
        );
        let limited = refusal(&json!({"code": 4}), None);
        assert_eq!(limited.kind, FailureKind::Retryable);
        assert!(
            limited.retry_after.is_some(),
            "a rate limit waits, not fails"
        );
        assert_eq!(
            refusal(&json!({"code": -2, "error_subcode": 2207003}), None).kind,
            FailureKind::Retryable
        );
    }
}
