//! The MCP server at `/mcp` (`docs/mcp.md`): the Model Context Protocol over Streamable HTTP
//! (the `rmcp` crate) in its stateless mode, so that no session lives in one process's
//! memory and any API replica answers any request; each POST's answer streams the tool's
//! progress notifications, then its result.
//!
//! Every request carries the caller's own credentials, an API key (`alm_…`) or a JWT
//! (401 otherwise). A tool does its work by calling this API's own operations in-process
//! with those credentials ([`api::Api`]), so it meets exactly the API's validation,
//! row-level security, rate limits, idempotency and the key's scopes. A tool checks every
//! scope its calls need before the first (a key short of one gets the API's 403
//! `INSUFFICIENT_SCOPE`, and nothing is done). The tools are [`catalogue`] and [`tools`]; a
//! publish's receipt [`receipt`].

mod api;
mod catalogue;
mod progress;
mod receipt;
mod schemas;
mod server;
mod tools;

use std::{io, sync::Arc};

use almanac_shared::api_keys::is_key;
use bytes::Bytes;
use http_body_util::{BodyExt, combinators::BoxBody};
use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use tower_service::Service;

use crate::{error::ApiError, middleware::keys, state::AppState};

pub use api::ApiHandle;

/// Where the server answers.
pub use crate::route_table::MCP_PATH as PATH;

/// Who called: the credentials each tool's calls to the API carry (no `Debug`: a key must
/// never reach a log line).
#[derive(Clone)]
pub(crate) struct Caller {
    pub(crate) authorization: HeaderValue,
    /// The MCP request's id: the API calls a tool makes carry it, so that their log lines
    /// read as one request's.
    pub(crate) request_id: String,
    /// An API key's scopes; `None` for a JWT, which has them all. A tool checks them all
    /// before its first call (`tools::call`), so that a key short of one does nothing.
    pub(crate) scopes: Option<Vec<String>>,
    /// The `Almanac-Workspace` the MCP request named (a JWT's choice; a key acts in its own
    /// workspace whatever it says): every call a tool makes carries it.
    pub(crate) workspace: Option<HeaderValue>,
}

/// `/mcp`: the caller authenticated, then the MCP transport.
pub struct Mcp {
    state: AppState,
    service: StreamableHttpService<server::Server, LocalSessionManager>,
}

impl Mcp {
    /// The server; `api` is filled with the whole API once it is built (the tools call it).
    pub fn new(state: AppState, api: ApiHandle) -> Self {
        let server = server::Server::new(state.clone(), api);
        let config = StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_sse_keep_alive(Some(std::time::Duration::from_secs(
                state.settings.events.heartbeat.as_secs().max(1),
            )))
            // rmcp's Host check guards servers that trust whoever reaches them (DNS
            // rebinding); this one trusts only the credentials each request carries, and
            // PUBLIC_BASE_URL names no list of hosts.
            .disable_allowed_hosts();
        let service = StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        Self { state, service }
    }
}

impl Endpoint for Mcp {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let caller = authenticate(&self.state, &req).await?;
        req.extensions_mut().insert(caller);
        let request: http::Request<BoxBody<Bytes, io::Error>> = req.into();
        let mut service = self.service.clone();
        let answer = match service.call(request).await {
            Ok(answer) => answer,
            Err(never) => match never {},
        };
        let (parts, body) = answer.into_parts();
        let body = body.map_err(|never: std::convert::Infallible| -> io::Error { match never {} });
        Ok(http::Response::from_parts(parts, body).into())
    }
}

/// The caller's bearer: a live API key (looked up as the API's own check does) or a valid
/// JWT. Scopes are the API's to judge, call by call.
async fn authenticate(state: &AppState, req: &Request) -> poem::Result<Caller> {
    let live = match keys::bearer(req) {
        Some(key) if is_key(key) => keys::live(state, key)
            .await?
            .map(|holder| Some(holder.scopes)),
        Some(jwt) => state.jwt.verify(jwt).is_ok().then_some(None),
        None => None,
    };
    match (req.headers().get(header::AUTHORIZATION), live) {
        (Some(authorization), Some(scopes)) => Ok(Caller {
            authorization: authorization.clone(),
            request_id: crate::envelope::current_request_id(),
            scopes,
            workspace: req
                .headers()
                .get(crate::middleware::workspace::HEADER)
                .cloned(),
        }),
        _ => Err(refused()),
    }
}

fn refused() -> poem::Error {
    let mut answer = ApiError::unauthorized(
        "the MCP server needs Authorization: Bearer with an Almanac API key (alm_…) or a JWT",
    )
    .into_response();
    answer.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"almanac\""),
    );
    answer.set_status(StatusCode::UNAUTHORIZED);
    poem::Error::from_response(answer)
}
