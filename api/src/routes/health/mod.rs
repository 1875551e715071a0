//! Liveness and readiness.

mod dto;

pub use dto::*;

use std::time::Duration;

use poem::web::Data;
use poem_openapi::{OpenApi, payload::Json};

use super::Tag;
use crate::state::AppState;

const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct HealthApi;

#[OpenApi(tag = "Tag::Operations")]
impl HealthApi {
    /// The process is up.
    #[oai(path = "/healthz", method = "get", operation_id = "healthz")]
    async fn healthz(&self) -> Json<Health> {
        Json(Health {
            status: "ok".into(),
            postgres: None,
            redis: None,
        })
    }

    /// Postgres and Redis are reachable.
    #[oai(path = "/readyz", method = "get", operation_id = "readyz")]
    async fn readyz(&self, state: Data<&AppState>) -> ReadyResponse {
        let (postgres, redis) = tokio::join!(check_postgres(&state), check_redis(&state));
        let health = Health {
            status: if postgres && redis {
                "ok"
            } else {
                "unavailable"
            }
            .into(),
            postgres: Some(postgres),
            redis: Some(redis),
        };
        if postgres && redis {
            ReadyResponse::Ready(Json(health))
        } else {
            ReadyResponse::NotReady(Json(health))
        }
    }
}

pub async fn check_postgres(state: &AppState) -> bool {
    let query = almanac_shared::store::ping(&state.pool);
    matches!(tokio::time::timeout(CHECK_TIMEOUT, query).await, Ok(Ok(_)))
}

/// Both Redis: the queues' and the events' (the same one unless `EVENTS_REDIS_URL` says).
pub async fn check_redis(state: &AppState) -> bool {
    let ping = async |conn: &almanac_shared::redis_conn::RedisConn| {
        matches!(
            tokio::time::timeout(CHECK_TIMEOUT, conn.ping()).await,
            Ok(Ok(()))
        )
    };
    let (queues, events) = tokio::join!(ping(&state.redis), ping(&state.events_redis));
    queues && events
}
