//! Fair claims (issue 50): which ready jobs a claim statement takes. The highest lane that
//! has a ready job, then round robin over the fairness keys (the key whose last claim is
//! oldest first), skipping keys and users at their caps; a job ready for a period of
//! `JOB_PRIORITY_AGING_SECS` counts one lane higher. The tests count claim statements and
//! set the jobs' `run_after` (a simulated clock), never time; and with three workers the
//! ledger, watched at every claim, never shows a key over its cap. The webhook caps are in
//! `webhooks`, the provider permits in `providers`.

mod providers;
mod webhooks;

use std::time::Duration;

use almanac_shared::{
    domain::generation::GenerationJob,
    domain::publish::PublishJob,
    jobs::{JobKind, JobPayload as _, Lane},
    store::jobs::{self as ledger, Claim, Turns},
};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestOptions, drop_database, fresh_database, spawn_app_with};

/// A first step that reads nothing: these jobs have no domain rows.
const START: &str = "select claimed.id as claimed_job from claimed";

const AGING: Duration = Duration::from_secs(30);

fn turns(per_key: u32) -> Turns {
    Turns {
        per_key,
        per_user: None,
        aging: AGING,
    }
}

/// Writes `count` pending jobs of `key` (its user's, unless `user` says otherwise) in
/// `lane`, ready `ready_secs` ago; returns their ids, oldest first.
async fn ready_jobs(
    db: &PgPool,
    key: Uuid,
    user: Option<Uuid>,
    lane: Lane,
    ready_secs: f64,
    count: i64,
) -> Vec<Uuid> {
    sqlx::query_scalar(
        "insert into jobs (id, user_id, kind, status, payload, max_attempts, lane,
                           fairness_key, run_after)
         select uuid_v7(), $2, 'publish', 'pending', '{}', 3, $3, $1,
                now() - make_interval(secs => $4) + make_interval(secs => n * 0.000001)
         from generate_series(1, $5) as n
         order by n
         returning id",
    )
    .bind(key)
    .bind(user.unwrap_or(key))
    .bind(lane)
    .bind(ready_secs)
    .bind(count)
    .fetch_all(db)
    .await
    .unwrap()
}

/// One claim statement of `most` jobs, as a worker makes it.
async fn claim(db: &PgPool, most: usize, turns: Turns) -> Vec<Claim> {
    ledger::claim(
        db,
        PublishJob::KIND,
        most,
        "worker",
        Uuid::now_v7(),
        START,
        turns,
    )
    .await
    .unwrap()
}

fn ids(claims: &[Claim]) -> Vec<Uuid> {
    claims.iter().map(|claim| claim.id).collect()
}

/// Sets when `key` last had a job claimed (the round robin's order).
async fn last_claimed(db: &PgPool, key: Uuid, secs_ago: f64) {
    sqlx::query(
        "insert into job_keys (kind, key, last_claim_at)
         values ('publish', $1, now() - make_interval(secs => $2))
         on conflict (kind, key) do update set last_claim_at = excluded.last_claim_at",
    )
    .bind(key)
    .bind(secs_ago)
    .execute(db)
    .await
    .unwrap();
}

/// With 1,000 of A's jobs ready (A's cap lifted, so that only the order decides), B's job
/// is claimed by the very next claim statement after it is ready, and then A's go on in
/// their order.
#[tokio::test]
async fn a_backlog_does_not_delay_another_users_job_by_a_single_claim() {
    let (db_name, db) = fresh_database().await;
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let backlog = ready_jobs(&db, a, None, Lane::Interactive, 5.0, 1_000).await;
    let lifted = turns(10_000);
    assert_eq!(ids(&claim(&db, 1, lifted).await), backlog[..1]);
    let mine = ready_jobs(&db, b, None, Lane::Interactive, 0.0, 1).await;
    assert_eq!(
        ids(&claim(&db, 1, lifted).await),
        mine,
        "B's job is claimed next"
    );
    assert_eq!(ids(&claim(&db, 3, lifted).await), backlog[1..4]);
    // In a batch, too: B's second job is in the next statement, beside A's.
    let second = ready_jobs(&db, b, None, Lane::Interactive, 0.0, 1).await;
    let batch = ids(&claim(&db, 8, lifted).await);
    assert_eq!(batch.len(), 8);
    assert_eq!(batch.iter().filter(|id| **id == second[0]).count(), 1);
    assert_eq!(
        batch.iter().filter(|id| backlog.contains(id)).count(),
        7,
        "{batch:?}"
    );
    db.close().await;
    drop_database(&db_name).await;
}

