//! The fault suite: faults an operator meets, against real processes under load (several
//! APIs and workers on one database and a Redis of the test's own, default job settings).
//! Each scenario ends with the same audit: every accepted job succeeded, no row was saved
//! twice, and every followed stream delivered each event exactly once, ending with
//! `done`; the fleet then checks that nothing failed or unfinished is left.

mod busy;
mod relay;
mod reliability;
mod transport;

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
    fleet.workers[0].kill().await;
    let load = load.await.unwrap();
    assert!(load.refused.is_empty(), "{:?}", load.refused);
    fleet
        .assert_all_succeeded_once(&load, Duration::from_secs(60))
        .await;
    // What the dead worker held ran again elsewhere, each with one more attempt; nothing
    // else lost one. (How soon is `make bench`'s to measure: its recovery phase.)
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

/// Redis flushed again and again while cards trickle in (each saved in its own commit,
/// its events staged before it): a commit whose staged events the flush took is still
/// delivered by the worker that made it, so every followed stream gets every committed
/// suggestion, its ids hiding no gap.
#[tokio::test]
async fn redis_flushed_while_streams_follow_staged_commits_delivers_or_tells_every_batch() {
    let fleet = Fleet::start(FleetOptions {
        env: vec![("AI_OFFLINE_TOKENS_PER_SEC", "3000".into())],
        ..Default::default()
    })
    .await;
    let (load, followed) = load_and_follow(&fleet, 90, 30.0, 1, 0);
    let mut conn = redis::Client::open(fleet.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let jobs = |status: &'static str| {
        sqlx::query_scalar::<_, i64>("select count(*) from jobs where status = $1")
            .bind(status)
            .fetch_one(&fleet.db)
    };
    let succeeded = || async { jobs("succeeded").await.unwrap() };
    for _ in 0..3 {
        // Each flush lands while the workers are in the middle of jobs (whichever holds
        // them: the flush takes every worker's staged events alike), and the next only once
        // more jobs have ended since.
        eventually(
            Duration::from_secs(20),
            "the workers to hold jobs",
            || async { (jobs("running").await.unwrap() >= 2).then_some(()) },
        )
        .await;
        let before = succeeded().await;
        redis::cmd("FLUSHALL")
            .query_async::<()>(&mut conn)
            .await
            .unwrap();
        eventually(
            Duration::from_secs(30),
            "jobs to end after the flush",
            || async { (succeeded().await >= before + 5).then_some(()) },
        )
        .await;
    }
    let load = load.await.unwrap();
    fleet
        .assert_all_succeeded_once(&load, Duration::from_secs(60))
        .await;
    // Each follower connected as its job was accepted and stayed connected: whatever was
    // published before a flush reached it live, so a notice can cover only events Redis
    // never published. Every saved suggestion must have come.
    let mut told = 0;
    for (job, frames) in followed.await.unwrap() {
        let frames = frames.await.unwrap();
        told += usize::from(frames.iter().any(|f| f.kind == "truncated"));
        fleet.assert_stream_complete(job.job, &frames, true).await;
        let streamed: std::collections::HashSet<uuid::Uuid> = frames
            .iter()
            .filter(|f| f.kind == "suggestions")
            .flat_map(|f| f.data["suggestions"].as_array().unwrap().clone())
            .map(|s| s["id"].as_str().unwrap().parse().unwrap())
            .collect();
        for (id, position) in fleet.suggestions(job.job).await {
            assert!(
                streamed.contains(&id),
                "job {}: suggestion {id} (position {position}) was committed and never came: {frames:#?}",
                job.job
            );
        }
    }
    assert!(told > 0, "no stream met a flush");
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

/// A job a worker fetched at the instant of its SIGTERM, but had not started, goes back to
/// the queue at once: another worker claims it while the stopping one still drains the
/// jobs it did start (not once they are done, nor at the reconciler's requeue).
#[tokio::test]
async fn a_job_fetched_at_the_instant_of_a_sigterm_is_claimed_by_another_worker_at_once() {
    let mut fleet = Fleet::start(FleetOptions {
        apis: 1,
        workers: 1,
        env: vec![
            // Two slots: one for the job already running, one for the next; a third
            // fetched with it waits in the consumer's buffer.
            ("WORKER_CONCURRENCY", "2".into()),
            ("AI_OFFLINE_LATENCY_MS", "4000".into()),
            ("WORKER_SHUTDOWN_GRACE_MS", "30000".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = uuid::Uuid::new_v4();
    let first = fleet.submit_one(user).await;
    holding(&fleet, 0, 1).await;
    // Frozen while two more are queued: woken, it fetches both in one go.
    fleet.workers[0].freeze().unwrap();
    let second = fleet.submit_one(user).await;
    let third = fleet.submit_one(user).await;
    fleet.workers[0].thaw().unwrap();
    let pid = fleet.workers[0].pid();
    let redis = redis::Client::open(fleet.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let buffered = eventually(
        Duration::from_secs(20),
        "the worker to hold two jobs and to have fetched the third",
        || {
            let (fleet, mut redis) = (&fleet, redis.clone());
            async move {
                let redis = &mut redis;
                let held = fleet.held_by(0).await;
                let consumers: Vec<String> = redis::cmd("KEYS")
                    .arg(format!("fleet.generation:inflight:*-{pid}-*"))
                    .query_async(redis)
                    .await
                    .ok()?;
                let mut fetched = 0;
                for consumer in consumers {
                    let n: usize = redis::cmd("SCARD")
                        .arg(consumer)
                        .query_async(redis)
                        .await
                        .ok()?;
                    fetched += n;
                }
                (held.len() == 2 && fetched == 3).then_some(held)
            }
        },
    )
    .await;
    assert!(buffered.contains(&first) && buffered.contains(&second));
    assert_eq!(fleet.job(third).await.0, "pending", "fetched, not started");

    let rescuer = fleet.start_worker().await;
    fleet.workers[0].signal_term().unwrap();
    let rescuer_pid = format!("-{}-", fleet.workers[rescuer].pid());
    eventually(
        Duration::from_secs(30),
        "another worker to claim the job the stopping one had fetched",
        || async {
            let (_, worker) = fleet.job(third).await;
            worker.filter(|w| w.contains(&rescuer_pid)).map(drop)
        },
    )
    .await;
    // Claimed while the stopping worker still runs what it started.
    for job in [first, second] {
        let (status, worker) = fleet.job(job).await;
        assert_eq!(
            status, "running",
            "job {job} ended before the third was claimed"
        );
        assert!(worker.unwrap().contains(&format!("-{pid}-")));
    }
    assert!(
        fleet.workers[0].exited().await.unwrap(),
        "the worker exits cleanly"
    );
    let load = Load {
        accepted: [first, second, third]
            .into_iter()
            .map(|job| Accepted {
                generation: uuid::Uuid::nil(),
                job,
                user,
            })
            .collect(),
        refused: Vec::new(),
    };
    fleet
        .assert_all_succeeded_once(&load, Duration::from_secs(60))
        .await;
    for (job, attempts) in attempts(&fleet, &load).await {
        assert_eq!(attempts, 1, "job {job}: given back, not retried");
    }
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

/// A worker killed (kill -9) while a group of generations' ends is in its statement: the
/// test holds each user's usage row of the day, where an end's statement waits, so that
/// one user's end holds the statement slot while four of another user's gather behind it,
/// then go as one group and wait in turn. With no worker to hear of it, the group then
/// commits whole: every job ended once, its stream getting every event once and `done`
/// last; none runs again.
#[tokio::test]
async fn a_worker_killed_while_a_group_of_ends_is_in_flight_ends_each_job_once() {
    group_of_ends_in_flight_at_a_kill(GroupAfterKill::Commits).await;
}

/// As above, but the group's statement dies with its worker (its backend is terminated):
/// none of its jobs ended, and each runs again once, on another worker, to one end.
#[tokio::test]
async fn a_group_of_ends_that_dies_with_its_worker_runs_each_job_again_once() {
    group_of_ends_in_flight_at_a_kill(GroupAfterKill::Dies).await;
}

#[derive(Clone, Copy, PartialEq)]
enum GroupAfterKill {
    Commits,
    Dies,
}

async fn group_of_ends_in_flight_at_a_kill(after: GroupAfterKill) {
    let mut fleet = Fleet::start(FleetOptions {
        apis: 1,
        workers: 1,
        env: vec![("AI_OFFLINE_LATENCY_MS", "0".to_owned())],
        ..FleetOptions::default()
    })
    .await;
    let (first, others) = (uuid::Uuid::now_v7(), uuid::Uuid::now_v7());
    let mut holds = Vec::new();
    for user in [first, others] {
        let mut hold = fleet.db.begin().await.unwrap();
        sqlx::query(
            "insert into ai_usage (user_id, day, kind)
             values ($1, (now() at time zone 'utc')::date, 'generation')",
        )
        .bind(user)
        .execute(&mut *hold)
        .await
        .unwrap();
        holds.push(hold);
    }
    let lone = fleet.submit_one(first).await;
    ends_waiting(&fleet, 0).await;
    let mut group = Vec::new();
    for _ in 0..4 {
        group.push(fleet.submit_one(others).await);
    }
    // Each staged its last events just before asking for its end.
    let redis = redis::Client::open(fleet.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    eventually(
        Duration::from_secs(20),
        "the group's ends to gather",
        || {
            let keys: Vec<String> = group
                .iter()
                .map(|job| format!("fleet:{{{job}}}:staged"))
                .collect();
            let mut redis = redis.clone();
            async move {
                let staged: usize = redis::cmd("EXISTS")
                    .arg(&keys)
                    .query_async(&mut redis)
                    .await
                    .unwrap();
                (staged == keys.len()).then_some(())
            }
        },
    )
    .await;
    holds.remove(0).commit().await.unwrap();
    // The lone end was one statement; the one now waiting holds the rest.
    let gathered = ends_waiting(&fleet, 1).await - 1;
    assert!(
        gathered >= 2,
        "the statement in flight ends {gathered} jobs"
    );
    fleet.workers[0].kill().await;
    if after == GroupAfterKill::Dies {
        let terminated: Vec<bool> = sqlx::query_scalar(
            "select pg_terminate_backend(pid) from pg_stat_activity
             where datname = current_database() and wait_event_type = 'Lock'
               and query like '%jsonb_to_recordset%'",
        )
        .fetch_all(&fleet.db)
        .await
        .unwrap();
        assert_eq!(terminated, vec![true]);
    }
    holds.remove(0).commit().await.unwrap();
    fleet.start_worker().await;

    let mut accepted = Vec::new();
    for job in std::iter::once(lone).chain(group.iter().copied()) {
        let generation = sqlx::query_scalar("select id from ai_generations where job_id = $1")
            .bind(job)
            .fetch_one(&fleet.db)
            .await
            .unwrap();
        let user = if job == lone { first } else { others };
        accepted.push(Accepted {
            generation,
            job,
            user,
        });
    }
    let load = Load {
        accepted: accepted.clone(),
        refused: Vec::new(),
    };
    fleet
        .assert_all_succeeded_once(&load, Duration::from_secs(60))
        .await;
    for (job, attempts) in attempts(&fleet, &load).await {
        let again = after == GroupAfterKill::Dies && group.contains(&job);
        let range = if again { 2..=2 } else { 1..=1 };
        assert!(range.contains(&attempts), "job {job}: {attempts} attempts");
    }
    let follower = fleet.follower();
    for job in accepted {
        let frames = follower.follow(job, 0).await.unwrap();
        fleet.assert_stream_complete(job.job, &frames, false).await;
    }
}

/// Waits until the first worker has started `started` + 1 statements ending generations,
/// the last of which waits on a lock; returns how many jobs they end in all.
async fn ends_waiting(fleet: &Fleet, started: usize) -> usize {
    eventually(
        Duration::from_secs(20),
        "an end's statement to wait",
        || async {
            let worker = &fleet.workers[0];
            let series = |part: &str| format!("job_end_group_size_{part}{{kind=\"generation\"}}");
            let count = worker.metric(&series("count")).await.unwrap()?;
            let sum = worker.metric(&series("sum")).await.unwrap()?;
            let waiting: i64 = sqlx::query_scalar(
                "select count(*) from pg_stat_activity
                 where datname = current_database() and wait_event_type = 'Lock'
                   and query like '%jsonb_to_recordset%'",
            )
            .fetch_one(&fleet.db)
            .await
            .unwrap();
            (count as usize == started + 1 && waiting == 1).then_some(sum as usize)
        },
    )
    .await
}
