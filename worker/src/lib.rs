//! Almanac's worker: apalis workers per queue, the reconciler, and the jobs themselves.
//! `main.rs` only wires the shutdown signal; tests start the worker in-process.

pub mod dispatcher;
pub mod job;
pub mod jobs;
pub mod reconciler;
pub mod runner;
pub mod scheduler;

use std::{future::Future, sync::Arc, time::Duration};

use almanac_shared::{
    Settings,
    ai::{self, AiProvider},
    clock::{Clock, SystemClock},
    db,
    email::Mailer,
    events::Emitter,
    jobs::{Cancels, JobKind, JobMessage},
    queue::{self, JobQueue, Wakers},
    telemetry,
};
use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy, PollWith};
use apalis_redis::RedisStorage;
use poem::{EndpointExt, Route, get, handler, listener::TcpAcceptor, web::Data as PoemData};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::job::{JobContext, Registry};

/// What the worker talks to beyond Postgres and Redis, and the kinds it runs: swapped by
/// tests (a fake provider, a test clock, a test-only kind).
pub struct Services {
    pub ai: Arc<dyn AiProvider>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub registry: Registry,
    /// The publishing platforms (the tests add one).
    pub platforms: almanac_shared::publish::Platforms,
}

impl Services {
    /// The services the settings name, the system clock, and every kind.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            ai: ai::from_settings(settings, almanac_shared::domain::OFFLINE_ANSWERS)?,
            mailer: almanac_shared::email::from_settings(settings)?,
            clock: Arc::new(SystemClock),
            registry: jobs::registry(),
            platforms: almanac_shared::publish::Platforms::new(&settings.publish)?,
        })
    }
}

pub struct Application {
    ctx: Arc<JobContext>,
    registry: Arc<Registry>,
    acceptor: TcpAcceptor,
    port: u16,
}

/// A unique worker name: apalis refuses a name reused within minutes.
fn worker_name() -> String {
    use rand::Rng;
    let host = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "worker".into());
    let suffix: u32 = rand::rng().random();
    format!("{host}-{}-{suffix:08x}", std::process::id())
}

