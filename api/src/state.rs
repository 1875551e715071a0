//! The API's state, built once at start-up and shared by every handler.

use std::sync::Arc;

use almanac_shared::{Settings, auth::JwtKeys, events::Emitter, queue::JobQueue};
use metrics_exporter_prometheus::PrometheusHandle;
use sqlx::PgPool;

#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    pub redis: almanac_shared::redis_conn::RedisConn,
    pub queue: JobQueue,
    pub jwt: JwtKeys,
    pub metrics: PrometheusHandle,
    /// Fans job events out to this process's streams.
    pub hub: crate::relay::Hub,
    pub emitter: Emitter,
}
