//! YouTube (the YouTube Data API v3, `docs/platforms.md`): Google's OAuth with
//! `youtube.upload` and `youtube.readonly`, offline (a refresh token) and with consent asked
//! each time; the channel read with `channels.list`. A post is a video uploaded with a
//! resumable `videos.insert`: the session is opened with the video's metadata (harmless:
//! nothing exists until its bytes are in), its address kept on the intent, then the bytes
//! are sent in one `PUT`, the one request with an outside effect. A lost answer is read back
//! from the session's status (`PUT` with `Content-Range: bytes */<size>`), else from the
//! channel's uploads playlist, where the description ends with Almanac's marker. The upload
//! quota is the Google Cloud project's, shared by every user: counted by Almanac per Pacific
//! day (`YOUTUBE_DAILY_UPLOADS`, `publish::quota`). Its answers are read in [`api`], its
//! upload sessions in [`session`].

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::{
    PostMetrics,
    Attempt, Commenting, Connect, Measure, Named, Publish, Rules, Settling, Auth, Failure, MediaKind, Options, PlannedRequest, Platform,
    Post, Remote, Reply, Sent,
    catalogue::{MediaFormats, Profile, Quota, QuotaScope},
    oauth,
    post::{self, Problem, TextField, TextLimit, TextUnit},
    uploads::MediaReader,
};

mod api;
mod session;

use api::unanswered_failure;
use session::{description, session_parts, session_remote};

/// YouTube's name in the registry (and the channel slug it publishes).
pub const PLATFORM: Platform = Platform::of_static("youtube");

super::register!(PLATFORM, YouTube::new);

/// YouTube's own settings: `YOUTUBE_API_BASE_URL`, `YOUTUBE_AUTHORIZE_URL`,
/// `YOUTUBE_TOKEN_URL`, and its app's credentials (the Google Cloud project's OAuth client).
pub(crate) const HOSTS: super::Hosts = super::Hosts {
    name: "youtube",
    credentials: ("YOUTUBE_CLIENT_ID", "YOUTUBE_CLIENT_SECRET"),
    real: [
        "https://www.googleapis.com",
        "https://accounts.google.com/o/oauth2/v2/auth",
        "https://oauth2.googleapis.com/token",
    ],
    token_path: "",
};

/// A video's title holds at most 100 characters.
pub const TITLE_MAX: usize = 100;

/// A description holds at most 5,000 bytes, of which Almanac's marker line takes
/// [`MARKER_BYTES`]: the entry's text may have the rest.
pub const DESCRIPTION_BYTES: usize = 5_000;
const MARKER_PREFIX: &str = "almanac:";
/// Two line breaks, the prefix and a 13-character TID.
const MARKER_BYTES: usize = 2 + MARKER_PREFIX.len() + 13;
pub const DESCRIPTION_MAX: usize = DESCRIPTION_BYTES - MARKER_BYTES;

/// The largest video read to upload (the largest Almanac takes as an upload).
const VIDEO_MAX_BYTES: usize = 300 * 1024 * 1024;

/// What connecting asks for: uploading, and reading the channel (its name, its uploads).
pub const SCOPES: &str = "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly https://www.googleapis.com/auth/youtube.force-ssl";

/// The permission a comment under a video needs (`commentThreads.insert`).
const COMMENT_SCOPE: &str = "youtube.force-ssl";

/// The permission reading a video's statistics needs (asked for with the upload's).
const METRICS_SCOPE: &str = "youtube.readonly";

/// Where a resumable upload's session is opened (and its sessions live).
const UPLOAD_PATH: &str = "/upload/youtube/v3/videos";

/// How long a post waits when YouTube's own limit on a channel's uploads in 24 hours is
/// reached, before it is tried again.
const CHANNEL_LIMIT_WAIT: Duration = Duration::from_secs(3600);

/// The slowest upload a video's `PUT` is given time for (bytes a second), beyond the
/// usual time a call may take (`PUBLISH_HTTP_TIMEOUT_MS`): a video of hundreds of
/// megabytes is not cut off as a lost answer.
const UPLOAD_BYTES_PER_SEC_FLOOR: u64 = 1_000_000;

/// How long a rate limit is waited for when its answer does not say.
const RATE_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);

