//! HTTP handlers, one module per resource, and the table of protected routes with their minimum
//! roles (the auth tests walk it, so a route added here is tested against every role).

pub mod health;
pub mod jobs;
pub mod live;
pub mod session;

use app::role::Role;
use app::ssr::error::AppError;
use axum::http::{Method, Uri};

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
