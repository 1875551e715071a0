//! Request middleware: request ids, the request span, HTTP metrics, the JSON error
//! envelope for errors that poem raises itself, `Allow` on 405, and keep-alive kept after a
//! request refused before its body was read: the rest of the body is drained before the
//! answer, or, when it cannot be (over the size limit, too slow), the answer says
//! `Connection: close`, so a keep-alive client's next request does not meet a closed
//! connection.
//!
//! `around` runs each request; the route table it consults is `crate::route_table`, the body it
//! limits and drains `body.rs`, the JSON envelope of poem's own errors `errors.rs`; the
//! session cookie is accepted by `session.rs`, the admin's by `admin.rs`, an API key by
//! `keys.rs`.

pub mod activity;
pub mod admin;
mod body;
mod errors;
pub mod keys;
pub mod prefer;
pub mod session;
pub mod workspace;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use tracing::Instrument;
use uuid::Uuid;

use crate::envelope::with_request_id;

use crate::route_table::*;
use body::*;
use errors::*;

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
/// the path matches (`/v1/jobs/{id}`), `/app/{asset}` for a file of the web app, `/mcp`,
/// or `unmatched`. Never a part of the path itself: ids and made-up paths would grow the
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
        _ if path == MCP_PATH => MCP_PATH,
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

/// Each request: its id and span, the limits on its head, its path and query and its body,
/// the call, then the answer's status logged and counted, and its headers finished.
pub async fn around(next: impl Endpoint, mut req: Request) -> poem::Result<Response> {
    let matched = route(req.uri().path());
    // A media upload streams to the store under limits of its own (`routes::media`), and
    // so do the sandbox's platforms (LinkedIn's uploads: `almanac_publishing::sandbox`).
    let uploading = req.method() == poem::http::Method::POST
        && matched.is_some_and(|r| r.template == crate::routes::media::UPLOAD_PATH);
    let (max_body, body_timeout) = req.data::<crate::state::AppState>().map_or(
        (Some(usize::MAX), Duration::from_secs(30)),
        |s| {
            #[cfg(feature = "sandbox")]
            let sandboxed = s.settings.publish.sandbox.is_some()
                && almanac_publishing::sandbox::serve::serves(req.uri().path());
            #[cfg(not(feature = "sandbox"))]
            let sandboxed = false;
            if uploading || sandboxed {
                (None, s.settings.media.upload_timeout)
            } else {
                (Some(s.settings.max_body_bytes), s.settings.body_timeout)
            }
        },
    );
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
    let route = label(matched, req.uri().path());
    let span = request_span(&req, &request_id, method, route);
    let started = Instant::now();
    // For `Allow`; cloning a `Uri` shares its bytes.
    let uri = req.uri().clone();
    let limits = Limits {
        max_body,
        body_timeout,
        body_timed_out,
    };
    let mut response = with_request_id(request_id.clone(), guarded(next, req, matched, limits))
        .instrument(span.clone())
        .await;
    let status = response.status();
    record(&span, method, route, status, started.elapsed());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    if status == StatusCode::METHOD_NOT_ALLOWED
        && let Some(allow) = allowed_methods(uri.path())
    {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    if uri.path().starts_with(crate::routes::client_review::PATH) {
        secret_link(&mut response);
    }
    Ok(response)
}

/// A review link's answers, whatever they are: the token in the address never leaves
/// as a referrer, nothing is kept by a cache or indexed, and no cookie is ever set.
fn secret_link(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-robots-tag",
        HeaderValue::from_static("noindex, nofollow"),
    );
    headers.remove(header::SET_COOKIE);
}

/// The span of a request, continuing the caller's trace when it sent `traceparent`.
fn request_span(req: &Request, request_id: &str, method: &str, route: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "http.request",
        requestId = %request_id,
        http.method = %method,
        http.route = %route,
        http.status = tracing::field::Empty,
        userId = tracing::field::Empty,
        workspaceId = tracing::field::Empty,
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
    span
}

/// What a request's body may be: how many bytes, how long it may take to arrive, and
/// whether it did not arrive in time.
struct Limits {
    /// `None`: the operation reads the body as it arrives and limits it itself.
    max_body: Option<usize>,
    body_timeout: Duration,
    body_timed_out: Arc<std::sync::atomic::AtomicBool>,
}

/// The request held to the limits on its head, its path and query and its body, then
/// called; the answer closes the connection when the rest of a refused body cannot be
/// drained.
async fn guarded(
    next: impl Endpoint,
    req: Request,
    matched: Option<&'static RouteEntry>,
    limits: Limits,
) -> Response {
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
    let (response, body) = match limit_body(req, limits.max_body, matched).await {
        Ok((req, body)) => match next.call(req).await {
            Ok(response) => (response.into_response(), body),
            Err(error) => (error_response(error), body),
        },
        Err(error) => (error_response(error), BodyState::Unread),
    };
    let response = ensure_json_error(response).await;
    if limits
        .body_timed_out
        .load(std::sync::atomic::Ordering::Acquire)
    {
        return closing(envelope_for(
            StatusCode::REQUEST_TIMEOUT,
            Some(format!(
                "the request body did not arrive within {} s",
                limits.body_timeout.as_secs_f64()
            )),
        ));
    }
    let refused = response.status().is_client_error() || response.status().is_server_error();
    let keep_alive = match body {
        BodyState::Settled => true,
        // A refused stream is not read further: the connection closes.
        BodyState::Streamed => !refused,
        BodyState::Shared(_, true) if !refused => true,
        BodyState::Shared(shared, _) => shared.drain().await,
        BodyState::Unread => false,
    };
    if keep_alive {
        response
    } else {
        closing(response)
    }
}

/// The answer's status on the span and in the log, and the request counted and timed.
fn record(span: &tracing::Span, method: &str, route: &str, status: StatusCode, elapsed: Duration) {
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
        assert_eq!(route_label("/mcp"), "/mcp");
        assert_eq!(route_label("/mcp/x"), "unmatched");
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