const NOT_CONFIGURED: &str = "YouTube is not configured: set YOUTUBE_CLIENT_ID and YOUTUBE_CLIENT_SECRET (the Google Cloud project's OAuth client)";

pub struct YouTube {
    /// The video: an upload read from the media store, or the entry's `mediaUrl` fetched by
    /// us under the outside fetch rules.
    videos: MediaReader,
    /// Its client, API base and code grant.
    api: super::OauthApi,
    /// `YOUTUBE_DAILY_UPLOADS`: the Google Cloud project's uploads a Pacific day.
    daily_uploads: u32,
    /// How long one call may take (`PUBLISH_HTTP_TIMEOUT_MS`), before a video's own time.
    call_timeout: Duration,
}

impl YouTube {
    pub fn new(parts: &super::Parts) -> anyhow::Result<Self> {
        let settings = parts.settings;
        let daily_uploads: u32 = settings.vars.parse_or("YOUTUBE_DAILY_UPLOADS", 100)?;
        anyhow::ensure!(daily_uploads > 0, "YOUTUBE_DAILY_UPLOADS must be at least 1");
        // Access tokens last an hour; the refresh token gets a new one, also after it
        // expired (the default policy). A refresh token with a lifetime (a project in
        // "Testing" status: 7 days) is announced before it lapses.
        let api = HOSTS.oauth(parts, "YouTube", NOT_CONFIGURED, SCOPES, |grant| {
            grant.with(&[("access_type", "offline"), ("prompt", "consent")])
        })?;
        let (store, fetcher) = (parts.store.clone(), parts.clients.media.clone());
        Ok(Self {
            videos: MediaReader::videos(store, fetcher, VIDEO_MAX_BYTES),
            api,
            daily_uploads,
            call_timeout: settings.http_timeout,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api.base)
    }

    fn quota(&self) -> Quota {
        Quota {
            per: QuotaScope::App,
            ..Quota::counted_daily(self.daily_uploads)
        }
        .by_day_of(chrono_tz::America::Los_Angeles)
    }

    /// The channel the token acts for: its id, handle and title (`None`: the account has
    /// no channel).
    async fn channel(&self, token: &str) -> Result<Option<Value>, Failure> {
        let request = self
            .api.http
            .get(self.url("/youtube/v3/channels"))
            .query(&[("part", "snippet,contentDetails"), ("mine", "true")]);
        match self.call(request, token).await {
            Reply::Ok(body) => Ok(body["items"].get(0).filter(|c| c.is_object()).cloned()),
            Reply::Refused(failure) => Err(failure),
            Reply::Lost(reason, _) => Err(Failure::retryable(
                "PLATFORM_UNAVAILABLE",
                format!("YouTube's channel could not be read: {reason}"),
            )),
        }
    }

    /// The video resource the session opens with.
    fn metadata(post: &Post, options: &Options) -> Value {
        json!({
            "snippet": { "title": post.title, "description": description(post) },
            "status": {
                "privacyStatus": privacy(options).unwrap_or("public"),
                "selfDeclaredMadeForKids": false,
            },
        })
    }

    /// The bytes of the post's video, and their type.
    async fn video(&self, post: &Post) -> Result<(bytes::Bytes, String), Failure> {
        let url = post.media_url.as_deref().unwrap_or("");
        let bytes = self.videos.read(post, url, "YouTube").await?;
        let mime = post
            .upload
            .as_ref()
            .map_or("video/mp4", |upload| upload.mime.as_str());
        Ok((bytes, mime.to_owned()))
    }
}

/// YouTube's `privacyStatus` for the publish's privacy level (TikTok's words, as the API
/// takes them): public unless it asks for less.
fn privacy(options: &Options) -> Option<&'static str> {
    options.privacy_level.as_deref().map(|level| match level {
        "SELF_ONLY" => "private",
        "MUTUAL_FOLLOW_FRIENDS" | "FOLLOWER_OF_CREATOR" => "unlisted",
        _ => "public",
    })
}

/// A video id: letters, digits, `-` and `_`.
fn is_video_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn video_id(body: &Value) -> Option<String> {
    body["id"]
        .as_str()
        .filter(|id| is_video_id(id))
        .map(str::to_owned)
}

