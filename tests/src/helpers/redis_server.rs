//! A `redis-server` a test owns: on a port of its own, without persistence (as Almanac's
//! Redis runs), so restarting it loses everything, as a Redis restart in production
//! would. Tests that flush or restart Redis use one of these, never the shared server.

use std::{process::Stdio, time::Duration};

use tokio::process::{Child, Command};

use super::eventually;

pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self { port, child: None };
        server.spawn().await;
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--loglevel", "warning"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts (Debian's redis-server; `make test` installs it)");
        self.child = Some(child);
        let url = self.url();
        eventually(Duration::from_secs(10), "redis-server to answer", || {
            let url = url.clone();
            async move {
                let client = redis::Client::open(url).ok()?;
                let mut conn = client.get_multiplexed_async_connection().await.ok()?;
                redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .ok()
            }
        })
        .await;
    }

    /// Kills the server (as a crash would: nothing is saved) and waits until it is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("redis-server is killed");
        }
    }

    /// Kills the server and starts it again on the same port, empty.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.spawn().await;
    }
}
