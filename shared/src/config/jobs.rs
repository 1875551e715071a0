//! `JOB_*`, `WORKER_*`, `RECONCILE_INTERVAL_MS`: the ledger, the workers, the reconciler.

use std::time::Duration;

use anyhow::bail;

use super::env::Env;

/// Settings of the job ledger, the worker and the reconciler.
///
/// A crashed worker's jobs run again within [`JobSettings::recovery_bound`]: their
/// heartbeat goes stale `JOB_STALE_MS` after the last one, and the next reconciler pass
/// (every `RECONCILE_INTERVAL_MS`) gives them back and queues them. The defaults (2 s, 8 s,
/// 2 s) keep that under 10 s; `make bench` measures it.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// How often a running job refreshes its heartbeat.
    pub heartbeat: Duration,
    /// A running job whose heartbeat is older than this is taken to have lost its worker.
    pub stale_after: Duration,
    /// A pending job unclaimed for this long is pushed onto its queue again.
    pub requeue_after: Duration,
    /// How often the reconciler runs.
    pub reconcile_every: Duration,
    /// First retry delay; doubled per attempt, with full jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Jobs one worker process runs at once, per queue.
    pub concurrency: usize,
    /// Fallback poll interval of an idle worker; pickup normally comes from the queue's signal.
    pub idle_poll: Duration,
    /// After a shutdown signal, how long in-flight jobs may run before their claims are
    /// released for another worker.
    pub shutdown_grace: Duration,
    /// `JOB_RETENTION_DAYS`: finished jobs older than this are deleted by the reconciler.
    pub retention: Duration,
    /// `ACTIVITY_RETENTION_DAYS`: a workspace's activity older than this is deleted by the
    /// reconciler.
    pub activity_retention: Duration,
    /// `JOB_MAX_RUNNING_PER_WORKSPACE` (formerly `JOB_MAX_RUNNING_PER_USER`): jobs of one
    /// kind a workspace's members may have running at once across the fleet (every kind but
    /// `webhook`, see `WebhookSettings`); the rest wait ready while other workspaces' jobs
    /// run.
    pub max_running_per_workspace: u32,
    /// `JOB_PRIORITY_AGING_SECS`: a job ready this long counts one lane higher (and one
    /// more after as long again), so a busy higher lane starves nothing.
    pub priority_aging: Duration,
}

impl JobSettings {
    /// How long a crashed worker's jobs may wait before they run again (plus the moment a
    /// worker takes to claim them).
    pub fn recovery_bound(&self) -> Duration {
        self.stale_after + self.reconcile_every
    }

    /// The settings must agree with each other; the error names the variable to change.
    fn validate(&self) -> anyhow::Result<()> {
        if self.heartbeat.is_zero() {
            bail!("JOB_HEARTBEAT_MS: must be greater than 0");
        }
        // One late heartbeat (a busy machine, a database blip) must not make a live job
        // look dead and run twice.
        if self.stale_after < self.heartbeat * 2 {
            bail!("JOB_STALE_MS: must be at least twice JOB_HEARTBEAT_MS");
        }
        if self.reconcile_every.is_zero() {
            bail!("RECONCILE_INTERVAL_MS: must be greater than 0");
        }
        if self.requeue_after.is_zero() {
            bail!("JOB_REQUEUE_MS: must be greater than 0");
        }
        if self.concurrency == 0 {
            bail!("WORKER_CONCURRENCY: must be at least 1");
        }
        if self.retention.is_zero() {
            bail!("JOB_RETENTION_DAYS: must be at least 1");
        }
        if self.activity_retention.is_zero() {
            bail!("ACTIVITY_RETENTION_DAYS: must be at least 1");
        }
        if self.max_running_per_workspace == 0 {
            bail!("JOB_MAX_RUNNING_PER_WORKSPACE: must be at least 1");
        }
        if self.priority_aging.is_zero() {
            bail!("JOB_PRIORITY_AGING_SECS: must be at least 1");
        }
        Ok(())
    }
}

impl JobSettings {
    pub(super) fn read(env: &Env) -> anyhow::Result<Self> {
        let settings = JobSettings {
            heartbeat: env.millis_or("JOB_HEARTBEAT_MS", 2_000)?,
            stale_after: env.millis_or("JOB_STALE_MS", 8_000)?,
            requeue_after: env.millis_or("JOB_REQUEUE_MS", 30_000)?,
            reconcile_every: env.millis_or("RECONCILE_INTERVAL_MS", 2_000)?,
            backoff_base: env.millis_or("JOB_BACKOFF_BASE_MS", 1_000)?,
            backoff_max: env.millis_or("JOB_BACKOFF_MAX_MS", 60_000)?,
            concurrency: env.parse_or("WORKER_CONCURRENCY", 32)?,
            idle_poll: env.millis_or("WORKER_IDLE_POLL_MS", 1_000)?,
            shutdown_grace: env.millis_or("WORKER_SHUTDOWN_GRACE_MS", 20_000)?,
            retention: Duration::from_secs(
                env.parse_or::<u64>("JOB_RETENTION_DAYS", 30)?
                    .saturating_mul(86_400),
            ),
            activity_retention: Duration::from_secs(
                env.parse_or::<u64>("ACTIVITY_RETENTION_DAYS", 365)?
                    .saturating_mul(86_400),
            ),
            max_running_per_workspace: env.parse_renamed_or(
                "JOB_MAX_RUNNING_PER_WORKSPACE",
                "JOB_MAX_RUNNING_PER_USER",
                4,
            )?,
            priority_aging: Duration::from_secs(env.parse_or("JOB_PRIORITY_AGING_SECS", 30)?),
        };
        settings.validate()?;
        Ok(settings)
    }
}
