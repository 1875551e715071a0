//! Failure on purpose: provider errors and timeouts, a worker killed mid-job, Redis
//! flushed, Postgres unreachable.

use almanac_shared::{
    domain::generation::GenerationJob, jobs::JobPayload as _, store::jobs as ledger,
};
use std::time::{Duration, Instant};

use serde_json::json;
use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, TestOptions, source_text, spawn_app_with, spawn_app_with_ai,
};

#[tokio::test]
async fn provider_failing_twice_then_answering_succeeds_after_retries() {
    let fake = FakeAi::start(
        vec![Behaviour::Status(500), Behaviour::Status(500)],
        Behaviour::Ok,
    )
    .await;
    let app = spawn_app_with_ai(&fake).await;
    let user = Uuid::new_v4();
    let id = app.submit(user).await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "succeeded", "{generation}");
    assert_eq!(fake.calls(), 3, "two retries, then success");
    assert_eq!(generation["ai_metadata"]["provider_attempts"], 3);
    assert_eq!(app.suggestions(user, id).await.len(), 3);
}

#[tokio::test]
async fn provider_always_failing_ends_failed_with_bounded_attempts() {
    let fake = FakeAi::start(vec![], Behaviour::Status(500)).await;
    let app = spawn_app_with_ai(&fake).await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    let id = app.submit(user).await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "failed");
    assert_eq!(generation["error"]["code"], "AI_PROVIDER_UNAVAILABLE");
    assert_eq!(generation["error"]["provider_status"], 500);
    assert!(
        generation["error"]["message"]
            .as_str()
            .unwrap()
            .contains("HTTP 500")
    );
    let (status, attempts, error) = app.job_of(id).await;
    assert_eq!(status, "failed");
    assert_eq!(attempts, 3, "the generation kind gets 3 attempts");
    assert_eq!(error.unwrap()["attempts"], 3);
    // 3 job attempts x (1 call + 2 client retries), and not one more.
    assert_eq!(fake.calls(), 9);
    assert!(app.suggestions(user, id).await.is_empty());
    // Each attempt that is tried again says so as a retry, not as the job's end.
    let job: Uuid = sqlx::query_scalar("select job_id from ai_generations where id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let frames = app
        .all_events(user, job, crate::helpers::stream::Open::default())
        .await;
    let retries: Vec<_> = frames
        .iter()
        .filter(|f| f.kind == "error" && f.data["retrying"] == true)
        .collect();
    assert_eq!(retries.len(), 2, "{frames:#?}");
}

#[tokio::test]
async fn provider_slower_than_the_timeout_ends_failed() {
    let fake = FakeAi::start(vec![], Behaviour::Delay(Duration::from_secs(5))).await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("AI_TIMEOUT_MS", "150".into()),
            ("AI_MAX_RETRIES", "1".into()),
        ],
        ..Default::default()
    })
    .await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    let id = app.submit(user).await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "failed");
    assert_eq!(generation["error"]["code"], "AI_PROVIDER_UNAVAILABLE");
    assert!(
        generation["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no answer within 150 ms"),
        "{generation}"
    );
    assert_eq!(app.job_of(id).await.1, 3);
    assert_eq!(fake.calls(), 6);
}

#[tokio::test]
async fn a_job_whose_worker_dies_is_picked_up_again_without_duplicates() {
    let fake = FakeAi::start(vec![Behaviour::Hang], Behaviour::Ok).await;
    let mut app = spawn_app_with_ai(&fake).await;
    let user = Uuid::new_v4();
    let id = app.submit(user).await;
    // The first worker is inside the AI call when it dies.
    fake.wait_for_calls(1).await;
    app.kill_worker(0);
    assert_eq!(app.job_of(id).await.0, "running");
    app.start_worker().await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "succeeded", "{generation}");
    let (_, attempts, _) = app.job_of(id).await;
    assert_eq!(attempts, 2, "the second attempt finished the job");
    assert_eq!(
        app.suggestions(user, id).await.len(),
        3,
        "no duplicated suggestions"
    );
    let rows: i64 =
        sqlx::query_scalar("select count(*) from ai_suggestions where generation_id = $1")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(rows, 3);
}

#[tokio::test]
async fn jobs_survive_redis_losing_everything() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    // Submitted while no worker runs, then Redis forgets the queue.
    let before = app.submit(user).await;
    app.flush_redis().await;
    app.start_worker().await;
    assert_eq!(app.wait_finished(user, before).await["status"], "succeeded");
    // The running worker's own registration is wiped too; later jobs still run.
    app.flush_redis().await;
    let after = app.submit(user).await;
    assert_eq!(app.wait_finished(user, after).await["status"], "succeeded");
}

