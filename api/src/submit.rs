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
//! [`Submit::in_one_statement`] takes the same steps around that statement. A kind whose
//! writes make its own jobs, zero to many per request (a publish's are the dispatcher's,
//! `store::publish::dispatch`; a post's reading is asked for by `store::analytics`), takes
//! them with [`Submit::making`]: its answer, what its key keeps, and the jobs it made come
//! back from its writes ([`Made`]), and the key is recorded with that answer before the
//! commit. No route queues a job otherwise (a structure test holds it).

use almanac_shared::{
    config::RateLimit,
    db,
    events::Event,
    gather::Gathered,
    jobs::{JobKind, NewJob},
    queue,
    store::{idempotency as keys, user_tx},
    workspaces::Actor,
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
    /// The person (whose rate limits and keys these are) in the workspace the job works in.
    actor: Actor,
    /// The route's rate limit; none for a request that only restarts what the user made
    /// (a retry).
    limit: Option<&'a RateLimit>,
    key: Option<Keyed<'a>>,
}

/// A request's `Idempotency-Key`, the scope it is kept under and the answer it keeps
/// (known before the writes, or, for [`Submit::making`], made by them).
struct Keyed<'a> {
    scope: &'static str,
    key: &'a Key,
    answer: Option<Value>,
}

/// Where a submit stands once its transaction is open.
pub enum Opened<'a, O = Open<'a>> {
    /// The key was used before (or meanwhile, by a concurrent retry): that request's
    /// answer, for the route to replay. Nothing was written, and the slot stays.
    Earlier(Earlier),
    /// The transaction is open (with the job's row written, for [`Submit::open`]): the
    /// kind's writes go next.
    Open(O),
    /// Postgres could not be reached: nothing was written. A route that can answer without
    /// it (the calendar's legacy dry run, a publish kept to replay) keeps the slot;
    /// [`Opened::open`] gives it back.
    StoreDown(StoreDown<'a>),
}

/// A submit that found Postgres down, holding its slot.
pub struct StoreDown<'a> {
    state: &'a AppState,
    slot: Option<Taken>,
}

impl StoreDown<'_> {
    /// The request created nothing: its slot goes back.
    pub async fn refund(self) {
        refund(self.state, self.slot).await;
    }
}

impl<'a, O> Opened<'a, O> {
    /// The open submit of a request without a key; 503 when Postgres is down.
    pub async fn open(self) -> ApiResult<O> {
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
    job: NewJob,
    held: Held<'a>,
}

/// A submit whose kind makes its own jobs, its transaction open ([`Submit::making`]).
pub struct Making<'a> {
    held: Held<'a>,
    key: Option<Keyed<'a>>,
    user: Uuid,
}

/// What an open submit holds: the user's transaction and the slot of the rate limit.
struct Held<'a> {
    state: &'a AppState,
    tx: Transaction<'static, Postgres>,
    slot: Option<Taken>,
}

/// What the writes of a kind that makes its own jobs made: the answer, what the request's
/// `Idempotency-Key` keeps of it, and the jobs (zero to many) to queue once committed.
pub struct Made<A> {
    pub answer: A,
    pub kept: Value,
    pub jobs: Vec<Queued>,
}

/// A job a kind's writes made, and the first event its stream starts with.
pub struct Queued {
    pub kind: JobKind,
    pub id: Uuid,
    pub first: Event,
}

impl Queued {
    /// `job`, whose stream starts `queued` with `total` units of progress.
    pub fn of(job: &NewJob, total: u64) -> Self {
        Self {
            kind: job.kind,
            id: job.id,
            first: Event::queued(total),
        }
    }
}

/// Where a [`Making`] submit ended: committed with its answer, or a concurrent retry with
/// the same key committed first (nothing of this one was written).
pub enum Committed<A> {
    Done(A),
    Earlier(Earlier),
}

impl<A> Committed<A> {
    /// The answer of a request without a key, which meets no earlier one.
    pub fn unkeyed(self) -> ApiResult<A> {
        match self {
            Committed::Done(answer) => Ok(answer),
            Committed::Earlier(_) => Err(ApiError::internal(anyhow::anyhow!(
                "a request without a key met an earlier answer"
            ))),
        }
    }
}

impl<'a> Submit<'a> {
    /// A request of `actor`'s, held to `limit`.
    pub fn new(state: &'a AppState, actor: Actor, limit: &'a RateLimit) -> Self {
        Self {
            state,
            actor,
            limit: Some(limit),
            key: None,
        }
    }

    /// A request of `user`'s held to no rate limit: it restarts what the user made (a
    /// failed publish retried).
    pub fn unlimited(state: &'a AppState, actor: Actor) -> Self {
        Self {
            state,
            actor,
            limit: None,
            key: None,
        }
    }

