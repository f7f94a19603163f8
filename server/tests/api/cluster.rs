//! The monitor on a real Redis Cluster (3 primaries with a replica each, started by the test)
//! with real BullMQ workers: queues under a hash-tagged prefix (`{prefix}`, one slot) and queues
//! tagged by name (`prefix:{name}`, spread over every primary). Reads, live streams, control
//! actions, the audit trail and the history collector must all work, and the failover of a
//! primary while a dashboard streams must be ridden out.

use crate::helpers::{eventually, fixture_on, unique_prefix, SseClient, TestApp, TestOptions};
use crate::history::try_history_sums;
use crate::own_cluster::OwnCluster;
use crate::queues::{assert_matches_bullmq, queue};
use app::role::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;

fn start_cluster() -> OwnCluster {
    OwnCluster::start().expect("a 3-primary cluster starts on loopback")
}

fn on_cluster(cluster: &OwnCluster, prefix: &str) -> TestOptions {
    let mut options = TestOptions::new(prefix);
    options.redis_url = cluster.url();
    options.collector = true;
    options.stuck_after = Duration::from_millis(300);
    options
}

async fn bull(app: &TestApp, queues: Value) -> Value {
    fixture_on(&app.redis_url, "counts", &app.prefix, queues).await["queues"].clone()
}

