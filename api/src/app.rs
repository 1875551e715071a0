//! The API process: its routes with their middleware ([`endpoint`]) and the
//! [`Application`] that binds its listeners, connects to Redis and Postgres, and serves.

use std::{future::Future, sync::Arc, time::Duration};

use almanac_shared::{Settings, auth::JwtKeys, db, events, flags::Flags, queue, telemetry};
use anyhow::Context;
use poem::{EndpointExt, Route, get, handler, web::Data};
use poem_openapi::OpenApiService;

use crate::{
    contract::{self, Apis, openapi_service},
    mcp, middleware, origin, relay, server, state,
    state::AppState,
    web,
};

/// At most this many generation requests are written by one statement (those that arrive
/// while the statement before runs).
const SUBMISSIONS_A_STATEMENT: usize = 64;

/// `/docs`: Swagger UI over the finished document.
fn docs_page(api: &OpenApiService<Apis, ()>) -> impl poem::Endpoint + use<> {
    let page = api
        .swagger_ui_html()
        .replacen(&api.spec(), contract::json(), 1);
    poem::endpoint::make_sync(move |_| poem::web::Html(page.clone()))
}

/// `/metrics` on the API's own port: only with `METRICS_TOKEN` as the bearer token (the
/// route exists only when the token is set). Digests are compared, so the comparison's
/// time says nothing about the token.
#[handler]
fn metrics_with_token(req: &poem::Request, state: Data<&AppState>) -> poem::Response {
    use sha2::{Digest, Sha256};
    let given = middleware::keys::bearer(req).unwrap_or_default();
    let expected = state.settings.metrics_token.as_ref().map(|t| t.expose());
    if expected.is_some_and(|t| Sha256::digest(t) == Sha256::digest(given)) {
        poem::Response::builder()
            .content_type("text/plain; version=0.0.4")
            .body(state.metrics.render())
    } else {
        poem::Response::builder()
            .status(poem::http::StatusCode::UNAUTHORIZED)
            .header(poem::http::header::WWW_AUTHENTICATE, "Bearer")
            .body("`/metrics` on this port needs METRICS_TOKEN as the bearer token")
    }
}

/// Every route with its middleware. The MCP server at `/mcp` calls this whole endpoint
/// back for its tools (`crate::mcp`), so it is built, then handed to the server.
pub fn endpoint(state: AppState) -> Arc<poem::endpoint::BoxEndpoint<'static, poem::Response>> {
    let handle = mcp::ApiHandle::default();
    let api = openapi_service();
    let docs = docs_page(&api);
    let spec = poem::endpoint::make_sync(|_| {
        poem::Response::builder()
            .content_type("application/json")
            .body(contract::json())
    });
    let origins = &state.settings.cors_allowed_origins;
    let cors_enabled = !origins.is_empty();
    // The app's own pages send `Origin` on their writes: never refused as cross-origin.
    let origins: Vec<String> = origins.iter().chain(state.web.origins()).cloned().collect();
    let cors = cors(&origins);
    let mut routes = Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/openapi.json", get(spec))
        .at(mcp::PATH, mcp::Mcp::new(state.clone(), handle.clone()));
    if state.settings.metrics_token.is_some() {
        routes = routes.at("/metrics", get(metrics_with_token));
    }
    // The platforms' fakes: only a build with the `sandbox` feature has them (without it,
    // `PLATFORM_SANDBOX=true` stops the API before this: `Platforms::new`).
    #[cfg(feature = "sandbox")]
    if let Some(base) = &state.settings.publish.sandbox {
        use almanac_publishing::sandbox::serve::{PREFIX, Sandbox};
        routes = routes.nest(PREFIX, Sandbox::new(base));
    }
    let whole = web::WithApp(web::routes(routes))
        .around(middleware::prefer::bulk)
        .around(middleware::workspace::select)
        .around(middleware::session::accept)
        .around(middleware::admin::accept)
        .around(middleware::keys::accept)
        // poem-openapi reads the session scheme's cookie from the jar this fills.
        .with(poem::middleware::CookieJarManager::new())
        .around(middleware::around)
        .with_if(cors_enabled, cors)
        .data(state)
        .map_to_response()
        .boxed();
    let whole = Arc::new(whole);
    handle.set(&whole);
    whole
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
            "prefer",
            "x-request-id",
            "traceparent",
            "almanac-workspace",
            "if-match",
        ])
        .expose_headers(["x-request-id", "retry-after", "preference-applied", "etag"])
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
    metrics: poem::listener::TcpAcceptor,
    metrics_port: u16,
    state: AppState,
}

