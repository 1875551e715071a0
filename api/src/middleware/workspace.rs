//! The workspace a request acts in, and the caller's right to act there, settled before any
//! handler runs, in the order a caller is told: 401 (no credentials: left to the
//! operation's security scheme), 404 (no such workspace for them), 403
//! `INSUFFICIENT_SCOPE` (a key short of the operation's scope), 403 `ROLE_REQUIRED` (a
//! member short of its role, `x-almanac-role`).
//!
//! - A route naming a resource by id acts in the resource's workspace when the caller is a
//!   member there; otherwise as a route naming none would (the header's workspace, else the
//!   personal one), where row-level security hides the resource and the handler answers
//!   its own 404: a resource of another workspace is refused exactly as one that does not
//!   exist, so no refusal tells it exists.
//! - Other routes act in the workspace `Almanac-Workspace` names (event streams also take
//!   `?workspace=`): malformed, 400 `VALIDATION_FAILED`; not a member, 404
//!   `WORKSPACE_NOT_FOUND`. Without it, the caller's personal workspace.
//! - An API key acts only in the workspace it was made in, with its maker's role there
//!   (looked up with the key on every request, so a removed member's keys stop at once).
//!
//! Every member lookup reads Postgres, so a removed member is refused by every API process
//! as soon as the removal answered.

use almanac_shared::{
    domain::review::Via,
    store::{
        ORIGIN, Origin,
        workspaces::{self, Resource},
    },
    workspaces::Role,
};
use poem::{Endpoint, IntoResponse, Request, Response};
use uuid::Uuid;

use super::activity::{Agent, Change};
use crate::{
    auth::{Acting, AuthUser, KeyUser, SessionUser, token_user},
    error::ApiError,
    middleware::keys::{bearer, short_of},
    roles::role_required,
    route_table::{RouteEntry, route},
    state::AppState,
};

/// The header choosing the workspace of a list or a creation.
pub const HEADER: &str = "Almanac-Workspace";

/// The query parameter event streams take instead (a browser's `EventSource` sets no
/// header).
pub const QUERY: &str = "workspace";

/// The code of a workspace the caller is not a member of (or that does not exist).
pub const WORKSPACE_NOT_FOUND: &str = "WORKSPACE_NOT_FOUND";

/// The routes naming a resource by id, with the resource: the id is the template's last
/// parameter.
const RESOURCES: [(&str, Resource); 14] = [
    ("/v1/calendars/{id}", Resource::Calendar),
    ("/v1/jobs/{id}", Resource::Job),
    ("/api/cards/{id}", Resource::Card),
    ("/api/ai/generations/{id}", Resource::Generation),
    ("/api/ai/suggestions/{id}", Resource::Suggestion),
    ("/api/v1/themes/{id}", Resource::Theme),
    ("/api/v1/syntheses/{id}", Resource::Synthesis),
    ("/v1/channels/{id}", Resource::Channel),
    ("/v1/evergreen/{id}", Resource::Evergreen),
    ("/v1/publish-intents/{id}", Resource::PublishIntent),
    ("/v1/analytics/posts/{intentId}", Resource::PublishIntent),
    ("/v1/media/{id}", Resource::Media),
    ("/v1/webhooks/{id}", Resource::Webhook),
    ("/v1/api-keys/{id}", Resource::ApiKey),
];

/// The workspace routes: `/v1/workspaces/{id}` and below act in the workspace they name.
const WORKSPACE_ROUTE: &str = "/v1/workspaces/{id}";

/// Who calls: a person, and the key they call with, if any.
struct Caller {
    id: Uuid,
    key: Option<KeyUser>,
}

/// What the path names by id.
enum Named {
    Resource(Resource, Uuid),
    Workspace(Uuid),
}

