//! The relay when things fail: Redis partitioned, silent or emptied, history expired, a
//! client that stops reading, an API process shutting down. Nothing is lost or duplicated;
//! what cannot be delivered is said.

use std::time::Duration;

use almanac_shared::{
    events::{Emitter, Event},
    jobs::JobStatus,
};
use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, TestApp, TestOptions,
    redis_cluster::RedisCluster,
    spawn_app_with,
    stream::{Open, assert_complete},
};

/// Where a case's events live: the shared Redis server, or a Redis Cluster of its own
/// (`EVENTS_REDIS_URL`; the queues stay on the server).
#[derive(Clone, Copy)]
enum On {
    Server,
    Cluster,
}

impl On {
    /// The app of `options`, its events here; the cluster, if any, lives as long as the
    /// guard returned.
    async fn spawn(self, mut options: TestOptions) -> (TestApp, Option<RedisCluster>) {
        let cluster = match self {
            On::Server => None,
            On::Cluster => {
                let cluster = RedisCluster::start().await;
                options.env.push(("EVENTS_REDIS_URL", cluster.urls()));
                Some(cluster)
            }
        };
        (spawn_app_with(options).await, cluster)
    }

    /// An app answering with `fake`, without a worker: the case emits the job's events.
    async fn without_worker(self, fake: &FakeAi) -> (TestApp, Option<RedisCluster>) {
        self.spawn(TestOptions {
            worker: false,
            fake_ai: Some(fake.clone()),
            ..Default::default()
        })
        .await
    }
}

/// Every case below runs twice: on one Redis server, and with the events on a cluster.
macro_rules! on_a_server_and_a_cluster {
    ($($case:ident),* $(,)?) => {
        mod on_a_server {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::On::Server).await
            })*
        }
        mod on_a_cluster {
            $(#[tokio::test]
            async fn $case() {
                super::$case(super::On::Cluster).await
            })*
        }
    };
}

on_a_server_and_a_cluster!(
    a_stream_whose_history_expired_says_so_and_ends_with_the_ledger_outcome,
    a_client_that_stops_reading_is_told_and_closed_without_holding_up_others,
    after_redis_lost_a_running_jobs_events_the_client_is_told_and_gets_the_new_ones,
    an_api_shutting_down_ends_its_streams_so_clients_resume_elsewhere,
    a_connected_client_is_told_when_redis_lost_the_stream_and_new_ids_run_above_its_own,
    a_committed_batch_whose_staged_events_redis_lost_is_delivered_or_told,
);

async fn a_stream_whose_history_expired_says_so_and_ends_with_the_ledger_outcome(on: On) {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let (app, _cluster) = on
        .spawn(TestOptions {
            fake_ai: Some(fake.clone()),
            ..Default::default()
        })
        .await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let full = app.all_events(user, job, Open::default()).await;
    assert_complete(&full);
    // As if EVENTS_RETENTION_SECS had passed.
    app.flush_redis().await;
    let frames = app.all_events(user, job, Open::resuming("1")).await;
    assert_eq!(frames.len(), 2, "{frames:#?}");
    assert_eq!(frames[0].kind, "truncated");
    assert_eq!(frames[0].data["after"], 1);
    assert_eq!(frames[0].id, None);
    assert_eq!(frames[1].kind, "done");
    assert_eq!(frames[1].data["status"], "succeeded");
    assert_eq!(
        frames[1].data["result"],
        full.last().unwrap().data["result"]
    );
}

