//! The job core with a kind of the tests' own (`helpers::probe`): a kind registered only
//! here runs, fails, is cancelled and streams like any other; and its pause right after
//! its final commit opens the gap between the ledger and the event stream, which no
//! stream, interruption or crash may turn into a lost or repeated event. A backlog is
//! claimed several jobs a statement, each job still run once.

use std::{sync::Arc, time::Duration};

use almanac_shared::{events, jobs::JobPayload as _, queue, store::jobs as ledger};
use almanac_worker::job::Job;
use uuid::Uuid;

use crate::helpers::{
    TestApp, TestOptions, eventually, probe, spawn_app_with,
    stream::{EventReader, Frame, Open, assert_complete},
};

/// A probe's events: `queued`, one `progress` per step, `saved` (staged with its
/// commit), `done`.
fn assert_probe_events(frames: &[Frame], steps: usize) {
    assert_complete(frames);
    assert_eq!(frames.len(), steps + 3, "{frames:#?}");
    assert_eq!(frames[0].data["stage"], "queued");
    let saved = &frames[steps + 1];
    assert_eq!(
        (saved.kind.as_str(), saved.data["stage"].as_str()),
        ("progress", Some("saved")),
        "{frames:#?}"
    );
    assert_eq!(frames[steps + 2].data["status"], "succeeded");
}

/// A probe's events before its commit: `queued` and one per step.
const fn before_commit(steps: usize) -> usize {
    steps + 1
}

/// How many events Redis keeps for the job: a repeated one would show here.
async fn stored_events(app: &TestApp, job: Uuid) -> i64 {
    let mut conn = app.redis.clone();
    redis::cmd("XLEN")
        .arg(events::stream_key(&app.settings, job))
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// Tasks the `probe` queue ever received (the reconciler, which would sweep finished
/// ones, runs once at start in these tests): a job queued again shows here.
async fn tasks_queued(app: &TestApp) -> i64 {
    let config = queue::queue_config(&app.settings, probe::ProbeJob::KIND);
    let mut conn = app.redis.clone();
    redis::cmd("HLEN")
        .arg(config.job_data_hash())
        .query_async(&mut conn)
        .await
        .unwrap()
}

/// Waits for the worker's first reconciler pass: finding no sentinel in a fresh
/// deployment's Redis, it queues every pending job once more (as after Redis lost its
/// data), which the queue counts of these tests must not see.
async fn first_reconcile(app: &TestApp) {
    let sentinel = app.settings.redis_key(&["sentinel"]);
    eventually(Duration::from_secs(10), "the first reconciler pass", || {
        let (mut conn, sentinel) = (app.redis.clone(), sentinel.clone());
        async move {
            let exists: bool = redis::cmd("EXISTS")
                .arg(sentinel)
                .query_async(&mut conn)
                .await
                .unwrap();
            exists.then_some(())
        }
    })
    .await;
}

/// Reads `n` events, proving the stream has read the job's history and waits for more.
async fn read_events(reader: &mut EventReader, n: usize) -> Vec<Frame> {
    let mut frames = Vec::new();
    for _ in 0..n {
        frames.push(reader.next_event().await.expect("an event"));
    }
    frames
}

#[tokio::test]
async fn a_kind_registered_only_in_the_tests_runs_fails_and_is_cancelled_like_any_other() {
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        probe: true,
        ..Default::default()
    })
    .await;
    app.expect_failed_jobs();
    let user = Uuid::new_v4();
    let (runs, cancelled, refused) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let run_job = app.submit_probe(user, runs, 3).await;
    let cancelled_job = app.submit_probe(user, cancelled, 3).await;
    // A negative step count is refused by the handler: a permanent failure.
    let refused_job = app.submit_probe(user, refused, -1).await;

    // Cancelled while pending: its row ends through the ending its migration registered.
    let (status, body) = app.cancel(user, cancelled_job).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "cancelled");
    assert_eq!(body["data"]["result"]["probe_id"], cancelled.to_string());
    assert_eq!(app.probe(cancelled).await, ("cancelled".into(), 0));

    app.start_worker().await;
    let frames = app.all_events(user, run_job, Open::default()).await;
    assert_probe_events(&frames, 3);
    assert_eq!(app.probe(runs).await, ("succeeded".into(), 3));

    let frames = app.all_events(user, refused_job, Open::ndjson()).await;
    let done = frames.last().unwrap();
    assert_eq!(done.data["status"], "failed", "{frames:#?}");
    assert_eq!(done.data["error"]["code"], "PROBE_REFUSED");
    assert_eq!(app.job_status(refused_job).await, "failed");
    assert_eq!(app.probe(refused).await, ("failed".into(), 0));
    // The cancelled job was not run.
    assert_eq!(app.job_status(cancelled_job).await, "cancelled");
    assert_eq!(app.probe(cancelled).await, ("cancelled".into(), 0));
}

