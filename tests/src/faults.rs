//! The fault suite: faults an operator meets, against real processes under load (several
//! APIs and workers on one database and a Redis of the test's own, default job settings).
//! Each scenario ends with the same audit: every accepted job succeeded, no row was saved
//! twice, and every followed stream delivered each event exactly once, ending with
//! `done`; the fleet then checks that nothing failed or unfinished is left.

use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::helpers::{
    eventually,
    fleet::{Accepted, Fleet, FleetOptions, Load},
    stream::Frame,
};

/// Followed streams: the job and what its follower saw.
type Followed = Vec<(Accepted, JoinHandle<Vec<Frame>>)>;

/// Runs the load, and follows every `every`-th accepted job's stream as it is accepted
/// (spreading them over the APIs from `first`); returns both.
fn load_and_follow(
    fleet: &Fleet,
    total: usize,
    per_second: f64,
    every: usize,
    first: usize,
) -> (JoinHandle<Load>, JoinHandle<Followed>) {
    let (load, mut accepted) = fleet.submit(total, per_second);
    let follower = fleet.follower();
    let follow = tokio::spawn(async move {
        let mut followed = Vec::new();
        let mut seen = 0;
        while let Some(job) = accepted.recv().await {
            if seen % every == 0 {
                followed.push((job, follower.follow(job, first + seen)));
            }
            seen += 1;
        }
        followed
    });
    (load, follow)
}

/// Every followed stream is complete: each event once, `done` last.
async fn assert_streams_complete(fleet: &Fleet, followed: Followed, lost_history: bool) -> usize {
    let count = followed.len();
    for (job, frames) in followed {
        let frames = frames.await.unwrap();
        fleet
            .assert_stream_complete(job.job, &frames, lost_history)
            .await;
    }
    count
}

/// Waits until worker `index` holds at least `n` running jobs; returns them.
async fn holding(fleet: &Fleet, index: usize, n: usize) -> Vec<uuid::Uuid> {
    eventually(
        Duration::from_secs(20),
        "the worker to hold jobs",
        || async {
            let held = fleet.held_by(index).await;
            (held.len() >= n).then_some(held)
        },
    )
    .await
}

