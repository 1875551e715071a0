//! `spawn_app()` and its `TestApp`: a fresh database and Redis prefix, the real API and
//! (optionally) the real worker in-process, typed request helpers, and polling with a
//! deadline instead of sleeps.

pub mod chaos;
pub use almanac_tests::fake_ai;
pub mod fake_oidc;
pub mod fake_platforms;
pub mod fleet;
mod generations;
mod leftovers;
pub mod outbox;
pub mod probe;
pub mod redis_cluster;
pub mod redis_server;
mod requests;
pub mod resend;
pub mod sites;
pub mod smtp;
pub mod stream;
pub mod webhooks;

use std::{
    collections::HashMap,
    future::Future,
    sync::Once,
    time::{Duration, Instant},
};

use almanac_shared::{Settings, auth::JwtKeys, db};
use sqlx::{Connection, PgConnection, PgPool, postgres::PgConnectOptions};
use tokio::task::JoinHandle;
use uuid::Uuid;

pub use fake_ai::{Behaviour, FakeAi};
pub use generations::source_text;
use leftovers::Leaves;
pub(crate) use leftovers::leftover_jobs;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// The server the tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn init_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Spans and trace propagation always; log output only with TEST_LOG.
        let format =
            std::env::var_os("TEST_LOG").map(|_| almanac_shared::config::LogFormat::Pretty);
        let guard = almanac_shared::telemetry::init("almanac-tests", format, None)
            .expect("telemetry initialises");
        // The guard lives as long as the test process.
        std::mem::forget(guard);
    });
}

/// Polls `check` until it returns `Some`, failing the test after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

pub struct TestOptions {
    pub worker: bool,
    pub fake_ai: Option<FakeAi>,
    pub env: Vec<(&'static str, String)>,
    /// Route the app's (not the test's) database connections through a chaos proxy.
    pub db_proxy: bool,
    /// Route the app's Redis connections through a chaos proxy.
    pub redis_proxy: bool,
    /// Settings of the workers only (over `env`), for a test whose API and workers differ.
    pub worker_env: Vec<(&'static str, String)>,
    /// Install and run the test-only `probe` kind (`helpers::probe`).
    pub probe: bool,
    /// A Redis of the test's own (`helpers::redis_server`) instead of the shared one.
    pub redis_url: Option<String>,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            worker: true,
            fake_ai: None,
            env: Vec::new(),
            db_proxy: false,
            redis_proxy: false,
            worker_env: Vec::new(),
            probe: false,
            redis_url: None,
        }
    }
}

pub struct TestApp {
    pub address: String,
    /// The API's `/metrics` listener.
    pub metrics_address: String,
    pub client: reqwest::Client,
    /// The owner (service-role) pool of the test database.
    pub db: PgPool,
    pub db_name: String,
    pub settings: Settings,
    pub redis: almanac_shared::redis_conn::RedisConn,
    /// The events' Redis (`EVENTS_REDIS_URL`): `redis` again unless the test names a
    /// cluster.
    pub events_redis: almanac_shared::redis_conn::RedisConn,
    /// The Redis the app uses (behind its proxy, if any).
    redis_base: String,
    pub db_proxy: Option<chaos::ChaosProxy>,
    pub redis_proxy: Option<chaos::ChaosProxy>,
    /// The queues, pushed to straight (not through the app's proxy).
    pub queue: almanac_shared::queue::JobQueue,
    /// The settings workers start with.
    worker_settings: Settings,
    /// Jobs the test leaves behind on purpose (see `Drop`).
    leaves: Leaves,
    probe: bool,
    api: JoinHandle<()>,
    /// Stops the API as SIGTERM would (`TestApp::stop_api`).
    api_stop: Option<tokio::sync::oneshot::Sender<()>>,
    replicas: Vec<JoinHandle<()>>,
    workers: Vec<Worker>,
    pub keys: JwtKeys,
    /// The API's platforms registry (its media's decodes are counted there).
    pub api_platforms: almanac_publishing::Platforms,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

/// An app whose AI provider is the real HTTP client talking to `fake`.
pub async fn spawn_app_with_ai(fake: &FakeAi) -> TestApp {
    spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        ..Default::default()
    })
    .await
}

