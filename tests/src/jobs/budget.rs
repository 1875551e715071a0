//! What a generation costs in round trips, counted by the processes themselves
//! (`job_round_trips_total{kind, step, store}`, `almanac_shared::trips`), never timed: a
//! lone one-batch generation, and 100 submitted together, take no more Postgres
//! statements and Redis commands per job and step than the budget below. A statement or a
//! command added to the path fails it; a saving lowers the budget.

use almanac_shared::{
    auth::JwtKeys,
    trips::{Step, Store},
};
use almanac_tests::processes::{RoundTrips, Service};
use uuid::Uuid;

use crate::helpers::{JWT_SECRET, admin_url, drop_database, fresh_database, redis_url};

/// One batch of the offline provider: at least `SOURCE_MIN_CHARS` (1,000), at most
/// `BATCH_CHARS` (2,500).
fn text() -> String {
    "Photosynthesis turns light into chemical energy, and the Calvin cycle fixes carbon dioxide into sugars. ".repeat(12)
}

/// A step's Postgres statements and Redis commands per job.
type Budget = [(Step, f64, f64); 5];

/// A generation submitted and run alone, step by step (`docs/performance.md`, "A job's
/// budget"): the submit's reuse check (a transaction) and its one statement, its rate
/// limit, its push and its wake-up; the claim's choice and the kind's first step, then the
/// claim that finds nothing more, and apalis's fetch, its lease, the fetch after the
/// wake-up and the fetch that finds nothing; the duplicate check; the batch's statement
/// that ends the job, and apalis's acknowledgement; the events `queued`, the start, the
/// batch's staged events and the final publish.
const ALONE: Budget = [
    (Step::Submit, 2.0, 3.0),
    (Step::Claim, 3.0, 4.0),
    (Step::Handler, 1.0, 0.0),
    (Step::End, 1.0, 1.0),
    (Step::Events, 0.0, 4.0),
];

/// 100 generations submitted together: what is shared (claims, fetches, wake-ups) is shared by
/// more than one job, never more than alone; the submits' statements (after each one's
/// reuse check), the duplicate checks and the ends go several a statement, as they arrive
/// while the one before runs.
const TOGETHER: Budget = [
    (Step::Submit, 1.6, 3.0),
    (Step::Claim, 3.0, 4.0),
    (Step::Handler, 0.75, 0.0),
    (Step::End, 0.75, 1.0),
    (Step::Events, 0.0, 4.0),
];