impl Named for YouTube {
    fn platform(&self) -> Platform {
        PLATFORM
    }

    fn label(&self) -> &'static str {
        "YouTube"
    }
}

#[async_trait]
impl Connect for YouTube {
    fn code_grant(&self) -> Option<&oauth::CodeGrant> {
        Some(&self.api.grant)
    }

    /// The channel the tokens act for.
    async fn connected(&self, mut tokens: oauth::Tokens) -> Result<oauth::Tokens, Failure> {
        let Some(channel) = self.channel(&tokens.access_token).await? else {
            return Err(Failure::permanent(
                "NO_CHANNEL",
                "the Google account has no YouTube channel: create one on YouTube, then connect again",
            )
            .platform(oauth::NO_ACCOUNT));
        };
        tokens.account_id = channel["id"].as_str().map(str::to_owned);
        tokens.handle = oauth::name(&channel["snippet"]["customUrl"]);
        tokens.display_name = oauth::name(&channel["snippet"]["title"]);
        Ok(tokens)
    }

    fn account_problem(&self, account_id: &str) -> Option<String> {
        let channel =
            account_id.len() == 24 && account_id.starts_with("UC") && is_video_id(account_id);
        (!channel).then(|| {
            format!("a YouTube `accountId` is the channel's id (`UC` and 22 characters), not `{account_id}`")
        })
    }
}

impl Rules for YouTube {
    fn profile(&self) -> Profile {
        Profile {
            color: "#e00000",
            author_kinds: &[],
            media_kinds: &[MediaKind::Video],
            media_formats: MediaFormats {
                photo: &[],
                video: &["video/mp4"],
            },
            hashtags_max: None,
            mentions_max: None,
            preview_chars: None,
            quota: Some(self.quota()),
            // One video a post; a comment under it by `commentThreads.insert`.
            carousel: None,
            first_comment: true,
            video: Some(crate::catalogue::VideoLimits::of(1, 43_200, None)),
        }
    }

    fn text_limits(&self) -> Vec<TextLimit> {
        vec![
            TextLimit::chars(TextField::Title, TITLE_MAX),
            TextLimit {
                unit: TextUnit::Utf8Bytes,
                ..TextLimit::chars(TextField::Text, DESCRIPTION_MAX)
            },
        ]
    }

    fn validate(&self, post: &Post, options: &Options) -> Vec<Problem> {
        let mut problems = Vec::from_iter(crate::no_drafts(options, "YouTube keeps no drafts made by other apps: publish it as private, or export it"));
        if let Some(mime) = &post.unsupported_upload {
            problems.push(post::unsupported_media("YouTube", mime));
        } else if post.media != MediaKind::Video || post.media_url.is_none() {
            problems.push(Problem::new(
                "MEDIA_REQUIRED",
                "media",
                "a YouTube post is a video: give the entry a video (a Short is at most 3 minutes, square or vertical)",
            ));
        }
        if post.title.is_empty() {
            problems.push(Problem::new(
                "TITLE_REQUIRED",
                "title",
                "a YouTube video needs a title: write the entry's title",
            ));
        }
        problems.extend(post::too_long(
            "title",
            "the YouTube title",
            post.title.chars().count(),
            TITLE_MAX,
        ));
        if post.title.contains(['<', '>']) {
            problems.push(Problem::new(
                "TITLE_INVALID",
                "title",
                "YouTube takes no < or > in a title: remove them",
            ));
        }
        let bytes = post.text.len();
        if bytes > DESCRIPTION_MAX {
            problems.push(Problem::new(
                "CAPTION_TOO_LONG",
                "caption",
                format!(
                    "the YouTube description (caption, call to action and hashtags) is {bytes} bytes; the limit is {DESCRIPTION_MAX} ({DESCRIPTION_BYTES}, less Almanac's marker line)"
                ),
            ));
        }
        if post.text.contains(['<', '>']) {
            problems.push(Problem::new(
                "CAPTION_INVALID",
                "caption",
                "YouTube takes no < or > in a description: remove them",
            ));
        }
        problems
    }

