//! What a job kind is ([`Job`]), what its handler may use ([`JobContext`]), how an attempt
//! ends ([`Finished`] through its claim's [`End::end`], or [`JobError`]), and the [`Registry`]
//! the runner dispatches through.
//!
//! A kind is one module under `jobs/` implementing [`Job`] on its payload type (which
//! lives in `shared`, beside the kind's domain rules, because the API creates the job),
//! plus its migration. The runner knows no kind by name: it claims the job with the kind's
//! [`Job::START`], decodes the payload and input, and calls [`Job::run`]. What the kind's
//! rows keep when the job ends otherwise than by `run` (a cancel before it started, a lost
//! worker, a failed attempt) is the SQL function its migration registers in
//! `job_kind_endings`, because Postgres applies it too (`cancel_job`, the reconciler).

use almanac_shared::store::jobs::{Claim, Turns};
use std::{collections::BTreeMap, future::Future, marker::PhantomData, sync::Arc};

use almanac_shared::{
    Settings,
    ai::AiProvider,
    clock::Clock,
    email::Mailer,
    events::{Emitter, Event, Staged},
    fetch::Fetcher,
    jobs::{Cancels, JobKind, JobPayload, JobStatus},
    queue::JobQueue,
    redis_conn::RedisConn,
};
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use tokio_util::sync::CancellationToken;

/// What every job handler may use.
pub struct JobContext {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    pub queue: JobQueue,
    /// The worker's Redis connection (shared, multiplexed).
    pub redis: RedisConn,
    pub ai: Arc<dyn AiProvider>,
    /// This process's unique worker name (host, pid, random suffix).
    pub worker_name: String,
    /// Sends webhook deliveries (bounded, guarded, no redirects).
    pub webhooks: almanac_shared::webhooks::Sender,
    /// Cancelled when in-flight jobs must give their claim back (end of the shutdown grace).
    pub hard_stop: CancellationToken,
    /// Progress events of the jobs.
    pub emitter: Emitter,
    /// The jobs running here, for cancel requests.
    pub cancels: Cancels,
    /// Fetches theme sources (seed 004).
    pub fetcher: Fetcher,
    /// Sends email (seed 004).
    pub mailer: Arc<dyn Mailer>,
    /// The scheduler's time.
    pub clock: Arc<dyn Clock>,
    /// The statements several jobs share under load.
    pub(crate) statements: crate::statements::Statements,
    /// The publishing adapters (seed 001).
    pub platforms: almanac_publishing::Platforms,
    /// The runtime feature flags, kept current from Postgres.
    pub flags: almanac_shared::flags::Flags,
    /// Opens channels' tokens (`TOKEN_ENCRYPTION_KEY`).
    pub cipher: Option<almanac_shared::crypto::TokenCipher>,
    /// Requests in flight to a platform for a channel, across the fleet
    /// (`PLATFORM_MAX_CONCURRENCY`).
    pub platform_permits: Arc<almanac_shared::permits::Permits>,
}

impl JobContext {
    /// A transaction held by `claim`: opened (`step` names it in an error), then the claim
    /// checked to be this attempt's still, with `events` the token of the events staged
    /// for its commit. `None` when the claim was lost: another attempt owns the job, and
    /// this one writes nothing more.
    pub(crate) async fn fenced(
        &self,
        claim: &Claim,
        events: Option<uuid::Uuid>,
        step: &'static str,
    ) -> Result<Option<sqlx::Transaction<'static, sqlx::Postgres>>, JobError> {
        let mut tx = self.pool.begin().await.context(step)?;
        if !claim
            .alive(&mut *tx, events)
            .await
            .context("checking the claim")?
        {
            return Ok(None);
        }
        Ok(Some(tx))
    }
}

/// A job kind: its payload type, how its input is loaded with the claim, and its handler.
pub trait Job: JobPayload {
    /// The row [`Job::START`] returns.
    type Input: DeserializeOwned + Send;

