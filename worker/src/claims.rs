//! Claims of one queue's jobs, several a statement.
//!
//! A delivery from Redis is a wake-up: the worker slot it takes asks for a job of its kind,
//! and the ledger chooses which (`store::jobs::claim`: by lane, then round robin over the
//! fairness keys, under their caps). The asks of a queue are gathered ([`Gather`]): the
//! claim for them is the choice, then the kind's first step, two statements for as many
//! slots as asked while the claim before ran. One claim runs at a time (claims of a kind
//! take turns in Postgres anyway, so a second would only wait there holding a
//! connection), and an ask that finds none running goes out at once: an idle job waits for
//! nothing, and a queue under load claims in batches as large as its free slots.

use std::sync::Arc;

use almanac_shared::{
    Settings,
    jobs::JobKind,
    store::jobs::{self as ledger, Claim, Turns},
    trips::{self, Step},
};
use sqlx::PgPool;
use uuid::Uuid;

use almanac_shared::gather::{self, Gather};

/// What an ask comes to: a job to run, none (nothing of the kind is ready within its
/// turns), or the statement's error (shared by every ask of its batch).
pub(crate) type Claimed = gather::Gathered<Option<Claim>>;

/// Claims the deliveries of one kind's queue; dropping the last clone stops its task.
#[derive(Clone)]
pub(crate) struct Claimer {
    kind: JobKind,
    asks: Gather<(), Claimed>,
}

impl Claimer {
    /// Starts the task that claims `kind`'s jobs for `worker`, with the kind's first step
    /// `start`, at most `WORKER_CONCURRENCY` jobs a statement, within its turns. Must be
    /// called inside a Tokio runtime.
    pub(crate) fn start(
        pool: PgPool,
        settings: &Settings,
        worker: String,
        kind: JobKind,
        start: &'static str,
        turns: Turns,
    ) -> Self {
        let batches = Batches {
            pool,
            worker,
            kind,
            start,
            turns,
            patience: settings.jobs.stale_after,
        };
        let asks = Gather::start(settings.jobs.concurrency, move |asks: Vec<()>| {
            let batches = batches.clone();
            async move { batches.answer(asks.len()).await }
        });
        Self { kind, asks }
    }

    /// The kind whose jobs this claims.
    pub(crate) fn kind(&self) -> JobKind {
        self.kind
    }

    /// Claims the next job of the kind the ledger gives, with whatever other slots of the
    /// queue are asking.
    pub(crate) async fn next(&self) -> Claimed {
        self.asks.statement(()).await
    }
}

/// What the claiming task of one queue needs.
#[derive(Clone)]
struct Batches {
    pool: PgPool,
    worker: String,
    kind: JobKind,
    start: &'static str,
    turns: Turns,
    /// How long a lost claim's give-back is tried (`JOB_STALE_MS`: stale recovery then
    /// takes over).
    patience: std::time::Duration,
}

impl Batches {
    /// Claims for `asks` slots and answers each: the first asks get the jobs.
    async fn answer(&self, asks: usize) -> Vec<Claimed> {
        metrics::histogram!("job_claim_batch_size").record(asks as f64);
        let token = Uuid::now_v7();
        let claimed = trips::scope(
            self.kind,
            Step::Claim,
            ledger::claim(
                &self.pool,
                self.kind,
                asks,
                &self.worker,
                token,
                self.start,
                self.turns,
            ),
        )
        .await;
        match claimed {
            Ok(claims) => {
                for claim in &claims {
                    metrics::histogram!("job_wait_seconds", "kind" => self.kind.as_str(), "lane" => claim.lane.as_str())
                        .record(claim.waited.as_secs_f64());
                }
                // At most one claim an ask (the statement's limit).
                let mut claims = claims.into_iter();
                (0..asks).map(|_| Ok(claims.next())).collect()
            }
            Err(error) => {
                if almanac_shared::db::is_unavailable(&error) {
                    // The statement may have committed though its answer was lost.
                    trips::scope(self.kind, Step::Claim, self.give_back(token)).await;
                }
                let error = Arc::new(error);
                (0..asks).map(|_| Err(error.clone())).collect()
            }
        }
    }

    /// Gives back what the claim statement `token` took, not started here, without
    /// spending the attempts, instead of waiting for stale recovery: tried again while
    /// Postgres is unreachable, for as long as stale recovery would take.
    async fn give_back(&self, token: Uuid) {
        let give_up = std::time::Instant::now() + self.patience;
        let mut pause = std::time::Duration::from_millis(50);
        loop {
            match ledger::release_unstarted(&self.pool, token, &self.worker).await {
                Ok(0) => return,
                Ok(given) => {
                    tracing::info!(given, queue = %self.kind, "jobs of a claim whose answer was lost were given back");
                    return;
                }
                Err(error)
                    if almanac_shared::db::is_unavailable(&error)
                        && std::time::Instant::now() < give_up =>
                {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(1));
                }
                Err(error) => {
                    tracing::warn!(queue = %self.kind, error = %error, "could not give back a claim whose answer was lost; the reconciler will recover its jobs");
                    return;
                }
            }
        }
    }
}
