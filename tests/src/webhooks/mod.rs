//! Webhook endpoints (issue 34): owner-only, the secret shown once and sealed at rest,
//! URLs that could reach private addresses refused, and signatures the Standard Webhooks
//! reference library verifies.

pub(crate) mod deliveries;

use almanac_shared::{crypto::TokenKey, webhooks};
use almanac_tests::fake_http::{Request, read_request};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestOptions, spawn_app_with};

/// An app that keeps secrets (`TOKEN_ENCRYPTION_KEY`) and, as in production, refuses
/// private addresses.
async fn app() -> TestApp {
    spawn_app_with(TestOptions {
        env: vec![
            ("TOKEN_ENCRYPTION_KEY", TokenKey::generate()),
            ("FETCH_ALLOW_PRIVATE_NETWORKS", "false".into()),
        ],
        ..TestOptions::default()
    })
    .await
}

async fn create(app: &TestApp, user: Uuid, body: Value) -> (u16, Value) {
    app.send_json(Method::POST, user, "/v1/webhooks", &body)
        .await
}

#[tokio::test]
async fn an_endpoint_is_its_owners_and_its_secret_is_shown_once() {
    let app = app().await;
    let (owner, stranger) = (Uuid::now_v7(), Uuid::now_v7());
    let (status, created) = create(
        &app,
        owner,
        json!({"url": "https://hooks.example.com/in?team=7", "events": ["job.succeeded", "job.failed", "job.succeeded"], "description": "CI"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let webhook = &created["data"];
    let id = webhook["id"].as_str().unwrap().to_owned();
    let secret = webhook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert_eq!(webhook["events"], json!(["job.succeeded", "job.failed"]));
    assert_eq!(webhook["url"], "https://hooks.example.com/in?team=7");
    assert_eq!(webhook["description"], "CI");
    assert_eq!(webhook["disabledAt"], Value::Null);

    // Never shown again, and not stored as it was shown.
    let path = format!("/v1/webhooks/{id}");
    let (status, read) = app.get_json(owner, &path).await;
    assert_eq!(status, 200);
    assert_eq!(read["data"]["id"], id.as_str());
    assert!(read["data"].get("secret").is_none(), "{read}");
    let (_, list) = app.get_json(owner, "/v1/webhooks").await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret));
    let stored: Vec<u8> = sqlx::query_scalar("select secret from webhook_endpoints")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let key = secret.trim_start_matches("whsec_").as_bytes();
    assert!(!stored.windows(key.len()).any(|w| w == key));

    // Another user sees nothing of it and can change nothing.
    assert_eq!(app.get_json(stranger, &path).await.0, 404);
    let (_, theirs) = app.get_json(stranger, "/v1/webhooks").await;
    assert_eq!(theirs["data"]["items"], json!([]));
    let patched = app
        .send_json(Method::PATCH, stranger, &path, &json!({"enabled": false}))
        .await;
    assert_eq!(patched.0, 404);
    let rotated = app
        .send_empty(Method::POST, stranger, &format!("{path}/rotate-secret"))
        .await;
    assert_eq!(rotated.0, 404);
    assert_eq!(app.delete(stranger, &path).await, 404);

    // Disabled and enabled again by its owner; its events and description changed.
    let (status, off) = app
        .send_json(Method::PATCH, owner, &path, &json!({"enabled": false}))
        .await;
    assert_eq!(status, 200, "{off}");
    assert!(off["data"]["disabledAt"].is_string());
    assert_eq!(off["data"]["disabledReason"], "disabled by its owner");
    let (status, on) = app
        .send_json(
            Method::PATCH,
            owner,
            &path,
            &json!({"enabled": true, "description": "", "events": ["publish.intent.failed"]}),
        )
        .await;
    assert_eq!(status, 200, "{on}");
    assert_eq!(on["data"]["disabledAt"], Value::Null);
    assert_eq!(on["data"]["disabledReason"], Value::Null);
    assert_eq!(on["data"]["description"], Value::Null);
    assert_eq!(on["data"]["events"], json!(["publish.intent.failed"]));
    assert_eq!(on["data"]["url"], "https://hooks.example.com/in?team=7");

    // A rotation shows a new secret once; the old one signs beside it for a day.
    let (status, rotated) = app
        .send_empty(Method::POST, owner, &format!("{path}/rotate-secret"))
        .await;
    assert_eq!(status, 200, "{rotated}");
    let new_secret = rotated["data"]["secret"].as_str().unwrap();
    assert!(new_secret.starts_with("whsec_"));
    assert_ne!(new_secret, secret);
    let until: chrono::DateTime<chrono::Utc> = rotated["data"]["previousSecretUntil"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let overlap = until - chrono::Utc::now();
    assert!(
        overlap > chrono::Duration::hours(23) && overlap <= chrono::Duration::hours(24),
        "{overlap}"
    );

    assert_eq!(app.delete(owner, &path).await, 204);
    assert_eq!(app.get_json(owner, &path).await.0, 404);
    assert_eq!(app.delete(owner, &path).await, 404);
}

#[tokio::test]
async fn urls_that_could_reach_private_addresses_and_unknown_events_are_refused() {
    let app = app().await;
    let user = Uuid::now_v7();
    for url in [
        "http://hooks.example.com/in",
        "https://127.0.0.1/in",
        "https://10.1.2.3:8443/in",
        "https://[::1]/in",
        "https://[::ffff:192.168.0.1]/in",
        "https://localhost/in",
        // Local names however written: the root's dot, /etc/hosts' loopback names, any case.
        "https://localhost./in",
        "https://LocalHost.:8443/in",
        "https://ip6-localhost/in",
        "https://ip6-loopback./in",
        "https://hooks.localhost./in",
        "https://user:pass@hooks.example.com/in",
        "hooks.example.com/in",
    ] {
        let (status, answer) =
            create(&app, user, json!({"url": url, "events": ["job.failed"]})).await;
        assert_eq!(status, 422, "{url}: {answer}");
        assert_eq!(answer["error"]["code"], "WEBHOOK_URL_REFUSED", "{url}");
        assert_eq!(answer["error"]["details"]["field"], "url");
        if url.contains("localhost") || url.contains("loopback") {
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(
                message.ends_with("is not a public internet address"),
                "{url}: {message}"
            );
        }
    }
    let (status, answer) = create(
        &app,
        user,
        json!({"url": "https://hooks.example.com/in", "events": ["job.failed", "job.started"]}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "UNKNOWN_EVENT_TYPE");
    assert_eq!(answer["error"]["details"]["eventType"], "job.started");
    let (status, _) = create(
        &app,
        user,
        json!({"url": "https://hooks.example.com/in", "events": []}),
    )
    .await;
    assert_eq!(status, 400);
    // A change is checked the same way.
    let (_, made) = create(
        &app,
        user,
        json!({"url": "https://hooks.example.com/in", "events": ["job.failed"]}),
    )
    .await;
    let path = format!("/v1/webhooks/{}", made["data"]["id"].as_str().unwrap());
    let (status, answer) = app
        .send_json(
            Method::PATCH,
            user,
            &path,
            &json!({"url": "https://192.168.1.1/"}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "WEBHOOK_URL_REFUSED");
    let (status, answer) = app
        .send_json(
            Method::PATCH,
            user,
            &path,
            &json!({"url": "https://ip6-localhost./in"}),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "WEBHOOK_URL_REFUSED");
    // Nothing was stored by any refusal: the one endpoint made.
    let (_, list) = app.get_json(user, "/v1/webhooks").await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["data"]["items"][0]["url"],
        "https://hooks.example.com/in"
    );
}

/// At most twenty endpoints a user, however many requests race for the last places.
#[tokio::test]
async fn a_user_has_at_most_twenty_endpoints() {
    let app = app().await;
    let user = Uuid::now_v7();
    for n in 0..15 {
        let (status, answer) = create(
            &app,
            user,
            json!({"url": format!("https://hooks.example.com/{n}"), "events": ["job.failed"]}),
        )
        .await;
        assert_eq!(status, 201, "endpoint {n}: {answer}");
    }
    // Ten at once for the last five places: five are added, five refused.
    let racing = (15..25).map(|n| {
        create(
            &app,
            user,
            json!({"url": format!("https://hooks.example.com/{n}"), "events": ["job.failed"]}),
        )
    });
    let mut statuses: Vec<u16> = futures::future::join_all(racing)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    statuses.sort();
    assert_eq!(statuses, [vec![201; 5], vec![422; 5]].concat());
    let (status, answer) = create(
        &app,
        user,
        json!({"url": "https://hooks.example.com/20", "events": ["job.failed"]}),
    )
    .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "WEBHOOK_LIMIT");
    let (_, list) = app.get_json(user, "/v1/webhooks").await;
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 20);
    // Another user's limit is their own.
    let (status, _) = create(
        &app,
        Uuid::now_v7(),
        json!({"url": "https://hooks.example.com/other", "events": ["job.failed"]}),
    )
    .await;
    assert_eq!(status, 201);
}

/// Signatures are checked by the Standard Webhooks reference library (`standardwebhooks`
/// from PyPI, `make test-deps`), not by this project's code: during a rotation either
/// secret verifies, and a changed body, id or timestamp does not.
#[test]
fn signatures_verify_with_the_standard_webhooks_reference_library() {
    let (old, new) = (webhooks::new_secret(), webhooks::new_secret());
    let id = "msg_2zYq1aW0c9V0Vd5Y";
    let timestamp = chrono::Utc::now().timestamp();
    let body =
        r#"{"type":"job.succeeded","timestamp":"2026-11-24T10:00:00Z","data":{"jobId":"0193"}}"#;
    let signature = webhooks::signature_header(&[&new, &old], id, timestamp, body.as_bytes());
    let script = r#"
import sys, json
from standardwebhooks.webhooks import Webhook
secret, msg_id, ts, sig, body = sys.argv[1:6]
def check(msg_id, ts, body):
    try:
        Webhook(secret).verify(body, {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": sig})
        return True
    except Exception:
        return False
print(json.dumps([check(msg_id, ts, body), check(msg_id, ts, body + " "),
    check(msg_id + "x", ts, body), check(msg_id, str(int(ts) + 1), body)]))
"#;
    let verify = |secret: &str| -> Value {
        let output = std::process::Command::new("python3")
            .args([
                "-c",
                script,
                secret,
                id,
                &timestamp.to_string(),
                &signature,
                body,
            ])
            .output()
            .expect("python3 runs");
        assert!(
            output.status.success(),
            "the reference library did not run (`make test-deps` installs it): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    };
    // Verified as sent; a byte more of body, another id or another timestamp: refused.
    assert_eq!(verify(&new), json!([true, false, false, false]));
    assert_eq!(verify(&old), json!([true, false, false, false]));
    assert_eq!(
        verify(&webhooks::new_secret()),
        json!([false, false, false, false])
    );
}

/// A receiver on a local port that answers each connection with `answer` (nothing: it
/// hangs) after reading its request, then, if `endless`, an answer body without end; each
/// request it read comes back on the channel.
async fn receiver(
    answer: &'static [u8],
    endless: bool,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<Request>) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/in", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let Some(request) = read_request(&mut socket, &mut Vec::new()).await else {
                    return;
                };
                let _ = tx.send(request);
                if answer.is_empty() {
                    // Hangs: never answers, keeps the connection.
                    std::future::pending::<()>().await;
                }
                if socket.write_all(answer).await.is_err() {
                    return;
                }
                if endless {
                    while socket.write_all(&[b'x'; 8192]).await.is_ok() {}
                }
            });
        }
    });
    (url, rx)
}

