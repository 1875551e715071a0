//! Submit -> poll -> succeeded, with the real HTTP AI client against a fake provider and
//! with the offline provider.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, TestOptions, source_text, spawn_app, spawn_app_with, spawn_app_with_ai,
};

#[tokio::test]
async fn submit_then_poll_succeeds_with_the_http_client() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with_ai(&fake).await;
    let user = Uuid::new_v4();

    let response = app
        .post_generation(
            user,
            &json!({ "source_text": source_text(1500), "model": "acme/model-x" }),
        )
        .await;
    assert_eq!(response.status(), 202);
    let accepted: serde_json::Value = response.json().await.unwrap();
    assert_eq!(accepted["status"], "pending");
    let id: Uuid = accepted["generation_id"].as_str().unwrap().parse().unwrap();

    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "succeeded", "{generation}");
    assert_eq!(generation["tokens_input"], 120);
    assert_eq!(generation["tokens_output"], 45);
    assert_eq!(generation["cost_usd"], 0.00123);
    assert_eq!(generation["ai_metadata"]["provider"], "openai");
    // The model that answered: the one asked for.
    assert_eq!(generation["ai_metadata"]["model"], "acme/model-x");
    assert_eq!(generation["ai_metadata"]["prompt_version"], "v1");
    assert!(generation["ai_metadata"]["latency_ms"].is_u64());
    assert_eq!(generation["suggestions"]["proposed"], 3);
    // The generation names its job, for polling and streaming.
    assert_eq!(generation["job_id"], accepted["job_id"]);

    let suggestions = app.suggestions(user, id).await;
    assert_eq!(suggestions.len(), 3);
    assert!(suggestions.iter().all(|s| s["status"] == "proposed"));
    assert_eq!(suggestions[0]["front"], "What does chlorophyll absorb?");

    // The provider got the requested model and the text as data inside the template.
    assert_eq!(fake.calls(), 1);
    let request = &fake.requests()[0];
    assert_eq!(request["model"], "acme/model-x");
    assert_eq!(request["messages"][0]["role"], "system");
    let user_message = request["messages"][1]["content"].as_str().unwrap();
    assert!(user_message.starts_with("<source_text>"));
    assert!(user_message.contains("Photosynthesis"));

    let (status, job) = app
        .get_json(
            user,
            &format!("/v1/jobs/{}", accepted["job_id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(job["data"]["status"], "succeeded");
    assert_eq!(job["data"]["attempts"], 1);
    assert_eq!(job["error"], serde_json::Value::Null);
}

#[tokio::test]
async fn submit_then_poll_succeeds_with_the_offline_provider() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let id = app.submit(user).await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "succeeded", "{generation}");
    assert_eq!(generation["ai_metadata"]["provider"], "offline");
    let suggestions = app.suggestions(user, id).await;
    assert!(suggestions.len() >= 3, "{suggestions:?}");
    // Deterministic: the same text gives the same cards.
    let again = app.submit(user).await;
    app.wait_finished(user, again).await;
    let fronts = |s: &[serde_json::Value]| s.iter().map(|c| c["front"].clone()).collect::<Vec<_>>();
    assert_eq!(
        fronts(&suggestions),
        fronts(&app.suggestions(user, again).await)
    );
}

#[tokio::test]
async fn the_list_is_newest_first_and_paginates() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![("GENERATION_RATE_LIMIT", "50".into())],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.submit(user).await.to_string());
    }
    ids.reverse();
    let (status, page1) = app.get_json(user, "/api/ai/generations?limit=2").await;
    assert_eq!(status, 200);
    let got: Vec<_> = page1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(got, ids[..2]);
    assert!(page1["items"][0].get("source_text").is_none());
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = app
        .get_json(
            user,
            &format!("/api/ai/generations?limit=2&cursor={cursor}"),
        )
        .await;
    let (_, page3) = app
        .get_json(
            user,
            &format!(
                "/api/ai/generations?limit=2&cursor={}",
                page2["next_cursor"].as_str().unwrap()
            ),
        )
        .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    assert_eq!(page3["items"].as_array().unwrap().len(), 1);
    assert!(page3["next_cursor"].is_null());
}

/// An idle worker is woken by each submission itself, not by a timer: with apalis's
/// heartbeat and the fallback poll both at 30 s, jobs submitted one after another still
/// finish long before either timer could fire. (The race of a wake-up arriving during an
/// in-flight fetch is timing-dependent; `make bench` measures it as pickup p99.)
#[tokio::test]
async fn an_idle_worker_is_woken_by_each_submission() {
    let app = spawn_app_with(TestOptions {
        env: vec![
            ("JOB_HEARTBEAT_MS", "30000".into()),
            ("JOB_STALE_MS", "60000".into()),
            ("WORKER_IDLE_POLL_MS", "30000".into()),
            ("RECONCILE_INTERVAL_MS", "30000".into()),
            ("JOB_REQUEUE_MS", "30000".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    // The worker subscribes in the background; the first job may race it, the rest may not.
    let first = app.submit(user).await;
    let finished = app
        .wait_finished_within(user, first, Duration::from_secs(40))
        .await;
    assert_eq!(finished["status"], "succeeded");
    for _ in 0..3 {
        let id = app.submit(user).await;
        // Well before the 30 s timers: only a wake-up can have started it.
        let finished = app
            .wait_finished_within(user, id, Duration::from_secs(10))
            .await;
        assert_eq!(finished["status"], "succeeded");
    }
}

/// A generation left `running` under a job that ended (its last save and its job's end are
/// one commit now, and this repairs any row from before): the reconciler ends it as its
/// job ended (issue 73), so a poll never shows a finished job's generation running.
#[tokio::test]
async fn a_generation_left_running_under_a_finished_job_is_ended_by_the_reconciler() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let (generation, job) = app.submit_job(user, 1_500).await;
    app.wait_finished(user, generation).await;
    sqlx::query("update ai_generations set status = 'running' where id = $1")
        .bind(generation)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("update jobs set finished_at = now() - interval '1 minute' where id = $1")
        .bind(job)
        .execute(&app.db)
        .await
        .unwrap();
    let ended = app.wait_finished(user, generation).await;
    assert_eq!(ended["status"], "succeeded", "{ended}");
}