/// An app whose AI provider is the real HTTP client talking to `fake`, with `env` set.
pub async fn spawn_app_with_ai_env(fake: &FakeAi, env: &[(&'static str, &str)]) -> TestApp {
    spawn_app_with(TestOptions {
        fake_ai: Some(fake.clone()),
        env: env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
        ..Default::default()
    })
    .await
}

/// An app whose AI provider is `fake`, with or without a worker.
pub async fn spawn_app_with_fake(fake: &FakeAi, worker: bool) -> TestApp {
    spawn_app_with(TestOptions {
        worker,
        fake_ai: Some(fake.clone()),
        ..Default::default()
    })
    .await
}

/// A fresh, migrated database of the test's own: its name and an owner pool.
pub async fn fresh_database() -> (String, PgPool) {
    let db_name = format!("almanac_test_{}", Uuid::new_v4().simple());
    let admin: PgConnectOptions = admin_url().parse().expect("DATABASE_URL parses");
    let mut conn = PgConnection::connect_with(&admin.clone().database("postgres"))
        .await
        .expect("the test Postgres server answers (see `make test`)");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "create database \"{db_name}\""
    )))
    .execute(&mut conn)
    .await
    .expect("create the test database");
    conn.close().await.ok();
    let db = PgPool::connect_with(admin.database(&db_name))
        .await
        .expect("connect to the test database");
    db::migrate(&db).await.expect("migrations apply");
    (db_name, db)
}

/// Where a test app's uploaded media lives (`MEDIA_STORE`).
pub fn media_dir(db_name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("almanac-media-{db_name}"))
}

/// A new database with every migration before the one described as `description`: the
/// database of a user who upgrades to it.
pub async fn migrated_before(description: &str) -> (String, sqlx::PgPool) {
    use sqlx::{Connection, PgConnection, PgPool, postgres::PgConnectOptions};
    let name = format!("almanac_test_{}", Uuid::new_v4().simple());
    let admin: PgConnectOptions = admin_url().parse().unwrap();
    let mut conn = PgConnection::connect_with(&admin.clone().database("postgres"))
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("create database \"{name}\"")))
        .execute(&mut conn)
        .await
        .unwrap();
    let db = PgPool::connect_with(admin.database(&name)).await.unwrap();
    let all = &almanac_shared::db::MIGRATOR;
    let before = all
        .migrations
        .iter()
        .position(|m| m.description == description)
        .expect("the migration");
    let earlier = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(all.migrations[..before].to_vec()),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    earlier.run(&db).await.unwrap();
    (name, db)
}

/// Drops a test database, whoever still uses it.
pub async fn drop_database(db_name: &str) {
    let admin: PgConnectOptions = admin_url().parse().unwrap();
    if let Ok(mut conn) = PgConnection::connect_with(&admin.database("postgres")).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "drop database if exists \"{db_name}\" with (force)"
        )))
        .execute(&mut conn)
        .await;
    }
}

