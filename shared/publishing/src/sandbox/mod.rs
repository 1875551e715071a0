//! The platforms' fakes, following `docs/platforms.md`: one implementation serving both the
//! tests (over a TCP server of their own, which can also drop or stall an answer) and
//! `PLATFORM_SANDBOX` (under `/sandbox` on the API's own port, [`serve`]), so that a
//! newcomer can connect, dry-run and publish without an app at any platform. Built only with
//! the `sandbox` feature: a release build has none of it.
//!
//! Each platform's fake lives in its folder (`platforms/<name>/fake.rs`) and answers under
//! `/<name>` ([`route`] finds it through the registry, `platforms::BUILT_IN`), where the
//! sandbox's settings point the platform (`<sandbox>/<name>` and the real API's paths under
//! it); the browser's authorize step is answered here for every platform ([`authorize`]).
//! This module keeps what the fakes share: the calls, the posts, the tokens issued, the
//! tests' fault switches and the posts' numbers.

pub mod serve;

use crate::platforms::{
    bluesky::fake as bluesky, facebook::fake as facebook, linkedin::fake as linkedin,
    threads::fake as threads, youtube::fake as youtube,
};

use std::collections::{HashMap, HashSet};

use serde_json::Value;

pub const IG_USER: &str = "17841400000000001";
pub const TIKTOK_OPEN_ID: &str = "open-tiktok-1";
/// The member LinkedIn's userinfo names, and the page they administer.
pub const LI_MEMBER_SUB: &str = "782bbtaQ";
pub const LI_MEMBER: &str = "urn:li:person:782bbtaQ";
pub const LI_PAGE: &str = "urn:li:organization:2414183";

/// What TikTok's status endpoint says of a publish.
#[derive(Debug, Clone, PartialEq)]
pub enum TikTokOutcome {
    Complete,
    Failed(&'static str),
    Processing,
}

/// A call to the platforms, as the transport read it.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub authorization: Option<String>,
    /// Every header, by lower-case name.
    pub headers: HashMap<String, String>,
    pub body: String,
    pub body_len: usize,
}

/// A media address a platform fetched (Instagram's containers, TikTok's pulls), as it
/// does: once per request naming it.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub url: String,
    pub status: u16,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// A post that went out.
#[derive(Debug, Clone)]
pub struct Posted {
    pub platform: &'static str,
    pub id: String,
    /// TikTok's init body, or Instagram's container body.
    pub body: Value,
    /// The media it carries, in order: each address the platform fetches, or
    /// `bytes:<length>` for the bytes sent to it.
    pub media: Vec<String>,
}

/// A comment an author posted under their own post.
#[derive(Debug, Clone)]
pub struct Commented {
    pub platform: &'static str,
    /// The post it is under, as the platform names it.
    pub post_id: String,
    pub id: String,
    pub text: String,
}

/// What a fake records of bytes sent to it, as [`Posted::media`] names them.
pub fn bytes_named(length: usize) -> String {
    format!("bytes:{length}")
}

