//! The Redis transport (apalis-redis): one queue per job kind, carrying only job ids.
//!
//! apalis-redis polls an idle worker only on its heartbeat, so after every push the
//! producer also publishes the queue's name on one wake channel. Each worker process
//! holds one pub/sub connection to it and turns notifications into wake-ups of the
//! matching apalis worker (see `wake_stream`), so pickup takes milliseconds without a
//! busy loop. A slow fallback interval covers lost notifications and promotes delayed
//! retries.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use anyhow::Context;
use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_redis::{Config as RedisQueueConfig, RedisStorage};
use futures::StreamExt;
use tokio::sync::{Notify, broadcast};
use tokio_stream::wrappers::{BroadcastStream, IntervalStream};
use uuid::Uuid;

use crate::{
    config::Settings,
    events::{Emitter, Event},
    jobs::{Cancels, JobKind, JobMessage, cancel_channel},
    redis_conn::RedisConn,
    trips,
};

/// A queue's pushing end: a push sent twice (after a reconnect) delivers the job twice,
/// which its claim makes harmless.
pub type Storage = RedisStorage<JobMessage, RedisConn>;

/// The apalis configuration of one queue. apalis retries are turned off (max attempts 1):
/// the job ledger decides retries.
/// The apalis queue name of a job kind, namespaced by `REDIS_PREFIX` (no `:` inside).
pub fn queue_name(settings: &Settings, kind: JobKind) -> String {
    format!("{}.{}", settings.redis_prefix, kind.as_str())
}

pub fn queue_config(settings: &Settings, kind: JobKind) -> RedisQueueConfig {
    RedisQueueConfig::default()
        .queue(queue_name(settings, kind))
        .heartbeat_interval(settings.jobs.heartbeat)
        .batch_size(settings.jobs.concurrency.max(1))
}

/// Pushes job ids onto their queues and wakes the workers.
#[derive(Clone)]
pub struct JobQueue {
    storages: Arc<Storages>,
    wakes: Arc<WakeHandle>,
}

/// A queue's storage per kind, made at its first push (a kind may be registered after the
/// queue is made).
struct Storages {
    conn: RedisConn,
    settings: Settings,
    by_kind: [OnceLock<Storage>; trips::KINDS],
}

impl Storages {
    fn of(&self, kind: JobKind) -> Storage {
        self.by_kind[kind.index()]
            .get_or_init(|| {
                RedisStorage::new(self.conn.clone()).with_config(queue_config(&self.settings, kind))
            })
            .clone()
    }
}

/// Wake-ups waiting to be published. Pushes only mark their kind; one task publishes, so
/// a burst of pushes shares one PUBLISH per kind while the previous one is in flight.
struct PendingWakes {
    /// By kind (`JobKind::index`).
    flags: [AtomicBool; trips::KINDS],
    notify: Notify,
    closed: AtomicBool,
}

/// Held by every clone of a [`JobQueue`]; the last one dropped stops the publisher.
struct WakeHandle(Arc<PendingWakes>);

impl Drop for WakeHandle {
    fn drop(&mut self) {
        self.0.closed.store(true, Ordering::Release);
        self.0.notify.notify_one();
    }
}

impl PendingWakes {
    async fn publish_until_closed(self: Arc<Self>, mut conn: RedisConn, channel: String) {
        loop {
            self.notify.notified().await;
            if self.closed.load(Ordering::Acquire) {
                return;
            }
            for kind in JobKind::known() {
                if self.flags[kind.index()].swap(false, Ordering::AcqRel) {
                    trips::count_as(kind, trips::Step::Submit, trips::Store::Redis);
                    let published = redis::cmd("PUBLISH")
                        .arg(&channel)
                        .arg(kind.as_str())
                        .query_async::<i64>(&mut conn)
                        .await;
                    if let Err(error) = published {
                        // Workers still poll on their fallback interval.
                        tracing::warn!(error = %error, "publishing a queue wake-up failed");
                    }
                }
            }
        }
    }
}

