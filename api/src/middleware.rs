//! Request middleware: request ids, the request span, HTTP metrics, the JSON error
//! envelope for errors that poem raises itself, `Allow` on 405, and keep-alive kept after a
//! request refused before its body was read: the rest of the body is drained before the
//! answer, or, when it cannot be (over the size limit, too slow), the answer says
//! `Connection: close`, so a keep-alive client's next request does not meet a closed
//! connection.

use std::{
    sync::{Arc, LazyLock},
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::{StreamExt, stream::BoxStream};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use tracing::Instrument;
use uuid::Uuid;

use crate::{envelope::with_request_id, error::ErrorEnvelope};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A usable incoming request id: short printable ASCII, or none.
fn incoming_request_id(req: &Request) -> Option<String> {
    let value = req.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let valid = !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    valid.then(|| value.to_owned())
}

/// The route label of a request, for metrics and the request span: the route template
/// the path matches (`/v1/jobs/{id}`), `/app/{asset}` for a file of the web app, or
/// `unmatched`. Never a part of the path itself: ids and made-up paths would grow the
/// metrics without bound and put users' values in them.
pub fn route_label(path: &str) -> &'static str {
    label(route(path), path)
}

/// [`route_label`] of a path whose route was looked up already.
fn label(route: Option<&'static RouteEntry>, path: &str) -> &'static str {
    if let Some(route) = route {
        return &route.template;
    }
    match path.strip_prefix("/app/") {
        Some(asset) if crate::web::has_asset(asset) => "/app/{asset}",
        _ if matches!(path, "/" | "/app" | "/app/") => "/app/",
        _ => "unmatched",
    }
}

/// The method label: the standard methods, `other` for anything else (a client may send
/// any token as a method).
fn method_label(method: &poem::http::Method) -> &'static str {
    use poem::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The first path or query parameter whose value Postgres could not store (a NUL
/// character, or bytes that are not UTF-8), by name: such a request is refused with 400
/// before any handler runs, so no statement ever sees it.
fn unstorable_parameter(
    route: Option<&'static RouteEntry>,
    uri: &poem::http::Uri,
) -> Option<String> {
    let storable = |raw: &[u8]| {
        let bytes: Vec<u8> = percent_encoding::percent_decode(raw).collect();
        !bytes.contains(&0) && std::str::from_utf8(&bytes).is_ok()
    };
    if let Some(route) = route
        && let Some((name, _)) = route
            .parameters(uri.path())
            .find(|(_, raw)| !storable(raw.as_bytes()))
    {
        return Some(name.to_owned());
    }
    let query = uri.query()?;
    query.split('&').find_map(|pair| {
        // `+` is a space in a query; it never hides a byte.
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let refused = !storable(key.as_bytes()) || !storable(value.as_bytes());
        refused.then(|| {
            let decoded = percent_encoding::percent_decode(key.as_bytes()).decode_utf8_lossy();
            decoded.replace('\0', "\\u0000")
        })
    })
}

/// The request body as the endpoint reads it, shared with the middleware, which drains what
/// the endpoint left unread (a request refused before its body was read: 401, 404, 405,
/// 415) so that the connection can serve the client's next request.
#[derive(Clone)]
struct SharedBody(Arc<tokio::sync::Mutex<BoxStream<'static, std::io::Result<Bytes>>>>);

/// How long an unread body may take to arrive before the connection is closed instead.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

impl SharedBody {
    fn wrap(req: &mut Request) -> Self {
        let shared = Self(Arc::new(tokio::sync::Mutex::new(
            req.take_body().into_bytes_stream().boxed(),
        )));
        let reader = shared.clone();
        req.set_body(poem::Body::from_bytes_stream(futures::stream::unfold(
            reader,
            |reader| async move {
                let next = reader.0.lock().await.next().await;
                next.map(|chunk| (chunk, reader))
            },
        )));
        shared
    }

    /// Reads what is left (at most the declared length, which the limit allowed); false
    /// when it could not be, so the connection must close.
    async fn drain(&self) -> bool {
        let drained = async {
            let mut stream = self.0.lock().await;
            while let Some(chunk) = stream.next().await {
                if chunk.is_err() {
                    return false;
                }
            }
            true
        };
        tokio::time::timeout(DRAIN_TIMEOUT, drained)
            .await
            .unwrap_or(false)
    }
}

/// The request's body, cut off with an error at `deadline`; `timed_out` tells the
/// middleware that it was, so the answer is 408 whatever the endpoint made of the error.
fn body_until(
    body: poem::Body,
    deadline: tokio::time::Instant,
    timed_out: Arc<std::sync::atomic::AtomicBool>,
) -> poem::Body {
    let stream = body.into_bytes_stream().boxed();
    let limited = futures::stream::unfold(Some(stream), move |stream| {
        let timed_out = timed_out.clone();
        async move {
            let mut stream = stream?;
            match tokio::time::timeout_at(deadline, stream.next()).await {
                Ok(Some(chunk)) => Some((chunk, Some(stream))),
                Ok(None) => None,
                Err(_) => {
                    timed_out.store(true, std::sync::atomic::Ordering::Release);
                    let error = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the request body did not arrive in time",
                    );
                    Some((Err(error), None))
                }
            }
        }
    });
    // Whoever reads it may ask again after its end (the drain does).
    poem::Body::from_bytes_stream(limited.fuse())
}

/// What became of the request's body.
enum BodyState {
    /// None declared, or read into memory already.
    Settled,
    /// Declared with a length within the limit (or chunked, for an operation that takes no
    /// body): the endpoint reads it through the share, if its operation takes a body (true).
    Shared(SharedBody, bool),
    /// Refused unread (over the limit).
    Unread,
}

/// Rejects bodies over `max` bytes with 413: by `Content-Length` when given, otherwise by
/// reading at most `max + 1` bytes of a chunked body. An operation that takes no body
/// ignores one: it is drained (or, over the limit, the connection closes), never refused.
async fn limit_body(
    mut req: Request,
    max: usize,
    route: Option<&'static RouteEntry>,
) -> Result<(Request, BodyState), poem::Error> {
    let too_large = || poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let chunked = req.headers().contains_key(header::TRANSFER_ENCODING);
    if declared.is_none_or(|len| len == 0) && !chunked {
        return Ok((req, BodyState::Settled));
    }
    let takes_body = route_takes_body(route, req.method().as_str());
    match declared {
        Some(len) if len > max as u64 && takes_body => Err(too_large()),
        Some(len) if len > max as u64 => Ok((req, BodyState::Unread)),
        Some(_) => {
            let shared = SharedBody::wrap(&mut req);
            Ok((req, BodyState::Shared(shared, takes_body)))
        }
        None if !takes_body => {
            let shared = SharedBody::wrap(&mut req);
            Ok((req, BodyState::Shared(shared, false)))
        }
        None => {
            use tokio::io::AsyncReadExt;
            let mut buf = Vec::new();
            req.take_body()
                .into_async_read()
                .take(max as u64 + 1)
                .read_to_end(&mut buf)
                .await
                .map_err(|e| poem::Error::new(e, StatusCode::BAD_REQUEST))?;
            if buf.len() > max {
                return Err(too_large());
            }
            req.set_body(buf);
            Ok((req, BodyState::Settled))
        }
    }
}

/// Whether the request declares a body.
fn has_body(req: &Request) -> bool {
    req.headers().contains_key(header::CONTENT_LENGTH)
        || req.headers().contains_key(header::TRANSFER_ENCODING)
}

/// The answer, saying the connection closes after it.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The size of the request's head as sent: its request line and headers.
fn head_bytes(req: &Request) -> usize {
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len());
    let line = req.method().as_str().len() + target + " HTTP/1.1\r\n".len() + 1;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + ": \r\n".len())
        .sum();
    line + headers
}

