//! Runtime flags (seed 001): how long a change made through one API replica takes to be
//! applied by another replica and by a worker (in-process, each with its own pool and
//! listener), against the floor of a raw Postgres `NOTIFY` reaching a `LISTEN`ing
//! connection in the same run; and how long a change whose notification is lost (written
//! with triggers off) takes to heal by the periodic reload, against `FLAGS_REFRESH_MS`.
//! The target is a second either way.

use std::time::{Duration, Instant};

use almanac_shared::{Settings, flags::Flag};
use sqlx::{PgPool, postgres::PgListener};

use crate::{ms, percentile};

const TOGGLES: usize = 40;
const MISSED: usize = 5;

pub async fn run(settings: &Settings, pool: &PgPool) -> anyhow::Result<()> {
    let floor = raw_notify(pool).await?;
    let first = almanac_api::Application::build(settings.clone()).await?;
    let base = format!("http://127.0.0.1:{}", first.port());
    tokio::spawn(first.run_until_stopped(std::future::pending()));
    let other = almanac_api::Application::build(settings.clone()).await?;
    let mut replica = other.state().flags.watch();
    tokio::spawn(other.run_until_stopped(std::future::pending()));
    let worker = almanac_worker::Application::build(settings.clone()).await?;
    let mut worker_flags = worker.context().flags.watch();
    tokio::spawn(worker.run_until_stopped(std::future::pending()));

    let http = reqwest::Client::new();
    let token = almanac_shared::auth::JwtKeys::new(crate::SECRET).mint_service_role(3600);
    let (mut to_replica, mut to_worker) = (Vec::new(), Vec::new());
    for i in 0..TOGGLES {
        replica.mark_unchanged();
        worker_flags.mark_unchanged();
        let state = if i % 2 == 0 { "off" } else { "on" };
        // Watched while the request is under way: each is timed when it applies the change.
        let sent = Instant::now();
        let put = http
            .put(format!(
                "{base}/admin/flags/{}",
                Flag::CalendarService.name()
            ))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "state": state }))
            .send();
        let (answer, a, b) = tokio::join!(
            put,
            async { replica.changed().await.map(|()| sent.elapsed()) },
            async { worker_flags.changed().await.map(|()| sent.elapsed()) },
        );
        let answer = answer?;
        anyhow::ensure!(answer.status() == 200, "PUT answered {}", answer.status());
        to_replica.push(a?);
        to_worker.push(b?);
    }
    to_replica.sort();
    to_worker.sort();

    // Lost notifications: only the reload every FLAGS_REFRESH_MS brings these.
    let mut healed = Vec::new();
    for i in 0..MISSED {
        replica.mark_unchanged();
        let state = if i % 2 == 0 { "off" } else { "on" };
        let mut tx = pool.begin().await?;
        sqlx::query("set local session_replication_role = replica")
            .execute(&mut *tx)
            .await?;
        sqlx::query("update feature_flags set state = $1 where name = $2")
            .bind(state)
            .bind(Flag::CalendarService.name())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let written = Instant::now();
        replica.changed().await?;
        healed.push(written.elapsed());
    }
    healed.sort();
    let p50 = |v: &[Duration]| ms(percentile(v, 50.0));
    let max = |v: &[Duration]| ms(*v.last().unwrap());
    println!("runtime flags  (a change through one API, {TOGGLES} toggles)");
    println!(
        "  other replica applies it   p50 {:.2} ms  max {:.2} ms   ratio to raw NOTIFY p50 ({:.2} ms) {:.1}",
        p50(&to_replica),
        max(&to_replica),
        p50(&floor),
        p50(&to_replica) / p50(&floor)
    );
    println!(
        "  worker applies it          p50 {:.2} ms  max {:.2} ms",
        p50(&to_worker),
        max(&to_worker)
    );
    println!(
        "  notification lost, healed  p50 {:.0} ms  max {:.0} ms   ratio to FLAGS_REFRESH_MS ({} ms) {:.2}",
        p50(&healed),
        max(&healed),
        settings.flags_refresh.as_millis(),
        max(&healed) / settings.flags_refresh.as_secs_f64() / 1000.0
    );
    println!("  target: every process within 1 s");
    println!();
    Ok(())
}

/// A raw `NOTIFY` from one connection to another that `LISTEN`s, round after round.
async fn raw_notify(pool: &PgPool) -> anyhow::Result<Vec<Duration>> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen("bench_raw_notify").await?;
    let mut samples = Vec::with_capacity(TOGGLES);
    for _ in 0..TOGGLES {
        let sent = Instant::now();
        sqlx::query("select pg_notify('bench_raw_notify', 'x')")
            .execute(pool)
            .await?;
        listener.recv().await?;
        samples.push(sent.elapsed());
    }
    samples.sort();
    Ok(samples)
}
