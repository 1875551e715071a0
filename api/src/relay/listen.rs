//! The hub's side of Redis: one connection that holds a subscription to the live channel of
//! every job this process watches, and hands what arrives to the hub.
//!
//! Jobs come and go through the hub's change queue: the first watcher of a job asks for its
//! subscription and waits for Redis to confirm it; after the last leaves, the listener
//! unsubscribes. On one server the connection is a RESP2 pub/sub connection, pinged every
//! heartbeat, and re-made (with every watched job subscribed again and every stream told
//! to re-read its history) when it fails. On a Redis Cluster it is redis-rs's cluster
//! client speaking RESP3 with sharded channels: the client follows failovers and
//! subscribes again by itself, and each job it subscribes again is told to re-read.

use std::{collections::HashSet, time::Duration};

use almanac_shared::{
    Settings,
    config::{EventsRedis, Secret},
    events,
    redis_conn::cluster_client,
};
use anyhow::Context;
use futures::StreamExt;
use redis::{PushKind, Value};
use tokio::sync::mpsc::{self, UnboundedReceiver};
use uuid::Uuid;

use super::{Hub, Relayed};

/// Channels named in one `SUBSCRIBE`, and jobs taken from the change queue at once.
const BATCH: usize = 512;
const PING_TIMEOUT_MIN: Duration = Duration::from_secs(1);
const PAUSE: Duration = Duration::from_millis(250);

/// Listens until the task is dropped, connecting again after each failure.
pub(super) async fn forever(hub: &Hub, settings: &Settings, mut changed: UnboundedReceiver<Uuid>) {
    match &settings.events.redis {
        EventsRedis::Cluster(nodes) => cluster(hub, settings, nodes, changed).await,
        EventsRedis::Server(url) => loop {
            let error = server(hub, settings, url, &mut changed).await.unwrap_err();
            lost(&error);
            tokio::time::sleep(PAUSE).await;
        },
    }
}

fn lost(error: &anyhow::Error) {
    metrics::counter!("relay_subscription_errors_total").increment(1);
    tracing::warn!(error = %format!("{error:#}"), "event relay subscription lost; retrying");
}

/// Up to [`BATCH`] changed jobs: `first` and whatever else is queued.
fn take_batch(first: Uuid, changed: &mut UnboundedReceiver<Uuid>) -> Vec<Uuid> {
    let mut jobs = vec![first];
    while jobs.len() < BATCH {
        match changed.try_recv() {
            Ok(job) => jobs.push(job),
            Err(_) => break,
        }
    }
    jobs.sort_unstable();
    jobs.dedup();
    jobs
}

/// What a batch of changed jobs asks of the connection, given what it is subscribed to:
/// the jobs to subscribe, those to unsubscribe, and those whose waiting streams may go on
/// once the subscriptions are made (every watched one).
#[derive(Default)]
struct Changes {
    subscribe: Vec<Uuid>,
    unsubscribe: Vec<Uuid>,
    confirm: Vec<Uuid>,
}

fn changes(hub: &Hub, subscribed: &HashSet<Uuid>, jobs: Vec<Uuid>) -> Changes {
    let mut changes = Changes::default();
    for job in jobs {
        match (hub.watches(job), subscribed.contains(&job)) {
            (true, true) => changes.confirm.push(job),
            (true, false) => {
                changes.subscribe.push(job);
                changes.confirm.push(job);
            }
            (false, true) => changes.unsubscribe.push(job),
            (false, false) => {}
        }
    }
    changes
}

fn channels(settings: &Settings, jobs: &[Uuid]) -> Vec<String> {
    jobs.iter()
        .map(|job| events::channel(settings, *job))
        .collect()
}

