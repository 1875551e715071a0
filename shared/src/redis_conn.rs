//! The Redis connection every part of Almanac uses: redis-rs's `ConnectionManager`, which
//! reconnects by itself, plus one retry. The manager learns that its connection died (a
//! Redis restart, a dropped path) only from the command that fails on it, which it hands
//! back before reconnecting; so the first request after a restart would fail although
//! Redis is up. [`RedisConn`] sends such a command once more, on the new connection.
//!
//! A command that failed that way may still have run (its answer was lost), so every
//! command sent through a `RedisConn` is one that may run twice: reads, `SET`, `PUBLISH`,
//! and scripts written to be idempotent (the rate limit's; the event emitter's, which is
//! told when it is sent again, [`RedisConn::invoke_resent`]). apalis's task fetching,
//! which moves tasks between lists, uses [`RedisConn::manager`] instead.
//!
//! The events' Redis (`EVENTS_REDIS_URL`) may be a Redis Cluster: [`RedisConn::events`]
//! then holds redis-rs's cluster client, which follows the slots (and a replica promoted
//! after its master failed) by itself; keys that one script touches share a hash tag.

use std::time::Duration;

use anyhow::Context;
use redis::{
    Cmd, Pipeline, RedisError, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager},
    cluster_async::ClusterConnection,
};

use crate::config::{EventsRedis, Settings};
use crate::trips::{self, Store};

/// A Redis connection that survives a reconnect without failing the command that found it
/// necessary. Cheap to clone (one multiplexed connection underneath).
#[derive(Clone)]
pub struct RedisConn(Inner);

#[derive(Clone)]
enum Inner {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

/// How long a connection waits for Redis: to connect, for an answer, and how many times a
/// command that met a dropped connection is sent again.
#[derive(Clone, Copy)]
struct Patience {
    connect: Duration,
    answer: Duration,
    resends: usize,
}

/// What the API and the workers use.
const STEADY: Patience = Patience {
    connect: Duration::from_millis(800),
    answer: Duration::from_secs(5),
    resends: 1,
};

impl RedisConn {
    /// Connects to `REDIS_URL`.
    pub async fn connect(settings: &Settings) -> anyhow::Result<Self> {
        Self::server(settings.redis_url.expose(), "REDIS_URL", STEADY).await
    }

    /// Connects to `EVENTS_REDIS_URL`: `queues` (the connection to `REDIS_URL`) again when
    /// it names the same server.
    pub async fn events(settings: &Settings, queues: &RedisConn) -> anyhow::Result<Self> {
        let events = &settings.events.redis;
        if events.is_server(settings.redis_url.expose()) {
            return Ok(queues.clone());
        }
        Self::open(events, STEADY).await
    }

    /// A connection to the events' Redis that gives up after `patience`, without retrying:
    /// for a caller that has a fallback of its own (the AI breaker decides locally).
    pub async fn quick(redis: &EventsRedis, patience: Duration) -> anyhow::Result<Self> {
        let patience = Patience {
            connect: patience,
            answer: patience,
            resends: 0,
        };
        Self::open(redis, patience).await
    }

    async fn open(redis: &EventsRedis, patience: Patience) -> anyhow::Result<Self> {
        match redis {
            EventsRedis::Server(url) => {
                Self::server(url.expose(), "EVENTS_REDIS_URL", patience).await
            }
            EventsRedis::Cluster(nodes) => {
                let conn = cluster_client(nodes, None, patience.answer)?
                    .get_async_connection()
                    .await
                    .context("connecting to the events' Redis Cluster (EVENTS_REDIS_URL)")?;
                Ok(Self(Inner::Cluster(conn)))
            }
        }
    }

    async fn server(url: &str, variable: &str, patience: Patience) -> anyhow::Result<Self> {
        let client = redis::Client::open(url).with_context(|| format!("parsing {variable}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(patience.connect))
            .set_response_timeout(Some(patience.answer))
            .set_number_of_retries(patience.resends);
        let manager = ConnectionManager::new_with_config(client, config)
            .await
            .with_context(|| format!("connecting to Redis ({variable})"))?;
        Ok(Self(Inner::Server(manager)))
    }

    /// The underlying manager, without the retry: for commands that must not run twice.
    /// Only the queues' connection ([`RedisConn::connect`]) has one.
    pub fn manager(&self) -> ConnectionManager {
        match &self.0 {
            Inner::Server(manager) => manager.clone(),
            Inner::Cluster(_) => unreachable!("the queues' Redis is one server"),
        }
    }

    /// Whether this is a Redis Cluster: live events then go on sharded channels.
    pub fn is_cluster(&self) -> bool {
        matches!(self.0, Inner::Cluster(_))
    }

    /// The command that publishes a live event here: `SPUBLISH` on a cluster (the message
    /// goes to the one shard of its channel, not to every node), else `PUBLISH`.
    pub fn publish_command(&self) -> &'static str {
        if self.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        }
    }

