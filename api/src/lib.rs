//! Almanac's HTTP API: authentication, validation, rate limits, and the job-creating and
//! reading endpoints. `main.rs` only parses the command line; everything runs from here so
//! tests can start the API in-process on port 0.
#![expect(
    clippy::result_large_err,
    reason = "ApiError carries the JSON envelope; errors are the cold path of a request, so boxing buys nothing"
)]

pub mod auth;
pub mod body;
pub mod envelope;
pub mod error;
pub mod flags_cli;
pub mod idempotency;
pub mod middleware;
pub mod nullable;
pub mod rate_limit;
pub mod relay;
pub mod routes;
pub mod server;
pub mod state;
pub mod text;
pub mod web;

use std::{future::Future, sync::Arc, time::Duration};

use almanac_shared::{Settings, auth::JwtKeys, db, events, flags::Flags, queue, telemetry};
use anyhow::Context;
use poem::{EndpointExt, Route, get, handler, web::Data};
use poem_openapi::OpenApiService;

use crate::{
    routes::{
        admin::AdminApi,
        calendar_generation::CalendarGenerationApi,
        cards::CardsApi,
        generations::GenerationsApi,
        health::HealthApi,
        jobs::JobsApi,
        organic::{OrganicBrandsApi, OrganicGenerateApi, OrganicLibraryApi, OrganicWeeksApi},
        publishing::{ChannelsApi, PublishApi},
        saved_calendars::SavedCalendarsApi,
        schedules::SchedulesApi,
        suggestions::SuggestionsApi,
        themes::ThemesApi,
        usage::UsageApi,
    },
    state::AppState,
};

pub type Apis = (
    HealthApi,
    GenerationsApi,
    SuggestionsApi,
    CardsApi,
    JobsApi,
    CalendarGenerationApi,
    SavedCalendarsApi,
    ThemesApi,
    SchedulesApi,
    OrganicBrandsApi,
    OrganicLibraryApi,
    OrganicGenerateApi,
    OrganicWeeksApi,
    ChannelsApi,
    PublishApi,
    (AdminApi, UsageApi),
);

/// The OpenAPI service: the source of `/openapi.json` and `docs/api/openapi.yaml`.
pub fn openapi_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (
            HealthApi,
            GenerationsApi,
            SuggestionsApi,
            CardsApi,
            JobsApi,
            CalendarGenerationApi,
            SavedCalendarsApi,
            ThemesApi,
            SchedulesApi,
            OrganicBrandsApi,
            OrganicLibraryApi,
            OrganicGenerateApi,
            OrganicWeeksApi,
            ChannelsApi,
            PublishApi,
            (AdminApi, UsageApi),
        ),
        "Almanac API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "Almanac runs AI content work: submit a job, then poll it or stream its progress. \
         Authenticate with `Authorization: Bearer <JWT>` (HS256, `aud = authenticated`). \
         Errors are JSON: `{\"data\": null, \"error\": {\"code\", \"message\", \"details\"?}, \
         \"meta\": {\"requestId\"}}`.",
    )
}

pub fn openapi_yaml() -> String {
    openapi_service().spec_yaml()
}

#[handler]
fn metrics(state: Data<&AppState>) -> String {
    state.metrics.render()
}

/// Every route with its middleware.
pub fn endpoint(state: AppState) -> impl poem::Endpoint {
    let api = openapi_service();
    let docs = api.swagger_ui();
    let spec = api.spec_endpoint();
    let origins = &state.settings.cors_allowed_origins;
    let cors_enabled = !origins.is_empty();
    let cors = cors(origins);
    web::WithApp(web::routes(
        Route::new()
            .nest("/", api)
            .nest("/docs", docs)
            .at("/openapi.json", spec)
            .at("/metrics", get(metrics)),
    ))
    .around(middleware::around)
    .with_if(cors_enabled, cors)
    .data(state)
}

/// Cross-origin access for browsers on `CORS_ALLOWED_ORIGINS` (`*` for any); applied
/// only when the list is not empty.
fn cors(origins: &[String]) -> poem::middleware::Cors {
    let cors = poem::middleware::Cors::new()
        .allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allow_headers([
            "authorization",
            "content-type",
            "idempotency-key",
            "last-event-id",
            "x-request-id",
            "traceparent",
        ])
        .expose_headers(["x-request-id", "retry-after"])
        .max_age(600);
    if origins.iter().any(|o| o == "*") {
        cors
    } else {
        cors.allow_origins(origins.iter().map(String::as_str))
    }
}

pub struct Application {
    listener: tokio::net::TcpListener,
    port: u16,
    state: AppState,
}

impl Application {
    /// Binds the listener (port 0 picks a free port) and connects to Redis. Postgres is
    /// connected lazily, so the API starts and answers 503 while the database is down.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let pool = db::pool(&settings, settings.database_acquire_timeout)?;
        let redis = almanac_shared::redis_conn::RedisConn::connect(&settings).await?;
        let flags = Flags::new(&settings);
        flags.load_at_start(&pool).await;
        telemetry::record_process_start("almanac-api");
        let state = AppState {
            flags,
            platforms: almanac_shared::publish::Platforms::new(&settings.publish)?,
            cipher: settings
                .publish
                .token_key
                .as_ref()
                .map(almanac_shared::publish::crypto::TokenCipher::new),
            queue: queue::JobQueue::new(&settings, redis.clone()),
            hub: relay::Hub::new(settings.events.relay_buffer),
            emitter: events::Emitter::new(&settings, redis.clone()),
            jwt: JwtKeys::new(settings.jwt_secret.expose()),
            metrics: telemetry::metrics_handle(),
            settings: Arc::new(settings),
            pool,
            redis,
        };
        let listener = tokio::net::TcpListener::bind(state.settings.api_addr)
            .await
            .with_context(|| format!("binding API_ADDR {}", state.settings.api_addr))?;
        let port = listener
            .local_addr()
            .context("reading the bound port")?
            .port();
        Ok(Self {
            listener,
            port,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (10 s at most).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(port = self.port, "API listening");
        // The relay lives exactly as long as the server.
        let _relay = almanac_shared::shutdown::AbortOnDrop(tokio::spawn(
            self.state
                .hub
                .clone()
                .run(self.state.settings.clone(), self.state.pool.clone()),
        ));
        // The flags are kept current as long as the server runs.
        let _flags =
            almanac_shared::shutdown::AbortOnDrop(tokio::spawn(self.state.flags.clone().run(
                self.state.pool.clone(),
                self.state.settings.flags_refresh,
                tokio_util::sync::CancellationToken::new(),
            )));
        let hub = self.state.hub.clone();
        server::serve(
            self.listener,
            endpoint(self.state).map_to_response().boxed(),
            shutdown,
            move || hub.close(),
            Duration::from_secs(10),
        )
        .await;
        Ok(())
    }
}
