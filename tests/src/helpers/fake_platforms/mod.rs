//! Local TikTok, Instagram and LinkedIn servers following `docs/platforms.md`, recording
//! every call.
//!
//! One server answers all three: TikTok's paths start with `/v2/`, LinkedIn's with `/li/`,
//! the rest is Instagram's Graph API (and its token endpoints). Like the fake AI it speaks HTTP/1.1 over TCP
//! itself, so that it can take a request, apply it, and drop the connection without an
//! answer, as a lost answer looks to a client.

mod instagram;
pub mod linkedin;
mod tiktok;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
};

use serde_json::Value;
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
};

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

/// A recorded call.
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
}

#[derive(Debug)]
pub struct State {
    pub calls: Vec<Call>,
    pub posts: Vec<Posted>,
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
    /// TikTok init calls answered 429 `rate_limit_exceeded` before one is taken.
    pub rate_limited: usize,
    pub quota_usage: i64,
    pub quota_total: i64,
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
    /// Media fetched from Almanac's signed addresses.
    pub pulled: Vec<Pulled>,
    /// Headers of the answer being written (set by a route, taken by `serve`).
    reply_headers: Vec<(String, String)>,
    base_url: String,
    issued: usize,
}

#[derive(Clone)]
pub struct FakePlatforms {
    port: u16,
    pub state: Arc<Mutex<State>>,
}

impl FakePlatforms {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            calls: Vec::new(),
            posts: Vec::new(),
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
            rate_limited: 0,
            quota_usage: 0,
            quota_total: 50,
            containers: HashMap::new(),
            li_posts: Vec::new(),
            li_images: HashMap::new(),
            li_pages: linkedin::default_pages(),
            li_refresh_tokens: false,
            li_rate_limited: 0,
            reply_headers: Vec::new(),
            base_url: String::new(),
            issued: 0,
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        state.lock().unwrap().base_url = format!("http://127.0.0.1:{port}");
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Self { port, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The settings that point the app at this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("TIKTOK_API_BASE_URL", self.base_url()),
            ("INSTAGRAM_API_BASE_URL", self.base_url()),
            (
                "TIKTOK_AUTHORIZE_URL",
                format!("{}/tiktok/authorize", self.base_url()),
            ),
            (
                "INSTAGRAM_AUTHORIZE_URL",
                format!("{}/instagram/authorize", self.base_url()),
            ),
            (
                "INSTAGRAM_TOKEN_URL",
                format!("{}/oauth/access_token", self.base_url()),
            ),
            ("TIKTOK_CLIENT_KEY", "tt-client".into()),
            ("TIKTOK_CLIENT_SECRET", "tt-secret".into()),
            ("INSTAGRAM_APP_ID", "ig-app".into()),
            ("INSTAGRAM_APP_SECRET", "ig-secret".into()),
            ("LINKEDIN_API_BASE_URL", format!("{}/li", self.base_url())),
            (
                "LINKEDIN_AUTHORIZE_URL",
                format!("{}/li/authorize", self.base_url()),
            ),
            (
                "LINKEDIN_TOKEN_URL",
                format!("{}/li/oauth/v2/accessToken", self.base_url()),
            ),
            ("LINKEDIN_CLIENT_ID", "li-client".into()),
            ("LINKEDIN_CLIENT_SECRET", "li-secret".into()),
        ]
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    pub fn posts(&self) -> Vec<Posted> {
        self.with(|s| s.posts.clone())
    }

