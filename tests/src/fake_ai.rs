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

use crate::fake_http::{Request, read_request};

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
    /// Answer with this text as the model's content.
    Says(String),
    /// Stream the answer up to the end of its `n`th item, then close the connection.
    CutAfter(usize),
    /// Stream the answer up to the end of its `n`th item, then write nothing more.
    StallAfter(usize),
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
    /// Streamed answers are written at this rate (0: at once).
    tokens_per_sec: AtomicUsize,
    /// Requests asking for `response_format` are refused with a 400 that says so.
    refuse_format: std::sync::atomic::AtomicBool,
    /// 400s sent for `response_format`.
    format_refusals: AtomicUsize,
    /// Answers written to their end.
    completed: AtomicUsize,
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
            tokens_per_sec: AtomicUsize::new(0),
            refuse_format: std::sync::atomic::AtomicBool::new(false),
            format_refusals: AtomicUsize::new(0),
            completed: AtomicUsize::new(0),
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
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.calls() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{n} calls to reach the provider within 10 s (got {})",
                self.calls()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Requests the client aborted (closed the connection) before they were answered.
    pub fn aborted(&self) -> usize {
        self.inner.aborted.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Value> {
        self.inner.requests.lock().unwrap().clone()
    }

    /// Writes answers at `rate` tokens (of four characters) a second; 0: at once. A
    /// streamed answer comes token by token; a whole one when its last token is written.
    pub fn set_token_rate(&self, rate: usize) {
        self.inner.tokens_per_sec.store(rate, Ordering::SeqCst);
    }

    /// From now on, refuses (400) requests that ask for `response_format`.
    pub fn refuse_response_format(&self) {
        self.inner.refuse_format.store(true, Ordering::SeqCst);
    }

    /// Answers written to their end (the last byte sent).
    pub fn completed(&self) -> usize {
        self.inner.completed.load(Ordering::SeqCst)
    }

    /// The 400s sent because of `response_format`.
    pub fn format_refusals(&self) -> usize {
        self.inner.format_refusals.load(Ordering::SeqCst)
    }
}