impl Application {
    /// Binds the listener (port 0 picks a free port) and connects to Redis. Postgres is
    /// connected lazily, so the API starts and answers 503 while the database is down.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let platforms = almanac_publishing::Platforms::new(&settings)?;
        Self::build_with(settings, platforms).await
    }

    /// [`Application::build`] with a registry of platforms of the caller's (the tests add
    /// one). The registry fills the `platforms` table at start.
    pub async fn build_with(
        mut settings: Settings,
        platforms: almanac_publishing::Platforms,
    ) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(settings.api_addr)
            .await
            .with_context(|| format!("binding API_ADDR {}", settings.api_addr))?;
        let bound = listener.local_addr().context("reading the bound port")?;
        if settings.publish.redirect_base_is_api_addr {
            settings.publish.redirect_base_url = format!("http://{bound}");
        }
        let web = match &settings.public_base_url {
            Some(url) => origin::WebOrigin::new(url, false)?,
            None => origin::WebOrigin::new(&settings.publish.redirect_base_url, true)?,
        };
        let (metrics, metrics_port) =
            telemetry::bind_metrics(settings.metrics_addr, "METRICS_ADDR").await?;
        let pool = db::pool(&settings, settings.database_acquire_timeout)?;
        let redis = almanac_shared::redis_conn::RedisConn::connect(&settings).await?;
        let events_redis = almanac_shared::redis_conn::RedisConn::events(&settings, &redis).await?;
        let flags = Flags::new(&settings);
        flags.load_at_start(&pool).await;
        platforms.register_at_start(&pool).await;
        telemetry::record_process_start("almanac-api");
        // Media addresses name the address people reach (known once bound).
        let platforms = platforms.served_from(settings.app_base_url());
        let oidc = settings
            .sign_in
            .oidc
            .clone()
            .map(|oidc| {
                let callback = format!(
                    "{}{}",
                    settings.app_base_url(),
                    crate::sign_in::sso::CALLBACK
                );
                almanac_shared::oidc::Oidc::new(
                    oidc,
                    callback,
                    settings.fetch.allow_private_networks,
                )
            })
            .transpose()?;
        let state = AppState {
            mailer: almanac_shared::email::from_settings(&settings)?,
            postman: Default::default(),
            oidc,
            flags,
            platforms,
            cipher: settings
                .publish
                .token_key
                .as_ref()
                .map(almanac_shared::crypto::TokenCipher::new),
            queue: queue::JobQueue::new(&settings, redis.clone()),
            hub: relay::Hub::new(settings.events.relay_buffer),
            emitter: events::Emitter::new(&settings, events_redis.clone()),
            jwt: JwtKeys::new(settings.jwt_secret.expose()),
            web,
            metrics: telemetry::metrics_handle(),
            submissions: state::submissions(&pool, SUBMISSIONS_A_STATEMENT),
            activity: state::activity(&pool, SUBMISSIONS_A_STATEMENT),
            settings: Arc::new(settings),
            pool,
            redis,
            events_redis,
            contacts: Default::default(),
        };
        Ok(Self {
            listener,
            port: bound.port(),
            metrics,
            metrics_port,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the `/metrics` listener (`METRICS_ADDR`).
    pub fn metrics_port(&self) -> u16 {
        self.metrics_port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish (10 s at most).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(
            port = self.port,
            metrics_port = self.metrics_port,
            ai.provider = self.state.settings.ai.provider.as_str(),
            "API listening"
        );
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
        // Sign-in links are sent as long as the server runs.
        let _postman =
            almanac_shared::shutdown::AbortOnDrop(tokio::spawn(self.state.postman.clone().run(
                self.state.settings.clone(),
                self.state.pool.clone(),
                self.state.mailer.clone(),
            )));
        let metrics_stop = tokio_util::sync::CancellationToken::new();
        let _metrics = almanac_shared::shutdown::AbortOnDrop(tokio::spawn(
            almanac_shared::telemetry::serve_metrics(
                self.metrics,
                poem::Route::new(),
                metrics_stop.clone(),
            ),
        ));
        let _stop_metrics = metrics_stop.drop_guard();
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
