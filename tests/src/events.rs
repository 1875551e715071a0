//! The event relay: complete sequences for every subscriber, resume, fan-out across API
//! processes, cancellation, and owner-only access.

use std::time::{Duration, Instant};

use almanac_shared::{
    domain::generation,
    events::{Emitter, Event},
    jobs::JobStatus,
};
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, TestApp, TestOptions, eventually, source_text, spawn_app_with,
    stream::{Frame, Open, assert_complete},
};

/// A frame without its framing: NDJSON repeats the id inside the object.
fn plain(frames: &[Frame]) -> Vec<(Option<u64>, String, Value)> {
    frames
        .iter()
        .map(|f| {
            let mut data = f.data.clone();
            data.as_object_mut().unwrap().remove("id");
            (f.id, f.kind.clone(), data)
        })
        .collect()
}

async fn app_with(fake: &FakeAi, worker: bool) -> TestApp {
    spawn_app_with(TestOptions {
        worker,
        fake_ai: Some(fake.clone()),
        ..Default::default()
    })
    .await
}

impl TestApp {
    async fn cancel(&self, user: Uuid, job: Uuid) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(&format!("/v1/jobs/{job}/cancel")))
            .bearer_auth(self.token(user))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

async fn job_status(app: &TestApp, job: Uuid) -> String {
    sqlx::query_scalar("select status from jobs where id = $1")
        .bind(job)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn subscribers_before_during_and_after_the_job_get_the_same_complete_sequence() {
    let fake = FakeAi::start(vec![], Behaviour::Delay(Duration::from_millis(100))).await;
    let mut app = app_with(&fake, false).await;
    let user = Uuid::new_v4();
    let (generation_id, job) = app.submit_job(user, 7000).await;
    let batches = generation::batches(&source_text(7000)).len();
    assert!(batches >= 3);

    // Before: the job waits for a worker.
    let mut before = app.open_events(user, job, Open::default()).await;
    let queued = before.next_event().await.unwrap();
    assert_eq!(queued.kind, "progress");
    assert_eq!(queued.data["stage"], "queued");
    assert_eq!(queued.data["total"], batches);
    let mut seen = vec![queued];
    app.start_worker().await;
    // During: once the first batch is out.
    loop {
        let frame = before.next_event().await.unwrap();
        let first_batch = frame.kind == "suggestions";
        seen.push(frame);
        if first_batch {
            break;
        }
    }
    let mut during = app.open_events(user, job, Open::ndjson()).await;
    seen.extend(before.rest().await);
    let during = during.rest().await;
    // After: the job has ended.
    let after = app.all_events(user, job, Open::default()).await;

    assert_complete(&seen);
    assert_eq!(plain(&during), plain(&seen));
    assert_eq!(plain(&after), plain(&seen));

    // The flashcard flow, stage by stage.
    let kinds: Vec<(&str, &str)> = seen
        .iter()
        .map(|f| (f.kind.as_str(), f.data["stage"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        kinds[..2],
        [("progress", "queued"), ("progress", "generating")]
    );
    assert_eq!(
        kinds.iter().filter(|(k, _)| *k == "suggestions").count(),
        batches
    );
    // The last batch is saved with the job's end.
    assert_eq!(
        kinds[kinds.len() - 3..],
        [("progress", "saving"), ("suggestions", ""), ("done", "")]
    );
    let done = &seen.last().unwrap().data;
    assert_eq!(done["status"], "succeeded");
    let streamed: usize = seen
        .iter()
        .filter(|f| f.kind == "suggestions")
        .map(|f| f.data["suggestions"].as_array().unwrap().len())
        .sum();
    let stored = app.suggestions(user, generation_id).await;
    assert_eq!(streamed, stored.len());
    assert_eq!(done["result"]["suggestions"], stored.len());
    assert_eq!(fake.calls(), batches);
}

#[tokio::test]
async fn a_reconnect_gets_exactly_the_missed_events_then_live_ones() {
    let fake = FakeAi::start(vec![], Behaviour::Delay(Duration::from_millis(150))).await;
    let app = app_with(&fake, true).await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 7000).await;

    let mut first = app.open_events(user, job, Open::default()).await;
    let mut got = vec![
        first.next_event().await.unwrap(),
        first.next_event().await.unwrap(),
    ];
    drop(first);
    // Missed while away: the first batch is stored meanwhile.
    fake.wait_for_calls(2).await;
    let mut again = app.open_events(user, job, Open::resuming("2")).await;
    got.extend(again.rest().await);
    assert_complete(&got);
    let full = app.all_events(user, job, Open::default()).await;
    assert_eq!(plain(&got), plain(&full));

    // NDJSON resumes with ?after=.
    let tail = app
        .all_events(
            user,
            job,
            Open {
                ndjson: true,
                after: Some(3),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(plain(&tail), plain(&full[3..]));

    // A client that saw the final event is told there is nothing more (204), which stops
    // a browser's automatic reconnects.
    let done_id = full.last().unwrap().id.unwrap().to_string();
    let response = app
        .open_events_raw(user, job, &Open::resuming(&done_id))
        .await;
    assert_eq!(response.status(), 204);
    let response = app
        .open_events_raw(user, job, &Open::resuming("soon"))
        .await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn clients_on_two_api_processes_get_the_same_events() {
    let fake = FakeAi::start(vec![], Behaviour::Delay(Duration::from_millis(50))).await;
    let mut app = app_with(&fake, false).await;
    let replica = app.start_api_replica().await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 5000).await;

    let mut on_first = app.open_events(user, job, Open::default()).await;
    // The same request against the replica's address.
    let response = app
        .client
        .get(format!("{replica}/v1/jobs/{job}/events"))
        .bearer_auth(app.token(user))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut on_replica = crate::helpers::stream::EventReader::from_response(response, false);
    // Both are subscribed and have the history; now the job runs.
    let mut first = vec![on_first.next_event().await.unwrap()];
    let mut second = vec![on_replica.next_event().await.unwrap()];
    assert_eq!(first[0].data["stage"], "queued");
    app.start_worker().await;
    first.extend(on_first.rest().await);
    second.extend(on_replica.rest().await);
    assert_complete(&first);
    assert_eq!(first, second);
    assert_eq!(first.last().unwrap().data["status"], "succeeded");
}

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
        || async { (job_status(&app, job).await == "cancelled").then_some(()) },
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
    let mut app = app_with(&fake, false).await;
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
        || async { (job_status(&app, other).await == "succeeded").then_some(()) },
    )
    .await;
    assert_eq!(job_status(&app, job).await, "cancelled");
    assert_eq!(fake.calls(), 1);
    let (status, body) = app.cancel(user, other).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("JOB_FINISHED"))
    );
}

