//! The webhook caps, tried from outside: one user's hanging endpoints hold at most their
//! caps' worth of attempts while another user's delivery goes through; tests and
//! redeliveries are rate-limited; an endpoint that timed out gets one attempt at a time.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use almanac_tests::fake_http::read_request;
use reqwest::Method;
use uuid::Uuid;

use crate::helpers::{eventually, webhooks};

/// A receiver that accepts every connection and holds each request until [`Hold::release`];
/// it counts the requests it holds at once, in all and per path (an endpoint each).
#[derive(Clone, Default)]
struct Hold {
    state: Arc<Mutex<Held>>,
    released: Arc<tokio::sync::Notify>,
    open: Arc<std::sync::atomic::AtomicBool>,
}

#[derive(Default)]
struct Held {
    now: HashMap<String, usize>,
    most: HashMap<String, usize>,
    most_in_all: usize,
    received: usize,
}

impl Hold {
    async fn start() -> (Self, String) {
        use tokio::io::AsyncWriteExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hold = Hold::default();
        let shared = hold.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    while let Some(request) = read_request(&mut socket, &mut buffer).await {
                        use tokio::io::AsyncReadExt;
                        let path = request.line().1.to_owned();
                        shared.enter(&path);
                        let released = shared.released.notified();
                        let mut closed = false;
                        if !shared.open.load(std::sync::atomic::Ordering::SeqCst) {
                            // Held until released, or until the sender gives up.
                            let mut byte = [0u8; 1];
                            tokio::select! {
                                () = released => {}
                                _ = socket.read(&mut byte) => closed = true,
                            }
                        }
                        shared.leave(&path);
                        if closed {
                            return;
                        }
                        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (hold, base)
    }

    fn enter(&self, path: &str) {
        let mut held = self.state.lock().unwrap();
        held.received += 1;
        let now = held.now.entry(path.to_owned()).or_default();
        *now += 1;
        let now = *now;
        let most = held.most.entry(path.to_owned()).or_default();
        *most = (*most).max(now);
        let in_all: usize = held.now.values().sum();
        held.most_in_all = held.most_in_all.max(in_all);
    }

    fn leave(&self, path: &str) {
        let mut held = self.state.lock().unwrap();
        *held.now.get_mut(path).unwrap() -= 1;
    }

    /// (held now, most held at once, most held at once by one path, requests received).
    fn counts(&self) -> (usize, usize, usize, usize) {
        let held = self.state.lock().unwrap();
        (
            held.now.values().sum(),
            held.most_in_all,
            held.most.values().copied().max().unwrap_or(0),
            held.received,
        )
    }

    /// Forgets the most held at once, from now on counting from what is held now.
    fn reset_most(&self) {
        let mut held = self.state.lock().unwrap();
        held.most = held.now.clone();
        held.most_in_all = held.now.values().sum();
    }

    fn release(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
        self.released.notify_waiters();
    }
}

/// The outside run, as a test: user A has 20 endpoints on a receiver that accepts and
/// holds every request, and sends 200 tests (the tests' rate limit raised, so that the
/// caps are what is tested); then B's job succeeds. B's `job.succeeded` reaches B's
/// receiver while A's attempts are all still held; A never has more than 8 attempts in
/// flight, nor any endpoint more than 2; once released, every one of A's 200 arrives once.
#[tokio::test]
async fn a_user_whose_endpoints_hang_does_not_delay_another_users_delivery() {
    // The worker has more slots than A's cap (as by default: 32 against 8).
    let app = webhooks::app_with(vec![
        ("WORKER_CONCURRENCY", "16".into()),
        ("WEBHOOK_TEST_RATE_LIMIT", "1000".into()),
        ("WEBHOOK_TIMEOUT_MS", "60000".into()),
        ("WEBHOOK_FIRST_BYTE_MS", "60000".into()),
    ])
    .await;
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    let (hold, base) = Hold::start().await;
    let mut endpoints = Vec::new();
    for n in 0..20 {
        let url = format!("{base}/hooks/{n}");
        endpoints.push(
            webhooks::endpoint(&app, a, &url, &["job.succeeded"])
                .await
                .0,
        );
    }
    let theirs = webhooks::Receiver::start(200).await;
    let (b_endpoint, _) = webhooks::endpoint(&app, b, &theirs.url, &["job.succeeded"]).await;
    for n in 0..200 {
        let endpoint = endpoints[n % endpoints.len()];
        let (status, answer) = app
            .send_empty(Method::POST, a, &format!("/v1/webhooks/{endpoint}/test"))
            .await;
        assert_eq!(status, 202, "{answer}");
    }
    eventually(webhooks::WAIT, "A's first attempts to be held", || async {
        (hold.counts().0 == 8).then_some(())
    })
    .await;
    let job = app.submit(b).await;
    let finished = app.wait_finished(b, job).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    webhooks::all_deliveries(&app, b, b_endpoint, 1, "succeeded").await;
    assert_eq!(theirs.delivered().len(), 1);
    let (held, most, most_by_one, received) = hold.counts();
    assert_eq!(
        (held, received),
        (8, 8),
        "A's attempts all still held, and no more were sent"
    );
    assert!(
        most <= 8 && most_by_one <= 2,
        "{most} at once, {most_by_one} to one endpoint"
    );

    hold.release();
    for endpoint in &endpoints {
        webhooks::all_deliveries(&app, a, *endpoint, 10, "succeeded").await;
    }
    let (held, most, most_by_one, received) = hold.counts();
    assert_eq!((held, received), (0, 200), "each of A's tests sent once");
    assert_eq!(most, 8, "A's cap, and no more");
    assert!(most_by_one <= 2, "{most_by_one} at once to one endpoint");
}

/// At the default rate (10 a minute), a user's 11th test within the window is 429 with
/// `Retry-After`, and sends nothing; a redelivery counts against the same limit.
#[tokio::test]
async fn the_eleventh_test_within_a_minute_is_refused() {
    let app = webhooks::app_with(Vec::new()).await;
    let user = Uuid::now_v7();
    let receiver = webhooks::Receiver::start(200).await;
    let (endpoint, _) = webhooks::endpoint(&app, user, &receiver.url, &["job.succeeded"]).await;
    let path = format!("/v1/webhooks/{endpoint}/test");
    for _ in 0..10 {
        let (status, answer) = app.send_empty(Method::POST, user, &path).await;
        assert_eq!(status, 202, "{answer}");
    }
    let refused = app
        .client
        .post(format!("{}{path}", app.address))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMITED", "{body}");
    let items = webhooks::all_deliveries(&app, user, endpoint, 10, "succeeded").await;
    let delivery = items[0]["id"].as_str().unwrap();
    let (status, answer) = app
        .send_empty(
            Method::POST,
            user,
            &format!("/v1/webhooks/{endpoint}/deliveries/{delivery}/redeliver"),
        )
        .await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(receiver.requests().len(), 10);
}

/// An endpoint whose attempt timed out (no answer within `WEBHOOK_FIRST_BYTE_MS`) gets one
/// attempt at a time until one succeeds; then two again.
#[tokio::test]
async fn an_endpoint_that_timed_out_gets_one_attempt_at_a_time_until_one_succeeds() {
    let app = webhooks::app_with(vec![("WEBHOOK_FIRST_BYTE_MS", "300".into())]).await;
    let user = Uuid::now_v7();
    let (hold, base) = Hold::start().await;
    let (endpoint, _) =
        webhooks::endpoint(&app, user, &format!("{base}/hooks/in"), &["job.succeeded"]).await;
    for _ in 0..6 {
        let (status, answer) = app
            .send_empty(Method::POST, user, &format!("/v1/webhooks/{endpoint}/test"))
            .await;
        assert_eq!(status, 202, "{answer}");
    }
    let own_cap = || async {
        sqlx::query_scalar::<_, Option<i32>>(
            "select max_running from job_keys where kind = 'webhook' and key = $1",
        )
        .bind(endpoint)
        .fetch_optional(&app.db)
        .await
        .unwrap()
        .flatten()
    };
    eventually(webhooks::WAIT, "an attempt to time out", || async {
        (own_cap().await == Some(1)).then_some(())
    })
    .await;
    assert!(
        hold.counts().2 <= 2,
        "the endpoint's cap before the timeout"
    );
    hold.reset_most();
    let (_, _, _, before) = hold.counts();
    eventually(webhooks::WAIT, "six more attempts", || async {
        (hold.counts().3 >= before + 6).then_some(())
    })
    .await;
    let (_, most, most_by_one, _) = hold.counts();
    assert!(
        most <= 1 && most_by_one <= 1,
        "{most} attempts at once after a timeout"
    );
    hold.release();
    webhooks::all_deliveries(&app, user, endpoint, 6, "succeeded").await;
    assert_eq!(
        own_cap().await,
        None,
        "a success lifts the endpoint's own cap"
    );
}
