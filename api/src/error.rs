//! Errors at the HTTP edge.
//!
//! Handlers return `Result<_, ApiError>`: one variant per status, each with the JSON
//! envelope `{"data": null, "error": {code, message, details?}, "meta": {requestId}}`.
//! Inside, code uses `anyhow` with context; an unexpected error is logged once here, and
//! the client gets an opaque message with the request id. Errors poem raises itself (an
//! unparsable body, an unknown route) are put in the same envelope by `middleware`.

use almanac_shared::domain::Invalid;
use poem::IntoResponse;
use poem_openapi::{
    ApiResponse, Object,
    payload::Json,
    registry::{MetaResponses, Registry},
};
use serde_json::Value;

use crate::envelope::RequestMeta;

#[derive(Debug, Clone, Object)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `VALIDATION_FAILED`; `x-almanac-error-codes`
    /// lists every code and what it means.
    pub code: String,
    pub message: String,
    #[oai(skip_serializing_if_is_none)]
    #[oai(nullable)]
    pub details: Option<Value>,
}

/// The error envelope every endpoint uses.
#[derive(Debug, Clone, Object)]
pub struct ErrorEnvelope {
    /// Always null on errors.
    #[oai(nullable)]
    pub data: Option<Value>,
    pub error: ErrorDetail,
    pub meta: RequestMeta,
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
            meta: RequestMeta::current(),
        })
    }
}

/// Seconds a client should wait when a dependency is down.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

/// Seconds a client should wait when every database connection is in use.
pub const BUSY_RETRY_SECS: u64 = 2;

