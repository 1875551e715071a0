//! The bounded ledger under load: a million finished jobs past `JOB_RETENTION_DAYS`, swept
//! by the reconciler while the end-to-end phase runs, against the same phase without
//! sweeping, on the same build and database; then the table's size over repeated rounds
//! (deleted rows' space is reused, so it should stay flat).

use std::time::Instant;

use sqlx::{PgPool, postgres::PgPoolOptions};

// (`end_to_end` counts only the jobs of its own run, so the sweep's deletions do not
// confuse it.)
use uuid::Uuid;

use crate::{
    forget_keys,
    jobs::{end_to_end, load_clients, submitter},
    on_scratch_database, settings_with,
};

/// Expired jobs loaded before each sweeping round.
const EXPIRED: i64 = 1_000_000;

/// Loads `n` jobs that finished 40 days ago (past the default retention of 30).
async fn load_expired(pool: &PgPool, n: i64) -> anyhow::Result<()> {
    sqlx::query(
        "insert into jobs (id, user_id, kind, status, payload, max_attempts, created_at, finished_at)
         select gen_random_uuid(), gen_random_uuid(), 'generation', 'succeeded', '{}', 3,
                now() - interval '41 days', now() - interval '40 days' - (i * interval '1 ms')
         from generate_series(1, $1) as i",
    )
    .bind(n)
    .execute(pool)
    .await?;
    sqlx::query("analyze jobs").execute(pool).await?;
    Ok(())
}

async fn expired_left(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from jobs where finished_at < now() - interval '30 days'",
    )
    .fetch_one(pool)
    .await?)
}

async fn table_mib(pool: &PgPool) -> anyhow::Result<f64> {
    let bytes: i64 = sqlx::query_scalar("select pg_total_relation_size('jobs')")
        .fetch_one(pool)
        .await?;
    Ok(bytes as f64 / (1024.0 * 1024.0))
}

pub async fn run(admin_url: &str, clients: usize, jobs: usize) -> anyhow::Result<()> {
    on_scratch_database(admin_url, "retention", |db_url| async move {
        let prefix = format!("bench{}", &Uuid::new_v4().simple().to_string()[..8]);
        // The default reconciler: a pass every 2 s, sweeping for at most a fifth of it.
        let settings = settings_with(&db_url, &prefix, &[]);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(&db_url)
            .await?;
        almanac_shared::db::migrate(&pool).await?;
        let api = almanac_api::Application::build(settings.clone()).await?;
        let base = format!("http://127.0.0.1:{}", api.port());
        tokio::spawn(api.run_until_stopped(std::future::pending()));
        let worker = almanac_worker::Application::build(settings.clone()).await?;
        tokio::spawn(worker.run_until_stopped(std::future::pending()));
        let (http, tokens) = load_clients(clients)?;
        let submit = submitter(&http, &base, &tokens);
        // The reconciler sweeps only while it can take the sweep's lease: holding it here
        // measures the same build, on the same table, without sweeping.
        let lease = settings.redis_key(&["sweep-lease"]);
        let mut redis = almanac_shared::redis_conn::RedisConn::connect(&settings).await?;
        let mut hold = async |held: bool| -> anyhow::Result<()> {
            let mut cmd = redis::cmd(if held { "SET" } else { "DEL" });
            cmd.arg(&lease);
            if held {
                cmd.arg("bench").arg("PX").arg(3_600_000);
            }
            cmd.query_async::<()>(&mut redis).await?;
            Ok(())
        };
        end_to_end(&pool, clients, jobs / 5, submit.clone()).await?;
        println!(
            "retention  {EXPIRED} finished jobs past JOB_RETENTION_DAYS swept by the reconciler (default settings) while end to end runs ({jobs} jobs a run), against end to end on the same table without sweeping"
        );
        let mut sizes = Vec::new();
        for round in 1..=3 {
            hold(true).await?;
            load_expired(&pool, EXPIRED).await?;
            let loaded = table_mib(&pool).await?;
            let mut quiet = Vec::new();
            for _ in 0..3 {
                quiet.push(end_to_end(&pool, clients, jobs, submit.clone()).await?.0);
            }
            hold(false).await?;
            let started = Instant::now();
            // End to end, run after run, until the sweep is done.
            let mut rates = Vec::new();
            while expired_left(&pool).await? > 0 {
                rates.push(end_to_end(&pool, clients, jobs, submit.clone()).await?.0);
            }
            let swept_in = started.elapsed();
            let sweeping = rates.iter().sum::<f64>() / rates.len().max(1) as f64;
            // Without sweeping again, on the table as the runs left it: the runs grow the
            // tables they write, so the runs before and after bracket the ones between.
            hold(true).await?;
            for _ in 0..3 {
                quiet.push(end_to_end(&pool, clients, jobs, submit.clone()).await?.0);
            }
            let quiet = quiet.iter().sum::<f64>() / quiet.len() as f64;
            // The rounds' own jobs go too, so that each round starts from the same rows:
            // what the table holds then is the space the sweep left for reuse.
            sqlx::query("delete from jobs").execute(&pool).await?;
            sqlx::query("vacuum jobs").execute(&pool).await?;
            let after = table_mib(&pool).await?;
            sizes.push(loaded);
            println!(
                "  round {round}: without sweeping {quiet:>5.0} jobs/s (3 runs before, 3 after), sweeping {sweeping:>5.0} jobs/s ({:.1} %, the mean of {} runs); all {EXPIRED} swept after {:.1} s ({:.0}/s); table {loaded:.0} MiB loaded, {after:.0} MiB emptied",
                100.0 * sweeping / quiet,
                rates.len(),
                swept_in.as_secs_f64(),
                EXPIRED as f64 / swept_in.as_secs_f64(),
            );
        }
        println!(
            "  table size with a million loaded, over the rounds: {} MiB",
            sizes
                .iter()
                .map(|mib| format!("{mib:.0}"))
                .collect::<Vec<_>>()
                .join(" -> ")
        );
        println!("  targets: end to end while sweeping within 10 % of without; size flat over rounds");
        println!();
        forget_keys(&settings).await
    })
    .await
}