/// One connection to one server, until it fails. A connection can also die silently (a
/// failover behind a proxy that sends no reset), so it is pinged every heartbeat interval
/// and given up when no answer comes within that interval (at least a second, so a busy
/// machine is not mistaken for a dead connection).
async fn server(
    hub: &Hub,
    settings: &Settings,
    url: &Secret,
    changed: &mut UnboundedReceiver<Uuid>,
) -> anyhow::Result<()> {
    let every = settings.events.heartbeat;
    let patience = every.max(PING_TIMEOUT_MIN);
    let client = redis::Client::open(url.expose())?;
    let (mut sink, mut messages) = tokio::time::timeout(Duration::from_secs(2), async {
        let pubsub = client
            .get_async_pubsub()
            .await
            .context("connecting the relay")?;
        anyhow::Ok(pubsub.split())
    })
    .await
    .context("connecting the relay timed out")??;
    // Every job watched now, subscribed again.
    let mut subscribed = HashSet::new();
    for jobs in hub.jobs().chunks(BATCH) {
        tokio::time::timeout(patience, sink.subscribe(channels(settings, jobs)))
            .await
            .context("subscribing the relay timed out")?
            .context("subscribing the relay")?;
        subscribed.extend(jobs.iter().copied());
        hub.confirmed(jobs.iter().copied());
    }
    // Whatever was published while not subscribed is in the streams.
    hub.send_all(&Relayed::Resync);
    let mut probe = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = messages.next() => {
                let message = message.context("the relay subscription closed")?;
                hub.relay_message(message.get_payload_bytes());
            }
            Some(job) = changed.recv() => {
                let changes = changes(hub, &subscribed, take_batch(job, changed));
                if !changes.subscribe.is_empty() {
                    tokio::time::timeout(patience, sink.subscribe(channels(settings, &changes.subscribe)))
                        .await
                        .context("subscribing a job timed out")?
                        .context("subscribing a job")?;
                    subscribed.extend(changes.subscribe);
                }
                hub.confirmed(changes.confirm);
                if !changes.unsubscribe.is_empty() {
                    tokio::time::timeout(patience, sink.unsubscribe(channels(settings, &changes.unsubscribe)))
                        .await
                        .context("unsubscribing a job timed out")?
                        .context("unsubscribing a job")?;
                    for job in changes.unsubscribe {
                        subscribed.remove(&job);
                    }
                }
            }
            _ = probe.tick() => {
                // Messages that arrive meanwhile wait in the connection's buffer.
                tokio::time::timeout(patience, sink.ping::<Value>())
                    .await
                    .context("the relay subscription went silent")?
                    .context("pinging the relay subscription")?;
            }
        }
    }
}

/// The cluster form: sharded channels on a RESP3 cluster connection, which follows the
/// cluster's slots and subscribes again after a failover by itself.
async fn cluster(
    hub: &Hub,
    settings: &Settings,
    nodes: &[Secret],
    mut changed: UnboundedReceiver<Uuid>,
) {
    let (push, mut pushes) = mpsc::unbounded_channel();
    let mut conn = loop {
        let connected = async {
            cluster_client(nodes, Some(push.clone()), Duration::from_secs(5))?
                .get_async_connection()
                .await
                .context("connecting the relay to the cluster")
        };
        match connected.await {
            Ok(conn) => break conn,
            Err(error) => {
                lost(&error);
                tokio::time::sleep(PAUSE).await;
            }
        }
    };
    let mut subscribed = HashSet::new();
    loop {
        tokio::select! {
            Some(push) = pushes.recv() => match push.kind {
                PushKind::SMessage => {
                    if let Some(Value::BulkString(payload)) = push.data.get(1) {
                        hub.relay_message(payload);
                    }
                }
                // The client subscribed again (after a failover, or a node's reconnect):
                // what was published meanwhile is in the streams, if the shard kept it.
                PushKind::SSubscribe => {
                    let job = push.data.first().and_then(|channel| match channel {
                        Value::BulkString(name) => std::str::from_utf8(name).ok(),
                        _ => None,
                    });
                    if let Some(job) = job.and_then(|name| events::channel_job(settings, name)) {
                        hub.send(job, Relayed::Resync);
                    }
                }
                PushKind::Disconnection => {
                    metrics::counter!("relay_subscription_errors_total").increment(1);
                    tracing::warn!("a cluster node of the event relay disconnected; the client subscribes again");
                }
                _ => {}
            },
            Some(job) = changed.recv() => {
                let changes = changes(hub, &subscribed, take_batch(job, &mut changed));
                // One channel a command: a job's channel lives on its own shard.
                let subscribing = changes.subscribe.iter().map(|job| {
                    let mut conn = conn.clone();
                    let channel = events::channel(settings, *job);
                    async move { (*job, conn.ssubscribe(channel).await) }
                });
                for (job, outcome) in futures::future::join_all(subscribing).await {
                    match outcome {
                        Ok(()) => {
                            subscribed.insert(job);
                        }
                        Err(error) => {
                            lost(&anyhow::Error::new(error).context("subscribing a job"));
                            hub.retry_later(job, PAUSE);
                        }
                    }
                }
                hub.confirmed(changes.confirm.into_iter().filter(|job| subscribed.contains(job)));
                for job in changes.unsubscribe {
                    subscribed.remove(&job);
                    if let Err(error) = conn.sunsubscribe(events::channel(settings, job)).await {
                        tracing::debug!(error = %error, "unsubscribing a job failed; its messages are ignored");
                    }
                }
            }
        }
    }
}