impl Application {
    /// Builds the worker with the services its settings name.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let services = Services::from_settings(&settings)?;
        Self::build_with(settings, services).await
    }

    /// Builds the worker with its outside services and kinds given.
    pub async fn build_with(settings: Settings, services: Services) -> anyhow::Result<Self> {
        let Services {
            ai,
            mailer,
            clock,
            registry,
            platforms,
        } = services;
        let pool = db::pool(&settings, settings.worker_database_acquire_timeout)?;
        let redis = almanac_shared::redis_conn::RedisConn::connect(&settings).await?;
        let (acceptor, port) =
            telemetry::bind_metrics(settings.worker_metrics_addr, "WORKER_METRICS_ADDR").await?;
        let cipher = settings
            .publish
            .token_key
            .as_ref()
            .map(almanac_shared::publish::crypto::TokenCipher::new);
        let flags = almanac_shared::flags::Flags::new(&settings);
        flags.load_at_start(&pool).await;
        telemetry::record_process_start("almanac-worker");
        let ctx = Arc::new(JobContext {
            flags,
            platforms,
            cipher,
            queue: JobQueue::new(&settings, redis.clone()),
            emitter: Emitter::new(&settings, redis.clone()),
            cancels: Cancels::default(),
            fetcher: almanac_shared::fetch::Fetcher::new(settings.fetch.clone())?,
            mailer,
            clock,
            redis: redis.clone(),
            settings: Arc::new(settings),
            pool,
            ai,
            worker_name: worker_name(),
            hard_stop: CancellationToken::new(),
        });
        telemetry::metrics_handle();
        Ok(Self {
            ctx,
            registry: Arc::new(registry),
            acceptor,
            port,
        })
    }

    /// The port of the worker's `/metrics` and `/healthz`.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn context(&self) -> Arc<JobContext> {
        self.ctx.clone()
    }

    /// Runs until `shutdown` completes; in-flight jobs then get `WORKER_SHUTDOWN_GRACE_MS`
    /// to finish before their claims are released for another worker.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let (ctx, registry) = (self.ctx, self.registry);
        tracing::info!(
            worker = %ctx.worker_name,
            port = self.port,
            kinds = ?registry.kinds().collect::<Vec<_>>(),
            recovery_bound_ms = ctx.settings.jobs.recovery_bound().as_millis() as u64,
            ai.provider = ctx.settings.ai.provider.as_str(),
            ai.model = %ctx.settings.ai.model,
            "worker starting"
        );
        let wakers = Wakers::new(ctx.cancels.clone());
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(wakers.clone().run((*ctx.settings).clone(), stop.clone()));
        {
            let (ctx, registry, stop) = (ctx.clone(), registry.clone(), stop.clone());
            tasks.spawn(async move { reconciler::run(&ctx, &registry, stop).await });
        }
        tasks.spawn(serve_metrics(self.acceptor, ctx.clone(), stop.clone()));
        {
            let ctx = ctx.clone();
            let stop = stop.clone();
            tasks.spawn(async move { scheduler::run(&ctx, stop).await });
        }
        {
            let ctx = ctx.clone();
            let stop = stop.clone();
            tasks.spawn(async move { dispatcher::run(&ctx, stop).await });
        }
        tasks.spawn(ctx.flags.clone().run(
            ctx.pool.clone(),
            ctx.settings.flags_refresh,
            stop.clone(),
        ));
        // Jobs run on tasks of their own, tracked here: an apalis worker that dies with its
        // Redis connection drops its deliveries, not the jobs they started. They die with
        // the worker itself, though: dropping this future (a crash, in tests) drops them.
        let running = TaskTracker::new();
        let abandon = CancellationToken::new();
        let _abandon_when_dropped = abandon.clone().drop_guard();
        for kind in registry.kinds() {
            let queue = Queue {
                kind,
                ctx: ctx.clone(),
                registry: registry.clone(),
                running: running.clone(),
                abandon: abandon.clone(),
                slots: Arc::new(Semaphore::new(ctx.settings.jobs.concurrency)),
                gate: Arc::default(),
            };
            tasks.spawn(supervise(queue, wakers.clone(), stop.clone()));
        }
        // The shutdown signal stops intake; after the grace period, jobs still running give
        // their claims back (runner's hard stop).
        let _grace = {
            let ctx = ctx.clone();
            let stop = stop.clone();
            almanac_shared::shutdown::AbortOnDrop(tokio::spawn(async move {
                shutdown.await;
                tracing::info!("worker stopping: no new jobs; draining in-flight jobs");
                stop.cancel();
                tokio::time::sleep(ctx.settings.jobs.shutdown_grace).await;
                ctx.hard_stop.cancel();
            }))
        };
        while let Some(done) = tasks.join_next().await {
            if let Err(error) = done
                && error.is_panic()
            {
                tracing::error!(error = %error, "worker task panicked");
            }
        }
        // Jobs started by an apalis worker that had died before the stop.
        running.close();
        running.wait().await;
        tracing::info!("worker stopped");
        Ok(())
    }
}

/// Which deliveries of a queue this process started, and whether it still starts any. At
/// a stop the gate closes, and whatever the queue's consumer fetched but did not start goes
/// back onto the queue at once (`give_back_unstarted`), for another worker to pick up
/// within the usual pickup time; not after the in-flight jobs drain, nor at the requeue.
#[derive(Default)]
struct Gate(std::sync::Mutex<GateState>);

#[derive(Default)]
struct GateState {
    closed: bool,
    /// Jobs running here.
    started: std::collections::HashSet<uuid::Uuid>,
    /// Jobs given back when the gate closed.
    given_back: std::collections::HashSet<uuid::Uuid>,
}

/// What a delivery may do at the gate.
enum Admission {
    /// Run it.
    Start,
    /// Not here: the process is stopping. `true` when it was given back already.
    Refused(bool),
}

impl Gate {
    fn admit(&self, job: uuid::Uuid) -> Admission {
        let mut state = self.0.lock().expect("the gate's lock is never poisoned");
        if state.closed {
            return Admission::Refused(state.given_back.contains(&job));
        }
        state.started.insert(job);
        Admission::Start
    }

    fn leave(&self, job: uuid::Uuid) {
        let mut state = self.0.lock().expect("the gate's lock is never poisoned");
        state.started.remove(&job);
    }

