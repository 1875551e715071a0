//! A Redis Cluster a test owns: three masters with a replica each (`--cluster-replicas 1`;
//! without replicas a cluster goes down whole when a master dies), on ports of their own,
//! without persistence, with `cluster-node-timeout` at one second so that a replica takes
//! over from a killed master within a few seconds.
//! Each test starts its own (its processes end with it).

use std::{process::Stdio, time::Duration};

use tokio::process::{Child, Command};

use super::eventually;

const NODES: usize = 6;

pub struct RedisCluster {
    nodes: Vec<Node>,
    /// Where the nodes keep their `nodes.conf`; removed with the cluster.
    dir: std::path::PathBuf,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Node {
    port: u16,
    child: Option<Child>,
}

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn query<T: redis::FromRedisValue>(port: u16, cmd: redis::Cmd) -> Option<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    cmd.query_async(&mut conn).await.ok()
}

impl RedisCluster {
    pub async fn start() -> Self {
        let dir = std::env::temp_dir().join(format!("almanac-cluster-{}", uuid::Uuid::new_v4()));
        let mut nodes = Vec::new();
        for _ in 0..NODES {
            let port = free_port();
            let node_dir = dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir).unwrap();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                .args(["--cluster-config-file", "nodes.conf"])
                .current_dir(&node_dir)
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .kill_on_drop(true)
                .spawn()
                .expect("redis-server starts (Debian's redis-server; `make test` installs it)");
            nodes.push(Node {
                port,
                child: Some(child),
            });
        }
        for node in &nodes {
            let port = node.port;
            eventually(Duration::from_secs(10), "a cluster node to answer", || {
                query::<String>(port, redis::cmd("PING"))
            })
            .await;
        }
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(nodes.iter().map(|node| format!("127.0.0.1:{}", node.port)))
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .await
            .expect("redis-cli runs (Debian's redis-tools)");
        assert!(created.success(), "redis-cli --cluster create failed");
        let cluster = Self { nodes, dir };
        cluster.wait_until_ok().await;
        cluster.wait_for_replicas().await;
        cluster
    }

    /// Every node knows three replicas, and each replica is in sync with its master: until
    /// then a dead master would have nobody to take over (just after `--cluster create`,
    /// replicas still show as empty masters).
    async fn wait_for_replicas(&self) {
        for node in &self.nodes {
            let port = node.port;
            eventually(
                Duration::from_secs(30),
                "the replicas to attach",
                || async move {
                    let nodes: String =
                        query(port, redis::cmd("CLUSTER").arg("NODES").to_owned()).await?;
                    let replicas = nodes
                        .lines()
                        .filter_map(|line| line.split(' ').nth(2))
                        .filter(|flags| flags.split(',').any(|flag| flag == "slave"))
                        .count();
                    let info: String =
                        query(port, redis::cmd("INFO").arg("replication").to_owned()).await?;
                    let in_sync =
                        info.contains("role:master") || info.contains("master_link_status:up");
                    (replicas == NODES / 2 && in_sync).then_some(())
                },
            )
            .await;
        }
    }

    /// `EVENTS_REDIS_URL` for this cluster: its nodes' URLs, comma-separated.
    pub fn urls(&self) -> String {
        self.nodes
            .iter()
            .map(|node| format!("redis://127.0.0.1:{}", node.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every live node says the cluster is up, with three masters each holding a replica.
    pub async fn wait_until_ok(&self) {
        for node in self.nodes.iter().filter(|node| node.child.is_some()) {
            let port = node.port;
            eventually(
                Duration::from_secs(30),
                "the cluster to be ok",
                || async move {
                    let info: String =
                        query(port, redis::cmd("CLUSTER").arg("INFO").to_owned()).await?;
                    info.contains("cluster_state:ok").then_some(())
                },
            )
            .await;
        }
    }

    /// The port of the master that serves `key` now.
    pub async fn master_of(&self, key: &str) -> u16 {
        let live = self.nodes.iter().find(|node| node.child.is_some()).unwrap();
        let slot: u16 = query(
            live.port,
            redis::cmd("CLUSTER").arg("KEYSLOT").arg(key).to_owned(),
        )
        .await
        .expect("CLUSTER KEYSLOT answers");
        let shards: Vec<redis::Value> =
            query(live.port, redis::cmd("CLUSTER").arg("SLOTS").to_owned())
                .await
                .expect("CLUSTER SLOTS answers");
        for shard in shards {
            let redis::Value::Array(parts) = shard else {
                continue;
            };
            let range: (u16, u16) = (
                redis::from_redis_value_ref(&parts[0]).unwrap(),
                redis::from_redis_value_ref(&parts[1]).unwrap(),
            );
            if (range.0..=range.1).contains(&slot) {
                let redis::Value::Array(master) = &parts[2] else {
                    panic!("CLUSTER SLOTS names a master");
                };
                return redis::from_redis_value_ref(&master[1]).unwrap();
            }
        }
        panic!("no master serves slot {slot}")
    }

    /// Kills the node on `port` as a crash would (nothing saved).
    pub async fn kill(&mut self, port: u16) {
        let node = self
            .nodes
            .iter_mut()
            .find(|node| node.port == port)
            .expect("a node of this cluster");
        if let Some(mut child) = node.child.take() {
            child.kill().await.expect("redis-server is killed");
        }
    }

    /// Waits until a replica took over the slots of the master on `port` (killed).
    pub async fn wait_for_failover(&self, key: &str, old_master: u16) {
        eventually(
            Duration::from_secs(30),
            "a replica to take over",
            || async {
                let master = self.master_of(key).await;
                (master != old_master).then_some(())
            },
        )
        .await;
        self.wait_until_ok().await;
    }
}

/// Deletes every key under `prefix` on every master among the nodes at `urls` that answers.
pub async fn flush(urls: &[String], prefix: &str) {
    for url in urls {
        let client = redis::Client::open(url.as_str()).unwrap();
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
            continue;
        };
        let Ok(role) = redis::cmd("ROLE")
            .query_async::<Vec<redis::Value>>(&mut conn)
            .await
        else {
            continue;
        };
        if !matches!(role.first(), Some(redis::Value::BulkString(r)) if r.as_slice() == b"master") {
            continue;
        }
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{prefix}*"))
            .query_async(&mut conn)
            .await
            .unwrap();
        for key in keys {
            let _: i64 = redis::cmd("DEL")
                .arg(key)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
    }
}
