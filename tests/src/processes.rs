//! The real binaries as child processes, for the fault suite and the benchmark: an
//! operator's view, where a worker is killed with SIGKILL and stopped with SIGTERM.
//!
//! The binaries are looked up beside the running executable (`target/<profile>/`), or in
//! `ALMANAC_BIN_DIR`; `make test` and `make bench` build them first.

use std::{
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::{
    net::TcpStream,
    process::{Child, Command},
};

/// One `almanac-api` or `almanac-worker` process.
pub struct Service {
    child: Child,
    /// The API's address, or the worker's `/metrics` and `/healthz` address.
    pub addr: SocketAddr,
    /// The API's `/metrics` listener (`METRICS_ADDR`); the worker's is `addr`.
    pub metrics_addr: SocketAddr,
}

/// The value of `series` (its whole name and labels as the page writes them) on a
/// Prometheus text page, if the page has it.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

/// Every series of `metric` on a Prometheus text page: its labels and its value.
pub fn labelled_values(
    text: &str,
    metric: &str,
) -> Vec<(std::collections::BTreeMap<String, String>, f64)> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix(metric)?.strip_prefix('{')?;
            let (labels, value) = rest.split_once("} ")?;
            let labels = labels
                .split(',')
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.to_owned(), value.trim_matches('"').to_owned()))
                })
                .collect();
            Some((labels, value.trim().parse().ok()?))
        })
        .collect()
}

/// The round trips of one kind's jobs that processes counted (`job_round_trips_total`), by
/// step and store, summed over the processes.
#[derive(Default)]
pub struct RoundTrips(std::collections::BTreeMap<(String, String), f64>);

impl RoundTrips {
    /// What `services` counted so far for `kind` (nothing from a build that does not count).
    pub async fn read(services: &[&Service], kind: &str) -> anyhow::Result<Self> {
        let mut trips = Self::default();
        for service in services {
            let page = reqwest::get(service.metrics_url()).await?.text().await?;
            for (labels, value) in labelled_values(&page, almanac_shared::trips::METRIC) {
                if labels.get("kind").map(String::as_str) != Some(kind) {
                    continue;
                }
                if let (Some(step), Some(store)) = (labels.get("step"), labels.get("store")) {
                    *trips.0.entry((step.clone(), store.clone())).or_default() += value;
                }
            }
        }
        Ok(trips)
    }

    /// What was counted since `before`.
    pub fn since(mut self, before: &Self) -> Self {
        for (key, value) in &before.0 {
            *self.0.entry(key.clone()).or_default() -= value;
        }
        self
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `step`'s round trips to `store` for each of `jobs` jobs.
    pub fn per_job(
        &self,
        step: almanac_shared::trips::Step,
        store: almanac_shared::trips::Store,
        jobs: usize,
    ) -> f64 {
        self.0
            .get(&(step.as_str().to_owned(), store.as_str().to_owned()))
            .copied()
            .unwrap_or_default()
            / jobs.max(1) as f64
    }
}

/// The path of binary `name`.
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("ALMANAC_BIN_DIR") {
        return Ok(PathBuf::from(dir).join(name));
    }
    let exe = std::env::current_exe()?;
    // `target/<profile>/bench`, or `target/<profile>/deps/<test binary>`.
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(name))
        .find(|path| path.exists())
        .with_context(|| {
            format!(
                "{name} not found beside {}: build it first (`make test` and `make bench` do)",
                exe.display()
            )
        })
}

fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

impl Service {
    /// Starts `almanac-api` with `env` (and nothing else of this process's environment),
    /// and waits until it accepts connections.
    pub async fn api(env: &[(&str, String)]) -> anyhow::Result<Self> {
        let addr = free_addr()?;
        Self::start("almanac-api", env, ("API_ADDR", addr), None).await
    }

    /// Starts a process of binary `name` (its address variable `addr_var`) with `env` and
    /// nothing else (media in the machine's temporary directory unless `env` says), and waits until it exits; returns its exit status and what it wrote.
    pub async fn run_to_exit(
        name: &str,
        env: &[(&str, String)],
        addr_var: &str,
    ) -> anyhow::Result<(std::process::ExitStatus, String)> {
        let mut command = Command::new(binary(name)?);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env(addr_var, free_addr()?.to_string())
            .env("METRICS_ADDR", free_addr()?.to_string())
            .env("LOG_FORMAT", "json")
            .env("MEDIA_STORE", media_store())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let output = command.output().await?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        Ok((output.status, text))
    }

