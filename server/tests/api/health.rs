use crate::helpers::{unique_prefix, TestApp, TestOptions};
use reqwest::Method;
use serde_json::Value;

#[tokio::test]
async fn healthz_answers_without_credentials() {
    let app = TestApp::spawn("healthz").await;
    let (status, body) = app.anonymous(Method::GET, "/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_is_ready_when_redis_answers() {
    let app = TestApp::spawn("readyz").await;
    let (status, body) = app.anonymous(Method::GET, "/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ready");
}

#[tokio::test]
async fn readyz_and_the_api_answer_503_json_when_redis_is_unreachable() {
    // Arrange: a port nothing listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let mut options = TestOptions::new(&unique_prefix("noredis"));
    options.redis_url = format!("redis://127.0.0.1:{port}");
    let app = TestApp::spawn_with(options).await;

    // Act + Assert: every read answers promptly with the JSON error shape.
    let response = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "redis_unavailable");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));

    for path in [
        "/api/v1/admin/jobs/queues",
        "/api/v1/admin/jobs/metrics",
        "/api/v1/admin/jobs/trends",
        "/api/v1/admin/jobs/alerts/stuck",
    ] {
        let started = std::time::Instant::now();
        let (status, body) = app.get_json(path, app::role::Role::Moderator).await;
        assert_eq!(status, 503, "{path}: {body}");
        assert_eq!(body["error"], "redis_unavailable", "{path}");
        // The test server's Redis timeout is 800 ms; allow scheduling slack, not a hang.
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "{path} must answer within the Redis timeout, took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn unknown_api_paths_are_json_404() {
    let app = TestApp::spawn("api404").await;
    let (status, body) = app.anonymous(Method::GET, "/api/v1/admin/jobs/nope").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not_found");
}

#[tokio::test]
async fn a_known_api_path_with_the_wrong_method_is_json_405() {
    let app = TestApp::spawn("api405").await;
    let (status, body) = app
        .anonymous(Method::DELETE, "/api/v1/admin/jobs/metrics")
        .await;
    assert_eq!(status, 405);
    assert_eq!(body["error"], "method_not_allowed");
}
