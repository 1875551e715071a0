//! People sign in to the web app: by a link emailed to them, or by single sign-on (OpenID
//! Connect). Either way the browser ends with the `almanac_session` cookie
//! (`crate::session`), and the person has an account (`users`) whose address was proven.
//!
//! - `POST /app/sign-in {email, language?}` answers 202 with the same body whoever asks:
//!   the link is made and sent afterwards (`almanac_shared::sign_in::Postman`) when the
//!   address has an account, an invitation, or may have one (`SIGN_UP`).
//!   `SIGN_IN_RATE_PER_CLIENT` and `SIGN_IN_RATE_PER_EMAIL` bound the asking (429 with
//!   `Retry-After`).
//! - `GET /app/sign-in/{token}` is a page naming the address with a "Sign in" button; its
//!   `POST` (the app's script, same origin) uses the link once and opens the session, so a
//!   mail scanner that fetches the link uses nothing.
//! - `GET /app/oidc/start` and `GET /app/oidc/callback`: [`sso`].
//! - `GET /app/dev-outbox?email=`: under `make run` (`DEV_LOGIN` and the outbox), the newest
//!   link the outbox holds for the address.

mod page;
pub mod sso;

use std::net::IpAddr;

use almanac_shared::{config::EmailProvider, sign_in as links, store::sign_in::Link};
use poem::{
    IntoResponse, Request, Response, handler,
    http::{StatusCode, header},
    web::{Data, Json, Path, Query},
};
use serde::Deserialize;
use serde_json::json;

use crate::{
    error::{ApiError, ErrorEnvelope},
    rate_limit::{RateDecision, check_rate},
    session,
    state::AppState,
};

