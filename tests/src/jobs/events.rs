//! The event stream's contract: complete sequences for every subscriber, resume, fan-out
//! across API processes, heartbeats, and owner-only access.

use std::time::Duration;

use almanac_shared::domain::generation;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{
    Behaviour, FakeAi, TestOptions, source_text, spawn_app_with, spawn_app_with_fake,
    stream::{Open, assert_complete, plain},
};

#[tokio::test]
async fn subscribers_before_during_and_after_the_job_get_the_same_complete_sequence() {
    let fake = FakeAi::start(vec![], Behaviour::Delay(Duration::from_millis(100))).await;
    let mut app = spawn_app_with_fake(&fake, false).await;
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
    // Cards are saved as they close; the job's end follows the last batch's.
    assert_eq!(
        kinds[kinds.len() - 3..],
        [("suggestions", ""), ("progress", "saving"), ("done", "")]
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
    let app = spawn_app_with_fake(&fake, true).await;
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
    let mut app = spawn_app_with_fake(&fake, false).await;
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
async fn another_users_job_is_not_found_on_events_poll_and_cancel() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with_fake(&fake, false).await;
    app.expect_unfinished_jobs();
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
    assert_eq!(app.job_status(job).await, "pending");
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
async fn heartbeats_keep_an_idle_stream_alive() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let app = spawn_app_with(TestOptions {
        worker: false,
        fake_ai: Some(fake.clone()),
        env: vec![("HEARTBEAT_SECS", "0.05".into())],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
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
            assert_eq!(app.job_status(job).await, "running");
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

/// Each API process receives only the events of the jobs it streams: it subscribes to a
/// job's channel with its first stream of the job (one subscription however many streams)
/// and unsubscribes after its last, so Redis counts one subscriber per process serving it.
#[tokio::test]
async fn each_api_process_subscribes_only_to_the_jobs_it_streams() {
    let fake = FakeAi::start(vec![], Behaviour::Ok).await;
    let mut app = spawn_app_with_fake(&fake, false).await;
    let replica = app.start_api_replica().await;
    let user = Uuid::new_v4();
    let (_, a) = app.submit_job(user, 1500).await;
    let (_, b) = app.submit_job(user, 1500).await;
    let (redis, settings) = (app.redis.clone(), app.settings.clone());
    let subscribers = |jobs: [Uuid; 2]| {
        let (mut redis, settings) = (redis.clone(), settings.clone());
        async move {
            let counts: Vec<(String, u64)> = redis::cmd("PUBSUB")
                .arg("NUMSUB")
                .arg(almanac_shared::events::channel(&settings, jobs[0]))
                .arg(almanac_shared::events::channel(&settings, jobs[1]))
                .query_async(&mut redis)
                .await
                .unwrap();
            (counts[0].1, counts[1].1)
        }
    };
    assert_eq!(subscribers([a, b]).await, (0, 0), "nobody streams them yet");
    let (client, token) = (app.client.clone(), app.token(user));
    let open_on_replica = |job: Uuid| {
        let request = client
            .get(format!("{replica}/v1/jobs/{job}/events"))
            .bearer_auth(&token);
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            crate::helpers::stream::EventReader::from_response(response, false)
        }
    };
    // A on the first process (twice), B on the replica: the history comes after the
    // subscription, so once the first event is read, Redis has it.
    let mut a_here = app.open_events(user, a, Open::default()).await;
    let mut a_here_again = app.open_events(user, a, Open::default()).await;
    let mut b_there = open_on_replica(b).await;
    for reader in [&mut a_here, &mut a_here_again, &mut b_there] {
        assert_eq!(reader.next_event().await.unwrap().data["stage"], "queued");
    }
    assert_eq!(
        subscribers([a, b]).await,
        (1, 1),
        "one subscriber per job: the one process streaming it, once"
    );
    let mut a_there = open_on_replica(a).await;
    a_there.next_event().await.unwrap();
    assert_eq!(subscribers([a, b]).await, (2, 1));

    app.start_worker().await;
    for mut reader in [a_here, a_here_again, b_there, a_there] {
        let rest = reader.rest().await;
        assert_eq!(rest.last().unwrap().data["status"], "succeeded");
    }
    // Every stream ended: both processes let go of both channels.
    crate::helpers::eventually(Duration::from_secs(10), "the channels to be let go", || {
        let counts = subscribers([a, b]);
        async move { (counts.await == (0, 0)).then_some(()) }
    })
    .await;
}
