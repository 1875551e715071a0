//! Request middleware: request ids, the request span, HTTP metrics, and the JSON error
//! envelope for errors that poem raises itself.

use std::time::Instant;

use poem::{
    Endpoint, IntoResponse, Request, Response,
    http::{HeaderValue, StatusCode, header},
};
use tracing::Instrument;
use uuid::Uuid;

use crate::error::ErrorEnvelope;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

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

/// Route label for metrics: the path with ids replaced, so label cardinality stays small.
pub fn route_label(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if Uuid::parse_str(segment).is_ok()
                || segment.chars().all(|c| c.is_ascii_digit()) && !segment.is_empty()
            {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Rejects bodies over `max` bytes with 413: by `Content-Length` when given, otherwise by
/// reading at most `max + 1` bytes of a chunked body.
async fn limit_body(mut req: Request, max: usize) -> Result<Request, poem::Error> {
    let too_large = || poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max as u64 => Err(too_large()),
        Some(_) => Ok(req),
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
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
            Ok(req)
        }
        None => Ok(req),
    }
}

pub async fn around(next: impl Endpoint, req: Request) -> poem::Result<Response> {
    let max_body = req
        .data::<crate::state::AppState>()
        .map_or(usize::MAX, |s| s.settings.max_body_bytes);
    let request_id = incoming_request_id(&req).unwrap_or_else(|| Uuid::now_v7().to_string());
    let method = req.method().to_string();
    let route = route_label(req.uri().path());
    let span = tracing::info_span!(
        "http.request",
        requestId = %request_id,
        http.method = %method,
        http.route = %route,
        http.status = tracing::field::Empty,
        userId = tracing::field::Empty,
        calendarId = tracing::field::Empty,
        runId = tracing::field::Empty,
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
    let mut response = REQUEST_ID
        .scope(id, async move {
            let response = match limit_body(req, max_body).await {
                Ok(req) => match next.call(req).await {
                    Ok(response) => response.into_response(),
                    Err(error) => error_response(error),
                },
                Err(error) => error_response(error),
            };
            ensure_json_error(response).await
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
        ("method", method),
        ("route", route),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(response)
}

/// Turns an error poem raised (parsing, routing, content type) into the JSON envelope.
fn error_response(error: poem::Error) -> Response {
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
    }
}