/// Round robin: each key's oldest ready job in turn, the key claimed longest ago first; a
/// key at its cap is skipped while its jobs wait ready, and others' run.
#[tokio::test]
async fn keys_take_turns_and_a_capped_key_waits_while_others_run() {
    let (db_name, db) = fresh_database().await;
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let a_jobs = ready_jobs(&db, a, None, Lane::Interactive, 9.0, 6).await;
    let b_jobs = ready_jobs(&db, b, None, Lane::Interactive, 8.0, 2).await;
    let c_jobs = ready_jobs(&db, c, None, Lane::Interactive, 7.0, 2).await;
    last_claimed(&db, a, 1.0).await;
    last_claimed(&db, b, 3.0).await;
    last_claimed(&db, c, 2.0).await;
    // B was claimed longest ago, then C, then A; then each key's second job.
    let first = claim(&db, 5, turns(4)).await;
    assert_eq!(
        ids(&first),
        [b_jobs[0], c_jobs[0], a_jobs[0], b_jobs[1], c_jobs[1]]
    );
    // A runs 3 of its cap of 3: its other jobs wait, whatever else there is.
    let capped = claim(&db, 10, turns(3)).await;
    assert_eq!(ids(&capped), a_jobs[1..3]);
    assert!(claim(&db, 10, turns(3)).await.is_empty(), "A is at its cap");
    let d = Uuid::new_v4();
    let d_jobs = ready_jobs(&db, d, None, Lane::Interactive, 0.0, 1).await;
    assert_eq!(ids(&claim(&db, 10, turns(3)).await), d_jobs);
    // One of A's ends: one more of A's may run.
    sqlx::query("update jobs set status = 'succeeded', finished_at = now() where id = $1")
        .bind(a_jobs[0])
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(ids(&claim(&db, 10, turns(3)).await), a_jobs[3..4]);
    db.close().await;
    drop_database(&db_name).await;
}

