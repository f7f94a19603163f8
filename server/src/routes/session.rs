//! The dashboard's sign-in: a pasted token becomes an `HttpOnly; SameSite=Strict` cookie
//! (`__Host-monitor_session` and `Secure` behind HTTPS, see `auth::SessionCookie`), so that
//! page loads, server functions and the live streams are authenticated without the token ever
//! appearing in a URL or in JavaScript. Signing out clears the cookie and ends the live streams
//! that session opened on this instance. Also the guard that sends signed-out visitors of
//! dashboard pages to `/login`.

use crate::live::LiveHub;
use app::ssr::auth::authenticate;
use app::ssr::error::AppError;
use app::ssr::state::AppState;
use axum::extract::rejection::FormRejection;
use axum::extract::{Request, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Form, Router};
use serde::Deserialize;
use std::sync::Arc;

/// Pages that need a signed-in user.
const PROTECTED_PAGES: &[&str] = &["/"];

/// `POST /auth/session` and `POST /auth/logout`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/session", post(sign_in))
        .route("/auth/logout", post(sign_out))
        .method_not_allowed_fallback(super::api_method_not_allowed)
}

/// The sign-in form.
#[derive(Deserialize, utoipa::ToSchema)]
pub(crate) struct SignIn {
    /// A JWT with a monitor role.
    token: String,
}

/// Checks the token and, when it is good, stores it in the session cookie until it expires.
#[utoipa::path(post, path = "/auth/session", tag = "session",
    request_body(content = SignIn, content_type = "application/x-www-form-urlencoded"),
    responses((status = 303, description = "To `/` with the session cookie set when the token is good, else to `/login?error=missing_token|invalid_token|no_role`")))]
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    let cookie = state.settings.session_cookie();
    let token = match form {
        Ok(Form(SignIn { token })) => token.trim().to_owned(),
        Err(_) => String::new(),
    };
    if token.is_empty() {
        return redirect("/login?error=missing_token", None);
    }
    match state.auth.verify(&token) {
        Ok(principal) => {
            let max_age = (principal.expires_at - chrono::Utc::now().timestamp()).max(0);
            tracing::info!(subject = %principal.subject, role = %principal.role, "signed in");
            redirect("/", Some(cookie.set(&token, max_age)))
        }
        Err(AppError::NoRole) => redirect("/login?error=no_role", None),
        Err(_) => redirect("/login?error=invalid_token", None),
    }
}

/// Clears the session cookie and ends the live streams the session opened here.
#[utoipa::path(post, path = "/auth/logout", tag = "session",
    responses((status = 303, description = "To `/login`, with the session cookie cleared")))]
pub(crate) async fn sign_out(
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<LiveHub>>,
    headers: HeaderMap,
) -> Response {
    let cookie = state.settings.session_cookie();
    if let Some(token) = cookie.read(&headers) {
        let token_id = app::ssr::auth::token_id(&token);
        // A token that no longer verifies has no streams left to end; its expiry only bounds
        // how long the sign-out is remembered.
        let expires_at = state
            .auth
            .verify(&token)
            .map(|principal| principal.expires_at)
            .unwrap_or_else(|_| chrono::Utc::now().timestamp() + 3600);
        hub.end_session(&token_id, expires_at);
        tracing::info!("signed out");
    }
    redirect("/login?error=signed_out", Some(cookie.clear()))
}

fn redirect(location: &'static str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    response
        .headers_mut()
        .insert(LOCATION, HeaderValue::from_static(location));
    if let Some(value) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(SET_COOKIE, value);
    }
    response
}

/// Sends visitors of dashboard pages who are not signed in (or whose session expired) to
/// `/login`, before any page is rendered.
pub async fn page_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::GET || !PROTECTED_PAGES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let cookie = state.settings.session_cookie();
    match authenticate(&state.auth, cookie, request.headers()) {
        Ok(_) => next.run(request).await,
        Err(AppError::NoRole) => redirect("/login?error=no_role", Some(cookie.clear())),
        Err(_) if cookie.read(request.headers()).is_some() => {
            redirect("/login?error=session_expired", Some(cookie.clear()))
        }
        Err(_) => redirect("/login", None),
    }
}