pub async fn around(next: impl Endpoint, mut req: Request) -> poem::Result<Response> {
    let (max_body, body_timeout) = req
        .data::<crate::state::AppState>()
        .map_or((usize::MAX, Duration::from_secs(30)), |s| {
            (s.settings.max_body_bytes, s.settings.body_timeout)
        });
    // The body must arrive within BODY_TIMEOUT_SECS of the head: a client that trickles it
    // (or stops) is answered 408 and its connection closed.
    let body_timed_out = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if has_body(&req) {
        let deadline = tokio::time::Instant::now() + body_timeout;
        let body = body_until(req.take_body(), deadline, body_timed_out.clone());
        req.set_body(body);
    }
    let request_id = incoming_request_id(&req).unwrap_or_else(|| Uuid::now_v7().to_string());
    let method = method_label(req.method());
    let matched = route(req.uri().path());
    let route = label(matched, req.uri().path());
    let span = tracing::info_span!(
        "http.request",
        requestId = %request_id,
        http.method = %method,
        http.route = %route,
        http.status = tracing::field::Empty,
        userId = tracing::field::Empty,
        channel = tracing::field::Empty,
        calendarId = tracing::field::Empty,
        runId = tracing::field::Empty,
        status = tracing::field::Empty,
        duration_ms = tracing::field::Empty,
    );
    if let Some(parent) = req
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        almanac_shared::telemetry::continue_remote_trace(&span, parent);
    }
    let started = Instant::now();
    let id = request_id.clone();
    // For `Allow`; cloning a `Uri` shares its bytes.
    let uri = req.uri().clone();
    let mut response = with_request_id(id, async move {
        if head_bytes(&req) > crate::server::MAX_HEAD_BYTES {
            return closing(envelope_for(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                Some(format!(
                    "the request line and headers may take {} KiB at most",
                    crate::server::MAX_HEAD_BYTES / 1024
                )),
            ));
        }
        if let Some(name) = unstorable_parameter(matched, req.uri()) {
            let reason = "must not contain a NUL character or bytes that are not UTF-8";
            let refused = crate::error::ApiError::invalid_field(&name, format!("{name} {reason}"));
            let response = refused.into_response();
            // The body, if any, is not read: the connection closes after the answer.
            return if has_body(&req) {
                closing(response)
            } else {
                response
            };
        }
        let (response, body) = match limit_body(req, max_body, matched).await {
            Ok((req, body)) => match next.call(req).await {
                Ok(response) => (response.into_response(), body),
                Err(error) => (error_response(error), body),
            },
            Err(error) => (error_response(error), BodyState::Unread),
        };
        let response = ensure_json_error(response).await;
        if body_timed_out.load(std::sync::atomic::Ordering::Acquire) {
            return closing(envelope_for(
                StatusCode::REQUEST_TIMEOUT,
                Some(format!(
                    "the request body did not arrive within {} s",
                    body_timeout.as_secs_f64()
                )),
            ));
        }
        let refused = response.status().is_client_error() || response.status().is_server_error();
        let keep_alive = match body {
            BodyState::Settled => true,
            BodyState::Shared(_, true) if !refused => true,
            BodyState::Shared(shared, _) => shared.drain().await,
            BodyState::Unread => false,
        };
        if keep_alive {
            response
        } else {
            closing(response)
        }
    })
    .instrument(span.clone())
    .await;
    let status = response.status();
    let elapsed = started.elapsed();
    span.record("http.status", status.as_u16());
    span.record("duration_ms", elapsed.as_millis() as u64);
    span.in_scope(|| {
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), "request finished");
        } else {
            tracing::debug!(status = status.as_u16(), "request finished");
        }
    });
    let labels = [
        ("method", method.to_owned()),
        ("route", route.to_owned()),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = allowed_methods(uri.path())
    {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(response)
}

/// A route of the API: its template, its segments (parameters as `{name}`) and the methods
/// it serves, each with whether its operation takes a request body.
struct RouteEntry {
    template: String,
    segments: Vec<String>,
    methods: Vec<(String, bool)>,
    /// The methods whose operation takes no credentials (an OAuth callback, health).
    public: Vec<String>,
}

/// Every route: the OpenAPI document's, plus the undocumented ones.
static ROUTES: LazyLock<Vec<RouteEntry>> = LazyLock::new(|| {
    let spec: serde_json::Value =
        serde_json::from_str(&crate::openapi_service().spec()).expect("the spec is JSON");
    let mut routes: Vec<RouteEntry> = spec["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .into_iter()
                .flatten()
                .map(|(method, operation)| {
                    let body = operation.get("requestBody").is_some();
                    (method.to_ascii_uppercase(), body)
                })
                .collect();
            let public = item
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(_, operation)| operation["security"].as_array().is_none_or(Vec::is_empty))
                .map(|(method, _)| method.to_ascii_uppercase())
                .collect();
            RouteEntry {
                public,
                ..RouteEntry::new(path, methods)
            }
        })
        .collect();
    let undocumented: [(&str, &[(&str, bool)]); 6] = [
        ("/openapi.json", &[("GET", false)]),
        ("/docs", &[("GET", false)]),
        ("/metrics", &[("GET", false)]),
        ("/app/config.json", &[("GET", false)]),
        ("/app/dev-login", &[("POST", true)]),
        (
            "/app/session",
            &[("GET", false), ("POST", true), ("DELETE", false)],
        ),
    ];
    for (path, methods) in undocumented {
        let methods = methods
            .iter()
            .map(|(m, body)| ((*m).into(), *body))
            .collect();
        routes.push(RouteEntry::new(path, methods));
    }
    routes
});