    fn plan(&self, _account_id: &str, post: &Post, options: &Options) -> Vec<PlannedRequest> {
        let mime = post
            .upload
            .as_ref()
            .map_or("video/mp4", |upload| upload.mime.as_str());
        let mut requests = Vec::new();
        if post.upload.is_none()
            && let Some(url) = &post.media_url
        {
            requests.push(PlannedRequest {
                method: "GET".into(),
                url: url.clone(),
                headers: Value::Null,
                body: Value::Null,
                effect: "read-only".into(),
            });
        }
        requests.extend([
            PlannedRequest {
                method: "POST".into(),
                url: self.url(&format!(
                    "{UPLOAD_PATH}?uploadType=resumable&part=snippet,status"
                )),
                headers: json!({ "Authorization": "Bearer ***",
                    "Content-Type": "application/json; charset=UTF-8",
                    "X-Upload-Content-Length": "<video bytes>", "X-Upload-Content-Type": mime }),
                body: Self::metadata(post, options),
                effect: "harmless".into(),
            },
            PlannedRequest {
                method: "PUT".into(),
                url: "<upload session>".into(),
                headers: json!({ "Authorization": "Bearer ***", "Content-Type": mime }),
                body: Value::Null,
                effect: "publishes".into(),
            },
        ]);
        requests
    }
}

#[async_trait]
impl Publish for YouTube {
    fn comment_scope(&self) -> Option<&'static str> {
        Some(COMMENT_SCOPE)
    }

    /// A top-level comment under the video (`commentThreads.insert`, 50 units of the
    /// project's quota).
    async fn comment(&self, auth: &Auth, on: Commenting<'_>) -> Sent {
        if !is_video_id(on.post_id) {
            return crate::no_post_to_comment("YouTube");
        }
        let body = json!({ "snippet": { "channelId": auth.account_id, "videoId": on.post_id,
            "topLevelComment": { "snippet": { "textOriginal": on.text } } } });
        let request = self
            .api
            .http
            .post(self.url("/youtube/v3/commentThreads"))
            .query(&[("part", "snippet")])
            .json(&body);
        self.call(request, &auth.access_token)
            .await
            .commented(&["id"])
    }

    /// The uploads left today are the whole server's, not the account's.
    fn quota_spent(&self) -> Failure {
        Failure::permanent(
            "DAILY_QUOTA_EXHAUSTED",
            "the YouTube uploads left today for this Almanac server (shared by everyone who publishes through it) are taken by the entries before this one",
        )
    }

    // Nothing to check first (the default): the quota is counted by Almanac
    // (`publish::quota`).

    /// The upload session, opened with the video's metadata and size: its address (with the
    /// marker and the size) is kept on the intent before the bytes go.
    async fn prepare(&self, at: Attempt<'_>) -> Result<Option<String>, Failure> {
        let Attempt { auth, post, options } = at;
        let (bytes, mime) = self.video(post).await?;
        let request = self
            .api.http
            .post(self.url(UPLOAD_PATH))
            .query(&[("uploadType", "resumable"), ("part", "snippet,status")])
            .header("x-upload-content-length", bytes.len().to_string())
            .header("x-upload-content-type", &mime)
            .json(&Self::metadata(post, options));
        let answered = self
            .exchange(request, &auth.access_token)
            .await
            .map_err(|unanswered| unanswered_failure("upload session", unanswered))?;
        let location = answered.header("location").map(str::to_owned);
        let reply = self.reply(answered);
        if !matches!(reply, Reply::Ok(_)) {
            return Err(unanswered_failure("upload session", reply));
        }
        // The session must be YouTube's own: the video and the token go there next.
        let session = location
            .filter(|at| at.starts_with(&self.url(UPLOAD_PATH)) && !at.contains('#'))
            .ok_or_else(|| {
                unanswered_failure(
                    "upload session",
                    Reply::Lost("it named no upload address of its own".into(), false),
                )
            })?;
        Ok(Some(session_remote(&session, post, bytes.len())))
    }

    /// The video's bytes, to the session: the one request with an outside effect.
    async fn send(&self, at: Attempt<'_>, prepared: Option<&str>) -> Sent {
        let Attempt { auth, post, .. } = at;
        let Some((session, _, size)) = prepared.and_then(session_parts) else {
            return Sent::NotApplied(Failure::retryable(
                "PLATFORM_UNAVAILABLE",
                "no YouTube upload session to send the video to",
            ));
        };
        let (bytes, mime) = match self.video(post).await {
            Ok(video) => video,
            Err(failure) => return Sent::NotApplied(failure),
        };
        if bytes.len() != size {
            return Sent::NotApplied(Failure::retryable(
                "MEDIA_CHANGED",
                "the video changed while its upload was being opened; a new upload is opened on the next try",
            ));
        }
        let sending = Duration::from_secs(size as u64 / UPLOAD_BYTES_PER_SEC_FLOOR);
        let request = self
            .api.http
            .put(session)
            .header("content-type", mime)
            .timeout(self.call_timeout + sending)
            .body(bytes);
        match self.exchange(request, &auth.access_token).await {
            Ok(answered) if matches!(answered.status, 200 | 201) => Sent::Accepted {
                remote_id: prepared.unwrap_or_default().to_owned(),
                post_id: video_id(&answered.body),
            },
            Ok(answered) if answered.status == 308 || answered.status >= 500 => Sent::Unknown(
                format!("YouTube answered {} to the video", answered.status),
            ),
            Ok(answered) if matches!(answered.status, 404 | 410) => Sent::NotApplied(
                Failure::retryable(
                    "UPLOAD_SESSION_EXPIRED",
                    "YouTube's upload session expired before the video was sent; a new one is opened on the next try",
                )
                .platform(answered.status.to_string()),
            ),
            Ok(answered) => Sent::NotApplied(self.refusal(&answered)),
            Err(Reply::Lost(reason, false)) => Sent::Unknown(reason),
            Err(unanswered) => Sent::NotApplied(unanswered_failure("video", unanswered)),
        }
    }

    /// Read-only: the session's status, else the channel's uploads.
    async fn confirm(&self, auth: &Auth, sent: Settling<'_>) -> Remote {
        let Settling { remote_id, .. } = sent;
        let Some(remote) = remote_id else {
            return Remote::Pending("no YouTube upload session to check".into());
        };
        let Some(parts) = session_parts(remote) else {
            return Remote::Pending("the upload session's address is not readable".into());
        };
        self.session_status(auth, parts).await
    }

    async fn post_url(&self, _auth: &Auth, post_id: &str) -> Option<String> {
        is_video_id(post_id).then(|| format!("https://www.youtube.com/watch?v={post_id}"))
    }
}

