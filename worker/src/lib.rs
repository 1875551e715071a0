//! Almanac's worker: its services, and the wiring of what runs in it (the consumers of
//! `consumer`, the reconciler, the scheduler with the channels' `expiry` check, the
//! dispatcher, the webhook `outbox`'s relay, the listener of `health`, the jobs).
//! `main.rs` only wires the shutdown signal; tests start the worker in-process.

mod claims;
mod consumer;
pub mod dispatcher;
pub mod evergreen;
pub mod expiry;
mod health;
pub mod job;
pub mod jobs;
pub mod notifications;
mod notify;
pub mod outbox;
mod presence;
pub mod readings;
pub mod reconciler;
pub mod runner;
pub mod scheduler;
mod statements;

use std::{future::Future, sync::Arc};

use almanac_shared::{
    Settings,
    ai::{self, AiProvider},
    clock::{Clock, SystemClock},
    db,
    email::Mailer,
    events::Emitter,
    jobs::Cancels,
    queue::{JobQueue, Wakers},
    telemetry,
};
use poem::listener::TcpAcceptor;
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    consumer::{Queue, supervise},
    health::serve_metrics,
    job::{JobContext, Registry},
};

/// What the worker talks to beyond Postgres and Redis, and the kinds it runs: swapped by
/// tests (a fake provider, a test clock, a test-only kind).
pub struct Services {
    pub ai: Arc<dyn AiProvider>,
    pub mailer: Arc<dyn Mailer>,
    pub clock: Arc<dyn Clock>,
    pub registry: Registry,
    /// The publishing platforms (the tests add one).
    pub platforms: almanac_publishing::Platforms,
}

impl Services {
    /// The services the settings name, the system clock, and every kind.
    pub fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        Ok(Self {
            ai: ai::from_settings(settings, almanac_shared::domain::OFFLINE_ANSWERS)?,
            mailer: almanac_shared::email::from_settings(settings)?,
            clock: Arc::new(SystemClock),
            registry: jobs::registry(),
            platforms: almanac_publishing::Platforms::new(settings)?,
        })
    }
}

pub struct Application {
    ctx: Arc<JobContext>,
    registry: Arc<Registry>,
    acceptor: TcpAcceptor,
    port: u16,
}