async fn attempts(fleet: &Fleet, load: &Load) -> Vec<(uuid::Uuid, i32)> {
    let jobs: Vec<uuid::Uuid> = load.accepted.iter().map(|a| a.job).collect();
    sqlx::query_as("select id, attempts from jobs where id = any($1)")
        .bind(&jobs)
        .fetch_all(&fleet.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_worker_killed_under_load_loses_no_job_and_no_event() {
    let mut fleet = Fleet::start(FleetOptions::default()).await;
    let (load, followed) = load_and_follow(&fleet, 150, 50.0, 3, 0);
    holding(&fleet, 0, 3).await;
    // Frozen first, so a job it holds cannot finish between the read and the kill.
    fleet.workers[0].freeze().unwrap();
    let held = fleet.held_by(0).await;
    let killed_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("select now()")
        .fetch_one(&fleet.db)
        .await
        .unwrap();
    fleet.workers[0].kill().await;
    let load = load.await.unwrap();
    assert!(load.refused.is_empty(), "{:?}", load.refused);
    fleet
        .assert_all_succeeded_once(&load, Duration::from_secs(60))
        .await;
    // What the dead worker held ran again elsewhere, within 30 s (`make bench` measures
    // how long it takes), each with one more attempt; nothing else lost one.
    let recovered_at: chrono::DateTime<chrono::Utc> =
        sqlx::query_scalar("select max(finished_at) from jobs where id = any($1)")
            .bind(&held)
            .fetch_one(&fleet.db)
            .await
            .unwrap();
    assert!(
        recovered_at - killed_at < chrono::TimeDelta::seconds(30),
        "recovered {} after the kill",
        recovered_at - killed_at
    );
    for (job, attempts) in attempts(&fleet, &load).await {
        // The dead worker may have claimed more after `held` was read.
        let range = if held.contains(&job) { 2..=2 } else { 1..=2 };
        assert!(range.contains(&attempts), "job {job}: {attempts} attempts");
    }
    let streams = assert_streams_complete(&fleet, followed.await.unwrap(), false).await;
    assert_eq!(streams, 50);
}

#[tokio::test]
async fn redis_flushed_then_restarted_under_load_costs_no_attempt_and_no_answer() {
    let mut fleet = Fleet::start(FleetOptions::default()).await;
    let (load, followed) = load_and_follow(&fleet, 150, 50.0, 3, 0);
    holding(&fleet, 0, 1).await;
    // Everything in Redis goes: queues, events, rate limits, worker registrations.
    let mut conn = redis::Client::open(fleet.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("FLUSHALL")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    holding(&fleet, 1, 1).await;
    // Then Redis restarts (empty), as after a crash without persistence.
    fleet.redis.restart().await;
    let back = Instant::now();
    let load = load.await.unwrap();
    // Refused only while Redis was down: every request sent after it was back got its 202.
    let after: Vec<_> = load.refused.iter().filter(|(at, _)| *at > back).collect();
    assert!(after.is_empty(), "refused after Redis was back: {after:?}");
    fleet
        .assert_all_succeeded_once(&load, Duration::from_secs(60))
        .await;
    // No job waited for stale recovery: no attempt was spent.
    for (job, attempts) in attempts(&fleet, &load).await {
        assert_eq!(attempts, 1, "job {job}");
    }
    assert_streams_complete(&fleet, followed.await.unwrap(), true).await;
}

#[tokio::test]
async fn postgres_cut_under_load_delays_jobs_without_stale_recovery() {
    let fleet = Fleet::start(FleetOptions {
        db_proxy: true,
        ..Default::default()
    })
    .await;
    let (load, followed) = load_and_follow(&fleet, 120, 40.0, 3, 0);
    holding(&fleet, 0, 1).await;
    let proxy = fleet.db_proxy.as_ref().unwrap();
    proxy.partition();
    tokio::time::sleep(Duration::from_secs(3)).await; // the outage's length
    proxy.heal();
    let load = load.await.unwrap();
    fleet
        .assert_all_succeeded_once(&load, Duration::from_secs(60))
        .await;
    // Each job waited for the database, not for stale recovery (`JOB_STALE_MS` 8 s
    // after its last heartbeat), which would also have spent an attempt.
    for (job, attempts) in attempts(&fleet, &load).await {
        assert_eq!(attempts, 1, "job {job}");
    }
    assert_streams_complete(&fleet, followed.await.unwrap(), false).await;
}

#[tokio::test]
async fn a_worker_stopped_with_sigterm_finishes_or_releases_every_job_and_every_done_comes() {
    let mut fleet = Fleet::start(FleetOptions {
        apis: 1,
        workers: 2,
        env: vec![
            // Jobs held at SIGTERM cannot all finish within the grace: some are released.
            ("AI_OFFLINE_LATENCY_MS", "1500".into()),
            ("WORKER_SHUTDOWN_GRACE_MS", "800".into()),
        ],
        ..Default::default()
    })
    .await;
    let (load, followed) = load_and_follow(&fleet, 40, 20.0, 1, 0);
    holding(&fleet, 0, 3).await;
    assert!(
        fleet.workers[0].terminate().await.unwrap(),
        "the worker exits cleanly"
    );
    let load = load.await.unwrap();
    assert!(load.refused.is_empty(), "{:?}", load.refused);
    fleet
        .assert_all_succeeded_once(&load, Duration::from_secs(60))
        .await;
    for (job, attempts) in attempts(&fleet, &load).await {
        assert_eq!(attempts, 1, "job {job}: a release spends no attempt");
    }
    let streams = assert_streams_complete(&fleet, followed.await.unwrap(), false).await;
    assert_eq!(streams, 40);
}

#[tokio::test]
async fn an_api_killed_under_live_streams_repeats_and_loses_no_event_for_its_clients() {
    let mut fleet = Fleet::start(FleetOptions {
        workers: 2,
        env: vec![("AI_OFFLINE_LATENCY_MS", "400".into())],
        ..Default::default()
    })
    .await;
    // Every stream starts on API 0; after it dies, each resumes on API 1.
    let (load, followed) = load_and_follow(&fleet, 60, 30.0, 1, 0);
    holding(&fleet, 0, 3).await;
    fleet.apis[0].kill().await;
    let load = load.await.unwrap();
    fleet
        .assert_all_succeeded_once(&load, Duration::from_secs(60))
        .await;
    let followed = followed.await.unwrap();
    assert_eq!(followed.len(), load.accepted.len());
    assert_streams_complete(&fleet, followed, false).await;
}
