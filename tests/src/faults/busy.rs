//! A busy database is not an outage (issue 73): when every pooled connection is taken, a
//! request that cannot get one is answered 503 `SERVICE_UNAVAILABLE` with `Retry-After`,
//! saying Almanac is busy; seed 001's outage answers (the legacy dry run, never stored)
//! are for Postgres unreachable only (`calendar_legacy` shows those).

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::{
    calendars::request,
    helpers::{TestApp, TestOptions, eventually, spawn_app_with},
};

/// The app's requests waiting for a lock the test holds.
async fn waiting_on_locks(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity
         where datname = current_database() and wait_event_type = 'Lock'
           and application_name = 'almanac'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn twenty_requests_on_four_connections_start_one_run_and_the_rest_hear_busy() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![
            ("DATABASE_MAX_CONNECTIONS", "4".into()),
            ("CALENDAR_RATE_LIMIT", "1000".into()),
        ],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    // Every request that writes a job waits on this lock, holding its connection.
    let mut lock = app.db.begin().await.unwrap();
    sqlx::query("lock table jobs in exclusive mode")
        .execute(&mut *lock)
        .await
        .unwrap();
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (client, url, token) = (
                app.client.clone(),
                app.url("/v1/ai/calendar"),
                app.token(user),
            );
            let finished = finished.clone();
            tokio::spawn(async move {
                let answer = client
                    .post(url)
                    .bearer_auth(token)
                    .header("prefer", "respond-async")
                    .json(&request(3, "tea"))
                    .send()
                    .await
                    .unwrap();
                let status = answer.status();
                let retry_after = answer.headers().get("retry-after").cloned();
                let body: Value = answer.json().await.unwrap();
                finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                (status, retry_after, body)
            })
        })
        .collect();
    // Saturated: the connections wait on the lock, every other request has had its answer.
    eventually(Duration::from_secs(30), "the pool to saturate", || async {
        let waiting = waiting_on_locks(&app).await;
        let done = finished.load(std::sync::atomic::Ordering::SeqCst) as i64;
        (waiting > 0 && waiting + done == 20).then_some(())
    })
    .await;
    // A flashcard submit meanwhile hears the same.
    let generation = app
        .post_generation(
            Uuid::new_v4(),
            &serde_json::json!({ "source_text": crate::helpers::source_text(1500) }),
        )
        .await;
    assert_eq!(generation.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(generation.headers().get("retry-after").is_some());
    let refused: Value = generation.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("busy"),
        "{refused}"
    );
    lock.commit().await.unwrap();
    let answers: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let mut accepted = 0;
    let mut busy = 0;
    for (status, retry_after, body) in &answers {
        assert_ne!(body["meta"]["persisted"], false, "a legacy dry run: {body}");
        match status.as_u16() {
            202 => accepted += 1,
            409 => assert_eq!(body["error"]["code"], "GENERATION_IN_PROGRESS", "{body}"),
            503 => {
                busy += 1;
                assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{body}");
                assert!(retry_after.is_some(), "503 without Retry-After");
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(accepted, 1, "{answers:?}");
    assert!(busy > 0, "the pool never ran out: {answers:?}");
    let runs: i64 = sqlx::query_scalar("select count(*) from calendar_runs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(runs, 1);
    let generations: i64 = sqlx::query_scalar("select count(*) from ai_generations")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(generations, 0, "the busy submit stored nothing");
}
