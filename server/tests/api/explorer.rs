//! The job explorer against real BullMQ (v6 and v5): pages equal `getJobs` for every state,
//! detail equals `Job.fromId`, logs equal `getJobLogs`, a flow equals `getFlow`, and each
//! action leaves the job where BullMQ's own call leaves it on a twin world; bad input is a
//! clear 4xx.

use crate::helpers::{fixture_raw, redis_url, unique_prefix, PrefixGuard, TestApp, TestOptions};
use app::role::Role;
use reqwest::Method;
use serde_json::{json, Value};

/// A world with a job in every state a list shows.
fn every_state(version: u8) -> Value {
    json!([{"name": "mix", "bullmq": version, "completed": 7, "failed": 5, "failedAttempts": 2,
            "waiting": 6, "prioritized": 4, "delayed": 3, "active": 2}])
}

/// BullMQ's `getJobs([state], 0, -1, asc)` ids per state.
async fn bull_jobs(app: &TestApp, queue: &str, version: u8, states: &[&str], asc: bool) -> Value {
    let spec = json!({"redis": app.redis_url, "prefix": app.prefix, "queue": queue,
                      "bullmq": version, "states": states, "asc": asc});
    fixture_raw("getjobs", spec).await["byState"].clone()
}

/// Every id of a state through our pages of `limit`, following the cursor; the totals seen.
async fn all_pages(
    app: &TestApp,
    queue: &str,
    state: &str,
    order: &str,
    limit: u64,
) -> (Vec<String>, u64) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total;
    for _ in 0..100 {
        let mut path = format!(
            "/api/v1/admin/jobs/queue/{queue}/jobs?state={state}&order={order}&limit={limit}"
        );
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = app.get_json(&path, Role::Moderator).await;
        assert_eq!(status, 200, "{path}: {page}");
        total = page["total"].as_u64().expect("total");
        let jobs = page["jobs"].as_array().expect("jobs");
        assert!(jobs.len() as u64 <= limit);
        ids.extend(
            jobs.iter()
                .map(|j| j["id"].as_str().expect("id").to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (ids, total),
        }
    }
    panic!("more than 100 pages");
}

async fn pages_equal_get_jobs(version: u8) {
    let app = TestApp::spawn(&format!("explore-pages-v{version}")).await;
    let _world = app.world(every_state(version)).await;
    let states = [
        "waiting",
        "prioritized",
        "active",
        "delayed",
        "completed",
        "failed",
    ];
    for asc in [false, true] {
        let bull = bull_jobs(&app, "mix", version, &states, asc).await;
        for state in states {
            let order = if asc { "asc" } else { "desc" };
            let (ours, total) = all_pages(&app, "mix", state, order, 2).await;
            let expected: Vec<String> = bull[state]
                .as_array()
                .expect("ids")
                .iter()
                .map(|id| id.as_str().expect("id").to_owned())
                .collect();
            assert_eq!(ours, expected, "v{version} {state} {order}");
            assert_eq!(total, expected.len() as u64, "v{version} {state}");
        }
    }
    // A row carries BullMQ's fields.
    let (_, page) = app
        .get_json(
            "/api/v1/admin/jobs/queue/mix/jobs?state=failed&limit=1",
            Role::Moderator,
        )
        .await;
    let row = &page["jobs"][0];
    assert_eq!(row["state"], "failed");
    assert_eq!(row["name"], "boom");
    assert_eq!(row["attemptsMade"], 2);
    assert!(row["failedReason"]
        .as_str()
        .is_some_and(|r| r.starts_with("fixture failure")));
    assert_eq!(row["data"]["kind"], "fail");
    let (_, delayed) = app
        .get_json(
            "/api/v1/admin/jobs/queue/mix/jobs?state=delayed&limit=1",
            Role::Moderator,
        )
        .await;
    let row = &delayed["jobs"][0];
    assert!(
        row["delayUntil"].as_i64() > row["timestamp"].as_i64(),
        "{row}"
    );
}

#[tokio::test]
async fn pages_equal_bullmq_get_jobs_for_every_state_v6() {
    pages_equal_get_jobs(6).await;
}

#[tokio::test]
async fn pages_equal_bullmq_get_jobs_for_every_state_v5() {
    pages_equal_get_jobs(5).await;
}

