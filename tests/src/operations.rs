//! Health, readiness, metrics, request ids and trace propagation.

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app};

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app().await;
    let health: Value = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        (ready["postgres"].as_bool(), ready["redis"].as_bool()),
        (Some(true), Some(true))
    );

    let user = Uuid::new_v4();
    let id = app.submit(user).await;
    app.wait_finished(user, id).await;
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(
            "http_requests_total{method=\"POST\",route=\"/api/ai/generations\",status=\"202\"}"
        ),
        "{metrics}"
    );
    assert!(metrics.contains("jobs_total{kind=\"generation\",outcome=\"succeeded\"}"));
}

#[tokio::test]
async fn the_worker_serves_metrics_and_health() {
    let app = spawn_app().await;
    let worker = almanac_worker::Application::build(app.settings.clone())
        .await
        .unwrap();
    let base = format!("http://127.0.0.1:{}", worker.port());
    tokio::spawn(worker.run_until_stopped(std::future::pending()));
    let health = eventually(
        std::time::Duration::from_secs(5),
        "the worker's health endpoint",
        || async { reqwest::get(format!("{base}/healthz")).await.ok() },
    )
    .await;
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = reqwest::get(format!("{base}/readyz")).await.unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.unwrap();
    // What "the first publish failure after a deploy" compares with, and the version.
    assert!(metrics.contains("process_start_time_seconds "), "{metrics}");
    assert!(
        metrics.contains(&format!(
            "almanac_build_info{{service=\"almanac-worker\",version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{metrics}"
    );

    // A worker that cannot reach Postgres is alive but not ready: a rollout waits for it.
    let mut settings = app.settings.clone();
    settings.database_url =
        almanac_shared::config::Secret::new("postgres://nobody@127.0.0.1:1/none");
    let unready = almanac_worker::Application::build(settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", unready.port());
    tokio::spawn(unready.run_until_stopped(std::future::pending()));
    let ready = eventually(
        std::time::Duration::from_secs(5),
        "the unready worker's endpoints",
        || async { reqwest::get(format!("{base}/readyz")).await.ok() },
    )
    .await;
    assert_eq!(ready.status(), 503);
    let health = reqwest::get(format!("{base}/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn request_ids_and_trace_context_travel_with_the_job() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let response = app
        .client
        .post(app.url("/api/ai/generations"))
        .bearer_auth(app.token(user))
        .header("x-request-id", "req-abc-123")
        .header("traceparent", format!("00-{trace_id}-00f067aa0ba902b7-01"))
        .json(&serde_json::json!({ "source_text": crate::helpers::source_text(1500) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-abc-123");
    let body: Value = response.json().await.unwrap();
    let job: Uuid = body["job_id"].as_str().unwrap().parse().unwrap();
    let context: sqlx::types::Json<Value> =
        sqlx::query_scalar("select trace_context from jobs where id = $1")
            .bind(job)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let traceparent = context.0["traceparent"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        traceparent.contains(trace_id),
        "the job carries the request's trace: {traceparent}"
    );
    // The worker's span continues that trace.
    let generation: Uuid = body["generation_id"].as_str().unwrap().parse().unwrap();
    let finished = app.wait_finished(user, generation).await;
    assert_eq!(finished["ai_metadata"]["trace_id"], trace_id);

    let missing = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "req-404")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let envelope: Value = missing.json().await.unwrap();
    assert_eq!(envelope["meta"]["requestId"], "req-404");
    assert_eq!(envelope["error"]["code"], "NOT_FOUND");
}

/// With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are exported over OTLP/HTTP. The global
/// tracer of this test process is already installed without an exporter, so the export
/// runs in a child process (this same test binary, running only `otlp_probe`).
#[tokio::test]
async fn spans_are_exported_over_otlp_when_configured() {
    use poem::{
        EndpointExt, Route, Server, handler,
        listener::{Acceptor, Listener, TcpListener},
        post,
        web::Data,
    };
    use std::sync::{Arc, Mutex};

    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;
    #[handler]
    fn traces(req: &poem::Request, body: Vec<u8>, received: Data<&Received>) -> &'static str {
        let content_type = req.content_type().unwrap_or_default().to_owned();
        received.lock().unwrap().push((content_type, body));
        ""
    }
    let received: Received = Arc::default();
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let endpoint = format!(
        "http://127.0.0.1:{}",
        acceptor.local_addr()[0].as_socket_addr().unwrap().port()
    );
    let app = Route::new()
        .at("/v1/traces", post(traces))
        .data(received.clone());
    tokio::spawn(async move { Server::new_with_acceptor(acceptor).run(app).await });

    let status = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "operations::otlp_probe",
            "--exact",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env("ALMANAC_OTLP_PROBE_ENDPOINT", &endpoint)
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .unwrap();
    assert!(status.success(), "the probe process failed");
    let received = received.lock().unwrap().clone();
    assert!(!received.is_empty(), "no OTLP export reached the collector");
    let (content_type, body) = &received[0];
    assert_eq!(content_type, "application/x-protobuf");
    let contains = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(
        contains(b"otlp-probe-span"),
        "the exported batch lacks the span"
    );
    assert!(
        contains(b"almanac-otlp-probe"),
        "the exported batch lacks the service name"
    );
}

#[test]
#[ignore = "child process of spans_are_exported_over_otlp_when_configured"]
fn otlp_probe() {
    let endpoint = std::env::var("ALMANAC_OTLP_PROBE_ENDPOINT").expect("run by the OTLP test");
    let guard =
        almanac_shared::telemetry::init("almanac-otlp-probe", None, Some(&endpoint)).unwrap();
    tracing::info_span!("otlp-probe-span").in_scope(|| tracing::info!("inside the probe span"));
    // Dropping the guard flushes the batch exporter.
    drop(guard);
}
