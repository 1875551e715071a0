//! The one way a request creates a job. A job-creating route says what is its own (the
//! job, the rows that name it, its answer and its first event); the rest goes here, in
//! this order:
//!
//! 1. the `Idempotency-Key`'s earlier answer, for the route to replay ([`Opened::Earlier`]);
//! 2. a slot of the route's rate limit (a keyed request's retries share one), given back
//!    whenever the request ends up creating nothing;
//! 3. the user's transaction (row-level security) and the job's row;
//! 4. the key with its answer, in that transaction, before the kind's writes: a concurrent
//!    retry waits on it, then gets this request's answer;
//! 5. the kind's writes, by the route, in [`Open::tx`];
//! 6. the commit ([`Open::commit`]): a connection that broke may have committed, so the job
//!    is queued anyway (a worker drops the id of a job that was not written);
//! 7. after the commit, the job's first event, then the queue.
//!
//! A generation, the busiest path, writes steps 3 to 5 in one statement shared by
//! concurrent requests (`state::submissions`, its round trips measured by `make bench`):
//! [`Submit::in_one_statement`] takes the same steps around that statement. A publish's
//! jobs are the dispatcher's (`store::publish::dispatch`, which publishing requests, retries
//! and the worker's dispatcher share), queued with [`enqueue_after_commit`].

use almanac_shared::{
    config::RateLimit,
    db,
    events::Event,
    gather::Gathered,
    jobs::NewJob,
    queue,
    store::{idempotency as keys, user_tx},
};
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::{
    error::{ApiError, ApiResult},
    idempotency::{self, Earlier, Key},
    rate_limit::{self, Taken},
    state::AppState,
};

/// A request about to create a job.
pub struct Submit<'a> {
    state: &'a AppState,
    user: Uuid,
    limit: &'a RateLimit,
    key: Option<Keyed<'a>>,
}

/// A request's `Idempotency-Key`, the scope it is kept under and the answer it keeps.
struct Keyed<'a> {
    scope: &'static str,
    key: &'a Key,
    answer: Value,
}

/// Where a submit stands once its transaction is open.
pub enum Opened<'a> {
    /// The key was used before (or meanwhile, by a concurrent retry): that request's
    /// answer, for the route to replay. Nothing was written, and the slot stays.
    Earlier(Earlier),
    /// The job's row is written in the open transaction: the kind's writes go next.
    Open(Open<'a>),
    /// Postgres could not be reached: nothing was written. A route that can answer without
    /// it (the calendar's legacy dry run) keeps the slot; [`Opened::open`] gives it back.
    StoreDown(StoreDown<'a>),
}

/// A submit that found Postgres down, holding its slot.
pub struct StoreDown<'a> {
    state: &'a AppState,
    slot: Taken,
}

impl StoreDown<'_> {
    /// The request created nothing: its slot goes back.
    pub async fn refund(self) {
        self.slot.refund(self.state).await;
    }
}

impl<'a> Opened<'a> {
    /// The open submit of a request without a key; 503 when Postgres is down.
    pub async fn open(self) -> ApiResult<Open<'a>> {
        match self {
            Opened::Open(open) => Ok(open),
            Opened::StoreDown(down) => {
                down.refund().await;
                Err(ApiError::unavailable("the database"))
            }
            Opened::Earlier(_) => Err(ApiError::internal(anyhow::anyhow!(
                "a request without a key met an earlier answer"
            ))),
        }
    }
}

/// A submit whose job's row is written, its transaction open.
pub struct Open<'a> {
    state: &'a AppState,
    job: NewJob,
    tx: Transaction<'static, Postgres>,
    slot: Taken,
}

impl<'a> Submit<'a> {
    /// A request of `user`'s, held to `limit`.
    pub fn new(state: &'a AppState, user: Uuid, limit: &'a RateLimit) -> Self {
        Self {
            state,
            user,
            limit,
            key: None,
        }
    }

    /// The request's `Idempotency-Key` (if it sent one), kept under `scope` with `answer`,
    /// which a keyed route knows before it writes (its ids are made before).
    pub fn keyed(mut self, scope: &'static str, key: Option<&'a Key>, answer: Value) -> Self {
        self.key = key.map(|key| Keyed { scope, key, answer });
        self
    }