/// A key's own lower cap (an endpoint whose last attempt timed out: 1) holds over the
/// kind's; a user's cap holds over all its keys (a webhook's endpoints).
#[tokio::test]
async fn a_keys_own_cap_and_a_users_cap_hold() {
    let (db_name, db) = fresh_database().await;
    let user = Uuid::new_v4();
    let endpoints: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
    for endpoint in &endpoints {
        ready_jobs(&db, *endpoint, Some(user), Lane::Interactive, 1.0, 5).await;
    }
    sqlx::query("insert into job_keys (kind, key, max_running) values ('publish', $1, 1)")
        .bind(endpoints[0])
        .execute(&db)
        .await
        .unwrap();
    let webhook_like = |per_user| Turns {
        per_key: 2,
        per_user: Some(per_user),
        aging: AGING,
    };
    let running = || async {
        let counts: Vec<(Uuid, i64)> = sqlx::query_as(
            "select fairness_key, count(*) from jobs where status = 'running' group by 1",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        endpoints
            .iter()
            .map(|e| counts.iter().find(|(k, _)| k == e).map_or(0, |(_, n)| *n))
            .collect::<Vec<i64>>()
    };
    assert_eq!(
        claim(&db, 20, webhook_like(7)).await.len(),
        7,
        "the user's cap"
    );
    let counts = running().await;
    assert_eq!(counts[0], 1, "{counts:?}");
    assert!(counts.iter().all(|n| (1..=2).contains(n)), "{counts:?}");
    assert!(claim(&db, 20, webhook_like(7)).await.is_empty());
    // With more room for the user, each endpoint fills to its own cap.
    assert_eq!(claim(&db, 20, webhook_like(100)).await.len(), 2);
    assert_eq!(running().await, [1, 2, 2, 2, 2]);
    db.close().await;
    drop_database(&db_name).await;
}

/// The highest lane with a ready job goes first; a job ready for one aging period counts
/// one lane higher, and for two, two (one lane at a time).
#[tokio::test]
async fn lanes_go_in_order_and_a_waiting_job_moves_up_one_lane_a_period() {
    let (db_name, db) = fresh_database().await;
    let (bulk, scheduled, interactive) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    // Each key claimed in the order that would favour the lower lanes.
    last_claimed(&db, bulk, 30.0).await;
    last_claimed(&db, scheduled, 20.0).await;
    last_claimed(&db, interactive, 10.0).await;
    let b = ready_jobs(&db, bulk, None, Lane::Bulk, 1.0, 1).await;
    let s = ready_jobs(&db, scheduled, None, Lane::Scheduled, 1.0, 1).await;
    let i = ready_jobs(&db, interactive, None, Lane::Interactive, 1.0, 1).await;
    let order: Vec<Uuid> = [
        claim(&db, 1, turns(4)).await,
        claim(&db, 1, turns(4)).await,
        claim(&db, 1, turns(4)).await,
    ]
    .iter()
    .flat_map(|claims| ids(claims))
    .collect();
    assert_eq!(order, [i[0], s[0], b[0]]);

    // A bulk job ready for one period (31 s) counts as `scheduled`: it takes its turn
    // before a scheduled job whose key was claimed more recently, but not before an
    // interactive one (one lane a period).
    let (old_bulk, fresh_scheduled, fresh_interactive) =
        (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    last_claimed(&db, old_bulk, 6.0).await;
    last_claimed(&db, fresh_interactive, 5.0).await;
    last_claimed(&db, fresh_scheduled, 4.0).await;
    let aged = ready_jobs(&db, old_bulk, None, Lane::Bulk, 31.0, 1).await;
    let fs = ready_jobs(&db, fresh_scheduled, None, Lane::Scheduled, 0.0, 1).await;
    let fi = ready_jobs(&db, fresh_interactive, None, Lane::Interactive, 0.0, 1).await;
    let claims = claim(&db, 3, turns(4)).await;
    assert_eq!(ids(&claims), [fi[0], aged[0], fs[0]]);
    assert_eq!(
        claims[1].lane,
        Lane::Bulk,
        "its lane stays the one it was given"
    );

    // Ready for two periods, a bulk job is as urgent as an interactive one: the round robin
    // decides (its key was claimed longer ago).
    let (older_bulk, busy) = (Uuid::new_v4(), Uuid::new_v4());
    last_claimed(&db, older_bulk, 9.0).await;
    last_claimed(&db, busy, 1.0).await;
    let oldest = ready_jobs(&db, older_bulk, None, Lane::Bulk, 61.0, 1).await;
    let urgent = ready_jobs(&db, busy, None, Lane::Interactive, 0.0, 1).await;
    assert_eq!(ids(&claim(&db, 2, turns(4)).await), [oldest[0], urgent[0]]);
    db.close().await;
    drop_database(&db_name).await;
}

/// The claim's choice against its definition, claim after claim over a mixed ledger
/// (keys with and without a last claim, their own caps, running jobs, three lanes, jobs
/// aged zero, one and two periods, jobs not yet due, batches of 1 to 7): each statement
/// takes exactly the jobs the definition ranks first, in its order. The definition: each
/// key below its cap offers its ready jobs best first (lane counted with aging, then
/// oldest), as many as its room; all offers rank by lane, then the key's n-th, then the
/// round robin (oldest last claim, then key).
#[tokio::test]
async fn each_claim_takes_what_the_definition_ranks_first() {
    let (db_name, db) = fresh_database().await;
    // A fixed sequence (xorshift), so that a failure replays.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = |below: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % below
    };
    let keys: Vec<Uuid> = (0..12)
        .map(|_| Uuid::from_u64_pair(next(u64::MAX), next(u64::MAX)))
        .collect();
    for (n, key) in keys.iter().enumerate() {
        let lanes = [Lane::Interactive, Lane::Scheduled, Lane::Bulk];
        for _ in 0..1 + next(3) {
            // Ages kept clear of the period's multiples (30 s), and a few not yet due.
            let age = [-60.0, 1.0, 5.0, 40.0, 45.0, 70.0, 75.0][next(7) as usize] + n as f64 * 0.01;
            let lane = lanes[next(3) as usize];
            ready_jobs(&db, *key, None, lane, age, 1 + next(3) as i64).await;
        }
        match next(4) {
            0 => {}
            1 => last_claimed(&db, *key, 100.0 + next(50) as f64).await,
            2 => last_claimed(&db, *key, 1.0).await,
            _ => {
                sqlx::query(
                    "insert into job_keys (kind, key, max_running) values ('publish', $1, 1)",
                )
                .bind(key)
                .execute(&db)
                .await
                .unwrap();
            }
        }
    }
    let per_key = 3;
    // Rounds that took as many as asked (the statement's walk over the keys can suffice)
    // and rounds that took fewer (it ranks every offer).
    let (mut full, mut short) = (0, 0);
    for round in 0..40 {
        let most = 1 + next(7) as usize;
        let expected = definition(&db, per_key, most).await;
        let got = ids(&claim(&db, most, turns(per_key as u32)).await);
        assert_eq!(got, expected, "claim {round} of {most}");
        if got.len() == most {
            full += 1;
        } else if !got.is_empty() {
            short += 1;
        }
        // Some running jobs end, so that capped keys come back.
        sqlx::query(
            "update jobs set status = 'succeeded', finished_at = now()
             where id in (select id from jobs where status = 'running'
                          order by id limit $1)",
        )
        .bind(next(4) as i64)
        .execute(&db)
        .await
        .unwrap();
    }
    assert!(
        full >= 3 && short >= 3,
        "{full} full and {short} short claims"
    );
    db.close().await;
    drop_database(&db_name).await;
}

/// Which jobs a claim of `most` should take, ranked from the ledger as it is now (see
/// `each_claim_takes_what_the_definition_ranks_first`).
async fn definition(db: &PgPool, per_key: i64, most: usize) -> Vec<Uuid> {
    let aging = AGING.as_secs_f64();
    // (key, job, rank of its lane, age in seconds, run_after)
    let pending: Vec<(Uuid, Uuid, i32, f64, f64)> = sqlx::query_as(
        "select fairness_key, id,
                case lane when 'interactive' then 2 when 'scheduled' then 1 else 0 end,
                extract(epoch from now() - run_after)::float8,
                extract(epoch from run_after)::float8
         from jobs where kind = 'publish' and status = 'pending' and run_after <= now()",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let turns: Vec<(Uuid, f64, i64)> = sqlx::query_as(
        "select k.key, coalesce(extract(epoch from j.last_claim_at)::float8, '-infinity'),
                least(coalesce(j.max_running, $1), $1)
                - (select count(*) from jobs r
                   where r.kind = 'publish' and r.status = 'running' and r.fairness_key = k.key)
         from (select distinct fairness_key as key from jobs where kind = 'publish') k
         left join job_keys j on j.kind = 'publish' and j.key = k.key",
    )
    .bind(per_key)
    .fetch_all(db)
    .await
    .unwrap();
    // (lane now, n-th of its key, last claim, key, job)
    let mut offers: Vec<(i32, usize, f64, Uuid, Uuid)> = Vec::new();
    for (key, last_claim, room) in turns {
        let mut own: Vec<(i32, f64, Uuid)> = pending
            .iter()
            .filter(|(k, ..)| *k == key)
            .map(|(_, id, rank, age, run_after)| {
                (
                    (rank + (age / aging).floor() as i32).min(2),
                    *run_after,
                    *id,
                )
            })
            .collect();
        own.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.total_cmp(&b.1)).then(a.2.cmp(&b.2)));
        for (nth, (lane, _, id)) in own.into_iter().take(room.max(0) as usize).enumerate() {
            offers.push((lane, nth, last_claim, key, id));
        }
    }
    offers.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(a.1.cmp(&b.1))
            .then(a.2.total_cmp(&b.2))
            .then(a.3.cmp(&b.3))
    });
    offers.into_iter().take(most).map(|offer| offer.4).collect()
}