#[derive(Debug)]
pub struct State {
    pub calls: Vec<Call>,
    pub posts: Vec<Posted>,
    /// Comments posted under posts (first comments).
    pub comments: Vec<Commented>,
    /// Refuse the next comment (as a platform refusing it would).
    pub refuse_comment: bool,
    /// Apply the next comment, then drop the connection.
    pub drop_after_comment: bool,
    /// Apply the next comment, then never answer (the worker dies meanwhile).
    pub hang_after_comment: bool,
    /// Access tokens each platform accepts.
    pub tokens: HashSet<String>,
    /// TikTok refresh tokens that still work.
    pub refresh_tokens: HashSet<String>,
    pub refuse_refresh: bool,
    pub privacy_options: Vec<&'static str>,
    pub tiktok_outcome: TikTokOutcome,
    /// Apply the next publishing call, then drop the connection.
    pub drop_after_publish: bool,
    /// Apply the next publishing call, then never answer (the worker dies meanwhile).
    pub hang_after_publish: bool,
    /// Every API call (not the browser's authorize step) is answered this long after it
    /// arrives, and counted while it waits.
    pub answer_after: Option<std::time::Duration>,
    /// API calls waiting for their answer now, and the most at once.
    pub in_flight: usize,
    pub most_in_flight: usize,
    /// Instagram's container status and recent media never show the post.
    pub cannot_confirm: bool,
    /// TikTok's pending shares: drafts in the creator's inbox not yet posted, and how many
    /// it holds (an inbox upload past them is refused `spam_risk_too_many_pending_share`).
    pub tiktok_pending: usize,
    pub tiktok_pending_max: usize,
    /// TikTok init calls answered 429 `rate_limit_exceeded` before one is taken.
    pub rate_limited: usize,
    /// The Instagram account's username and name (`GET /me`).
    pub ig_username: String,
    pub ig_name: String,
    pub quota_usage: i64,
    pub quota_total: i64,
    /// Instagram's quota answered without its figures.
    pub quota_unreadable: bool,
    /// Instagram containers: id -> (body, status_code).
    pub containers: HashMap<String, (Value, String)>,
    /// LinkedIn's posts, uploads (upload id -> bytes received), the pages the member
    /// administers (URN, name), whether connecting issues a refresh token (partners only),
    /// and post creations answered 429 before one is taken.
    pub li_posts: Vec<linkedin::LiPost>,
    pub li_images: HashMap<String, Option<usize>>,
    pub li_pages: Vec<(String, String)>,
    pub li_refresh_tokens: bool,
    pub li_rate_limited: usize,
    /// Bluesky's sessions, records and blobs.
    pub bsky: bluesky::Bsky,
    /// Threads' containers, quota and profile.
    pub threads: threads::ThreadsFake,
    /// Facebook's rate limit and revoked page tokens.
    pub facebook: facebook::FacebookFake,
    /// YouTube's upload sessions, quota and rate limit.
    pub youtube: youtube::YouTubeFake,
    /// Posts' numbers, as every platform reports them.
    pub metrics: MetricsFake,
    /// Media fetched from Almanac's signed addresses.
    pub pulled: Vec<Pulled>,
    /// Headers of the answer being written (set by a route, taken by the transport).
    pub(crate) reply_headers: Vec<(String, String)>,
    /// Where this server is reached (LinkedIn's upload addresses name it).
    pub(crate) base_url: String,
    pub(crate) issued: usize,
    /// The sandbox: tokens shaped like those issued are taken even when this process did
    /// not issue them (the API restarted since the channel connected).
    pub(crate) lenient: bool,
}

impl State {
    /// A platform that issued nothing yet, reached at `base_url`.
    pub fn new(base_url: &str) -> Self {
        Self {
            calls: Vec::new(),
            posts: Vec::new(),
            comments: Vec::new(),
            refuse_comment: false,
            drop_after_comment: false,
            hang_after_comment: false,
            tokens: HashSet::from(["tt-token", "ig-token", "li-token"].map(str::to_owned)),
            refresh_tokens: HashSet::from(["tt-refresh", "li-refresh"].map(str::to_owned)),
            refuse_refresh: false,
            privacy_options: vec!["PUBLIC_TO_EVERYONE", "FOLLOWER_OF_CREATOR", "SELF_ONLY"],
            tiktok_outcome: TikTokOutcome::Complete,
            drop_after_publish: false,
            pulled: Vec::new(),
            hang_after_publish: false,
            answer_after: None,
            in_flight: 0,
            most_in_flight: 0,
            cannot_confirm: false,
            tiktok_pending: 0,
            tiktok_pending_max: 5,
            rate_limited: 0,
            ig_username: "almanac.studio".into(),
            ig_name: "Almanac Studio".into(),
            quota_usage: 0,
            quota_total: 50,
            quota_unreadable: false,
            containers: HashMap::new(),
            li_posts: Vec::new(),
            li_images: HashMap::new(),
            li_pages: linkedin::default_pages(),
            li_refresh_tokens: false,
            li_rate_limited: 0,
            bsky: bluesky::Bsky::default(),
            threads: threads::ThreadsFake::default(),
            facebook: facebook::FacebookFake::default(),
            youtube: youtube::YouTubeFake::default(),
            metrics: MetricsFake::default(),
            reply_headers: Vec::new(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            issued: 0,
            lenient: false,
        }
    }

    /// The numbers of `post` at this read, grown since its last; `None`: answered empty.
    pub(crate) fn read_metrics(&mut self, post: &str) -> Option<Counts> {
        if self.metrics.empty > 0 {
            self.metrics.empty -= 1;
            return None;
        }
        let reads = self.metrics.reads.entry(post.to_owned()).or_default();
        *reads += 1;
        Some(Counts::at(*reads))
    }

    /// The headers the last route set for its answer.
    pub fn take_reply_headers(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.reply_headers)
    }