    /// Closes the gate; returns the jobs running here.
    fn close(&self) -> std::collections::HashSet<uuid::Uuid> {
        let mut state = self.0.lock().expect("the gate's lock is never poisoned");
        state.closed = true;
        state.started.clone()
    }

    fn given_back(&self, jobs: impl IntoIterator<Item = uuid::Uuid>) {
        let mut state = self.0.lock().expect("the gate's lock is never poisoned");
        state.given_back.extend(jobs);
    }
}

/// One queue's worker: its kind, and what running its jobs takes.
#[derive(Clone)]
struct Queue {
    kind: JobKind,
    ctx: Arc<JobContext>,
    registry: Arc<Registry>,
    /// Every job this process runs.
    running: TaskTracker,
    /// Cancelled when the worker is dropped without stopping.
    abandon: CancellationToken,
    /// `WORKER_CONCURRENCY` for this queue, also across restarts of its apalis worker.
    slots: Arc<Semaphore>,
    gate: Arc<Gate>,
}

/// Runs a delivery on a task of its own and waits for it. Should apalis drop this future
/// (its worker died with its Redis connection), the job goes on and ends through Postgres.
async fn handle(message: JobMessage, queue: Data<Queue>) -> Result<(), BoxDynError> {
    let slot = queue.slots.clone().acquire_owned().await?;
    match queue.gate.admit(message.job_id) {
        Admission::Start => {}
        Admission::Refused(true) => return Ok(()),
        Admission::Refused(false) => {
            give_back(&queue, message.job_id).await;
            return Ok(());
        }
    }
    let (ctx, registry) = (queue.ctx.clone(), queue.registry.clone());
    let (abandon, gate) = (queue.abandon.clone(), queue.gate.clone());
    let job = queue.running.spawn(async move {
        tokio::select! {
            () = runner::run(&ctx, &registry, message) => {}
            () = abandon.cancelled() => {}
        }
        gate.leave(message.job_id);
        drop(slot);
    });
    job.await?;
    Ok(())
}

/// Pushes `job` back onto its queue (waking the other workers), for a job this process
/// will not start. Should that fail, the reconciler queues the pending job again.
async fn give_back(queue: &Queue, job: uuid::Uuid) {
    match queue.ctx.queue.push(queue.kind, job, None).await {
        Ok(()) => {
            metrics::counter!("queue_given_back_total", "kind" => queue.kind.as_str()).increment(1)
        }
        Err(error) => {
            tracing::warn!(job_id = %job, error = %error, "giving a job back failed; the reconciler will queue it again")
        }
    }
}

/// At a stop: closes the gate, and gives back every job the consumer `worker` fetched that
/// this process did not start. Called once apalis has stopped fetching; its fetches share
/// this connection, so every fetch it sent is in the set this reads.
async fn give_back_unstarted(queue: &Queue, worker: &str) {
    let started = queue.gate.close();
    let fetched = match almanac_shared::queue::fetched_by(
        &queue.ctx.redis,
        &queue.ctx.settings,
        queue.kind,
        worker,
    )
    .await
    {
        Ok(fetched) => fetched,
        Err(error) => {
            tracing::warn!(queue = %queue.kind, error = %error, "reading what the stopping worker fetched failed; the reconciler will queue it again");
            return;
        }
    };
    let unstarted: Vec<uuid::Uuid> = fetched
        .into_iter()
        .map(|message| message.job_id)
        .filter(|job| !started.contains(job))
        .collect();
    queue.gate.given_back(unstarted.iter().copied());
    for job in &unstarted {
        tracing::info!(job_id = %job, queue = %queue.kind, "stopping: a fetched job not started here goes back to the queue");
        give_back(queue, *job).await;
    }
}

