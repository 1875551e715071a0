//! A real browser's `EventSource` (headless Chromium) against the relay: it consumes a
//! job's stream, survives the server side dropping the connection, reconnects by itself
//! with `Last-Event-ID`, and sees every event exactly once.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use poem::{
    EndpointExt, Route, Server, get, handler,
    listener::{Acceptor, Listener, TcpListener},
    post,
    web::{Data, Html},
};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    helpers::{
        Behaviour, FakeAi, TestOptions,
        chaos::ChaosProxy,
        eventually, spawn_app_with,
        stream::{Open, assert_complete},
    },
    web::chromium,
};

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>Almanac events</title>
<script>
  const params = new URLSearchParams(location.search);
  let n = 0;
  const report = (entry) => fetch("/report", {
    method: "POST",
    body: JSON.stringify({ n: ++n, ...entry }),
  });
  const source = new EventSource(params.get("src"));
  let opens = 0;
  source.onopen = () => report({ open: ++opens });
  for (const type of ["progress", "suggestions", "done", "truncated", "error"]) {
    source.addEventListener(type, (event) => {
      if (event.data === undefined) {
        // A connection error, not an error event: the browser will reconnect.
        report({ connectionError: source.readyState });
        return;
      }
      report({ type, id: event.lastEventId, data: JSON.parse(event.data) });
      if (type === "done") source.close();
    });
  }
</script>
"#;

type Reports = Arc<Mutex<Vec<Value>>>;

#[handler]
fn page() -> Html<&'static str> {
    Html(PAGE)
}

#[handler]
fn report(reports: Data<&Reports>, body: String) -> &'static str {
    if let Ok(entry) = serde_json::from_str(&body) {
        reports.lock().unwrap().push(entry);
    }
    "ok"
}

/// Serves the page and collects what it reports; returns its port.
async fn serve_page(reports: Reports) -> u16 {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    let app = Route::new()
        .at("/", get(page))
        .at("/report", post(report))
        .data(reports);
    tokio::spawn(async move {
        let _ = Server::new_with_acceptor(acceptor).run(app).await;
    });
    port
}

#[tokio::test]
async fn a_browser_event_source_resumes_after_a_dropped_connection_and_sees_each_event_once() {
    let reports: Reports = Arc::default();
    let page_port = serve_page(reports.clone()).await;
    // The AI answers slowly enough that the job is still running when the connection drops,
    // however long Chromium takes to start on a loaded machine (the job starts before it).
    let fake = FakeAi::start(vec![], Behaviour::Delay(Duration::from_secs(4))).await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            (
                "CORS_ALLOWED_ORIGINS",
                format!("http://127.0.0.1:{page_port}"),
            ),
            ("AI_TIMEOUT_MS", "10000".into()),
        ],
        ..Default::default()
    })
    .await;
    // The browser reaches the API through a proxy that can drop its connection.
    let proxy = ChaosProxy::start(app.address.trim_start_matches("http://").to_owned()).await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 7000).await;
    let src = format!(
        "http://127.0.0.1:{}/v1/jobs/{job}/events?access_token={}",
        proxy.port,
        app.token(user)
    );
    let page_url = format!(
        "http://127.0.0.1:{page_port}/?src={}",
        url::form_urlencoded::byte_serialize(src.as_bytes()).collect::<String>()
    );
    let profile = std::env::temp_dir().join(format!("almanac-chromium-{}", Uuid::new_v4()));
    let _browser = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&page_url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("Chromium starts");

    let events_seen = |reports: &Reports| {
        reports
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r["type"].is_string())
            .count()
    };
    eventually(
        Duration::from_secs(30),
        "the browser to receive three events",
        || async { (events_seen(&reports) >= 3).then_some(()) },
    )
    .await;
    // The connection drops mid-stream.
    proxy.sever();
    eventually(
        Duration::from_secs(30),
        "the browser to receive `done`",
        || async {
            reports
                .lock()
                .unwrap()
                .iter()
                .any(|r| r["type"] == "done")
                .then_some(())
        },
    )
    .await;

    let mut entries = reports.lock().unwrap().clone();
    entries.sort_by_key(|r| r["n"].as_u64());
    let opens = entries.iter().filter(|r| r["open"].is_u64()).count();
    assert!(
        opens >= 2,
        "the browser reconnected by itself: {entries:#?}"
    );
    assert!(
        entries.iter().any(|r| r["connectionError"].is_u64()),
        "the drop was noticed: {entries:#?}"
    );
    let seen: Vec<(u64, String)> = entries
        .iter()
        .filter(|r| r["type"].is_string())
        .map(|r| {
            (
                r["id"].as_str().unwrap().parse().unwrap(),
                r["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    // Exactly the job's events, each once, in order.
    let full = app.all_events(user, job, Open::default()).await;
    assert_complete(&full);
    let expected: Vec<(u64, String)> = full
        .iter()
        .map(|f| (f.id.unwrap(), f.kind.clone()))
        .collect();
    assert_eq!(seen, expected);
    let _ = std::fs::remove_dir_all(profile);
}