#[tokio::test]
async fn another_users_job_is_not_found_on_events_poll_and_cancel() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = app_with(&fake, false).await;
    let (owner, stranger) = (Uuid::new_v4(), Uuid::new_v4());
    let (_, job) = app.submit_job(owner, 1500).await;
    for open in [Open::default(), Open::query_token(), Open::ndjson()] {
        let response = app.open_events_raw(stranger, job, &open).await;
        assert_eq!(response.status(), 404);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "NOT_FOUND");
    }
    assert_eq!(
        app.get_json(stranger, &format!("/v1/jobs/{job}")).await.0,
        404
    );
    let (status, _) = app.cancel(stranger, job).await;
    assert_eq!(status, 404);
    assert_eq!(job_status(&app, job).await, "pending");
    // Without any token: 401; the owner's query token works (browsers' EventSource).
    let response = app
        .client
        .get(app.url(&format!("/v1/jobs/{job}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let mut mine = app.open_events(owner, job, Open::query_token()).await;
    assert_eq!(mine.next_event().await.unwrap().data["stage"], "queued");
}

#[tokio::test]
async fn a_stream_whose_history_expired_says_so_and_ends_with_the_ledger_outcome() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = app_with(&fake, true).await;
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
async fn heartbeats_keep_an_idle_stream_alive() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with(TestOptions {
        worker: false,
        fake_ai: Some(fake.clone()),
        env: vec![("HEARTBEAT_SECS", "0.05".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let mut events = app.open_events(user, job, Open::default()).await;
    assert_eq!(events.next().await.unwrap().kind, "progress");
    for _ in 0..3 {
        let frame = events.next().await.unwrap();
        assert_eq!(frame.kind, "heartbeat");
        assert_eq!(
            frame.id, None,
            "a heartbeat must not move the client's last id"
        );
    }
}

#[tokio::test]
async fn the_offline_provider_takes_its_configured_latency() {
    let app = spawn_app_with(TestOptions {
        env: vec![("AI_OFFLINE_LATENCY_MS", "400".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let mut events = app.open_events(user, job, Open::default()).await;
    let mut kinds = Vec::new();
    while let Some(frame) = events.next_event().await {
        if frame.data["stage"] == "generating" {
            // The provider is thinking: the job is visibly running.
            assert_eq!(job_status(&app, job).await, "running");
        }
        kinds.push(frame.kind);
    }
    assert_eq!(kinds.last().map(String::as_str), Some("done"));
    let (started, finished): (chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>) =
        sqlx::query_as("select started_at, finished_at from jobs where id = $1")
            .bind(job)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(finished - started >= chrono::TimeDelta::milliseconds(400));
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
    let done = Event::Done {
        status: JobStatus::Succeeded,
        result: None,
        error: None,
    };
    emitter.emit(job, &done).await.unwrap();
    got.extend(events.rest().await);
    assert_eq!(got.last().unwrap().id, Some(4));
    assert_eq!(got.len(), 3);
}

#[tokio::test]
async fn a_client_that_stops_reading_is_told_and_closed_without_holding_up_others() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with(TestOptions {
        worker: false,
        fake_ai: Some(fake.clone()),
        env: vec![("RELAY_BUFFER_EVENTS", "8".into())],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let mut stalled = app.open_events(user, job, Open::default()).await;
    let mut reading = app.open_events(user, job, Open::default()).await;
    assert_eq!(stalled.next_event().await.unwrap().id, Some(1));
    assert_eq!(reading.next_event().await.unwrap().id, Some(1));

    // Far more than the socket buffers hold, while `stalled` reads nothing.
    let emitter = Emitter::new(&app.settings, app.redis.clone());
    let big = "x".repeat(16 * 1024);
    const EVENTS: u64 = 2_000;
    let reader = tokio::spawn(async move {
        let mut last = 1;
        while let Some(frame) = reading.next_event().await {
            assert_eq!(
                frame.id,
                Some(last + 1),
                "the reading client misses nothing"
            );
            last += 1;
            if last == EVENTS + 1 {
                return last;
            }
        }
        last
    });
    for _ in 0..EVENTS {
        emitter
            .emit(
                job,
                &Event::Error {
                    code: None,
                    message: big.clone(),
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

#[tokio::test]
async fn after_redis_lost_a_running_jobs_events_the_client_is_told_and_gets_the_new_ones() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = app_with(&fake, false).await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    // Redis restarts without persistence: the job's stream is gone, numbering restarts.
    app.flush_redis().await;
    let mut events = app.open_events(user, job, Open::resuming("1")).await;
    let notice = events.next_event().await.unwrap();
    assert_eq!((notice.kind.as_str(), notice.id), ("truncated", None));
    let emitter = Emitter::new(&app.settings, app.redis.clone());
    emitter
        .emit(
            job,
            &Event::progress(0, 1, "generating", "after the restart"),
        )
        .await
        .unwrap();
    let next = events.next_event().await.unwrap();
    assert_eq!((next.kind.as_str(), next.id), ("progress", Some(1)));
    assert_eq!(next.data["message"], "after the restart");
}

#[tokio::test]
async fn an_api_shutting_down_ends_its_streams_so_clients_resume_elsewhere() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = app_with(&fake, false).await;
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
    let emitter = Emitter::new(&app.settings, app.redis.clone());
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

#[tokio::test]
async fn a_connected_client_sees_a_restarted_numbering_after_redis_lost_the_stream() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = app_with(&fake, false).await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1500).await;
    let emitter = Emitter::new(&app.settings, app.redis.clone());
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
    let notice = events.next_event().await.unwrap();
    assert_eq!(
        (notice.kind.as_str(), notice.data["after"].as_u64()),
        ("truncated", Some(2))
    );
    let next = events.next_event().await.unwrap();
    assert_eq!(
        (next.id, next.data["message"].as_str()),
        (Some(1), Some("after"))
    );
}