#[tokio::test]
async fn postgres_unreachable_answers_503_quickly() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        db_proxy: true,
        env: vec![("GENERATION_RATE_LIMIT", "3".into())],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    app.submit(user).await;
    app.db_proxy.as_ref().unwrap().partition();

    let request = json!({ "source_text": source_text(1500) });
    let started = Instant::now();
    let response = app.post_generation(user, &request).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(body["meta"]["requestId"].is_string());
    // The pool gives up after DATABASE_ACQUIRE_TIMEOUT_MS (800): the client is not left hanging.
    assert!(
        elapsed < Duration::from_millis(1500),
        "answered after {elapsed:?}"
    );

    let (status, ready) = app.get_json(user, "/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(ready["postgres"], false);
    assert_eq!(ready["redis"], true);

    // Failed attempts do not use up the user's limit (3 here).
    for _ in 0..3 {
        assert_eq!(app.post_generation(user, &request).await.status(), 503);
    }

    // When the database is back, so is the API: broken connections are dropped, not reused.
    app.db_proxy.as_ref().unwrap().heal();
    crate::helpers::eventually(
        Duration::from_secs(10),
        "submissions to succeed again",
        || async {
            let status = app.post_generation(user, &request).await.status();
            assert_ne!(status, 429, "a failed attempt used up a rate-limit slot");
            (status == 202).then_some(())
        },
    )
    .await;
    // The first submit and the one just accepted used two of the three slots.
    assert_eq!(app.post_generation(user, &request).await.status(), 202);
    assert_eq!(app.post_generation(user, &request).await.status(), 429);
}

#[tokio::test]
async fn a_stopping_worker_finishes_its_jobs_within_the_grace_period() {
    let fake = FakeAi::start(
        vec![Behaviour::Delay(Duration::from_millis(800))],
        Behaviour::Ok,
    )
    .await;
    let mut app = spawn_app_with_ai(&fake).await;
    let user = Uuid::new_v4();
    let id = app.submit(user).await;
    fake.wait_for_calls(1).await;
    app.stop_worker(0).await;
    // The worker returned only after finishing the job it held.
    let generation = app.generation(user, id).await;
    assert_eq!(generation["status"], "succeeded", "{generation}");
    assert_eq!(app.job_of(id).await.1, 1);
}