#[tokio::test]
async fn events_published_while_the_relay_was_disconnected_still_arrive() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with(TestOptions {
        worker: false,
        fake_ai: Some(fake.clone()),
        redis_proxy: true,
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let mut events = app.open_events(user, job, Open::default()).await;
    assert_eq!(events.next_event().await.unwrap().data["stage"], "queued");

    // The API loses Redis; meanwhile a worker (straight to Redis) emits.
    let proxy = app.redis_proxy.as_ref().unwrap();
    proxy.partition();
    let emitter = Emitter::new(&app.settings, app.redis.clone());
    for step in 1..=2 {
        emitter
            .emit(
                job,
                &Event::progress(step, 2, "generating", "while the relay was away"),
            )
            .await
            .unwrap();
    }
    proxy.heal();
    let mut got = vec![
        events.next_event().await.unwrap(),
        events.next_event().await.unwrap(),
    ];
    assert_eq!((got[0].id, got[1].id), (Some(2), Some(3)));
    // And live again.
    let done = Event::done(JobStatus::Succeeded, None, None);
    emitter.emit(job, &done).await.unwrap();
    got.extend(events.rest().await);
    assert_eq!(got.last().unwrap().id, Some(4));
    assert_eq!(got.len(), 3);
}

async fn a_client_that_stops_reading_is_told_and_closed_without_holding_up_others(on: On) {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let (app, _cluster) = on
        .spawn(TestOptions {
            worker: false,
            fake_ai: Some(fake.clone()),
            env: vec![("RELAY_BUFFER_EVENTS", "8".into())],
            ..Default::default()
        })
        .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let mut stalled = app.open_events(user, job, Open::default()).await;
    let mut reading = app.open_events(user, job, Open::default()).await;
    assert_eq!(stalled.next_event().await.unwrap().id, Some(1));
    assert_eq!(reading.next_event().await.unwrap().id, Some(1));

    // Far more than the socket buffers hold, while `stalled` reads nothing.
    let emitter = Emitter::new(&app.settings, app.events_redis.clone());
    let big = "x".repeat(16 * 1024);
    const EVENTS: u64 = 2_000;
    // The emitter keeps within a few events of the reading client, fewer than its
    // buffer holds, so only the stalled one can fall behind however slow the machine.
    let (read, mut read_up_to) = tokio::sync::watch::channel(1u64);
    let reader = tokio::spawn(async move {
        let mut last = 1;
        while let Some(frame) = reading.next_event().await {
            assert_eq!(
                frame.id,
                Some(last + 1),
                "the reading client misses nothing"
            );
            last += 1;
            read.send_replace(last);
            if last == EVENTS + 1 {
                return last;
            }
        }
        last
    });
    for emitted in 1..=EVENTS {
        let behind = |read: &u64| emitted < *read + 4;
        if read_up_to.wait_for(behind).await.is_err() {
            break; // The reader ended: its result below says why.
        }
        emitter
            .emit(
                job,
                &Event::Error {
                    code: None,
                    message: big.clone(),
                    placement_id: None,
                    retrying: false,
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(reader.await.unwrap(), EVENTS + 1);

    // The stalled client gets what was buffered, then the notice, then the end.
    let frames = stalled.rest().await;
    let notice = frames.last().unwrap();
    assert_eq!(notice.data["code"], "LAGGED", "{:?}", &notice.data);
    assert_eq!(notice.id, None);
    let last_id = frames.iter().rev().find_map(|f| f.id).unwrap();
    assert!(last_id < EVENTS + 1);
    // The drop is counted.
    let metrics = app.metrics_text().await;
    let dropped: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("relay_clients_dropped_total{reason=\"lag\"} "))
        .and_then(|v| v.trim().parse().ok())
        .expect("relay_clients_dropped_total in /metrics");
    assert!(dropped >= 1.0);
    for name in ["relay_streams_active", "relay_events_total"] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    // It resumes where it was.
    let mut resumed = app
        .open_events(user, job, Open::resuming(&last_id.to_string()))
        .await;
    assert_eq!(resumed.next_event().await.unwrap().id, Some(last_id + 1));
}

async fn after_redis_lost_a_running_jobs_events_the_client_is_told_and_gets_the_new_ones(on: On) {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let (app, _cluster) = on.without_worker(&fake).await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    // Redis restarts without persistence: the job's stream is gone, numbering restarts.
    app.flush_redis().await;
    let mut events = app.open_events(user, job, Open::resuming("1")).await;
    let notice = events.next_event().await.unwrap();
    assert_eq!((notice.kind.as_str(), notice.id), ("truncated", None));
    let emitter = Emitter::new(&app.settings, app.events_redis.clone());
    emitter
        .emit(
            job,
            &Event::progress(0, 1, "generating", "after the restart"),
        )
        .await
        .unwrap();
    // The new stream numbers above anything the lost one used: the client's own id 1
    // cannot be taken for one of the new events.
    let next = events.next_event().await.unwrap();
    assert_eq!(next.kind, "progress");
    assert!(next.id.unwrap() > 1000, "{next:?}");
    assert_eq!(next.data["message"], "after the restart");
}

async fn an_api_shutting_down_ends_its_streams_so_clients_resume_elsewhere(on: On) {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let (app, _cluster) = on.without_worker(&fake).await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    // A second API process that will be told to stop.
    let api = almanac_api::Application::build(app.settings.clone())
        .await
        .unwrap();
    let address = format!("http://127.0.0.1:{}", api.port());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(api.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    let response = app
        .client
        .get(format!("{address}/v1/jobs/{job}/events"))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    let mut events = crate::helpers::stream::EventReader::from_response(response, false);
    let first = events.next_event().await.unwrap();
    assert_eq!(first.id, Some(1));

    stop.send(()).unwrap();
    // The stream ends cleanly (no error frame), and the server stops well within its grace.
    assert_eq!(events.rest().await, Vec::new());
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    // The client resumes on the other process.
    let mut resumed = app.open_events(user, job, Open::resuming("1")).await;
    let emitter = Emitter::new(&app.settings, app.events_redis.clone());
    emitter
        .emit(
            job,
            &Event::progress(1, 1, "generating", "on the other replica"),
        )
        .await
        .unwrap();
    assert_eq!(resumed.next_event().await.unwrap().id, Some(2));
}

#[tokio::test]
async fn a_relay_subscription_that_goes_silent_is_replaced_and_nothing_is_lost() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with(TestOptions {
        worker: false,
        fake_ai: Some(fake.clone()),
        redis_proxy: true,
        env: vec![("HEARTBEAT_SECS", "0.2".into())],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let mut events = app.open_events(user, job, Open::default()).await;
    assert_eq!(events.next_event().await.unwrap().id, Some(1));

    // The API's subscription goes silent without being closed.
    app.redis_proxy.as_ref().unwrap().stall_subscribers();
    let emitter = Emitter::new(&app.settings, app.redis.clone());
    emitter
        .emit(
            job,
            &Event::progress(1, 1, "generating", "during the silence"),
        )
        .await
        .unwrap();
    let next = events.next_event().await.unwrap();
    assert_eq!(
        (next.id, next.data["message"].as_str()),
        (Some(2), Some("during the silence"))
    );
}

async fn a_connected_client_is_told_when_redis_lost_the_stream_and_new_ids_run_above_its_own(
    on: On,
) {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let (app, _cluster) = on.without_worker(&fake).await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let emitter = Emitter::new(&app.settings, app.events_redis.clone());
    emitter
        .emit(job, &Event::progress(0, 1, "generating", "before"))
        .await
        .unwrap();
    let mut events = app.open_events(user, job, Open::default()).await;
    assert_eq!(events.next_event().await.unwrap().id, Some(1));
    assert_eq!(events.next_event().await.unwrap().id, Some(2));
    // Redis restarts without persistence while the client is connected.
    app.flush_redis().await;
    emitter
        .emit(job, &Event::progress(1, 1, "saving", "after"))
        .await
        .unwrap();
    // The new numbering starts above the old (so a resuming client cannot mistake new
    // events for ones it has seen), and the jump is told.
    let notice = events.next_event().await.unwrap();
    assert_eq!(
        (notice.kind.as_str(), notice.data["after"].as_u64()),
        ("truncated", Some(2))
    );
    let next = events.next_event().await.unwrap();
    assert_eq!(next.data["message"], "after");
    assert_eq!(next.id, notice.data["first_available"].as_u64());
    assert!(next.id.unwrap() > 2);
}

/// Redis lost what a worker staged for a commit before the events went out. The worker
/// still holds them and sends them along; a repairer (the next attempt, the reconciler, a
/// stream finding the ledger ahead), which does not, leaves a marker that every stream
/// tells as a truncation notice. Either way the committed batch is never passed over in
/// silence, and the ids after a notice hide no gap.
async fn a_committed_batch_whose_staged_events_redis_lost_is_delivered_or_told(on: On) {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let (app, _cluster) = on.without_worker(&fake).await;
    app.expect_unfinished_jobs();
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let emitter = Emitter::new(&app.settings, app.events_redis.clone());
    let batch = |n: u32| Event::Suggestions {
        generation_id: Uuid::nil(),
        batch: n,
        suggestions: Vec::new(),
    };
    let mut events = app.open_events(user, job, Open::default()).await;
    assert_eq!(events.next_event().await.unwrap().id, Some(1));

    // The worker staged batch 0; Redis lost everything before the worker published it.
    let staged = emitter.stage(job, vec![batch(0)]).await;
    app.flush_redis().await;
    emitter.publish(job, &staged).await;
    let notice = events.next_event().await.unwrap();
    assert_eq!(
        (notice.kind.as_str(), notice.data["after"].as_u64()),
        ("truncated", Some(1))
    );
    let delivered = events.next_event().await.unwrap();
    assert_eq!(
        (delivered.kind.as_str(), delivered.data["batch"].as_u64()),
        ("suggestions", Some(0)),
        "the worker sends what Redis lost"
    );
    assert_eq!(delivered.id, notice.data["first_available"].as_u64());
    let seen = delivered.id.unwrap();

    // Batch 1 was staged and committed by a worker that died; Redis lost the staged copy.
    // The repair cannot send it: a marker stands in its place, told as a notice.
    let staged = emitter.stage(job, vec![batch(1)]).await;
    let staged_key = almanac_shared::events::staged_key(&app.settings, job);
    let mut redis = app.events_redis.clone();
    redis::cmd("DEL")
        .arg(&staged_key)
        .query_async::<i64>(&mut redis)
        .await
        .unwrap();
    assert_eq!(emitter.publish_staged(job, staged.token).await.unwrap(), 1);
    // Repeated (two repairers), it adds nothing.
    assert_eq!(emitter.publish_staged(job, staged.token).await.unwrap(), 0);
    emitter
        .emit(
            job,
            &Event::progress(1, 1, "saving", "after the lost batch"),
        )
        .await
        .unwrap();
    let notice = events.next_event().await.unwrap();
    assert_eq!(
        (notice.kind.as_str(), notice.data["after"].as_u64()),
        ("truncated", Some(seen)),
        "{notice:?}"
    );
    let next = events.next_event().await.unwrap();
    assert_eq!(next.data["message"], "after the lost batch");
    assert_eq!(
        next.id,
        Some(seen + 2),
        "the marker's id is never an event's"
    );
    assert_eq!(next.id, notice.data["first_available"].as_u64());

    // A client resuming after the last batch it got reads the same from the history.
    let mut resumed = app
        .open_events(user, job, Open::resuming(&seen.to_string()))
        .await;
    let notice = resumed.next_event().await.unwrap();
    assert_eq!(
        (
            notice.kind.as_str(),
            notice.data["first_available"].as_u64()
        ),
        ("truncated", Some(seen + 2))
    );
    assert_eq!(resumed.next_event().await.unwrap().id, Some(seen + 2));
}

/// A master of the events' cluster dies while jobs stream. Its replica takes over (after
/// `cluster-node-timeout`); every stream still ends with its job's final event (from the
/// ledger if the replica never got it), gets each event at most once, and any event the
/// replica lost (replication is asynchronous) is named by a truncation notice, never
/// passed over in silence.
#[tokio::test]
async fn streams_survive_a_cluster_master_killed_under_them() {
    let fake = FakeAi::start(vec![], Behaviour::Delay(Duration::from_millis(500))).await;
    let mut cluster = RedisCluster::start().await;
    let app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("EVENTS_REDIS_URL", cluster.urls()),
            ("HEARTBEAT_SECS", "1".into()),
        ],
        ..Default::default()
    })
    .await;
    // A user each: the generation rate limit is per user.
    let mut jobs = Vec::new();
    for _ in 0..6 {
        let user = Uuid::new_v4();
        jobs.push((user, app.submit_job(user, 7000).await.1));
    }
    let mut streams = Vec::new();
    for &(user, job) in &jobs {
        let mut events = app.open_events(user, job, Open::default()).await;
        let first = events.next_event().await.unwrap();
        assert_eq!(first.id, Some(1));
        streams.push((job, vec![first], events));
    }
    // Each job's live channel is a sharded one, on its stream's shard, subscribed once.
    let key = almanac_shared::events::stream_key(&app.settings, jobs[0].1);
    let master = cluster.master_of(&key).await;
    let (mut on_master, channel) = (
        redis::Client::open(format!("redis://127.0.0.1:{master}"))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap(),
        almanac_shared::events::channel(&app.settings, jobs[0].1),
    );
    let (_, subscribers): (String, u64) = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg(&channel)
        .query_async(&mut on_master)
        .await
        .unwrap();
    assert_eq!(subscribers, 1);

    cluster.kill(master).await;
    cluster.wait_for_failover(&key, master).await;

    for (job, mut frames, mut events) in streams {
        frames.extend(events.rest().await);
        let done = frames.last().unwrap();
        assert_eq!(
            (done.kind.as_str(), done.data["status"].as_str()),
            ("done", Some("succeeded")),
            "job {job} ends with its final event: {frames:#?}"
        );
        let mut last = 0;
        for (at, frame) in frames.iter().enumerate() {
            let Some(id) = frame.id else {
                assert_eq!(
                    frame.kind, "truncated",
                    "only notices lack ids: {frames:#?}"
                );
                continue;
            };
            assert!(id > last, "job {job}: each event at most once: {frames:#?}");
            if id > last + 1 && last > 0 {
                assert_eq!(
                    frames[at - 1].kind,
                    "truncated",
                    "job {job}: a lost event is told: {frames:#?}"
                );
            }
            last = id;
        }
        assert_eq!(frames.iter().filter(|f| f.kind == "done").count(), 1);
    }
}
