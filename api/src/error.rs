//! Errors at the HTTP edge.
//!
//! Handlers return `Result<_, ApiError>`: one variant per status, each with the JSON
//! envelope `{"data": null, "error": {code, message, details?}, "meta": {requestId}}`.
//! Inside, code uses `anyhow` with context; an unexpected error is logged once here, and
//! the client gets an opaque message with the request id. Errors poem raises itself (an
//! unparsable body, an unknown route) are put in the same envelope by `middleware`.

use almanac_shared::domain::Invalid;
use poem_openapi::{ApiResponse, Object, payload::Json};
use serde_json::Value;

use crate::middleware::current_request_id;

#[derive(Debug, Clone, Object)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `VALIDATION_FAILED`.
    pub code: String,
    pub message: String,
    #[oai(skip_serializing_if_is_none)]
    #[oai(nullable)]
    pub details: Option<Value>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ErrorMeta {
    pub request_id: String,
}

/// The error envelope every endpoint uses.
#[derive(Debug, Clone, Object)]
pub struct ErrorEnvelope {
    /// Always null on errors.
    #[oai(nullable)]
    pub data: Option<Value>,
    pub error: ErrorDetail,
    pub meta: ErrorMeta,
}

impl ErrorEnvelope {
    pub fn new(code: &str, message: impl Into<String>, details: Option<Value>) -> Json<Self> {
        Json(Self {
            data: None,
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                details,
            },
            meta: ErrorMeta {
                request_id: current_request_id(),
            },
        })
    }
}

/// Seconds a client should wait when a dependency is down.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or fails validation.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The bearer token is missing, malformed, expired or not valid for this API.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorEnvelope>),
    /// No such resource for this user.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The request conflicts with the resource's state.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// The body is larger than the limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorEnvelope>),
    /// The body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorEnvelope>),
    /// The request is well-formed but cannot be applied (e.g. an `Idempotency-Key` reused
    /// with another body).
    #[oai(status = 422)]
    Unprocessable(Json<ErrorEnvelope>),
    /// Too many requests; retry after the given number of seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
    /// An unexpected error; the request id identifies it in the logs.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// Postgres or Redis is unreachable; retry after the given number of seconds.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>, details: Option<Value>) -> Self {
        Self::BadRequest(ErrorEnvelope::new("VALIDATION_FAILED", message, details))
    }

    /// A validation failure of one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::bad_request(
            message.clone(),
            Some(serde_json::json!({ "field": field, "reason": message })),
        )
    }

    /// A domain validation failure, as 400.
    pub fn invalid(error: Invalid) -> Self {
        Self::invalid_field(&error.field, error.reason)
    }

    /// A domain validation failure, as 422: the syntheses endpoints answer invalid values so.
    pub fn semantically_invalid(error: Invalid) -> Self {
        Self::unprocessable_field(&error.field, error.reason)
    }

    /// A validation failure of one field, as 422.
    pub fn unprocessable_field(field: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self::Unprocessable(ErrorEnvelope::new(
            "VALIDATION_FAILED",
            format!("{field}: {reason}"),
            Some(serde_json::json!({ "field": field, "reason": reason })),
        ))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(ErrorEnvelope::new("UNAUTHORIZED", message, None))
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(ErrorEnvelope::new(
            "NOT_FOUND",
            format!("{what} not found"),
            None,
        ))
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::Conflict(ErrorEnvelope::new(code, message, None))
    }

    pub fn unprocessable(code: &str, message: impl Into<String>) -> Self {
        Self::Unprocessable(ErrorEnvelope::new(code, message, None))
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::TooManyRequests(
            ErrorEnvelope::new(
                "RATE_LIMITED",
                format!("too many requests; retry in {retry_after_secs} s"),
                None,
            ),
            retry_after_secs,
        )
    }

    pub fn unavailable(dependency: &str) -> Self {
        Self::Unavailable(
            ErrorEnvelope::new(
                "SERVICE_UNAVAILABLE",
                format!("{dependency} is unreachable; retry shortly"),
                None,
            ),
            UNAVAILABLE_RETRY_SECS,
        )
    }

    /// Logs an unexpected error once and answers 500 with an opaque message.
    pub fn internal(error: anyhow::Error) -> Self {
        tracing::error!(error = %format!("{error:#}"), "request failed");
        Self::Internal(ErrorEnvelope::new(
            "INTERNAL",
            "an unexpected error occurred; quote the request id when reporting it",
            None,
        ))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if almanac_shared::db::is_unavailable(&error) {
            tracing::warn!(error = %error, "Postgres unreachable");
            Self::unavailable("the database")
        } else {
            Self::internal(anyhow::Error::new(error).context("database query"))
        }
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(error: redis::RedisError) -> Self {
        tracing::warn!(error = %error, "Redis unreachable");
        Self::unavailable("the queue store")
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
