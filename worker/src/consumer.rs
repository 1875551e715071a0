//! The consumers: one apalis worker per queue, each behind a gate that a stop closes (what
//! it fetched but did not start goes back at once), started as jobs on tasks of their own,
//! and woken by the queues' wake-ups rather than by polling.

use std::{sync::Arc, time::Duration};

use almanac_shared::{
    jobs::{JobKind, JobMessage},
    queue::{self, Wakers},
};
use apalis::prelude::*;
use apalis_core::backend::ext::poll_strategy::{PollSnapshot, PollStrategy, PollWith};
use apalis_redis::RedisStorage;
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::job::{JobContext, Registry};

/// Which deliveries of a queue this process started, and whether it still starts any. At
/// a stop the gate closes, and whatever the queue's consumer fetched but did not start goes
/// back onto the queue at once (`give_back_unstarted`), for another worker to pick up
/// within the usual pickup time; not after the in-flight jobs drain, nor at the requeue.
#[derive(Default)]
pub(crate) struct Gate(std::sync::Mutex<GateState>);

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

    /// Whether the process still starts jobs.
    fn is_open(&self) -> bool {
        !self
            .0
            .lock()
            .expect("the gate's lock is never poisoned")
            .closed
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
pub(crate) struct Queue {
    pub(crate) kind: JobKind,
    pub(crate) ctx: Arc<JobContext>,
    pub(crate) registry: Arc<Registry>,
    /// Every job this process runs.
    pub(crate) running: TaskTracker,
    /// Cancelled when the worker is dropped without stopping.
    pub(crate) abandon: CancellationToken,
    /// `WORKER_CONCURRENCY` for this queue, also across restarts of its apalis worker.
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) gate: Arc<Gate>,
    /// Claims its deliveries, several a statement.
    pub(crate) claimer: crate::claims::Claimer,
}

/// Runs a delivery (a wake-up for the queue: the jobs the ledger gives its slot) on a task
/// of its own and waits for it. Should apalis drop this future
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
    let claimer = queue.claimer.clone();
    let job = queue.running.spawn(async move {
        let go_on = || gate.is_open() && !ctx.hard_stop.is_cancelled();
        tokio::select! {
            () = crate::runner::run(&ctx, &registry, &claimer, message, go_on) => {}
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

/// A unique worker name: apalis refuses a name reused within minutes.
pub(crate) fn worker_name() -> String {
    use rand::Rng;
    let host = hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "worker".into());
    let suffix: u32 = rand::rng().random();
    format!("{host}-{}-{suffix:08x}", std::process::id())
}

/// Runs the apalis worker of one queue, restarting it under a fresh name if it dies (for
/// example when Redis lost its registration).
pub(crate) async fn supervise(queue: Queue, wakers: Wakers, stop: CancellationToken) {
    let kind = queue.kind;
    while !stop.is_cancelled() {
        let settings = &queue.ctx.settings;
        let storage: RedisStorage<JobMessage, _> =
            RedisStorage::new(queue::ConsumerConn::new(&queue.ctx.redis, kind))
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
