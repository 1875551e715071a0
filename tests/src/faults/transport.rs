//! Faults of the transport, in process: a job in flight survives its queue worker losing
//! Redis; Postgres becoming unreachable under a job delays it without spending an attempt
//! or leaving it to stale recovery; after Redis restarts empty, the first request is
//! answered and queued work resumes at once. (`faults` repeats these against real
//! processes under load.)

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, TestOptions, eventually, redis_server::RedisServer, source_text,
    spawn_app_with, stream::Open,
};

#[tokio::test]
async fn a_job_in_flight_outlives_its_queue_worker_losing_redis() {
    let fake = FakeAi::start(
        vec![Behaviour::Delay(Duration::from_millis(1500))],
        Behaviour::Ok,
    )
    .await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        redis_proxy: true,
        // Only a lost claim could make this job run twice: not stale recovery.
        env: vec![("JOB_STALE_MS", "60000".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (generation, job) = app.submit_job(user, 1500).await;
    fake.wait_for_calls(1).await;
    // Every Redis connection of the API and the worker drops: the apalis worker that
    // delivered the job fails and is restarted; the job itself goes on.
    app.redis_proxy.as_ref().unwrap().sever();
    let finished = app.wait_finished(user, generation).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    let (status, attempts, _) = app.job_of(generation).await;
    assert_eq!((status.as_str(), attempts), ("succeeded", 1));
    assert_eq!(fake.calls(), 1, "the AI was asked once");
    let frames = app.all_events(user, job, Open::default()).await;
    let done = frames.last().unwrap();
    assert_eq!(
        (done.kind.as_str(), done.data["status"].as_str()),
        ("done", Some("succeeded")),
        "{frames:#?}"
    );
    let cards: usize = frames
        .iter()
        .filter(|f| f.kind == "suggestions")
        .map(|f| f.data["suggestions"].as_array().unwrap().len())
        .sum();
    assert_eq!(cards, 3, "{frames:#?}");
}

#[tokio::test]
async fn postgres_cut_under_a_job_delays_it_without_spending_an_attempt() {
    let fake = FakeAi::start(
        vec![Behaviour::Delay(Duration::from_millis(800))],
        Behaviour::Ok,
    )
    .await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        db_proxy: true,
        // Recovery, if any were needed, would have to come from the worker itself.
        env: vec![
            ("JOB_STALE_MS", "60000".into()),
            ("JOB_REQUEUE_MS", "60000".into()),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "300".into()),
            ("WORKER_DATABASE_ACQUIRE_TIMEOUT_MS", "300".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (generation, _) = app.submit_job(user, 1500).await;
    fake.wait_for_calls(1).await;
    // Postgres is cut for 1.5 s while the AI answers: saving the batch fails.
    let proxy = app.db_proxy.as_ref().unwrap();
    proxy.partition();
    tokio::time::sleep(Duration::from_millis(1500)).await; // the outage's length
    proxy.heal();
    let (status, attempts, _) = eventually(Duration::from_secs(20), "the job to end", || async {
        let job = app.job_of(generation).await;
        matches!(job.0.as_str(), "succeeded" | "failed").then_some(job)
    })
    .await;
    assert_eq!(
        (status.as_str(), attempts),
        ("succeeded", 1),
        "the outage did not count as an attempt"
    );
    let saved: i64 =
        sqlx::query_scalar("select count(*) from ai_suggestions where generation_id = $1")
            .bind(generation)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(saved, 3);
}

#[tokio::test]
async fn the_first_request_after_a_redis_restart_is_answered_and_queued_work_resumes() {
    let mut redis = RedisServer::start().await;
    let app = spawn_app_with(TestOptions {
        redis_url: Some(redis.url()),
        // Queued work must resume because Redis was seen to lose it, not by this timer.
        env: vec![("JOB_REQUEUE_MS", "60000".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let before = app.submit(user).await;
    assert_eq!(app.wait_finished(user, before).await["status"], "succeeded");

    // Redis restarts, empty. Every connection the API and the worker held is dead, and
    // the first request is the first to find out.
    redis.restart().await;
    let request = json!({ "source_text": source_text(1500) });
    let response = app.post_generation(user, &request).await;
    assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
    let accepted: serde_json::Value = response.json().await.unwrap();
    let after: Uuid = accepted["generation_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(app.wait_finished(user, after).await["status"], "succeeded");
    let (status, ready) = app.get_json(user, "/readyz").await;
    assert_eq!((status, &ready["redis"]), (200, &json!(true)), "{ready}");
}

#[tokio::test]
async fn jobs_queued_in_a_redis_that_lost_everything_run_without_waiting_for_the_requeue() {
    let mut app = spawn_app_with(TestOptions {
        env: vec![("JOB_REQUEUE_MS", "60000".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    // A worker has run (and left its sentinel in Redis), then no worker runs while jobs
    // are queued, and Redis loses everything.
    let first = app.submit(user).await;
    assert_eq!(app.wait_finished(user, first).await["status"], "succeeded");
    app.stop_worker(0).await;
    let mut queued = Vec::new();
    for _ in 0..3 {
        queued.push(app.submit(user).await);
    }
    app.flush_redis().await;
    app.start_worker().await;
    for id in queued {
        let finished = app
            .wait_finished_within(user, id, Duration::from_secs(20))
            .await;
        assert_eq!(finished["status"], "succeeded", "{finished}");
        assert_eq!(app.job_of(id).await.1, 1, "no attempt spent");
    }
}
