//! Authentication: every `/api` and `/v1` endpoint takes a [`UserAuth`], a bearer token
//! (API clients) or the web app's browser session (the `almanac_session` cookie, checked by
//! [`crate::middleware::session::accept`] before any handler runs).

use poem::Request;
use poem_openapi::{
    SecurityScheme,
    auth::{ApiKey, Bearer},
};
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

/// The authenticated caller.
#[derive(Debug, Clone, Copy)]
pub struct AuthUser {
    pub id: Uuid,
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

/// A bearer token, or the web app's session. The bearer is tried last, so a request with
/// neither is told about the token.
#[derive(SecurityScheme)]
pub enum UserAuth {
    Session(SessionAuth),
    Bearer(BearerAuth),
}

impl UserAuth {
    pub fn user(&self) -> AuthUser {
        match self {
            UserAuth::Session(SessionAuth(user)) | UserAuth::Bearer(BearerAuth(user)) => *user,
        }
    }
}

/// Any form: the session, the bearer token, or the token in the query.
#[derive(SecurityScheme)]
pub enum StreamAuth {
    Session(SessionAuth),
    Bearer(BearerAuth),
    Query(QueryTokenAuth),
}

impl StreamAuth {
    pub fn user(&self) -> AuthUser {
        match self {
            StreamAuth::Session(SessionAuth(user))
            | StreamAuth::Bearer(BearerAuth(user))
            | StreamAuth::Query(QueryTokenAuth(user)) => *user,
        }
    }
}

/// The user a request's session cookie carries, put there by [`crate::middleware::session::accept`].
#[derive(Debug, Clone, Copy)]
pub struct SessionUser(pub AuthUser);

/// The session [`crate::middleware::session::accept`] found for the cookie (it refused the request
/// already when the cookie named none or broke the forgery rules).
async fn check_session(req: &Request, _cookie: ApiKey) -> poem::Result<AuthUser> {
    req.extensions()
        .get::<SessionUser>()
        .map(|session| session.0)
        .ok_or_else(|| {
            ApiError::unauthorized("missing, malformed, expired or invalid bearer token").into()
        })
}

async fn check_token(req: &Request, bearer: Bearer) -> poem::Result<AuthUser> {
    verify(req, &bearer.token)
}

async fn check_query_token(req: &Request, key: ApiKey) -> poem::Result<AuthUser> {
    verify(req, &key.key)
}

fn verify(req: &Request, token: &str) -> poem::Result<AuthUser> {
    let state = req
        .data::<AppState>()
        .expect("AppState is attached to every route");
    match state.jwt.verify(token) {
        Ok(claims) => {
            tracing::Span::current().record("userId", tracing::field::display(claims.sub));
            if let Some(email) = &claims.email {
                state.contacts.note(&state.pool, claims.sub, email);
            }
            Ok(AuthUser { id: claims.sub })
        }
        Err(error) => {
            tracing::debug!(error = %error, "token refused");
            Err(
                ApiError::unauthorized("missing, malformed, expired or invalid bearer token")
                    .into(),
            )
        }
    }
}