    /// The kind's first step, run in the claim's statement (see
    /// `almanac_shared::store::jobs::claim`, which claims several jobs at once): a
    /// data-modifying statement over the CTE `claimed` (`id`, `user_id`, `payload`, a row
    /// per claimed job) without parameters of its own, which marks each job's domain row
    /// started and returns its input in at most one row per job, with the job's id as
    /// `claimed_job` (`claimed.id as claimed_job`).
    const START: &'static str;

    /// The error code of a job whose domain row [`Job::START`] did not find.
    const MISSING: &'static str;

    /// The caps and aging its claims keep: by default `JOB_MAX_RUNNING_PER_WORKSPACE` jobs of
    /// the kind running per user, and `JOB_PRIORITY_AGING_SECS`.
    fn turns(settings: &Settings) -> Turns {
        Turns {
            per_key: settings.jobs.max_running_per_workspace,
            per_user: None,
            aging: settings.jobs.priority_aging,
        }
    }

    /// What the job's log lines carry besides the job and its user (seed 001's fields):
    /// the runner records it on the job's span before the first line.
    fn log_context(_input: &Self::Input) -> LogContext {
        LogContext::default()
    }

    /// Runs one attempt. It saves its results fenced by the claim and ends the job in the
    /// ledger itself (returning how), or fails with a [`JobError`] for the runner to
    /// retry or record.
    fn run(
        self,
        ctx: &JobContext,
        claim: &Claim,
        input: Self::Input,
    ) -> impl Future<Output = JobResult> + Send;
}

/// The fields of seed 001 a kind's log lines carry: `calendarId`, `runId`, `channel` (the
/// platform of a publish, the comma-joined channels of a calendar run) and, when the job
/// knows it better than the ledger does, `requestId`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogContext {
    /// A flashcard generation's id (seed 002 asks every line of one to carry it).
    pub generation_id: Option<uuid::Uuid>,
    pub calendar_id: Option<uuid::Uuid>,
    pub run_id: Option<uuid::Uuid>,
    pub channel: Option<String>,
    pub request_id: Option<String>,
}

/// A failed attempt. Transient failures are retried while attempts remain.
///
/// Three audiences: `detail` is the job's `error` as stored and streamed, a stable code and
/// a message written for the user; `diagnostics` is what the kind's own row keeps besides
/// (a provider's status, request id, timing and redacted excerpt on a generation, as seed
/// 002 asks); `cause` is for the log only, with the job id, because a database error's
/// text names tables, columns and constraints.
#[derive(Debug)]
pub struct JobError {
    pub transient: bool,
    /// `{code, message, ...}`.
    pub detail: Value,
    pub diagnostics: Option<Value>,
    pub cause: Option<anyhow::Error>,
    /// Postgres could not be reached: the infrastructure failed, not the job, so the claim
    /// goes back without spending an attempt.
    pub unavailable: bool,
    /// Not to be tried again before this (an outside service said when).
    pub retry_after: Option<std::time::Duration>,
    /// `retry_after` is the kind's own schedule: the next attempt comes after exactly
    /// that, rather than after the ledger's backoff or that, whichever is longer.
    pub retry_exactly: bool,
    /// Not the job's failure, and nothing was tried: given back without spending the
    /// attempt, due after this (the AI provider's breaker is open until then).
    pub release_after: Option<std::time::Duration>,
}

impl JobError {
    pub fn transient(code: &str, message: impl Into<String>) -> Self {
        Self::new(true, code, message)
    }

    pub fn permanent(code: &str, message: impl Into<String>) -> Self {
        Self::new(false, code, message)
    }

    fn new(transient: bool, code: &str, message: impl Into<String>) -> Self {
        Self {
            transient,
            detail: json!({ "code": code, "message": message.into() }),
            diagnostics: None,
            cause: None,
            unavailable: false,
            retry_after: None,
            retry_exactly: false,
            release_after: None,
        }
    }

