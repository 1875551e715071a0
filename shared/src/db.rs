//! Postgres access: the pool, migrations, and the per-request transaction that runs as the
//! application role with the caller's id, so row-level security applies.

use std::time::Duration;

use anyhow::Context;
use sqlx::{
    PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::config::Settings;
use crate::trips::{self, Store};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A pooled connection idle this long is pinged before it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Builds the pool lazily: the process starts (and answers 503) while Postgres is down.
/// `acquire_timeout` bounds the wait for a connection (short for requests, long for workers).
pub fn pool(settings: &Settings, acquire_timeout: Duration) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = settings
        .database_url
        .expose()
        .parse()
        .context("parsing DATABASE_URL")?;
    let options = options.application_name("almanac");
    Ok(PgPoolOptions::new()
        .max_connections(settings.database_max_connections)
        .min_connections(0)
        .acquire_timeout(acquire_timeout)
        // No ping on every checkout (a round trip per query under load). A connection that
        // sat idle a while is pinged first, so the first requests after a database restart
        // or a network blip get fresh connections instead of broken ones.
        .test_before_acquire(false)
        // Each checkout is a statement (or a transaction) of whatever job path the task is
        // on (`trips`): counted here, an idle connection's or a new one's. The ping is the
        // pool's, sent only when it sat idle (so never under load), and not counted: a
        // job's count does not depend on how long the pool sat before it.
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                trips::count(Store::Postgres);
                if meta.idle_for >= IDLE_BEFORE_PING {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .after_connect(|_, _| {
            Box::pin(async move {
                trips::count(Store::Postgres);
                Ok(())
            })
        })
        .idle_timeout(Some(Duration::from_secs(300)))
        .connect_lazy_with(options))
}

/// Runs the migrations.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("running migrations")
}

/// `url` with its database name replaced, keeping user, host and parameters.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = base.rsplit_once('/').map_or(base, |(b, _)| b);
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// How long the probe of [`is_down`] waits for Postgres to answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// True when `error` means a pooled connection could not be had in time. The pool may be
/// saturated (every connection in use) as well as Postgres unreachable: [`is_down`] tells.
pub fn is_busy(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::PoolTimedOut)
}

/// Whether `error`, met on `pool`, means Postgres is down rather than busy. A broken or
/// refused connection is down; a pool's time-out (every connection taken) is judged by one
/// probe connection outside the pool: Postgres answering it, or refusing it only for having
/// as many clients as it takes, is busy, not down. Seed 001's outage answers (the legacy
/// dry run, `STORE_UNAVAILABLE`, the publish spool) are for down only.
pub async fn is_down(pool: &PgPool, error: &sqlx::Error) -> bool {
    if !is_busy(error) {
        return is_unavailable(error);
    }
    !answers(pool).await
}

/// Whether Postgres answers a probe connection opened outside `pool` (a full server, one
/// refusing it for having as many clients as it takes, answers).
pub async fn answers(pool: &PgPool) -> bool {
    let options = pool.connect_options();
    let probe = tokio::time::timeout(
        PROBE_TIMEOUT,
        <sqlx::PgConnection as sqlx::Connection>::connect_with(options.as_ref()),
    )
    .await;
    match probe {
        Ok(Ok(conn)) => {
            let _ = sqlx::Connection::close(conn).await;
            true
        }
        // 53300 too_many_connections: Postgres answers, and is full.
        Ok(Err(sqlx::Error::Database(e))) if e.code().as_deref() == Some("53300") => true,
        Ok(Err(_)) | Err(_) => false,
    }
}

/// True when the error means the database could not be reached (as opposed to a bad query),
/// or that no pooled connection could be had in time (see [`is_down`]).
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
    ) || matches!(error, sqlx::Error::Database(e) if e.code().is_some_and(|c| c.starts_with("57P") || c.starts_with("08")))
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_names_are_swapped_keeping_parameters() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres?sslmode=disable&x=1", "t1"),
            "postgres://u@h:5432/t1?sslmode=disable&x=1"
        );
        assert_eq!(
            with_database("postgres://u@h/app", "t2"),
            "postgres://u@h/t2"
        );
    }
}
