//! HTTP handlers, one module per resource, and the table of protected routes with their minimum
//! roles (the auth tests walk it, so a route added here is tested against every role).

pub mod health;
pub mod jobs;
pub mod live;
pub mod session;

use app::error::{code, ApiError};
use app::role::Role;
use app::ssr::error::AppError;
use axum::extract::Request;
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Largest request body accepted anywhere; bigger bodies get 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A protected route and the weakest role allowed to call it. Calls with an allowed role pass
/// authorization; they may still answer 404 (the sample queue of a per-queue route does not
/// exist), never 401/403.
#[derive(Clone, Copy, Debug)]
pub struct ProtectedRoute {
    /// HTTP method.
    pub method: &'static str,
    /// A concrete path (path parameters filled with sample values).
    pub path: &'static str,
    /// Minimum role.
    pub min_role: Role,
}

/// Every route that needs a token: the REST API and the dashboard's server functions.
pub const PROTECTED_ROUTES: &[ProtectedRoute] = &[
    ProtectedRoute {
        method: "GET",
        path: "/api/v1/admin/jobs/queues",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/v1/admin/jobs/queues/refresh",
        min_role: Role::Admin,
    },
    ProtectedRoute {
        method: "GET",
        path: "/api/v1/admin/jobs/metrics",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "GET",
        path: "/api/v1/admin/jobs/trends?period=7d",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "GET",
        path: "/api/v1/admin/jobs/alerts/stuck",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "GET",
        path: "/api/v1/admin/jobs/live",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "GET",
        path: "/api/v1/admin/jobs/queue/no-such-queue/live",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "PATCH",
        path: "/api/v1/admin/jobs/queue/no-such-queue/pause",
        min_role: Role::Admin,
    },
    ProtectedRoute {
        method: "PATCH",
        path: "/api/v1/admin/jobs/queue/no-such-queue/resume",
        min_role: Role::Admin,
    },
    ProtectedRoute {
        method: "DELETE",
        path: "/api/v1/admin/jobs/queue/no-such-queue/clear?type=all",
        min_role: Role::Admin,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/v1/admin/jobs/retry/no-such-queue/1",
        min_role: Role::Admin,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/retry",
        min_role: Role::Admin,
    },
    ProtectedRoute {
        method: "GET",
        path: "/api/v1/admin/jobs/audit",
        min_role: Role::Admin,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/pause",
        min_role: Role::Admin,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/clear",
        min_role: Role::Admin,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/metrics",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/trends",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/stuck",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/overview",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/viewer",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "GET",
        path: "/api/v1/admin/jobs/history",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/queue_live",
        min_role: Role::Moderator,
    },
    ProtectedRoute {
        method: "POST",
        path: "/api/fn/history",
        min_role: Role::Moderator,
    },
];

/// Unknown paths under `/api/` answer JSON 404 (not the HTML page the site fallback would give).
pub async fn api_not_found(method: Method, uri: Uri) -> AppError {
    AppError::NotFound(format!("no API route {method} {}", uri.path()))
}

/// Known API paths called with the wrong method answer JSON 405 (axum's default has no body).
pub async fn api_method_not_allowed(method: Method, uri: Uri) -> AppError {
    AppError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}

/// Whether a path belongs to the API (JSON errors) rather than to the pages.
fn is_api_path(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/auth/")
}

/// Rewrites plain-text error answers on API paths as `{"error", "message"}`. Our handlers always
/// answer JSON, but axum's own rejections (a path segment that is not UTF-8, a query or form that
/// does not parse, a body over [`MAX_BODY_BYTES`], a wrong content type) are plain text; API
/// clients must get one error shape whatever failed.
///
/// Server functions have one more case: a request the server-function machinery cannot decode
/// (wrong content type, bytes that are not its encoding) is answered with our `bad_request` code
/// but status 500; the status is corrected to 400 here.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !is_api_path(&path) || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if is_json {
        if status != StatusCode::INTERNAL_SERVER_ERROR || !path.starts_with("/api/fn/") {
            return response;
        }
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 64 * 1024)
            .await
            .unwrap_or_default();
        let error: Option<ApiError> = serde_json::from_slice(&bytes).ok();
        return match error {
            Some(error) if error.error == code::BAD_REQUEST => {
                (StatusCode::BAD_REQUEST, Json(error)).into_response()
            }
            _ => Response::from_parts(parts, axum::body::Body::from(bytes)),
        };
    }
    let text = axum::body::to_bytes(response.into_body(), 4 * 1024)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let error_code = match status {
        StatusCode::UNAUTHORIZED => code::UNAUTHORIZED,
        StatusCode::FORBIDDEN => code::FORBIDDEN,
        StatusCode::NOT_FOUND => code::NOT_FOUND,
        StatusCode::METHOD_NOT_ALLOWED => code::METHOD_NOT_ALLOWED,
        StatusCode::PAYLOAD_TOO_LARGE => code::PAYLOAD_TOO_LARGE,
        s if s.is_server_error() => code::INTERNAL,
        _ => code::BAD_REQUEST,
    };
    let message = if text.is_empty() || status.is_server_error() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    } else {
        text.chars().take(300).collect()
    };
    (status, Json(ApiError::new(error_code, message))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_told_from_pages() {
        assert!(is_api_path("/api/v1/admin/jobs/metrics"));
        assert!(is_api_path("/api/fn/pause"));
        assert!(is_api_path("/auth/session"));
        assert!(!is_api_path("/"));
        assert!(!is_api_path("/login"));
        assert!(!is_api_path("/apiary"));
    }
}
