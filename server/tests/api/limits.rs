//! Per-user limits (regression, issue 15, defect 7): one user cannot hold the monitor's live
//! streams or its history reads, and audit entries stay small whatever a request carried. Over a
//! limit the answer is 429 JSON with `Retry-After`.

use crate::helpers::{eventually, unique_prefix, SseClient, TestApp, TestOptions};
use app::role::Role;
use app::ssr::limits::LimitSettings;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const LIVE: &str = "/api/v1/admin/jobs/live";

fn limited(label: &str, limits: LimitSettings) -> TestOptions {
    let mut options = TestOptions::new(&unique_prefix(label));
    options.limits = limits;
    options
}

/// A stream request's status, `Retry-After` and body (the body only when it is not a stream).
async fn open(
    app: &TestApp,
    token: &str,
) -> (u16, Option<String>, Value, Option<reqwest::Response>) {
    let response = app
        .client
        .get(app.url(LIVE))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if status == 200 {
        return (status, retry_after, Value::Null, Some(response));
    }
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
        None,
    )
}

#[tokio::test]
async fn live_streams_are_limited_per_user_and_in_total() {
    let app = TestApp::spawn_with(limited(
        "limit-streams",
        LimitSettings {
            streams_per_user: 2,
            streams_total: 3,
            ..LimitSettings::default()
        },
    ))
    .await;
    let ann = app.token_as(Role::Moderator, "ann");
    let first = SseClient::connect(&app, LIVE, Some(&ann)).await;
    let _second = SseClient::connect(&app, LIVE, Some(&ann)).await;
    assert_eq!((first.status, _second.status), (200, 200));

    let (status, retry_after, body, _) = open(&app, &ann).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "too_many_requests");
    assert!(body["message"]
        .as_str()
        .unwrap_or_default()
        .contains("per user"));
    assert_eq!(retry_after.as_deref(), Some("10"));

    // Another user still gets one; then the instance is full for everyone.
    let bob = app.token_as(Role::Moderator, "bob");
    let _bob = SseClient::connect(&app, LIVE, Some(&bob)).await;
    assert_eq!(_bob.status, 200);
    let cid = app.token_as(Role::Moderator, "cid");
    let (status, _, body, _) = open(&app, &cid).await;
    assert_eq!(status, 429, "{body}");

    // A stream that ends gives its place back.
    drop(first);
    eventually(
        Duration::from_secs(5),
        "the place to be given back",
        || async {
            let (status, _, _, stream) = open(&app, &cid).await;
            (status == 200).then_some(stream)
        },
    )
    .await;
}

#[tokio::test]
async fn history_reads_are_limited_per_user_over_time() {
    let app = TestApp::spawn_with(limited(
        "limit-history",
        LimitSettings {
            // 30 hours by minute (1,801 reads) fit once a minute, not twice.
            history_reads_per_minute: 3_000,
            ..LimitSettings::default()
        },
    ))
    .await;
    let _world = app.world(json!([{"name": "q", "completed": 1}])).await;
    let path = "/api/v1/admin/jobs/history?queue=q&from=0&to=108000000&step=minute";
    let (status, body) = app.get_json(path, Role::Moderator).await;
    assert_eq!(status, 200, "{body}");
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token(Role::Moderator))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "too_many_requests", "{body}");
    // Another user has a budget of their own.
    let other = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token_as(Role::Moderator, "someone-else"))
        .send()
        .await
        .expect("request");
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn the_audit_trail_keeps_a_bounded_summary_of_a_retry_not_its_data() {
    let app = TestApp::spawn("limit-audit").await;
    let _world = app.world(json!([{"name": "q", "failed": 1}])).await;
    let failed =
        crate::helpers::redis_cli(&["ZRANGE", &format!("{}:q:failed", app.prefix), "0", "0"]);
    let big = "personal data ".repeat(2_000);
    let (status, reply) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/jobs/retry/q/{failed}"),
            Role::Admin,
            Some(json!({"priority": 2, "dataOverrides": {"note": big, "to": "ops@example.com"}})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let (_, page) = app
        .call(Method::GET, "/api/v1/admin/jobs/audit", Role::Admin, None)
        .await;
    let params = &page["entries"][0]["params"];
    assert_eq!(params["priority"], 2, "{params}");
    assert_eq!(
        params["dataOverrides"]["keys"],
        json!(["note", "to"]),
        "{params}"
    );
    let text = params.to_string();
    assert!(text.len() < 1_024, "{} bytes", text.len());
    assert!(!text.contains("personal data") && !text.contains("ops@example.com"));
}
