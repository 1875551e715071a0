//! A week through a dead worker, a cancel, a failed job and retried requests.

use serde_json::json;
use uuid::Uuid;

use super::*;
use crate::helpers::{
    Behaviour, FakeAi, TestOptions, spawn_app, spawn_app_with,
    stream::{EventReader, Frame, Open},
};

#[tokio::test]
async fn a_week_whose_worker_dies_is_finished_once_and_resumable() {
    // One AI call at a time; the fourth hangs in the worker that is then killed.
    let fake = FakeAi::start(
        vec![Behaviour::Ok, Behaviour::Ok, Behaviour::Ok, Behaviour::Hang],
        Behaviour::Ok,
    )
    .await;
    let mut app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![("ORGANIC_AI_CONCURRENCY", "1".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let days = [
        "2026-01-26",
        "2026-01-27",
        "2026-01-28",
        "2026-01-29",
        "2026-01-30",
        "2026-01-31",
    ];
    let seeds = days
        .iter()
        .enumerate()
        .map(|(i, day)| {
            seed(
                &format!("p{i}"),
                "trend-101",
                &format!("{day}T17:00"),
                "instagram",
                None,
            )
        })
        .collect();
    let response = open(&app, user, "/generate-calendar", &request(seeds)).await;
    assert_eq!(response.status(), 200);
    let job: Uuid = response.headers()["x-job-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut reader = EventReader::from_response(response, true);
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|l: &&Frame| l.kind == "placement")
        .count()
        < 3
    {
        seen.push(reader.next().await.expect("lines until three placements"));
    }
    fake.wait_for_calls(4).await;
    drop(reader);
    app.kill_worker(0);
    app.start_worker().await;
    // Resumed by Last-Event-ID, as SSE.
    let last = seen.last().unwrap().id.unwrap();
    let rest = app
        .all_events(user, job, Open::resuming(&last.to_string()))
        .await;
    assert_eq!(rest.first().unwrap().id, Some(last + 1), "no gap");
    let all: Vec<Frame> = seen.into_iter().chain(rest).collect();
    assert_vocabulary(&all);
    let ids: Vec<&str> = all
        .iter()
        .filter(|l| l.kind == "placement")
        .map(|l| l.data["placement"]["placementId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["p0", "p1", "p2", "p3", "p4", "p5"],
        "every placement exactly once"
    );
    let complete = &all.last().unwrap().data;
    assert_eq!(complete["status"], "succeeded");
    assert_eq!(complete["counts"]["placements"], 6);
    assert_eq!(saved_rows(&app).await, 6);
    let items: i64 = sqlx::query_scalar("select count(*) from organic_run_items")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(items, 6);
    // The same stream again, by ?after=, as NDJSON: nothing after the end but 204.
    let replay = app
        .all_events(
            user,
            job,
            Open {
                ndjson: true,
                after: Some(0),
                ..Open::default()
            },
        )
        .await;
    assert_eq!(replay.iter().filter(|l| l.kind == "placement").count(), 6);
    assert_eq!(replay.last().unwrap().kind, "complete");
}

#[tokio::test]
async fn a_cancelled_week_ends_with_complete() {
    let fake = FakeAi::start(vec![Behaviour::Ok], Behaviour::Hang).await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        // Far longer than the test: the cancel reaches the worker by its notification, not
        // by a heartbeat reading the flag.
        env: vec![
            ("ORGANIC_AI_CONCURRENCY", "1".into()),
            ("JOB_HEARTBEAT_MS", "30000".into()),
            ("JOB_STALE_MS", "60000".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = daily(&["a", "b"]);
    let response = open(&app, user, "/api/organic/generate-calendar", &body).await;
    let job: Uuid = response.headers()["x-job-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut reader = EventReader::from_response(response, true);
    let mut lines = Vec::new();
    // The first placement is saved (its line follows the commit); the second hangs.
    while !lines.iter().any(|l: &Frame| l.kind == "placement") {
        lines.push(reader.next().await.expect("lines until a placement"));
    }
    fake.wait_for_calls(2).await;
    let (status, _) = app.cancel(user, job).await;
    assert_eq!(status, 202);
    lines.extend(reader.rest().await);
    assert_vocabulary(&lines);
    let complete = &lines.last().unwrap().data;
    assert_eq!(complete["status"], "cancelled", "{complete}");
    assert_eq!(complete["error"]["code"], "CANCELLED");
    // In the seed's own words: one run-level `error` right before `complete`.
    let run_errors: Vec<&Frame> = lines
        .iter()
        .filter(|l| l.kind == "error" && l.data.get("placementId").is_none())
        .collect();
    assert_eq!(run_errors.len(), 1, "{lines:#?}");
    assert_eq!(lines[lines.len() - 2].data, run_errors[0].data);
    assert_eq!(run_errors[0].data["code"], "CANCELLED");
    assert_eq!(
        run_errors[0].data["message"],
        "the week was cancelled; 1 placement made before it is kept"
    );
    assert_eq!(
        complete["counts"]["placements"], 1,
        "what it drafted is kept"
    );
    assert_eq!(saved_rows(&app).await, 1);
}

#[tokio::test]
async fn a_week_that_fails_still_ends_with_complete() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = request(vec![seed(
        "a",
        "trend-101",
        "2026-01-27T17:00",
        "instagram",
        None,
    )]);
    let response = open(&app, user, "/api/organic/generate-calendar", &body).await;
    let job: Uuid = response.headers()["x-job-id"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut reader = EventReader::from_response(response, true);
    // The brand goes, with its run, before a worker takes the job.
    assert_eq!(app.delete(user, "/api/organic/brands/brand_123").await, 204);
    app.start_worker().await;
    let lines = reader.rest().await;
    assert_vocabulary(&lines);
    let complete = &lines.last().unwrap().data;
    assert_eq!(complete["status"], "failed", "{complete}");
    assert_eq!(complete["error"]["code"], "ORGANIC_RUN_MISSING");
    let failure = &lines[lines.len() - 2];
    assert_eq!(
        (failure.kind.as_str(), failure.data["code"].as_str()),
        ("error", Some("ORGANIC_RUN_MISSING")),
        "{lines:#?}"
    );
    assert!(failure.data.get("placementId").is_none());
    assert_eq!(complete["jobId"], job.to_string());
    assert_eq!(
        complete["counts"],
        json!({ "placements": 0, "errors": 0, "adjusted": 0, "autoFilled": 0 })
    );
}

#[tokio::test]
async fn a_retry_with_its_idempotency_key_streams_the_same_job() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    library(&app, user).await;
    let body = request(vec![seed(
        "a",
        "trend-101",
        "2026-01-27T17:00",
        "instagram",
        None,
    )]);
    let keyed = |key: &'static str, body: Value| {
        let request = app
            .client
            .post(app.url("/api/organic/generate-calendar"))
            .bearer_auth(app.token(user))
            .header("Idempotency-Key", key)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            if status != 200 {
                return (status, None, response.json::<Value>().await.unwrap());
            }
            let job: Uuid = response.headers()["x-job-id"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let lines = EventReader::from_response(response, true).rest().await;
            assert_vocabulary(&lines);
            (
                status,
                Some(job),
                json!(lines.iter().map(|l| l.data.clone()).collect::<Vec<_>>()),
            )
        }
    };
    let (_, first, lines) = keyed("retry-1", body.clone()).await;
    // The retry, after the first has ended: the same job's whole stream again.
    let (status, again, replayed) = keyed("retry-1", body.clone()).await;
    assert_eq!((status, again), (200, first));
    assert_eq!(replayed, lines);
    // Two retries at once: one job.
    let (one, two) = tokio::join!(
        keyed("retry-2", body.clone()),
        keyed("retry-2", body.clone())
    );
    assert_eq!((one.0, two.0), (200, 200));
    assert_eq!(one.1, two.1);
    // The key with another body.
    let other = request(vec![seed(
        "b",
        "trend-101",
        "2026-01-28T17:00",
        "instagram",
        None,
    )]);
    let (status, _, refused) = keyed("retry-1", other).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    let runs: i64 = sqlx::query_scalar("select count(*) from organic_runs")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(runs, 2, "one run per key");
}
