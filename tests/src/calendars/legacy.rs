//! The legacy calendar path (`CALENDAR_SERVICE_ENABLED=false`, seed 000 and 001): the same
//! stream schema with `meta.mode = "legacy"`, edits kept across the flag, and a dry run
//! when Postgres is down.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    calendars::{entries, request, summary},
    helpers::{TestOptions, spawn_app, spawn_app_with, stream::Frame},
};

#[tokio::test]
async fn with_the_flag_off_the_legacy_stream_has_the_same_schema_and_edits_persist() {
    let mut app = spawn_app().await;
    let user = Uuid::new_v4();
    let service = app.calendar_stream(user, &request(5, "tea")).await;
    let id = summary(&service)["data"]["calendarId"]
        .as_str()
        .unwrap()
        .to_owned();
    let saved = app.calendar(user, &id).await["entries"]
        .as_array()
        .unwrap()
        .clone();
    let entry = saved[0]["id"].as_str().unwrap();
    let (status, _) = app
        .send_json(
            Method::PATCH,
            user,
            &format!("/v1/calendars/{id}/entries/{entry}"),
            &json!({ "title": "Kept across flags" }),
        )
        .await;
    assert_eq!(status, 200);

    let mut settings = app.settings.clone();
    settings.calendar_service_enabled = false;
    let legacy = app.start_api_replica_with(settings).await;
    let mut again = request(5, "tea");
    again["calendarId"] = json!(id);
    let frames = app.calendar_stream_at(&legacy, user, &again).await;
    let shape = |frames: &[Frame], kind: &str| -> Vec<String> {
        let frame = frames.iter().find(|f| f.kind == kind).unwrap();
        let mut fields: Vec<String> = frame.data.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        fields
    };
    assert_eq!(
        shape(&frames, "entry"),
        shape(&service, "entry"),
        "the same entry schema"
    );
    let mut entry_fields: Vec<&String> = entries(&frames)[0].as_object().unwrap().keys().collect();
    let mut service_fields: Vec<&String> =
        entries(&service)[0].as_object().unwrap().keys().collect();
    entry_fields.sort();
    service_fields.sort();
    assert_eq!(entry_fields, service_fields);
    assert_eq!(entries(&frames).len(), 15);
    assert!(
        frames
            .iter()
            .filter(|f| f.kind == "entry")
            .all(|f| f.data["meta"]["mode"] == "legacy")
    );
    let done = summary(&frames);
    assert_eq!(done["meta"]["mode"], "legacy");
    assert_eq!(done["meta"]["persisted"], true);
    assert_eq!(done["data"]["version"], 2);
    let diff = &frames
        .iter()
        .find(|f| f.kind == "diff")
        .expect("a diff")
        .data["data"];
    assert_eq!(
        diff["counts"]["conflicts"], 1,
        "the edit made with the flag on is protected"
    );

    // The edit is there through the legacy API, and again through the service API.
    for base in [legacy.as_str(), app.address.as_str()] {
        let response = app
            .client
            .get(format!("{base}/v1/calendars/{id}"))
            .bearer_auth(app.token(user))
            .send()
            .await
            .unwrap();
        let body: Value = response.json().await.unwrap();
        let kept = body["data"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == entry)
            .unwrap()
            .clone();
        assert_eq!(kept["title"], "Kept across flags");
    }
    // Without a stream the legacy path answers 202, already finished, without a job.
    let response = app
        .client
        .post(format!("{legacy}/v1/ai/calendar"))
        .bearer_auth(app.token(user))
        .header("prefer", "respond-async")
        .json(&request(2, "tea"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["data"]["status"].clone(), body["meta"]["mode"].clone()),
        (json!("succeeded"), json!("legacy"))
    );
    assert!(body["data"]["jobId"].is_null());
    let jobs: i64 = sqlx::query_scalar("select count(*) from jobs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(jobs, 1, "the legacy path queues nothing");
}

#[tokio::test]
async fn with_the_flag_off_and_postgres_down_the_stream_is_a_dry_run() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        db_proxy: true,
        env: vec![("CALENDAR_SERVICE_ENABLED", "false".into())],
        ..Default::default()
    })
    .await;
    app.db_proxy.as_ref().unwrap().partition();
    let user = Uuid::new_v4();
    let frames = app.calendar_stream(user, &request(3, "tea")).await;
    assert_eq!(entries(&frames).len(), 9);
    let done = summary(&frames);
    assert_eq!(done["meta"]["persisted"], false);
    assert_eq!(done["meta"]["mode"], "legacy");
    assert!(done["data"]["runId"].is_null());
    // Deterministic: the same request gives the same calendar.
    let again = app.calendar_stream(user, &request(3, "tea")).await;
    assert_eq!(entries(&again), entries(&frames));
}

/// Seed 001's playbook, "Supabase down/unreachable: serve legacy/dry-run responses": with
/// the calendar flag on, Postgres cut off gives the legacy stream as a dry run (the publish
/// spool's word for why), nothing saved; asked for 202, a finished dry run with no links;
/// a `calendarId` is echoed unchecked, with no diff.
#[tokio::test]
async fn with_the_flag_on_and_postgres_down_the_answer_is_the_legacy_dry_run() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        db_proxy: true,
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    app.db_proxy.as_ref().unwrap().partition();
    let frames = app.calendar_stream(user, &request(3, "tea")).await;
    assert_eq!(entries(&frames).len(), 9);
    let done = summary(&frames);
    assert_eq!(done["status"], "succeeded");
    assert_eq!(
        (
            &done["meta"]["mode"],
            &done["meta"]["persisted"],
            &done["meta"]["reason"],
            &done["meta"]["runId"],
            &done["meta"]["version"]
        ),
        (
            &json!("legacy"),
            &json!(false),
            &json!("STORE_UNAVAILABLE"),
            &Value::Null,
            &Value::Null
        ),
        "{done}"
    );
    // A regeneration's calendar is echoed, unchecked; there is nothing to compare with.
    let calendar = Uuid::now_v7();
    let mut regenerate = request(3, "tea");
    regenerate["calendarId"] = json!(calendar);
    let frames = app.calendar_stream(user, &regenerate).await;
    assert!(frames.iter().all(|f| f.kind != "diff"));
    assert_eq!(
        summary(&frames)["meta"]["calendarId"],
        json!(calendar.to_string())
    );
    let accepted = app
        .client
        .post(app.url("/v1/ai/calendar"))
        .bearer_auth(app.token(user))
        .header("prefer", "respond-async")
        .json(&request(3, "tea"))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["data"]["status"], "succeeded");
    assert_eq!(accepted["meta"]["reason"], "STORE_UNAVAILABLE");
    assert!(accepted["data"]["links"]["poll"].is_null());
    assert!(accepted["data"]["links"]["calendar"].is_null());
    app.db_proxy.as_ref().unwrap().heal();
    let saved: i64 = sqlx::query_scalar("select count(*) from calendars")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(saved, 0, "nothing saved");
}