#[tokio::test]
async fn sixty_streams_opened_between_a_commit_and_its_final_events_get_every_event_once() {
    const JOBS: usize = 20;
    const STEPS: usize = 2;
    let app = spawn_app_with(TestOptions {
        probe: true,
        // Streams wait up to 10 s for a worker's final events; the worker's heartbeat,
        // which would notice the commit and publish them itself, is out of the way; and
        // all twenty jobs run at once.
        env: vec![
            ("JOB_HEARTBEAT_MS", "10000".into()),
            ("JOB_STALE_MS", "20000".into()),
        ],
        worker_env: vec![
            ("JOB_HEARTBEAT_MS", "60000".into()),
            ("JOB_STALE_MS", "120000".into()),
            ("WORKER_CONCURRENCY", "32".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let mut held = Vec::new();
    for _ in 0..JOBS {
        let probe_id = Uuid::new_v4();
        let gate = probe::hold(probe_id);
        let job = app.submit_probe(user, probe_id, STEPS as i32).await;
        held.push((job, gate));
    }
    for (job, gate) in &held {
        gate.reached().await;
        assert_eq!(app.job_status(*job).await, "succeeded");
    }
    // Every job has ended in the ledger and none has published its final events: open
    // three streams on each (live SSE, live NDJSON, SSE resuming after the first event)
    // and read what each has so far.
    let opening = held.iter().flat_map(|(job, _)| {
        [
            (Open::default(), before_commit(STEPS)),
            (Open::ndjson(), before_commit(STEPS)),
            (Open::resuming("1"), before_commit(STEPS) - 1),
        ]
        .map(|(open, seen)| {
            let (app, job) = (&app, *job);
            async move {
                let resumed = open.last_event_id.is_some();
                let mut reader = app.open_events(user, job, open).await;
                let frames = read_events(&mut reader, seen).await;
                (job, resumed, frames, reader)
            }
        })
    });
    let streams = futures::future::join_all(opening).await;
    assert_eq!(streams.len(), 60);
    for (job, _) in &held {
        assert_eq!(
            stored_events(&app, *job).await,
            before_commit(STEPS) as i64,
            "still in the gap"
        );
    }
    for (_, gate) in &held {
        gate.open();
    }
    for (job, resumed, mut frames, mut reader) in streams {
        frames.extend(reader.rest().await);
        if resumed {
            assert_eq!(frames[0].id, Some(2), "{frames:#?}");
            let first = app.all_events(user, job, Open::default()).await;
            assert_eq!(&first[1..], &frames[..], "the resumed stream is the rest");
        } else {
            assert_probe_events(&frames, STEPS);
        }
    }
    for (job, _) in &held {
        assert_eq!(
            stored_events(&app, *job).await,
            before_commit(STEPS) as i64 + 2,
            "nothing twice"
        );
    }
}

#[tokio::test]
async fn a_worker_that_dies_between_its_commit_and_its_final_events_loses_none_of_them() {
    let mut app = spawn_app_with(TestOptions {
        probe: true,
        worker_env: vec![
            ("JOB_HEARTBEAT_MS", "60000".into()),
            ("JOB_STALE_MS", "120000".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let probe_id = Uuid::new_v4();
    let gate = probe::hold(probe_id);
    let job = app.submit_probe(user, probe_id, 1).await;
    gate.reached().await;
    let mut sse = app.open_events(user, job, Open::default()).await;
    let mut ndjson = app.open_events(user, job, Open::ndjson()).await;
    let mut frames = read_events(&mut sse, before_commit(1)).await;
    let mut lines = read_events(&mut ndjson, before_commit(1)).await;
    // It dies: what its commit staged is published by the streams that waited for it.
    app.kill_worker(0);
    frames.extend(sse.rest().await);
    lines.extend(ndjson.rest().await);
    assert_probe_events(&frames, 1);
    assert_probe_events(&lines, 1);
    assert_eq!(stored_events(&app, job).await, 4);
    // A client that comes later, or resumes after `done`, sees the same.
    assert_probe_events(&app.all_events(user, job, Open::default()).await, 1);
    let after_done = app.open_events_raw(user, job, &Open::resuming("4")).await;
    assert_eq!(after_done.status(), 204);
    assert_eq!(app.job_status(job).await, "succeeded");
}

/// A probe job of two steps whose handler is paused right after its final commit.
struct PausedAfterCommit {
    app: TestApp,
    user: Uuid,
    probe_id: Uuid,
    job: Uuid,
    gate: Arc<probe::Gate>,
}

/// Starts the app (the API's streams would wait a minute to publish what the ledger says,
/// so only the worker can publish in time) and pauses a probe job after its commit.
async fn pause_after_commit(worker_env: Vec<(&'static str, String)>) -> PausedAfterCommit {
    let app = spawn_app_with(TestOptions {
        probe: true,
        env: vec![
            ("JOB_HEARTBEAT_MS", "60000".into()),
            ("JOB_STALE_MS", "120000".into()),
        ],
        worker_env,
        ..Default::default()
    })
    .await;
    first_reconcile(&app).await;
    let user = Uuid::new_v4();
    let probe_id = Uuid::new_v4();
    let gate = probe::hold(probe_id);
    let job = app.submit_probe(user, probe_id, 2).await;
    gate.reached().await;
    PausedAfterCommit {
        app,
        user,
        probe_id,
        job,
        gate,
    }
}

impl PausedAfterCommit {
    /// The job succeeded in one attempt, was queued once, and its stream holds and
    /// delivers every event once.
    async fn assert_ended_once(&self) {
        let (app, user, job) = (&self.app, self.user, self.job);
        let frames = app.all_events(user, job, Open::default()).await;
        assert_probe_events(&frames, 2);
        assert_eq!(stored_events(app, job).await, 5);
        let (status, body) = app.get_json(user, &format!("/v1/jobs/{job}")).await;
        assert_eq!(status, 200);
        assert_eq!(
            (
                body["data"]["status"].as_str(),
                body["data"]["attempts"].as_i64()
            ),
            (Some("succeeded"), Some(1)),
            "{body}"
        );
        assert_eq!(app.probe(self.probe_id).await, ("succeeded".into(), 2));
        assert_eq!(
            tasks_queued(app).await,
            1,
            "an ended job is not queued again"
        );
    }
}

#[tokio::test]
async fn a_heartbeat_after_the_final_commit_publishes_the_final_events_and_queues_nothing() {
    // The handler stays paused after its commit; its next heartbeat finds the job ended,
    // and the runner publishes what the ledger says instead of giving up the attempt.
    let paused = pause_after_commit(vec![
        ("JOB_HEARTBEAT_MS", "100".into()),
        ("JOB_STALE_MS", "600".into()),
        ("RECONCILE_INTERVAL_MS", "600000".into()),
    ])
    .await;
    paused.assert_ended_once().await;
    paused.gate.open();
}

#[tokio::test]
async fn a_hard_stop_after_the_final_commit_neither_releases_nor_requeues_the_job() {
    let mut paused = pause_after_commit(vec![
        ("JOB_HEARTBEAT_MS", "60000".into()),
        ("JOB_STALE_MS", "120000".into()),
        ("WORKER_SHUTDOWN_GRACE_MS", "200".into()),
        ("RECONCILE_INTERVAL_MS", "600000".into()),
    ])
    .await;
    // SIGTERM; the grace runs out while the handler is paused after its commit. The worker
    // published the final events before it stopped.
    paused.app.stop_worker(0).await;
    paused.assert_ended_once().await;
    paused.gate.open();
}

#[tokio::test]
async fn a_cancel_that_arrives_after_the_final_commit_changes_nothing() {
    let paused = pause_after_commit(vec![("RECONCILE_INTERVAL_MS", "600000".into())]).await;
    // The owner's cancel was on its way when the job committed its end: it reaches the
    // worker while the handler is still paused after the commit.
    assert!(paused.app.worker_context(0).cancels.cancel(paused.job));
    paused.assert_ended_once().await;
    paused.gate.open();
}

/// One claim statement takes every ready job it may (each with its kind's first step, in
/// one transaction), and nothing that is not ready: a retry not yet due, a finished job,
/// one another worker holds.
#[tokio::test]
async fn one_claim_statement_takes_the_ready_jobs_and_nothing_else() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        probe: true,
        ..Default::default()
    })
    .await;
    // Claimed here, and never run.
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let mut jobs = Vec::new();
    for steps in 1..=5 {
        jobs.push(app.submit_probe(user, Uuid::new_v4(), steps).await);
    }
    let [ready, also_ready, finished, running, later] = jobs[..] else {
        unreachable!("five jobs")
    };
    sqlx::query("update jobs set status = 'succeeded', finished_at = now() where id = $1")
        .bind(finished)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("update jobs set run_after = now() + interval '1 hour' where id = $1")
        .bind(later)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query(
        "update jobs set status = 'running', attempts = 1, worker = 'another worker',
                heartbeat_at = now() where id = $1",
    )
    .bind(running)
    .execute(&app.db)
    .await
    .unwrap();
    let start = <probe::ProbeJob as Job>::START;
    let turns = ledger::Turns {
        per_key: 10,
        per_user: None,
        aging: Duration::from_secs(30),
    };
    // One claim statement of up to 7 jobs, as a worker makes it.
    let claim = || {
        ledger::claim(
            &app.db,
            probe::ProbeJob::KIND,
            7,
            "this worker",
            Uuid::now_v7(),
            start,
            turns,
        )
    };
    let claims = claim().await.unwrap();
    let mut claimed: Vec<(Uuid, i32, &str, Option<serde_json::Value>)> = claims
        .iter()
        .map(|c| (c.id, c.attempt, c.worker.as_str(), c.started.clone()))
        .collect();
    claimed.sort_by_key(|c| c.0);
    assert_eq!(
        claimed,
        vec![
            (
                ready,
                1,
                "this worker",
                Some(serde_json::json!({ "steps": 1 }))
            ),
            (
                also_ready,
                1,
                "this worker",
                Some(serde_json::json!({ "steps": 2 }))
            ),
        ]
    );
    // One statement: one transaction's time on both.
    let started: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "select started_at from jobs where worker = 'this worker' and status = 'running'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(started.len(), 2);
    assert_eq!(started[0], started[1], "claimed in one statement");
    let again = claim().await.unwrap();
    assert!(again.is_empty(), "nothing else is ready: {again:?}");
}

/// A worker with a backlog claims it several jobs a statement (the jobs one statement
/// claimed share its transaction's `started_at`), and every job runs exactly once.
#[tokio::test]
async fn a_backlog_is_claimed_several_jobs_a_statement_and_each_job_runs_once() {
    const JOBS: usize = 40;
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        probe: true,
        worker_env: vec![
            ("WORKER_CONCURRENCY", JOBS.to_string()),
            ("JOB_MAX_RUNNING_PER_USER", JOBS.to_string()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let mut jobs = Vec::new();
    for _ in 0..JOBS {
        let probe_id = Uuid::new_v4();
        jobs.push((probe_id, app.submit_probe(user, probe_id, 1).await));
    }
    app.start_worker().await;
    for (probe_id, job) in &jobs {
        let frames = app.all_events(user, *job, Open::default()).await;
        assert_probe_events(&frames, 1);
        assert_eq!(app.probe(*probe_id).await, ("succeeded".into(), 1));
    }
    let ids: Vec<Uuid> = jobs.iter().map(|(_, job)| *job).collect();
    let (attempts, statements): (i64, i64) = sqlx::query_as(
        "select sum(attempts), count(distinct started_at) from jobs
         where id = any($1) and status = 'succeeded'",
    )
    .bind(&ids)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(attempts, JOBS as i64, "each job claimed once");
    assert!(
        statements <= (JOBS / 4) as i64,
        "{JOBS} queued jobs took {statements} claim statements"
    );
}