    /// Adds a detail a user may see.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.detail[key] = value.into();
        self
    }

    /// The code, for logs and metrics.
    pub fn code(&self) -> &str {
        self.detail["code"].as_str().unwrap_or("UNKNOWN")
    }

    /// What the kind's domain row records: the detail with the diagnostics.
    pub fn domain_detail(&self) -> Value {
        let mut detail = self.detail.clone();
        if let (Some(target), Some(Value::Object(extra))) =
            (detail.as_object_mut(), &self.diagnostics)
        {
            target.extend(extra.clone());
        }
        detail
    }
}

impl From<sqlx::Error> for JobError {
    fn from(error: sqlx::Error) -> Self {
        let mut job_error = Self::storage(&error);
        job_error.cause = Some(error.into());
        job_error
    }
}

/// A statement's error shared by the jobs it wrote for (see `almanac_shared::gather`).
impl From<std::sync::Arc<sqlx::Error>> for JobError {
    fn from(error: std::sync::Arc<sqlx::Error>) -> Self {
        Self::storage(&error)
    }
}

impl JobError {
    /// What a statement's `error` comes to for each job it wrote for (the cause, for the
    /// log, as its text): the database could not be reached, or the results not saved.
    pub(crate) fn storage(error: &sqlx::Error) -> Self {
        let unavailable = almanac_shared::db::is_unavailable(error);
        let mut job_error = if unavailable {
            JobError::transient("DATABASE_UNAVAILABLE", "the database could not be reached")
        } else {
            JobError::transient("STORAGE_FAILED", "the job's results could not be saved")
        };
        job_error.unavailable = unavailable;
        job_error.cause = Some(anyhow::anyhow!("{error}"));
        job_error
    }
}

/// Names the I/O step that failed, for the log; the job's `error` stays as it was.
pub trait Context<T> {
    fn context(self, step: &'static str) -> Result<T, JobError>;
}

impl<T, E: Into<JobError>> Context<T> for Result<T, E> {
    fn context(self, step: &'static str) -> Result<T, JobError> {
        self.map_err(|error| {
            let mut error: JobError = error.into();
            error.cause = Some(match error.cause.take() {
                Some(cause) => cause.context(step),
                None => anyhow::anyhow!("{step}"),
            });
            error
        })
    }
}

/// How a handler ended its job; it wrote the outcome to the ledger itself ([`End::end`]),
/// with its results, in a commit that recorded the token of `staged` (the events that report
/// it, which the runner publishes before the final event).
#[derive(Debug, Clone)]
pub struct Finished {
    pub status: JobStatus,
    pub result: Value,
    pub error: Option<Value>,
    pub staged: Option<Staged>,
}

impl Finished {
    pub fn succeeded(result: Value) -> Self {
        Self {
            status: JobStatus::Succeeded,
            result,
            error: None,
            staged: None,
        }
    }

    /// The events the final commit staged.
    pub fn after(mut self, staged: Staged) -> Self {
        self.staged = Some(staged);
        self
    }

    /// The job's final event.
    pub fn event(&self) -> Event {
        Event::done(self.status, Some(self.result.clone()), self.error.clone())
    }
}

/// What a job's handler returns: how it ended the job, or `None` when the claim was lost
/// before it could save (nothing was written).
pub type JobResult = Result<Option<Finished>, JobError>;

/// Where a job's final update runs: alone on the pool, or in the transaction that wrote
/// the attempt's last rows, which the end commits.
pub enum Db<'c> {
    Pool(&'c PgPool),
    Tx(Transaction<'c, Postgres>),
}

impl<'c> From<&'c PgPool> for Db<'c> {
    fn from(pool: &'c PgPool) -> Self {
        Db::Pool(pool)
    }
}

impl<'c> From<Transaction<'c, Postgres>> for Db<'c> {
    fn from(tx: Transaction<'c, Postgres>) -> Self {
        Db::Tx(tx)
    }
}

