//! The API's state, built once at start-up and shared by every handler.

use std::sync::Arc;

use almanac_shared::{
    Settings, auth::JwtKeys, domain::generation::GenerationJob, events::Emitter,
    jobs::JobPayload as _, queue::JobQueue,
};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    /// `REDIS_URL`: the job queues, cancellations and the publish spool.
    pub redis: almanac_shared::redis_conn::RedisConn,
    /// `EVENTS_REDIS_URL` (the same connection when it names the same server): event
    /// streams and rate limits.
    pub events_redis: almanac_shared::redis_conn::RedisConn,
    pub queue: JobQueue,
    pub jwt: JwtKeys,
    /// Where the web app lives: whose pages may use a browser session.
    pub web: crate::origin::WebOrigin,
    pub metrics: PrometheusHandle,
    /// Fans job events out to this process's streams.
    pub hub: crate::relay::Hub,
    pub emitter: Emitter,
    /// The publishing adapters and OAuth (seed 001).
    pub platforms: almanac_publishing::Platforms,
    /// The runtime feature flags, kept current from Postgres.
    pub flags: almanac_shared::flags::Flags,
    /// Seals and opens channels' tokens and webhooks' secrets; none without
    /// `TOKEN_ENCRYPTION_KEY`.
    pub cipher: Option<almanac_shared::crypto::TokenCipher>,
    /// Users' addresses, noted from their tokens.
    pub contacts: crate::contacts::Contacts,
    /// Generation requests, written several a statement under load.
    pub submissions: Submissions,
    /// The workspaces' activity, written several changes a statement under load.
    pub activity: Activity,
    /// Sends what people sign in with (`EMAIL_*`).
    pub mailer: std::sync::Arc<dyn almanac_shared::email::Mailer>,
    /// Sends the sign-in links asked for, away from the requests.
    pub postman: almanac_shared::sign_in::Postman,
    /// Single sign-on, when `OIDC_*` are set.
    pub oidc: Option<almanac_shared::oidc::Oidc>,
}

/// Generation requests, each answered with nothing (written) or the earlier answer its
/// key got meanwhile ([`almanac_shared::store::generations::create`]).
pub type Submissions = almanac_shared::gather::Gather<
    almanac_shared::store::generations::Submission,
    almanac_shared::gather::Gathered<Option<almanac_shared::store::idempotency::Earlier>>,
>;

/// Starts the task that writes generation requests, at most `most` a statement, as they
/// arrive while the statement before runs. Must be called inside a Tokio runtime.
pub fn submissions(pool: &PgPool, most: usize) -> Submissions {
    use almanac_shared::{gather, store::generations, trips::Step};
    gather::statements(
        pool,
        most,
        "writing generation requests",
        (GenerationJob::KIND.into(), Step::Submit),
        |pool, submissions| Box::pin(generations::create(pool, submissions)),
    )
}

/// The changes of concurrent requests, recorded together (`crate::middleware::activity`).
pub type Activity = almanac_shared::gather::Gather<
    almanac_shared::store::activity::NewActivity,
    almanac_shared::gather::Gathered<()>,
>;

/// Starts the task that records the workspaces' activity, at most `most` changes a
/// statement, as they arrive while the statement before runs. Must be called inside a Tokio
/// runtime.
pub fn activity(pool: &PgPool, most: usize) -> Activity {
    use almanac_shared::{gather, store::activity};
    let pool = pool.clone();
    gather::Gather::start(most, move |changes: Vec<activity::NewActivity>| {
        let pool = pool.clone();
        async move {
            gather::together_or_alone(&changes, "recording activity", |changes| {
                let pool = pool.clone();
                Box::pin(async move { activity::record(&pool, changes).await })
            })
            .await
        }
    })
}

impl AppState {
    /// The cipher, or 503 `TOKEN_STORE_UNCONFIGURED` saying that what `cannot` names cannot
    /// be done without `TOKEN_ENCRYPTION_KEY`.
    pub fn cipher_or(
        &self,
        cannot: &str,
    ) -> crate::error::ApiResult<&almanac_shared::crypto::TokenCipher> {
        use crate::error::{ApiError, ErrorEnvelope, UNAVAILABLE_RETRY_SECS};
        self.cipher.as_ref().ok_or_else(|| {
            ApiError::Unavailable(
                ErrorEnvelope::new(
                    "TOKEN_STORE_UNCONFIGURED",
                    format!("{cannot}: the server has no TOKEN_ENCRYPTION_KEY"),
                    None,
                ),
                UNAVAILABLE_RETRY_SECS,
            )
        })
    }

    /// What a job's event stream keeps of the state while it lives.
    pub fn relay_deps(&self) -> crate::relay::Deps {
        crate::relay::Deps {
            settings: self.settings.clone(),
            redis: self.events_redis.clone(),
            pool: self.pool.clone(),
            hub: self.hub.clone(),
        }
    }
}
