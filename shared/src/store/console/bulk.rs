//! Bulk retries and cancels: every job a filter matches, newest first, one statement per
//! [`BATCH`](super::BATCH) jobs, each its own transaction, so that no claim waits behind
//! more than one batch's row locks (`admin_retry_jobs`, `admin_cancel_jobs`).

use std::collections::BTreeMap;

use sqlx::{PgPool, QueryBuilder};
use uuid::Uuid;

use super::{BATCH, JobFilter};
use crate::jobs::{JobKind, JobStatus};

/// What an operator does to the matching jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `failed`, `timeout` and `cancelled` jobs of the kinds that can start again go back to
    /// `pending` with a fresh attempt budget.
    Retry,
    /// Pending jobs end `cancelled`; running ones are asked to stop.
    Cancel,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Retry => "retry",
            Action::Cancel => "cancel",
        }
    }
}

/// One matching job and what the action did to it (or, in a dry run, would do).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Acted {
    pub id: Uuid,
    pub kind: JobKind,
    /// The status it had (a cancel's: a running job is only asked to stop).
    pub before: JobStatus,
    /// Why it was left as it was; `None` when the action took it.
    pub skipped: Option<String>,
}

/// The jobs of one statement.
#[derive(Debug, Default)]
pub struct Batch {
    pub jobs: Vec<Acted>,
}

impl Batch {
    /// Where the next batch starts: after the oldest job of this one; `None` when this one
    /// found none.
    pub fn next(&self) -> Option<Uuid> {
        self.jobs.iter().map(|job| job.id).min()
    }
}

/// Acts on the next (at most [`BATCH`]) matching jobs created before the job `before`.
pub async fn batch(
    pool: &PgPool,
    filter: &JobFilter,
    action: Action,
    dry_run: bool,
    before: Option<Uuid>,
) -> sqlx::Result<Batch> {
    let function = match action {
        Action::Retry => "admin_retry_jobs",
        Action::Cancel => "admin_cancel_jobs",
    };
    let mut sql = QueryBuilder::new(format!(
        "select r.id, r.kind, r.before, r.skipped
         from {function}(array(select j.id from jobs j where true"
    ));
    filter.push_conditions(&mut sql);
    super::push_page(&mut sql, before, BATCH);
    sql.push("), ").push_bind(dry_run).push(") r");
    sql.build_query_as()
        .fetch_all(pool)
        .await
        .map(|jobs| Batch { jobs })
}

/// Counts what a batch came to into `outcome`.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub matched: u64,
    pub acted: u64,
    pub skipped: BTreeMap<String, u64>,
}

impl Tally {
    pub fn add(&mut self, batch: &Batch) {
        for job in &batch.jobs {
            self.matched += 1;
            match &job.skipped {
                None => self.acted += 1,
                Some(reason) => *self.skipped.entry(reason.clone()).or_default() += 1,
            }
        }
    }
}