/// A test app's settings before its own: its database and Redis, quick heartbeats,
/// recovery and retries, the scheduler left to the test's clock, local feeds allowed, and
/// media in a directory of the test's own.
fn test_env(
    database_url: String,
    redis_url: String,
    db_name: &str,
) -> HashMap<&'static str, String> {
    HashMap::from([
        ("DATABASE_URL", database_url),
        ("REDIS_URL", redis_url),
        (
            "REDIS_PREFIX",
            format!("t{}", &Uuid::new_v4().simple().to_string()[..12]),
        ),
        ("API_ADDR", "127.0.0.1:0".into()),
        ("WORKER_METRICS_ADDR", "127.0.0.1:0".into()),
        ("JWT_SECRET", JWT_SECRET.into()),
        ("ALMANAC_DEV", "true".into()),
        ("METRICS_ADDR", "127.0.0.1:0".into()),
        ("JOB_HEARTBEAT_MS", "100".into()),
        ("JOB_STALE_MS", "600".into()),
        ("JOB_REQUEUE_MS", "500".into()),
        ("RECONCILE_INTERVAL_MS", "100".into()),
        ("JOB_BACKOFF_BASE_MS", "20".into()),
        ("JOB_BACKOFF_MAX_MS", "100".into()),
        ("AI_RETRY_BASE_MS", "5".into()),
        ("AI_TIMEOUT_MS", "2000".into()),
        ("WORKER_CONCURRENCY", "8".into()),
        ("DATABASE_MAX_CONNECTIONS", "10".into()),
        // Tests drive the scheduler with their own clock (`scheduler::tick`).
        ("SCHEDULER_TICK_SECS", "3600".into()),
        // Feeds and pages come from local servers.
        ("FETCH_ALLOW_PRIVATE_NETWORKS", "true".into()),
        // Uploaded media in a directory of the test's own (removed with its database).
        (
            "MEDIA_STORE",
            format!("file://{}", media_dir(db_name).display()),
        ),
    ])
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    init_logs();
    let (db_name, db) = fresh_database().await;

    let proxy = if options.db_proxy {
        let admin: PgConnectOptions = admin_url().parse().unwrap();
        Some(chaos::ChaosProxy::start(format!("{}:{}", admin.get_host(), admin.get_port())).await)
    } else {
        None
    };
    let database_url = match &proxy {
        Some(proxy) => {
            let admin: PgConnectOptions = admin_url().parse().unwrap();
            format!(
                "postgres://{}@127.0.0.1:{}/{db_name}",
                admin.get_username(),
                proxy.port
            )
        }
        None => db::with_database(&admin_url(), &db_name),
    };
    let redis_base = options.redis_url.clone().unwrap_or_else(redis_url);
    let redis_proxy = if options.redis_proxy {
        let direct = redis_base.clone();
        let address = direct.trim_start_matches("redis://").trim_end_matches('/');
        Some(chaos::ChaosProxy::start(address.to_owned()).await)
    } else {
        None
    };
    let app_redis_url = match &redis_proxy {
        Some(proxy) => format!("redis://127.0.0.1:{}", proxy.port),
        None => redis_base.clone(),
    };
    let mut env = test_env(database_url, app_redis_url, &db_name);
    if let Some(fake) = &options.fake_ai {
        env.insert("AI_PROVIDER", "openai".into());
        env.insert("AI_BASE_URL", fake.base_url());
        env.insert("AI_API_KEY", "test-key".into());
        env.insert("AI_MODEL", "fake-model-1".into());
    }
    for (key, value) in &options.env {
        env.insert(key, value.clone());
    }
    let api_env = env.clone();
    let settings =
        Settings::from_lookup(move |k| api_env.get(k).cloned()).expect("test settings are valid");
    for (key, value) in &options.worker_env {
        env.insert(key, value.clone());
    }
    let worker_settings = Settings::from_lookup(move |k| env.get(k).cloned())
        .expect("test worker settings are valid");

    let api_platforms = platforms(&settings);
    let api = almanac_api::Application::build_with(settings.clone(), api_platforms.clone())
        .await
        .expect("API builds");
    let address = format!("http://127.0.0.1:{}", api.port());
    let metrics_address = format!("http://127.0.0.1:{}", api.metrics_port());
    // The workers' links and media addresses name the API, as a deployment's name the
    // address people reach (`PUBLIC_BASE_URL`).
    let mut worker_settings = worker_settings;
    if worker_settings.publish.redirect_base_is_api_addr {
        worker_settings.publish.redirect_base_url = address.clone();
    }
    let (api_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let api = tokio::spawn(async move {
        api.run_until_stopped(async move {
            let _ = stopped.await;
        })
        .await
        .expect("API runs");
    });
    // The test's own connection goes straight to Redis, whatever the app's proxy does.
    let redis: almanac_shared::redis_conn::RedisConn =
        redis::aio::ConnectionManager::new(redis::Client::open(redis_base.clone()).unwrap())
            .await
            .expect("Redis answers")
            .into();
    let events_redis = if settings.events.redis.is_cluster() {
        almanac_shared::redis_conn::RedisConn::events(&settings, &redis)
            .await
            .expect("the events' cluster answers")
    } else {
        redis.clone()
    };
    let queue = almanac_shared::queue::JobQueue::new(&settings, redis.clone());
    let mut app = TestApp {
        address,
        metrics_address,
        client: reqwest::Client::new(),
        db,
        db_name,
        keys: JwtKeys::new(JWT_SECRET),
        settings,
        worker_settings,
        leaves: Leaves::default(),
        probe: options.probe,
        queue,
        redis,
        events_redis,
        redis_base,
        db_proxy: proxy,
        redis_proxy,
        api,
        api_stop: Some(api_stop),
        replicas: Vec::new(),
        workers: Vec::new(),
        api_platforms,
    };
    if options.probe {
        app.install_probe_kind().await;
    }
    if options.worker {
        app.start_worker().await;
    }
    app
}

/// The publishing platforms `settings` turn on.
fn platforms(settings: &Settings) -> almanac_publishing::Platforms {
    almanac_publishing::Platforms::new(settings).expect("platforms build")
}

struct Worker {
    task: JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    context: std::sync::Arc<almanac_worker::job::JobContext>,
}

impl TestApp {
    /// Waits until no job is pending or running (runs, and the emails they fanned out to).
    pub async fn jobs_settled(&self) {
        eventually(Duration::from_secs(20), "every job to end", || async {
            let open: i64 = sqlx::query_scalar(
                "select count(*) from jobs where status in ('pending', 'running')",
            )
            .fetch_one(&self.db)
            .await
            .unwrap();
            (open == 0).then_some(())
        })
        .await;
    }

    /// Starts one more worker process-equivalent (its own name, pool and connections).
    pub async fn start_worker(&mut self) -> usize {
        self.start_worker_with(self.worker_settings.clone()).await
    }

