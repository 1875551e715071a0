//! The web app's browser sessions: the page never holds a token.
//!
//! `POST /app/session {token}` (a pasted token) and `POST /app/dev-login` (`DEV_LOGIN`) open
//! a session and answer 204 with `Set-Cookie: almanac_session=<256-bit random id>; HttpOnly;
//! SameSite=Strict; Path=/` (`Secure` when `PUBLIC_BASE_URL` is https). Postgres keeps the
//! id's SHA-256 digest with the user and the token's expiry (at most 7 days);
//! `DELETE /app/session` ends it. `GET /app/session` says whose it is.
//!
//! Cross-site request forgery: the cookie is `SameSite=Strict`, so a browser sends it only on
//! requests a page of this site starts. On top of that, a request carrying only the cookie
//! is accepted when its `Origin`, if sent, is the app's own, and when it says it comes from
//! a script (`X-Requested-With`, a header a cross-origin form cannot send and a cross-origin
//! script cannot send without a CORS preflight, which never allows credentials here) or is
//! a `GET` for an event stream (reads only). Anything else with only the cookie is 401
//! `SESSION_NOT_ACCEPTED`. A request with `Authorization` is judged by its bearer token
//! alone. See `docs/architecture.md`, "Browser sessions".
//!
//! A cookie that names no live session (signed out elsewhere, pushed out by newer sessions,
//! a restored database) never locks a browser out: every 401 it causes clears it
//! (`Max-Age=0`), signing in over it opens a new session and signing out answers 204. A
//! refusal by the forgery rules leaves the cookie alone, so another site cannot sign
//! anyone out.

use chrono::{DateTime, Utc};
use poem::{
    IntoResponse, Request, Response,
    http::{Method, StatusCode, header},
    web::Json,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use almanac_shared::store::sessions;

use crate::{
    error::ApiError,
    origin::{COOKIE, WebOrigin},
    state::AppState,
};

/// The longest a session lasts, whatever its token's expiry.
pub const MAX_AGE_SECS: i64 = 7 * 24 * 3600;

/// The code of a cookie-only request refused by the forgery rules.
pub const NOT_ACCEPTED: &str = "SESSION_NOT_ACCEPTED";

pub(crate) fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// The session cookie's value as sent, if the request carries one (made here or not).
pub(crate) fn cookie_value(req: &Request) -> Option<&str> {
    named_cookie(req, COOKIE)
}

/// The value of the cookie `name` as sent, if the request carries one.
pub(crate) fn named_cookie<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(sent, _)| *sent == name)
        .map(|(_, value)| value.trim())
}

/// Whether a cookie's value could have been made here: 64 hex digits.
pub(crate) fn well_formed(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Paths whose requests a session may authenticate: the API's. (`/app/session` reads the
/// cookie itself: signing in or out over a dead cookie must work.)
pub(crate) fn takes_session(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/v1/")
}

/// Why the forgery rules refuse a cookie-only request; `None` when they accept it.
fn forgery_risk(req: &Request, web: &WebOrigin) -> Option<&'static str> {
    let foreign_origin = req
        .headers()
        .get(header::ORIGIN)
        .is_some_and(|origin| !web.allows(origin.as_bytes()));
    let cross_site = req
        .headers()
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes() == b"cross-site");
    if foreign_origin || cross_site {
        return Some("this request comes from another site; sign in to Almanac there");
    }
    let from_script = req.headers().contains_key("x-requested-with");
    let reads_a_stream = req.method() == Method::GET
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|accept| accept.contains("text/event-stream"));
    (!from_script && !reads_a_stream).then_some(
        "a browser session is accepted only from the Almanac app's own scripts \
         (X-Requested-With); API clients send Authorization: Bearer <token>",
    )
}

/// The live session whose id the cookie holds, if any.
pub(crate) async fn live(state: &AppState, id: &str) -> poem::Result<Option<sessions::Session>> {
    if !well_formed(id) {
        return Ok(None);
    }
    Ok(sessions::find(&state.pool, &digest(id))
        .await
        .map_err(ApiError::from)?)
}

/// 401 for a cookie that names no live session, clearing it so that the browser stops
/// sending it (the page then shows its sign-in).
pub(crate) fn ended(state: &AppState) -> Response {
    let mut response =
        ApiError::unauthorized("your session has ended (signed out or expired); sign in again")
            .into_response();
    clear_cookie(state, &mut response);
    response
}

fn clear_cookie(state: &AppState, response: &mut Response) {
    let cleared = header::HeaderValue::from_str(&state.web.cookie("", 0))
        .expect("a cookie of ASCII attributes is a header value");
    response.headers_mut().insert(header::SET_COOKIE, cleared);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
}

