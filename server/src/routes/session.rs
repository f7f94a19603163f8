//! The dashboard's sign-in: a pasted token becomes an `HttpOnly; SameSite=Strict` cookie, so that
//! page loads, server functions and `EventSource` (which cannot send headers) are authenticated
//! without the token ever appearing in a URL or in JavaScript. Also the guard that sends
//! signed-out visitors of dashboard pages to `/login`.

use crate::HttpSettings;
use app::ssr::auth::{authenticate, session_cookie, SESSION_COOKIE};
use app::ssr::error::AppError;
use app::ssr::state::AppState;
use axum::extract::rejection::FormRejection;
use axum::extract::{Request, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

/// Pages that need a signed-in user.
const PROTECTED_PAGES: &[&str] = &["/"];

/// `POST /auth/session` and `POST /auth/logout`.
pub fn router(http: HttpSettings) -> Router<AppState> {
    let secure = http.cookie_secure;
    Router::new()
        .route(
            "/auth/session",
            post(
                move |state: State<AppState>, form: Result<Form<SignIn>, FormRejection>| {
                    sign_in(state, form, secure)
                },
            ),
        )
        .route("/auth/logout", post(move || sign_out(secure)))
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
}

/// Checks the token and, when it is good, stores it in the session cookie until it expires.
async fn sign_in(
    State(state): State<AppState>,
    form: Result<Form<SignIn>, FormRejection>,
    secure: bool,
) -> Response {
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
            let cookie = format!(
                "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{}",
                if secure { "; Secure" } else { "" }
            );
            redirect("/", Some(cookie))
        }
        Err(AppError::NoRole) => redirect("/login?error=no_role", None),
        Err(_) => redirect("/login?error=invalid_token", None),
    }
}

/// Clears the session cookie.
async fn sign_out(secure: bool) -> Response {
    redirect("/login?error=signed_out", Some(clear_cookie(secure)))
}

fn clear_cookie(secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
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
pub async fn page_guard(
    State((state, secure)): State<(AppState, bool)>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::GET || !PROTECTED_PAGES.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    match authenticate(&state.auth, request.headers()) {
        Ok(_) => next.run(request).await,
        Err(AppError::NoRole) => redirect("/login?error=no_role", Some(clear_cookie(secure))),
        Err(_) if session_cookie(request.headers()).is_some() => {
            redirect("/login?error=session_expired", Some(clear_cookie(secure)))
        }
        Err(_) => redirect("/login", None),
    }
}