/// Watches the ledger at every claim: a trigger notes, in the claiming transaction, how
/// many jobs of the claimed one's kind and `key` (a column of `jobs`: the fair key, the
/// workspace) are running (`running_seen`).
pub(crate) async fn watch_running(db: &sqlx::PgPool, key: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "create table running_seen (key uuid not null, running bigint not null);
         create function note_running() returns trigger language plpgsql as $$
         begin
             insert into running_seen (key, running)
             select new.{key}, count(*) from jobs
             where kind = new.kind and {key} = new.{key} and status = 'running';
             return null;
         end $$;
         create trigger note_running after update of status on jobs for each row
             when (new.status = 'running' and old.status <> 'running')
             execute function note_running();"
    )))
    .execute(db)
    .await
    .unwrap();
}

/// Of `jobs`: how many succeeded, and how many attempts they took in all (a job run twice
/// shows as one attempt too many).
pub(crate) async fn succeeded_and_attempts(db: &PgPool, jobs: &[Uuid]) -> (i64, i64) {
    sqlx::query_as(
        "select count(*) filter (where status = 'succeeded'), sum(attempts)
         from jobs where id = any($1)",
    )
    .bind(jobs)
    .fetch_one(db)
    .await
    .unwrap()
}

/// What [`watch_running`] saw, per key: the most running at once and the claims watched.
pub(crate) async fn running_seen(db: &sqlx::PgPool) -> Vec<(Uuid, i64, i64)> {
    sqlx::query_as("select key, max(running), count(*) from running_seen group by key order by key")
        .fetch_all(db)
        .await
        .unwrap()
}

