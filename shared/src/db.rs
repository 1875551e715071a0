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

/// True when the error means the database could not be reached (as opposed to a bad query).
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