#[async_trait]
impl Measure for YouTube {
    /// The video's statistics: views, likes and comments (`videos?part=statistics`).
    async fn metrics(&self, auth: &Auth, post_id: &str) -> Result<Option<PostMetrics>, Failure> {
        if !is_video_id(post_id) {
            return Ok(None);
        }
        let request = self
            .api.http
            .get(self.url("/youtube/v3/videos"))
            .query(&[("part", "statistics"), ("id", post_id)]);
        let body = self
            .call(request, &auth.access_token)
            .await
            .read("YouTube", "video statistics")
            .map_err(|f| crate::metrics_refusal(f, "YouTube", METRICS_SCOPE))?;
        let Some(stats) = body["items"].get(0).map(|video| &video["statistics"]) else {
            return Ok(None);
        };
        Ok(Some(PostMetrics {
            reading: almanac_shared::domain::analytics::Reading {
                views: crate::count(&stats["viewCount"]),
                likes: crate::count(&stats["likeCount"]),
                comments: crate::count(&stats["commentCount"]),
                ..Default::default()
            },
            ..Default::default()
        }))
    }

    fn metrics_scope(&self) -> Option<&'static str> {
        Some(METRICS_SCOPE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Mode;

    #[test]
    fn the_privacy_asked_for_is_youtube_s_nearest() {
        let asked = |level: Option<&str>| {
            privacy(&Options {
                mode: Mode::Publish,
                privacy_level: level.map(str::to_owned),
            })
        };
        assert_eq!(asked(None), None);
        assert_eq!(asked(Some("SELF_ONLY")), Some("private"));
        assert_eq!(asked(Some("FOLLOWER_OF_CREATOR")), Some("unlisted"));
        assert_eq!(asked(Some("PUBLIC_TO_EVERYONE")), Some("public"));
    }
}
