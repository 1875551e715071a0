//! A local OpenAI-compatible chat-completions server with scripted behaviour.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use poem::{
    EndpointExt, Response, Route, Server, handler,
    http::StatusCode,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Json},
};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub enum Behaviour {
    /// A valid completion with three flashcards.
    Ok,
    /// Answer with this HTTP status.
    Status(u16),
    /// Wait, then answer like `Ok`.
    Delay(Duration),
    /// Never answer.
    Hang,
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
    requests: Mutex<Vec<Value>>,
}

impl FakeAi {
    /// Starts the server; `script` is used in order, then `default` for every later call.
    pub async fn start(script: Vec<Behaviour>, default: Behaviour) -> Self {
        let inner = Arc::new(Inner {
            script: Mutex::new(script.into()),
            default: Mutex::new(default),
            calls: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
        });
        let acceptor = TcpListener::bind("127.0.0.1:0")
            .into_acceptor()
            .await
            .unwrap();
        let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
        let app = Route::new()
            .at("/v1/chat/completions", post(completions))
            .data(inner.clone());
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
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

#[handler]
async fn completions(inner: Data<&Arc<Inner>>, body: Json<Value>) -> Response {
    inner.calls.fetch_add(1, Ordering::SeqCst);
    inner.requests.lock().unwrap().push(body.0);
    let behaviour = {
        let next = inner.script.lock().unwrap().pop_front();
        next.unwrap_or_else(|| inner.default.lock().unwrap().clone())
    };
    match behaviour {
        Behaviour::Ok => {}
        Behaviour::Status(code) => {
            return Response::builder()
                .status(StatusCode::from_u16(code).unwrap())
                .body(format!(
                    "{{\"error\": {{\"message\": \"fake failure {code}\"}}}}"
                ));
        }
        Behaviour::Delay(pause) => tokio::time::sleep(pause).await,
        Behaviour::Hang => std::future::pending::<()>().await,
    }
    Response::builder()
        .content_type("application/json")
        .body(completion().to_string())
}
