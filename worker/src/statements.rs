//! Statements several jobs share under load ([`Gather`]): a generation's duplicate check
//! and its last batch's end. The handlers ask; one task each gathers the asks that
//! arrive while its statement runs into the next.

use almanac_shared::{
    domain::generation::GenerationJob,
    gather::{self, Gather, Gathered},
    jobs::JobPayload as _,
    store::generations::{self, Last, Sides},
    trips::Step,
};
use sqlx::PgPool;

/// The worker's gathered statements.
pub(crate) struct Statements {
    /// Generations' duplicate checks ([`generations::card_keys`]).
    pub(crate) checks: Gather<Sides, Gathered<Vec<(String, bool)>>>,
    /// Generations' last batches, saved with their jobs' ends ([`generations::save_last`]):
    /// `None` for a job whose claim was lost, else its user's tokens of the day.
    pub(crate) lasts: Gather<Last, Gathered<Option<i64>>>,
}

impl Statements {
    /// Starts their tasks, at most `most` asks a statement. Must be called inside a Tokio
    /// runtime.
    pub(crate) fn start(pool: &PgPool, most: usize) -> Self {
        let generation = GenerationJob::KIND.into();
        Self {
            checks: gather::statements(
                pool,
                most,
                "checking cards for duplicates",
                (generation, Step::Handler),
                |pool, checks| Box::pin(generations::card_keys(pool, checks)),
            ),
            lasts: gather::statements(
                pool,
                most,
                "ending generations",
                (generation, Step::End),
                |pool, lasts| {
                    metrics::histogram!("job_end_group_size", "kind" => GenerationJob::KIND.as_str())
                        .record(lasts.len() as f64);
                    Box::pin(generations::save_last(pool, lasts))
                },
            ),
        }
    }
}