    /// Steps 1 to 4: the key's earlier answer, or a slot of the rate limit, the user's
    /// transaction, `job`'s row and the key.
    pub async fn open(self, job: NewJob) -> ApiResult<Opened<'a>> {
        let (state, user) = (self.state, self.user);
        if let Some(earlier) = self.earlier().await? {
            return Ok(Opened::Earlier(earlier));
        }
        let key = self.key.as_ref().map(|keyed| keyed.key);
        let slot = rate_limit::take(state, self.limit, user, key).await?;
        let mut tx = match user_tx(&state.pool, user).await {
            Ok(tx) => tx,
            // Down, not merely busy (a saturated pool is 503 `SERVICE_UNAVAILABLE`).
            Err(error) if db::is_down(&state.pool, &error).await => {
                return Ok(Opened::StoreDown(StoreDown { state, slot }));
            }
            Err(error) => {
                slot.refund(state).await;
                return Err(error.into());
            }
        };
        let opened = async {
            job.insert(&mut *tx).await?;
            if let Some(keyed) = &self.key
                && !keys::record(&mut tx, keyed.scope, keyed.key, 200, &keyed.answer).await?
            {
                return Ok(false);
            }
            Ok::<_, ApiError>(true)
        }
        .await;
        match opened {
            Ok(true) => Ok(Opened::Open(Open {
                state,
                job,
                tx,
                slot,
            })),
            // The key's first request committed meanwhile: its answer, and the slot stays.
            Ok(false) => match self.earlier().await? {
                Some(earlier) => Ok(Opened::Earlier(earlier)),
                None => Err(ApiError::internal(anyhow::anyhow!(
                    "an idempotency key in use has no answer"
                ))),
            },
            Err(error) => {
                slot.refund(state).await;
                Err(error)
            }
        }
    }

    /// Steps 2 to 7 for a kind whose rows, job and key are written by one statement that
    /// concurrent requests share (a generation): a slot of the limit (none when `free`: a
    /// request that asks no AI), the job's first event, the statement `write`, then the
    /// queue. The first event goes before the write: from its commit on, a worker may claim
    /// the job and speak on its stream, and nothing may come before `queued` (a job the
    /// statement did not write leaves a stream that expires unread). The statement answers
    /// the key's earlier answer when a concurrent retry committed first (then nothing was
    /// written, and the slot stays): returned for the route to replay.
    pub async fn in_one_statement<W>(
        self,
        job: &NewJob,
        first: &Event,
        free: bool,
        write: W,
    ) -> ApiResult<Option<Earlier>>
    where
        W: Future<Output = Gathered<Option<Earlier>>>,
    {
        let (state, user) = (self.state, self.user);
        let key = self.key.as_ref().map(|keyed| keyed.key);
        let slot = match free {
            true => None,
            false => Some(rate_limit::take(state, self.limit, user, key).await?),
        };
        state.emitter.emit_first_or_log(job.id, first).await;
        match write.await {
            Ok(None) => {}
            Ok(Some(earlier)) if key.is_some() => return Ok(Some(earlier)),
            Ok(Some(_)) => {
                return Err(ApiError::internal(anyhow::anyhow!(
                    "a request without a key met an earlier answer"
                )));
            }
            Err(error) => {
                if let Some(slot) = slot {
                    slot.refund(state).await;
                }
                return Err(job_write_failed(state, job, error).await);
            }
        }
        state.queue.push_or_log(job.kind, job.id, None).await;
        Ok(None)
    }

    async fn earlier(&self) -> ApiResult<Option<Earlier>> {
        match &self.key {
            Some(keyed) => {
                idempotency::earlier(&self.state.pool, self.user, keyed.scope, keyed.key).await
            }
            None => Ok(None),
        }
    }
}

impl Open<'_> {
    /// The transaction the kind's writes go in.
    pub fn tx(&mut self) -> &mut Transaction<'static, Postgres> {
        &mut self.tx
    }

    /// The job being created.
    pub fn job(&self) -> &NewJob {
        &self.job
    }

    /// The kind's writes refused the request: nothing is written (the transaction is rolled
    /// back) and the slot goes back; the refusal.
    pub async fn refuse(self, error: ApiError) -> ApiError {
        self.slot.refund(self.state).await;
        error
    }

    /// Steps 6 and 7: `written` (the kind's answer and the job's first event) committed,
    /// then told and queued. When the kind's writes refused the request, or the commit
    /// failed, nothing was created: the slot goes back.
    pub async fn commit<A>(self, written: ApiResult<(A, Event)>) -> ApiResult<A> {
        let (answer, first) = match written {
            Ok(written) => written,
            Err(error) => return Err(self.refuse(error).await),
        };
        let Open {
            state,
            job,
            tx,
            slot,
        } = self;
        if let Err(error) = tx.commit().await {
            slot.refund(state).await;
            return Err(job_write_failed(state, &job, error).await);
        }
        enqueue_with(state, &job, &first).await;
        Ok(answer)
    }
}

/// The error of the write that creates `job`, after queueing the job anyway when the
/// database's answer may have been lost after a commit (the connection broke): if it was
/// written, it runs now rather than when the reconciler finds it (`JOB_REQUEUE_MS`), and a
/// worker drops the id of a job that was not.
pub async fn job_write_failed<E>(state: &AppState, job: &NewJob, error: E) -> ApiError
where
    E: std::borrow::Borrow<sqlx::Error> + Into<ApiError>,
{
    // (A pool's time-out sent nothing: there is nothing to queue.)
    let error_ref = error.borrow();
    if almanac_shared::db::is_unavailable(error_ref) && !almanac_shared::db::is_busy(error_ref) {
        state.queue.push_or_log(job.kind, job.id, None).await;
    }
    error.into()
}

/// Tells the job's watchers it is queued, then pushes it onto its queue. A failure is
/// logged, not returned: the job is safe in Postgres and the reconciler pushes it again.
/// `total` is the job's units of progress.
pub async fn enqueue_after_commit(state: &AppState, job: &NewJob, total: u64) {
    enqueue_with(state, job, &Event::queued(total)).await;
}

/// [`enqueue_after_commit`] with the job's own first event.
pub async fn enqueue_with(state: &AppState, job: &NewJob, first: &Event) {
    queue::enqueue_after_commit(&state.emitter, &state.queue, job.kind, job.id, first).await;
}
