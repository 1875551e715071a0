//! Single sign-on (`OIDC_*`): `GET /app/oidc/start` sends the browser to the provider with
//! a fresh `state`, `nonce` and PKCE challenge, which the browser keeps in the
//! `almanac_oidc` cookie (`SameSite=Lax`, so the provider's redirect brings it back; under
//! `/app/oidc` only; ten minutes); `GET /app/oidc/callback` checks the answer
//! (`almanac_shared::oidc`), finds or makes the person's account and opens their session.
//! The redirect URI to register with the provider is `PUBLIC_BASE_URL` +
//! `/app/oidc/callback`. Nothing is stored for an attempt that is never finished.

use almanac_shared::{
    oidc::{Attempt, Refusal},
    store::sign_in::{Identity, sign_in_with},
};
use poem::{
    IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Query},
};
use serde::Deserialize;

use super::page;
use crate::{error::ApiError, session, state::AppState};

/// The attempt's cookie.
const COOKIE: &str = "almanac_oidc";
/// Where it is sent.
const COOKIE_PATH: &str = "/app/oidc";
/// How long a person has to finish signing in at the provider.
const ATTEMPT_SECS: i64 = 600;

/// The callback's path, which the provider must know.
pub const CALLBACK: &str = "/app/oidc/callback";

/// `GET /app/oidc/start`: 303 to the provider (404 when single sign-on is not configured).
#[handler]
pub async fn start(req: &Request, state: Data<&AppState>) -> poem::Result<Response> {
    let Some(oidc) = &state.oidc else {
        return Err(StatusCode::NOT_FOUND.into());
    };
    let settings = &state.settings.sign_in;
    let who = super::client(req, settings.trusted_proxy_hops);
    super::limit(&state, "client", &who, settings.rate_per_client).await?;
    let attempt = Attempt::new();
    match oidc.authorization_url(&attempt).await {
        Ok(url) => Ok(Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(header::LOCATION, url.as_str())
            .header(header::CACHE_CONTROL, "no-store")
            .header(
                header::SET_COOKIE,
                state
                    .web
                    .lax_cookie(COOKIE, &attempt.to_cookie(), COOKIE_PATH, ATTEMPT_SECS),
            )
            .finish()),
        Err(refusal) => Ok(refused(&state, refusal)),
    }
}

#[derive(Debug, Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /app/oidc/callback`: the session opened and 303 to the app, or a page saying why
/// not.
#[handler]
pub async fn callback(
    req: &Request,
    state: Data<&AppState>,
    Query(answer): Query<Callback>,
) -> poem::Result<Response> {
    let Some(oidc) = &state.oidc else {
        return Err(StatusCode::NOT_FOUND.into());
    };
    let attempt = session::named_cookie(req, COOKIE).and_then(Attempt::from_cookie);
    let person = match (attempt, answer) {
        (None, _) => Err(Refusal::State),
        (
            Some(_),
            Callback {
                error: Some(error),
                error_description,
                ..
            },
        ) => {
            let said = format!("{error} {}", error_description.unwrap_or_default());
            Err(Refusal::Denied(said.trim().chars().take(300).collect()))
        }
        (
            Some(attempt),
            Callback {
                code: Some(code),
                state: Some(given),
                ..
            },
        ) => oidc.finish(&attempt, &given, &code).await,
        (Some(_), _) => Err(Refusal::State),
    };
    let person = match person {
        Ok(person) => person,
        Err(refusal) => return Ok(refused(&state, refusal)),
    };
    let admitted = state.settings.sign_in.sign_up.admits(&person.email);
    let identity = Identity {
        iss: &person.iss,
        sub: &person.sub,
        email: &person.email,
        name: person.name.as_deref(),
    };
    let Some(user) = sign_in_with(&state.pool, &identity, admitted)
        .await
        .map_err(ApiError::from)?
    else {
        metrics::counter!("sign_ins_refused_total", "method" => "oidc", "reason" => "not_admitted")
            .increment(1);
        return Ok(forget_attempt(
            &state,
            page::refused(
                StatusCode::FORBIDDEN,
                "signin.notAdmitted",
                "This address has no account here. Ask whoever runs this Almanac for an invitation.",
            ),
        ));
    };
    metrics::counter!("sign_ins_total", "method" => "oidc").increment(1);
    let until = chrono::Utc::now() + chrono::Duration::seconds(session::MAX_AGE_SECS);
    let cookie = session::open_cookie(&state, user, until).await?;
    let response = Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, "/app/")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::SET_COOKIE, cookie)
        .finish();
    Ok(forget_attempt(&state, response))
}

/// A refusal's page (400; 502 when the provider failed), the attempt forgotten.
fn refused(state: &AppState, refusal: Refusal) -> Response {
    metrics::counter!("sign_ins_refused_total", "method" => "oidc", "reason" => refusal.label())
        .increment(1);
    tracing::info!(reason = %refusal, "single sign-on refused");
    let status = match refusal {
        Refusal::Provider(_) => StatusCode::BAD_GATEWAY,
        Refusal::EmailNotVerified | Refusal::Denied(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    forget_attempt(state, page::sso_refused(status, &refusal.to_string()))
}

/// `response`, clearing the attempt's cookie: an attempt is finished once, either way.
fn forget_attempt(state: &AppState, mut response: Response) -> Response {
    let cleared = state.web.lax_cookie(COOKIE, "", COOKIE_PATH, 0);
    if let Ok(value) = header::HeaderValue::from_str(&cleared) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response.into_response()
}