/// Three workers, two users with more jobs than the cap, the ledger watched at every
/// claim (a trigger counts the key's running jobs in the claiming transaction): no key
/// ever runs more than `JOB_MAX_RUNNING_PER_USER`, and each job runs once.
#[tokio::test]
async fn the_cap_holds_across_three_workers() {
    const CAP: i64 = 3;
    let mut app = spawn_app_with(TestOptions {
        worker: false,
        probe: true,
        env: vec![
            ("WORKER_CONCURRENCY", "8".into()),
            ("JOB_MAX_RUNNING_PER_USER", CAP.to_string()),
        ],
        ..Default::default()
    })
    .await;
    watch_running(&app.db, "fairness_key").await;
    let users = [Uuid::new_v4(), Uuid::new_v4()];
    let mut jobs = Vec::new();
    for user in users {
        for _ in 0..20 {
            jobs.push(app.submit_probe(user, Uuid::new_v4(), 20).await);
        }
    }
    for _ in 0..3 {
        app.start_worker().await;
    }
    app.jobs_settled().await;
    let (succeeded, attempts) = succeeded_and_attempts(&app.db, &jobs).await;
    assert_eq!((succeeded, attempts), (40, 40), "each job ran once");
    let seen = running_seen(&app.db).await;
    assert_eq!(seen.len(), 2, "{seen:?}");
    for (key, most, claims) in seen {
        assert_eq!(claims, 20, "every claim of {key} watched");
        assert!(
            most <= CAP,
            "{key} ran {most} at once, over its cap of {CAP}"
        );
    }
}