impl JobQueue {
    /// Must be called inside a Tokio runtime: it starts the wake-up publisher.
    pub fn new(settings: &Settings, conn: RedisConn) -> Self {
        let storages = Storages {
            conn: conn.clone(),
            settings: settings.clone(),
            by_kind: std::array::from_fn(|_| OnceLock::new()),
        };
        let wakes = Arc::new(PendingWakes {
            flags: std::array::from_fn(|_| AtomicBool::new(false)),
            notify: Notify::new(),
            closed: AtomicBool::new(false),
        });
        tokio::spawn(
            wakes
                .clone()
                .publish_until_closed(conn, wake_channel(settings)),
        );
        Self {
            storages: Arc::new(storages),
            wakes: Arc::new(WakeHandle(wakes)),
        }
    }

    /// Pushes one job id, due now or after `delay`.
    pub async fn push(
        &self,
        kind: JobKind,
        job_id: Uuid,
        delay: Option<Duration>,
    ) -> anyhow::Result<()> {
        let mut storage = self.storages.of(kind);
        let message = JobMessage {
            job_id,
            kind,
            delayed: delay.is_some(),
        };
        let mut task = TaskBuilder::new(message).max_attempts(1);
        if let Some(delay) = delay {
            task = task.run_after(delay);
        }
        storage
            .push_task(task.build())
            .await
            .map_err(|e| anyhow::anyhow!("pushing job {job_id} onto the {kind} queue: {e}"))?;
        if delay.is_none() {
            self.wake(kind);
        }
        Ok(())
    }

    /// [`JobQueue::push`] for a job whose row is committed: a failure is logged, not
    /// returned, since the job is safe in Postgres and the reconciler pushes it again.
    pub async fn push_or_log(&self, kind: JobKind, job_id: Uuid, delay: Option<Duration>) {
        if let Err(error) = self.push(kind, job_id, delay).await {
            tracing::warn!(job_id = %job_id, error = %format!("{error:#}"), "enqueue failed; the reconciler will retry");
        }
    }

    /// Tells every worker process, soon, that `kind` has work.
    fn wake(&self, kind: JobKind) {
        let wakes = &self.wakes.0;
        wakes.flags[kind.index()].store(true, Ordering::Release);
        wakes.notify.notify_one();
    }
}

/// Announces a new job, whose row is committed, and queues it: its first event (`queued`,
/// or the kind's own) starts its stream, then its id goes onto its queue. Every creator of
/// a job (a request, the scheduler, the dispatcher, a job fanning out) ends this way.
pub async fn enqueue_after_commit(
    emitter: &Emitter,
    queue: &JobQueue,
    kind: JobKind,
    job_id: Uuid,
    first: &Event,
) {
    emitter.emit_first_or_log(job_id, first).await;
    queue.push_or_log(kind, job_id, None).await;
}

/// Deletes what apalis-redis keeps of finished tasks (their data, metadata and result),
/// taking at most `batch` ids from the done and dead sets. apalis keeps all of it forever,
/// and its own vacuum scans the whole data hash in one script and leaves the done set
/// growing; the ledger in Postgres is the record, so nothing here is needed once a task
/// finished. Returns how many tasks were swept.
pub async fn sweep_finished(
    conn: &RedisConn,
    settings: &Settings,
    kind: JobKind,
    batch: usize,
) -> redis::RedisResult<usize> {
    const SWEEP: &str = r"
        local swept = 0
        for _, finished in ipairs({KEYS[1], KEYS[2]}) do
          local ids = redis.call('SPOP', finished, ARGV[1])
          for _, id in ipairs(ids) do
            redis.call('HDEL', KEYS[3], id)
            redis.call('DEL', KEYS[4] .. ':' .. id)
            redis.call('HDEL', KEYS[4] .. ':result', id)
          end
          swept = swept + #ids
        end
        return swept";
    let config = queue_config(settings, kind);
    let mut conn = conn.clone();
    static SCRIPT: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(SWEEP));
    SCRIPT
        .key(config.done_jobs_set())
        .key(config.dead_jobs_set())
        .key(config.job_data_hash())
        .key(config.job_meta_hash())
        .arg(batch)
        .invoke_async(&mut conn)
        .await
}

