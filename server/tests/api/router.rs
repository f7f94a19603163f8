//! Socket-free router tests (`tower::ServiceExt::oneshot`): how requests are refused, without a
//! listener and without Redis (the server's Redis refuses connections). Each refusal is the one
//! JSON error shape, from the typed extractors and guards, before any Redis work.

use crate::helpers::SECRET;
use app::role::Role;
use app::ssr::auth::{AuthSettings, Authenticator};
use app::ssr::config::Settings;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// The whole router over a Redis that refuses connections (port 1), and a token maker.
fn router() -> (axum::Router, Authenticator) {
    let auth = AuthSettings {
        secret: Some(SECRET.into()),
        ..Default::default()
    };
    let mut settings = Settings::new("redis://127.0.0.1:1", "router-test");
    settings.redis_timeout = Duration::from_secs(5);
    let config = server::config::ServerConfig {
        settings,
        auth: auth.clone(),
        site_addr: "127.0.0.1:0".parse().expect("address"),
        site_root: "target/site".into(),
        hash_file: server::assets::hash_file_path(server::assets::HASH_FILE),
        cors_origins: Default::default(),
    };
    let http = server::HttpSettings::new(&config);
    let state = server::build_state(&config, config.site_addr, &http).expect("state");
    (
        server::router(state, http),
        Authenticator::new(&auth).expect("auth"),
    )
}

/// A token for `role`, valid for a minute.
fn token(auth: &Authenticator, role: Role) -> String {
    auth.issue(role, "router-test", Duration::from_secs(60))
        .expect("token")
}

/// Sends one request; returns status, headers and JSON body.
async fn send(
    router: &axum::Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (parts.status, parts.headers, json)
}

fn request(method: &str, path: &str, token: Option<&str>, body: Body) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(body).expect("request")
}

#[tokio::test]
async fn bad_input_is_refused_with_a_json_reason_before_any_redis_work() {
    let (router, auth) = router();
    let moderator = token(&auth, Role::Moderator);
    let admin = token(&auth, Role::Admin);
    for (method, path, token, needle) in [
        (
            "GET",
            "/api/v1/admin/jobs/trends?period=1y",
            &moderator,
            "period must be one of 24h, 7d, 30d",
        ),
        (
            "GET",
            "/api/v1/admin/jobs/alerts/stuck?limit=x",
            &moderator,
            "limit must be a whole number",
        ),
        (
            "GET",
            "/api/v1/admin/jobs/history?step=week",
            &moderator,
            "step must be one of",
        ),
        (
            "GET",
            "/api/v1/admin/jobs/audit?count=9999",
            &admin,
            "count must be a whole number",
        ),
        (
            "DELETE",
            "/api/v1/admin/jobs/queue/q/clear?type=everything",
            &admin,
            "type must be one of",
        ),
        (
            "POST",
            "/api/v1/admin/jobs/retry/q/%0A",
            &admin,
            "job id must be",
        ),
    ] {
        let (status, _, body) =
            send(&router, request(method, path, Some(token), Body::empty())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"], "bad_request", "{path}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "{path}: {message}");
    }
    let too_big = Body::from(vec![b'{'; 70 * 1024]);
    let (status, _, body) = send(
        &router,
        request(
            "POST",
            "/api/v1/admin/jobs/retry/q/1",
            Some(&admin),
            too_big,
        ),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            &Value::from("payload_too_large")
        )
    );
}

#[tokio::test]
async fn guards_refuse_before_anything_else() {
    let (router, auth) = router();
    let moderator = token(&auth, Role::Moderator);
    let (status, headers, body) = send(
        &router,
        request("GET", "/api/v1/admin/jobs/metrics", None, Body::empty()),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNAUTHORIZED, &Value::from("unauthorized"))
    );
    assert_eq!(
        headers.get("www-authenticate").map(|v| v.as_bytes()),
        Some(&b"Bearer"[..])
    );
    let (status, _, body) = send(
        &router,
        request(
            "PATCH",
            "/api/v1/admin/jobs/queue/q/pause",
            Some(&moderator),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::FORBIDDEN, &Value::from("forbidden"))
    );
    // A server function with no declared role is no server function.
    let (status, _, body) = send(
        &router,
        request("POST", "/api/fn/nothing", Some(&moderator), Body::empty()),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::NOT_FOUND, &Value::from("not_found"))
    );
    for path in ["/api/", "/api", "/auth/nothing"] {
        let (status, _, body) = send(&router, request("GET", path, None, Body::empty())).await;
        assert_eq!(
            (status, &body["error"]),
            (StatusCode::NOT_FOUND, &Value::from("not_found")),
            "{path}"
        );
    }
    let (status, _, body) = send(
        &router,
        request("GET", "/auth/session", None, Body::empty()),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            &Value::from("method_not_allowed")
        )
    );
    let (status, _, body) = send(
        &router,
        request("DELETE", "/api/v1/admin/jobs/metrics", None, Body::empty()),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            &Value::from("method_not_allowed")
        )
    );
}

#[tokio::test]
async fn a_redis_that_refuses_connections_is_a_prompt_503() {
    let (router, auth) = router();
    let moderator = token(&auth, Role::Moderator);
    let started = Instant::now();
    let (status, _, body) = send(
        &router,
        request(
            "GET",
            "/api/v1/admin/jobs/metrics",
            Some(&moderator),
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            &Value::from("redis_unavailable")
        )
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}