    /// Starts one more worker with settings of its own (a flag toggled, say).
    pub async fn start_worker_with(&mut self, settings: Settings) -> usize {
        let mut services =
            almanac_worker::Services::from_settings(&settings).expect("worker services build");
        if self.probe {
            services.registry = services.registry.register::<probe::ProbeJob>();
        }
        services.platforms = platforms(&settings);
        let worker = almanac_worker::Application::build_with(settings, services)
            .await
            .expect("worker builds");
        let context = worker.context();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            worker
                .run_until_stopped(shutdown)
                .await
                .expect("worker runs");
        });
        self.workers.push(Worker {
            task,
            stop: Some(stop),
            context,
        });
        self.workers.len() - 1
    }

    /// Starts another API process-equivalent on the same database and Redis; returns its
    /// base address.
    /// Stops the API as SIGTERM would: it stops accepting and closes its connections, so a
    /// client (a browser) finds nobody at the address.
    pub async fn stop_api(&mut self) {
        if let Some(stop) = self.api_stop.take() {
            let _ = stop.send(());
        }
        (&mut self.api).await.expect("the API stops");
    }

    pub async fn start_api_replica(&mut self) -> String {
        self.start_api_replica_with(self.settings.clone()).await
    }

    /// Starts another API on the same database and Redis with other settings (a feature
    /// flag toggled, say); returns its base address.
    pub async fn start_api_replica_with(&mut self, settings: Settings) -> String {
        let platforms = platforms(&settings);
        let replica = almanac_api::Application::build_with(settings, platforms)
            .await
            .expect("API replica builds");
        let address = format!("http://127.0.0.1:{}", replica.port());
        self.replicas.push(tokio::spawn(async move {
            replica
                .run_until_stopped(std::future::pending())
                .await
                .expect("API replica runs");
        }));
        address
    }

    /// What a running worker's jobs see (to drive its scheduler with a test clock).
    pub fn worker_context(&self, index: usize) -> std::sync::Arc<almanac_worker::job::JobContext> {
        self.workers[index].context.clone()
    }

    /// Kills a worker without letting it finish anything, as a crash would.
    pub fn kill_worker(&mut self, index: usize) {
        self.workers[index].task.abort();
    }

    /// Sends a worker its shutdown signal (SIGTERM) and waits until it has stopped.
    pub async fn stop_worker(&mut self, index: usize) {
        if let Some(stop) = self.workers[index].stop.take() {
            let _ = stop.send(());
        }
        (&mut self.workers[index].task)
            .await
            .expect("worker stops cleanly");
    }

    /// Deletes every Redis key of this app's prefix, as a Redis restart without persistence would.
    pub async fn flush_redis(&self) {
        delete_keys(&mut self.redis.clone(), &self.settings.redis_prefix)
            .await
            .unwrap();
        if let almanac_shared::config::EventsRedis::Cluster(nodes) = &self.settings.events.redis {
            let urls: Vec<String> = nodes.iter().map(|url| url.expose().to_owned()).collect();
            redis_cluster::flush(&urls, &self.settings.redis_prefix).await;
        }
    }
}

/// Deletes every key that starts with `prefix`.
async fn delete_keys(
    conn: &mut impl redis::aio::ConnectionLike,
    prefix: &str,
) -> redis::RedisResult<()> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(conn)
        .await?;
    if !keys.is_empty() {
        redis::cmd("DEL")
            .arg(&keys)
            .query_async::<i64>(conn)
            .await?;
    }
    Ok(())
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.api.abort();
        for replica in &self.replicas {
            replica.abort();
        }
        for worker in &self.workers {
            worker.task.abort();
        }
        let db_name = self.db_name.clone();
        let prefix = self.settings.redis_prefix.clone();
        let redis_base = self.redis_base.clone();
        let forbidden = self.forbidden_leftovers();
        // Async clean-up cannot run in Drop; a short-lived runtime on its own thread does it.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let leftovers = leftover_jobs(&db_name, &forbidden).await;
                drop_database(&db_name).await;
                let _ = std::fs::remove_dir_all(media_dir(&db_name));
                if let Ok(client) = redis::Client::open(redis_base)
                    && let Ok(mut conn) = client.get_multiplexed_async_connection().await
                {
                    let _ = delete_keys(&mut conn, &prefix).await;
                }
                leftovers
            })
        });
        let leftovers = cleanup.join().unwrap_or_default();
        if !leftovers.is_empty() && !std::thread::panicking() {
            panic!(
                "the test left jobs behind (call expect_failed_jobs or expect_unfinished_jobs if it means to):\n{}",
                leftovers.join("\n")
            );
        }
    }
}