#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// The request is malformed or fails validation.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// The bearer token is missing, malformed, expired or not valid for this API.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorEnvelope>),
    /// The caller may not do this: the request names something the caller may not use (an
    /// account not linked to the brand), or an API key lacks the operation's scope
    /// (`INSUFFICIENT_SCOPE`, `details.scope`).
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// No such resource for this user.
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The request conflicts with the resource's state.
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// Gone for good: a job older than `JOB_RETENTION_DAYS`, whose record was deleted
    /// (`JOB_EXPIRED`).
    #[oai(status = 410)]
    Gone(Json<ErrorEnvelope>),
    /// `If-Match` names an older version than the resource's: someone changed it since it
    /// was read (`EDIT_CONFLICT`, `details: {current, changedBy, changedAt}`); nothing was
    /// changed.
    #[oai(status = 412)]
    PreconditionFailed(Json<ErrorEnvelope>),
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
    /// Postgres or Redis is unreachable, or Almanac is busy (every database connection in
    /// use); retry after the given number of seconds.
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

    /// A 400 listing every problem of the body (`details.problems: [{field, reason}]`).
    pub fn problems<P: serde::Serialize>(problems: &[P]) -> Self {
        let details = serde_json::json!({ "problems": problems });
        let first = details["problems"][0].clone();
        let message = format!(
            "{} problem{} in the request; the first: {}: {}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            first["field"].as_str().unwrap_or_default(),
            first["reason"].as_str().unwrap_or_default()
        );
        Self::BadRequest(ErrorEnvelope::new(
            "VALIDATION_FAILED",
            message,
            Some(details),
        ))
    }

    pub fn forbidden(code: &str, message: impl Into<String>, details: Option<Value>) -> Self {
        Self::Forbidden(ErrorEnvelope::new(code, message, details))
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::Conflict(ErrorEnvelope::new(code, message, None))
    }

    /// A body past a limit of the operation's own (`MEDIA_TOO_LARGE`).
    pub fn too_large(code: &str, message: impl Into<String>) -> Self {
        Self::PayloadTooLarge(ErrorEnvelope::new(code, message, None))
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

    /// 429 `BUDGET_EXCEEDED`: the user's tokens of the UTC day have reached
    /// `AI_WORKSPACE_DAILY_TOKENS`; `Retry-After` and `resetAt` say when it resets.
    pub fn budget_exceeded(
        limit: u64,
        used: i64,
        resets_at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let reset = resets_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let retry_after = (resets_at - chrono::Utc::now()).num_seconds().max(1) as u64;
        Self::TooManyRequests(
            ErrorEnvelope::new(
                "BUDGET_EXCEEDED",
                format!(
                    "your daily AI budget of {limit} tokens is spent ({used} used today); it resets at {reset}"
                ),
                Some(serde_json::json!({ "limit": limit, "used": used, "resetAt": reset })),
            ),
            retry_after,
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
        Self::database_unreachable(&error)
            .unwrap_or_else(|| Self::internal(anyhow::Error::new(error).context("database query")))
    }
}

/// A statement's error shared by the requests of its group (`almanac_shared::gather`).
impl From<std::sync::Arc<sqlx::Error>> for ApiError {
    fn from(error: std::sync::Arc<sqlx::Error>) -> Self {
        match std::sync::Arc::try_unwrap(error) {
            Ok(error) => error.into(),
            Err(error) => Self::database_unreachable(&error)
                .unwrap_or_else(|| Self::internal(anyhow::anyhow!("database query: {error}"))),
        }
    }
}

impl ApiError {
    /// `503` when `error` says Postgres could not be reached, or that every pooled
    /// connection was in use for longer than a request waits (busy, said so).
    fn database_unreachable(error: &sqlx::Error) -> Option<Self> {
        if almanac_shared::db::is_busy(error) {
            metrics::counter!("database_pool_exhausted_total").increment(1);
            tracing::warn!("every database connection is in use; request answered 503");
            return Some(Self::busy());
        }
        almanac_shared::db::is_unavailable(error).then(|| {
            tracing::warn!(error = %error, "Postgres unreachable");
            Self::unavailable("the database")
        })
    }

    /// `503` because Almanac is serving as many requests as it can right now.
    pub fn busy() -> Self {
        Self::Unavailable(
            ErrorEnvelope::new(
                "SERVICE_UNAVAILABLE",
                "Almanac is busy right now; send the request again in a few seconds",
                None,
            ),
            BUSY_RETRY_SECS,
        )
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(error: redis::RedisError) -> Self {
        tracing::warn!(error = %error, "Redis unreachable");
        Self::unavailable("the queue store")
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            Self::BadRequest(_) => 400,
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(_) => 409,
            Self::Gone(_) => 410,
            Self::PreconditionFailed(_) => 412,
            Self::PayloadTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::Unprocessable(_) => 422,
            Self::TooManyRequests(..) => 429,
            Self::Internal(_) => 500,
            Self::Unavailable(..) => 503,
        }
    }
}

/// The refusals an operation can answer, as a set of statuses: the OpenAPI document lists
/// exactly these for it, so a generated client has a branch for each status it can meet
/// and none for one it cannot. Combine with `|`: `{ can::STORED | can::NOT_FOUND }`.
pub mod can {
    pub const BAD_REQUEST: u32 = 1 << 0;
    pub const UNAUTHORIZED: u32 = 1 << 1;
    pub const NOT_FOUND: u32 = 1 << 2;
    pub const CONFLICT: u32 = 1 << 3;
    pub const PAYLOAD_TOO_LARGE: u32 = 1 << 4;
    pub const UNSUPPORTED_MEDIA_TYPE: u32 = 1 << 5;
    pub const UNPROCESSABLE: u32 = 1 << 6;
    pub const TOO_MANY_REQUESTS: u32 = 1 << 7;
    pub const INTERNAL: u32 = 1 << 8;
    pub const UNAVAILABLE: u32 = 1 << 9;
    pub const FORBIDDEN: u32 = 1 << 10;
    pub const GONE: u32 = 1 << 11;
    pub const PRECONDITION_FAILED: u32 = 1 << 12;

    /// Every authenticated operation that reads or writes Postgres or Redis.
    pub const STORED: u32 = UNAUTHORIZED | INTERNAL | UNAVAILABLE;
    /// Every operation with a JSON body: not JSON, not the schema (400), too large, not
    /// `application/json`.
    pub const BODY: u32 = BAD_REQUEST | PAYLOAD_TOO_LARGE | UNSUPPORTED_MEDIA_TYPE;

    /// The bit of `status` (0 for a status no operation answers with).
    pub const fn bit(status: u16) -> u32 {
        match status {
            400 => BAD_REQUEST,
            401 => UNAUTHORIZED,
            403 => FORBIDDEN,
            404 => NOT_FOUND,
            409 => CONFLICT,
            410 => GONE,
            412 => PRECONDITION_FAILED,
            413 => PAYLOAD_TOO_LARGE,
            415 => UNSUPPORTED_MEDIA_TYPE,
            422 => UNPROCESSABLE,
            429 => TOO_MANY_REQUESTS,
            500 => INTERNAL,
            503 => UNAVAILABLE,
            _ => 0,
        }
    }
}

/// An operation's answer: its success type, or one of the refusals in `CAN`.
pub type Answer<T, const CAN: u32> = Result<T, Refused<CAN>>;

/// An [`ApiError`] from an operation that documents the statuses in `CAN` (see [`can`]).
/// A debug build panics on a refusal outside the set, so every test doubles as a check
/// that the document lists what the operation does.
#[derive(Debug)]
pub struct Refused<const CAN: u32>(pub ApiError);

impl<E: Into<ApiError>, const CAN: u32> From<E> for Refused<CAN> {
    fn from(error: E) -> Self {
        let error = error.into();
        debug_assert!(
            CAN & can::bit(error.status()) != 0,
            "status {} is not among the operation's documented refusals",
            error.status()
        );
        Self(error)
    }
}

impl<const CAN: u32> ApiResponse for Refused<CAN> {
    fn meta() -> MetaResponses {
        let mut meta = ApiError::meta();
        meta.responses
            .retain(|response| response.status.is_some_and(|s| CAN & can::bit(s) != 0));
        meta
    }

    fn register(registry: &mut Registry) {
        ApiError::register(registry);
    }
}

impl<const CAN: u32> IntoResponse for Refused<CAN> {
    fn into_response(self) -> poem::Response {
        self.0.into_response()
    }
}

impl<const CAN: u32> From<Refused<CAN>> for poem::Error {
    fn from(refused: Refused<CAN>) -> Self {
        refused.0.into()
    }
}