/// How every kind ends an attempt it saw through: [`End::end`] on its claim.
pub trait End {
    /// The fenced final update of the job as `finished` says (status, result, error, the
    /// token of the events it staged), committed with the transaction when there is one;
    /// `None` when the claim was lost, and then nothing of the end stands.
    fn end<'c>(
        &self,
        db: impl Into<Db<'c>> + Send,
        finished: Finished,
    ) -> impl Future<Output = JobResult> + Send;
}

impl End for Claim {
    async fn end<'c>(&self, db: impl Into<Db<'c>> + Send, finished: Finished) -> JobResult {
        let Finished {
            status,
            result,
            error,
            staged,
        } = &finished;
        let token = staged.as_ref().map(|staged| staged.token);
        let ended = match db.into() {
            Db::Pool(pool) => self
                .finish(pool, *status, Some(result), error.as_ref(), token)
                .await
                .context("ending the job")?,
            Db::Tx(mut tx) => {
                let ended = self
                    .finish(&mut *tx, *status, Some(result), error.as_ref(), token)
                    .await
                    .context("ending the job")?;
                if ended {
                    tx.commit().await.context("committing the job's end")?;
                }
                ended
            }
        };
        Ok(ended.then_some(finished))
    }
}

/// The kinds this worker runs, each found by its [`JobKind`].
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<JobKind, Arc<dyn Runnable>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the kind `J`, made known to the process (`JobKind::register`).
    pub fn register<J: Job>(mut self) -> Self {
        JobKind::register(J::KIND);
        self.kinds
            .insert(J::KIND, Arc::new(Registered::<J>(PhantomData)));
        self
    }

    /// The kinds served: one queue each.
    pub fn kinds(&self) -> impl Iterator<Item = JobKind> + '_ {
        self.kinds.keys().copied()
    }

    pub(crate) fn get(&self, kind: JobKind) -> Option<&dyn Runnable> {
        self.kinds.get(&kind).map(|job| job.as_ref())
    }
}

/// A registered kind, with its types erased.
pub(crate) trait Runnable: Send + Sync {
    fn start(&self) -> &'static str;
    fn turns(&self, settings: &Settings) -> Turns;
    /// Decodes the claimed job once: the kind's [`Job::log_context`] (empty when its payload
    /// or input cannot be read) and the attempt to run, which fails at once in that case.
    fn begin<'a>(
        &'a self,
        ctx: &'a JobContext,
        claim: &'a Claim,
    ) -> (LogContext, BoxFuture<'a, JobResult>);
}

struct Registered<J>(PhantomData<fn() -> J>);

impl<J: Job> Registered<J> {
    fn decode(claim: &Claim) -> Result<(J, J::Input), JobError> {
        let job = J::from_json(&claim.payload)
            .map_err(|reason| JobError::permanent("PAYLOAD_INVALID", reason))?;
        let input = claim
            .started
            .clone()
            .and_then(|row| serde_json::from_value(row).ok())
            .ok_or_else(|| {
                JobError::permanent(
                    J::MISSING,
                    format!("the {} of job {} does not exist", J::KIND, claim.id),
                )
            })?;
        Ok((job, input))
    }
}

impl<J: Job> Runnable for Registered<J> {
    fn start(&self) -> &'static str {
        J::START
    }

    fn turns(&self, settings: &Settings) -> Turns {
        J::turns(settings)
    }

    fn begin<'a>(
        &'a self,
        ctx: &'a JobContext,
        claim: &'a Claim,
    ) -> (LogContext, BoxFuture<'a, JobResult>) {
        match Self::decode(claim) {
            Ok((job, input)) => (J::log_context(&input), Box::pin(job.run(ctx, claim, input))),
            Err(error) => (
                LogContext::default(),
                Box::pin(std::future::ready(Err(error))),
            ),
        }
    }
}
