//! The web app at `/app`: plain ES modules and CSS from `api/web/`, embedded in the binary
//! (debug builds too), served same-origin with the API so the page calls it with a bearer
//! token and no CORS. `/` redirects here. With `DEV_LOGIN=true` (`make run`) the page can
//! mint a development token for a fresh or remembered user.

use poem::{
    Endpoint, IntoResponse, Request, Response, Route, get, handler,
    http::{HeaderValue, Method, StatusCode, header},
    post,
    web::{Data, Json, Path, Redirect},
};
use rust_embed::RustEmbed;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::{error::ApiError, state::AppState};

#[derive(RustEmbed)]
#[folder = "web/"]
struct Files;

/// How long a development token lives: a working day.
const DEV_TOKEN_TTL_SECS: i64 = 12 * 3600;

/// What the page may load: only this origin (no inline script), and images from anywhere
/// an entry's media may live.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: https:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// `/app/...`, added to the API's routes; `/`, `/app` and `/app/` are answered by
/// [`WithApp`] (poem's router gives `/` to the API nested there).
pub fn routes(route: Route) -> Route {
    route.nest(
        "/app",
        Route::new()
            .at("/config.json", get(config))
            .at("/dev-login", post(dev_login))
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
    Json(json!({
        "devLogin": state.settings.dev_login,
        "aiProvider": state.settings.ai.provider.as_str(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DevLogin {
    /// The remembered user; a fresh one when absent.
    user_id: Option<Uuid>,
}

/// `POST /app/dev-login` `{userId?}`: a token for that user (or a new one). 404 unless
/// `DEV_LOGIN=true`, as if the route did not exist.
#[handler]
fn dev_login(state: Data<&AppState>, body: String) -> poem::Result<Response> {
    if !state.settings.dev_login {
        return Err(StatusCode::NOT_FOUND.into());
    }
    let request: DevLogin = if body.trim().is_empty() {
        DevLogin::default()
    } else {
        serde_json::from_str(&body).map_err(|e| {
            ApiError::bad_request(format!("the body must be {{\"userId\"?: uuid}}: {e}"), None)
        })?
    };
    let user = request.user_id.unwrap_or_else(Uuid::now_v7);
    Ok(Json(json!({
        "token": state.jwt.mint(user, DEV_TOKEN_TTL_SECS),
        "userId": user,
        "expiresIn": DEV_TOKEN_TTL_SECS,
    }))
    .with_header(header::CACHE_CONTROL, "no-store")
    .into_response())
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
