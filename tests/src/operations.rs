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
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
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
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap();
    assert_eq!(metrics.status(), 200);
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