#[tokio::test]
async fn a_stopping_worker_releases_what_it_cannot_finish() {
    let fake = FakeAi::start(vec![Behaviour::Hang], Behaviour::Ok).await;
    let mut app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("WORKER_SHUTDOWN_GRACE_MS", "300".into()),
            // Recovery must come from the release, not from the reconciler's stale check.
            ("JOB_STALE_MS", "60000".into()),
            ("JOB_HEARTBEAT_MS", "200".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let id = app.submit(user).await;
    fake.wait_for_calls(1).await;
    app.stop_worker(0).await;
    let (status, attempts, _) = app.job_of(id).await;
    assert_eq!(
        (status.as_str(), attempts),
        ("pending", 0),
        "released without spending an attempt"
    );
    app.start_worker().await;
    let generation = app.wait_finished(user, id).await;
    assert_eq!(generation["status"], "succeeded");
    assert_eq!(app.job_of(id).await.1, 1);
}

#[tokio::test]
async fn the_reconciler_recovers_fails_and_requeues_exactly_what_it_should() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        ..Default::default()
    })
    .await;
    app.expect_failed_jobs();
    app.expect_unfinished_jobs();
    let (user, busy) = (Uuid::new_v4(), Uuid::new_v4());
    let insert = |user: Uuid,
                  status: &'static str,
                  attempts: i32,
                  heartbeat_secs_ago: f64,
                  enqueued_secs_ago: Option<f64>| {
        let db = app.db.clone();
        async move {
            let id = Uuid::now_v7();
            sqlx::query(
                "insert into jobs (id, user_id, kind, status, payload, attempts, max_attempts, worker,
                                   heartbeat_at, enqueued_at)
                 values ($1, $2, 'generation', $3, '{\"type\": \"generation.v1\", \"generation_id\": \"00000000-0000-0000-0000-000000000000\"}',
                         $4, 3, case when $3 = 'running' then 'dead-worker-1' end,
                         case when $3 = 'running' then now() - make_interval(secs => $5) end,
                         now() - make_interval(secs => $6))",
            )
            .bind(id)
            .bind(user)
            .bind(status)
            .bind(attempts)
            .bind(heartbeat_secs_ago)
            .bind(enqueued_secs_ago.unwrap_or(0.0))
            .execute(&db)
            .await
            .unwrap();
            id
        }
    };
    let stale_with_attempts_left = insert(user, "running", 1, 60.0, None).await;
    let stale_on_last_attempt = insert(user, "running", 3, 60.0, None).await;
    let forgotten = insert(user, "pending", 0, 0.0, Some(60.0)).await;
    let just_enqueued = insert(user, "pending", 0, 0.0, Some(0.0)).await;
    // A user with a job of the kind running needs no wake-up: that job's slot takes the
    // next turn when it ends.
    let healthy = insert(busy, "running", 1, 0.0, None).await;
    let waits_its_turn = insert(busy, "pending", 0, 0.0, Some(60.0)).await;

    // A pass: heartbeats stale after 10 s, pending jobs pushed again after 30 s.
    let pass = || {
        ledger::reconcile(
            &app.db,
            Duration::from_secs(10),
            Duration::from_secs(30),
            false,
        )
    };
    let report = pass().await.unwrap();
    assert_eq!((report.recovered, report.failed), (1, 1));
    // The recovered job is due now and unenqueued, so the same pass hands it back too.
    let mut requeued: Vec<Uuid> = report.requeued.iter().map(|(id, _)| *id).collect();
    requeued.sort();
    let mut expected = vec![stale_with_attempts_left, forgotten];
    expected.sort();
    assert_eq!(requeued, expected);
    assert!(
        report
            .requeued
            .iter()
            .all(|(_, kind)| *kind == GenerationJob::KIND)
    );

    let state = |id: Uuid| {
        let db = app.db.clone();
        async move {
            let row: (
                String,
                Option<String>,
                Option<sqlx::types::Json<serde_json::Value>>,
            ) = sqlx::query_as("select status, worker, error from jobs where id = $1")
                .bind(id)
                .fetch_one(&db)
                .await
                .unwrap();
            (row.0, row.1, row.2.map(|j| j.0))
        }
    };
    assert_eq!(state(stale_with_attempts_left).await.0, "pending");
    let (status, worker, error) = state(stale_on_last_attempt).await;
    assert_eq!((status.as_str(), worker), ("failed", None));
    let error = error.unwrap();
    assert_eq!(error["code"], "WORKER_LOST");
    assert_eq!(error["worker"], "dead-worker-1");
    assert_eq!(state(healthy).await.0, "running");
    assert_eq!(state(just_enqueued).await.0, "pending");
    // A second pass finds nothing new to do.
    let again = pass().await.unwrap();
    assert_eq!(
        (again.recovered, again.failed, again.requeued.len()),
        (0, 0, 0)
    );
    // Once the busy user's running job has ended with no slot to take the turn (its
    // worker stopped), their waiting job is pushed.
    sqlx::query("update jobs set status = 'succeeded', finished_at = now() where id = $1")
        .bind(healthy)
        .execute(&app.db)
        .await
        .unwrap();
    let after = pass().await.unwrap();
    assert_eq!(after.requeued, [(waits_its_turn, GenerationJob::KIND)]);
}

/// apalis-redis keeps every finished task's data in Redis forever; the reconciler sweeps it,
/// so Redis holds only work in progress.
#[tokio::test]
async fn finished_tasks_leave_nothing_in_redis() {
    let app = spawn_app_with(TestOptions {
        env: vec![("GENERATION_RATE_LIMIT", "100".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    for _ in 0..5 {
        let id = app.submit(user).await;
        assert_eq!(app.wait_finished(user, id).await["status"], "succeeded");
    }
    let queue = almanac_shared::queue::queue_name(&app.settings, GenerationJob::KIND);
    crate::helpers::eventually(Duration::from_secs(10), "the sweep", || {
        let (mut conn, queue) = (app.redis.clone(), queue.clone());
        async move {
            let data: i64 = redis::cmd("HLEN")
                .arg(format!("{queue}:data"))
                .query_async(&mut conn)
                .await
                .unwrap();
            let done: i64 = redis::cmd("SCARD")
                .arg(format!("{queue}:done"))
                .query_async(&mut conn)
                .await
                .unwrap();
            let metas: Vec<String> = redis::cmd("KEYS")
                .arg(format!("{queue}:meta:*"))
                .query_async(&mut conn)
                .await
                .unwrap();
            (data == 0 && done == 0 && metas.is_empty()).then_some(())
        }
    })
    .await;
    // The queue still works after a sweep.
    let id = app.submit(user).await;
    assert_eq!(app.wait_finished(user, id).await["status"], "succeeded");
}
