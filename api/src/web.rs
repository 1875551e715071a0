//! The web app at `/app`: plain ES modules and CSS from `api/web/`, embedded in the binary
//! (debug builds too), served same-origin with the API so the page calls it with its
//! browser session (`crate::session`) and no CORS. `/` redirects here. With
//! `DEV_LOGIN=true` (`make run`) the page can open a session for a fresh or remembered user.

use poem::{
    Endpoint, IntoResponse, Request, Response, Route, get, handler,
    http::{HeaderValue, Method, StatusCode, header},
    post,
    web::{Data, Json, Path, Redirect},
};
use poem_openapi::types::ToJSON;
use rust_embed::RustEmbed;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::{error::ApiError, session, sign_in, state::AppState};

#[derive(RustEmbed)]
#[folder = "web/"]
struct Files;

/// How long a development session lives: a working day.
const DEV_SESSION_SECS: i64 = 12 * 3600;

/// What the page may load: only this origin (no inline script), images from anywhere an
/// entry's media may live, and videos from this origin or the page's own object URLs (a
/// file being uploaded, opened to take its poster frame).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: https:; \
     media-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
     form-action 'self'";

/// `/app/...`, added to the API's routes; `/`, `/app` and `/app/` are answered by
/// [`WithApp`] (poem's router gives `/` to the API nested there).
pub fn routes(route: Route) -> Route {
    route.nest(
        "/app",
        Route::new()
            .at("/config.json", get(config))
            .at("/dev-login", post(dev_login))
            .at("/sign-in", post(sign_in::ask))
            .at(
                "/sign-in/:token",
                get(sign_in::show).post(sign_in::use_link),
            )
            .at("/oidc/start", get(sign_in::sso::start))
            .at("/oidc/callback", get(sign_in::sso::callback))
            .at("/dev-outbox", get(sign_in::dev_outbox))
            .at(
                "/admin-session",
                post(admin_session_open).delete(admin_session_close),
            )
            .at(
                "/session",
                get(session_describe)
                    .post(session_open)
                    .delete(session_close),
            )
            .at("/*path", get(asset)),
    )
}

/// The app's entry points in front of every route: `/` and `/app` redirect to `/app/`,
/// which is the page.
pub struct WithApp<E>(pub E);

impl<E: Endpoint> Endpoint for WithApp<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        match req.uri().path() {
            "/" | "/app" if req.method() == Method::GET || req.method() == Method::HEAD => {
                Ok(Redirect::see_other("/app/").into_response())
            }
            "/app/" if req.method() == Method::GET || req.method() == Method::HEAD => {
                Ok(serve(&req, "index.html"))
            }
            _ => self.0.call(req).await.map(IntoResponse::into_response),
        }
    }
}

#[handler]
fn asset(req: &Request, Path(path): Path<String>) -> Response {
    serve(req, &path)
}

