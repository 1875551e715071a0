//! The worker's presence in Postgres: one connection of its own, outside the pool, named
//! after the worker (`application_name`, `store::jobs::presence_name`) and held for as
//! long as the worker lives. Postgres drops it the moment the process dies, so the
//! reconciler can tell a worker that is gone from one whose heartbeats were only late (a
//! machine starved of CPU, a pool waiting for connections): it gives back a running job
//! whose heartbeat is stale only once its worker's presence is gone (or its heartbeat is
//! so late that the worker is stuck).

use std::time::Duration;

use almanac_shared::{Settings, store::jobs::presence_name};
use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};

/// How often the connection is checked (and opened again when it broke).
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Holds the presence of the worker `name` until dropped (the task is aborted with it).
pub(crate) fn hold(
    settings: &Settings,
    name: &str,
) -> anyhow::Result<almanac_shared::shutdown::AbortOnDrop> {
    let options: PgConnectOptions = settings.database_url.expose().parse()?;
    let options = options.application_name(&presence_name(name));
    Ok(almanac_shared::shutdown::AbortOnDrop(tokio::spawn(
        async move {
            loop {
                match PgConnection::connect_with(&options).await {
                    Ok(mut conn) => {
                        while conn.ping().await.is_ok() {
                            tokio::time::sleep(CHECK_EVERY).await;
                        }
                        tracing::warn!("the worker's presence connection broke; opening it again");
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the worker's presence connection could not be opened")
                    }
                }
                tokio::time::sleep(CHECK_EVERY).await;
            }
        },
    )))
}
