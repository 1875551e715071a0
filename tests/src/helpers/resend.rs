//! A local stand-in for Resend's `POST /emails` (`docs/platforms.md`): answers each request with
//! the next scripted status (then 200 `{id}`), and records every request's
//! `Idempotency-Key` and body. One emailed key is "sent" once, whatever it is asked.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tokio::{io::AsyncWriteExt, net::TcpListener};

/// One request Resend received.
#[derive(Debug, Clone)]
pub struct Received {
    pub idempotency_key: Option<String>,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    script: Vec<u16>,
    received: Vec<Received>,
}

#[derive(Clone)]
pub struct FakeResend {
    port: u16,
    state: Arc<Mutex<State>>,
}

impl FakeResend {
    /// Answers the first requests with `script`'s statuses, the rest with 200.
    pub async fn start(script: Vec<u16>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            script,
            received: Vec::new(),
        }));
        let served = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, served.clone()));
            }
        });
        Self { port, state }
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

async fn serve(mut stream: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let Some(request) = almanac_tests::fake_http::read_request(&mut stream, &mut Vec::new()).await
    else {
        return;
    };
    let received = Received {
        idempotency_key: request.header("idempotency-key"),
        authorization: request.header("authorization"),
        body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
    };
    let status = {
        let mut state = state.lock().unwrap();
        state.received.push(received);
        if state.script.is_empty() {
            200
        } else {
            state.script.remove(0)
        }
    };
    let body = if status == 200 {
        json!({ "id": format!("re_{}", uuid::Uuid::new_v4().simple()) })
    } else {
        json!({ "name": "application_error", "message": "try again" })
    }
    .to_string();
    let response = format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