fn sender(allow_private: bool, total_ms: u64) -> webhooks::Sender {
    webhooks::Sender::new(
        allow_private,
        std::time::Duration::from_millis(total_ms),
        std::time::Duration::from_millis(total_ms),
        std::time::Duration::from_millis(total_ms),
    )
    .unwrap()
}

fn attempt<'a>(url: &'a str, body: &'a [u8]) -> webhooks::Attempt<'a> {
    webhooks::Attempt {
        url,
        id: "msg_0193f1",
        timestamp: 1_764_000_000,
        signature: "v1,c2lnbmF0dXJl",
        body,
    }
}

/// An attempt carries the body and the three headers; a receiver's answer is read up to
/// 64 KiB (an endless one too) and 1 KiB of it kept; a redirect is an answer, not
/// followed.
#[tokio::test]
async fn an_attempt_posts_the_signed_body_and_keeps_a_kibibyte_of_the_answer() {
    let (url, mut requests) =
        receiver(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\n", true).await;
    let body = br#"{"type":"job.failed","timestamp":"2026-11-24T10:00:00Z","data":{}}"#;
    let answer = sender(true, 10_000)
        .send(attempt(&url, body))
        .await
        .unwrap();
    assert_eq!(answer.status, 200);
    assert!(answer.delivered());
    assert_eq!(answer.excerpt, "x".repeat(webhooks::ANSWER_KEPT_BYTES));
    let request = requests.recv().await.unwrap();
    assert!(
        request.head.starts_with("POST /hooks/in HTTP/1.1\r\n"),
        "{}",
        request.head
    );
    for (name, value) in [
        ("webhook-id", "msg_0193f1"),
        ("webhook-timestamp", "1764000000"),
        ("webhook-signature", "v1,c2lnbmF0dXJl"),
        ("content-type", "application/json"),
    ] {
        assert_eq!(
            request.header(name).as_deref(),
            Some(value),
            "{name} in {}",
            request.head
        );
    }
    assert_eq!(request.body, body);

    let (url, _requests) =
        receiver(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:1/\r\ncontent-length: 0\r\n\r\n", false).await;
    let answer = sender(true, 10_000)
        .send(attempt(&url, b"{}"))
        .await
        .unwrap();
    assert_eq!(answer.status, 307);
    assert!(!answer.delivered());
}

/// A receiver that never answers holds an attempt no longer than its bound, and a private
/// address is refused before any connection where private networks are not allowed.
#[tokio::test]
async fn a_hanging_receiver_times_out_and_a_private_address_is_never_contacted() {
    let (url, mut requests) = receiver(b"", false).await;
    let error = sender(true, 300)
        .send(attempt(&url, b"{}"))
        .await
        .unwrap_err();
    assert_eq!(error, webhooks::SendError::Timeout(300));
    assert!(requests.recv().await.is_some(), "the request arrived");

    let (url, mut requests) =
        receiver(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
    let error = sender(false, 10_000)
        .send(attempt(&url, b"{}"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            webhooks::SendError::Refused(webhooks::UrlRefusal::NotHttps)
        ),
        "{error:?}"
    );
    let https = url.replace("http://", "https://");
    let error = sender(false, 10_000)
        .send(attempt(&https, b"{}"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        webhooks::SendError::Refused(webhooks::UrlRefusal::Private("127.0.0.1".into()))
    );
    // Neither refusal reached the receiver.
    assert!(requests.try_recv().is_err());
}