impl RouteEntry {
    fn new(template: &str, methods: Vec<(String, bool)>) -> Self {
        Self {
            template: template.to_owned(),
            segments: segments(template).map(str::to_owned).collect(),
            methods,
            public: Vec::new(),
        }
    }

    /// The name of each parameter with the (percent-encoded) segment of `path` it takes.
    fn parameters<'p>(&self, path: &'p str) -> impl Iterator<Item = (&str, &'p str)> {
        self.segments
            .iter()
            .zip(segments(path))
            .filter_map(|(template, given)| {
                let name = template.strip_prefix('{')?.strip_suffix('}')?;
                Some((name, given))
            })
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_end_matches('/').split('/')
}

/// The route `path` matches (a literal segment wins over a parameter: `/api/cards/export`
/// over `/api/cards/{id}`).
fn route(path: &str) -> Option<&'static RouteEntry> {
    let wanted: Vec<&str> = segments(path).collect();
    ROUTES
        .iter()
        .filter(|route| {
            route.segments.len() == wanted.len()
                && route
                    .segments
                    .iter()
                    .zip(&wanted)
                    .all(|(t, w)| t == w || (t.starts_with('{') && !w.is_empty()))
        })
        .min_by_key(|route| route.segments.iter().filter(|t| t.starts_with('{')).count())
}

