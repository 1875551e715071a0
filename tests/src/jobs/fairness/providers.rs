//! The providers' permits, fleet-wide: `AI_MAX_CONCURRENCY` (the platforms' are in
//! `publishing::flows`).

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use uuid::Uuid;

use crate::helpers::{Behaviour, FakeAi, TestOptions, eventually, spawn_app_with};

/// `AI_MAX_CONCURRENCY` holds across the fleet: with 2 permits and four users' jobs, the
/// provider never has more than 2 requests in flight; the jobs without a permit go back
/// to the ledger (no attempt spent, no worker slot held) and ask again, and each runs once
/// with one request when the provider answers.
#[tokio::test]
async fn the_ai_provider_never_has_more_requests_in_flight_than_its_permits() {
    let gate = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
    let fake = FakeAi::start(Vec::new(), Behaviour::Gate(gate.clone())).await;
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        fake_ai: Some(fake.clone()),
        env: vec![("AI_MAX_CONCURRENCY", "2".into())],
        ..Default::default()
    })
    .await;
    // Two workers: the permits are the fleet's, not a process's.
    app.start_worker().await;
    app.start_worker().await;
    let mut jobs = Vec::new();
    for _ in 0..4 {
        jobs.push(app.submit_job(Uuid::new_v4(), 1200).await.1);
    }
    let released = Arc::new(Mutex::new(std::collections::HashSet::new()));
    eventually(
        Duration::from_secs(30),
        "the jobs without a permit to go back",
        || {
            let (db, seen) = (app.db.clone(), released.clone());
            async move {
                let back: Vec<Uuid> = sqlx::query_scalar(
                    "select id from jobs where kind = 'generation' and status = 'pending'
                   and attempts = 0 and updated_at > created_at",
                )
                .fetch_all(&db)
                .await
                .unwrap();
                let mut seen = seen.lock().unwrap();
                seen.extend(back);
                (seen.len() >= 2).then_some(())
            }
        },
    )
    .await;
    assert_eq!(fake.calls(), 2, "two requests in flight, no more");
    gate.send(true).unwrap();
    app.jobs_settled().await;
    let ended: Vec<(String, i32)> =
        sqlx::query_as("select status, attempts from jobs where id = any($1)")
            .bind(&jobs)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(ended, vec![("succeeded".to_owned(), 1); 4], "{ended:?}");
    assert_eq!(fake.calls(), 4, "one request each");
}