    /// Starts `almanac-worker` with `env`, and waits until it answers `/healthz`.
    pub async fn worker(env: &[(&str, String)]) -> anyhow::Result<Self> {
        let addr = free_addr()?;
        Self::start("almanac-worker", env, ("WORKER_METRICS_ADDR", addr), None).await
    }

    /// `almanac-api` (`worker: false`) or `almanac-worker` with every log line (JSON, level
    /// info and up) written to `log`, for a test that reads what the logs say.
    pub async fn logged(
        worker: bool,
        env: &[(&str, String)],
        log: &std::path::Path,
    ) -> anyhow::Result<Self> {
        let addr = free_addr()?;
        let (name, var) = if worker {
            ("almanac-worker", "WORKER_METRICS_ADDR")
        } else {
            ("almanac-api", "API_ADDR")
        };
        Self::start(name, env, (var, addr), Some(log)).await
    }

    async fn start(
        name: &str,
        env: &[(&str, String)],
        (addr_var, addr): (&str, SocketAddr),
        log: Option<&std::path::Path>,
    ) -> anyhow::Result<Self> {
        // With TEST_LOG, the processes' logs are the test's; without, only warnings, unseen.
        let logs = std::env::var_os("TEST_LOG").is_some() || log.is_some();
        let output = || -> anyhow::Result<Stdio> {
            Ok(match log {
                Some(path) => Stdio::from(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)?,
                ),
                None if logs => Stdio::inherit(),
                None => Stdio::null(),
            })
        };
        // The worker serves its metrics on `addr`; the API on a listener of its own.
        let metrics_addr = if name == "almanac-api" {
            free_addr()?
        } else {
            addr
        };
        let mut command = Command::new(binary(name)?);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", if logs { "info" } else { "warn" })
            .env(addr_var, addr.to_string())
            .env("METRICS_ADDR", metrics_addr.to_string())
            .env("MEDIA_STORE", media_store())
            .stdin(Stdio::null())
            .stdout(output()?)
            .stderr(output()?)
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        let service = Self {
            child,
            addr,
            metrics_addr,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(addr).await.is_err() {
            anyhow::ensure!(Instant::now() < deadline, "{name} did not start");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(service)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The process's `/metrics` page.
    pub fn metrics_url(&self) -> String {
        format!("http://{}/metrics", self.metrics_addr)
    }

    /// The value of the unlabelled series `name` on the process's `/metrics`, if it has one.
    pub async fn metric(&self, name: &str) -> anyhow::Result<Option<f64>> {
        let text = reqwest::get(self.metrics_url()).await?.text().await?;
        Ok(metric_value(&text, name))
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process runs")
    }

    /// SIGKILL: the process dies where it is, as in a crash.
    pub async fn kill(&mut self) {
        let _ = self.child.kill().await;
    }

    /// SIGSTOP: the process is frozen where it is (nothing it does goes on until it is
    /// killed), so what it holds can be read before it dies.
    pub fn freeze(&self) -> anyhow::Result<()> {
        let sent = std::process::Command::new("kill")
            .args(["-STOP", &self.pid().to_string()])
            .status()?;
        anyhow::ensure!(sent.success(), "kill -STOP failed");
        Ok(())
    }

    /// SIGCONT: a frozen process goes on.
    pub fn thaw(&self) -> anyhow::Result<()> {
        self.signal("-CONT")
    }

    /// SIGTERM, without waiting for the process to exit ([`Service::exited`] does).
    pub fn signal_term(&self) -> anyhow::Result<()> {
        self.signal("-TERM")
    }

    /// Waits until the process has exited; returns whether it exited successfully.
    pub async fn exited(&mut self) -> anyhow::Result<bool> {
        Ok(self.child.wait().await?.success())
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let sent = std::process::Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()?;
        anyhow::ensure!(sent.success(), "kill {signal} failed");
        Ok(())
    }

    /// SIGTERM, then waits until the process has exited; returns whether it exited
    /// successfully.
    pub async fn terminate(&mut self) -> anyhow::Result<bool> {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()?;
        anyhow::ensure!(sent.success(), "kill -TERM failed");
        Ok(self.child.wait().await?.success())
    }

    /// Resident memory in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("VmRSS in /proc/<pid>/status")
    }
}

/// Where the processes the tests start keep uploaded media unless told (never the clone).
fn media_store() -> String {
    format!(
        "file://{}",
        std::env::temp_dir()
            .join("almanac-media-processes")
            .display()
    )
}
