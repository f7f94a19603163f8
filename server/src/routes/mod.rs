//! HTTP handlers, one module per resource, and the table of protected routes with their minimum
//! roles, derived from where the routes are declared (the REST route groups in [`jobs`], the
//! server functions' roles in `app::api::access`), so the auth tests walk every route.
//!
//! - [`guarded`] — route groups by role, each behind its guard;
//! - [`extract`] — query, path and body extractors whose rejections are JSON;
//! - [`jobs`] — the REST API (its route groups); [`explorer`] — the job explorer's routes;
//!   [`live`] — the streams; [`session`] — sign-in and out;
//!   [`health`] — `/healthz`, `/readyz`.

pub mod alerts;
pub mod bulk;
pub mod explorer;
pub mod extract;
pub mod guarded;
pub mod health;
pub mod jobs;
pub mod live;
pub mod session;

use app::api::access::{server_fn_role, SERVER_FN_ROLES};
use app::error::{code, ApiError};
use app::role::Role;
use app::ssr::auth::authorize;
use app::ssr::error::AppError;
use app::ssr::state::AppState;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Largest request body accepted anywhere; bigger bodies get 413 before any handler runs.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Where server functions live.
pub const SERVER_FN_PREFIX: &str = "/api/fn/";

/// A protected route and the weakest role allowed to call it. Calls with an allowed role pass
/// authorization; they may still answer 404 (the sample queue of a per-queue route does not
/// exist) or 400 (no arguments), never 401/403.
#[derive(Clone, Debug)]
pub struct ProtectedRoute {
    /// HTTP method.
    pub method: &'static str,
    /// A concrete path (path parameters filled with sample values).
    pub path: String,
    /// Minimum role.
    pub min_role: Role,
}

/// Every route that needs a token: the REST API and the dashboard's server functions.
pub fn protected_routes() -> Vec<ProtectedRoute> {
    let mut routes = jobs::table();
    routes.extend(SERVER_FN_ROLES.iter().map(|(path, role)| ProtectedRoute {
        method: "POST",
        path: (*path).to_owned(),
        min_role: *role,
    }));
    routes
}

/// The guard in front of every server function: the role declared for its path
/// (`SERVER_FN_ROLES`) is demanded before the request is decoded, so a caller without it learns
/// nothing from how its arguments parse; a path with no declared role is no server function.
/// (Each server function checks again, for calls made in-process while rendering.)
pub async fn server_fn_guard(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !path.starts_with(SERVER_FN_PREFIX) || request.method() == Method::OPTIONS {
        return next.run(request).await;
    }
    let Some(role) = server_fn_role(path) else {
        return AppError::NotFound(format!("no server function {path}")).into_response();
    };
    match authorize(
        &state.auth,
        state.settings.session_cookie(),
        request.headers(),
        role,
    ) {
        Ok(_) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

/// Unknown paths under `/api/` answer JSON 404 (not the HTML page the site fallback would give).
pub async fn api_not_found(method: Method, uri: Uri) -> AppError {
    AppError::NotFound(format!("no API route {method} {}", uri.path()))
}

/// Known API paths called with the wrong method answer JSON 405 (axum's default has no body).
pub async fn api_method_not_allowed(method: Method, uri: Uri) -> AppError {
    AppError::MethodNotAllowed(format!("{} does not accept {method}", uri.path()))
}

/// The one correction our handlers cannot make themselves: a request the server-function
/// machinery cannot decode (wrong content type, bytes that are not its encoding) is answered
/// with our `bad_request` code but status 500; the status becomes 400. Everything else on API
/// paths answers in the one error shape by itself (typed extractors, guards, JSON fallbacks).
pub async fn json_errors(request: Request, next: Next) -> Response {
    let is_server_fn = request.uri().path().starts_with(SERVER_FN_PREFIX);
    let response = next.run(request).await;
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    match serde_json::from_slice::<ApiError>(&bytes) {
        Ok(error) if error.error == code::BAD_REQUEST => {
            (StatusCode::BAD_REQUEST, Json(error)).into_response()
        }
        _ => Response::from_parts(parts, axum::body::Body::from(bytes)),
    }
}
