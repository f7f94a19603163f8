//! `GET`/`PUT /queue/{q}/limits` against real BullMQ: its `getGlobalConcurrency()` and
//! `getGlobalRateLimit()` read what we set (v6 and v5), and a real worker obeys the new limit.

use crate::helpers::*;
use app::role::Role;
use reqwest::Method;
use serde_json::{json, Value};

fn path(queue: &str) -> String {
    format!("/api/v1/admin/jobs/queue/{queue}/limits")
}

/// BullMQ's own reading of each queue's limits.
async fn bullmq_limits(prefix: &str) -> Value {
    fixture(
        "counts",
        prefix,
        json!([{"name": "six"}, {"name": "five", "bullmq": 5}]),
    )
    .await
}

#[tokio::test]
async fn limits_set_here_are_bullmqs_and_a_real_worker_obeys_them() {
    let app = TestApp::spawn("limits").await;
    let prefix = app.prefix.clone();
    let _world = app
        .world(
            json!([{"name": "six", "completed": 1}, {"name": "five", "bullmq": 5, "completed": 1}]),
        )
        .await;

    let (status, none) = app.get_json(&path("six"), Role::Moderator).await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(
        none,
        json!({"queueName": "six", "concurrency": null, "rateLimit": null})
    );

    for queue in ["six", "five"] {
        let (status, set) = app
            .call(
                Method::PUT,
                &path(queue),
                Role::Admin,
                Some(json!({"concurrency": 1, "rateLimit": {"max": 40, "duration": 1000}})),
            )
            .await;
        assert_eq!(status, 200, "{set}");
        assert_eq!(set["concurrency"], 1);
        assert_eq!(set["rateLimit"], json!({"max": 40, "duration": 1000}));
    }
    let bullmq = bullmq_limits(&prefix).await;
    for queue in ["six", "five"] {
        let theirs = &bullmq["queues"][queue];
        assert_eq!(theirs["globalConcurrency"], 1, "{queue}: {theirs}");
        assert_eq!(
            theirs["globalRateLimit"],
            json!({"max": 40, "duration": 1000}),
            "{queue}: {theirs}"
        );
        let (_, ours) = app.get_json(&path(queue), Role::Moderator).await;
        assert_eq!(ours["concurrency"], theirs["globalConcurrency"]);
        assert_eq!(ours["rateLimit"], theirs["globalRateLimit"]);
    }

    // A worker allowed 5 at once runs one at a time now.
    let worked = fixture(
        "work",
        &prefix,
        json!([{"name": "six", "completed": 6, "workMs": 60, "concurrency": 5}]),
    )
    .await;
    assert_eq!(worked["queues"]["six"]["completed"], 6, "{worked}");
    assert_eq!(worked["maxParallel"]["six"], 1, "{worked}");

    // Only the rate limit goes; the concurrency stays. Then the concurrency goes too.
    let (status, after) = app
        .call(
            Method::PUT,
            &path("six"),
            Role::Admin,
            Some(json!({"rateLimit": null})),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(
        (after["concurrency"].as_u64(), &after["rateLimit"]),
        (Some(1), &Value::Null)
    );
    let (status, after) = app
        .call(
            Method::PUT,
            &path("six"),
            Role::Admin,
            Some(json!({"concurrency": null})),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["concurrency"], Value::Null);
    let bullmq = bullmq_limits(&prefix).await;
    assert_eq!(bullmq["queues"]["six"]["globalConcurrency"], Value::Null);
    assert_eq!(bullmq["queues"]["six"]["globalRateLimit"], Value::Null);
    let worked = fixture(
        "work",
        &prefix,
        json!([{"name": "six", "completed": 6, "workMs": 150, "concurrency": 3}]),
    )
    .await;
    assert!(
        worked["maxParallel"]["six"].as_u64().unwrap_or(0) > 1,
        "no limit: the worker's own concurrency again: {worked}"
    );

    // Audited, with the change and the result.
    let entries = app.audit_entries().await;
    let limits: Vec<&Value> = entries.iter().filter(|e| e["action"] == "limits").collect();
    assert_eq!(limits.len(), 4, "{entries:?}");
    assert_eq!(limits[0]["queueName"], "six");
    assert_eq!(limits[0]["params"]["concurrency"], Value::Null);
    assert_eq!(limits[0]["result"]["concurrency"], Value::Null);
}

#[tokio::test]
async fn bad_limit_changes_are_refused_and_moderators_only_read() {
    let app = TestApp::spawn("limits-bad").await;
    let _world = app.world(json!([{"name": "q", "completed": 1}])).await;
    for body in [
        json!({}),
        json!({"concurrency": 0}),
        json!({"concurrency": "3"}),
        json!({"concurrency": 1.5}),
        json!({"rateLimit": {"max": 0, "duration": 1000}}),
        json!({"rateLimit": {"max": 5}}),
        json!({"rateLimit": {"max": 5, "duration": 86_400_001}}),
        json!({"limit": 3}),
        json!([1]),
    ] {
        let (status, error) = app
            .call(Method::PUT, &path("q"), Role::Admin, Some(body.clone()))
            .await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("bad_request")),
            "{body}: {error}"
        );
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, _) = app
        .call(
            Method::PUT,
            &path("q"),
            Role::Moderator,
            Some(json!({"concurrency": 2})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, error) = app
        .call(
            Method::PUT,
            &path("nope"),
            Role::Admin,
            Some(json!({"concurrency": 2})),
        )
        .await;
    assert_eq!((status, error["error"].as_str()), (404, Some("not_found")));
    let (_, limits) = app.get_json(&path("q"), Role::Moderator).await;
    assert_eq!(limits["concurrency"], Value::Null, "nothing was written");
}
