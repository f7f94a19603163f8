//! What protects the monitor from other web pages: security headers on every response, the
//! CORS allow-list for embedding (`CORS_ORIGINS`), and a cross-site guard on every request that
//! could change something.
//!
//! The session cookie is `SameSite=Strict`, which already keeps it off cross-site requests, but
//! "site" is wider than "origin" (a sibling subdomain is the same site). So the guard also
//! refuses any state-changing request whose `Origin` is neither this server nor an allowed
//! origin, and, for browsers that send no `Origin`, any that `Sec-Fetch-Site` calls cross-site.
//! Clients that are not browsers send neither header and authenticate with a bearer token.
//!
//! Cookies authenticate this server's own pages only: a request from another origin (an
//! `Origin` header that is not this server, allowed in `CORS_ORIGINS` or not) has its `Cookie`
//! header removed before anything reads it, and a state-changing one must carry a bearer
//! token. So an allowed origin's page acts with the token its app holds, never with a session
//! cookie the browser would attach on its own (a sibling subdomain is the same *site*, so
//! `SameSite` alone would let it through).

use app::ssr::error::AppError;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::set_header::SetResponseHeaderLayer;

/// Origins (`scheme://host[:port]`) allowed to call the API from their pages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Arc<Vec<String>>);

impl AllowedOrigins {
    /// Validates each origin: `http` or `https`, a host, an optional port, nothing else.
    pub fn parse(origins: &[String]) -> Result<AllowedOrigins, String> {
        let mut checked = Vec::new();
        for origin in origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty()) {
            if !is_origin(origin) {
                return Err(format!(
                    "CORS_ORIGINS: `{origin}` is not an origin (scheme://host[:port], no path; `*` is not allowed)"
                ));
            }
            checked.push(origin.to_ascii_lowercase());
        }
        Ok(AllowedOrigins(Arc::new(checked)))
    }

    pub fn contains(&self, origin: &str) -> bool {
        self.0
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(origin))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

fn is_origin(text: &str) -> bool {
    let Some((scheme, authority)) = text.split_once("://") else {
        return false;
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
            (host, Some(port))
        }
        _ => (authority, None),
    };
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
        && port.is_none_or(|p| !p.is_empty() && p.parse::<u16>().is_ok())
}

/// Whether `origin`'s host and port are the ones this request was sent to.
fn is_same_origin(origin: &str, host: Option<&str>) -> bool {
    let authority = origin
        .split_once("://")
        .map_or("", |(_, authority)| authority);
    host.is_some_and(|host| !host.is_empty() && host.eq_ignore_ascii_case(authority))
}

/// Removes the cookies of a request from another origin, and refuses (403) a state-changing
/// request that a page of an origin not allowed sent, or (401) one from an allowed origin
/// without a bearer token (see the module docs); lets everything else through.
pub async fn cross_site_guard(
    State(allowed): State<AllowedOrigins>,
    mut request: Request,
    next: Next,
) -> Response {
    let cross_origin = {
        let headers = request.headers();
        let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
        text(&header::ORIGIN).is_some_and(|origin| !is_same_origin(origin, text(&header::HOST)))
    };
    if cross_origin {
        request.headers_mut().remove(header::COOKIE);
    }
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let text = |name: &HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let refused = match text(&header::ORIGIN) {
        Some(origin) => cross_origin && !allowed.contains(origin),
        None => text(&HeaderName::from_static("sec-fetch-site")) == Some("cross-site"),
    };
    if refused {
        tracing::warn!(
            method = %request.method(),
            path = request.uri().path(),
            origin = text(&header::ORIGIN).unwrap_or("-"),
            "refused a cross-site request"
        );
        let origin = text(&header::ORIGIN).unwrap_or("another site");
        let shown: String = origin.chars().take(100).collect();
        return AppError::CrossSite(shown).into_response();
    }
    if cross_origin && !headers.contains_key(header::AUTHORIZATION) {
        return AppError::Unauthorized(
            "requests from another origin must send `Authorization: Bearer <token>`; the session \
             cookie is accepted from this server's own pages only"
                .into(),
        )
        .into_response();
    }
    next.run(request).await
}

/// CORS for the allowed origins: bearer-token requests only (no cookies cross-origin), the
/// methods and headers the API and the live streams use.
pub fn cors(allowed: &AllowedOrigins) -> CorsLayer {
    let origins: Vec<HeaderValue> = allowed
        .as_slice()
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("last-event-id"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Adds the headers every response gets unless its handler set its own: pages set a CSP with
/// their script nonce (`app::ssr::page_policy`); everything else gets the strictest one.
pub fn with_headers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Not `no-referrer`: with it, browsers send `Origin: null` on the page's own form posts,
        // which the cross-site guard (rightly) refuses.
        (header::REFERRER_POLICY, "same-origin"),
        // Pages and API answers are revalidated on every use; static files say otherwise
        // (`assets`).
        (header::CACHE_CONTROL, "no-cache"),
    ]
    .into_iter()
    .fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        let ok = AllowedOrigins::parse(&[
            "https://ops.example.com".into(),
            " http://localhost:3000 ".into(),
            "".into(),
        ])
        .expect("valid");
        assert!(ok.contains("https://OPS.example.com"));
        assert!(ok.contains("http://localhost:3000"));
        assert!(!ok.contains("http://localhost:3001"));
        for bad in [
            "*",
            "ops.example.com",
            "https://ops.example.com/",
            "https://ops.example.com/app",
            "ftp://ops.example.com",
            "https://ops.example.com:port",
            "https://",
        ] {
            assert!(AllowedOrigins::parse(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn same_origin_is_the_host_the_request_was_sent_to() {
        assert!(is_same_origin(
            "http://127.0.0.1:8080",
            Some("127.0.0.1:8080")
        ));
        assert!(!is_same_origin(
            "http://127.0.0.1:8081",
            Some("127.0.0.1:8080")
        ));
        assert!(!is_same_origin("null", Some("127.0.0.1:8080")));
        assert!(!is_same_origin("http://evil.example", None));
    }
}