    /// The request's `Idempotency-Key` (if it sent one), kept under `scope` with `answer`,
    /// which a keyed route knows before it writes (its ids are made before).
    pub fn keyed(mut self, scope: &'static str, key: Option<&'a Key>, answer: Value) -> Self {
        self.key = key.map(|key| Keyed {
            scope,
            key,
            answer: Some(answer),
        });
        self
    }

    /// The request's `Idempotency-Key` (if it sent one), kept under `scope` with the answer
    /// its writes make ([`Made::kept`]).
    pub fn keyed_after(mut self, scope: &'static str, key: Option<&'a Key>) -> Self {
        self.key = key.map(|key| Keyed {
            scope,
            key,
            answer: None,
        });
        self
    }

    /// Steps 1 to 3 for a kind whose writes make its own jobs: the key's earlier answer,
    /// or a slot of the rate limit and the user's transaction; then the kind's writes in
    /// [`Making::tx`], and [`Making::commit`] with what they made.
    pub async fn making(self) -> ApiResult<Opened<'a, Making<'a>>> {
        if let Some(earlier) = self.earlier().await? {
            return Ok(Opened::Earlier(earlier));
        }
        let held = match self.hold().await? {
            Ok(held) => held,
            Err(down) => return Ok(Opened::StoreDown(down)),
        };
        Ok(Opened::Open(Making {
            held,
            key: self.key,
            user: self.actor.user,
        }))
    }

    /// [`Submit::making`] for a request without a key, which has no earlier answer and
    /// cannot be kept for later: 503 when Postgres is down.
    pub async fn making_unkeyed(self) -> ApiResult<Making<'a>> {
        self.making().await?.open().await
    }

    /// A slot of the rate limit (a keyed request's retries share one) and the user's
    /// transaction; Postgres down, the slot held.
    async fn hold(&self) -> ApiResult<Result<Held<'a>, StoreDown<'a>>> {
        let state = self.state;
        let key = self.key.as_ref().map(|keyed| keyed.key);
        let slot = match self.limit {
            Some(limit) => Some(rate_limit::take(state, limit, self.actor, key).await?),
            None => None,
        };
        match user_tx(&state.pool, self.actor).await {
            Ok(tx) => Ok(Ok(Held { state, tx, slot })),
            // Down, not merely busy (a saturated pool is 503 `SERVICE_UNAVAILABLE`).
            Err(error) if db::is_down(&state.pool, &error).await => {
                Ok(Err(StoreDown { state, slot }))
            }
            Err(error) => {
                refund(state, slot).await;
                Err(error.into())
            }
        }
    }

    /// Steps 1 to 4: the key's earlier answer, or a slot of the rate limit, the user's
    /// transaction, `job`'s row and the key.
    pub async fn open(self, job: NewJob) -> ApiResult<Opened<'a>> {
        if let Some(earlier) = self.earlier().await? {
            return Ok(Opened::Earlier(earlier));
        }
        let mut held = match self.hold().await? {
            Ok(held) => held,
            Err(down) => return Ok(Opened::StoreDown(down)),
        };
        let opened = async {
            job.insert(&mut *held.tx).await?;
            match &self.key {
                Some(keyed) => keyed.record(&mut held.tx, None).await,
                None => Ok(true),
            }
        }
        .await;
        match opened {
            Ok(true) => Ok(Opened::Open(Open { job, held })),
            // The key's first request committed meanwhile: its answer, and the slot stays.
            Ok(false) => Ok(Opened::Earlier(self.used().await?)),
            Err(error) => Err(held.refuse(error).await),
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
        let state = self.state;
        let key = self.key.as_ref().map(|keyed| keyed.key);
        let slot = match (free, self.limit) {
            (false, Some(limit)) => Some(rate_limit::take(state, limit, self.actor, key).await?),
            _ => None,
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
                refund(state, slot).await;
                return Err(job_write_failed(state, &[(job.kind, job.id)], error).await);
            }
        }
        state.queue.push_or_log(job.kind, job.id, None).await;
        Ok(None)
    }

    async fn earlier(&self) -> ApiResult<Option<Earlier>> {
        match &self.key {
            Some(keyed) => keyed.earlier(self.state, self.actor.user).await,
            None => Ok(None),
        }
    }

    /// The answer of the key's first request, which committed while this one wrote.
    async fn used(&self) -> ApiResult<Earlier> {
        used(self.state, self.actor.user, self.key.as_ref()).await
    }
}

impl Keyed<'_> {
    /// Records the key with its answer (`made`, when the writes made it) in `tx`: false when
    /// a concurrent request with the key committed first.
    async fn record(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        made: Option<&Value>,
    ) -> ApiResult<bool> {
        let answer = made.or(self.answer.as_ref()).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("an idempotency key without its answer"))
        })?;
        Ok(keys::record(tx, self.scope, self.key, 200, answer).await?)
    }

    async fn earlier(&self, state: &AppState, user: Uuid) -> ApiResult<Option<Earlier>> {
        idempotency::earlier(&state.pool, user, self.scope, self.key).await
    }
}

