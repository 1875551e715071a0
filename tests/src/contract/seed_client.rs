//! The seeds' own client (`tests/client/seed_client.py`): written from the five seed
//! documents' text alone, it runs seed 000's streamed calendar and its regeneration diff,
//! seed 002's submit and poll, seed 003's example week and a week made to fail, and seed
//! 004's schedule bodies and the email its schedule sends, against the real binaries started
//! with `AI_PROVIDER=offline` pinned and the `outbox` email provider.

use almanac_shared::auth::JwtKeys;
use almanac_tests::processes::Service;
use uuid::Uuid;

use crate::helpers::{JWT_SECRET, admin_url, drop_database, fresh_database, redis_url};

#[tokio::test]
async fn a_client_written_from_the_seeds_alone_works_unchanged() {
    let (db_name, _db) = fresh_database().await;
    let outbox = crate::helpers::outbox::Outbox::new();
    let prefix = format!("seed{}", &Uuid::new_v4().simple().to_string()[..10]);
    let mut env = vec![
        (
            "DATABASE_URL",
            almanac_shared::db::with_database(&admin_url(), &db_name),
        ),
        ("REDIS_URL", redis_url()),
        ("REDIS_PREFIX", prefix),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("AI_PROVIDER", "offline".into()),
        ("SCHEDULER_TICK_SECS", "0.2".into()),
    ];
    env.extend(outbox.env());
    let api = Service::api(&env).await.expect("almanac-api starts");
    let worker = Service::worker(&env).await.expect("almanac-worker starts");
    let token = JwtKeys::new(JWT_SECRET).mint(Uuid::now_v7(), 600);
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let run = tokio::process::Command::new("python3")
        .arg(format!("{root}/tests/client/seed_client.py"))
        .arg(api.url(""))
        .arg(token)
        .arg(worker.pid().to_string())
        .output()
        .await
        .expect("python3 runs");
    drop((api, worker, outbox));
    drop_database(&db_name).await;
    let out = String::from_utf8_lossy(&run.stdout);
    println!("{out}");
    assert!(
        run.status.success(),
        "the seed client failed:\n{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for step in [
        "ok 000 streamed 14 entries then a final frame with meta.done",
        "ok 000 regenerated: 4 added",
        "ok 000 refusals in the envelope",
        "ok 002 submitted and polled to succeeded",
        "ok 002 400 for a short text, 401 without a token",
        "ok 003 the example streamed",
        "ok 003 a failed week said so: error",
        "ok 004 get_schedule_returns_null_when_none",
        "ok 004 upsert_schedule_creates_schedule",
        "ok 004 invalid emails, days, time and too many emails are 422",
        "ok 004 schedule_requires_auth",
        "ok 004 delete_schedule_returns_204",
        "ok 004 the schedule ran: 2 emails, one per recipient",
    ] {
        assert!(out.contains(step), "{step:?} not reached:\n{out}");
    }
}
