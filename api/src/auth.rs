//! Authentication: every `/api` and `/v1` endpoint takes a [`UserAuth`], a bearer token
//! (API clients), the web app's browser session (the `almanac_session` cookie, checked by
//! [`crate::middleware::session::accept`] before any handler runs) or a personal API key
//! (`alm_…`, looked up and held to its scopes by [`crate::middleware::keys::accept`] before
//! any handler runs). Managing keys takes a [`PersonalAuth`]: never a key.

use almanac_shared::{
    api_keys::is_key,
    workspaces::{Actor, Role},
};
use poem::Request;
use poem_openapi::{
    SecurityScheme,
    auth::{ApiKey, Bearer},
};
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

/// The authenticated caller: the person, the workspace the request acts in and their role
/// there (chosen by [`crate::middleware::workspace::select`] before any handler runs; their
/// personal workspace, as `owner`, where it chose none).
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: Uuid,
    pub workspace: Uuid,
    pub role: Role,
}

impl AuthUser {
    /// `id` in their personal workspace.
    pub fn personal(id: Uuid) -> Self {
        Self {
            id,
            workspace: id,
            role: Role::Owner,
        }
    }

    /// The person acting in the workspace, as the store takes them.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.id,
            workspace: self.workspace,
        }
    }
}

/// `Authorization: Bearer <JWT>`: HS256, `aud = "authenticated"`, `sub` = user id.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_token")]
pub struct BearerAuth(pub AuthUser);

/// The same JWT as `?access_token=`, for clients that cannot set headers (a browser's
/// `EventSource`). Accepted only by the event stream.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "access_token",
    key_in = "query",
    checker = "check_query_token"
)]
pub struct QueryTokenAuth(pub AuthUser);

/// The web app's browser session: the `almanac_session` cookie `POST /app/session` sets
/// (HttpOnly, SameSite=Strict). Accepted only from the app's own pages: `Origin`, if sent,
/// must be the app's, and the request must carry `X-Requested-With` or be a `GET` for an
/// event stream; otherwise 401 `SESSION_NOT_ACCEPTED`. API clients use the bearer token.
#[derive(SecurityScheme)]
#[oai(
    ty = "api_key",
    key_name = "almanac_session",
    key_in = "cookie",
    checker = "check_session"
)]
pub struct SessionAuth(pub AuthUser);

/// `Authorization: Bearer alm_…`: a personal API key (`POST /v1/api-keys`), acting as its
/// owner within its scopes: `read` (every `GET`), `publish` (channels, publish intents,
/// `POST /v1/calendars/{id}/publish`) or `write` (every other operation); each operation
/// names the scope it needs in `x-almanac-scope`. A call outside the key's scopes is 403
/// `INSUFFICIENT_SCOPE` with `details.scope`. Never accepted in the query string, on
/// `/v1/api-keys`, `/app/*` or `/admin/*`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "alm_…", checker = "check_api_key")]
pub struct ApiKeyAuth(pub AuthUser);

/// A bearer token, the web app's session, or an API key. The key is tried last: its
/// refusal (a 403 for a scope) is the one a request with a key is told.
#[derive(SecurityScheme)]
pub enum UserAuth {
    Session(SessionAuth),
    Bearer(BearerAuth),
    Key(ApiKeyAuth),
}

impl UserAuth {
    pub fn user(&self) -> AuthUser {
        match self {
            UserAuth::Session(SessionAuth(user))
            | UserAuth::Bearer(BearerAuth(user))
            | UserAuth::Key(ApiKeyAuth(user)) => *user,
        }
    }
}

/// A person's own credentials: the session or a JWT, never an API key (a key cannot
/// manage keys).
#[derive(SecurityScheme)]
pub enum PersonalAuth {
    Session(SessionAuth),
    Bearer(BearerAuth),
}

impl PersonalAuth {
    pub fn user(&self) -> AuthUser {
        match self {
            PersonalAuth::Session(SessionAuth(user)) | PersonalAuth::Bearer(BearerAuth(user)) => {
                *user
            }
        }
    }
}

/// Any form: the session, the bearer token, the token in the query, or an API key (in the
/// header only).
#[derive(SecurityScheme)]
pub enum StreamAuth {
    Session(SessionAuth),
    Bearer(BearerAuth),
    Query(QueryTokenAuth),
    Key(ApiKeyAuth),
}