    /// Calls whose path ends with `suffix`.
    pub fn calls_to(&self, suffix: &str) -> Vec<Call> {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|c| c.path.ends_with(suffix))
                .cloned()
                .collect()
        })
    }

    /// Calls that publish or create content (not read-only).
    pub fn publishing_calls(&self) -> usize {
        self.with(|s| {
            s.calls
                .iter()
                .filter(|c| {
                    c.path.ends_with("/init/")
                        || c.path.ends_with("/media_publish")
                        || (c.method == "POST" && c.path.ends_with("/media"))
                        || (c.method == "POST" && c.path == "/li/rest/posts")
                })
                .count()
        })
    }

    pub fn all_calls(&self) -> Vec<Call> {
        self.with(|s| s.calls.clone())
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let Some(request) = almanac_tests::fake_http::read_request(&mut stream, &mut Vec::new()).await
    else {
        return;
    };
    let body = String::from_utf8_lossy(&request.body).into_owned();
    let (method, target) = request.line();
    let (method, target) = (method.to_owned(), target.to_owned());
    let authorization = request.header("authorization");
    let url = url::Url::parse(&format!("http://fake{target}")).unwrap();
    let mut query: HashMap<String, String> = url.query_pairs().into_owned().collect();
    if method == "POST" && !body.starts_with('{') {
        // Form bodies (token endpoints) read like a query.
        query.extend(url::form_urlencoded::parse(body.as_bytes()).into_owned());
    }
    let headers = request
        .head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let call = Call {
        method,
        path: url.path().to_owned(),
        query,
        authorization,
        headers,
        body,
        body_len: request.body.len(),
    };
    if call.path.ends_with("/authorize") {
        // The user grants access at once: back to the app's redirect URI with a code.
        state.lock().unwrap().calls.push(call.clone());
        let mut back = url::Url::parse(&call.query["redirect_uri"]).unwrap();
        back.query_pairs_mut()
            .append_pair("code", "good-code")
            .append_pair("state", &call.query["state"]);
        let response = format!(
            "HTTP/1.1 302 Found\r\nlocation: {back}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        let _ = stream.write_all(response.as_bytes()).await;
        let _ = stream.shutdown().await;
        return;
    }
    pull_media(&call, &state).await;
    let answer_after = {
        let mut state = state.lock().unwrap();
        state.in_flight += 1;
        state.most_in_flight = state.most_in_flight.max(state.in_flight);
        state.answer_after
    };
    if let Some(after) = answer_after {
        tokio::time::sleep(after).await;
    }
    let (answer, headers) = {
        let mut state = state.lock().unwrap();
        state.in_flight -= 1;
        state.calls.push(call.clone());
        let answer = route(&mut state, &call);
        (answer, std::mem::take(&mut state.reply_headers))
    };
    let Some((status, json)) = answer else {
        // Applied, then the connection is dropped without an answer.
        drop(stream);
        return;
    };
    if status == 0 {
        // Applied, then silence for as long as the client waits.
        std::future::pending::<()>().await;
    }
    let body = if json.is_null() {
        String::new()
    } else {
        json.to_string()
    };
    let extra: String = headers
        .iter()
        .map(|(key, value)| format!("{key}: {value}\r\n"))
        .collect();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The media addresses a publishing call names that Almanac serves (`/media/{token}` on a
/// local address), fetched as the platform would before it answers; other addresses (the
/// tests' `cdn.example.com`) are taken on trust.
async fn pull_media(call: &Call, state: &Arc<Mutex<State>>) {
    let body: Value = serde_json::from_str(&call.body).unwrap_or(Value::Null);
    let named: Vec<String> = if call.method == "POST" && call.path.ends_with("/init/") {
        let info = &body["source_info"];
        info["video_url"]
            .as_str()
            .into_iter()
            .chain(
                info["photo_images"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str),
            )
            .map(str::to_owned)
            .collect()
    } else if call.method == "POST"
        && call.path.ends_with("/media")
        && !call.path.starts_with("/li/")
    {
        ["image_url", "video_url"]
            .iter()
            .filter_map(|field| body[field].as_str().map(str::to_owned))
            .collect()
    } else {
        Vec::new()
    };
    for url in named
        .into_iter()
        .filter(|u| u.starts_with("http://127.0.0.1:") && u.contains("/media/"))
    {
        let response = reqwest::get(&url).await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let bytes = response.bytes().await.unwrap_or_default().to_vec();
        state.lock().unwrap().pulled.push(Pulled {
            url,
            status,
            content_type,
            bytes,
        });
    }
}

/// The status and body to answer with; `None`: drop the connection unanswered; status 0:
/// never answer.
type Answer = Option<(u16, Value)>;

fn route(state: &mut State, call: &Call) -> Answer {
    if call.path.starts_with("/li/") {
        linkedin::route(state, call)
    } else if call.path.starts_with("/v2/") {
        tiktok::route(state, call)
    } else {
        instagram::route(state, call)
    }
}
