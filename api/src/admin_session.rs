//! The operator's browser session for the console (`#/ops`): `POST /app/admin-session
//! {token}` with `ADMIN_TOKEN` answers 204 and `Set-Cookie: almanac_admin=<256-bit random
//! id>; HttpOnly; SameSite=Strict; Path=/` for 8 hours; Postgres keeps the id's SHA-256
//! digest (`store::console::sessions`). `DELETE /app/admin-session` ends it. With
//! `ADMIN_TOKEN` unset the route is 404, as if it did not exist.
//!
//! The cookie is held to the user session's forgery rules (`crate::session`): the app's
//! own origin, `X-Requested-With` or a `GET` for an event stream. It is read on `/admin/*`
//! only ([`crate::middleware::admin`]); a user's session cookie is never read there.

use chrono::Utc;
use poem::{
    IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use almanac_shared::store::console::sessions;

use crate::{
    error::ApiError,
    session::{self, from_the_app},
    state::AppState,
};

/// Put on a request whose admin cookie names a live session
/// ([`crate::middleware::admin::accept`]).
#[derive(Debug, Clone, Copy)]
pub struct AdminSessionMark;

/// The admin cookie's name.
pub const COOKIE: &str = "almanac_admin";

/// How long an admin session lasts.
pub const MAX_AGE_SECS: i64 = 8 * 3600;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    token: String,
}

/// `POST /app/admin-session {token}`: 204 with the cookie, 401 for another token, 404
/// without `ADMIN_TOKEN`.
pub async fn open(state: &AppState, req: &Request, body: &str) -> poem::Result<Response> {
    let Some(admin) = &state.settings.admin_token else {
        return Err(StatusCode::NOT_FOUND.into());
    };
    from_the_app(req, state)?;
    let sign_in: SignIn = serde_json::from_str(body)
        .map_err(|_| ApiError::invalid_field("token", "paste the ADMIN_TOKEN"))?;
    // Digests compared, so the comparison's time says nothing about the token.
    let digest = |token: &str| Sha256::digest(token.as_bytes());
    if digest(admin.expose()) != digest(sign_in.token.trim()) {
        metrics::counter!("admin_sessions_refused_total").increment(1);
        tracing::warn!("admin sign-in with a wrong token");
        return Err(ApiError::unauthorized("this is not the ADMIN_TOKEN of this server").into());
    }
    let id = hex::encode(rand::random::<[u8; 32]>());
    let expires_at = Utc::now() + chrono::Duration::seconds(MAX_AGE_SECS);
    sessions::open(&state.pool, &session::digest(&id), expires_at)
        .await
        .map_err(ApiError::from)?;
    tracing::warn!("admin session opened");
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(
            header::SET_COOKIE,
            state.web.cookie_named(COOKIE, &id, MAX_AGE_SECS),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .finish())
}

/// `DELETE /app/admin-session`: ends the session and clears the cookie (204 even without
/// one).
pub async fn close(state: &AppState, req: &Request) -> poem::Result<Response> {
    from_the_app(req, state)?;
    if let Some(id) = session::named_cookie(req, COOKIE).filter(|id| session::well_formed(id)) {
        sessions::end(&state.pool, &session::digest(id))
            .await
            .map_err(ApiError::from)?;
    }
    let mut response = Response::builder().status(StatusCode::NO_CONTENT).finish();
    clear(state, &mut response);
    Ok(response)
}

/// Whether the cookie's id names a live admin session.
pub(crate) async fn live(state: &AppState, id: &str) -> poem::Result<bool> {
    if !session::well_formed(id) {
        return Ok(false);
    }
    Ok(sessions::live(&state.pool, &session::digest(id))
        .await
        .map_err(ApiError::from)?)
}

/// 401 for a cookie that names no live admin session, clearing it.
pub(crate) fn ended(state: &AppState) -> Response {
    let mut response = ApiError::unauthorized(
        "the console's session has ended (signed out or after 8 hours); sign in again",
    )
    .into_response();
    clear(state, &mut response);
    response
}

fn clear(state: &AppState, response: &mut Response) {
    let cleared = HeaderValue::from_str(&state.web.cookie_named(COOKIE, "", 0))
        .expect("a cookie of ASCII attributes is a header value");
    response.headers_mut().insert(header::SET_COOKIE, cleared);
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
