//! The check every test ends with: no job left `failed` or unfinished unless the test says
//! it means to (crates.io's harness checks for failed jobs on drop the same way).

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};
use uuid::Uuid;

use super::{TestApp, admin_url};

/// What a test may leave in the ledger without failing: by default nothing `failed` and
/// nothing unfinished, as crates.io's test harness checks for failed jobs on drop.
#[derive(Default)]
pub(crate) struct Leaves {
    failed: AtomicBool,
    unfinished: AtomicBool,
}

impl TestApp {
    /// This test makes jobs fail on purpose.
    pub fn expect_failed_jobs(&self) {
        self.leaves.failed.store(true, Ordering::SeqCst);
    }

    /// This test ends while jobs are pending or running, on purpose (it runs no worker,
    /// or stops before they end).
    pub fn expect_unfinished_jobs(&self) {
        self.leaves.unfinished.store(true, Ordering::SeqCst);
    }

    /// The statuses the test may not leave behind.
    pub(crate) fn forbidden_leftovers(&self) -> Vec<&'static str> {
        let mut statuses = Vec::new();
        if !self.leaves.failed.load(Ordering::SeqCst) {
            statuses.push("failed");
        }
        if !self.leaves.unfinished.load(Ordering::SeqCst) {
            statuses.extend(["pending", "running"]);
        }
        statuses
    }
}

/// The jobs of database `db_name` in one of `statuses`, described for a failure message.
pub(crate) async fn leftover_jobs(db_name: &str, statuses: &[&str]) -> Vec<String> {
    if statuses.is_empty() {
        return Vec::new();
    }
    let admin: PgConnectOptions = admin_url().parse().unwrap();
    let Ok(mut conn) = PgConnection::connect_with(&admin.database(db_name)).await else {
        return Vec::new();
    };
    let rows: Vec<(Uuid, String, String, Option<sqlx::types::Json<Value>>)> = sqlx::query_as(
        "select id, kind, status, error from jobs where status = any($1) order by created_at",
    )
    .bind(statuses)
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    conn.close().await.ok();
    rows.into_iter()
        .map(|(id, kind, status, error)| {
            let error = error.map(|e| e.0.to_string()).unwrap_or_default();
            format!("{kind} job {id} {status} {error}")
        })
        .collect()
}