impl Application {
    /// Builds the worker with the services its settings name.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let services = Services::from_settings(&settings)?;
        Self::build_with(settings, services).await
    }

    /// Builds the worker with its outside services and kinds given.
    pub async fn build_with(settings: Settings, services: Services) -> anyhow::Result<Self> {
        let Services {
            ai,
            mailer,
            clock,
            registry,
            platforms,
        } = services;
        // First: what the start-up records (the flags, the paused queues) is on `/metrics`.
        telemetry::metrics_handle();
        let pool = db::pool(&settings, settings.worker_database_acquire_timeout)?;
        let redis = almanac_shared::redis_conn::RedisConn::connect(&settings).await?;
        let events_redis = almanac_shared::redis_conn::RedisConn::events(&settings, &redis).await?;
        let (acceptor, port) =
            telemetry::bind_metrics(settings.worker_metrics_addr, "WORKER_METRICS_ADDR").await?;
        let cipher = settings
            .publish
            .token_key
            .as_ref()
            .map(almanac_shared::crypto::TokenCipher::new);
        let flags = almanac_shared::flags::Flags::new(&settings);
        flags.load_at_start(&pool).await;
        telemetry::record_process_start("almanac-worker");
        let ctx = Arc::new(JobContext {
            flags,
            platforms,
            cipher,
            queue: JobQueue::new(&settings, redis.clone()),
            emitter: Emitter::new(&settings, events_redis),
            cancels: Cancels::default(),
            fetcher: almanac_shared::fetch::Fetcher::new(settings.fetch.clone())?,
            webhooks: almanac_shared::webhooks::Sender::new(
                settings.fetch.allow_private_networks,
                almanac_shared::webhooks::CONNECT_TIMEOUT.min(settings.webhooks.attempt_timeout),
                settings.webhooks.first_byte,
                settings.webhooks.attempt_timeout,
            )?,
            mailer,
            clock,
            platform_permits: Arc::new(almanac_shared::permits::Permits::new(
                &settings, "platform",
            )),
            redis: redis.clone(),
            statements: crate::statements::Statements::start(&pool, settings.jobs.concurrency),
            settings: Arc::new(settings),
            pool,
            ai,
            worker_name: consumer::worker_name(),
            hard_stop: CancellationToken::new(),
        });
        Ok(Self {
            ctx,
            registry: Arc::new(registry),
            acceptor,
            port,
        })
    }

    /// The port of the worker's `/metrics` and `/healthz`.
    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn context(&self) -> Arc<JobContext> {
        self.ctx.clone()
    }

    /// Runs until `shutdown` completes; in-flight jobs then get `WORKER_SHUTDOWN_GRACE_MS`
    /// to finish before their claims are released for another worker.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let (ctx, registry) = (self.ctx, self.registry);
        tracing::info!(
            worker = %ctx.worker_name,
            port = self.port,
            kinds = ?registry.kinds().collect::<Vec<_>>(),
            recovery_bound_ms = ctx.settings.jobs.recovery_bound().as_millis() as u64,
            ai.provider = ctx.settings.ai.provider.as_str(),
            ai.model = %ctx.settings.ai.model,
            "worker starting"
        );
        // Held until every job here has ended, dropped with this future (a crash).
        let _present = presence::hold(&ctx.settings, &ctx.worker_name)?;
        let wakers = Wakers::new(ctx.cancels.clone());
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(wakers.clone().run((*ctx.settings).clone(), stop.clone()));
        {
            let (ctx, registry, stop) = (ctx.clone(), registry.clone(), stop.clone());
            tasks.spawn(async move { reconciler::run(&ctx, &registry, stop).await });
        }
        tasks.spawn(serve_metrics(self.acceptor, ctx.clone(), stop.clone()));
        {
            let ctx = ctx.clone();
            let stop = stop.clone();
            tasks.spawn(async move { scheduler::run(&ctx, stop).await });
        }
        {
            let ctx = ctx.clone();
            let stop = stop.clone();
            tasks.spawn(async move { dispatcher::run(&ctx, stop).await });
        }
        {
            let ctx = ctx.clone();
            let stop = stop.clone();
            tasks.spawn(async move { outbox::run(&ctx, stop).await });
        }
        tasks.spawn(ctx.flags.clone().run(
            ctx.pool.clone(),
            ctx.settings.flags_refresh,
            stop.clone(),
        ));
        // Jobs run on tasks of their own, tracked here: an apalis worker that dies with its
        // Redis connection drops its deliveries, not the jobs they started. They die with
        // the worker itself, though: dropping this future (a crash, in tests) drops them.
        let running = TaskTracker::new();
        let abandon = CancellationToken::new();
        let _abandon_when_dropped = abandon.clone().drop_guard();
        for kind in registry.kinds() {
            let job = registry.get(kind).expect("a kind it lists");
            let claimer = crate::claims::Claimer::start(
                ctx.pool.clone(),
                &ctx.settings,
                ctx.worker_name.clone(),
                kind,
                job.start(),
                job.turns(&ctx.settings),
            );
            let queue = Queue {
                claimer,
                kind,
                ctx: ctx.clone(),
                registry: registry.clone(),
                running: running.clone(),
                abandon: abandon.clone(),
                slots: Arc::new(Semaphore::new(ctx.settings.jobs.concurrency)),
                gate: Arc::default(),
            };
            tasks.spawn(supervise(queue, wakers.clone(), stop.clone()));
        }
        // The shutdown signal stops intake; after the grace period, jobs still running give
        // their claims back (runner's hard stop).
        let _grace = {
            let ctx = ctx.clone();
            let stop = stop.clone();
            almanac_shared::shutdown::AbortOnDrop(tokio::spawn(async move {
                shutdown.await;
                tracing::info!("worker stopping: no new jobs; draining in-flight jobs");
                stop.cancel();
                tokio::time::sleep(ctx.settings.jobs.shutdown_grace).await;
                ctx.hard_stop.cancel();
            }))
        };
        while let Some(done) = tasks.join_next().await {
            if let Err(error) = done
                && error.is_panic()
            {
                tracing::error!(error = %error, "worker task panicked");
            }
        }
        // Jobs started by an apalis worker that had died before the stop.
        running.close();
        running.wait().await;
        tracing::info!("worker stopped");
        Ok(())
    }
}
