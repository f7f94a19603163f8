//! `AppError`: the one error type of the server boundary. Every REST handler and server function
//! returns it (or its wire form [`ApiError`]); it knows its HTTP status and its stable code, and it
//! keeps internal causes out of responses (they are logged instead).

use crate::error::{code, ApiError};
use crate::role::Role;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Everything that can go wrong while serving a request.
#[derive(Clone, Debug, thiserror::Error)]
pub enum AppError {
    /// Missing, malformed, expired or wrongly signed credentials. The text says which, without
    /// echoing the token.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known but their role is below what the operation needs.
    #[error("this action needs the {required} role")]
    Forbidden {
        /// The minimum role of the operation.
        required: Role,
    },
    /// A state-changing request sent by another origin's page (CSRF), refused before any
    /// credentials are looked at.
    #[error("cross-site request refused: the page of `{0}` may not change anything here (only this server's own pages and CORS_ORIGINS may)")]
    CrossSite(String),
    /// The caller's token carries no monitor role at all.
    #[error("the token carries no monitor role (MODERATOR, ADMIN or SUPER_ADMIN)")]
    NoRole,
    /// A queue, job or route that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The route exists, but not for this method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Malformed input; the text names what is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// A request body over the limit (or one that could not be read).
    #[error("the request body is larger than the server accepts (64 KiB)")]
    PayloadTooLarge,
    /// A value asked for is larger than the server sends; the text says how large.
    #[error("{0}")]
    TooLarge(String),
    /// The thing acted on is not in a state the action needs (a job that is no longer
    /// failed, a locked job); the text says which state it is in.
    #[error("{0}")]
    Conflict(String),
    /// Redis could not be reached or did not answer in time.
    #[error("Redis is unavailable: {0}")]
    RedisUnavailable(#[source] fred::error::Error),
    /// A control action was sent but not confirmed in time; the text says what may have
    /// happened and why repeating it is safe.
    #[error("{0}")]
    OutcomeUnknown(String),
    /// The caller is over a limit; try again after `retry_after`.
    #[error("{message}")]
    TooManyRequests {
        /// What limit, in words.
        message: String,
        /// When a new try can succeed.
        retry_after: std::time::Duration,
    },
    /// A bug or an unexpected Redis answer. Logged with its cause; clients get a generic text.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AppError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } | AppError::NoRole | AppError::CrossSite(_) => {
                StatusCode::FORBIDDEN
            }
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::PayloadTooLarge | AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::RedisUnavailable(_) | AppError::OutcomeUnknown(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The wire form. Internal details never leave the server: the two server-side variants get
    /// fixed texts.
    pub fn to_api_error(&self) -> ApiError {
        match self {
            AppError::Unauthorized(text) => ApiError::new(code::UNAUTHORIZED, text.clone()),
            AppError::Forbidden { .. } | AppError::NoRole => {
                ApiError::new(code::FORBIDDEN, self.to_string())
            }
            AppError::CrossSite(_) => ApiError::new(code::CROSS_SITE, self.to_string()),
            AppError::NotFound(text) => ApiError::new(code::NOT_FOUND, text.clone()),
            AppError::MethodNotAllowed(text) => {
                ApiError::new(code::METHOD_NOT_ALLOWED, text.clone())
            }
            AppError::BadRequest(text) => ApiError::new(code::BAD_REQUEST, text.clone()),
            AppError::PayloadTooLarge => ApiError::new(code::PAYLOAD_TOO_LARGE, self.to_string()),
            AppError::TooLarge(text) => ApiError::new(code::PAYLOAD_TOO_LARGE, text.clone()),
            AppError::Conflict(text) => ApiError::new(code::CONFLICT, text.clone()),
            AppError::RedisUnavailable(_) => ApiError::new(
                code::REDIS_UNAVAILABLE,
                "Redis is not answering; the monitor will recover by itself when it is back",
            ),
            AppError::OutcomeUnknown(text) => ApiError::new(code::OUTCOME_UNKNOWN, text.clone()),
            AppError::TooManyRequests { message, .. } => {
                ApiError::new(code::TOO_MANY_REQUESTS, message.clone())
            }
            AppError::Internal(_) => ApiError::new(
                code::INTERNAL,
                "an unexpected error occurred; the details are in the server log",
            ),
        }
    }

    /// Whole seconds for a `Retry-After` header, when the error has one.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            AppError::TooManyRequests { retry_after, .. } => {
                Some(retry_after.as_secs_f64().ceil().max(1.0) as u64)
            }
            _ => None,
        }
    }

    /// Logs errors that are our fault (or Redis's); user errors are not worth a log line each.
    fn log(&self) {
        match self {
            AppError::RedisUnavailable(cause) => {
                tracing::warn!(error.message = %cause, "request failed: Redis unavailable")
            }
            AppError::Internal(cause) => {
                tracing::error!(error.message = %cause, "request failed: internal error")
            }
            _ => {}
        }
    }
}

impl From<fred::error::Error> for AppError {
    /// Connection-level failures mean "Redis unavailable" (503, retry later); anything else from
    /// Redis is unexpected and becomes an internal error.
    fn from(error: fred::error::Error) -> Self {
        use fred::error::ErrorKind;
        match error.kind() {
            ErrorKind::IO
            | ErrorKind::Timeout
            | ErrorKind::Canceled
            | ErrorKind::Routing
            | ErrorKind::Cluster
            | ErrorKind::Backpressure
            | ErrorKind::Auth => AppError::RedisUnavailable(error),
            _ => AppError::Internal(format!("Redis error: {error}")),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        error.log();
        error.to_api_error()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.log();
        let mut response = (self.status(), Json(self.to_api_error())).into_response();
        if matches!(self, AppError::Unauthorized(_)) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        if let Some(seconds) = self.retry_after_secs() {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

/// The one JSON error shape for axum's own rejections of a query string, a JSON body or a path
/// (their text without axum's "Failed to deserialize…" preamble), so typed extractors need no
/// rewriting middleware.
macro_rules! bad_request_from_rejection {
    ($($rejection:ty),+) => {
        $(impl From<$rejection> for AppError {
            fn from(rejection: $rejection) -> Self {
                let text = rejection.body_text();
                let reason = text.rsplit_once(": ").map_or(text.as_str(), |(_, reason)| reason);
                AppError::BadRequest(reason.chars().take(300).collect())
            }
        })+
    };
}

bad_request_from_rejection!(
    axum::extract::rejection::QueryRejection,
    axum::extract::rejection::PathRejection
);

/// A body rejection: 413 when the body is over the limit, else 400 with axum's reason.
fn body_rejection(status: StatusCode, text: String) -> AppError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge
    } else {
        AppError::BadRequest(text.chars().take(300).collect())
    }
}

impl From<axum::extract::rejection::JsonRejection> for AppError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        body_rejection(rejection.status(), rejection.body_text())
    }
}

impl From<axum::extract::rejection::BytesRejection> for AppError {
    fn from(rejection: axum::extract::rejection::BytesRejection) -> Self {
        body_rejection(rejection.status(), rejection.body_text())
    }
}