/// Opens a session for `user` until `expires_at` (capped at [`MAX_AGE_SECS`]): 204 with
/// the cookie.
pub async fn open(
    state: &AppState,
    user: Uuid,
    expires_at: DateTime<Utc>,
) -> poem::Result<Response> {
    let cookie = open_cookie(state, user, expires_at).await?;
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::SET_COOKIE, cookie)
        .header(header::CACHE_CONTROL, "no-store")
        .finish())
}

/// Opens a session for `user` until `expires_at` (capped at [`MAX_AGE_SECS`]): the
/// `Set-Cookie` value that carries it.
pub async fn open_cookie(
    state: &AppState,
    user: Uuid,
    expires_at: DateTime<Utc>,
) -> poem::Result<String> {
    let expires_at = expires_at.min(Utc::now() + chrono::Duration::seconds(MAX_AGE_SECS));
    let id = hex::encode(rand::random::<[u8; 32]>());
    sessions::open(&state.pool, &digest(&id), user, expires_at)
        .await
        .map_err(ApiError::from)?;
    metrics::counter!("web_sessions_opened_total").increment(1);
    let max_age = (expires_at - Utc::now()).num_seconds().max(0);
    Ok(state.web.cookie(&id, max_age))
}

/// `GET /app/session`: whose session the cookie carries (`{userId, expiresAt}`) and whether
/// publishing is on for that user (`publishing`, the flag, so the page can say why its
/// publish buttons do nothing), or 401.
pub async fn describe(state: &AppState, req: &Request) -> poem::Result<Response> {
    let Some(id) = cookie_value(req) else {
        return Err(ApiError::unauthorized("not signed in").into());
    };
    let Some(session) = live(state, id).await? else {
        return Ok(ended(state));
    };
    let publishing = state
        .flags
        .enabled(almanac_shared::flags::Flag::PublishService, session.user_id);
    Ok(Json(json!({
        "userId": session.user_id,
        "expiresAt": session.expires_at,
        "publishing": publishing,
    }))
    .with_header(header::CACHE_CONTROL, "no-store")
    .into_response())
}

/// `DELETE /app/session`: ends the session server-side and clears the cookie (204 even when
/// there was none: signing out twice is not an error).
pub async fn close(state: &AppState, req: &Request) -> poem::Result<Response> {
    if let Some(id) = cookie_value(req).filter(|id| well_formed(id)) {
        sessions::end(&state.pool, &digest(id))
            .await
            .map_err(ApiError::from)?;
    }
    let mut response = Response::builder().status(StatusCode::NO_CONTENT).finish();
    clear_cookie(state, &mut response);
    Ok(response)
}

/// The forgery rules for the session routes themselves: signing in or out is a script's
/// request from the app's own origin (a forged sign-in would put the victim in the
/// attacker's account).
pub fn from_the_app(req: &Request, state: &AppState) -> poem::Result<()> {
    match forgery_risk(req, &state.web) {
        Some(reason) => Err(ApiError::Unauthorized(crate::error::ErrorEnvelope::new(
            NOT_ACCEPTED,
            reason,
            None,
        ))
        .into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_https_address_makes_the_cookie_secure_and_only_its_origin_is_accepted() {
        let web = WebOrigin::new("https://almanac.example.com/", false).unwrap();
        assert!(web.cookie("ab", 60).ends_with("; Secure"));
        assert!(web.allows(b"https://almanac.example.com"));
        assert!(!web.allows(b"http://almanac.example.com"));
        assert!(!web.allows(b"https://almanac.example.com.evil.net"));
        assert!(!web.allows(b"null"));
        // Configured on a loopback name, it means that name only.
        let explicit = WebOrigin::new("http://localhost:8080", false).unwrap();
        assert!(explicit.allows(b"http://localhost:8080"));
        assert!(!explicit.allows(b"http://127.0.0.1:8080"));
    }

    #[test]
    fn the_bound_loopback_default_answers_to_each_loopback_name_on_its_port() {
        let web = WebOrigin::new("http://127.0.0.1:8080", true).unwrap();
        assert!(!web.cookie("ab", 60).contains("Secure"));
        for origin in [
            "http://127.0.0.1:8080",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(web.allows(origin.as_bytes()), "{origin}");
        }
        assert!(!web.allows(b"http://localhost:8081"));
        let public = WebOrigin::new("http://10.0.0.5:8080", true).unwrap();
        assert!(!public.allows(b"http://localhost:8080"));
    }
}
