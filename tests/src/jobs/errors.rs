//! What a failed job tells its owner: a stable code and a message written for them. A
//! database's own text (tables, columns, constraints) goes to the log only; a provider's
//! diagnostics stay on the generation, redacted, as seed 002 asks.

use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{Behaviour, FakeAi, spawn_app_with_ai, stream::Open};

/// Texts only a database error would put in a message.
const DATABASE_WORDS: [&str; 4] = ["ai_suggestions", "relation", "does not exist", "column"];

fn assert_no_database_text(what: &str, value: &Value) {
    let text = value.to_string();
    for word in DATABASE_WORDS {
        assert!(!text.contains(word), "{what} leaks `{word}`: {text}");
    }
}

#[tokio::test]
async fn a_database_failure_reaches_the_owner_as_a_code_and_a_message_only() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with_ai(&fake).await;
    app.expect_failed_jobs();
    // Saving suggestions now fails inside Postgres, on every attempt.
    sqlx::query("alter table ai_suggestions rename column back to back_before")
        .execute(&app.db)
        .await
        .unwrap();
    let user = Uuid::new_v4();
    let (generation, job) = app.submit_job(user, 1500).await;
    let events = app.all_events(user, job, Open::default()).await;

    let (status, body) = app.get_json(user, &format!("/v1/jobs/{job}")).await;
    assert_eq!(status, 200);
    let error = &body["data"]["error"];
    assert_eq!(body["data"]["status"], "failed", "{body}");
    assert_eq!(error["code"], "STORAGE_FAILED", "{error}");
    assert_eq!(error["message"], "the job's results could not be saved");
    assert_eq!(error["attempts"], 3);
    assert_no_database_text("the job's error", error);

    let failed = app.generation(user, generation).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "STORAGE_FAILED");
    assert_no_database_text("the generation's error", &failed["error"]);

    // Two retries announced, then the end; none quotes the database.
    let retries: Vec<&Value> = events
        .iter()
        .filter(|e| e.kind == "error")
        .map(|e| &e.data)
        .collect();
    assert_eq!(retries.len(), 2, "{events:#?}");
    for event in &events {
        assert_no_database_text("an event", &event.data);
    }
    assert_eq!(
        events.last().unwrap().data["error"]["code"],
        "STORAGE_FAILED"
    );
}

#[tokio::test]
async fn provider_diagnostics_stay_on_the_generation_with_secrets_redacted() {
    let key = "sk-live-0123456789abcdefghij";
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl";
    let body = format!(
        r#"{{"error": {{"message": "Incorrect API key provided: {key}. Sent with Bearer {token}", "padding": "{}"}}}}"#,
        "x".repeat(600)
    );
    let fake = FakeAi::start(vec![], Behaviour::Body(401, body)).await;
    let app = spawn_app_with_ai(&fake).await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    let (generation, job) = app.submit_job(user, 1500).await;
    let failed = app.wait_finished(user, generation).await;
    assert_eq!(failed["status"], "failed");
    assert_eq!(fake.calls(), 1, "a refusal is not retried");

    let error = &failed["error"];
    assert_eq!(error["code"], "AI_PROVIDER_REFUSED");
    assert_eq!(error["message"], "the AI provider answered HTTP 401");
    assert_eq!(error["provider_status"], 401);
    assert_eq!(error["provider_request_id"], "req-fake-1");
    assert!(error["latency_ms"].is_u64(), "{error}");
    let excerpt = error["body_excerpt"].as_str().unwrap();
    assert!(excerpt.chars().count() <= 300, "{excerpt}");
    assert!(excerpt.contains("Incorrect API key provided"), "{excerpt}");
    assert!(
        !excerpt.contains(key) && !excerpt.contains(token),
        "{excerpt}"
    );
    // Seed 002: the generation keeps its `ai_metadata` on failure too.
    let metadata = &failed["ai_metadata"];
    assert_eq!(metadata["provider"], "openai", "{failed}");
    assert_eq!(metadata["model"], "fake-model-1");
    assert_eq!(metadata["provider_attempts"], 1);
    assert_eq!(metadata["provider_request_id"], "req-fake-1");
    assert_eq!(metadata["provider_status"], 401);
    assert_eq!(metadata["failed"], true);
    assert!(metadata["latency_ms"].is_u64(), "{metadata}");

    // The job's own error, which every stream carries, says what happened and no more.
    let (_, body) = app.get_json(user, &format!("/v1/jobs/{job}")).await;
    let job_error = body["data"]["error"].as_object().unwrap();
    let mut fields: Vec<&str> = job_error.keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(fields, ["attempts", "code", "message"], "{job_error:?}");
    assert_eq!(job_error["message"], "the AI provider answered HTTP 401");
}
