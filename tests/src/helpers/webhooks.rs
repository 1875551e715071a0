//! Webhooks in the tests: a local receiver whose answers a test sets, and the endpoint and
//! deliveries of a user, as the API shows them (`webhook_deliveries`, `channel_warnings`,
//! the web app's developer flows).

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, Ordering},
    },
    time::Duration,
};

use almanac_shared::crypto::TokenKey;
use almanac_tests::fake_http::{Request, read_request};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{TestApp, TestOptions, eventually, spawn_app_with};

/// Plenty for any delivery here: the retry schedule is shrunk ten thousand times.
pub const WAIT: Duration = Duration::from_secs(60);

/// A receiver on a local port answering every request with the status it is set to (0:
/// it never answers), keeping each request with the status it got.
#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    status: Arc<AtomicU16>,
    received: Arc<Mutex<Vec<(Request, u16)>>>,
}

impl Receiver {
    pub async fn start(status: u16) -> Self {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            url: format!("http://{}/hooks/in", listener.local_addr().unwrap()),
            status: Arc::new(AtomicU16::new(status)),
            received: Arc::default(),
        };
        let shared = receiver.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    while let Some(request) = read_request(&mut socket, &mut buffer).await {
                        let status = shared.status.load(Ordering::SeqCst);
                        shared.received.lock().unwrap().push((request, status));
                        if status == 0 {
                            std::future::pending::<()>().await;
                        }
                        let answer = format!(
                            "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: 8\r\n\r\nanswered"
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        receiver
    }

    pub fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<(Request, u16)> {
        self.received.lock().unwrap().clone()
    }

    /// The bodies of the requests answered 2xx, by `webhook-id`.
    pub fn delivered(&self) -> HashMap<String, Vec<Value>> {
        let mut delivered: HashMap<String, Vec<Value>> = HashMap::new();
        for (request, status) in self.requests() {
            if (200..300).contains(&status) {
                delivered
                    .entry(request.header("webhook-id").unwrap())
                    .or_default()
                    .push(serde_json::from_slice(&request.body).unwrap());
            }
        }
        delivered
    }
}

/// An app that delivers to local receivers, quickly: private networks allowed (the
/// receivers are on 127.0.0.1), the retry schedule shrunk, attempts bounded at 1 s; with
/// `env` besides (which may change these: it comes after them).
pub async fn app_with(env: Vec<(&'static str, String)>) -> TestApp {
    let mut defaults = vec![
        ("TOKEN_ENCRYPTION_KEY", TokenKey::generate()),
        ("FETCH_ALLOW_PRIVATE_NETWORKS", "true".into()),
        ("WEBHOOK_RETRY_SCALE", "0.0001".into()),
        ("WEBHOOK_TIMEOUT_MS", "1000".into()),
    ];
    defaults.extend(env);
    let env = defaults;
    spawn_app_with(TestOptions {
        env,
        ..TestOptions::default()
    })
    .await
}

/// Adds an endpoint; its id and secret.
pub async fn endpoint(app: &TestApp, user: Uuid, url: &str, events: &[&str]) -> (Uuid, String) {
    let (status, created) = app
        .send_json(
            Method::POST,
            user,
            "/v1/webhooks",
            &json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    (
        created["data"]["id"].as_str().unwrap().parse().unwrap(),
        created["data"]["secret"].as_str().unwrap().to_owned(),
    )
}

/// The endpoint's deliveries, newest first.
pub async fn deliveries(app: &TestApp, user: Uuid, endpoint: Uuid) -> Vec<Value> {
    let (status, page) = app
        .get_json(
            user,
            &format!("/v1/webhooks/{endpoint}/deliveries?limit=100"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["data"]["items"].as_array().unwrap().clone()
}

/// Waits until every delivery of the endpoint is `status`; returns them.
pub async fn all_deliveries(
    app: &TestApp,
    user: Uuid,
    endpoint: Uuid,
    count: usize,
    status: &str,
) -> Vec<Value> {
    eventually(WAIT, &format!("{count} deliveries {status}"), || async {
        let items = deliveries(app, user, endpoint).await;
        (items.len() == count && items.iter().all(|d| d["status"] == status)).then_some(items)
    })
    .await
}