pub async fn select(next: impl Endpoint, mut req: Request) -> poem::Result<Response> {
    let Some(route) = route(req.uri().path()) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let Some(needed) = route.role(req.method()) else {
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    let Some(caller) = caller(&req, state) else {
        // No credentials this middleware can read: the operation's scheme answers 401.
        return next.call(req).await.map(IntoResponse::into_response);
    };
    let chosen = chosen(&req, route)?;
    let (workspace, role) = match named(route, req.uri().path()) {
        Some(Named::Workspace(id)) => {
            let role = workspaces::role(&state.pool, id, caller.id)
                .await
                .map_err(ApiError::from)?;
            match role.filter(|_| caller.key.as_ref().is_none_or(|k| k.user.workspace == id)) {
                Some(role) => (id, role),
                None => return Err(not_a_member().into()),
            }
        }
        Some(Named::Resource(resource, id)) => {
            // Postgres out of reach: the request goes on as one naming nothing (the
            // publish spool takes a personal calendar's publish through an outage).
            match workspaces::resource(&state.pool, resource, id, caller.id)
                .await
                .unwrap_or(None)
            {
                Some((workspace, Some(role)))
                    if caller
                        .key
                        .as_ref()
                        .is_none_or(|k| k.user.workspace == workspace) =>
                {
                    (workspace, role)
                }
                _ => unnamed(state, &caller, chosen).await?,
            }
        }
        None => unnamed(state, &caller, chosen).await?,
    };
    if let Some(key) = &caller.key
        && let Some(scope) = route.scope(req.method())
        && !key.scopes.iter().any(|s| s == scope.as_str())
    {
        return Err(short_of(scope).into());
    }
    if role < needed {
        metrics::counter!("role_refusals_total", "role" => needed.as_str()).increment(1);
        return Err(role_required(needed, role).into());
    }
    tracing::Span::current().record("workspaceId", tracing::field::display(workspace));
    // A change (not a read) is recorded once it answered: what recording needs is taken
    // from the state for changes only.
    let key = caller.key.as_ref().map(|k| (k.key_id, k.name.clone()));
    let change = Change::of(&req, route, workspace, caller.id, key)
        .map(|change| (change, state.activity.clone(), state.emitter.clone()));
    req.extensions_mut().insert(Acting(AuthUser {
        id: caller.id,
        workspace,
        role,
    }));
    let origin = origin(&req, &caller);
    let Some((change, recorder, emitter)) = change else {
        let answer = ORIGIN.scope(origin, next.call(req)).await;
        return answer.map(IntoResponse::into_response);
    };
    // Boxed: on the heap, not the stack a tool's in-process call (MCP) nests in.
    let answer = Box::pin(ORIGIN.scope(origin, next.call(req)))
        .await?
        .into_response();
    Ok(Box::pin(change.record(&recorder, &emitter, answer)).await)
}

/// How the request came in, for what it makes to say so: an agent's tool call, a key's
/// call, the web app's session, or a token's call.
fn origin(req: &Request, caller: &Caller) -> Origin {
    let via = if req.extensions().get::<Agent>().is_some() {
        Via::Mcp
    } else if caller.key.is_none() && req.extensions().get::<SessionUser>().is_some() {
        Via::App
    } else {
        Via::Api
    };
    Origin {
        via,
        key: caller.key.as_ref().map(|k| k.key_id),
    }
}

fn not_a_member() -> ApiError {
    ApiError::NotFound(crate::error::ErrorEnvelope::new(
        WORKSPACE_NOT_FOUND,
        "no such workspace, or you are not a member of it",
        None,
    ))
}

/// The caller the request's credentials name: a key's holder (found by
/// [`super::keys::accept`]), the session's person (found by [`super::session::accept`]) or
/// a valid token's subject (header, or the query for event streams).
fn caller(req: &Request, state: &AppState) -> Option<Caller> {
    if let Some(key) = req.extensions().get::<KeyUser>() {
        return Some(Caller {
            id: key.user.id,
            key: Some(key.clone()),
        });
    }
    if let Some(session) = req.extensions().get::<SessionUser>() {
        return Some(Caller {
            id: session.0,
            key: None,
        });
    }
    let token = bearer(req).map(str::to_owned).or_else(|| {
        req.uri().query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "access_token")
                .map(|(_, value)| value.into_owned())
        })
    })?;
    token_user(state, &token).map(|id| Caller { id, key: None })
}

/// The workspace `Almanac-Workspace` (or an event stream's `?workspace=`) names.
fn chosen(req: &Request, route: &RouteEntry) -> Result<Option<Uuid>, ApiError> {
    let given = req
        .headers()
        .get(HEADER)
        .map(|value| value.to_str().unwrap_or("\u{fffd}").to_owned())
        .or_else(|| {
            route.template.ends_with("/events").then_some(())?;
            url::form_urlencoded::parse(req.uri().query()?.as_bytes())
                .find(|(name, _)| name == QUERY)
                .map(|(_, value)| value.into_owned())
        });
    given
        .map(|text| {
            Uuid::try_parse(text.trim()).map_err(|_| {
                ApiError::invalid_field(
                    HEADER,
                    "must be the id of a workspace (a UUID), as GET /v1/workspaces lists them",
                )
            })
        })
        .transpose()
}

/// The resource or workspace the path names by id, if the route names one and the id is
/// an id.
fn named(route: &RouteEntry, path: &str) -> Option<Named> {
    let under = |prefix: &str| {
        route
            .template
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    let id_of = |prefix: &str| {
        let name = prefix.rsplit('/').next()?.trim_matches(['{', '}']);
        let (_, given) = route.parameters(path).find(|(n, _)| *n == name)?;
        Uuid::try_parse(given).ok()
    };
    if under(WORKSPACE_ROUTE) {
        return id_of(WORKSPACE_ROUTE).map(Named::Workspace);
    }
    let (prefix, resource) = RESOURCES.iter().find(|(prefix, _)| under(prefix))?;
    id_of(prefix).map(|id| Named::Resource(*resource, id))
}

/// The workspace of a request naming none by id: the key's, the header's (the caller must
/// be a member) or the caller's personal one.
async fn unnamed(
    state: &AppState,
    caller: &Caller,
    chosen: Option<Uuid>,
) -> Result<(Uuid, Role), ApiError> {
    if let Some(key) = &caller.key {
        if chosen.is_some_and(|chosen| chosen != key.user.workspace) {
            return Err(not_a_member());
        }
        return Ok((key.user.workspace, key.user.role));
    }
    let Some(workspace) = chosen else {
        return Ok((caller.id, Role::Owner));
    };
    match workspaces::role(&state.pool, workspace, caller.id).await? {
        Some(role) => Ok((workspace, role)),
        None => Err(not_a_member()),
    }
}
