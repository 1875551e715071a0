//! What is a person's and what is the workspace's: two editors of one workspace generate
//! calendars at the same time (the one active generation is per person); the workspace's
//! running slots are shared by its members.

use reqwest::Method;
use serde_json::json;

use almanac_shared::workspaces::Actor;
use uuid::Uuid;

use super::{Person, app, join, team};
use crate::helpers::{TestOptions, outbox::Outbox, spawn_app_with};

#[tokio::test]
async fn two_editors_of_a_workspace_generate_at_once_and_each_only_once() {
    let outbox = Outbox::new();
    let app = app(&outbox).await;
    // No worker here: the two generations wait, as they would while the fleet is busy.
    app.expect_unfinished_jobs();
    let (ana, bea) = (Person::new(&app, "ana"), Person::new(&app, "bea"));
    let acme = team(&app, &ana, "Acme").await;
    join(&app, &outbox, acme, &ana, &bea, "editor").await;
    let plan = json!({
        "channels": ["instagram"], "cadence": "daily", "start": "2030-03-01", "end": "2030-03-03"
    });
    let generate = async |who: &Person| {
        who.call(
            &app,
            Method::POST,
            "/v1/ai/calendar",
            Some(acme),
            Some(&plan),
        )
        .await
    };
    let (first, second) = tokio::join!(generate(&ana), generate(&bea));
    assert_eq!(first.0, 202, "{}", first.1);
    assert_eq!(second.0, 202, "{}", second.1);
    // Each has one generation running; a second of Ana's waits for hers.
    let (status, refused) = generate(&ana).await;
    assert_eq!(status, 409, "{refused}");
    let runs: Vec<(uuid::Uuid, uuid::Uuid)> =
        sqlx::query_as("select user_id, workspace_id from calendar_runs order by user_id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let mut expected = vec![(ana.id, acme), (bea.id, acme)];
    expected.sort();
    assert_eq!(runs, expected);
    // Both calendars are the workspace's: each editor lists both.
    for who in [&ana, &bea] {
        let (_, listed) = who
            .call(&app, Method::GET, "/v1/calendars", Some(acme), None)
            .await;
        assert_eq!(
            listed["data"]["items"].as_array().unwrap().len(),
            2,
            "{listed}"
        );
    }
}

/// A workspace's running slots (`JOB_MAX_RUNNING_PER_WORKSPACE`) are its members' together:
/// two members' jobs in one workspace never run more than the cap at once, counted in the
/// ledger at every claim, while another workspace's run beside them under a cap of their
/// own; each job runs once.
#[tokio::test]
async fn a_workspaces_running_slots_are_shared_by_its_members() {
    const CAP: i64 = 3;
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        probe: true,
        env: vec![
            ("WORKER_CONCURRENCY", "8".into()),
            ("JOB_MAX_RUNNING_PER_WORKSPACE", CAP.to_string()),
        ],
        ..Default::default()
    })
    .await;
    crate::jobs::fairness::watch_running(&app.db, "workspace_id").await;
    let team = Uuid::now_v7();
    let (ana, bea, cal) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let mut jobs = Vec::new();
    for actor in [
        Actor {
            user: ana,
            workspace: team,
        },
        Actor {
            user: bea,
            workspace: team,
        },
        Actor::personal(cal),
    ] {
        for _ in 0..10 {
            jobs.push(app.submit_probe_in(actor, Uuid::new_v4(), 20).await);
        }
    }
    for _ in 0..3 {
        app.start_worker().await;
    }
    app.jobs_settled().await;
    let (succeeded, attempts) = crate::jobs::fairness::succeeded_and_attempts(&app.db, &jobs).await;
    assert_eq!((succeeded, attempts), (30, 30), "each job ran once");
    let seen = crate::jobs::fairness::running_seen(&app.db).await;
    let of = |key: Uuid| seen.iter().find(|(k, _, _)| *k == key).copied().unwrap();
    let (_, most, claims) = of(team);
    assert_eq!(claims, 20, "both members' claims, each watched");
    assert!(
        most <= CAP,
        "the team ran {most} at once, over its cap of {CAP}"
    );
    let (_, most, claims) = of(cal);
    assert_eq!(claims, 10);
    assert!(most <= CAP, "{most}");
    let keys: i64 =
        sqlx::query_scalar("select count(distinct fairness_key) from jobs where id = any($1)")
            .bind(&jobs)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(keys, 2, "one fair key per workspace");
}