    /// Redis answers a `PING` (readiness checks).
    pub async fn ping(&self) -> redis::RedisResult<()> {
        let mut conn = self.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(drop)
    }
}

/// A cluster client for `nodes`, speaking RESP3 (which pushes sharded messages), giving a
/// node `patience` to answer; `push` receives pushed messages. A command meeting a failover
/// is retried for a few seconds (a replica takes over after `cluster-node-timeout`).
pub fn cluster_client(
    nodes: &[crate::config::Secret],
    push: Option<tokio::sync::mpsc::UnboundedSender<redis::PushInfo>>,
    patience: Duration,
) -> anyhow::Result<redis::cluster::ClusterClient> {
    let mut builder =
        redis::cluster::ClusterClientBuilder::new(nodes.iter().map(|url| url.expose().to_owned()))
            .use_protocol(redis::ProtocolVersion::RESP3)
            .connection_timeout(patience.min(Duration::from_millis(800)))
            .response_timeout(patience)
            .retries(8)
            .min_retry_wait(50)
            .max_retry_wait(1_000);
    if let Some(push) = push {
        builder = builder.push_sender(push);
    }
    builder
        .build()
        .context("parsing EVENTS_REDIS_URL's cluster nodes")
}

impl RedisConn {
    /// Runs a script that must know whether it may have run already: the invocation
    /// `build(false)` makes, and, should the connection turn out replaced, once more the
    /// one `build(true)` makes (the plain retry sends the same arguments again).
    pub async fn invoke_resent<'a, T: redis::FromRedisValue>(
        &self,
        build: impl Fn(bool) -> redis::ScriptInvocation<'a>,
    ) -> redis::RedisResult<T> {
        // Sent on the connection underneath: counted here, as each one sent again is.
        trips::count(Store::Redis);
        let mut conn = match &self.0 {
            Inner::Server(manager) => manager.clone(),
            // The cluster client retries by itself, and tells no reconnect apart; a
            // script sent again is always told it may have run.
            Inner::Cluster(cluster) => {
                let mut cluster = cluster.clone();
                return match build(false).invoke_async(&mut cluster).await {
                    Err(error) if error.is_unrecoverable_error() || error.is_io_error() => {
                        trips::count(Store::Redis);
                        build(true).invoke_async(&mut cluster).await
                    }
                    other => other,
                };
            }
        };
        match build(false).invoke_async(&mut conn).await {
            Err(error) if reconnected(&error) => {
                tracing::debug!(error = %error, "Redis connection replaced; sending again");
                trips::count(Store::Redis);
                build(true).invoke_async(&mut conn).await
            }
            other => other,
        }
    }
}

impl From<ConnectionManager> for RedisConn {
    fn from(manager: ConnectionManager) -> Self {
        Self(Inner::Server(manager))
    }
}

/// The manager reconnects after this error, so the command is worth one more try.
fn reconnected(error: &RedisError) -> bool {
    error.is_unrecoverable_error()
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        trips::count(Store::Redis);
        let manager = match &mut self.0 {
            Inner::Server(manager) => manager,
            Inner::Cluster(cluster) => return cluster.req_packed_command(cmd),
        };
        Box::pin(async move {
            match manager.req_packed_command(cmd).await {
                Err(error) if reconnected(&error) => {
                    tracing::debug!(error = %error, "Redis connection replaced; sending again");
                    manager.req_packed_command(cmd).await
                }
                other => other,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        trips::count(Store::Redis);
        let manager = match &mut self.0 {
            Inner::Server(manager) => manager,
            Inner::Cluster(cluster) => return cluster.req_packed_commands(cmd, offset, count),
        };
        Box::pin(async move {
            match manager.req_packed_commands(cmd, offset, count).await {
                Err(error) if reconnected(&error) => {
                    tracing::debug!(error = %error, "Redis connection replaced; sending again");
                    manager.req_packed_commands(cmd, offset, count).await
                }
                other => other,
            }
        })
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Inner::Server(manager) => manager.get_db(),
            Inner::Cluster(cluster) => cluster.get_db(),
        }
    }
}

/// A connection to the events' Redis made on first use ([`RedisConn::quick`], half a
/// second's patience), for a caller that decides alone when Redis does not answer (the AI
/// breaker, the permits). A connection that could not be made is tried again at the next
/// use.
pub struct QuickEvents {
    redis: EventsRedis,
    conn: tokio::sync::OnceCell<RedisConn>,
}

impl QuickEvents {
    pub fn new(redis: EventsRedis) -> Self {
        Self {
            redis,
            conn: tokio::sync::OnceCell::new(),
        }
    }

    /// The connection, or none when Redis did not answer in time.
    pub async fn get(&self) -> Option<RedisConn> {
        self.conn
            .get_or_try_init(|| RedisConn::quick(&self.redis, Duration::from_millis(500)))
            .await
            .ok()
            .cloned()
    }
}