    /// Whether `token` is an access token this platform issued.
    pub(crate) fn accepts(&self, token: &str) -> bool {
        self.tokens.contains(token) || (self.lenient && issued_shape(token, &ISSUED_ACCESS))
    }

    /// Whether `token` is a refresh token this platform issued (and did not take back).
    pub(crate) fn accepts_refresh(&self, token: &str) -> bool {
        self.refresh_tokens.contains(token)
            || (self.lenient && issued_shape(token, &ISSUED_REFRESH))
    }

    /// Keeps at most `most` of each kind of thing a caller can make (the oldest go first;
    /// maps and sets, which keep no order, start again), so that a sandbox open to anyone
    /// on the machine stays bounded.
    fn bound(&mut self, most: usize) {
        fn oldest_out<T>(items: &mut Vec<T>, most: usize) {
            if items.len() > most {
                items.drain(..items.len() - most);
            }
        }
        oldest_out(&mut self.calls, most);
        oldest_out(&mut self.posts, most);
        oldest_out(&mut self.li_posts, most);
        oldest_out(&mut self.pulled, most);
        self.bsky.bound(most);
        self.threads.bound(most);
        self.youtube.bound(most);
        if self.containers.len() > most {
            self.containers.clear();
        }
        if self.metrics.reads.len() > most {
            self.metrics.reads.clear();
        }
        if self.li_images.len() > most {
            self.li_images.clear();
        }
        if self.tokens.len() > most || self.refresh_tokens.len() > most {
            // Lenient: the tokens already handed out keep working by their shape.
            self.tokens.clear();
            self.refresh_tokens.clear();
        }
    }
}

/// Posts' numbers as the fakes report them.
#[derive(Debug, Default)]
pub struct MetricsFake {
    /// The reads each post had: its numbers grow with each, as a post's do with time.
    pub reads: HashMap<String, u64>,
    /// The next reads are answered empty (insights that lag).
    pub empty: usize,
    /// Reading them is refused: the permission it needs was not granted.
    pub denied: bool,
}

/// An account's followers, as the platforms without views report them.
pub const FOLLOWERS: u64 = 2_000;

/// A post's numbers at its `n`th read.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    pub views: u64,
    pub likes: u64,
    pub comments: u64,
    pub shares: u64,
    pub saves: u64,
    pub reach: u64,
}

impl Counts {
    pub fn at(n: u64) -> Self {
        Self {
            views: 500 * n,
            likes: 40 * n,
            comments: 6 * n,
            shares: 4 * n,
            saves: 3 * n,
            reach: 350 * n,
        }
    }
}