/// Runs the apalis worker of one queue, restarting it under a fresh name if it dies (for
/// example when Redis lost its registration).
async fn supervise(queue: Queue, wakers: Wakers, stop: CancellationToken) {
    let kind = queue.kind;
    while !stop.is_cancelled() {
        let settings = &queue.ctx.settings;
        let storage: RedisStorage<JobMessage, _> = RedisStorage::new(queue.ctx.redis.manager())
            .with_config(queue::queue_config(settings, kind));
        let backend = PollWith::new(
            storage,
            WakeStrategy::new(wakers.stream(kind, settings.jobs.idle_poll)),
        );
        let name = format!("{}-{kind}", worker_name());
        let worker = WorkerBuilder::new(name.as_str())
            .backend(backend)
            .data(queue.clone())
            .concurrency(settings.jobs.concurrency)
            .build(handle);
        // At the stop, apalis stops fetching first; then what it fetched and did not hand
        // out goes back at once, while the jobs that did start drain.
        let on_stop = {
            let (stop, queue, name) = (stop.clone(), queue.clone(), name.clone());
            move |worker: apalis::prelude::WorkerContext| {
                let (stop, queue, name) = (stop.clone(), queue.clone(), name.clone());
                async move {
                    stop.cancelled().await;
                    // Refused only by a worker that never started, which fetched nothing.
                    let _ = worker.stop();
                    give_back_unstarted(&queue, &name).await;
                    Ok(())
                }
            }
        };
        let ended = worker.run_with_ctx(on_stop).await;
        if stop.is_cancelled() {
            return;
        }
        // apalis also ends a worker, with or without an error, when its backend dies (for
        // example a failed fetch); only a stop request may end this loop.
        match ended {
            Ok(()) => {
                tracing::warn!(queue = %kind, worker = %name, "queue worker ended; restarting")
            }
            Err(error) => {
                tracing::warn!(queue = %kind, worker = %name, error = %error, "queue worker failed; restarting")
            }
        }
        metrics::counter!("queue_worker_restarts_total", "kind" => kind.as_str()).increment(1);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// Wakes the apalis worker when its queue's wake-up stream yields.
///
/// Two traps in apalis's own `StreamStrategy`: it polls the stream once per cycle, so a
/// `Ready` leaves no waker registered for the next notification; and a notification that
/// arrives while a fetch is in flight is consumed, but that fetch read the queue before the
/// push, comes back empty, and the worker idles with the job queued. So this strategy
/// drains the stream to `Pending` (a waker stays registered), and after consuming a wake-up
/// it asks for one more poll on its next drive, by which time the in-flight fetch has
/// finished and a fresh one sees the job: one extra fetch per wake-up, no busy loop.
struct WakeStrategy<S> {
    wakes: S,
    recheck: bool,
}

impl<S> WakeStrategy<S> {
    fn new(wakes: S) -> Self {
        Self {
            wakes,
            recheck: false,
        }
    }
}

impl<S: futures::Stream<Item = ()> + Unpin> PollStrategy for WakeStrategy<S> {
    fn poll_drive(
        &mut self,
        cx: &mut std::task::Context<'_>,
        _: &PollSnapshot,
    ) -> std::task::Poll<Option<()>> {
        use futures::StreamExt;
        use std::task::Poll;
        if std::mem::take(&mut self.recheck) {
            cx.waker().wake_by_ref();
        }
        let mut woken = false;
        loop {
            match self.wakes.poll_next_unpin(cx) {
                Poll::Ready(Some(())) => woken = true,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending if woken => {
                    self.recheck = true;
                    return Poll::Ready(Some(()));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[handler]
fn healthz() -> &'static str {
    "ok"
}

/// Postgres and Redis answer within a second each: what a rollout waits for before it
/// replaces the next worker.
#[handler]
async fn readyz(ctx: PoemData<&Arc<JobContext>>) -> poem::Response {
    let limit = Duration::from_secs(1);
    let postgres = tokio::time::timeout(limit, almanac_shared::store::ping(&ctx.pool));
    let mut redis = ctx.redis.clone();
    let redis = tokio::time::timeout(limit, async move {
        redis::cmd("PING").query_async::<String>(&mut redis).await
    });
    match tokio::join!(postgres, redis) {
        (Ok(Ok(())), Ok(Ok(_))) => poem::Response::builder().body("ok"),
        _ => poem::Response::builder()
            .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
            .body("unavailable"),
    }
}

/// `/metrics`, `/healthz` and `/readyz` on `WORKER_METRICS_ADDR`.
async fn serve_metrics(acceptor: TcpAcceptor, ctx: Arc<JobContext>, stop: CancellationToken) {
    let routes = Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz.data(ctx)));
    telemetry::serve_metrics(acceptor, routes, stop).await;
}
