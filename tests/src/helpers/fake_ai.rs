//! A local OpenAI-compatible chat-completions server with scripted behaviour.
//!
//! It speaks HTTP/1.1 over plain TCP itself rather than through a web framework, so that
//! it sees the moment a client abandons a request: the connection closes while the
//! answer is pending (HTTP servers keep running a handler whose client left).

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

#[derive(Debug, Clone)]
pub enum Behaviour {
    /// A valid completion with three flashcards.
    Ok,
    /// Answer with this HTTP status.
    Status(u16),
    /// Answer with this HTTP status and body.
    Body(u16, String),
    /// Wait, then answer like `Ok`.
    Delay(Duration),
    /// Never answer.
    Hang,
    /// Answer like `Ok` once the gate holds `true` (`gate.send(true)`): a stream that is
    /// provably still running until the test says so.
    Gate(Arc<tokio::sync::watch::Sender<bool>>),
}

#[derive(Clone)]
pub struct FakeAi {
    port: u16,
    inner: Arc<Inner>,
}

struct Inner {
    script: Mutex<VecDeque<Behaviour>>,
    default: Mutex<Behaviour>,
    calls: AtomicUsize,
    /// Requests whose client went away before the answer.
    aborted: AtomicUsize,
    requests: Mutex<Vec<Value>>,
}

impl FakeAi {
    /// Starts the server; `script` is used in order, then `default` for every later call.
    pub async fn start(script: Vec<Behaviour>, default: Behaviour) -> Self {
        let inner = Arc::new(Inner {
            script: Mutex::new(script.into()),
            default: Mutex::new(default),
            calls: AtomicUsize::new(0),
            aborted: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = inner.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Self { port, inner }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    pub fn calls(&self) -> usize {
        self.inner.calls.load(Ordering::SeqCst)
    }

    /// Waits until the provider has received `n` calls (a job is inside its AI call).
    pub async fn wait_for_calls(&self, n: usize) {
        super::eventually(
            Duration::from_secs(10),
            "calls to reach the provider",
            || async { (self.calls() >= n).then_some(()) },
        )
        .await;
    }

    /// Requests the client aborted (closed the connection) before they were answered.
    pub fn aborted(&self) -> usize {
        self.inner.aborted.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Value> {
        self.inner.requests.lock().unwrap().clone()
    }
}

pub fn completion() -> Value {
    let cards = json!({ "suggestions": [
        { "front": "What does chlorophyll absorb?", "back": "Mostly blue and red light." },
        { "front": "What does the Calvin cycle do?", "back": "It fixes carbon dioxide into sugars." },
        { "front": "What are stomata for?", "back": "They let gases in and out of the leaf." }
    ]});
    json!({
        "id": "fake-completion-1",
        "model": "fake-model-1",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": cards.to_string() } }],
        "usage": { "prompt_tokens": 120, "completion_tokens": 45, "cost": 0.00123 }
    })
}

/// The answer to a request: a synthesis of the documents of a synthesis prompt, or the copy
/// of an organic placement (the offline provider's), calendar entries for every slot of a calendar prompt (titled
/// `Fake post <key>`), three flashcards otherwise.
fn answer(request: &Value) -> Value {
    let user = request["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    if user.contains("<documents>") {
        let mut completion = completion();
        completion["choices"][0]["message"]["content"] =
            json!(almanac_shared::domain::synthesis::offline_answer(user));
        return completion;
    }
    if user.contains("<placement>") {
        let mut completion = completion();
        completion["choices"][0]["message"]["content"] = json!(
            almanac_shared::domain::organic::offline::offline_answer(user)
        );
        return completion;
    }
    let Some(slots) = user
        .split_once("<slots>")
        .and_then(|(_, rest)| rest.split_once("</slots>"))
        .and_then(|(json, _)| serde_json::from_str::<Vec<Value>>(json).ok())
    else {
        return completion();
    };
    let entries: Vec<Value> = slots
        .iter()
        .map(|slot| {
            json!({
                "key": slot["key"],
                "title": format!("Fake post {}", slot["key"].as_str().unwrap_or_default()),
                "caption": "A caption, with a comma; and a semicolon.",
                "format": "reel",
                "hashtags": ["#fake", "calendar"],
                "callToAction": "Follow us",
            })
        })
        .collect();
    let mut completion = completion();
    completion["choices"][0]["message"]["content"] =
        json!(json!({ "entries": entries }).to_string());
    completion
}

/// Serves one connection: requests one after another (keep-alive) until it closes.
async fn serve(mut stream: TcpStream, inner: Arc<Inner>) {
    let mut buffer = Vec::new();
    while let Some(body) = read_request(&mut stream, &mut buffer).await {
        let call = inner.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        inner.requests.lock().unwrap().push(request.clone());
        let behaviour = {
            let next = inner.script.lock().unwrap().pop_front();
            next.unwrap_or_else(|| inner.default.lock().unwrap().clone())
        };
        let (status, body) = match behaviour {
            Behaviour::Ok => (200, answer(&request).to_string()),
            Behaviour::Status(code) => (
                code,
                format!("{{\"error\": {{\"message\": \"fake failure {code}\"}}}}"),
            ),
            Behaviour::Body(code, body) => (code, body),
            Behaviour::Delay(pause) => {
                tokio::select! {
                    () = tokio::time::sleep(pause) => (200, answer(&request).to_string()),
                    () = closed(&mut stream) => {
                        inner.aborted.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            }
            Behaviour::Gate(gate) => {
                let mut open = gate.subscribe();
                tokio::select! {
                    _ = open.wait_for(|open| *open) => (200, answer(&request).to_string()),
                    () = closed(&mut stream) => {
                        inner.aborted.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            }
            Behaviour::Hang => {
                closed(&mut stream).await;
                inner.aborted.fetch_add(1, Ordering::SeqCst);
                return;
            }
        };
        // Like real providers, every answer names its request.
        let response = format!(
            "HTTP/1.1 {status} Fake\r\ncontent-type: application/json\r\nx-request-id: req-fake-{call}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Waits until the client closes the connection.
async fn closed(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    while let Ok(n) = stream.read(&mut byte).await {
        if n == 0 {
            return;
        }
    }
}

/// Reads one request; returns its body, or `None` when the connection closed.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(body)
}
