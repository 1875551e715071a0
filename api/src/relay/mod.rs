//! The relay hub: ONE Redis pub/sub connection per API process, fanned out in-process to
//! every stream that watches a job (docs/architecture.md section 4).
//!
//! Each job has a live channel of its own (`events::channel`). The process subscribes to
//! it when its first stream of the job starts, and unsubscribes after its last ends, so
//! it receives only the events it relays; a stream reads the job's history only after
//! Redis confirmed the subscription, so no event falls between the two. On a Redis
//! Cluster the channels are sharded (`SSUBSCRIBE`), each on its job's shard
//! ([`listen`]).
//!
//! Each watched job has a bounded broadcast channel. Sending never waits, so a slow
//! client cannot stall the hub or the other clients; a client that falls more than
//! `RELAY_BUFFER_EVENTS` behind is told and closed, and resumes from its last id.
//! Two repairs keep streams lossless when pub/sub is not: after (re)subscribing, every
//! watcher is told to re-read its job's stream (`Resync`), and a periodic sweep tells the
//! watchers of jobs the ledger says have ended (`Finished`), in case a final event was
//! never published.

mod framing;
mod listen;
pub mod live;
mod machine;
mod repairs;
mod stream;
mod vocabulary;

pub use framing::{AnswerAs, Framing};
pub use stream::{count_outcome, relay};
pub use vocabulary::Vocabulary;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use almanac_shared::{Settings, events::StoredEvent, store::jobs as ledger};
use sqlx::PgPool;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

/// How long a new stream waits for Redis to confirm its job's subscription before reading
/// the history anyway (Redis is away: the read fails and says so, or the subscription
/// comes back with a `Resync` that re-reads what the stream may have missed).
const CONFIRM_WAIT: Duration = Duration::from_secs(2);

/// What a watcher receives.
#[derive(Debug, Clone)]
pub enum Relayed {
    Event(Arc<StoredEvent>),
    /// Events emitted together (one notification), in order. (A `Vec` behind the `Arc`
    /// keeps this enum at two words, and each slot of every job's buffer with it.)
    Events(Arc<Vec<StoredEvent>>),
    /// Events may have been missed while the subscription was down: read the stream.
    Resync,
    /// The ledger says the job ended a while ago: read the stream, and if it holds no
    /// final event, end with the ledger's.
    Finished,
    /// Time for a keep-alive; one ticker beats for every stream of the process.
    Heartbeat,
    /// The server is shutting down: end the stream (the client resumes elsewhere).
    Closing,
    /// Redis confirmed the job's subscription: the streams that waited for it read the
    /// history now (the others ignore it).
    Subscribed,
}

/// What a stream keeps while it lives: shared handles only, so that ten thousand idle
/// streams cost little (the API's whole state is larger to clone and to hold).
#[derive(Clone)]
pub struct Deps {
    pub settings: std::sync::Arc<almanac_shared::Settings>,
    pub redis: almanac_shared::redis_conn::RedisConn,
    pub pool: sqlx::PgPool,
    pub hub: Hub,
}

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    topics: Mutex<HashMap<Uuid, Topic>>,
    buffer: usize,
    /// Jobs whose first watcher came or last left: the listener (un)subscribes them.
    changes: mpsc::UnboundedSender<Uuid>,
    changed: Mutex<Option<mpsc::UnboundedReceiver<Uuid>>>,
}

/// The watchers of one job in this process. Streams that came before Redis confirmed the
/// job's subscription wait for [`Relayed::Subscribed`] on the job's own channel: nothing
/// per stream is kept for them.
struct Topic {
    tx: broadcast::Sender<Relayed>,
    confirmed: bool,
}

/// A watcher's registration; dropping it forgets the job once nobody watches it.
pub struct Subscription {
    job: Uuid,
    rx: Option<broadcast::Receiver<Relayed>>,
    hub: Arc<Inner>,
    /// What arrived while the stream waited for the confirmation and must not be lost (the
    /// server closing, the ledger saying the job ended), handed out first.
    kept: Option<Relayed>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<Relayed, broadcast::error::RecvError> {
        if let Some(kept) = self.kept.take() {
            return Ok(kept);
        }
        self.receiver().recv().await
    }

    fn receiver(&mut self) -> &mut broadcast::Receiver<Relayed> {
        self.rx.as_mut().expect("present until dropped")
    }

