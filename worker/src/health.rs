//! The worker's own HTTP listener: `/healthz` (alive), `/readyz` (Postgres, the queues'
//! Redis and the events' Redis answer) and `/metrics`.

use std::{sync::Arc, time::Duration};

use almanac_shared::telemetry;
use poem::{EndpointExt, Route, get, handler, listener::TcpAcceptor, web::Data as PoemData};
use tokio_util::sync::CancellationToken;

use crate::job::JobContext;

#[handler]
fn healthz() -> &'static str {
    "ok"
}

/// Postgres, the queues' Redis and the events' Redis (`EVENTS_REDIS_URL`, the same one
/// unless it says otherwise) answer within a second each: what a rollout waits for before
/// it replaces the next worker.
#[handler]
async fn readyz(ctx: PoemData<&Arc<JobContext>>) -> poem::Response {
    let limit = Duration::from_secs(1);
    let postgres = tokio::time::timeout(limit, almanac_shared::store::ping(&ctx.pool));
    let redis = tokio::time::timeout(limit, ctx.redis.ping());
    let events = tokio::time::timeout(limit, ctx.emitter.ping());
    match tokio::join!(postgres, redis, events) {
        (Ok(Ok(())), Ok(Ok(())), Ok(Ok(()))) => poem::Response::builder().body("ok"),
        _ => poem::Response::builder()
            .status(poem::http::StatusCode::SERVICE_UNAVAILABLE)
            .body("unavailable"),
    }
}

/// `/metrics`, `/healthz` and `/readyz` on `WORKER_METRICS_ADDR`.
pub(crate) async fn serve_metrics(
    acceptor: TcpAcceptor,
    ctx: Arc<JobContext>,
    stop: CancellationToken,
) {
    let routes = Route::new()
        .at("/healthz", get(healthz))
        .at("/readyz", get(readyz.data(ctx)));
    telemetry::serve_metrics(acceptor, routes, stop).await;
}