async fn metrics(app: &TestApp) -> Value {
    let (status, body) = app
        .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_works_under_a_hash_tagged_prefix() {
    let cluster = start_cluster();
    let prefix = format!("{{{}}}", unique_prefix("cluster"));
    let app = TestApp::spawn_with(on_cluster(&cluster, &prefix)).await;
    let world = app
        .world(json!([
            {"name": "orders", "bullmq": 6, "completed": 5, "failed": 2, "active": 1,
             "waiting": 2, "prioritized": 1, "delayed": 1},
            {"name": "legacy", "bullmq": 5, "completed": 3, "waiting": 2, "paused": true}
        ]))
        .await;

    // Reads: counts equal BullMQ's own.
    let body = metrics(&app).await;
    for name in ["orders", "legacy"] {
        assert_matches_bullmq(queue(&body, name), world.queue(name));
    }
    let (status, trends) = app
        .get_json("/api/v1/admin/jobs/trends?period=24h", Role::Moderator)
        .await;
    assert_eq!(status, 200, "{trends}");
    let stuck: Value = eventually(Duration::from_secs(10), "the stuck active job", || async {
        let (status, body) = app
            .get_json("/api/v1/admin/jobs/alerts/stuck", Role::Moderator)
            .await;
        (status == 200 && body["jobs"].as_array().map(Vec::len) == Some(1)).then_some(body)
    })
    .await;
    assert_eq!(stuck["jobs"][0]["queueName"], "orders");

    // The dashboard: its server-rendered page and a server function it calls.
    let page = app
        .client
        .get(app.url("/"))
        .header(
            "cookie",
            format!("monitor_session={}", app.token(Role::Moderator)),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("data-queue=\"orders\""), "{html}");
    let overview = app
        .client
        .post(app.url("/api/fn/overview"))
        .bearer_auth(app.token(Role::Moderator))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("request");
    assert_eq!(overview.status(), 200);
    let overview: Value = overview.json().await.expect("json");
    assert_matches_bullmq(queue(&overview, "orders"), world.queue("orders"));

    // Live: the all-queues stream and one queue's stream with its active job.
    let token = app.token(Role::Moderator);
    let mut all = SseClient::connect(&app, "/api/v1/admin/jobs/live", Some(&token)).await;
    assert_eq!(all.status, 200);
    let first = all.next_event(Duration::from_secs(5)).await.expect("event");
    assert_matches_bullmq(queue(&first.json(), "orders"), world.queue("orders"));
    let mut one =
        SseClient::connect(&app, "/api/v1/admin/jobs/queue/orders/live", Some(&token)).await;
    let snapshot = one.next_event(Duration::from_secs(5)).await.expect("event");
    assert_eq!(
        snapshot.json()["activeJobs"].as_array().map(Vec::len),
        Some(1),
        "{}",
        snapshot.data
    );

    // Control: pause and resume as BullMQ sees them; clear only the finished jobs.
    for (action, paused) in [("pause", true), ("resume", false)] {
        app.control("legacy", action).await;
        let seen = bull(&app, json!([{"name": "legacy", "bullmq": 5}])).await;
        assert_eq!(seen["legacy"]["isPaused"], paused, "{seen}");
    }
    let (status, reply) = app
        .call(
            Method::DELETE,
            "/api/v1/admin/jobs/queue/legacy/clear?type=completed",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let seen = bull(&app, json!([{"name": "legacy", "bullmq": 5}])).await;
    assert_eq!(seen["legacy"]["counts"]["completed"], 0, "{seen}");
    assert_eq!(
        seen["legacy"]["waitingCount"], 2,
        "waiting jobs stay: {seen}"
    );

    // Retry a failed job: BullMQ sees the new job waiting with the changed data.
    let failed = cluster.cli_any(&["ZRANGE", &format!("{prefix}:orders:failed"), "0", "0"]);
    let (status, reply) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/jobs/retry/orders/{failed}"),
            Role::Admin,
            Some(json!({"dataOverrides": {"again": true}})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let new_id = reply["newJobId"].as_str().expect("new id").to_owned();
    let spec = json!({"redis": app.redis_url, "prefix": prefix, "queue": "orders",
                      "id": new_id, "queues": []});
    let view = crate::helpers::fixture_raw("job", spec).await;
    assert_eq!(view["state"], "waiting", "{view}");
    assert_eq!(view["data"]["again"], true, "{view}");

    // The audit trail holds the four actions.
    assert_eq!(
        app.audit_actions().await,
        ["retry", "clear", "resume", "pause"]
    );

    // History: the collector counted what the workers finished.
    let sums = eventually(
        Duration::from_secs(15),
        "the collector to count",
        || async {
            try_history_sums(&app, "orders")
                .await
                .filter(|sums| sums.0 + sums.1 >= 7)
        },
    )
    .await;
    assert_eq!((sums.0, sums.1), (5, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_tagged_by_name_are_found_on_every_primary() {
    let cluster = start_cluster();
    let prefix = unique_prefix("cluster-names");
    // One queue per primary: names whose hash tag lands on each of the three.
    let mut by_primary = std::collections::BTreeMap::new();
    for i in 0.. {
        let name = format!("{{q{i}}}");
        by_primary
            .entry(cluster.primary_for(&format!("{prefix}:{name}:meta")))
            .or_insert(name);
        if by_primary.len() == 3 {
            break;
        }
    }
    let names: Vec<String> = by_primary.into_values().collect();
    let app = TestApp::spawn_with(on_cluster(&cluster, &prefix)).await;
    let specs: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"name": name, "completed": i + 1, "failed": 1, "waiting": 2}))
        .collect();
    let world = app.world(Value::Array(specs.clone())).await;

    let body = metrics(&app).await;
    let shown: BTreeSet<&str> = body["queues"]
        .as_array()
        .expect("queues")
        .iter()
        .filter_map(|q| q["queueName"].as_str())
        .collect();
    assert_eq!(shown, names.iter().map(String::as_str).collect());
    for name in &names {
        assert_matches_bullmq(queue(&body, name), world.queue(name));
    }
    // A control action on each primary's queue.
    for name in &names {
        let (status, reply) = app
            .call(
                Method::DELETE,
                &format!("/api/v1/admin/jobs/queue/{name}/clear?type=failed"),
                Role::Admin,
                None,
            )
            .await;
        assert_eq!(status, 200, "{name}: {reply}");
    }
    let seen = bull(&app, Value::Array(specs)).await;
    for (i, name) in names.iter().enumerate() {
        assert_eq!(seen[name]["counts"]["failed"], 0, "{seen}");
        assert_eq!(seen[name]["counts"]["completed"], i + 1, "{seen}");
    }
    // The history of every queue, wherever it lives.
    for (i, name) in names.iter().enumerate() {
        let sums = eventually(
            Duration::from_secs(15),
            "the collector to count",
            || async {
                try_history_sums(&app, name)
                    .await
                    .filter(|sums| sums.0 + sums.1 > i as u64 + 1)
            },
        )
        .await;
        assert_eq!((sums.0, sums.1), (i as u64 + 1, 1), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_failing_over_while_the_dashboard_streams_is_ridden_out() {
    let mut cluster = start_cluster();
    let prefix = format!("{{{}}}", unique_prefix("failover"));
    let app = TestApp::spawn_with(on_cluster(&cluster, &prefix)).await;
    let _world = app
        .world(json!([{"name": "mail", "waiting": 2, "liveWorker": {"workMs": 1}}]))
        .await;
    let token = app.token(Role::Moderator);
    let mut stream = SseClient::connect(&app, "/api/v1/admin/jobs/live", Some(&token)).await;
    assert_eq!(stream.status, 200);
    stream
        .next_event(Duration::from_secs(5))
        .await
        .expect("event");
    eventually(
        Duration::from_secs(15),
        "the worker to finish the 2 jobs",
        || async {
            let seen = bull(&app, json!([{"name": "mail"}])).await;
            (seen["mail"]["counts"]["completed"] == 2).then_some(())
        },
    )
    .await;

    // Kill the primary that holds the queue; its replica takes over.
    let (primary, replica) = cluster.primary_and_replica_for(&format!("{prefix}:mail:meta"));
    let replica = replica.expect("the primary has a replica");
    cluster
        .wait_for_replica(primary, replica, Duration::from_secs(10))
        .expect("the replica catches up");
    cluster.kill(primary);
    cluster
        .wait_until_healthy(Duration::from_secs(30))
        .expect("the replica takes over");
    assert_eq!(
        cluster.primary_for(&format!("{prefix}:mail:meta")),
        replica,
        "the replica is the new primary"
    );

    // Jobs added after the failover show up on the same stream (the worker finishes them).
    let completed_before = 2;
    fixture_on(
        &app.redis_url,
        "add",
        &prefix,
        json!([{"name": "mail", "count": 3}]),
    )
    .await;
    let mut last = Value::Null;
    let resumed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let Some(event) = stream.next_event(Duration::from_secs(30)).await else {
                return false;
            };
            if event.event.is_some() {
                continue; // a `status` event while Redis was unreachable
            }
            last = event.json();
            if queue(&last, "mail")["completed"].as_u64() >= Some(completed_before + 3) {
                return true;
            }
        }
    })
    .await;
    assert_eq!(
        resumed,
        Ok(true),
        "the stream resumed after the failover: {last}"
    );

    // Actions work on the new primary.
    app.control("mail", "pause").await;
    let seen = bull(&app, json!([{"name": "mail"}])).await;
    assert_eq!(seen["mail"]["isPaused"], true, "{seen}");
}