/// `Prefer: priority=bulk` puts the job in the `bulk` lane and says so
/// (`Preference-Applied`); `GET /v1/jobs/{id}` shows each job's lane, and `GET /v1/usage`
/// counts the caller's queued and running jobs by kind and lane as the ledger holds them,
/// every kind and lane listed.
#[tokio::test]
async fn a_bulk_preference_is_applied_shown_and_counted() {
    let app = spawn_app_with(TestOptions {
        worker: false,
        env: vec![("GENERATION_RATE_LIMIT", "10".into())],
        ..Default::default()
    })
    .await;
    app.expect_unfinished_jobs();
    let (user, other) = (Uuid::new_v4(), Uuid::new_v4());
    let submit = |user: Uuid, prefer: Option<&'static str>| {
        let app = &app;
        async move {
            let mut request = app
                .client
                .post(format!("{}/api/ai/generations", app.address))
                .bearer_auth(app.token(user))
                .json(&serde_json::json!({
                    "source_text": crate::helpers::source_text(1500),
                    "reuse": false,
                }));
            if let Some(prefer) = prefer {
                request = request.header("prefer", prefer);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 202);
            let applied = response
                .headers()
                .get("preference-applied")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: serde_json::Value = response.json().await.unwrap();
            (body["job_id"].as_str().unwrap().to_owned(), applied)
        }
    };
    let (bulk, applied) = submit(user, Some("respond-async, priority=bulk")).await;
    assert_eq!(applied.as_deref(), Some("priority=bulk"));
    let (interactive, applied) = submit(user, None).await;
    assert_eq!(applied, None);
    let (_, applied) = submit(user, Some("priority=urgent")).await;
    assert_eq!(applied, None, "an unknown priority is ignored");
    submit(other, Some("priority=bulk")).await;
    for (job, lane) in [(&bulk, "bulk"), (&interactive, "interactive")] {
        let (status, body) = app.get_json(user, &format!("/v1/jobs/{job}")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["lane"], lane, "{body}");
    }
    // One of the user's interactive jobs runs (a claim, as a worker makes it).
    let claimed = ledger::claim(
        &app.db,
        GenerationJob::KIND,
        1,
        "worker",
        Uuid::now_v7(),
        START,
        turns(4),
    )
    .await
    .unwrap();
    assert_eq!(claimed.len(), 1);
    let (status, usage) = app.get_json(user, "/v1/usage").await;
    assert_eq!(status, 200, "{usage}");
    let items = usage["data"]["jobs"].as_array().unwrap();
    assert_eq!(items.len(), JobKind::BUILT_IN.len() * Lane::ALL.len());
    let ledger: Vec<(JobKind, Lane, i64, i64)> = sqlx::query_as(
        "select kind, lane, count(*) filter (where status = 'pending'),
                count(*) filter (where status = 'running')
         from jobs where user_id = $1 group by 1, 2",
    )
    .bind(user)
    .fetch_all(&app.db)
    .await
    .unwrap();
    for item in items {
        let kind: JobKind = serde_json::from_value(item["kind"].clone()).unwrap();
        let lane: Lane = serde_json::from_value(item["lane"].clone()).unwrap();
        let (queued, running) = ledger
            .iter()
            .find(|(k, l, _, _)| (*k, *l) == (kind, lane))
            .map_or((0, 0), |&(_, _, q, r)| (q, r));
        assert_eq!(
            (item["queued"].as_i64(), item["running"].as_i64()),
            (Some(queued), Some(running)),
            "{item}"
        );
    }
    let generation = |lane: &str| {
        items
            .iter()
            .find(|i| i["kind"] == "generation" && i["lane"] == lane)
            .unwrap()
            .clone()
    };
    // The claim took the interactive job first: the bulk one waits.
    assert_eq!(generation("interactive")["running"], 1);
    assert_eq!(generation("interactive")["queued"], 1);
    assert_eq!(generation("bulk")["queued"], 1);
}

