//! The platforms' fakes (`almanac_publishing::sandbox`, the implementation `PLATFORM_SANDBOX`
//! serves too) on a server of their own, recording every call.
//!
//! Like the fake AI it speaks HTTP/1.1 over TCP itself, so that it can take a request, apply
//! it, and drop the connection without an answer, as a lost answer looks to a client; and
//! it fetches the media a publishing call names, as the platforms do.

pub use almanac_publishing::sandbox::{
    Call, IG_USER, LI_MEMBER, LI_PAGE, Posted, Pulled, State, TIKTOK_OPEN_ID, TikTokOutcome,
};

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::{
    io::AsyncWriteExt,
    net::{TcpListener, TcpStream},
};

/// An app password as Bluesky issues them (four groups of four), which the Bluesky-like
/// fakes (and the API's sandbox) take.
pub const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";

#[derive(Clone)]
pub struct FakePlatforms {
    port: u16,
    pub state: Arc<Mutex<State>>,
    gate: Arc<Mutex<Option<Gate>>>,
}

/// The next call whose path ends with `suffix` waits, once it arrived (`reached`), until
/// the test lets it go on (`release`).
struct Gate {
    suffix: String,
    reached: tokio::sync::oneshot::Sender<()>,
    release: tokio::sync::oneshot::Receiver<()>,
}

/// A call held by [`FakePlatforms::hold_next`].
pub struct Held {
    reached: tokio::sync::oneshot::Receiver<()>,
    release: tokio::sync::oneshot::Sender<()>,
}

impl Held {
    /// Waits until the call arrived (it is not answered yet).
    pub async fn reached(&mut self) {
        (&mut self.reached).await.expect("the held call arrives");
    }

    /// Lets the call go on.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

impl FakePlatforms {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::new(&format!("http://127.0.0.1:{port}"))));
        let gate = Arc::new(Mutex::new(None));
        let (shared, gates) = (state.clone(), gate.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone(), gates.clone()));
            }
        });
        Self { port, state, gate }
    }

    /// Holds the next call whose path ends with `suffix` before it is applied, until
    /// released: a step of a publish caught in the middle.
    pub fn hold_next(&self, suffix: &str) -> Held {
        let (reached_tx, reached) = tokio::sync::oneshot::channel();
        let (release, release_rx) = tokio::sync::oneshot::channel();
        *self.gate.lock().unwrap() = Some(Gate {
            suffix: suffix.to_owned(),
            reached: reached_tx,
            release: release_rx,
        });
        Held { reached, release }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The settings that point the app at this server, read from the registry: each
    /// registered platform under its name, at its real addresses' paths (as `PLATFORM_SANDBOX`
    /// points them at the API's sandbox, `Hosts::served`), and an OAuth platform's app
    /// credentials `<name>-client` and `<name>-secret`. Testnet (the `sandbox` build's own
    /// platform) is among them, used where `TESTNET_ENABLED`.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let base = self.base_url();
        let mut env = Vec::new();
        for registered in almanac_publishing::platforms::BUILT_IN {
            let hosts = registered.hosts;
            let [api, _, token] = hosts.real;
            // A variable's name is made from the platform's, and the options hold names
            // for the test's life: a few bytes each, leaked.
            let mut set = |suffix: &str, value: String| {
                env.push((&*hosts.var(suffix).leak(), value));
            };
            set("API_BASE_URL", hosts.served(Some(&base), api));
            let (id, secret) = hosts.credentials;
            if id.is_empty() {
                continue;
            }
            set("AUTHORIZE_URL", format!("{base}/{}/authorize", hosts.name));
            if !token.is_empty() {
                set("TOKEN_URL", hosts.served(Some(&base), token));
            }
            env.push((id, format!("{}-client", hosts.name)));
            env.push((secret, format!("{}-secret", hosts.name)));
        }
        env
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
                        || (c.method == "POST" && c.path == "/linkedin/rest/posts")
                        || c.path.ends_with("/com.atproto.repo.createRecord")
                        || c.path.ends_with("/threads_publish")
                        || (c.method == "POST" && c.path.ends_with("/threads"))
                        || (c.method == "POST" && c.path.starts_with("/facebook/"))
                        || (c.method == "PUT"
                            && c.path.starts_with("/youtube/upload/")
                            && !c.headers.contains_key("content-range"))
                })
                .count()
        })
    }

    pub fn all_calls(&self) -> Vec<Call> {
        self.with(|s| s.calls.clone())
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>, gate: Arc<Mutex<Option<Gate>>>) {
    let Some(request) = almanac_tests::fake_http::read_request(&mut stream, &mut Vec::new()).await
    else {
        return;
    };
    let (method, target) = request.line();
    let headers = request
        .head
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.to_owned(), value.to_owned()));
    let Some(call) = Call::read(method, target, headers, &request.body, request.body.len()) else {
        return;
    };
    let held = {
        let mut gate = gate.lock().unwrap();
        match gate.as_ref() {
            Some(g) if call.path.ends_with(&g.suffix) => gate.take(),
            _ => None,
        }
    };
    if let Some(held) = held {
        let _ = held.reached.send(());
        let _ = held.release.await;
    }
    let answer_after = if call.is_authorize() {
        // The browser's step: answered at once, never counted.
        None
    } else {
        pull_media(&call, &state).await;
        let mut state = state.lock().unwrap();
        state.in_flight += 1;
        state.most_in_flight = state.most_in_flight.max(state.in_flight);
        Some(state.answer_after)
    };
    if let Some(Some(after)) = answer_after {
        tokio::time::sleep(after).await;
    }
    let (answer, headers) = {
        let mut state = state.lock().unwrap();
        if answer_after.is_some() {
            state.in_flight -= 1;
        }
        state.calls.push(call.clone());
        let answer = almanac_publishing::sandbox::route(&mut state, &call);
        (answer, state.take_reply_headers())
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
        almanac_publishing::platforms::tiktok::fake::init_media(&body)
    } else if call.method == "POST"
        && (call.path.ends_with("/media") || call.path.ends_with("/threads"))
        && !call.path.starts_with("/linkedin/")
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