/// How much of an answer is written.
#[derive(Clone, Copy)]
enum Extent {
    Whole,
    /// Up to the end of the `n`th item, then the connection closes.
    CutAfter(usize),
    /// Up to the end of the `n`th item, then nothing until the client leaves.
    StallAfter(usize),
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

/// Three flashcards about the batch sent: the same questions, answers marked with the
/// batch (a hash of its text), so that two batches' cards are not duplicates of each
/// other while a batch asked again gets the same cards.
fn flashcards(user: &str) -> Value {
    let hash = user.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut completion = completion();
    let content = completion["choices"][0]["message"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut cards: Value = serde_json::from_str(&content).unwrap();
    for card in cards["suggestions"].as_array_mut().unwrap() {
        let back = card["back"].as_str().unwrap().to_owned();
        card["back"] = json!(format!("{back} (batch {:06x})", hash & 0xff_ffff));
    }
    if user.contains("<card_types>") && user.contains("cloze") {
        let mut items = cards["suggestions"].as_array().cloned().unwrap();
        for item in &mut items {
            item["card_type"] = json!("basic");
        }
        items.push(json!({ "card_type": "cloze",
            "front": format!("Leaves need {{{{c1::light}}}}, {{{{c2::water}}}} and {{{{c3::carbon dioxide}}}} ({:06x}).", hash & 0xff_ffff),
            "back": "" }));
        if !user.contains("basic") {
            items.retain(|item| item["card_type"] == "cloze");
        }
        cards["suggestions"] = json!(items);
    }
    completion["choices"][0]["message"]["content"] = json!(cards.to_string());
    completion
}

/// The answer to a request: a synthesis of the documents of a synthesis prompt, or the copy
/// of an organic placement (the offline provider's), calendar entries for every slot of a calendar prompt (titled
/// `Fake post <key>`), three flashcards otherwise.
fn answer(request: &Value) -> Value {
    let mut completion = answer_for(request);
    if let Some(model) = request["model"].as_str() {
        completion["model"] = json!(model);
    }
    completion
}

fn answer_for(request: &Value) -> Value {
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
        return flashcards(user);
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
    while let Some(Request { body, .. }) = read_request(&mut stream, &mut buffer).await {
        let call = inner.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        inner.requests.lock().unwrap().push(request.clone());
        let behaviour = {
            let next = inner.script.lock().unwrap().pop_front();
            next.unwrap_or_else(|| inner.default.lock().unwrap().clone())
        };
        let streamed = request["stream"] == json!(true);
        if request.get("response_format").is_some() && inner.refuse_format.load(Ordering::SeqCst) {
            inner.format_refusals.fetch_add(1, Ordering::SeqCst);
            let body = "{\"error\": {\"message\": \"response_format json_schema is not supported by this model\", \"code\": 400}}";
            if write_json(&mut stream, call, 400, body).await.is_err() {
                return;
            }
            continue;
        }
        let mut extent = Extent::Whole;
        let (status, body) = match behaviour {
            Behaviour::Ok => (200, answer(&request)),
            Behaviour::Says(content) => {
                let mut completion = answer(&request);
                completion["choices"][0]["message"]["content"] = json!(content);
                (200, completion)
            }
            Behaviour::CutAfter(n) => {
                extent = Extent::CutAfter(n);
                (200, answer(&request))
            }
            Behaviour::StallAfter(n) => {
                extent = Extent::StallAfter(n);
                (200, answer(&request))
            }
            Behaviour::Status(code) => (
                code,
                json!({"error": {"message": format!("fake failure {code}")}}),
            ),
            Behaviour::Body(code, body) => {
                if write_json(&mut stream, call, code, &body).await.is_err() {
                    return;
                }
                continue;
            }
            Behaviour::Delay(pause) => {
                tokio::select! {
                    () = tokio::time::sleep(pause) => (200, answer(&request)),
                    () = closed(&mut stream) => {
                        inner.aborted.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            }
            Behaviour::Gate(gate) => {
                let mut open = gate.subscribe();
                tokio::select! {
                    _ = open.wait_for(|open| *open) => (200, answer(&request)),
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
        let rate = inner.tokens_per_sec.load(Ordering::SeqCst);
        if status != 200 || !streamed {
            if status == 200 && rate > 0 {
                let tokens = body["choices"][0]["message"]["content"]
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .count()
                    .div_ceil(4);
                let written = Duration::from_secs_f64(tokens as f64 / rate as f64);
                tokio::select! {
                    () = tokio::time::sleep(written) => {}
                    () = closed(&mut stream) => {
                        inner.aborted.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            }
            if write_json(&mut stream, call, status, &body.to_string())
                .await
                .is_err()
            {
                return;
            }
            if status == 200 {
                inner.completed.fetch_add(1, Ordering::SeqCst);
            }
            continue;
        }
        match write_stream(&mut stream, call, &body, extent, rate).await {
            Ok(true) => {
                inner.completed.fetch_add(1, Ordering::SeqCst);
            }
            Ok(false) => {
                if let Extent::StallAfter(_) = extent {
                    closed(&mut stream).await;
                    inner.aborted.fetch_add(1, Ordering::SeqCst);
                }
                return;
            }
            Err(_) => return,
        }
    }
}

/// Writes a JSON answer. Like real providers, every answer names its request.
async fn write_json(
    stream: &mut TcpStream,
    call: usize,
    status: u16,
    body: &str,
) -> std::io::Result<()> {
    let response = format!(
        "HTTP/1.1 {status} Fake\r\ncontent-type: application/json\r\nx-request-id: req-fake-{call}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(response.as_bytes()).await
}

/// Streams `completion` as server-sent chunks of one token (four characters) each, at
/// `rate` tokens a second (0: at once), with its usage last; `Ok(false)` when the
/// extent stopped it short.
async fn write_stream(
    stream: &mut TcpStream,
    call: usize,
    completion: &Value,
    extent: Extent,
    rate: usize,
) -> std::io::Result<bool> {
    let content = completion["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default();
    let end = match extent {
        Extent::Whole => content.len(),
        Extent::CutAfter(n) | Extent::StallAfter(n) => item_end(content, n),
    };
    let head = format!(
        "HTTP/1.1 200 Fake\r\ncontent-type: text/event-stream\r\nx-request-id: req-fake-{call}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    let model = completion["model"].clone();
    let chars: Vec<char> = content[..end].chars().collect();
    let started = tokio::time::Instant::now();
    let mut pending = String::new();
    for (i, token) in chars.chunks(4).enumerate() {
        let token: String = token.iter().collect();
        let chunk = json!({ "id": completion["id"], "model": model,
            "choices": [{ "index": 0, "delta": { "content": token } }] });
        pending.push_str(&format!("data: {chunk}\n\n"));
        if rate > 0 {
            let due = started + Duration::from_secs_f64((i + 1) as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
            write_chunk(stream, &std::mem::take(&mut pending)).await?;
        }
    }
    if !pending.is_empty() {
        write_chunk(stream, &pending).await?;
    }
    if !matches!(extent, Extent::Whole) {
        stream.flush().await?;
        return Ok(false);
    }
    let last = json!({ "id": completion["id"], "model": model, "choices": [],
        "usage": completion["usage"] });
    write_chunk(stream, &format!("data: {last}\n\ndata: [DONE]\n\n")).await?;
    stream.write_all(b"0\r\n\r\n").await?;
    Ok(true)
}

async fn write_chunk(stream: &mut TcpStream, data: &str) -> std::io::Result<()> {
    stream
        .write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes())
        .await
}

/// Where the `n`th item of an answer ends (the whole answer when it has fewer).
fn item_end(content: &str, n: usize) -> usize {
    let mut parser = almanac_shared::ai::items::ItemParser::new();
    let mut items = 0;
    for (at, c) in content.char_indices() {
        items += parser.feed(&c.to_string()).len();
        if items >= n {
            return at + c.len_utf8();
        }
    }
    content.len()
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
