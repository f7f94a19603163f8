//! Flows (parents waiting for children, across queues and within one): removing a child must do
//! to its parent what BullMQ's own removal does. Real BullMQ is the oracle: the same world is
//! built twice, changed by BullMQ on one prefix and by the monitor on the other, and must end
//! the same, job by job.
//!
//! Regression (issue 15, defect 4): clear and retry-with-`removeOriginal` removed a child from
//! its parent's `:dependencies` and stopped there, stranding a parent whose last pending child
//! it was in `waiting-children` forever.

use crate::helpers::{fixture_raw, redis_url, unique_prefix, PrefixGuard, TestApp};
use app::role::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// Two flows whose children fail (so their parents keep waiting for them): one parent in
/// another queue, one in the children's own queue.
fn flows() -> Value {
    json!([
        {"name": "p-cross", "queue": "parents",
         "children": [{"name": "boom-a", "queue": "kids"}, {"name": "ok-a", "queue": "kids"}]},
        {"name": "p-same", "queue": "kids", "children": [{"name": "boom-b", "queue": "kids"}]}
    ])
}

/// Builds the flows under `prefix` with BullMQ `version`; returns the job ids by name.
async fn build(prefix: &str, version: u8) -> Value {
    let spec = json!({"redis": redis_url(), "prefix": prefix, "bullmq": version, "flows": flows()});
    fixture_raw("flows", spec).await["ids"].clone()
}

/// BullMQ's view of both queues: counts, and every job's state and pending children by name.
async fn dump(prefix: &str, version: u8) -> Value {
    let spec = json!({"redis": redis_url(), "prefix": prefix, "bullmq": version,
                      "queues": ["parents", "kids"]});
    fixture_raw("dump", spec).await["queues"].clone()
}

/// The twin worlds: ours (served by a test server) and BullMQ's.
async fn twins(label: &str, version: u8) -> (TestApp, PrefixGuard, Value, Value) {
    let app = TestApp::spawn(label).await;
    let theirs = PrefixGuard {
        prefix: unique_prefix(&format!("{label}-bullmq")),
    };
    let ours_ids = build(&app.prefix, version).await;
    let their_ids = build(&theirs.prefix, version).await;
    app.rediscover().await;
    assert_eq!(
        dump(&app.prefix, version).await,
        dump(&theirs.prefix, version).await,
        "the twins start equal"
    );
    (app, theirs, ours_ids, their_ids)
}

async fn clear_matches_bullmq_clean(version: u8) {
    let (app, theirs, _, _) = twins(&format!("flow-clean-v{version}"), version).await;
    let spec = json!({"redis": redis_url(), "prefix": theirs.prefix, "bullmq": version,
                      "queue": "kids", "type": "failed", "grace": 0, "limit": 0});
    assert_eq!(fixture_raw("clean", spec).await["removed"], 2);
    let (status, reply) = app
        .call(
            Method::DELETE,
            "/api/v1/admin/jobs/queue/kids/clear?type=failed",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!((status, &reply["removed"]), (200, &json!(2)), "{reply}");

    let (ours, bullmq) = (
        dump(&app.prefix, version).await,
        dump(&theirs.prefix, version).await,
    );
    assert_eq!(
        ours, bullmq,
        "the monitor's clear left what BullMQ's clean leaves"
    );
    // What that is: the parent in another queue waits to run; the one in the same queue went
    // with its last child, as BullMQ does it.
    assert_eq!(
        ours["parents"]["jobs"]["p-cross"]["state"], "waiting",
        "{ours}"
    );
    assert!(ours["kids"]["jobs"].get("p-same").is_none(), "{ours}");
}

#[tokio::test]
async fn clearing_failed_children_frees_their_parents_as_bullmq_clean_does_v6() {
    clear_matches_bullmq_clean(6).await;
}

#[tokio::test]
async fn clearing_failed_children_frees_their_parents_as_bullmq_clean_does_v5() {
    clear_matches_bullmq_clean(5).await;
}

/// The last event of a queue's stream: its fields but the job id (ids differ between twins).
fn last_event(prefix: &str, queue: &str) -> Vec<(String, String)> {
    let (_, fields) = crate::helpers::last_event(prefix, queue);
    fields
        .into_iter()
        .filter(|(name, _)| name != "jobId")
        .collect()
}

#[tokio::test]
async fn retrying_a_child_with_remove_original_frees_its_parent_as_job_remove_does() {
    let (app, theirs, ours_ids, their_ids) = twins("flow-remove", 6).await;
    let spec = json!({"redis": redis_url(), "prefix": theirs.prefix, "queue": "kids",
                      "id": their_ids["boom-a"]});
    fixture_raw("remove", spec).await;
    let (status, reply) = app
        .call(
            Method::POST,
            &format!(
                "/api/v1/admin/jobs/retry/kids/{}",
                ours_ids["boom-a"].as_str().expect("id")
            ),
            Role::Admin,
            Some(json!({"removeOriginal": true})),
        )
        .await;
    assert_eq!(
        (status, &reply["original"]),
        (200, &json!("removed")),
        "{reply}"
    );

    let (ours, bullmq) = (dump(&app.prefix, 6).await, dump(&theirs.prefix, 6).await);
    assert_eq!(
        ours["parents"], bullmq["parents"],
        "the parent moved on as BullMQ moves it"
    );
    assert_eq!(ours["parents"]["jobs"]["p-cross"]["state"], "waiting");
    assert_eq!(
        last_event(&app.prefix, "parents"),
        last_event(&theirs.prefix, "parents"),
        "and its queue heard about it the same way"
    );
    // The retry itself is the one difference: a new job, not linked to the parent.
    assert_eq!(ours["kids"]["jobs"]["boom-a"]["state"], "waiting", "{ours}");
    assert!(bullmq["kids"]["jobs"].get("boom-a").is_none());
}

#[tokio::test]
async fn removing_a_child_from_the_explorer_frees_its_parent_as_job_remove_does() {
    let (app, theirs, ours_ids, their_ids) = twins("flow-explorer-remove", 6).await;
    let spec = json!({"redis": redis_url(), "prefix": theirs.prefix, "queue": "kids",
                      "id": their_ids["boom-a"]});
    fixture_raw("remove", spec).await;
    let (status, reply) = app
        .call(
            Method::DELETE,
            &format!(
                "/api/v1/admin/jobs/queue/kids/jobs/{}",
                ours_ids["boom-a"].as_str().expect("id")
            ),
            Role::Admin,
            None,
        )
        .await;
    assert_eq!((status, &reply["from"]), (200, &json!("failed")), "{reply}");
    let (ours, bullmq) = (dump(&app.prefix, 6).await, dump(&theirs.prefix, 6).await);
    assert_eq!(ours, bullmq, "the same jobs in the same states");
    assert_eq!(ours["parents"]["jobs"]["p-cross"]["state"], "waiting");
    assert_eq!(
        last_event(&app.prefix, "parents"),
        last_event(&theirs.prefix, "parents")
    );
}