/// The answer a concurrent request with the same key committed.
async fn used(state: &AppState, user: Uuid, key: Option<&Keyed<'_>>) -> ApiResult<Earlier> {
    let earlier = match key {
        Some(keyed) => keyed.earlier(state, user).await?,
        None => None,
    };
    earlier.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("an idempotency key in use has no answer"))
    })
}

/// Gives a slot of the rate limit back, if the request took one.
async fn refund(state: &AppState, slot: Option<Taken>) {
    if let Some(slot) = slot {
        slot.refund(state).await;
    }
}

impl Held<'_> {
    /// Nothing is written (the transaction is rolled back) and the slot goes back.
    async fn refuse(self, error: ApiError) -> ApiError {
        refund(self.state, self.slot).await;
        error
    }

    /// Commits, then announces and queues `jobs`. A failed commit gives the slot back, and
    /// queues the jobs anyway when the commit may have happened (see [`job_write_failed`]).
    async fn commit(self, jobs: &[Queued]) -> ApiResult<()> {
        let Held { state, tx, slot } = self;
        if let Err(error) = tx.commit().await {
            refund(state, slot).await;
            let jobs: Vec<(JobKind, Uuid)> = jobs.iter().map(|job| (job.kind, job.id)).collect();
            return Err(job_write_failed(state, &jobs, error).await);
        }
        for job in jobs {
            queue::enqueue_after_commit(&state.emitter, &state.queue, job.kind, job.id, &job.first)
                .await;
        }
        Ok(())
    }
}

impl Open<'_> {
    /// The transaction the kind's writes go in.
    pub fn tx(&mut self) -> &mut Transaction<'static, Postgres> {
        &mut self.held.tx
    }

    /// The job being created.
    pub fn job(&self) -> &NewJob {
        &self.job
    }

    /// The kind's writes refused the request: nothing is written (the transaction is rolled
    /// back) and the slot goes back; the refusal.
    pub async fn refuse(self, error: ApiError) -> ApiError {
        self.held.refuse(error).await
    }

    /// Steps 6 and 7: `written` (the kind's answer and the job's first event) committed,
    /// then told and queued. When the kind's writes refused the request, or the commit
    /// failed, nothing was created: the slot goes back.
    pub async fn commit<A>(self, written: ApiResult<(A, Event)>) -> ApiResult<A> {
        let (answer, first) = match written {
            Ok(written) => written,
            Err(error) => return Err(self.refuse(error).await),
        };
        let queued = Queued {
            kind: self.job.kind,
            id: self.job.id,
            first,
        };
        self.held.commit(&[queued]).await?;
        Ok(answer)
    }
}

impl Making<'_> {
    /// The transaction the kind's writes go in.
    pub fn tx(&mut self) -> &mut Transaction<'static, Postgres> {
        &mut self.held.tx
    }

    /// The kind's writes refused the request: nothing is written and the slot goes back.
    pub async fn refuse(self, error: ApiError) -> ApiError {
        self.held.refuse(error).await
    }

    /// The key recorded with the answer `made` keeps, committed, then the jobs it made told
    /// and queued; a concurrent retry with the key that committed first has its answer
    /// returned instead (nothing of this request is written, and the slot stays).
    pub async fn commit<A>(mut self, written: ApiResult<Made<A>>) -> ApiResult<Committed<A>> {
        let made = match written {
            Ok(made) => made,
            Err(error) => return Err(self.refuse(error).await),
        };
        if let Some(keyed) = &self.key {
            match keyed.record(&mut self.held.tx, Some(&made.kept)).await {
                Ok(true) => {}
                Ok(false) => {
                    let state = self.held.state;
                    drop(self.held.tx);
                    return Ok(Committed::Earlier(
                        used(state, self.user, self.key.as_ref()).await?,
                    ));
                }
                Err(error) => return Err(self.held.refuse(error).await),
            }
        }
        self.held.commit(&made.jobs).await?;
        Ok(Committed::Done(made.answer))
    }
}

/// The error of the write that creates `jobs` (each a kind and an id), after queueing
/// them anyway when the database's answer may have been lost after a commit (the connection
/// broke): if they were written, they run now rather than when the reconciler finds them
/// (`JOB_REQUEUE_MS`), and a worker drops the id of a job that was not.
async fn job_write_failed<E>(state: &AppState, jobs: &[(JobKind, Uuid)], error: E) -> ApiError
where
    E: std::borrow::Borrow<sqlx::Error> + Into<ApiError>,
{
    // (A pool's time-out sent nothing: there is nothing to queue.)
    let error_ref = error.borrow();
    if db::is_unavailable(error_ref) && !db::is_busy(error_ref) {
        for &(kind, id) in jobs {
            state.queue.push_or_log(kind, id, None).await;
        }
    }
    error.into()
}
