//! A bounded ledger: finished jobs older than `JOB_RETENTION_DAYS` are deleted by the
//! reconciler, in batches, while the domain rows that named them stay as history.

use std::time::Duration;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{eventually, spawn_app};

/// Writes a finished job of `user`'s made and ended `days_ago` (its id says when), with the
/// generation it ran.
async fn finished_generation(db: &sqlx::PgPool, user: Uuid, days_ago: i32) -> Uuid {
    let job = id_of_days_ago(days_ago as u64);
    sqlx::query(
        "insert into jobs (id, user_id, kind, status, payload, max_attempts, attempts,
             created_at, started_at, finished_at, updated_at)
         values ($1, $2, 'generation', 'succeeded', $3, 3, 1,
             now() - make_interval(days => $4), now() - make_interval(days => $4),
             now() - make_interval(days => $4), now() - make_interval(days => $4))",
    )
    .bind(job)
    .bind(user)
    .bind(json!({ "type": "generation.v1", "generation_id": job }))
    .bind(days_ago)
    .execute(db)
    .await
    .unwrap();
    sqlx::query(
        "insert into ai_generations (id, user_id, job_id, source_text, prompt_version, status)
         values ($1, $2, $1, repeat('a', 1000), 'v1', 'succeeded')",
    )
    .bind(job)
    .bind(user)
    .execute(db)
    .await
    .unwrap();
    job
}

async fn job_exists(db: &sqlx::PgPool, id: Uuid) -> bool {
    sqlx::query_scalar("select exists (select 1 from jobs where id = $1)")
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap()
}

#[tokio::test]
async fn finished_jobs_past_the_retention_are_swept_and_their_rows_stay() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let old = finished_generation(&app.db, user, 31).await;
    let older = finished_generation(&app.db, user, 400).await;
    let recent = finished_generation(&app.db, user, 29).await;
    // A job not finished, however old (a retry due tomorrow), is kept.
    let running = Uuid::now_v7();
    app.expect_unfinished_jobs();
    sqlx::query(
        "insert into jobs (id, user_id, kind, status, payload, max_attempts, attempts,
             run_after, created_at)
         values ($1, $2, 'generation', 'pending', '{}', 3, 1, now() + interval '1 day',
             now() - interval '400 days')",
    )
    .bind(running)
    .bind(user)
    .execute(&app.db)
    .await
    .unwrap();
    // A workspace's activity is kept ACTIVITY_RETENTION_DAYS (365), swept in the same pass.
    let activity: Vec<Uuid> = sqlx::query_scalar(
        "insert into activity (id, workspace_id, at, actor_id, actor_kind, action, method,
                               route, status)
         select gen_random_uuid(), $1, now() - make_interval(days => d), $1, 'person',
                'createCard', 'POST', '/api/cards', 201
         from unnest(array[366, 364]) as d returning id",
    )
    .bind(user)
    .fetch_all(&app.db)
    .await
    .unwrap();
    eventually(Duration::from_secs(20), "the old jobs swept", || async {
        (!job_exists(&app.db, old).await && !job_exists(&app.db, older).await).then_some(())
    })
    .await;
    eventually(
        Duration::from_secs(20),
        "the old activity swept",
        || async {
            let left: Vec<Uuid> = sqlx::query_scalar("select id from activity where actor_id = $1")
                .bind(user)
                .fetch_all(&app.db)
                .await
                .unwrap();
            (left == activity[1..]).then_some(())
        },
    )
    .await;
    assert!(
        job_exists(&app.db, recent).await,
        "a job inside the retention is kept"
    );
    assert!(
        job_exists(&app.db, running).await,
        "an unfinished job is kept"
    );
    // The generation keeps its job id as history, and its owner still reads it.
    let (status, generation) = app
        .get_json(user, &format!("/api/ai/generations/{old}"))
        .await;
    assert_eq!(status, 200, "{generation}");
    let kept: i64 =
        sqlx::query_scalar("select count(*) from ai_generations where job_id in ($1, $2)")
            .bind(old)
            .bind(older)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(kept, 2);
}

/// A UUIDv7 made `days` ago.
pub(crate) fn id_of_days_ago(days: u64) -> Uuid {
    let at = std::time::SystemTime::now() - Duration::from_secs(days * 86_400);
    let since = at.duration_since(std::time::UNIX_EPOCH).unwrap();
    Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        since.as_secs(),
        since.subsec_nanos(),
    ))
}

#[tokio::test]
async fn a_job_past_the_retention_is_gone_and_one_never_seen_is_not_found() {
    let app = spawn_app().await;
    let user = Uuid::now_v7();
    let swept = finished_generation(&app.db, user, 45).await;
    eventually(Duration::from_secs(20), "the job swept", || async {
        (!job_exists(&app.db, swept).await).then_some(())
    })
    .await;
    // Its poll view, its events and its cancel: 410, saying why.
    for (method, path) in [
        (reqwest::Method::GET, format!("/v1/jobs/{swept}")),
        (reqwest::Method::GET, format!("/v1/jobs/{swept}/events")),
        (reqwest::Method::POST, format!("/v1/jobs/{swept}/cancel")),
    ] {
        let (status, body) = app.send_json(method, user, &path, &Value::Null).await;
        assert_eq!(status, 410, "{path}: {body}");
        assert_eq!(body["error"]["code"], "JOB_EXPIRED");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("30 days"),
            "{body}"
        );
    }
    // An id that old is gone whoever asks, whether or not it ever existed: no leak.
    let (status, _) = app
        .get_json(Uuid::now_v7(), &format!("/v1/jobs/{swept}"))
        .await;
    assert_eq!(status, 410);
    let (status, _) = app
        .get_json(user, &format!("/v1/jobs/{}", id_of_days_ago(31)))
        .await;
    assert_eq!(status, 410);
    // Recent ids and ids that carry no time are simply not found.
    for id in [Uuid::now_v7(), id_of_days_ago(29), Uuid::new_v4()] {
        let (status, body) = app.get_json(user, &format!("/v1/jobs/{id}")).await;
        assert_eq!(status, 404, "{id}: {body}");
        assert_eq!(body["error"]["code"], "NOT_FOUND");
    }
}