/// Whether the documented operation at `method` `path` takes no credentials: a session
/// cookie that comes along is no concern of it.
pub fn takes_no_credentials(method: &poem::http::Method, path: &str) -> bool {
    route(path).is_some_and(|route| route.public.iter().any(|m| m == method.as_str()))
}

/// The methods of the route `path` matches.
fn route_methods(path: &str) -> Option<&'static [(String, bool)]> {
    route(path).map(|route| route.methods.as_slice())
}

/// `Allow` for a path: the methods of its route.
fn allowed_methods(path: &str) -> Option<HeaderValue> {
    let methods: Vec<&str> = route_methods(path)?
        .iter()
        .map(|(method, _)| method.as_str())
        .collect();
    HeaderValue::from_str(&methods.join(", ")).ok()
}

/// Whether the operation at `method` `path` reads a request body (true for a request that
/// matches no operation: its body is refused like any other).
#[cfg(test)]
fn takes_body(method: &str, path: &str) -> bool {
    route_takes_body(route(path), method)
}

/// [`takes_body`] of a request whose route was looked up already.
fn route_takes_body(route: Option<&'static RouteEntry>, method: &str) -> bool {
    route
        .and_then(|route| route.methods.iter().find(|(m, _)| m == method))
        .is_none_or(|(_, body)| *body)
}

