//! Failure groups and bulk operations against real BullMQ: the groups are what the real
//! workers' failures were; an operation's effect is judged by BullMQ's own `getState`,
//! `getJobCounts` and a real worker running the retried jobs.

use crate::helpers::{
    eventually, fixture_raw, redis_cli, unique_prefix, SseClient, TestApp, TestOptions,
};
use app::role::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

const BASE: &str = "/api/v1/admin/jobs";

fn collecting(label: &str) -> TestOptions {
    let mut options = TestOptions::new(&unique_prefix(label));
    options.collector = true;
    options
}

/// Three causes of one job name, each with what varies between jobs (numbers, UUIDs, e-mail
/// addresses), `per` jobs of each (scaled).
fn causes(connection: usize, timeout: usize, address: usize) -> Value {
    json!([
        {"count": connection, "name": "send", "message": "connect ECONNREFUSED 10.0.0.{i}:5432"},
        {"count": timeout, "name": "send", "message": "Timeout after {i}ms for user {uuid}"},
        {"count": address, "name": "send", "message": "cannot deliver to {email}: mailbox full"},
    ])
}

/// Real failures through a real worker; BullMQ's report (`failed`: ids per cause index).
async fn fail(app: &TestApp, queue: &str, causes: Value, remove_on_fail: Option<Value>) -> Value {
    let mut spec = json!({
        "redis": app.redis_url, "prefix": app.prefix, "queue": queue, "causes": causes,
    });
    if let Some(remove) = remove_on_fail {
        spec["removeOnFail"] = remove;
    }
    let report = fixture_raw("fail", spec).await;
    app.rediscover().await;
    report
}