/// Moves up to `batch` due tasks of `kind`'s queue from apalis's scheduled set onto its
/// active list; returns how many. apalis-redis schedules every push (its time is now for
/// an undelayed one) and promotes them in its fetch, in one `unpack` that Lua refuses past
/// about 8,000 values: a burst of pushes that large between two fetches (a backlog
/// submitted while every slot is busy) would stop the queue for good. The reconciler
/// promotes them in batches before that.
pub async fn promote_due(
    conn: &RedisConn,
    settings: &Settings,
    kind: JobKind,
    batch: usize,
) -> redis::RedisResult<usize> {
    const PROMOTE: &str = r"
        local due = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'LIMIT', 0, ARGV[2])
        if #due > 0 then
          redis.call('RPUSH', KEYS[2], unpack(due))
          redis.call('ZREM', KEYS[1], unpack(due))
          redis.call('DEL', KEYS[3])
          redis.call('LPUSH', KEYS[3], 1)
        end
        return #due";
    let config = queue_config(settings, kind);
    let mut conn = conn.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    static SCRIPT: std::sync::LazyLock<redis::Script> =
        std::sync::LazyLock::new(|| redis::Script::new(PROMOTE));
    SCRIPT
        .key(config.scheduled_jobs_set())
        .key(config.active_jobs_list())
        .key(config.signal_list())
        .arg(now)
        .arg(batch)
        .invoke_async(&mut conn)
        .await
}

/// The jobs apalis worker `worker` (a consumer of `kind`'s queue) has fetched and not
/// acknowledged: started, or waiting in its buffer.
pub async fn fetched_by(
    conn: &RedisConn,
    settings: &Settings,
    kind: JobKind,
    worker: &str,
) -> redis::RedisResult<Vec<JobMessage>> {
    let config = queue_config(settings, kind);
    let mut conn = conn.clone();
    let tasks: Vec<String> = redis::cmd("SMEMBERS")
        .arg(format!("{}:{worker}", config.inflight_jobs_set()))
        .query_async(&mut conn)
        .await?;
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let data: Vec<Option<Vec<u8>>> = redis::cmd("HMGET")
        .arg(config.job_data_hash())
        .arg(&tasks)
        .query_async(&mut conn)
        .await?;
    Ok(data
        .into_iter()
        .flatten()
        .filter_map(|json| serde_json::from_slice(&json).ok())
        .collect())
}

pub fn wake_channel(settings: &Settings) -> String {
    settings.redis_key(&["wake"])
}

/// The worker's one pub/sub connection: fans the wake channel out to its queues and
/// cancel requests out to its running jobs.
#[derive(Clone)]
pub struct Wakers {
    /// By kind (`JobKind::index`).
    senders: Arc<[broadcast::Sender<()>; trips::KINDS]>,
    cancels: Cancels,
}

impl Wakers {
    pub fn new(cancels: Cancels) -> Self {
        let senders = std::array::from_fn(|_| broadcast::channel(16).0);
        Self {
            senders: Arc::new(senders),
            cancels,
        }
    }

