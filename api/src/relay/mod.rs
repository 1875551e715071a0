//! The relay hub: ONE Redis pub/sub connection per API process, fanned out in-process to
//! every stream that watches a job (docs/architecture.md section 4).
//!
//! Each watched job has a bounded broadcast channel. Sending never waits, so a slow
//! client cannot stall the hub or the other clients; a client that falls more than
//! `RELAY_BUFFER_EVENTS` behind is told and closed, and resumes from its last id.
//! Two repairs keep streams lossless when pub/sub is not: after (re)subscribing, every
//! watcher is told to re-read its job's stream (`Resync`), and a periodic sweep tells the
//! watchers of jobs the ledger says have ended (`Finished`), in case a final event was
//! never published.

mod stream;
mod vocabulary;

pub use stream::{Deps, Framing, count_outcome, relay};
pub use vocabulary::Vocabulary;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use almanac_shared::{Settings, events::StoredEvent, store::jobs as ledger};
use anyhow::Context;
use futures::StreamExt;
use sqlx::PgPool;
use tokio::sync::broadcast;
use uuid::Uuid;

const PING_TIMEOUT_MIN: Duration = Duration::from_secs(1);

/// What a watcher receives.
#[derive(Debug, Clone)]
pub enum Relayed {
    Event(Arc<StoredEvent>),
    /// Events emitted together (one notification), in order.
    Events(Arc<[StoredEvent]>),
    /// Events may have been missed while the subscription was down: read the stream.
    Resync,
    /// The ledger says the job ended a while ago: read the stream, and if it holds no
    /// final event, end with the ledger's.
    Finished,
    /// Time for a keep-alive; one ticker beats for every stream of the process.
    Heartbeat,
    /// The server is shutting down: end the stream (the client resumes elsewhere).
    Closing,
}

#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    topics: Mutex<HashMap<Uuid, broadcast::Sender<Relayed>>>,
    buffer: usize,
}

/// A watcher's registration; dropping it forgets the job once nobody watches it.
pub struct Subscription {
    job: Uuid,
    rx: Option<broadcast::Receiver<Relayed>>,
    hub: Arc<Inner>,
}

impl Subscription {
    pub async fn recv(&mut self) -> Result<Relayed, broadcast::error::RecvError> {
        self.rx
            .as_mut()
            .expect("present until dropped")
            .recv()
            .await
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        drop(self.rx.take());
        let mut topics = self.hub.topics.lock().expect("hub lock");
        if topics
            .get(&self.job)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            topics.remove(&self.job);
        }
    }
}

impl Hub {
    pub fn new(buffer: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                topics: Mutex::new(HashMap::new()),
                buffer: buffer.max(1),
            }),
        }
    }

    /// Starts watching `job`. Call before reading the job's stored history.
    pub fn subscribe(&self, job: Uuid) -> Subscription {
        let mut topics = self.inner.topics.lock().expect("hub lock");
        let rx = topics
            .entry(job)
            .or_insert_with(|| broadcast::channel(self.inner.buffer).0)
            .subscribe();
        Subscription {
            job,
            rx: Some(rx),
            hub: self.inner.clone(),
        }
    }

    /// Ends every open stream; their clients reconnect (to another replica) and resume.
    pub fn close(&self) {
        self.send_all(&Relayed::Closing);
    }

    fn send(&self, job: Uuid, message: Relayed) -> bool {
        let topics = self.inner.topics.lock().expect("hub lock");
        topics.get(&job).is_some_and(|tx| tx.send(message).is_ok())
    }

    fn send_all(&self, message: &Relayed) {
        let topics = self.inner.topics.lock().expect("hub lock");
        for tx in topics.values() {
            let _ = tx.send(message.clone());
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
            for (job, tx) in topics.iter() {
                if job.as_u128() % SLICES == slice {
                    let _ = tx.send(Relayed::Heartbeat);
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

    /// Relays until the task is dropped: the pub/sub subscription (re-established with a
    /// short pause when Redis goes away), the heartbeat, and the ledger sweep.
    pub async fn run(self, settings: Arc<Settings>, pool: PgPool) {
        let every = settings.events.heartbeat;
        let sweep = {
            let hub = self.clone();
            async move { hub.sweep_finished(pool, every).await }
        };
        let beat = {
            let hub = self.clone();
            async move { hub.beat(every).await }
        };
        tokio::join!(self.listen_forever(&settings), sweep, beat);
    }

    async fn listen_forever(&self, settings: &Settings) {
        let channel = almanac_shared::events::channel(settings);
        loop {
            let error = self.listen(settings, &channel).await.unwrap_err();
            metrics::counter!("relay_subscription_errors_total").increment(1);
            tracing::warn!(error = %format!("{error:#}"), "event relay subscription lost; retrying");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// One subscription, until it fails. A connection can also die silently (a failover
    /// behind a proxy that sends no reset), so the hub pings it every heartbeat interval
    /// and gives it up when no answer comes within that interval (at least a second, so a
    /// busy machine is not mistaken for a dead connection).
    async fn listen(&self, settings: &Settings, channel: &str) -> anyhow::Result<()> {
        let client = redis::Client::open(settings.redis_url.expose())?;
        let every = settings.events.heartbeat;
        let subscribe = async {
            let pubsub = client
                .get_async_pubsub()
                .await
                .context("connecting the relay")?;
            let (mut sink, messages) = pubsub.split();
            sink.subscribe(channel)
                .await
                .context("subscribing the relay")?;
            anyhow::Ok((sink, messages))
        };
        let (mut sink, mut messages) = tokio::time::timeout(Duration::from_secs(2), subscribe)
            .await
            .context("subscribing the relay timed out")??;
        // Whatever was published while not subscribed is in the streams.
        self.send_all(&Relayed::Resync);
        let mut probe = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let message = message.context("the relay subscription closed")?;
                    self.relay_message(message.get_payload_bytes());
                }
                _ = probe.tick() => {
                    // Messages that arrive meanwhile wait in the connection's buffer.
                    tokio::time::timeout(every.max(PING_TIMEOUT_MIN), sink.ping::<redis::Value>())
                        .await
                        .context("the relay subscription went silent")?
                        .context("pinging the relay subscription")?;
                }
            }
        }
    }

    /// Hands one notification to the watchers of its job, if any are in this process.
    fn relay_message(&self, payload: &[u8]) {
        let Ok(payload) = std::str::from_utf8(payload) else {
            return;
        };
        // Only the job id is read unless someone here watches the job.
        let Some(job) = payload.get(..36).and_then(|id| Uuid::parse_str(id).ok()) else {
            return;
        };
        if !self
            .inner
            .topics
            .lock()
            .expect("hub lock")
            .contains_key(&job)
        {
            return;
        }
        if payload.contains('\n') {
            let events: Option<Vec<StoredEvent>> = payload
                .lines()
                .map(|line| StoredEvent::decode(line).map(|(_, event)| event))
                .collect();
            match events {
                Some(events) => {
                    self.send(job, Relayed::Events(events.into()));
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
