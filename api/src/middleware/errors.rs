//! The JSON envelope of the errors poem raises itself (parsing, routing, content type).

use poem::{
    Response,
    http::{StatusCode, header},
};

use crate::error::ErrorEnvelope;

/// Turns an error poem raised (parsing, routing, content type) into the JSON envelope. A
/// path whose id does not parse names no resource: 404, as for an id nobody has. A query
/// or header parameter that does not parse is 400 naming it.
pub(super) fn error_response(error: poem::Error) -> Response {
    use poem_openapi::error::{ParseParamError, ParsePathError};
    if error.is::<ParsePathError>() {
        return envelope_for(StatusCode::NOT_FOUND, Some(error.to_string()));
    }
    if let Some(param) = error.downcast_ref::<ParseParamError>() {
        return parameter_refused(param.name, &param.reason);
    }
    let message = error.to_string();
    let response = error.into_response();
    if is_json(&response) {
        // Our own ApiError responses, already in the envelope.
        return response;
    }
    envelope_for(response.status(), Some(message))
}

/// 400 `VALIDATION_FAILED` naming the parameter (`details.field`) and its rule in words.
fn parameter_refused(name: &str, reason: &str) -> Response {
    let said =
        crate::body::plain_validation(name, reason).unwrap_or_else(|| format!("{name}: {reason}"));
    poem::IntoResponse::into_response(crate::error::ApiError::invalid_field(name, said))
}

pub(super) fn is_json(response: &Response) -> bool {
    has_media_type(response, "application/json")
}

fn has_media_type(response: &Response, media_type: &str) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(media_type))
}

/// A page for a person (an unsubscribe link's), which says what went wrong in its own words.
fn is_page(response: &Response) -> bool {
    has_media_type(response, "text/html")
}

/// Any error response that is not JSON yet (e.g. poem's 404 for an unknown route) gets the
/// envelope; pages for people keep their words.
pub(super) async fn ensure_json_error(response: Response) -> Response {
    let status = response.status();
    if (status.is_client_error() || status.is_server_error())
        && !is_json(&response)
        && !is_page(&response)
    {
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

pub(super) fn envelope_for(status: StatusCode, message: Option<String>) -> Response {
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