fn ids_of(report: &Value, cause: usize) -> Vec<String> {
    report["failed"][cause.to_string()]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|id| id.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /failures` until `accept` takes it.
async fn failures_where(
    app: &TestApp,
    query: &str,
    what: &str,
    accept: impl Fn(&Value) -> bool,
) -> Value {
    eventually(Duration::from_secs(60), what, || async {
        let (status, body) = app
            .get_json(&format!("{BASE}/failures{query}"), Role::Moderator)
            .await;
        assert_eq!(status, 200, "{body}");
        accept(&body).then_some(body)
    })
    .await
}

/// (count, retained) of each group, most first.
fn numbers(body: &Value) -> Vec<(u64, u64)> {
    body["groups"]
        .as_array()
        .map(|groups| {
            groups
                .iter()
                .map(|g| {
                    (
                        g["count"].as_u64().unwrap_or(0),
                        g["retained"].as_u64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn bulk(app: &TestApp, queue: &str, body: Value) -> (u16, Value) {
    app.call(
        Method::POST,
        &format!("{BASE}/queue/{queue}/bulk"),
        Role::Admin,
        Some(body),
    )
    .await
}

/// Dry run, then the run with its count; returns the operation id.
async fn run(app: &TestApp, queue: &str, action: &str, target: Value) -> (String, u64) {
    let (status, preview) = bulk(
        app,
        queue,
        json!({"action": action, "target": target.clone(), "dryRun": true}),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    let count = preview["count"].as_u64().expect("count");
    let (status, started) = bulk(
        app,
        queue,
        json!({"action": action, "target": target, "dryRun": false, "expect": count}),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["total"].as_u64(), Some(count));
    (
        started["operationId"].as_str().expect("id").to_owned(),
        count,
    )
}

/// Dry run, then the run, of a `retry-with-changes` with `changes`.
async fn run_changed(app: &TestApp, queue: &str, target: Value, changes: Value) -> (String, u64) {
    let mut body = json!({"action": "retry-with-changes", "target": target, "changes": changes});
    let (status, preview) = bulk(app, queue, body.clone()).await;
    assert_eq!(status, 200, "{preview}");
    let count = preview["count"].as_u64().expect("count");
    body["dryRun"] = json!(false);
    body["expect"] = json!(count);
    let (status, started) = bulk(app, queue, body).await;
    assert_eq!(status, 202, "{started}");
    (
        started["operationId"].as_str().expect("id").to_owned(),
        count,
    )
}

async fn operation(app: &TestApp, id: &str) -> Value {
    let (status, op) = app
        .get_json(&format!("{BASE}/operations/{id}"), Role::Admin)
        .await;
    assert_eq!(status, 200, "{op}");
    op
}

async fn finished(app: &TestApp, id: &str) -> Value {
    eventually(Duration::from_secs(60), "the operation to end", || async {
        let op = operation(app, id).await;
        (op["state"] != "running").then_some(op)
    })
    .await
}

/// An operation's (state, done, skipped).
fn outcome(op: &Value) -> (Option<&str>, Option<u64>, Option<u64>) {
    (
        op["state"].as_str(),
        op["done"].as_u64(),
        op["skipped"].as_u64(),
    )
}

async fn states(app: &TestApp, queue: &str, ids: &[String]) -> Vec<String> {
    let report = fixture_raw(
        "states",
        json!({"redis": app.redis_url, "prefix": app.prefix, "queue": queue, "ids": ids}),
    )
    .await;
    ids.iter()
        .map(|id| report["states"][id].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn counts(app: &TestApp, queue: &str) -> Value {
    let report = fixture_raw(
        "counts",
        json!({"redis": app.redis_url, "prefix": app.prefix, "queues": [{"name": queue}]}),
    )
    .await;
    report["queues"][queue]["counts"].clone()
}

#[tokio::test]
async fn failures_are_grouped_by_cause_and_a_retried_group_is_exactly_its_jobs() {
    let app = TestApp::spawn_with(collecting("bulk-groups")).await;
    // 2,500 failures in three causes; more events than BullMQ's stream keeps (10,000), so the
    // groups come from the events and from the retained jobs where the stream lost them.
    let report = fail(&app, "mail", causes(1200, 800, 500), None).await;
    let body = failures_where(&app, "", "three groups of 1,200, 800 and 500", |body| {
        numbers(body) == [(1200, 1200), (800, 800), (500, 500)]
    })
    .await;
    let groups = body["groups"].as_array().expect("groups").clone();
    assert_eq!(groups[0]["message"], "connect ECONNREFUSED <n>:<n>");
    assert_eq!(groups[1]["message"], "Timeout after <n>ms for user <uuid>");
    assert_eq!(
        groups[2]["message"],
        "cannot deliver to <email>: mailbox full"
    );
    assert_eq!(groups[0]["name"], "send");
    assert!(
        groups[0]["example"]
            .as_str()
            .is_some_and(|e| e.starts_with("connect ECONNREFUSED 10.0.0.")),
        "{}",
        groups[0]
    );
    assert_eq!(groups[1]["queues"][0]["queueName"], "mail");
    assert_eq!(
        groups[2]["hourly"].as_array().map(Vec::len),
        Some(24),
        "a day of hours for the sparkline"
    );
    assert_eq!(
        groups[2]["hourly"]
            .as_array()
            .and_then(|h| h.last())
            .and_then(Value::as_u64),
        Some(500)
    );
    assert!(groups[0]["firstSeen"].as_str().is_some());
    // Per queue, and for a queue without failures.
    let (status, none) = app
        .get_json(&format!("{BASE}/failures?queue=nosuch"), Role::Moderator)
        .await;
    assert_eq!(status, 404, "{none}");

    // With removeOnFail BullMQ keeps none: counted, nothing retained.
    let _ = fail(&app, "gone", causes(150, 100, 50), Some(json!(true))).await;
    let gone = failures_where(
        &app,
        "?queue=gone",
        "the removed failures counted",
        |body| numbers(body) == [(150, 0), (100, 0), (50, 0)],
    )
    .await;
    assert_eq!(gone["groups"][0]["queues"][0]["queueName"], "gone");

    // Retry the timeout group: a dry run counts it, the run makes exactly its jobs waiting.
    let timeout_group = groups[1]["id"].as_str().expect("id").to_owned();
    let target = json!({"failureGroup": timeout_group});
    let (status, refused) = bulk(
        &app,
        "mail",
        json!({"action": "retry", "target": target, "dryRun": false, "expect": 100}),
    )
    .await;
    assert_eq!(
        status, 409,
        "800 jobs are more than 100 expected: {refused}"
    );
    assert_eq!(refused["error"], "conflict");
    let (id, count) = run(&app, "mail", "retry", target).await;
    assert_eq!(count, 800);
    let op = finished(&app, &id).await;
    assert_eq!(outcome(&op), (Some("done"), Some(800), Some(0)), "{op}");
    let retried = ids_of(&report, 1);
    assert!(
        states(&app, "mail", &retried)
            .await
            .iter()
            .all(|s| s == "waiting"),
        "BullMQ sees every retried job waiting"
    );
    let others: Vec<String> = ids_of(&report, 0).into_iter().take(50).collect();
    assert!(states(&app, "mail", &others)
        .await
        .iter()
        .all(|s| s == "failed"));
    let after = counts(&app, "mail").await;
    assert_eq!(
        (after["waiting"].as_u64(), after["failed"].as_u64()),
        (Some(800), Some(1700))
    );
    // A real worker completes exactly those.
    let drained = fixture_raw(
        "drain",
        json!({"redis": app.redis_url, "prefix": app.prefix, "queue": "mail"}),
    )
    .await;
    let completed: HashSet<&str> = drained["completed"]
        .as_array()
        .expect("completed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(completed, retried.iter().map(String::as_str).collect());
    // The group keeps its count and no longer holds jobs; the audit trail has the operation.
    failures_where(
        &app,
        "?queue=mail",
        "the retried group to hold none",
        |body| numbers(body) == [(1200, 1200), (800, 0), (500, 500)],
    )
    .await;
    let audit = app.audit_entries().await;
    let finished_entry = audit
        .iter()
        .find(|e| e["action"] == "bulk-finished")
        .expect("the final counts are audited");
    assert_eq!(finished_entry["result"]["done"], 800, "{finished_entry}");
    assert!(audit.iter().any(|e| e["action"] == "bulk-retry"));
}

#[tokio::test]
async fn removing_by_a_search_removes_exactly_the_matching_jobs() {
    let app = TestApp::spawn_with(TestOptions::new(&unique_prefix("bulk-search"))).await;
    let report = fail(&app, "bills", causes(300, 200, 100), None).await;
    let target = json!({"state": "failed", "search": "failed:ECONNREFUSED"});
    let (id, count) = run(&app, "bills", "remove", target).await;
    assert_eq!(count, 300);
    let op = finished(&app, &id).await;
    assert_eq!(
        (op["done"].as_u64(), op["skipped"].as_u64()),
        (Some(300), Some(0))
    );
    let after = counts(&app, "bills").await;
    assert_eq!(after["failed"].as_u64(), Some(300), "the 300 others remain");
    let removed = ids_of(&report, 0);
    assert!(states(&app, "bills", &removed[..50])
        .await
        .iter()
        .all(|s| s == "missing"));
    let kept = ids_of(&report, 2);
    assert!(states(&app, "bills", &kept[..50])
        .await
        .iter()
        .all(|s| s == "failed"));
}

#[tokio::test]
async fn an_operation_goes_on_in_another_instance_when_its_instance_dies() {
    let prefix = unique_prefix("bulk-kill");
    let mut slow = TestOptions::new(&prefix);
    slow.bulk_batch = 25;
    slow.bulk_pause = Duration::from_millis(40);
    let mut first = TestApp::spawn_with(slow).await;
    let second = TestApp::spawn_with(TestOptions::new(&prefix)).await;
    let report = fail(&first, "video", causes(600, 0, 0), None).await;
    second.rediscover().await;
    let (id, count) = run(
        &first,
        "video",
        "retry",
        json!({"state": "failed", "search": ""}),
    )
    .await;
    assert_eq!(count, 600);
    eventually(Duration::from_secs(30), "the first batches", || async {
        let op = operation(&first, &id).await;
        (op["done"].as_u64() > Some(0)).then_some(())
    })
    .await;
    first.stop();
    let part = operation(&second, &id).await;
    assert!(
        part["done"].as_u64() < Some(600),
        "the first instance died half-way: {part}"
    );
    let op = finished(&second, &id).await;
    assert_eq!(
        outcome(&op),
        (Some("done"), Some(600), Some(0)),
        "every job once: {op}"
    );
    // Each job is in `wait` exactly once.
    let wait = redis_cli(&["LRANGE", &format!("{prefix}:video:wait"), "0", "-1"]);
    let listed: Vec<&str> = wait.lines().filter(|l| !l.is_empty()).collect();
    let unique: HashSet<&str> = listed.iter().copied().collect();
    assert_eq!((listed.len(), unique.len()), (600, 600));
    let expected: HashSet<String> = ids_of(&report, 0).into_iter().collect();
    assert_eq!(
        unique,
        expected.iter().map(String::as_str).collect::<HashSet<_>>()
    );
    drop(first);
}

#[tokio::test]
async fn an_operation_is_cancelled_between_batches_and_one_runs_per_queue() {
    let mut slow = TestOptions::new(&unique_prefix("bulk-cancel"));
    slow.bulk_batch = 10;
    slow.bulk_pause = Duration::from_millis(50);
    let app = TestApp::spawn_with(slow).await;
    let _ = fail(&app, "sync", causes(200, 100, 0), None).await;
    let (id, _) = run(
        &app,
        "sync",
        "retry",
        json!({"state": "failed", "search": "failed:ECONNREFUSED"}),
    )
    .await;
    // A second operation on the same queue waits for the first.
    let (status, busy) = bulk(
        &app,
        "sync",
        json!({"action": "remove", "target": {"state": "failed"}, "dryRun": false, "expect": 300}),
    )
    .await;
    assert_eq!(status, 409, "{busy}");
    assert!(
        busy["message"].as_str().is_some_and(|m| m.contains(&id)),
        "{busy}"
    );
    let (status, cancelled) = app
        .call(
            Method::DELETE,
            &format!("{BASE}/operations/{id}"),
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["state"], "cancelled");
    let done = cancelled["done"].as_u64().expect("done");
    assert!(done < 200, "{cancelled}");
    // What ran stays done, nothing more happens.
    let after = counts(&app, "sync").await;
    assert_eq!(after["waiting"].as_u64(), Some(done));
    assert_eq!(after["failed"].as_u64(), Some(300 - done));
    let (status, again) = app
        .call(
            Method::DELETE,
            &format!("{BASE}/operations/{id}"),
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 409, "{again}");
    let (status, listed) = app
        .get_json(&format!("{BASE}/operations"), Role::Admin)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed["operations"][0]["id"], id.as_str());
    assert!(app
        .audit_actions()
        .await
        .contains(&"bulk-cancelled".to_owned()));
}

#[tokio::test]
async fn bad_bulk_requests_are_refused_with_a_reason() {
    let app = TestApp::spawn("bulk-bad").await;
    let _ = fail(&app, "q", causes(3, 0, 0), None).await;
    for (body, needle) in [
        (
            json!({"action": "explode", "target": {"ids": ["1"]}}),
            "action",
        ),
        (json!({"action": "retry", "target": {"ids": []}}), "empty"),
        (
            json!({"action": "retry", "target": {"nothing": 1}}),
            "target",
        ),
        (
            json!({"action": "retry", "target": {"state": "failed"}, "dryRun": false}),
            "expect",
        ),
        (
            json!({"action": "retry", "target": {"failureGroup": "xyz"}}),
            "failureGroup",
        ),
        (
            json!({"action": "promote", "target": {"state": "failed"}}),
            "promote",
        ),
        (
            json!({"action": "retry", "target": {"state": "sleeping"}}),
            "target.state",
        ),
        (
            json!({"action": "retry", "target": {"state": "failed", "search": "failed:\"open"}}),
            "quote",
        ),
        (
            json!({"action": "retry", "target": {"ids": ["1"]}, "extra": 1}),
            "extra",
        ),
        (
            json!({"action": "retry-with-changes", "target": {"ids": ["1"]}}),
            "needs `changes`",
        ),
        (
            json!({"action": "retry", "target": {"ids": ["1"]}, "changes": {}}),
            "only with action retry-with-changes",
        ),
        (
            json!({"action": "retry-with-changes", "target": {"ids": ["1"]}, "changes": {"priority": -1}}),
            "priority",
        ),
        (
            json!({"action": "retry-with-changes", "target": {"state": "delayed"}, "changes": {}}),
            "failed or completed",
        ),
    ] {
        let (status, reply) = bulk(&app, "q", body.clone()).await;
        assert_eq!(status, 400, "{body} → {reply}");
        assert_eq!(reply["error"], "bad_request");
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{body} → {reply}"
        );
    }
    // Nothing to do is a conflict, not a silent success.
    let (status, reply) = bulk(
        &app,
        "q",
        json!({"action": "promote", "target": {"state": "delayed"}, "dryRun": false, "expect": 0}),
    )
    .await;
    assert_eq!(status, 409, "{reply}");
    // A moderator may read groups and operations, not start them.
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{BASE}/queue/q/bulk"),
            Role::Moderator,
            Some(json!({"action": "retry", "target": {"ids": ["1"]}})),
        )
        .await;
    assert_eq!(status, 403);
    for (path, expected) in [
        ("/operations/nope", 400),
        ("/operations/0123456789abcdef", 404),
        ("/failures?since=yesterday", 400),
        ("/failures?since=90d", 400),
        ("/failures?since=2h", 200),
    ] {
        let (status, reply) = app.get_json(&format!("{BASE}{path}"), Role::Admin).await;
        assert_eq!(status, expected, "{path} → {reply}");
    }
    // The dry run of listed ids counts those the action applies to, once each.
    let (status, preview) = bulk(
        &app,
        "q",
        json!({"action": "retry", "target": {"ids": ["1", "1", "2", "999"]}}),
    )
    .await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["count"], 2);
    assert_eq!(
        counts(&app, "q").await["failed"].as_u64(),
        Some(3),
        "a dry run changes nothing"
    );
}

#[tokio::test]
async fn every_queue_is_paused_and_resumed_at_once_after_a_dry_run() {
    let app = TestApp::spawn("bulk-queues").await;
    for queue in ["a", "b", "c"] {
        let _ = fail(&app, queue, causes(1, 0, 0), None).await;
    }
    let path = format!("{BASE}/queues/bulk");
    let call = |body: Value| app.call(Method::POST, &path, Role::Admin, Some(body));
    let (status, preview) = call(json!({"action": "pause"})).await;
    assert_eq!(status, 200, "{preview}");
    assert_eq!(preview["queues"], json!(["a", "b", "c"]));
    let (status, refused) = call(json!({"action": "pause", "dryRun": false})).await;
    assert_eq!(status, 400, "{refused}");
    let (status, paused) = call(json!({"action": "pause", "dryRun": false, "expect": 3})).await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["count"], 3);
    let report = fixture_raw(
        "counts",
        json!({"redis": app.redis_url, "prefix": app.prefix,
               "queues": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}),
    )
    .await;
    for queue in ["a", "b", "c"] {
        assert_eq!(
            report["queues"][queue]["isPaused"], true,
            "BullMQ: {queue} paused"
        );
    }
    let (_, again) = call(json!({"action": "pause"})).await;
    assert_eq!(again["count"], 0, "nothing left to pause");
    let (status, resumed) = call(json!({"action": "resume", "dryRun": false, "expect": 3})).await;
    assert_eq!(
        (status, resumed["count"].as_u64()),
        (200, Some(3)),
        "{resumed}"
    );
    assert_eq!(
        app.audit_actions()
            .await
            .iter()
            .filter(|a| *a == "pause")
            .count(),
        3,
        "each queue's pause is audited"
    );
}

#[tokio::test]
async fn failed_jobs_are_retried_with_changes_as_new_jobs_a_real_worker_runs() {
    let mut options = TestOptions::new(&unique_prefix("bulk-changes"));
    // Several batches, so the copies cross batch boundaries.
    options.bulk_batch = 25;
    let app = TestApp::spawn_with(options).await;
    let report = fail(&app, "orders", causes(120, 40, 0), None).await;
    let originals = ids_of(&report, 0);
    // A counter behind the ids in use (reset by hand, or custom numeric job ids): new jobs
    // take the next free number, never an existing job's hash.
    redis_cli(&["SET", &format!("{}:orders:id", app.prefix), "0"]);

    // The ECONNREFUSED ones, with new data, priority and attempts, the originals removed.
    let changes = json!({
        "dataOverrides": {"host": "10.0.0.99", "fixed": true},
        "priority": 7,
        "attempts": 2,
        "removeOriginal": true,
    });
    let (id, count) = run_changed(
        &app,
        "orders",
        json!({"state": "failed", "search": "failed:ECONNREFUSED"}),
        changes,
    )
    .await;
    assert_eq!(count, 120);
    let op = finished(&app, &id).await;
    assert_eq!(outcome(&op), (Some("done"), Some(120), Some(0)), "{op}");
    assert_eq!(op["action"], "retry-with-changes");
    assert_eq!(op["changes"]["priority"], 7, "{op}");
    // BullMQ: the originals are gone, the other cause is untouched, 120 new prioritized jobs.
    assert!(states(&app, "orders", &originals)
        .await
        .iter()
        .all(|s| s == "missing"));
    let after = counts(&app, "orders").await;
    assert_eq!(
        (after["failed"].as_u64(), after["prioritized"].as_u64()),
        (Some(40), Some(120)),
        "{after}"
    );
    // A real worker runs the copies: one per original, with the original's data and the
    // changes.
    let drained = fixture_raw(
        "drain",
        json!({"redis": app.redis_url, "prefix": app.prefix, "queue": "orders", "seen": true}),
    )
    .await;
    let seen = drained["seen"].as_array().expect("seen");
    assert_eq!(seen.len(), 120);
    let mut from: Vec<String> = Vec::new();
    for job in seen {
        assert_eq!(job["name"], "send", "{job}");
        assert_eq!(job["data"]["fixed"], true, "{job}");
        assert_eq!(job["data"]["host"], "10.0.0.99", "{job}");
        assert_eq!(job["data"]["cause"], 0, "the original data is kept: {job}");
        assert!(job["data"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("connect ECONNREFUSED")));
        assert_eq!(
            (job["priority"].as_u64(), job["attempts"].as_u64()),
            (Some(7), Some(2))
        );
        assert_eq!(job["retriedFrom"]["queue"], "orders");
        from.push(
            job["retriedFrom"]["jobId"]
                .as_str()
                .expect("from")
                .to_owned(),
        );
    }
    assert!(
        seen.iter()
            .all(|job| job["id"].as_str().and_then(|id| id.parse::<u64>().ok()) > Some(160)),
        "new ids past every existing job"
    );
    from.sort();
    let mut expected = originals.clone();
    expected.sort();
    assert_eq!(from, expected, "exactly one copy of each original");

    // Listed ids, unchanged, originals kept: each stays failed beside its copy.
    let kept: Vec<String> = ids_of(&report, 1).into_iter().take(5).collect();
    let (id, count) = run_changed(&app, "orders", json!({"ids": kept}), json!({})).await;
    assert_eq!(count, 5);
    let op = finished(&app, &id).await;
    assert_eq!(outcome(&op), (Some("done"), Some(5), Some(0)), "{op}");
    assert!(states(&app, "orders", &kept)
        .await
        .iter()
        .all(|s| s == "failed"));
    let after = counts(&app, "orders").await;
    assert_eq!(
        (after["failed"].as_u64(), after["waiting"].as_u64()),
        (Some(40), Some(5)),
        "{after}"
    );
    let audit = app.audit_entries().await;
    let started = audit
        .iter()
        .find(|e| {
            e["action"] == "bulk-retry-with-changes" && e["params"]["changes"]["priority"] == 7
        })
        .expect("the start is audited with its changes");
    assert_eq!(started["result"]["total"], 120, "{started}");
}

/// Reads `stream` until an `operations` event whose list `accept` takes (within 20 s).
async fn next_operations(stream: &mut SseClient, what: &str, accept: impl Fn(&Value) -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        if let Some(event) = stream.next_event(Duration::from_secs(5)).await {
            if event.event.as_deref() == Some("operations") && accept(&event.json()["operations"]) {
                return;
            }
        }
    }
}

#[tokio::test]
async fn operators_see_an_operations_progress_on_the_live_stream() {
    let mut slow = TestOptions::new(&unique_prefix("bulk-live"));
    slow.bulk_batch = 20;
    slow.bulk_pause = Duration::from_millis(40);
    let app = TestApp::spawn_with(slow).await;
    let _ = fail(&app, "feed", causes(200, 0, 0), None).await;
    let live = format!("{BASE}/live");
    let mut admin = SseClient::connect(&app, &live, Some(&app.token(Role::Admin))).await;
    let mut moderator = SseClient::connect(&app, &live, Some(&app.token(Role::Moderator))).await;
    let mut queue_stream = SseClient::connect(
        &app,
        &format!("{BASE}/queue/feed/live"),
        Some(&app.token(Role::Admin)),
    )
    .await;
    assert_eq!(
        (admin.status, moderator.status, queue_stream.status),
        (200, 200, 200)
    );
    let (id, _) = run(&app, "feed", "retry", json!({"state": "failed"})).await;

    // Progress as it goes, then the final state, on the operator's stream.
    let mut progress: Vec<(String, u64)> = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while progress.last().is_none_or(|(state, _)| state == "running") {
        assert!(
            std::time::Instant::now() < deadline,
            "no end on the stream: {progress:?}"
        );
        let Some(event) = admin.next_event(Duration::from_secs(10)).await else {
            continue;
        };
        if event.event.as_deref() != Some("operations") {
            continue;
        }
        let body = event.json();
        if let Some(op) = body["operations"]
            .as_array()
            .and_then(|ops| ops.iter().find(|op| op["id"] == id.as_str()))
        {
            progress.push((
                op["state"].as_str().unwrap_or("?").to_owned(),
                op["done"].as_u64().unwrap_or(0),
            ));
        }
    }
    assert_eq!(
        progress.last(),
        Some(&("done".to_owned(), 200)),
        "{progress:?}"
    );
    assert!(
        progress
            .iter()
            .any(|(state, done)| state == "running" && (1..200).contains(done)),
        "counts while it runs: {progress:?}"
    );
    assert!(
        progress.windows(2).all(|w| w[0].1 <= w[1].1),
        "counts only grow: {progress:?}"
    );
    // Then the list empties.
    next_operations(&mut admin, "the ended operation to leave the list", |ops| {
        *ops == json!([])
    })
    .await;
    // The queue's stream tells operators too.
    next_operations(&mut queue_stream, "operations on the queue stream", |ops| {
        ops.as_array()
            .is_some_and(|ops| ops.iter().any(|op| op["id"] == id.as_str()))
    })
    .await;
    // A moderator's stream carries snapshots only.
    for _ in 0..10 {
        let event = moderator
            .next_event(Duration::from_secs(5))
            .await
            .expect("snapshots go on");
        assert_ne!(event.event.as_deref(), Some("operations"));
    }
    // A viewer connecting while nothing runs gets no operations event.
    let mut late = SseClient::connect(&app, &live, Some(&app.token(Role::Admin))).await;
    for _ in 0..3 {
        let event = late
            .next_event(Duration::from_secs(5))
            .await
            .expect("event");
        assert_ne!(event.event.as_deref(), Some("operations"), "nothing runs");
    }
}