/// What the page needs to know before signing in.
#[handler]
fn config(state: Data<&AppState>) -> Json<serde_json::Value> {
    let email = state.settings.email.provider;
    Json(json!({
        "devLogin": state.settings.dev_login,
        // How people sign in: by an emailed link when an email provider is set (the
        // outbox under `make run`, which the page opens), by single sign-on when
        // configured (the button's words), else with a pasted token.
        "signIn": {
            "email": email.as_str(),
            "devOutbox": state.settings.dev_login && email == almanac_shared::config::EmailProvider::Outbox,
            "sso": state.oidc.as_ref().map(|oidc| oidc.label()),
            "linkMinutes": state.settings.sign_in.ttl.as_secs() / 60,
        },
        // PLATFORM_SANDBOX: the platforms are the API's fakes (a badge says so).
        "sandbox": state.settings.publish.sandbox.is_some(),
        "aiProvider": state.settings.ai.provider.as_str(),
        "version": env!("CARGO_PKG_VERSION"),
        // The platforms Almanac publishes to, as `GET /v1/platforms` answers them: the app
        // offers these, marks their posts with their colours and counts a post's text
        // against each one's limits.
        "platforms": crate::routes::platforms::items(&state).iter().map(ToJSON::to_json).collect::<Vec<_>>(),
        // The channels a calendar plans for: the platforms, then those no adapter
        // publishes to, each with its label and colour.
        "channels": state.platforms.channels(),
        // The organic week's platforms (seed 003), in order.
        "organicPlatforms": almanac_shared::domain::organic::SeedPlatform::ALL
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>(),
        // What an upload may be (`POST /v1/media`): each file type and its largest size,
        // so that the app says a file is too large before sending it.
        "mediaUploads": almanac_shared::media::MediaFormat::ALL
            .iter()
            .map(|f| json!({ "mime": f.mime(), "kind": f.kind().as_str(), "maxBytes": f.max_bytes() }))
            .collect::<Vec<_>>(),
        // An entry whose format holds one of these words is a video post (else a photo).
        "videoFormatWords": almanac_publishing::MediaKind::VIDEO_FORMAT_WORDS,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DevLogin {
    /// The remembered user; a fresh one when absent.
    user_id: Option<Uuid>,
}

/// `POST /app/dev-login` `{userId?}`: a session for that user (or a new one), 204 with the
/// cookie. 404 unless `DEV_LOGIN=true`, as if the route did not exist.
#[handler]
async fn dev_login(req: &Request, state: Data<&AppState>, body: String) -> poem::Result<Response> {
    if !state.settings.dev_login {
        return Err(StatusCode::NOT_FOUND.into());
    }
    session::from_the_app(req, &state)?;
    let request: DevLogin = if body.trim().is_empty() {
        DevLogin::default()
    } else {
        serde_json::from_str(&body).map_err(|e| {
            ApiError::bad_request(format!("the body must be {{\"userId\"?: uuid}}: {e}"), None)
        })?
    };
    let user = request.user_id.unwrap_or_else(Uuid::now_v7);
    let expires = chrono::Utc::now() + chrono::Duration::seconds(DEV_SESSION_SECS);
    session::open(&state, user, expires).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionRequest {
    /// A JWT for this API, as an API client sends it.
    token: String,
}

/// `POST /app/session` `{token}`: a session for the token's user until its expiry (at most
/// 7 days), 204 with the cookie. The page keeps no token.
#[handler]
async fn session_open(
    req: &Request,
    state: Data<&AppState>,
    body: String,
) -> poem::Result<Response> {
    session::from_the_app(req, &state)?;
    let request: SessionRequest = serde_json::from_str(&body).map_err(|_| {
        ApiError::invalid_field("token", "paste the access token (a JWT for this API)")
    })?;
    let claims = state.jwt.verify(request.token.trim()).map_err(|_| {
        ApiError::unauthorized(
            "this access token is not valid here: it may have expired, or be for another server",
        )
    })?;
    if let Some(email) = &claims.email {
        state.contacts.note(&state.pool, claims.sub, email);
    }
    let expires = chrono::DateTime::from_timestamp(claims.exp, 0).unwrap_or_default();
    session::open(&state, claims.sub, expires).await
}

/// `GET /app/session`: `{userId, expiresAt}` of the cookie's session, or 401.
#[handler]
async fn session_describe(req: &Request, state: Data<&AppState>) -> poem::Result<Response> {
    session::describe(&state, req).await
}

/// `DELETE /app/session`: signs out (the session ends server-side), 204.
#[handler]
async fn session_close(req: &Request, state: Data<&AppState>) -> poem::Result<Response> {
    session::from_the_app(req, &state)?;
    session::close(&state, req).await
}

/// `POST /app/admin-session` `{token}`: the console's session (`crate::admin_session`).
#[handler]
async fn admin_session_open(
    req: &Request,
    state: Data<&AppState>,
    body: String,
) -> poem::Result<Response> {
    crate::admin_session::open(&state, req, &body).await
}

/// `DELETE /app/admin-session`: signs the console out, 204.
#[handler]
async fn admin_session_close(req: &Request, state: Data<&AppState>) -> poem::Result<Response> {
    crate::admin_session::close(&state, req).await
}

/// Whether the web app has a file at `path` (relative to `/app/`).
pub fn has_asset(path: &str) -> bool {
    Files::get(path).is_some()
}

/// One embedded file, revalidated by its hash (`ETag`, 304).
fn serve(req: &Request, path: &str) -> Response {
    let Some(file) = Files::get(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag.as_bytes() == etag.as_bytes());
    let builder = Response::builder()
        .header(header::ETAG, etag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY)
        .header(header::REFERRER_POLICY, "no-referrer");
    if fresh {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder
        .header(header::CONTENT_TYPE, content_type(path))
        .body(file.data.into_owned())
}

fn content_type(path: &str) -> HeaderValue {
    let extension = path.rsplit_once('.').map_or("", |(_, ext)| ext);
    HeaderValue::from_static(match extension {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;

    use super::Files;

    fn catalog(language: &str) -> BTreeMap<String, Value> {
        let file = Files::get(&format!("i18n/{language}.json")).expect("the catalog is embedded");
        serde_json::from_slice(&file.data).expect("the catalog is a JSON object")
    }

    /// The `{name}` placeholders of a catalog value (every plural form's).
    fn placeholders(value: &Value) -> BTreeSet<String> {
        let texts: Vec<&str> = match value {
            Value::String(text) => vec![text],
            Value::Object(forms) => forms.values().filter_map(Value::as_str).collect(),
            other => panic!("a catalog value is a string or plural forms, not {other}"),
        };
        let pattern = regex::Regex::new(r"\{(\w+)\}").unwrap();
        texts
            .iter()
            .flat_map(|text| pattern.captures_iter(text).map(|c| c[1].to_owned()))
            .collect()
    }

    #[test]
    fn french_and_english_have_the_same_keys_forms_and_placeholders() {
        let (en, fr) = (catalog("en"), catalog("fr"));
        let missing_fr: Vec<_> = en.keys().filter(|k| !fr.contains_key(*k)).collect();
        let missing_en: Vec<_> = fr.keys().filter(|k| !en.contains_key(*k)).collect();
        assert!(missing_fr.is_empty(), "keys without French: {missing_fr:?}");
        assert!(
            missing_en.is_empty(),
            "keys without English: {missing_en:?}"
        );
        for (key, english) in &en {
            let french = &fr[key];
            assert_eq!(placeholders(english), placeholders(french), "{key}");
            if let Value::Object(forms) = english {
                assert!(forms.contains_key("other"), "{key} has no `other` form");
                assert!(
                    french.get("other").is_some(),
                    "{key} has no French `other` form"
                );
            }
        }
    }

    #[test]
    fn every_key_the_app_uses_is_in_the_catalog() {
        let en = catalog("en");
        let literal = regex::Regex::new(r#"\bt\("([\w.]+)""#).unwrap();
        let dynamic = regex::Regex::new(r"\bt\(`([\w.]+)\$\{").unwrap();
        let attribute = regex::Regex::new(r#"data-i18n(?:-label)?="([\w.]+)""#).unwrap();
        let mut used = 0;
        for path in Files::iter().filter(|p| p.ends_with(".js") || p.ends_with(".html")) {
            let file = Files::get(&path).unwrap();
            let source = String::from_utf8_lossy(&file.data);
            for key in literal
                .captures_iter(&source)
                .chain(attribute.captures_iter(&source))
            {
                used += 1;
                assert!(
                    en.contains_key(&key[1]),
                    "{path} uses `{}`, in no catalog",
                    &key[1]
                );
            }
            for prefix in dynamic.captures_iter(&source) {
                assert!(
                    en.keys().any(|k| k.starts_with(&prefix[1])),
                    "{path} builds keys from `{}`, which no catalog key starts with",
                    &prefix[1]
                );
            }
        }
        assert!(used > 100, "only {used} keys found: is the scan right?");
    }

    #[test]
    fn seed_004_s_labels_are_its_french_byte_for_byte() {
        let fr = catalog("fr");
        for (key, value) in [
            ("schedule.title", "Planification"),
            ("schedule.enabled", "Planification activee"),
            ("schedule.days", "Jours"),
            ("schedule.time", "Heure (UTC)"),
            ("schedule.emails", "Destinataires"),
            ("schedule.addEmail", "Ajouter une adresse"),
            ("schedule.maxEmails", "3 adresses maximum"),
            ("schedule.saved", "Planification enregistree"),
            ("schedule.deleted", "Planification supprimee"),
            ("schedule.dayMon", "L"),
            ("schedule.dayTue", "M"),
            ("schedule.dayWed", "M"),
            ("schedule.dayThu", "J"),
            ("schedule.dayFri", "V"),
            ("schedule.daySat", "S"),
            ("schedule.daySun", "D"),
        ] {
            assert_eq!(fr[key], value, "{key}");
        }
    }
}
