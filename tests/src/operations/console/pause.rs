//! A paused queue across processes: paused through one API, the worker fed through the
//! other says so on its `/metrics`, the jobs submitted meanwhile wait unclaimed, and a
//! resume has each claimed once.

use std::time::Duration;

use almanac_tests::processes::metric_value;
use serde_json::Value;
use uuid::Uuid;

use super::ADMIN_TOKEN;
use crate::helpers::{
    eventually,
    fleet::{Fleet, FleetOptions},
};

async fn metrics(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

async fn admin_post(api: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{api}{path}"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_queue_paused_through_one_api_stops_every_claim_until_it_is_resumed() {
    let fleet = Fleet::start(FleetOptions {
        apis: 2,
        workers: 1,
        env: vec![
            ("ADMIN_TOKEN", ADMIN_TOKEN.to_owned()),
            ("AI_OFFLINE_LATENCY_MS", "0".to_owned()),
        ],
        ..Default::default()
    })
    .await;
    let worker_metrics = fleet.workers[0].metrics_url();
    let paused = r#"queue_paused{kind="generation"}"#;
    assert_eq!(
        metric_value(&metrics(&worker_metrics).await, paused),
        Some(0.0)
    );
    let answer = admin_post(&fleet.apis[1].url(""), "/admin/queues/generation/pause").await;
    assert_eq!(answer["data"]["paused"], true);
    eventually(
        Duration::from_secs(10),
        "the worker to know the pause",
        || async {
            (metric_value(&metrics(&worker_metrics).await, paused) == Some(1.0)).then_some(())
        },
    )
    .await;
    let asks = |page: &str| metric_value(page, "job_claim_batch_size_sum").unwrap_or(0.0);
    let asked_before = asks(&metrics(&worker_metrics).await);

    // Accepted as usual through the other API; each wake-up asks and is given nothing.
    const JOBS: usize = 5;
    let mut jobs = Vec::new();
    for _ in 0..JOBS {
        jobs.push(fleet.submit_one(Uuid::now_v7()).await);
    }
    eventually(
        Duration::from_secs(10),
        "every wake-up to be looked at",
        || async {
            (asks(&metrics(&worker_metrics).await) >= asked_before + JOBS as f64).then_some(())
        },
    )
    .await;
    let waiting: i64 = sqlx::query_scalar(
        "select count(*) from jobs where id = any($1) and status = 'pending' and attempts = 0",
    )
    .bind(&jobs)
    .fetch_one(&fleet.db)
    .await
    .unwrap();
    assert_eq!(waiting, JOBS as i64, "no job of a paused kind is claimed");

    let answer = admin_post(&fleet.apis[1].url(""), "/admin/queues/generation/resume").await;
    assert_eq!(answer["data"]["paused"], false);
    eventually(Duration::from_secs(30), "every job to run once", || async {
        let done: i64 = sqlx::query_scalar(
            "select count(*) from jobs where id = any($1) and status = 'succeeded'",
        )
        .bind(&jobs)
        .fetch_one(&fleet.db)
        .await
        .unwrap();
        (done == JOBS as i64).then_some(())
    })
    .await;
    let claims: Vec<i32> = sqlx::query_scalar("select attempts from jobs where id = any($1)")
        .bind(&jobs)
        .fetch_all(&fleet.db)
        .await
        .unwrap();
    assert_eq!(claims, vec![1; JOBS], "each claimed once");
    assert_eq!(
        metric_value(&metrics(&worker_metrics).await, paused),
        Some(0.0)
    );
    let actions: Vec<String> = sqlx::query_scalar("select action from admin_actions order by id")
        .fetch_all(&fleet.db)
        .await
        .unwrap();
    assert_eq!(actions, ["pause", "resume"]);
}