#[tokio::test]
async fn a_v5_paused_queue_lists_its_waiting_jobs_from_the_legacy_list() {
    let app = TestApp::spawn("explore-v5-paused").await;
    let _world = app
        .world(json!([{"name": "held", "bullmq": 5, "paused": true, "waiting": 5}]))
        .await;
    let bull = bull_jobs(&app, "held", 5, &["waiting"], false).await;
    let (ours, total) = all_pages(&app, "held", "waiting", "desc", 2).await;
    assert_eq!(json!(ours), bull["waiting"]);
    assert_eq!(total, 5);
    let (paused, _) = all_pages(&app, "held", "paused", "desc", 10).await;
    assert_eq!(json!(paused), bull["waiting"], "the paused list itself");
}

/// Paging never repeats or skips a job while workers finish others.
#[tokio::test]
async fn a_cursor_neither_repeats_nor_skips_while_jobs_are_added() {
    let app = TestApp::spawn("explore-moving").await;
    let _world = app.world(json!([{"name": "busy", "completed": 12}])).await;
    let first = "/api/v1/admin/jobs/queue/busy/jobs?state=completed&limit=5".to_owned();
    let (_, page) = app.get_json(&first, Role::Moderator).await;
    let mut seen: Vec<String> = page["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("id").to_owned())
        .collect();
    let mut cursor = page["nextCursor"].as_str().expect("more").to_owned();
    // Workers finish more jobs (newer than every one shown) while the operator pages on.
    let report = crate::helpers::fixture(
        "work",
        &app.prefix,
        json!([{"name": "busy", "completed": 6}]),
    )
    .await;
    assert_eq!(report["queues"]["busy"]["completed"], 6);
    loop {
        let (_, page) = app
            .get_json(&format!("{first}&cursor={cursor}"), Role::Moderator)
            .await;
        seen.extend(
            page["jobs"]
                .as_array()
                .expect("jobs")
                .iter()
                .map(|j| j["id"].as_str().expect("id").to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no job twice: {seen:?}");
    assert_eq!(seen.len(), 12, "the 12 older jobs, none skipped: {seen:?}");
}

/// Our detail of a job, and BullMQ's `Job.fromId` of it.
async fn both_details(app: &TestApp, queue: &str, id: &str, version: u8) -> (Value, Value) {
    let (status, ours) = app
        .get_json(
            &format!("/api/v1/admin/jobs/queue/{queue}/jobs/{id}"),
            Role::Moderator,
        )
        .await;
    assert_eq!(status, 200, "{ours}");
    let spec = json!({"redis": app.redis_url, "prefix": app.prefix, "queue": queue, "id": id,
                      "bullmq": version});
    (ours, fixture_raw("jobjson", spec).await)
}

async fn detail_equals_from_id(version: u8) {
    let app = TestApp::spawn(&format!("explore-detail-v{version}")).await;
    let _world = app.world(every_state(version)).await;
    let bull = bull_jobs(
        &app,
        "mix",
        version,
        &["failed", "completed", "delayed", "prioritized", "active"],
        false,
    )
    .await;
    for state in ["failed", "completed", "delayed", "prioritized", "active"] {
        let id = bull[state][0].as_str().expect("an id");
        let (ours, bull) = both_details(&app, "mix", id, version).await;
        assert_eq!(ours["state"], bull["state"], "{state} {id}");
        for field in [
            "id",
            "name",
            "progress",
            "attemptsMade",
            "attemptsStarted",
            "stalledCounter",
            "timestamp",
            "processedOn",
            "finishedOn",
            "delay",
            "priority",
            "failedReason",
            "processedBy",
            "parentKey",
            "repeatJobKey",
        ] {
            let theirs = match &bull[field] {
                Value::Null => Value::Null,
                other => other.clone(),
            };
            let mine = &ours[field];
            assert!(
                *mine == theirs || (mine.is_null() && theirs == json!(0) && field == "delay"),
                "{state} {field}: ours {mine} theirs {theirs}"
            );
        }
        let their_data = match &bull["data"] {
            Value::String(text) => {
                serde_json::from_str(text).unwrap_or(Value::String(text.clone()))
            }
            other => other.clone(),
        };
        assert_eq!(ours["data"], their_data, "{state} data");
        assert_eq!(ours["opts"], bull["opts"], "{state} opts");
        let mut traces: Vec<Value> = bull["stacktrace"].as_array().cloned().unwrap_or_default();
        traces.reverse();
        assert_eq!(
            ours["stacktrace"],
            json!(traces),
            "{state}: newest attempt first"
        );
        if state == "completed" {
            let returned = bull["returnvalue"].clone();
            let returned = match returned {
                Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
                other => other,
            };
            assert_eq!(ours["returnvalue"], returned);
            assert!(ours["timeline"]["runMs"].as_i64().is_some_and(|ms| ms >= 0));
        }
    }
}

#[tokio::test]
async fn detail_equals_bullmq_from_id_v6() {
    detail_equals_from_id(6).await;
}

#[tokio::test]
async fn detail_equals_bullmq_from_id_v5() {
    detail_equals_from_id(5).await;
}

#[tokio::test]
async fn logs_equal_bullmq_get_job_logs_for_several_ranges() {
    let app = TestApp::spawn("explore-logs").await;
    let _world = app.world(json!([{"name": "talk", "waiting": 1}])).await;
    for keep in [None, Some(20)] {
        let mut spec =
            json!({"redis": app.redis_url, "prefix": app.prefix, "queue": "talk", "lines": 30});
        if let Some(keep) = keep {
            spec["keepLogs"] = json!(keep);
        }
        let id = fixture_raw("logjob", spec).await["id"]
            .as_str()
            .expect("id")
            .to_owned();
        for (start, count, asc) in [
            (0, 100, true),
            (0, 5, true),
            (3, 4, true),
            (0, 5, false),
            (10, 7, false),
            (40, 5, true),
        ] {
            let order = if asc { "asc" } else { "desc" };
            let (status, ours) = app
                .get_json(
                    &format!("/api/v1/admin/jobs/queue/talk/jobs/{id}/logs?start={start}&count={count}&order={order}"),
                    Role::Moderator,
                )
                .await;
            assert_eq!(status, 200, "{ours}");
            let spec = json!({"redis": app.redis_url, "prefix": app.prefix, "queue": "talk", "id": id,
                              "start": start, "end": start + count - 1, "asc": asc});
            let bull = fixture_raw("getlogs", spec).await;
            assert_eq!(ours, bull, "keep {keep:?}, {start}+{count} {order}");
        }
    }
}

/// Our flow tree in BullMQ's `getFlow` shape: {queue, id, name, children sorted by id}.
fn shape(node: &Value) -> Value {
    let mut children: Vec<Value> = node["children"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(shape)
        .collect();
    children.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    json!({"queue": node["queueName"], "id": node["id"], "name": node["name"], "children": children})
}

#[tokio::test]
async fn a_flow_equals_bullmq_get_flow_from_any_of_its_jobs() {
    let app = TestApp::spawn("explore-flow").await;
    let spec = json!({"redis": redis_url(), "prefix": app.prefix, "run": false, "flows": [
        {"name": "report", "queue": "reports", "children": [
            {"name": "chapter-1", "queue": "chapters", "children": [
                {"name": "page-1a", "queue": "reports"}, {"name": "page-1b", "queue": "reports"}]},
            {"name": "chapter-2", "queue": "chapters", "children": [
                {"name": "page-2a", "queue": "reports"}]}
        ]}
    ]});
    let ids = fixture_raw("flows", spec).await["ids"].clone();
    app.rediscover().await;
    let root = ids["report"].as_str().expect("root id");
    let bull = fixture_raw(
        "getflow",
        json!({"redis": redis_url(), "prefix": app.prefix, "queue": "reports", "id": root}),
    )
    .await;
    for (queue, name) in [
        ("reports", "report"),
        ("chapters", "chapter-2"),
        ("reports", "page-1b"),
    ] {
        let id = ids[name].as_str().expect("id");
        let (status, ours) = app
            .get_json(
                &format!("/api/v1/admin/jobs/queue/{queue}/jobs/{id}/flow"),
                Role::Moderator,
            )
            .await;
        assert_eq!(status, 200, "{ours}");
        assert_eq!(shape(&ours["root"]), bull, "from {name}");
        assert_eq!(ours["nodes"], 6);
        assert_eq!(ours["truncated"], false);
        assert_eq!(ours["root"]["state"], "waiting-children");
    }
    // Bounded: depth 2 shows the chapters but not their pages, and says so.
    let (_, cut) = app
        .get_json(
            &format!("/api/v1/admin/jobs/queue/reports/jobs/{root}/flow?depth=2&maxChildren=1"),
            Role::Moderator,
        )
        .await;
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["root"]["children"].as_array().map(Vec::len), Some(1));
    assert_eq!(cut["root"]["childrenCut"], 1);
    assert_eq!(cut["root"]["children"][0]["children"], json!([]));
    assert!(cut["root"]["children"][0]["childrenCut"].as_u64() >= Some(1));
}

/// Twin worlds: the same jobs under our prefix and BullMQ's.
async fn twins(
    label: &str,
    version: u8,
    queues: Value,
) -> (
    TestApp,
    PrefixGuard,
    crate::helpers::World,
    crate::helpers::World,
) {
    let app = TestApp::spawn(label).await;
    let theirs = PrefixGuard {
        prefix: unique_prefix(&format!("{label}-bull")),
    };
    let ours_world = crate::helpers::World::build(&app.prefix, queues.clone()).await;
    let their_world = crate::helpers::World::build(&theirs.prefix, queues).await;
    app.rediscover().await;
    let _ = version;
    (app, theirs, ours_world, their_world)
}

/// The id of the n-th job of a state (BullMQ's order) under a prefix.
async fn nth(prefix: &str, queue: &str, version: u8, state: &str, n: usize) -> String {
    let spec = json!({"redis": redis_url(), "prefix": prefix, "queue": queue, "bullmq": version, "states": [state]});
    fixture_raw("getjobs", spec).await["byState"][state][n]
        .as_str()
        .expect("an id")
        .to_owned()
}

async fn actions_match_bullmq(version: u8) {
    let world = json!([{"name": "ops", "bullmq": version, "completed": 2, "failed": 2, "delayed": 2, "waiting": 2, "prioritized": 1}]);
    let (app, theirs, _a, _b) = twins(&format!("explore-act-v{version}"), version, world).await;
    for (action, state, bull_state) in [
        ("retry", "failed", "failed"),
        ("retry", "completed", "completed"),
        ("promote", "delayed", ""),
        ("remove", "waiting", ""),
        ("remove", "failed", ""),
    ] {
        let ours = nth(&app.prefix, "ops", version, state, 0).await;
        let their = nth(&theirs.prefix, "ops", version, state, 0).await;
        let (method, path) = match action {
            "remove" => (
                Method::DELETE,
                format!("/api/v1/admin/jobs/queue/ops/jobs/{ours}"),
            ),
            _ => (
                Method::POST,
                format!("/api/v1/admin/jobs/queue/ops/jobs/{ours}/{action}"),
            ),
        };
        let (status, reply) = app.call(method, &path, Role::Admin, None).await;
        assert_eq!(status, 200, "{action} {state}: {reply}");
        assert_eq!(reply["from"], state);
        let spec = json!({"redis": redis_url(), "prefix": theirs.prefix, "queue": "ops", "bullmq": version,
                          "id": their, "action": action, "state": bull_state});
        let bull_after = fixture_raw("act", spec).await["state"].clone();
        let spec = json!({"redis": redis_url(), "prefix": app.prefix, "queue": "ops", "bullmq": version, "id": ours});
        let ours_after = fixture_raw("jobjson", spec).await;
        let ours_after = ours_after.get("state").cloned().unwrap_or(json!("missing"));
        assert_eq!(
            ours_after, bull_after,
            "v{version} {action} of a {state} job"
        );
        if action != "remove" {
            assert_eq!(reply["to"], bull_after, "the reply says where it went");
        }
        // Again: the job is no longer where the action needs it (or gone).
        let (status, again) = app
            .call(
                Method::POST,
                &format!("/api/v1/admin/jobs/queue/ops/jobs/{ours}/{action}"),
                Role::Admin,
                None,
            )
            .await;
        if action != "remove" {
            assert_eq!(
                (status, &again["error"]),
                (409, &json!("conflict")),
                "{again}"
            );
            assert!(again["message"]
                .as_str()
                .unwrap_or_default()
                .contains("this action needs it"));
        }
    }
    // Both queues now hold the same jobs in the same states.
    let states = ["waiting", "prioritized", "delayed", "completed", "failed"];
    let count = |prefix: String| async move {
        let spec = json!({"redis": redis_url(), "prefix": prefix, "queue": "ops", "bullmq": version, "states": states});
        let by_state = fixture_raw("getjobs", spec).await["byState"].clone();
        states
            .iter()
            .map(|s| by_state[*s].as_array().map_or(0, Vec::len))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        count(app.prefix.clone()).await,
        count(theirs.prefix.clone()).await
    );
    // Each action is audited, the refused ones too.
    let app = &app;
    let done = |action: &'static str| async move {
        app.audit_entries()
            .await
            .iter()
            .filter(|e| e["action"] == action && e["result"]["success"] == true)
            .count()
    };
    assert_eq!(done("retry").await, 2);
    assert_eq!(done("promote").await, 1);
    assert_eq!(done("remove").await, 2);
    assert!(app.audit_actions().await.len() >= 8, "the refused ones too");
}

#[tokio::test]
async fn each_action_leaves_a_job_where_bullmq_would_v6() {
    actions_match_bullmq(6).await;
}

#[tokio::test]
async fn each_action_leaves_a_job_where_bullmq_would_v5() {
    actions_match_bullmq(5).await;
}

#[tokio::test]
async fn a_retried_or_promoted_job_runs_on_a_real_worker_and_a_held_job_is_not_removed() {
    let app = TestApp::spawn("explore-run").await;
    let _world = app
        .world(
            json!([{"name": "live", "failed": 1, "delayed": 1, "active": 1,
                       "liveWorker": {"workMs": 1}}]),
        )
        .await;
    for (state, action) in [("failed", "retry"), ("delayed", "promote")] {
        let id = nth(&app.prefix, "live", 6, state, 0).await;
        let (status, reply) = app
            .call(
                Method::POST,
                &format!("/api/v1/admin/jobs/queue/live/jobs/{id}/{action}"),
                Role::Admin,
                None,
            )
            .await;
        assert_eq!(status, 200, "{reply}");
        crate::helpers::eventually(
            std::time::Duration::from_secs(15),
            "the worker to run it",
            || async {
                let spec =
                    json!({"redis": redis_url(), "prefix": app.prefix, "queue": "live", "id": id});
                let job = fixture_raw("jobjson", spec).await;
                (job["state"] == "completed"
                    || (state == "failed"
                        && job["state"] == "failed"
                        && job["attemptsMade"].as_u64() > Some(1)))
                .then_some(())
            },
        )
        .await;
    }
    // The hanging job's worker holds its lock: removing it is refused, and it stays.
    let active = nth(&app.prefix, "live", 6, "active", 0).await;
    let (status, reply) = app
        .call(
            Method::DELETE,
            &format!("/api/v1/admin/jobs/queue/live/jobs/{active}"),
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(
        (status, &reply["error"]),
        (409, &json!("conflict")),
        "{reply}"
    );
    let spec = json!({"redis": redis_url(), "prefix": app.prefix, "queue": "live", "id": active});
    assert_eq!(fixture_raw("jobjson", spec).await["state"], "active");
}

#[tokio::test]
async fn bad_explorer_input_is_a_clear_4xx() {
    let app = TestApp::spawn("explore-bad").await;
    let _world = app.world(json!([{"name": "q", "failed": 1}])).await;
    for (path, status, needle) in [
        (
            "/api/v1/admin/jobs/queue/q/jobs?state=sleeping",
            400,
            "state must be one of",
        ),
        (
            "/api/v1/admin/jobs/queue/q/jobs?state=unknown",
            400,
            "state must be one of",
        ),
        (
            "/api/v1/admin/jobs/queue/q/jobs?limit=0",
            400,
            "limit must be a whole number from 1 to 1000",
        ),
        (
            "/api/v1/admin/jobs/queue/q/jobs?limit=1000000",
            400,
            "limit",
        ),
        (
            "/api/v1/admin/jobs/queue/q/jobs?cursor=nonsense",
            400,
            "cursor is not one this server gave",
        ),
        (
            "/api/v1/admin/jobs/queue/q/jobs?search=failed:%22oops",
            400,
            "not closed at column 8",
        ),
        (
            "/api/v1/admin/jobs/queue/q/jobs?search=colour:red",
            400,
            "unknown qualifier",
        ),
        (
            "/api/v1/admin/jobs/queue/q/jobs?search=x&scanLimit=100001",
            400,
            "scanLimit",
        ),
        ("/api/v1/admin/jobs/queue/q/jobs/meta", 404, "no job `meta`"),
        ("/api/v1/admin/jobs/queue/q/jobs/id", 404, "no job"),
        ("/api/v1/admin/jobs/queue/q/jobs/events/logs", 404, "no job"),
        ("/api/v1/admin/jobs/queue/q/jobs/wait/flow", 404, "no job"),
        ("/api/v1/admin/jobs/queue/q/jobs/nope/data", 404, "no job"),
        ("/api/v1/admin/jobs/queue/nope/jobs", 404, "no queue"),
        ("/api/v1/admin/jobs/jobs", 400, "search is required"),
        (
            "/api/v1/admin/jobs/queue/q/jobs/1/logs?count=0",
            400,
            "count",
        ),
        (
            "/api/v1/admin/jobs/queue/q/jobs/1/flow?depth=99",
            400,
            "depth",
        ),
    ] {
        let (got, body) = app.get_json(path, Role::Moderator).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{path}: {body}"
        );
    }
    for (method, path) in [
        (Method::POST, "/api/v1/admin/jobs/queue/q/jobs/meta/retry"),
        (
            Method::POST,
            "/api/v1/admin/jobs/queue/q/jobs/events/promote",
        ),
        (Method::DELETE, "/api/v1/admin/jobs/queue/q/jobs/id"),
    ] {
        let (status, body) = app.call(method, path, Role::Admin, None).await;
        assert_eq!(
            (status, &body["error"]),
            (404, &json!("not_found")),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn search_matches_what_it_says_and_states_how_far_it_got() {
    let app = TestApp::spawn("explore-search").await;
    let _world = app.world(every_state(6)).await;
    let app = &app;
    let search = |query: &str| {
        let path = format!(
            "/api/v1/admin/jobs/queue/mix/jobs?search={}",
            urlencode(query)
        );
        async move { app.get_json(&path, Role::Moderator).await }
    };
    // Every failed job (5) has the name `boom` and a reason with "fixture failure".
    let (status, found) = search("failed:\"FIXTURE failure\"").await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["jobs"].as_array().map(Vec::len), Some(5), "{found}");
    assert_eq!(found["complete"], true);
    assert_eq!(found["total"], 27, "every job of the queue: {found}");
    assert_eq!(found["scanned"], 27);
    assert!(found["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .all(|j| j["state"] == "failed"));
    // data.<path>, name globs and states narrow it down.
    let (_, found) = search("data.kind:ok").await;
    assert_eq!(
        found["jobs"].as_array().map(Vec::len),
        Some(7),
        "the completed ones: {found}"
    );
    let (_, found) = search("name:pri* data.i:2").await;
    assert_eq!(found["jobs"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["jobs"][0]["state"], "prioritized");
    let (_, found) = search("state:delayed later").await;
    assert_eq!(found["jobs"].as_array().map(Vec::len), Some(3), "{found}");
    assert_eq!(found["total"], 3, "only the delayed set is covered");
    let (_, found) = search("returned:true").await;
    assert_eq!(found["jobs"].as_array().map(Vec::len), Some(7), "{found}");
    // Bounded: 10 jobs per request at most, and a cursor to go on; the pages add up.
    let mut seen = 0;
    let mut path = "/api/v1/admin/jobs/queue/mix/jobs?search=data.kind:*&scanLimit=10".to_owned();
    loop {
        let (status, page) = app.get_json(&path, Role::Moderator).await;
        assert_eq!(status, 200, "{page}");
        assert!(page["scanned"].as_u64() <= Some(10));
        seen += page["jobs"].as_array().map_or(0, Vec::len);
        match page["nextCursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page["complete"], false);
                path = format!("/api/v1/admin/jobs/queue/mix/jobs?search=data.kind:*&scanLimit=10&cursor={cursor}");
            }
            None => break,
        }
    }
    assert_eq!(seen, 27, "every job has a data `kind`, whatever its value");
    // Across queues.
    let (status, all) = app
        .get_json("/api/v1/admin/jobs/jobs?search=name:boom", Role::Moderator)
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["jobs"].as_array().map(Vec::len), Some(5));
    assert_eq!(all["jobs"][0]["queueName"], "mix");
}

#[tokio::test]
async fn redacted_paths_are_never_shown_nor_searchable() {
    let mut options = TestOptions::new(&unique_prefix("explore-redact"));
    options.redact = "secret,user.email".into();
    let app = TestApp::spawn_with(options).await;
    let spec = json!([{"name": "acc", "count": 1, "data": {"secret": "hunter2", "user": {"email": "ann@x.io", "name": "Ann"}}}]);
    let ids = crate::helpers::fixture("add", &app.prefix, spec).await;
    let id = ids["ids"]["acc"][0].as_str().expect("id").to_owned();
    let log = json!({"redis": redis_url(), "prefix": app.prefix, "queue": "acc", "lines": 0,
                     "jsonLine": {"user": {"email": "ann@x.io"}, "step": 1}});
    let logged = fixture_raw("logjob", log).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.rediscover().await;
    let masked = app::ssr::redact::MASK;
    let (_, page) = app
        .get_json(
            "/api/v1/admin/jobs/queue/acc/jobs?state=waiting",
            Role::Moderator,
        )
        .await;
    let row = page["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["id"] == id.as_str())
        .expect("row")
        .clone();
    assert_eq!(
        (&row["data"]["secret"], &row["data"]["user"]["email"]),
        (&json!(masked), &json!(masked))
    );
    assert_eq!(row["data"]["user"]["name"], "Ann");
    for path in [
        format!("/api/v1/admin/jobs/queue/acc/jobs/{id}"),
        format!("/api/v1/admin/jobs/queue/acc/jobs/{id}/data"),
    ] {
        let (_, body) = app.get_json(&path, Role::Moderator).await;
        let text = body.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("ann@x.io"),
            "{path}: {text}"
        );
    }
    let (_, logs) = app
        .get_json(
            &format!("/api/v1/admin/jobs/queue/acc/jobs/{logged}/logs"),
            Role::Moderator,
        )
        .await;
    assert!(!logs.to_string().contains("ann@x.io"), "{logs}");
    assert!(logs.to_string().contains("step"), "{logs}");
    for probe in [
        "data.secret:hunter2",
        "hunter2",
        "data.user.email:ann@x.io",
        "ann@x.io",
    ] {
        let (status, found) = app
            .get_json(
                &format!(
                    "/api/v1/admin/jobs/queue/acc/jobs?search={}",
                    urlencode(probe)
                ),
                Role::Moderator,
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            found["jobs"],
            json!([]),
            "{probe} must not find the masked value"
        );
    }
    let (_, found) = app
        .get_json(
            "/api/v1/admin/jobs/queue/acc/jobs?search=data.user.name:ann",
            Role::Moderator,
        )
        .await;
    assert_eq!(found["jobs"].as_array().map(Vec::len), Some(1));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn priorities_count_the_ready_jobs_per_priority() {
    let app = TestApp::spawn("explore-prio").await;
    // Priorities 1 to 10 for 12 jobs: 1 and 2 twice, the others once; and 3 plain waiting jobs.
    let _world = app
        .world(json!([{"name": "p", "prioritized": 12, "waiting": 3}]))
        .await;
    let (status, body) = app
        .get_json("/api/v1/admin/jobs/queue/p/priorities", Role::Moderator)
        .await;
    assert_eq!(status, 200, "{body}");
    let mut expected = vec![json!({"priority": 0, "count": 3})];
    for priority in 1..=10 {
        let count = if priority <= 2 { 2 } else { 1 };
        expected.push(json!({"priority": priority, "count": count}));
    }
    assert_eq!(body["priorities"], json!(expected));
    assert_eq!(body["truncated"], false);
    let bull = crate::helpers::fixture("counts", &app.prefix, json!([{"name": "p"}])).await;
    assert_eq!(bull["queues"]["p"]["counts"]["prioritized"], 12);
}