impl StreamAuth {
    pub fn user(&self) -> AuthUser {
        match self {
            StreamAuth::Session(SessionAuth(user))
            | StreamAuth::Bearer(BearerAuth(user))
            | StreamAuth::Query(QueryTokenAuth(user))
            | StreamAuth::Key(ApiKeyAuth(user)) => *user,
        }
    }
}

/// The person a request's session cookie carries, put there by
/// [`crate::middleware::session::accept`].
#[derive(Debug, Clone, Copy)]
pub struct SessionUser(pub Uuid);

/// The API key a request carries, put there by [`crate::middleware::keys::accept`] once the
/// key was found live and its maker still a member of its workspace: the maker acting in
/// the key's workspace with their role there, and the key's scopes.
#[derive(Debug, Clone)]
pub struct KeyUser {
    pub user: AuthUser,
    pub scopes: Vec<String>,
    pub key_id: Uuid,
    /// The key's name: the activity names a key's changes by it.
    pub name: String,
}

/// The caller acting in the workspace [`crate::middleware::workspace::select`] chose for
/// the request, with their role there (it refused the request already when they may not).
#[derive(Debug, Clone, Copy)]
pub struct Acting(pub AuthUser);

/// `id` as the request acts: in the workspace chosen for it, else their personal one.
fn acting(req: &Request, id: Uuid) -> AuthUser {
    req.extensions()
        .get::<Acting>()
        .map(|acting| acting.0)
        .filter(|acting| acting.id == id)
        .unwrap_or_else(|| AuthUser::personal(id))
}

/// The key's maker [`crate::middleware::keys::accept`] found (it refused the request already
/// when the key was unknown, revoked, expired or its maker no longer a member), acting in
/// the key's workspace.
async fn check_api_key(req: &Request, _bearer: Bearer) -> poem::Result<AuthUser> {
    let key = req
        .extensions()
        .get::<KeyUser>()
        .ok_or_else(invalid_token)?;
    Ok(req
        .extensions()
        .get::<Acting>()
        .map(|acting| acting.0)
        .filter(|acting| acting.id == key.user.id)
        .unwrap_or(key.user))
}

/// The session [`crate::middleware::session::accept`] found for the cookie (it refused the request
/// already when the cookie named none or broke the forgery rules).
async fn check_session(req: &Request, _cookie: ApiKey) -> poem::Result<AuthUser> {
    let session = req
        .extensions()
        .get::<SessionUser>()
        .ok_or_else(invalid_token)?;
    Ok(acting(req, session.0))
}

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<AuthUser> {
    // A key is judged by the key's scheme (its checker); it is no JWT.
    if is_key(&bearer.token) {
        return Err(invalid_token().into());
    }
    verify(req, &bearer.token)
}

/// A key in the query string is refused: query strings end up in access logs.
async fn check_query_token(req: &Request, key: ApiKey) -> poem::Result<AuthUser> {
    if is_key(&key.key) {
        return Err(ApiError::unauthorized(
            "an API key is accepted only in the Authorization header, never in the query string",
        )
        .into());
    }
    verify(req, &key.key)
}

fn invalid_token() -> ApiError {
    ApiError::unauthorized("missing, malformed, expired or invalid bearer token")
}

fn verify(req: &Request, token: &str) -> poem::Result<AuthUser> {
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    let id = token_user(state, token).ok_or_else(invalid_token)?;
    Ok(acting(req, id))
}

/// The token a request's `Authorization: Bearer` carries.
pub(crate) fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(poem::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The person a valid JWT names (noting the address its claims carry, for notices).
pub(crate) fn token_user(state: &AppState, token: &str) -> Option<Uuid> {
    if is_key(token) {
        return None;
    }
    match state.jwt.verify(token) {
        Ok(claims) => {
            tracing::Span::current().record("userId", tracing::field::display(claims.sub));
            if let Some(email) = &claims.email {
                state.contacts.note(&state.pool, claims.sub, email);
            }
            Some(claims.sub)
        }
        Err(error) => {
            tracing::debug!(error = %error, "token refused");
            None
        }
    }
}