/// Turns an error poem raised (parsing, routing, content type) into the JSON envelope. A
/// path whose id does not parse names no resource: 404, as for an id nobody has.
fn error_response(error: poem::Error) -> Response {
    if error.is::<poem_openapi::error::ParsePathError>() {
        return envelope_for(StatusCode::NOT_FOUND, Some(error.to_string()));
    }
    let message = error.to_string();
    let response = error.into_response();
    if is_json(&response) {
        // Our own ApiError responses, already in the envelope.
        return response;
    }
    envelope_for(response.status(), Some(message))
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Any error response that is not JSON yet (e.g. poem's 404 for an unknown route) gets the envelope.
async fn ensure_json_error(response: Response) -> Response {
    let status = response.status();
    if (status.is_client_error() || status.is_server_error()) && !is_json(&response) {
        let retry_after = response.headers().get(header::RETRY_AFTER).cloned();
        let message = response
            .into_body()
            .into_string()
            .await
            .ok()
            .filter(|m| !m.is_empty());
        let mut fresh = envelope_for(status, message);
        if let Some(value) = retry_after {
            fresh.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return fresh;
    }
    response
}

fn envelope_for(status: StatusCode, message: Option<String>) -> Response {
    let code = match status {
        StatusCode::BAD_REQUEST => "VALIDATION_FAILED",
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::REQUEST_TIMEOUT => "REQUEST_TIMEOUT",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "HEADERS_TOO_LARGE",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::TOO_MANY_REQUESTS => "RATE_LIMITED",
        StatusCode::SERVICE_UNAVAILABLE => "SERVICE_UNAVAILABLE",
        s if s.is_server_error() => "INTERNAL",
        _ => "ERROR",
    };
    // Server errors never reveal internals.
    let message = if status.is_server_error() {
        "an unexpected error occurred; quote the request id when reporting it".to_owned()
    } else {
        message.unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned())
    };
    let body = ErrorEnvelope::new(code, message, None).0;
    let json = serde_json::json!({
        "data": null,
        "error": { "code": body.error.code, "message": body.error.message },
        "meta": { "requestId": body.meta.request_id },
    });
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(json.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_labels_hide_ids() {
        assert_eq!(
            route_label("/api/ai/generations/0191f0f0-0000-7000-8000-000000000000/suggestions"),
            "/api/ai/generations/{id}/suggestions"
        );
        assert_eq!(route_label("/v1/jobs/42"), "/v1/jobs/{id}");
        // A user's own ids are never a label.
        assert_eq!(
            route_label("/api/organic/brands/brand_123/accounts/ig_123"),
            "/api/organic/brands/{id}/accounts/{accountId}"
        );
        assert_eq!(
            route_label("/api/organic/brands/brand_123/nope"),
            "unmatched"
        );
        assert_eq!(route_label("/nowhere/at/all"), "unmatched");
        assert_eq!(route_label("/app/js/main.js"), "/app/{asset}");
        assert_eq!(route_label("/app/js/secret-plans.js"), "unmatched");
        assert_eq!(route_label("/app/"), "/app/");
        assert_eq!(
            method_label(&poem::http::Method::from_bytes(b"BREW").unwrap()),
            "other"
        );
    }

    #[test]
    fn allow_lists_the_methods_of_the_matching_route() {
        let allow = |path| allowed_methods(path).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(allow("/api/cards").as_deref(), Some("GET, POST"));
        assert_eq!(
            allow("/api/cards/0191f0f0-0000-7000-8000-000000000000").as_deref(),
            Some("DELETE, PATCH")
        );
        assert_eq!(allow("/v1/jobs/x/cancel").as_deref(), Some("POST"));
        assert_eq!(allow("/api/cards/export").as_deref(), Some("GET"));
        assert_eq!(allow("/nowhere"), None);
    }

    #[test]
    fn only_operations_with_a_body_read_one() {
        assert!(takes_body("POST", "/api/cards"));
        assert!(!takes_body("GET", "/api/cards"));
        assert!(!takes_body(
            "DELETE",
            "/api/cards/0191f0f0-0000-7000-8000-000000000000"
        ));
        assert!(!takes_body("POST", "/v1/jobs/x/cancel"));
        assert!(takes_body("POST", "/nowhere"));
    }
}