#[tokio::test]
async fn a_generation_takes_no_more_round_trips_than_its_budget() {
    let (db_name, _db) = fresh_database().await;
    let prefix = format!("trips{}", &Uuid::new_v4().simple().to_string()[..10]);
    let env = vec![
        (
            "DATABASE_URL",
            almanac_shared::db::with_database(&admin_url(), &db_name),
        ),
        ("REDIS_URL", redis_url()),
        ("REDIS_PREFIX", prefix.clone()),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("AI_PROVIDER", "offline".into()),
        ("AI_OFFLINE_LATENCY_MS", "0".into()),
        ("GENERATION_RATE_LIMIT", "1000".into()),
        ("WORKER_CONCURRENCY", "16".into()),
        // No fallback poll lands among the counted trips (apalis's heartbeat, its lease
        // renewals and registration are no job's, and count nowhere).
        ("WORKER_IDLE_POLL_MS", "600000".into()),
        // apalis sends the acknowledgements a delivery's end queued when its consumer next
        // looks at its queue, or at its heartbeat: the last of a burst waits for that. A
        // job's own heartbeat would come only after 5 s of running.
        ("JOB_HEARTBEAT_MS", "5000".into()),
        ("JOB_STALE_MS", "1200000".into()),
        // Nor a sweep of apalis's done set, which tells when the deliveries were acknowledged.
        ("RECONCILE_INTERVAL_MS", "600000".into()),
    ];
    let api = Service::api(&env).await.expect("almanac-api starts");
    let worker = Service::worker(&env).await.expect("almanac-worker starts");
    let http = reqwest::Client::new();
    let keys = JwtKeys::new(JWT_SECRET);
    let submit = |user: Uuid| {
        let request = http
            .post(api.url("/api/ai/generations"))
            .bearer_auth(keys.mint(user, 600))
            .json(&serde_json::json!({ "source_text": text() }));
        async move {
            let response = request.send().await.expect("the API answers");
            assert_eq!(response.status(), 202, "{}", response.text().await.unwrap());
        }
    };

    // A first generation, not counted: whatever the processes do once as they start (the
    // queues' first fetches, the workers' registration) is behind them.
    submit(Uuid::now_v7()).await;
    acknowledged(&prefix, 1).await;

    // Alone. A trip that is no job's can land in a lone job's window on a busy machine (a
    // consumer's heartbeat, the warm-up's last acknowledgement): it would not land in each
    // of three, while a step that costs a job more does in every one.
    let mut delivered = 1;
    let mut lone = Vec::new();
    for _ in 0..3 {
        let before = trips(&[&api, &worker]).await;
        submit(Uuid::now_v7()).await;
        delivered += 1;
        acknowledged(&prefix, delivered).await;
        let alone = trips(&[&api, &worker]).await.since(&before);
        let within = within(&alone, 1, &ALONE);
        lone.push(alone);
        if within {
            break;
        }
    }
    check(lone.last().unwrap(), 1, &ALONE, "a lone generation");

    // 100 submitted together, each by a user of its own (no cap in the way).
    let before = trips(&[&api, &worker]).await;
    futures::future::join_all((0..100).map(|_| submit(Uuid::now_v7()))).await;
    acknowledged(&prefix, delivered + 100).await;
    let together = trips(&[&api, &worker]).await.since(&before);
    check(&together, 100, &TOGETHER, "100 generations together");

    drop((api, worker));
    drop_database(&db_name).await;
}

async fn trips(services: &[&Service]) -> RoundTrips {
    RoundTrips::read(services, "generation")
        .await
        .expect("/metrics answers")
}

/// Waits until apalis acknowledged `deliveries` deliveries in all (its done set, which
/// nothing sweeps here): the last thing a delivery's slot does, after the job's end, its
/// events and the claim that found nothing more (the last acknowledgement of a burst can
/// wait for the consumer's heartbeat, `JOB_HEARTBEAT_MS`).
async fn acknowledged(prefix: &str, deliveries: usize) {
    let client = redis::Client::open(redis_url()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let done = format!("{prefix}.generation:done");
    for _ in 0..6000 {
        let acknowledged: usize = redis::cmd("SCARD")
            .arg(&done)
            .query_async(&mut conn)
            .await
            .unwrap();
        if acknowledged >= deliveries {
            assert_eq!(
                acknowledged, deliveries,
                "a delivery was acknowledged twice"
            );
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{deliveries} deliveries were not acknowledged within 60 s");
}

/// Whether every step of `jobs` jobs kept to `budget`.
fn within(trips: &RoundTrips, jobs: usize, budget: &Budget) -> bool {
    Step::ALL
        .iter()
        .zip(budget)
        .all(|(&step, (_, most_postgres, most_redis))| {
            trips.per_job(step, Store::Postgres, jobs) <= *most_postgres
                && trips.per_job(step, Store::Redis, jobs) <= *most_redis
        })
}

fn check(trips: &RoundTrips, jobs: usize, budget: &Budget, what: &str) {
    let spent: Vec<(Step, f64, f64)> = Step::ALL
        .iter()
        .map(|&step| {
            (
                step,
                trips.per_job(step, Store::Postgres, jobs),
                trips.per_job(step, Store::Redis, jobs),
            )
        })
        .collect();
    println!("{what}: {spent:?}");
    for ((step, postgres, redis), (_, most_postgres, most_redis)) in spent.iter().zip(budget) {
        assert!(
            *postgres <= *most_postgres && *redis <= *most_redis,
            "{what}: the {} step took {postgres} statements and {redis} Redis commands a job, over its budget of {most_postgres} and {most_redis} (all steps: {spent:?})",
            step.as_str()
        );
        // Every step of the path was counted (a step that counts nothing is not measured).
        assert!(
            postgres + redis > 0.0,
            "{what}: nothing counted for {step:?}"
        );
    }
}