/// A worker killed with jobs running (issue 73): its jobs hold the user's cap only until
/// the reconciler gives them back (their heartbeats stale, the worker's presence gone); the
/// user's waiting job then starts on another worker, and the two given back run again,
/// once each.
#[tokio::test]
async fn a_killed_worker_s_jobs_stop_holding_the_cap_once_given_back() {
    use crate::helpers::{Behaviour, FakeAi, eventually};
    // The first two calls never answer: their jobs stay running until their worker dies.
    let fake = FakeAi::start(vec![Behaviour::Hang, Behaviour::Hang], Behaviour::Ok).await;
    let mut app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![
            ("JOB_MAX_RUNNING_PER_WORKSPACE", "2".into()),
            ("AI_TIMEOUT_MS", "120000".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(app.submit_job(user, 1_500).await.1);
    }
    fake.wait_for_calls(2).await;
    let db = app.db.clone();
    let status = |job: Uuid| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>("select status from jobs where id = $1")
                .bind(job)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    let running: Vec<Uuid> = sqlx::query_scalar(
        "select id from jobs where id = any($1) and status = 'running' order by id",
    )
    .bind(&jobs)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(running.len(), 2, "the cap holds the third back");
    let waiting = *jobs.iter().find(|job| !running.contains(job)).unwrap();
    assert_eq!(status(waiting).await, "pending");
    app.kill_worker(0);
    app.start_worker().await;
    // Polled, with a deadline: the waiting job starts once the stale ones are given back.
    eventually(
        Duration::from_secs(30),
        "the user's next job to start",
        || {
            let status = status(waiting);
            async move { (status.await != "pending").then_some(()) }
        },
    )
    .await;
    app.jobs_settled().await;
    let attempts: Vec<(Uuid, String, i32)> =
        sqlx::query_as("select id, status, attempts from jobs where id = any($1)")
            .bind(&jobs)
            .fetch_all(&app.db)
            .await
            .unwrap();
    for (job, status, attempts) in attempts {
        assert_eq!(status, "succeeded", "{job}");
        let expected = if running.contains(&job) { 2 } else { 1 };
        assert_eq!(attempts, expected, "{job}: {attempts} attempts");
    }
}

/// A live worker's job is never claimed twice (issue 73), however late its heartbeats: on a
/// starved machine a heartbeat may come long after `JOB_STALE_MS`, and the reconciler then
/// finds the worker's presence (its own connection) still there and leaves the job alone.
/// Here the running worker beats once a minute while another worker's reconciler takes
/// 600 ms as stale: the job stays its, runs once, and its AI is asked once.
#[tokio::test]
async fn a_live_worker_s_late_heartbeat_never_gets_its_job_claimed_again() {
    use crate::helpers::{Behaviour, FakeAi, eventually};
    let gate = std::sync::Arc::new(tokio::sync::watch::Sender::new(false));
    let fake = FakeAi::start(vec![Behaviour::Gate(gate.clone())], Behaviour::Ok).await;
    let mut app = spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: vec![("AI_TIMEOUT_MS", "120000".into())],
        worker_env: vec![
            ("JOB_HEARTBEAT_MS", "60000".into()),
            ("JOB_STALE_MS", "120000".into()),
        ],
        ..Default::default()
    })
    .await;
    let user = Uuid::new_v4();
    let (_, job) = app.submit_job(user, 1_500).await;
    fake.wait_for_calls(1).await;
    // A second worker, whose reconciler takes a heartbeat 600 ms old as stale.
    app.start_worker_with(app.settings.clone()).await;
    // Its reconciler passes every 100 ms; the job's heartbeat is stale many times over (or
    // the job was taken from its worker: claimed again, its heartbeat new).
    eventually(Duration::from_secs(30), "the heartbeat to go stale", || {
        let db = app.db.clone();
        async move {
            let late: bool = sqlx::query_scalar(
                "select heartbeat_at < now() - interval '3 seconds' or attempts > 1
                 from jobs where id = $1",
            )
            .bind(job)
            .fetch_one(&db)
            .await
            .unwrap_or(false);
            late.then_some(())
        }
    })
    .await;
    let (status, attempts): (String, i32) =
        sqlx::query_as("select status, attempts from jobs where id = $1")
            .bind(job)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        (status.as_str(), attempts),
        ("running", 1),
        "taken from a live worker"
    );
    gate.send_replace(true);
    app.jobs_settled().await;
    let (status, attempts): (String, i32) =
        sqlx::query_as("select status, attempts from jobs where id = $1")
            .bind(job)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((status.as_str(), attempts), ("succeeded", 1));
    assert_eq!(fake.calls(), 1, "the AI was asked once");
}
