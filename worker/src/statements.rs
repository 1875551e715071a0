//! Statements several jobs share under load ([`Gather`]): a generation's duplicate check
//! and its last batch's end. The handlers ask; one task each gathers the asks that
//! arrive while its statement runs into the next.

use almanac_shared::{
    jobs::JobKind,
    store::generations::{self, Last, Sides},
    trips::{self, Step},
};
use sqlx::PgPool;

use almanac_shared::gather::{Answer, Gather, together_or_alone};

/// The worker's gathered statements.
pub(crate) struct Statements {
    /// Generations' duplicate checks ([`generations::card_keys`]).
    pub(crate) checks: Gather<Sides, Answer<Vec<(String, bool)>>>,
    /// Generations' last batches, saved with their jobs' ends ([`generations::save_last`]):
    /// `None` for a job whose claim was lost, else its user's tokens of the day.
    pub(crate) lasts: Gather<Last, Answer<Option<i64>>>,
}

impl Statements {
    /// Starts their tasks, at most `most` asks a statement. Must be called inside a Tokio
    /// runtime.
    pub(crate) fn start(pool: &PgPool, most: usize) -> Self {
        let checks = {
            let pool = pool.clone();
            Gather::start(most, move |checks: Vec<Sides>| {
                let pool = pool.clone();
                async move {
                    together_or_alone(&checks, "checking cards for duplicates", |checks| {
                        let pool = pool.clone();
                        Box::pin(async move {
                            let statement = generations::card_keys(&pool, checks);
                            trips::scope(JobKind::Generation, Step::Handler, statement).await
                        })
                    })
                    .await
                }
            })
        };
        let lasts = {
            let pool = pool.clone();
            Gather::start(most, move |lasts: Vec<Last>| {
                let pool = pool.clone();
                async move {
                    metrics::histogram!("job_end_group_size", "kind" => JobKind::Generation.as_str())
                        .record(lasts.len() as f64);
                    together_or_alone(&lasts, "ending generations", |lasts| {
                        let pool = pool.clone();
                        Box::pin(async move {
                            let statement = generations::save_last(&pool, lasts);
                            trips::scope(JobKind::Generation, Step::End, statement).await
                        })
                    })
                    .await
                }
            })
        };
        Self { checks, lasts }
    }
}
