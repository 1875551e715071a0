//! Cancelling jobs: a running one stops within a second and keeps what it made; a pending
//! one ends at once; an ended one cannot be cancelled.

use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, TestOptions, eventually, spawn_app_with, spawn_app_with_fake,
    stream::{Open, assert_complete},
};

#[tokio::test]
async fn cancel_stops_a_running_job_within_a_second_and_keeps_what_it_made() {
    // The first batch is answered; the second call never is.
    let fake = FakeAi::start(vec![Behaviour::Ok], Behaviour::Hang).await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        // Far longer than the test: the cancel must not depend on a heartbeat or timeout.
        env: vec![
            ("JOB_HEARTBEAT_MS", "30000".into()),
            ("JOB_STALE_MS", "60000".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (generation_id, job) = app.submit_job(user, 7000).await;
    let mut events = app.open_events(user, job, Open::default()).await;
    loop {
        if events.next_event().await.unwrap().kind == "suggestions" {
            break;
        }
    }
    fake.wait_for_calls(2).await;

    let asked = Instant::now();
    let (status, body) = app.cancel(user, job).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["cancelRequested"], true);
    eventually(
        Duration::from_secs(5),
        "the job to be cancelled",
        || async { (app.job_status(job).await == "cancelled").then_some(()) },
    )
    .await;
    let took = asked.elapsed();
    assert!(took < Duration::from_secs(1), "cancelled after {took:?}");

    let rest = events.rest().await;
    let done = rest.last().unwrap();
    assert_eq!(done.kind, "done");
    assert_eq!(done.data["status"], "cancelled");
    assert_eq!(done.data["result"]["suggestions"], 3);
    // The first batch's cards stay; the generation says cancelled.
    assert_eq!(app.suggestions(user, generation_id).await.len(), 3);
    assert_eq!(
        app.generation(user, generation_id).await["status"],
        "cancelled"
    );
    // The provider's request in flight was abandoned, and no other was made.
    eventually(
        Duration::from_secs(5),
        "the provider to see the abort",
        || async { (fake.aborted() == 1).then_some(()) },
    )
    .await;
    assert_eq!(fake.calls(), 2);

    // Cancelling again is harmless.
    let (status, body) = app.cancel(user, job).await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("cancelled"))
    );
}

#[tokio::test]
async fn a_pending_job_is_cancelled_at_once_and_an_ended_one_cannot_be() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let mut app = spawn_app_with_fake(&fake, false).await;
    let user = Uuid::new_v4();
    let (generation_id, job) = app.submit_job(user, 1500).await;
    let (status, body) = app.cancel(user, job).await;
    assert_eq!(
        (status, body["data"]["status"].as_str()),
        (200, Some("cancelled"))
    );
    let events = app.all_events(user, job, Open::default()).await;
    assert_complete(&events);
    assert_eq!(events.last().unwrap().data["status"], "cancelled");
    assert_eq!(
        app.generation(user, generation_id).await["status"],
        "cancelled"
    );
    assert_eq!(app.cancel(user, job).await.0, 200);

    // A worker never runs it.
    let (_, other) = app.submit_job(user, 1500).await;
    app.start_worker().await;
    eventually(
        Duration::from_secs(10),
        "the other job to finish",
        || async { (app.job_status(other).await == "succeeded").then_some(()) },
    )
    .await;
    assert_eq!(app.job_status(job).await, "cancelled");
    assert_eq!(fake.calls(), 1);
    let (status, body) = app.cancel(user, other).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("JOB_FINISHED"))
    );
}