    /// Waits for [`Relayed::Subscribed`], keeping what must not be lost meanwhile. Events
    /// cannot come before it (the job is not subscribed yet); a heartbeat, or a resync
    /// the history read makes moot, can go.
    async fn confirmation(&mut self) {
        loop {
            match self.receiver().recv().await {
                Ok(Relayed::Subscribed) | Err(_) => return,
                Ok(Relayed::Closing) => {
                    self.kept = Some(Relayed::Closing);
                    return;
                }
                Ok(Relayed::Finished) => self.kept = Some(Relayed::Finished),
                Ok(_) => {}
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut topics = self.hub.topics.lock().expect("hub lock");
        if topics
            .get(&self.job)
            .is_some_and(|topic| topic.tx.receiver_count() == 0)
        {
            topics.remove(&self.job);
            let _ = self.hub.changes.send(self.job);
        }
    }
}

impl Hub {
    pub fn new(buffer: usize) -> Self {
        let (changes, changed) = mpsc::unbounded_channel();
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::new(HashMap::new()),
                buffer: buffer.max(1),
                changes,
                changed: Mutex::new(Some(changed)),
            }),
        }
    }

    /// Starts watching `job`: returns once Redis confirmed the job's subscription (or
    /// after [`CONFIRM_WAIT`]). Call before reading the job's stored history.
    pub async fn subscribe(&self, job: Uuid) -> Subscription {
        let (rx, confirmed) = {
            let mut topics = self.inner.topics.lock().expect("hub lock");
            let topic = topics.entry(job).or_insert_with(|| {
                let _ = self.inner.changes.send(job);
                Topic {
                    tx: broadcast::channel(self.inner.buffer).0,
                    confirmed: false,
                }
            });
            (topic.tx.subscribe(), topic.confirmed)
        };
        // Made before waiting, so that a stream dropped meanwhile still unregisters.
        let mut subscription = Subscription {
            job,
            rx: Some(rx),
            hub: self.inner.clone(),
            kept: None,
        };
        if !confirmed {
            let _ = tokio::time::timeout(CONFIRM_WAIT, subscription.confirmation()).await;
        }
        subscription
    }

    /// Whether some stream of this process watches `job`.
    fn watches(&self, job: Uuid) -> bool {
        self.inner
            .topics
            .lock()
            .expect("hub lock")
            .contains_key(&job)
    }

    /// Asks again, after `pause`, for the subscription of `job` (a subscribe that failed).
    fn retry_later(&self, job: Uuid, pause: Duration) {
        let changes = self.inner.changes.clone();
        tokio::spawn(async move {
            tokio::time::sleep(pause).await;
            let _ = changes.send(job);
        });
    }

    /// Redis confirmed the subscriptions of `jobs`: their waiting streams go on.
    fn confirmed(&self, jobs: impl IntoIterator<Item = Uuid>) {
        let mut topics = self.inner.topics.lock().expect("hub lock");
        for job in jobs {
            if let Some(topic) = topics.get_mut(&job)
                && !std::mem::replace(&mut topic.confirmed, true)
            {
                let _ = topic.tx.send(Relayed::Subscribed);
            }
        }
    }

    /// Ends every open stream; their clients reconnect (to another replica) and resume.
    pub fn close(&self) {
        self.send_all(&Relayed::Closing);
    }

    fn send(&self, job: Uuid, message: Relayed) -> bool {
        let topics = self.inner.topics.lock().expect("hub lock");
        topics
            .get(&job)
            .is_some_and(|topic| topic.tx.send(message).is_ok())
    }

    fn send_all(&self, message: &Relayed) {
        let topics = self.inner.topics.lock().expect("hub lock");
        for topic in topics.values() {
            let _ = topic.tx.send(message.clone());
        }
    }

    /// Heartbeats for every stream from one ticker (no timer per stream), spread over the
    /// interval in slices so that ten thousand streams do not all write at once.
    async fn beat(&self, every: Duration) {
        const SLICES: u128 = 16;
        let step = every / SLICES as u32;
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + step, step);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut slice = 0;
        loop {
            ticker.tick().await;
            slice = (slice + 1) % SLICES;
            let topics = self.inner.topics.lock().expect("hub lock");
            for (job, topic) in topics.iter() {
                if job.as_u128() % SLICES == slice {
                    let _ = topic.tx.send(Relayed::Heartbeat);
                }
            }
        }
    }

    fn jobs(&self) -> Vec<Uuid> {
        self.inner
            .topics
            .lock()
            .expect("hub lock")
            .keys()
            .copied()
            .collect()
    }

    /// Relays until the task is dropped: the subscriptions (re-established with a short
    /// pause when Redis goes away), the heartbeat, and the ledger sweep.
    pub async fn run(self, settings: Arc<Settings>, pool: PgPool) {
        let every = settings.events.heartbeat;
        let changed = self
            .inner
            .changed
            .lock()
            .expect("hub lock")
            .take()
            .expect("a hub runs once");
        let sweep = {
            let hub = self.clone();
            async move { hub.sweep_finished(pool, every).await }
        };
        let beat = {
            let hub = self.clone();
            async move { hub.beat(every).await }
        };
        tokio::join!(listen::forever(&self, &settings, changed), sweep, beat);
    }

    /// Hands one notification to the watchers of its job, if any are in this process.
    fn relay_message(&self, payload: &[u8]) {
        metrics::counter!("relay_notifications_total").increment(1);
        let Ok(payload) = std::str::from_utf8(payload) else {
            return;
        };
        // Only the job id is read unless someone here watches the job (a message may
        // still arrive just after its last watcher left).
        let Some(job) = payload.get(..36).and_then(|id| Uuid::parse_str(id).ok()) else {
            return;
        };
        if !self.watches(job) {
            return;
        }
        if payload.contains('\n') {
            let events: Option<Vec<StoredEvent>> = payload
                .lines()
                .map(|line| StoredEvent::decode(line).map(|(_, event)| event))
                .collect();
            match events {
                Some(events) => {
                    self.send(job, Relayed::Events(Arc::new(events)));
                }
                None => tracing::warn!("malformed event notification ignored"),
            }
            return;
        }
        match StoredEvent::decode(payload) {
            Some((job, event)) => {
                self.send(job, Relayed::Event(Arc::new(event)));
            }
            None => tracing::warn!("malformed event notification ignored"),
        }
    }

    /// Every `every`, finds watched jobs whose ledger row ended more than a second ago and
    /// tells their watchers (who end with the stored or the ledger's final event).
    async fn sweep_finished(&self, pool: PgPool, every: Duration) {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let jobs = self.jobs();
            if jobs.is_empty() {
                continue;
            }
            let ended = ledger::ended_a_while_ago(&pool, &jobs).await;
            match ended {
                Ok(ended) => {
                    for job in ended {
                        self.send(job, Relayed::Finished);
                    }
                }
                Err(error) => tracing::warn!(error = %error, "relay ledger sweep failed"),
            }
        }
    }
}