/// `almanac-api invite --email <addr>`: the address's account (made now, or found) and a
/// link to it, emailed and told (the link too, for an operator with no email provider).
pub async fn invite(settings: &almanac_shared::Settings, email: &str) -> anyhow::Result<String> {
    let Some(email) = almanac_shared::email::sign_in_address(email) else {
        anyhow::bail!("--email: `{email}` is not an email address");
    };
    let pool = almanac_shared::db::pool(settings, settings.worker_database_acquire_timeout)?;
    let user = almanac_shared::store::sign_in::invite(&pool, &email).await?;
    let link = links::issue(settings, &pool, &email, Some(user)).await?;
    let mailer = almanac_shared::email::from_settings(settings)?;
    let minutes = settings.sign_in.ttl.as_secs() / 60;
    Ok(
        match links::mail(settings, &*mailer, &email, &link, links::Language::En).await {
            Ok(()) => format!(
                "invited {email} (user {user}): a sign-in link was emailed; it works once, for \
                 {minutes} minutes:\n{link}"
            ),
            Err(error) => format!(
                "invited {email} (user {user}); the email was not sent ({error}). This link works \
                 once, for {minutes} minutes:\n{link}"
            ),
        },
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    email: String,
    /// The page's language, for the email's words (`en`, `fr`).
    language: Option<String>,
}

/// `POST /app/sign-in {email}`: 202, the same body whether or not the address may sign in.
#[handler]
pub async fn ask(req: &Request, state: Data<&AppState>, body: String) -> poem::Result<Response> {
    session::from_the_app(req, &state)?;
    let ask: Ask = serde_json::from_str(&body)
        .map_err(|_| ApiError::invalid_field("email", "send {\"email\": \"you@example.com\"}"))?;
    let Some(email) = almanac_shared::email::sign_in_address(&ask.email) else {
        return Err(ApiError::invalid_field(
            "email",
            "this is not an email address (name@example.com)",
        )
        .into());
    };
    let settings = &state.settings.sign_in;
    limit(
        &state,
        "client",
        &client(req, settings.trusted_proxy_hops),
        settings.rate_per_client,
    )
    .await?;
    let address = hex::encode(&links::digest(&email)[..16]);
    limit(&state, "email", &address, settings.rate_per_email).await?;
    state.postman.post(links::Request {
        email,
        language: links::Language::parse(ask.language.as_deref()),
    });
    Ok(Json(json!({
        "status": "accepted",
        "expiresInMinutes": settings.ttl.as_secs() / 60,
    }))
    .with_status(StatusCode::ACCEPTED)
    .with_header(header::CACHE_CONTROL, "no-store")
    .into_response())
}

/// Takes a slot of the sign-in window for `who` (`family`: `client` or `email`), or 429.
async fn limit(state: &AppState, family: &'static str, who: &str, most: u32) -> poem::Result<()> {
    let key = state
        .settings
        .redis_key(&["ratelimit", &format!("{{sign-in:{family}:{who}}}")]);
    let window = state.settings.sign_in.rate_window;
    match check_rate(&state.events_redis, &key, most, window, None)
        .await
        .map_err(ApiError::from)?
    {
        RateDecision::Allowed(_) => Ok(()),
        RateDecision::Limited(retry_after) => {
            metrics::counter!("rate_limited_total", "family" => if family == "client" { "sign_in_client" } else { "sign_in_email" })
                .increment(1);
            Err(ApiError::rate_limited(retry_after).into())
        }
    }
}

/// The client's address: the connection's, or, behind `hops` trusted proxies, the one the
/// outermost of them wrote into `X-Forwarded-For`.
pub(crate) fn client(req: &Request, hops: usize) -> String {
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|part| part.trim().parse().ok())
        .collect();
    let connection = req.remote_addr().as_socket_addr().map(|a| a.ip());
    let chosen = if hops > 0 && forwarded.len() >= hops {
        Some(forwarded[forwarded.len() - hops])
    } else {
        connection
    };
    chosen.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

/// `GET /app/sign-in/{token}`: the link's page (nothing is used).
#[handler]
pub async fn show(state: Data<&AppState>, Path(token): Path<String>) -> poem::Result<Response> {
    if !links::well_formed(&token) {
        return Ok(refusal_page(Link::Unknown));
    }
    let found = almanac_shared::store::sign_in::look(&state.pool, &links::digest(&token))
        .await
        .map_err(ApiError::from)?;
    Ok(match found {
        Link::Usable { email } => page::link(&token, &email),
        other => refusal_page(other),
    })
}

fn refusal_page(link: Link) -> Response {
    match link {
        Link::Used => page::refused(
            StatusCode::GONE,
            "signin.linkUsed",
            "This link was already used. Ask for a new one.",
        ),
        Link::Expired => page::refused(
            StatusCode::GONE,
            "signin.linkExpired",
            "This link has expired. Ask for a new one.",
        ),
        _ => page::refused(
            StatusCode::NOT_FOUND,
            "signin.linkUnknown",
            "This is not a sign-in link of this Almanac. Ask for a new one.",
        ),
    }
}

/// `POST /app/sign-in/{token}`: uses the link and opens the session (204 with the cookie),
/// or 401 saying why it cannot be used.
#[handler]
pub async fn use_link(
    req: &Request,
    state: Data<&AppState>,
    Path(token): Path<String>,
) -> poem::Result<Response> {
    session::from_the_app(req, &state)?;
    let redeemed = if links::well_formed(&token) {
        almanac_shared::store::sign_in::redeem(&state.pool, &links::digest(&token))
            .await
            .map_err(ApiError::from)?
    } else {
        Err(Link::Unknown)
    };
    let (code, message) = match redeemed {
        Ok(user) => {
            metrics::counter!("sign_ins_total", "method" => "link").increment(1);
            let until = chrono::Utc::now() + chrono::Duration::seconds(session::MAX_AGE_SECS);
            return session::open(&state, user, until).await;
        }
        Err(Link::Used) => (
            "SIGN_IN_LINK_USED",
            "this link was already used; ask for a new one",
        ),
        Err(Link::Expired) => (
            "SIGN_IN_LINK_EXPIRED",
            "this link has expired; ask for a new one",
        ),
        Err(_) => (
            "SIGN_IN_LINK_INVALID",
            "this is not a sign-in link of this Almanac; ask for a new one",
        ),
    };
    metrics::counter!("sign_in_links_refused_total", "code" => code).increment(1);
    Err(ApiError::Unauthorized(ErrorEnvelope::new(code, message, None)).into())
}

#[derive(Debug, Deserialize)]
pub struct OutboxQuery {
    email: String,
}

/// `GET /app/dev-outbox?email=`: 303 to the newest sign-in link the outbox holds for the
/// address, or 404 while there is none yet. Only under `make run` (`DEV_LOGIN` with the
/// `outbox` provider): it signs anyone in, as the development sign-in does.
#[handler]
pub async fn dev_outbox(
    state: Data<&AppState>,
    Query(query): Query<OutboxQuery>,
) -> poem::Result<Response> {
    let settings = &state.settings;
    if !(settings.dev_login && settings.email.provider == EmailProvider::Outbox) {
        return Err(StatusCode::NOT_FOUND.into());
    }
    let Some(email) = almanac_shared::email::sign_in_address(&query.email) else {
        return Err(ApiError::invalid_field("email", "not an email address").into());
    };
    let dir = settings.email.outbox_dir.clone();
    let found = tokio::task::spawn_blocking(move || newest_link(&dir, &email))
        .await
        .map_err(|e| ApiError::internal(e.into()))?;
    match found {
        Some(path) => Ok(poem::web::Redirect::see_other(path).into_response()),
        None => Err(ApiError::NotFound(ErrorEnvelope::new(
            "NOT_FOUND",
            "no sign-in email for this address in the outbox yet",
            None,
        ))
        .into()),
    }
}

/// The newest sign-in link among the outbox's last emails to `email`.
fn newest_link(dir: &std::path::Path, email: &str) -> Option<String> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
        .collect();
    // Named by their delivery's UUIDv7: by name is by time.
    files.sort();
    let to = format!("to: {email}");
    files.iter().rev().take(200).find_map(|path| {
        let text = std::fs::read_to_string(path).ok()?;
        let addressed = text
            .lines()
            .any(|line| line.to_ascii_lowercase().trim() == to);
        if addressed {
            links::path_in(&text)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::client;

    #[test]
    fn the_client_is_the_address_the_outermost_trusted_proxy_saw() {
        let req = poem::Request::builder()
            .header("x-forwarded-for", "203.0.113.7, 198.51.100.2")
            .header("x-forwarded-for", "10.0.0.9")
            .finish();
        // No proxy trusted: the connection's own address (none in a built request).
        assert_eq!(client(&req, 0), "unknown");
        assert_eq!(client(&req, 1), "10.0.0.9");
        assert_eq!(client(&req, 2), "198.51.100.2");
        assert_eq!(client(&req, 3), "203.0.113.7");
        // More hops trusted than the header holds: it was forged before the first proxy.
        assert_eq!(client(&req, 4), "unknown");
    }
}
