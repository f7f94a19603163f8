//! Pause, resume and clear, judged by real BullMQ: a real worker must stop and start again, and
//! BullMQ's own counts must show exactly the finished jobs gone. Every action is audited.

use crate::helpers::{eventually, fixture, TestApp};
use app::role::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn bull_counts(app: &TestApp, queue: &str, version: u8) -> Value {
    let report = fixture(
        "counts",
        &app.prefix,
        json!([{"name": queue, "bullmq": version}]),
    )
    .await;
    report["queues"][queue].clone()
}

async fn pause_and_resume_drive_a_real_worker(version: u8) {
    let app = TestApp::spawn(&format!("pause-v{version}")).await;
    let _world = app
        .world(json!([{"name": "busy", "bullmq": version, "liveWorker": {"workMs": 2}}]))
        .await;

    // Pause: BullMQ agrees, and new jobs are not taken by the running worker.
    let (status, reply) = app
        .call(
            Method::PATCH,
            "/api/v1/admin/jobs/queue/busy/pause",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply,
        json!({"success": true, "queueName": "busy", "paused": true, "changed": true})
    );
    assert_eq!(bull_counts(&app, "busy", version).await["isPaused"], true);
    fixture(
        "add",
        &app.prefix,
        json!([{"name": "busy", "bullmq": version, "count": 5}]),
    )
    .await;
    // Observe for a while that nothing runs (a negative can only be observed over time).
    let watch_until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < watch_until {
        let counts = bull_counts(&app, "busy", version).await;
        assert_eq!(
            counts["counts"]["completed"], 0,
            "a paused queue ran a job: {counts}"
        );
        assert_eq!(
            counts["counts"]["active"], 0,
            "a paused queue started a job: {counts}"
        );
    }
    let paused = bull_counts(&app, "busy", version).await;
    assert_eq!(paused["waitingCount"], 5, "{paused}");
    if version == 5 {
        // BullMQ 5 keeps a paused queue's jobs in its `paused` list.
        assert_eq!(paused["counts"]["paused"], 5, "{paused}");
    }

    // Pausing again changes nothing.
    let (_, again) = app
        .call(
            Method::PATCH,
            "/api/v1/admin/jobs/queue/busy/pause",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(again["changed"], false);

    // Resume: the same worker takes and finishes all five.
    let (status, reply) = app
        .call(
            Method::PATCH,
            "/api/v1/admin/jobs/queue/busy/resume",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["paused"], false);
    eventually(
        Duration::from_secs(15),
        "the worker to finish the 5 jobs",
        || async {
            let counts = bull_counts(&app, "busy", version).await;
            (counts["counts"]["completed"] == 5 && counts["isPaused"] == false).then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn pause_stops_and_resume_restarts_a_real_v6_worker() {
    pause_and_resume_drive_a_real_worker(6).await;
}

#[tokio::test]
async fn pause_stops_and_resume_restarts_a_real_v5_worker() {
    pause_and_resume_drive_a_real_worker(5).await;
}

#[tokio::test]
async fn clear_removes_exactly_the_finished_jobs() {
    let app = TestApp::spawn("clear").await;
    let world = app
        .world(
            json!([{"name": "mixed", "completed": 6, "failed": 4, "active": 1, "waiting": 3,
                       "prioritized": 2, "delayed": 2}]),
        )
        .await;
    let before = world.queue("mixed")["counts"].clone();

    let (status, reply) = app
        .call(
            Method::DELETE,
            "/api/v1/admin/jobs/queue/mixed/clear?type=completed",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        (reply["removed"].as_u64(), reply["type"].as_str()),
        (Some(6), Some("completed"))
    );
    let after = bull_counts(&app, "mixed", 6).await["counts"].clone();
    assert_eq!(after["completed"], 0);
    assert_eq!(after["failed"], before["failed"]);

    let (_, reply) = app
        .call(
            Method::DELETE,
            "/api/v1/admin/jobs/queue/mixed/clear",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(
        (reply["removed"].as_u64(), reply["type"].as_str()),
        (Some(4), Some("all"))
    );
    let after = bull_counts(&app, "mixed", 6).await["counts"].clone();
    for state in ["completed", "failed"] {
        assert_eq!(after[state], 0, "{state}");
    }
    for state in ["active", "waiting", "prioritized", "delayed"] {
        assert_eq!(after[state], before[state], "{state} must be untouched");
    }
    // No job hash of a finished job is left behind; the active job keeps its lock.
    let job_keys = crate::helpers::count_keys_blocking(&format!("{}:mixed:[0-9]*", app.prefix));
    let expected = 1 + 1 + 3 + 2 + 2; // active job + its lock + waiting + prioritized + delayed
    assert_eq!(job_keys, expected);

    let (status, body) = app
        .call(
            Method::DELETE,
            "/api/v1/admin/jobs/queue/mixed/clear?type=active",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("completed, failed, all")));
    let (status, _) = app
        .call(
            Method::DELETE,
            "/api/v1/admin/jobs/queue/nope/clear",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn clearing_while_a_worker_finishes_jobs_loses_nothing_else() {
    let app = TestApp::spawn("clear-race").await;
    let _world = app
        .world(json!([{"name": "race", "completed": 50, "liveWorker": {"workMs": 1, "concurrency": 4}}]))
        .await;
    // Jobs keep arriving and finishing while clear runs.
    let producer = fixture("add", &app.prefix, json!([{"name": "race", "count": 200}]));
    let clearing = async {
        let mut removed = 0;
        for _ in 0..5 {
            let (status, reply) = app
                .call(
                    Method::DELETE,
                    "/api/v1/admin/jobs/queue/race/clear?type=completed",
                    Role::Admin,
                    None,
                )
                .await;
            assert_eq!(status, 200, "{reply}");
            removed += reply["removed"].as_u64().expect("removed");
        }
        removed
    };
    let (_, removed) = tokio::join!(producer, clearing);
    // Every job either finished and was cleared, or is still accounted for by BullMQ.
    let counts = eventually(Duration::from_secs(20), "the worker to drain", || async {
        let counts = bull_counts(&app, "race", 6).await["counts"].clone();
        let settled = counts["waiting"] == 0 && counts["active"] == 0;
        settled.then_some(counts)
    })
    .await;
    let remaining = counts["completed"].as_u64().expect("completed");
    assert_eq!(
        removed + remaining,
        250,
        "cleared {removed} + left {remaining}: {counts}"
    );
}

#[tokio::test]
async fn control_actions_are_audited_and_paged_newest_first() {
    let app = TestApp::spawn("audit").await;
    let _world = app.world(json!([{"name": "q", "completed": 1}])).await;
    app.call(
        Method::PATCH,
        "/api/v1/admin/jobs/queue/q/pause",
        Role::Admin,
        None,
    )
    .await;
    app.call(
        Method::PATCH,
        "/api/v1/admin/jobs/queue/q/resume",
        Role::SuperAdmin,
        None,
    )
    .await;
    app.call(
        Method::DELETE,
        "/api/v1/admin/jobs/queue/q/clear?type=completed",
        Role::Admin,
        None,
    )
    .await;

    let (status, page) = app
        .call(
            Method::GET,
            "/api/v1/admin/jobs/audit?count=2",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["action"], "clear");
    assert_eq!(entries[0]["params"]["type"], "completed");
    assert_eq!(entries[0]["result"]["removed"], 1);
    assert_eq!(entries[1]["action"], "resume");
    assert_eq!(entries[1]["role"], "SUPER_ADMIN");
    assert_eq!(entries[1]["subject"], "test-user");
    assert_eq!(entries[1]["queueName"], "q");

    let next = page["next"].as_str().expect("a next cursor");
    let (_, older) = app
        .call(
            Method::GET,
            &format!("/api/v1/admin/jobs/audit?count=2&before={next}"),
            Role::Admin,
            None,
        )
        .await;
    let older = older["entries"].as_array().expect("entries").clone();
    assert!(older.iter().any(|e| e["action"] == "pause"), "{older:?}");

    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/admin/jobs/audit?before=nope",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = app
        .call(
            Method::GET,
            "/api/v1/admin/jobs/audit?count=0",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 400);
}
