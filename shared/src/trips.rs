//! The job path's round trips, counted by the code that makes them:
//! `job_round_trips_total{kind, step, store}` on each process's `/metrics`.
//!
//! A task doing a job's work runs inside [`scope`] (its kind and step); from there every
//! Redis command sent through a [`crate::redis_conn::RedisConn`] (a pipeline or a script is
//! one) and every Postgres statement taken from a pool built by [`crate::db::pool`] (each
//! checkout of a connection: one statement, or one transaction) counts once, with no call
//! site to remember. Work of several jobs at once (a claim of a batch, a wake-up published
//! for a burst of pushes) counts once too, so a step's count divided by the jobs it served
//! is its share per job. What happens outside a scope (the reconciler, the scheduler, the
//! feeds) is not counted here.

use std::{
    cell::Cell,
    pin::Pin,
    sync::OnceLock,
    task::{Context, Poll},
};

/// A step of a job's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The request that creates the job: its checks, its row, its first push.
    Submit,
    /// Fetching the wake-up from the queue and claiming the job (shared by a batch).
    Claim,
    /// The kind's own work before its end (a generation's duplicate check, say).
    Handler,
    /// The attempt's end: the statement that saves it and ends the job, and the queue's
    /// acknowledgement.
    End,
    /// The job's events: staging, publishing, the first and the last.
    Events,
}

impl Step {
    pub const ALL: [Step; 5] = [
        Step::Submit,
        Step::Claim,
        Step::Handler,
        Step::End,
        Step::Events,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Step::Submit => "submit",
            Step::Claim => "claim",
            Step::Handler => "handler",
            Step::End => "end",
            Step::Events => "events",
        }
    }
}

/// Where a round trip goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    Postgres,
    Redis,
}

impl Store {
    pub fn as_str(self) -> &'static str {
        match self {
            Store::Postgres => "postgres",
            Store::Redis => "redis",
        }
    }
}

/// The job path's counter.
pub const METRIC: &str = "job_round_trips_total";

/// A job kind as the counts name it: `jobs::JobKind` converts into it (this module knows no
/// kind, so that the connections that count depend on nothing else).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    pub name: &'static str,
    /// Its place among the kinds, below [`KINDS`].
    pub index: usize,
}

/// How many kinds the counts have room for.
pub const KINDS: usize = 16;

tokio::task_local! {
    static CURRENT: (Kind, Cell<Step>);
}

/// Runs `work` as the step `step` of a job of `kind`: its round trips count as theirs.
/// (A plain function returning tokio's own scope future: an `async fn` would hold `work`
/// twice, and a request's future is large enough that the copies showed in `make bench`.)
pub fn scope<F: Future>(
    kind: impl Into<Kind>,
    step: Step,
    work: F,
) -> impl Future<Output = F::Output> {
    CURRENT.scope((kind.into(), Cell::new(step)), work)
}

/// Runs `work` as the step `step` of the job whose scope this task is in (nothing is
/// counted outside one): the step holds while `work` is polled, and the one before it
/// otherwise (a future polled beside it in the same task keeps its own).
pub fn within<F: Future>(step: Step, work: F) -> Within<F> {
    Within { step, work }
}

pin_project_lite::pin_project! {
    /// What [`within`] returns.
    pub struct Within<F> {
        step: Step,
        #[pin]
        work: F,
    }
}

impl<F: Future> Future for Within<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let Ok(before) = CURRENT.try_with(|(_, current)| current.replace(*this.step)) else {
            return this.work.poll(cx);
        };
        // Put back however the poll ends, a panic included.
        struct Restore(Step);
        impl Drop for Restore {
            fn drop(&mut self) {
                let _ = CURRENT.try_with(|(_, current)| current.set(self.0));
            }
        }
        let _restore = Restore(before);
        this.work.poll(cx)
    }
}

/// Counts one round trip to `store` for the scope this task is in, if any.
pub fn count(store: Store) {
    if let Ok((kind, step)) = CURRENT.try_with(|(kind, step)| (*kind, step.get())) {
        count_as(kind, step, store);
    }
}

/// Counts one round trip to `store` for `kind`'s `step`, made outside its scope (by a task
/// serving several jobs).
pub fn count_as(kind: impl Into<Kind>, step: Step, store: Store) {
    counter(kind.into(), step, store).increment(1);
}

/// The handle of one series, registered on first use (a lookup by its labels costs more
/// than the increment, on every round trip of every job).
fn counter(kind: Kind, step: Step, store: Store) -> &'static metrics::Counter {
    const SERIES: usize = KINDS * Step::ALL.len() * 2;
    static COUNTERS: [OnceLock<metrics::Counter>; SERIES] = [const { OnceLock::new() }; SERIES];
    let index = (kind.index * Step::ALL.len() + step as usize) * 2 + store as usize;
    COUNTERS[index].get_or_init(|| {
        metrics::counter!(METRIC, "kind" => kind.name, "step" => step.as_str(), "store" => store.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> Option<Step> {
        CURRENT.try_with(|(_, step)| step.get()).ok()
    }

    #[tokio::test]
    async fn a_step_holds_while_its_work_is_polled_and_the_one_before_otherwise() {
        assert_eq!(current(), None);
        let kind = Kind {
            name: "generation",
            index: 0,
        };
        scope(kind, Step::Handler, async {
            within(Step::End, async { assert_eq!(current(), Some(Step::End)) }).await;
            assert_eq!(current(), Some(Step::Handler));
            // A step waiting (pending) leaves the task's step as it was, for whatever else
            // the task polls meanwhile, and holds again when polled.
            let mut pending = Box::pin(within(Step::Events, async {
                assert_eq!(current(), Some(Step::Events));
                std::future::pending::<()>().await
            }));
            assert!(futures::poll!(pending.as_mut()).is_pending());
            assert_eq!(current(), Some(Step::Handler));
            drop(pending);
            assert_eq!(current(), Some(Step::Handler));
        })
        .await;
        // Outside any scope, a step changes nothing.
        within(Step::End, async { assert_eq!(current(), None) }).await;
    }
}
