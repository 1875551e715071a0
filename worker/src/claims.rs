//! Claims of one queue's deliveries, several jobs a statement.
//!
//! Each delivery asks for its claim; one task per queue takes every ask waiting and claims
//! them in one statement (`store::jobs::claim`): one transaction, one WAL flush and one plan
//! for as many jobs as arrived while the statements before them ran. At most [`IN_FLIGHT`]
//! statements run at once, and an ask that finds one free goes out at once: an idle job
//! waits for nothing, and a queue under load claims in batches as large as its backlog.

use std::sync::Arc;

use almanac_shared::{
    jobs::JobKind,
    store::jobs::{self as ledger, Claim, NotClaimed},
};
use sqlx::PgPool;
use tokio::sync::{Semaphore, mpsc, oneshot};
use uuid::Uuid;

/// Claim statements of one queue running at once.
pub(crate) const IN_FLIGHT: usize = 2;

/// What an ask comes to: the claim or why there is none, or the statement's error (shared by
/// every job of its batch).
pub(crate) type Answer = Result<Result<Claim, NotClaimed>, Arc<sqlx::Error>>;

struct Ask {
    job: Uuid,
    answer: oneshot::Sender<Answer>,
}

/// Claims the deliveries of one kind's queue; dropping the last clone stops its task.
#[derive(Clone)]
pub(crate) struct Claimer {
    kind: JobKind,
    asks: mpsc::UnboundedSender<Ask>,
}

impl Claimer {
    /// Starts the task that claims `kind`'s jobs for `worker`, with the kind's first step
    /// `start`, at most `most` jobs a statement. Must be called inside a Tokio runtime.
    pub(crate) fn start(
        pool: PgPool,
        worker: String,
        kind: JobKind,
        start: &'static str,
        most: usize,
    ) -> Self {
        let (asks, waiting) = mpsc::unbounded_channel();
        tokio::spawn(claim_in_batches(waiting, pool, worker, start, most.max(1)));
        Self { kind, asks }
    }

    /// The kind whose jobs this claims.
    pub(crate) fn kind(&self) -> JobKind {
        self.kind
    }

    /// Claims `job`, with whatever other jobs of the queue are waiting for their claims.
    pub(crate) async fn claim(&self, job: Uuid) -> Answer {
        let (answer, answered) = oneshot::channel();
        let stopped = || Err(Arc::new(sqlx::Error::PoolClosed));
        if self.asks.send(Ask { job, answer }).is_err() {
            return stopped();
        }
        answered.await.unwrap_or_else(|_| stopped())
    }
}

async fn claim_in_batches(
    mut waiting: mpsc::UnboundedReceiver<Ask>,
    pool: PgPool,
    worker: String,
    start: &'static str,
    most: usize,
) {
    let free = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(permit) = free.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = waiting.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < most
            && let Ok(ask) = waiting.try_recv()
        {
            batch.push(ask);
        }
        let (pool, worker) = (pool.clone(), worker.clone());
        tokio::spawn(async move {
            let ids: Vec<Uuid> = batch.iter().map(|ask| ask.job).collect();
            metrics::histogram!("job_claim_batch_size").record(ids.len() as f64);
            match ledger::claim(&pool, &ids, &worker, start).await {
                Ok(answers) => {
                    for (ask, answer) in batch.into_iter().zip(answers) {
                        let _ = ask.answer.send(Ok(answer));
                    }
                }
                Err(error) => {
                    let error = Arc::new(error);
                    for ask in batch {
                        let _ = ask.answer.send(Err(error.clone()));
                    }
                }
            }
            drop(permit);
        });
    }
}
