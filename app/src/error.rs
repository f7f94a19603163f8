//! The error shape every client sees: `{"error": code, "message": text}`. REST handlers and
//! server functions both answer with it, and the browser deserialises the same type, so an error
//! reads the same whichever way it travelled.

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
use serde::{Deserialize, Serialize};

/// Stable machine-readable error codes. Clients branch on these, so they never change meaning.
pub mod code {
    /// No credentials, or credentials that are not a valid, unexpired token.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// Valid credentials whose role is too low for the operation.
    pub const FORBIDDEN: &str = "forbidden";
    /// A state-changing request sent by another origin's page (cross-site request forgery).
    pub const CROSS_SITE: &str = "cross_site_refused";
    /// The queue, job or route does not exist.
    pub const NOT_FOUND: &str = "not_found";
    /// The route exists but not for this HTTP method.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// The request itself is malformed (path, query or body).
    pub const BAD_REQUEST: &str = "bad_request";
    /// The request body (or a value asked for) is larger than the server accepts (or sends).
    pub const PAYLOAD_TOO_LARGE: &str = "payload_too_large";
    /// The thing acted on is not in a state the action needs (a job no longer failed, a job a
    /// worker holds).
    pub const CONFLICT: &str = "conflict";
    /// Redis did not answer in time or is not reachable.
    pub const REDIS_UNAVAILABLE: &str = "redis_unavailable";
    /// A control action was sent to Redis but not confirmed in time: it may have happened. The
    /// audit trail records the outcome once it is known; repeating the same request is safe.
    pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";
    /// The caller is over one of its limits (live streams, history reads); `Retry-After` says
    /// when to try again.
    pub const TOO_MANY_REQUESTS: &str = "too_many_requests";
    /// Something failed on our side; the details are in the server log, not in the response.
    pub const INTERNAL: &str = "internal";
}

/// The wire form of an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{message}")]
pub struct ApiError {
    /// A stable code from [`code`].
    pub error: String,
    /// A sentence for a person; never contains secrets or internal details.
    pub message: String,
}

impl ApiError {
    /// Builds an error from a code and a message.
    pub fn new(error: &str, message: impl Into<String>) -> Self {
        Self {
            error: error.to_owned(),
            message: message.into(),
        }
    }

    /// Whether signing in again could fix this error.
    pub fn is_unauthorized(&self) -> bool {
        self.error == code::UNAUTHORIZED
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    /// Errors raised by the server-function machinery itself (a request that could not be
    /// encoded, sent or decoded) become `bad_request`; the message says what went wrong.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        ApiError::new(code::BAD_REQUEST, value.to_string())
    }
}
