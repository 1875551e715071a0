//! API keys, accepted: a request whose bearer token is an `alm_…` key is refused where keys
//! are never taken (`crate::scopes::refuses_keys`), then its key looked up (live: neither
//! deleted nor expired) and held to the scope its operation names in the OpenAPI
//! document (`x-almanac-scope`, read through the route table). The owner goes with the
//! request ([`KeyUser`]) for the `ApiKeyAuth` security scheme. Every API process looks the
//! key up in Postgres, with its maker's membership of the key's workspace, so a deleted
//! key, or a removed member's, is refused everywhere as soon as the change answered.

use almanac_shared::{
    api_keys::{KEY_PREFIX, Scope, digest, is_key},
    store::api_keys::{self, Holder},
};
use poem::{Endpoint, IntoResponse, Request, Response};

use crate::{
    auth::{AuthUser, KeyUser},
    error::ApiError,
    route_table::route,
    scopes::refuses_keys,
    state::AppState,
};

/// The code of a call outside its key's scopes.
pub const INSUFFICIENT_SCOPE: &str = "INSUFFICIENT_SCOPE";

pub(crate) use crate::auth::bearer;

/// 403 `INSUFFICIENT_SCOPE`: the key lacks `needed` (counted).
pub(crate) fn short_of(needed: Scope) -> ApiError {
    metrics::counter!("api_keys_refused_total", "reason" => "scope").increment(1);
    ApiError::forbidden(
        INSUFFICIENT_SCOPE,
        format!(
            "this API key may not do this: it needs the `{}` scope",
            needed.as_str()
        ),
        Some(serde_json::json!({ "scope": needed.as_str() })),
    )
}

/// The key a request's bearer is, if it is one (or looks like one: `alm_` and anything).
fn bearer_key(req: &Request) -> Option<&str> {
    bearer(req).filter(|token| token.starts_with(KEY_PREFIX))
}

/// Whose live key (neither deleted nor expired) `key` is, if it is one.
pub(crate) async fn live(state: &AppState, key: &str) -> Result<Option<Holder>, ApiError> {
    if !is_key(key) {
        return Ok(None);
    }
    Ok(api_keys::holder(&state.pool, &digest(key)).await?)
}

/// What anyone may read, whatever credentials come along: the API's documents and the web
/// app's configuration are answered to a request carrying a key as to an anonymous one.
const ANYONE_READS: [&str; 3] = ["/openapi.json", "/docs", "/app/config.json"];

pub async fn accept(next: impl Endpoint, mut req: Request) -> poem::Result<Response> {
    let Some(key) = bearer_key(&req) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let matched = route(req.uri().path());
    if let Some(route) = matched
        && (!route.serves(req.method()) || ANYONE_READS.contains(&route.template.as_str()))
    {
        // A method the path does not serve is 405 (with `Allow`) whatever the credentials.
        return next.call(req).await.map(IntoResponse::into_response);
    }
    if refuses_keys(req.uri().path()) {
        return Err(ApiError::unauthorized(
            "API keys are not accepted here: managing keys, the web app and the operator's \
             endpoints need your own sign-in",
        )
        .into());
    }
    if crate::roles::refuses_keys(req.method().as_str(), req.uri().path()) {
        return Err(ApiError::unauthorized(
            "API keys are not accepted here: making or deleting a workspace and managing its \
             members and invitations need your own sign-in",
        )
        .into());
    }
    let Some(route) = matched else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let Some(needed) = route.scope(req.method()) else {
        if route.is_public(req.method()) {
            return next.call(req).await.map(IntoResponse::into_response);
        }
        return Err(ApiError::unauthorized("this operation does not accept API keys").into());
    };
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    let Some(holder) = live(state, key).await? else {
        metrics::counter!("api_keys_refused_total", "reason" => "unknown").increment(1);
        return Err(ApiError::unauthorized(
            "this API key is unknown, deleted or expired; make a new one in Settings",
        )
        .into());
    };
    // The scope is held to after the workspace (`super::workspace`): a resource of another
    // workspace is 404 before the key's scopes are looked at.
    if route.role(req.method()).is_none()
        && !holder.scopes.iter().any(|scope| scope == needed.as_str())
    {
        return Err(short_of(needed).into());
    }
    let span = tracing::Span::current();
    span.record("userId", tracing::field::display(holder.user_id));
    tracing::debug!(apiKeyId = %holder.key_id, "request by API key");
    req.extensions_mut().insert(KeyUser {
        user: AuthUser {
            id: holder.user_id,
            workspace: holder.workspace_id,
            role: holder.role,
        },
        scopes: holder.scopes,
        key_id: holder.key_id,
        name: holder.name,
    });
    next.call(req).await.map(IntoResponse::into_response)
}