    /// Subscribes to the wake channel and forwards notifications until `shutdown`.
    /// Reconnects with a short pause when Redis goes away.
    pub async fn run(self, settings: Settings, shutdown: tokio_util::sync::CancellationToken) {
        while !shutdown.is_cancelled() {
            match self.listen(&settings, &shutdown).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(error = %format!("{error:#}"), "queue wake-up subscription lost; retrying");
                    // Wake everyone so nothing waits for the fallback interval meanwhile.
                    self.wake_all();
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }

    async fn listen(
        &self,
        settings: &Settings,
        shutdown: &tokio_util::sync::CancellationToken,
    ) -> anyhow::Result<()> {
        let wake = wake_channel(settings);
        let cancel = cancel_channel(settings);
        let client = redis::Client::open(settings.redis_url.expose())?;
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(&[&wake, &cancel]).await?;
        // Anything pushed while we were not listening is picked up now.
        self.wake_all();
        let mut messages = pubsub.on_message();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                msg = messages.next() => {
                    let msg = msg.context("wake-up subscription closed")?;
                    let payload: String = msg.get_payload().unwrap_or_default();
                    if msg.get_channel_name() == cancel {
                        if let Ok(job) = payload.parse::<Uuid>()
                            && self.cancels.cancel(job)
                        {
                            tracing::info!(job_id = %job, "cancel requested");
                        }
                    } else if let Ok(kind) = payload.parse::<JobKind>()
                    {
                        let _ = self.senders[kind.index()].send(());
                    }
                }
            }
        }
    }

    fn wake_all(&self) {
        for tx in self.senders.iter() {
            let _ = tx.send(());
        }
    }

    /// The wake-up stream of one queue: notifications, plus a fallback tick.
    pub fn stream(
        &self,
        kind: JobKind,
        fallback: Duration,
    ) -> impl futures::Stream<Item = ()> + Unpin + Send + 'static {
        let notified = BroadcastStream::new(self.senders[kind.index()].subscribe()).map(|_| ());
        let mut interval = tokio::time::interval(fallback);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let ticks = IntervalStream::new(interval).map(|_| ());
        futures::stream::select(notified, ticks)
    }
}

/// The connection a queue's consumer (apalis) fetches and acknowledges on: the manager
/// itself (a fetch must not be sent twice), counting the fetches as the kind's claims and
/// the acknowledgements as its ends (`trips`; apalis runs them on tasks of its own, outside
/// any job's scope). Its registration and keep-alives are not a job's.
#[derive(Clone)]
pub struct ConsumerConn {
    manager: redis::aio::ConnectionManager,
    kind: JobKind,
}

impl ConsumerConn {
    pub fn new(conn: &RedisConn, kind: JobKind) -> Self {
        Self {
            manager: conn.manager(),
            kind,
        }
    }

    /// The job's step a command of apalis-redis serves, told by its script's keys: a
    /// fetch (`fetch_next.lua`: seven keys, the active list second) and the leases taken on
    /// what it fetched (`acquire_leases.lua`: four, the workers set second and the active
    /// list last) are the claim's; an acknowledgement (`handle_results.lua`: five, the done
    /// set second) is the end's.
    fn step(cmd: &redis::Cmd) -> Option<trips::Step> {
        let mut args = cmd.args_iter().map(|arg| match arg {
            redis::Arg::Simple(bytes) => bytes,
            _ => &[],
        });
        let name = args.next()?;
        if !name.eq_ignore_ascii_case(b"EVALSHA") && !name.eq_ignore_ascii_case(b"EVAL") {
            return None;
        }
        let (keys, _first, second) = (args.nth(1)?, args.next()?, args.next()?);
        match keys {
            b"7" if second.ends_with(b":active") => Some(trips::Step::Claim),
            b"4" if second.ends_with(b":workers")
                && args
                    .nth(1)
                    .is_some_and(|fourth| fourth.ends_with(b":active")) =>
            {
                Some(trips::Step::Claim)
            }
            b"5" if second.ends_with(b":done") => Some(trips::Step::End),
            _ => None,
        }
    }
}

impl redis::aio::ConnectionLike for ConsumerConn {
    fn req_packed_command<'a>(
        &'a mut self,
        cmd: &'a redis::Cmd,
    ) -> redis::RedisFuture<'a, redis::Value> {
        if let Some(step) = Self::step(cmd) {
            trips::count_as(self.kind, step, trips::Store::Redis);
        }
        self.manager.req_packed_command(cmd)
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> redis::RedisFuture<'a, Vec<redis::Value>> {
        self.manager.req_packed_commands(cmd, offset, count)
    }

    fn get_db(&self) -> i64 {
        self.manager.get_db()
    }
}