/// An insight the Graph fakes know: its name and how it reads a post's numbers.
pub type Insight = (&'static str, fn(&Counts) -> u64);

/// A Graph API insights answer with the metrics `call` asked for that `known` names
/// (empty: the post has none yet).
pub(crate) fn graph_insights(call: &Call, counts: Option<Counts>, known: &[Insight]) -> Value {
    let asked = call.query.get("metric").cloned().unwrap_or_default();
    let data: Vec<Value> = counts
        .iter()
        .flat_map(|counts| {
            known
                .iter()
                .filter(|(name, _)| asked.split(',').any(|a| a == *name))
                .map(move |(name, value)| {
                    serde_json::json!({ "name": name, "period": "lifetime",
                        "values": [{ "value": value(counts) }] })
                })
        })
        .collect();
    serde_json::json!({ "data": data })
}

/// A Graph API error (Facebook's, Threads'): `{"error": {"message", "type", "code",
/// "fbtrace_id"}}`.
pub(crate) fn graph_error(status: u16, code: i64, message: &str) -> Answer {
    Some((
        status,
        serde_json::json!({ "error": { "message": message, "type": "OAuthException",
            "code": code, "fbtrace_id": "trace" } }),
    ))
}

/// The prefixes of the access and refresh tokens the platforms issue.
const ISSUED_ACCESS: [&str; 10] = [
    "tt-token", "ig-token", "ig-short", "li-token", "th-token", "th-short", "fb-short", "fb-user",
    "fb-page", "yt-token",
];
const ISSUED_REFRESH: [&str; 3] = ["tt-refresh", "li-refresh", "yt-refresh"];

fn issued_shape(token: &str, prefixes: &[&str]) -> bool {
    prefixes.iter().any(|p| token.starts_with(p))
}

impl Call {
    /// A call from its request line's method and target, its headers and its body (of which
    /// `body_len` bytes arrived; `body` may hold only the first of them).
    pub fn read(
        method: &str,
        target: &str,
        headers: impl IntoIterator<Item = (String, String)>,
        body: &[u8],
        body_len: usize,
    ) -> Option<Self> {
        let body = String::from_utf8_lossy(body).into_owned();
        let url = url::Url::parse(&format!("http://sandbox{target}")).ok()?;
        let mut query: HashMap<String, String> = url.query_pairs().into_owned().collect();
        if method == "POST" && !body.starts_with('{') {
            // Form bodies (token endpoints) read like a query.
            query.extend(url::form_urlencoded::parse(body.as_bytes()).into_owned());
        }
        let headers: HashMap<String, String> = headers
            .into_iter()
            .map(|(key, value)| (key.to_ascii_lowercase(), value.trim().to_owned()))
            .collect();
        Some(Self {
            method: method.to_owned(),
            path: url.path().to_owned(),
            query,
            authorization: headers.get("authorization").cloned(),
            headers,
            body,
            body_len,
        })
    }

    /// The `Authorization: Bearer` token; empty without one.
    pub(crate) fn bearer(&self) -> &str {
        self.authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("")
    }

    /// The browser's step at the platform, where the user grants access.
    pub fn is_authorize(&self) -> bool {
        self.path.ends_with("/authorize")
    }
}

/// The status and body to answer with; `None`: drop the connection unanswered; status 0:
/// never answer.
pub type Answer = Option<(u16, Value)>;

/// Meta's containers (Instagram's, Threads'): id -> (body, status).
pub type Containers = HashMap<String, (Value, String)>;

/// The media a Meta container of `body` carries, in order: its own address, or (a
/// `CAROUSEL`'s) its `children`'s, each a container made with `is_carousel_item`, from 2 to
/// `most` of them; else the refusal a Graph API gives.
pub(crate) fn container_media(
    containers: &Containers,
    body: &Value,
    most: usize,
) -> Result<Vec<String>, Answer> {
    let own = |body: &Value| -> Vec<String> {
        ["image_url", "video_url"]
            .iter()
            .filter_map(|field| body[field].as_str().map(str::to_owned))
            .collect()
    };
    if body["media_type"] != "CAROUSEL" {
        return Ok(own(body));
    }
    let children: Vec<&str> = body["children"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .filter(|id| !id.is_empty())
        .collect();
    if children.len() < 2 || children.len() > most {
        let message = format!(
            "a carousel takes 2 to {most} children; it named {}",
            children.len()
        );
        return Err(graph_error(400, 100, &message));
    }
    let mut media = Vec::new();
    for child in children {
        match containers.get(child) {
            Some((item, _)) if item["is_carousel_item"] == true => media.extend(own(item)),
            _ => {
                return Err(graph_error(
                    400,
                    100,
                    "a child is not a carousel item container",
                ));
            }
        }
    }
    Ok(media)
}

/// What became of a comment asked of a fake.
pub(crate) enum Comment {
    /// Refused, as the tests asked (`refuse_comment`): nothing applied.
    Refused,
    /// Applied, and never answered: the connection dropped (`drop_after_comment`, `None`),
    /// or silent for as long as the client waits (`hang_after_comment`).
    Unanswered(Answer),
    /// Applied: its id.
    Made(String),
}

/// A comment under the post `post_id` of `platform` (its text `text`), kept unless the
/// tests ask it refused.
pub(crate) fn comment(
    state: &mut State,
    platform: &'static str,
    post_id: &str,
    text: &str,
) -> Comment {
    if std::mem::take(&mut state.refuse_comment) {
        return Comment::Refused;
    }
    let id = format!("{platform}-comment-{}", state.comments.len() + 1);
    state.comments.push(Commented {
        platform,
        post_id: post_id.to_owned(),
        id: id.clone(),
        text: text.to_owned(),
    });
    if std::mem::take(&mut state.drop_after_comment) {
        return Comment::Unanswered(None);
    }
    if std::mem::take(&mut state.hang_after_comment) {
        return Comment::Unanswered(Some((0, Value::Null)));
    }
    Comment::Made(id)
}

/// A Graph API's answer to a comment: `{id}`, or its refusal.
pub(crate) fn graph_comment(
    state: &mut State,
    platform: &'static str,
    post_id: &str,
    text: &str,
) -> Answer {
    match comment(state, platform, post_id, text) {
        Comment::Refused => graph_error(400, 100, "(#100) Comments are turned off for this post"),
        Comment::Unanswered(answer) => answer,
        Comment::Made(id) => Some((200, serde_json::json!({ "id": id }))),
    }
}

/// The platforms' answer to `call`: the browser's authorize step, or the fake of the
/// platform named by the path's first segment, given the call's path under it.
pub fn route(state: &mut State, call: &Call) -> Answer {
    if call.is_authorize() {
        return authorize(state, call);
    }
    let rest = call.path.strip_prefix('/').unwrap_or(&call.path);
    let (name, under) = rest.split_once('/').map_or((rest, ""), |(n, u)| (n, u));
    let Some(platform) = crate::platforms::named(name) else {
        return Some((
            404,
            serde_json::json!({ "error": "not_found",
                "error_description": format!("no platform is served at /{name}") }),
        ));
    };
    let call = Call {
        path: format!("/{under}"),
        ..call.clone()
    };
    (platform.fake)(state, &call)
}

/// The user grants access at once: back to the app's redirect URI with a code.
fn authorize(state: &mut State, call: &Call) -> Answer {
    let back = call
        .query
        .get("redirect_uri")
        .and_then(|uri| url::Url::parse(uri).ok())
        .filter(|uri| ["http", "https"].contains(&uri.scheme()));
    let (Some(mut back), Some(oauth_state)) = (back, call.query.get("state")) else {
        return Some((
            400,
            serde_json::json!({ "error": "invalid_request",
                "error_description": "redirect_uri and state are required" }),
        ));
    };
    back.query_pairs_mut()
        .append_pair("code", "good-code")
        .append_pair("state", oauth_state);
    state
        .reply_headers
        .push(("location".into(), back.to_string()));
    Some((302, Value::Null))
}
