//! Pause, resume and clear, judged by real BullMQ: a real worker must stop and start again, and
//! BullMQ's own counts must show exactly the finished jobs gone. Every action is audited.

use crate::helpers::{eventually, fixture, redis_cli, TestApp};
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

/// One job hash field, straight from Redis.
fn job_field(app: &TestApp, queue: &str, job_id: &str, field: &str) -> String {
    redis_cli(&["HGET", &format!("{}:{queue}:{job_id}", app.prefix), field])
}

/// The first id in one of a queue's finished sets.
fn first_finished_id(app: &TestApp, queue: &str, state: &str) -> String {
    redis_cli(&[
        "ZRANGE",
        &format!("{}:{queue}:{state}", app.prefix),
        "0",
        "0",
    ])
}

async fn retry_runs_on_a_real_worker_with_the_changes(version: u8) {
    let app = TestApp::spawn(&format!("retry-v{version}")).await;
    let _world = app
        .world(json!([{"name": "jobs", "bullmq": version, "failed": 1,
                       "liveWorker": {"workMs": 1}}]))
        .await;
    let original = first_finished_id(&app, "jobs", "failed");

    // Arrange + Act: retry the failed job with new data, priority, attempts and backoff.
    let (status, reply) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/jobs/retry/jobs/{original}"),
            Role::Admin,
            Some(
                json!({"priority": 3, "attempts": 5, "backoff": {"type": "exponential", "delay": 5},
                        "dataOverrides": {"customParam": "newValue"}, "removeOriginal": true}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    let new_id = reply["newJobId"].as_str().expect("new id").to_owned();
    assert_ne!(new_id, original);
    assert_eq!(reply["message"], format!("Job retried with ID {new_id}"));
    assert_eq!(reply["original"], "removed");

    // Assert: the real worker ran it with the new data and priority; the original is gone.
    let returned = eventually(
        Duration::from_secs(15),
        "the retried job to complete",
        || async {
            let value = job_field(&app, "jobs", &new_id, "returnvalue");
            (!value.is_empty()).then_some(value)
        },
    )
    .await;
    let returned: Value = serde_json::from_str(&returned).expect("returnvalue JSON");
    assert_eq!(returned["data"]["customParam"], "newValue");
    assert_eq!(
        returned["data"]["kind"], "fail",
        "the rest of the data is kept"
    );
    assert_eq!(returned["priority"], 3);
    let opts: Value =
        serde_json::from_str(&job_field(&app, "jobs", &new_id, "opts")).expect("opts");
    assert_eq!(opts["attempts"], 5);
    assert_eq!(opts["backoff"], json!({"type": "exponential", "delay": 5}));
    assert_eq!(opts["retriedFrom"]["jobId"], original.as_str());
    assert_eq!(
        job_field(&app, "jobs", &original, "name"),
        "",
        "the original is removed"
    );
    let counts = bull_counts(&app, "jobs", version).await["counts"].clone();
    assert_eq!(
        (counts["failed"].as_u64(), counts["completed"].as_u64()),
        (Some(0), Some(1))
    );
}

#[tokio::test]
async fn retrying_a_failed_v6_job_runs_it_with_the_new_parameters() {
    retry_runs_on_a_real_worker_with_the_changes(6).await;
}

#[tokio::test]
async fn retrying_a_failed_v5_job_runs_it_with_the_new_parameters() {
    retry_runs_on_a_real_worker_with_the_changes(5).await;
}

#[tokio::test]
async fn a_job_that_always_fails_runs_exactly_attempts_times() {
    let app = TestApp::spawn("retry-attempts").await;
    let _world = app
        .world(json!([{"name": "flaky", "completed": 1, "liveWorker": {"workMs": 1}}]))
        .await;
    let original = first_finished_id(&app, "flaky", "completed");
    let (status, reply) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/jobs/retry/flaky/{original}"),
            Role::Admin,
            Some(
                json!({"attempts": 3, "backoff": {"type": "fixed", "delay": 5},
                        "dataOverrides": {"fail": true}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["original"], "kept");
    let new_id = reply["newJobId"].as_str().expect("id").to_owned();
    let attempts = eventually(
        Duration::from_secs(20),
        "the job to fail for good",
        || async {
            let finished = job_field(&app, "flaky", &new_id, "finishedOn");
            (!finished.is_empty()).then(|| job_field(&app, "flaky", &new_id, "atm"))
        },
    )
    .await;
    assert_eq!(attempts, "3");
    assert_eq!(bull_counts(&app, "flaky", 6).await["counts"]["failed"], 1);
}

#[tokio::test]
async fn retrying_a_stuck_active_job_fails_the_original_with_a_pointer_to_the_new_one() {
    let app = TestApp::spawn("retry-stuck").await;
    let _world = app
        .world(json!([{"name": "stuck", "active": 1, "liveWorker": {"workMs": 1}}]))
        .await;
    let original = redis_cli(&["LRANGE", &format!("{}:stuck:active", app.prefix), "0", "0"]);
    assert!(!original.is_empty());

    let (status, reply) = app
        .call(
            Method::POST,
            &format!("/api/v1/admin/jobs/retry/stuck/{original}"),
            Role::Admin,
            Some(json!({"removeOriginal": true, "dataOverrides": {"second": true}})),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["original"], "failed");
    let new_id = reply["newJobId"].as_str().expect("id").to_owned();
    let reason = job_field(&app, "stuck", &original, "failedReason");
    assert!(reason.contains(&new_id), "{reason}");
    // The original's lock is left alone; the new job runs on the free worker.
    assert_eq!(
        crate::helpers::count_keys_blocking(&format!("{}:stuck:{original}:lock", app.prefix)),
        1
    );
    eventually(
        Duration::from_secs(15),
        "the new job to complete",
        || async { (!job_field(&app, "stuck", &new_id, "returnvalue").is_empty()).then_some(()) },
    )
    .await;
}

#[tokio::test]
async fn retry_refuses_bad_requests_with_named_fields() {
    let app = TestApp::spawn("retry-bad").await;
    let _world = app.world(json!([{"name": "q", "failed": 1}])).await;
    let original = first_finished_id(&app, "q", "failed");
    let path = format!("/api/v1/admin/jobs/retry/q/{original}");
    for (body, needle) in [
        (json!({"priority": "high"}), "priority"),
        (json!({"attempts": 0}), "attempts"),
        (
            json!({"backoff": {"type": "linear", "delay": 1}}),
            "backoff.type",
        ),
        (json!({"dataOverrides": "x"}), "dataOverrides"),
        (json!({"surprise": 1}), "unknown field"),
    ] {
        let (status, reply) = app
            .call(Method::POST, &path, Role::Admin, Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{reply}"
        );
    }
    let malformed = app
        .client
        .post(app.url(&path))
        .bearer_auth(app.token(Role::Admin))
        .header("content-type", "application/json")
        .body("{\"priority\": ")
        .send()
        .await
        .expect("request");
    assert_eq!(malformed.status(), 400);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/admin/jobs/retry/q/999999",
            Role::Admin,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/admin/jobs/retry/nope/1",
            Role::Admin,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    // Nothing was created by the refused requests: the original is still the only failed job.
    assert_eq!(bull_counts(&app, "q", 6).await["counts"]["failed"], 1);
    assert_eq!(bull_counts(&app, "q", 6).await["counts"]["waiting"], 0);
}

/// The audit trail's entries of one action, newest first.
async fn audit_entries(app: &TestApp, action: &str) -> Vec<Value> {
    app.audit_entries()
        .await
        .into_iter()
        .filter(|entry| entry["action"] == action)
        .collect()
}

/// Regression (issue 15, defect 3): the clear ran inside the request, so a client that left
/// mid-clear stopped it part-way, with no audit entry. It now runs to its end on its own task
/// and is audited with what it removed.
#[tokio::test]
async fn a_clear_runs_to_its_end_and_is_audited_when_its_client_leaves() {
    let app = TestApp::spawn("clear-leave").await;
    fixture("add", &app.prefix, json!([{"name": "big"}])).await;
    app.rediscover().await;
    crate::helpers::write_jobs(
        &app.redis_url,
        &app.prefix,
        "big",
        "completed",
        1_000,
        100_000,
    )
    .await;
    let completed = format!("{}:big:completed", app.prefix);

    // The client gives up after 50 ms: 100 batches take far longer.
    let left = app
        .client
        .delete(app.url("/api/v1/admin/jobs/queue/big/clear?type=completed"))
        .bearer_auth(app.token(Role::Admin))
        .timeout(Duration::from_millis(50))
        .send()
        .await;
    assert!(left.is_err(), "the client left before the answer");

    eventually(Duration::from_secs(60), "the clear to finish", || async {
        (redis_cli(&["ZCARD", &completed]) == "0").then_some(())
    })
    .await;
    let entry = eventually(Duration::from_secs(10), "its audit entry", || async {
        audit_entries(&app, "clear").await.into_iter().next()
    })
    .await;
    assert_eq!(entry["result"]["removed"], 100_000, "{entry}");
    assert_eq!(entry["result"]["success"], true, "{entry}");
    let bull = bull_counts(&app, "big", 6).await;
    assert_eq!(bull["counts"]["completed"], 0, "{bull}");
    assert_eq!(
        bull["counts"]["waiting"], 1,
        "the waiting job stays: {bull}"
    );
}

/// Regression (issue 15, defects 3 and 6 on retry): a retry whose answer came after the deadline
/// had created its job but answered 503 and was audited as a failure, so trying again made a
/// duplicate. Now the audit entry says "outcome unknown", the same request repeated returns the
/// first job, and an `Idempotency-Key` names a request whatever its body.
#[tokio::test]
async fn a_retry_whose_answer_is_lost_is_audited_as_unknown_and_never_made_twice() {
    let redis = crate::own_redis::OwnRedis::start().expect("redis-server");
    let mut options =
        crate::helpers::TestOptions::new(&crate::helpers::unique_prefix("retry-lost"));
    options.redis_url = redis.url();
    let app = TestApp::spawn_with(options).await;
    let _world = app.world(json!([{"name": "mails", "failed": 1}])).await;
    let failed = redis.cli(&["ZRANGE", &format!("{}:mails:failed", app.prefix), "0", "0"]);
    let path = format!("/api/v1/admin/jobs/retry/mails/{failed}");
    let prioritized = || async {
        let report = crate::helpers::fixture_on(
            &redis.url(),
            "counts",
            &app.prefix,
            json!([{"name": "mails"}]),
        )
        .await;
        report["queues"]["mails"]["counts"]["prioritized"]
            .as_u64()
            .unwrap_or(0)
    };

    // Redis takes no writes for 3 s: the retry reads the job, sends its script, and hears
    // nothing back within the request's deadline (800 ms).
    assert_eq!(redis.cli(&["CLIENT", "PAUSE", "3000", "WRITE"]), "OK");
    let retry = |changes: Value| app.call(Method::POST, &path, Role::Admin, Some(changes));
    let (status, reply) = retry(json!({"priority": 3})).await;
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["error"], "outcome_unknown", "{reply}");
    assert!(reply["message"]
        .as_str()
        .unwrap_or_default()
        .contains("retriedFrom"));

    // Once Redis writes again, the job exists, and the audit trail says what was known.
    eventually(Duration::from_secs(15), "the retried job", || async {
        (prioritized().await == 1).then_some(())
    })
    .await;
    let entry = eventually(Duration::from_secs(15), "the audit entry", || async {
        audit_entries(&app, "retry").await.into_iter().next()
    })
    .await;
    assert_eq!(entry["result"]["outcome"], "unknown", "{entry}");
    assert_eq!(entry["result"]["success"], false, "{entry}");
    assert_eq!(
        entry["result"]["retriedFrom"]["jobId"],
        failed.as_str(),
        "{entry}"
    );

    // The operator tries again: the first job comes back, none is added.
    let new_id = redis.cli(&[
        "ZRANGE",
        &format!("{}:mails:prioritized", app.prefix),
        "0",
        "0",
    ]);
    let (status, again) = retry(json!({"priority": 3})).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (&again["repeated"], &again["newJobId"]),
        (&json!(true), &json!(new_id))
    );
    assert_eq!(prioritized().await, 1);

    // Other changes make another request: a job of its own.
    let (status, other) = retry(json!({"priority": 4})).await;
    assert_eq!(
        (status, &other["repeated"]),
        (200, &json!(false)),
        "{other}"
    );
    assert_eq!(prioritized().await, 2);

    // One Idempotency-Key is one request, whatever its body says.
    let keyed = |priority: u64| {
        app.client
            .post(app.url(&path))
            .bearer_auth(app.token(Role::Admin))
            .header("idempotency-key", "deploy-42-retry")
            .json(&json!({"priority": priority}))
            .send()
    };
    let first: Value = keyed(5).await.expect("request").json().await.expect("json");
    let second: Value = keyed(6).await.expect("request").json().await.expect("json");
    assert_eq!(first["repeated"], false, "{first}");
    assert_eq!(
        (&second["repeated"], &second["newJobId"]),
        (&json!(true), &first["newJobId"])
    );
    assert_eq!(prioritized().await, 3);
}

/// Regression (issue 15, defect 6): a job id was not checked to name a job: `…/meta` enqueued a
/// junk job made from the queue's `meta` hash, `…/id` and `…/events` answered 500.
#[tokio::test]
async fn a_job_id_must_name_a_job_not_one_of_the_queues_own_keys() {
    let app = TestApp::spawn("retry-keys").await;
    let _world = app.world(json!([{"name": "q", "failed": 1}])).await;
    let failed = first_finished_id(&app, "q", "failed");
    for id in [
        "meta".to_owned(),
        "id".to_owned(),
        "events".to_owned(),
        "failed".to_owned(),
        "marker".to_owned(),
        format!("{failed}:logs"),
        "nope".to_owned(),
    ] {
        let (status, reply) = app
            .call(
                Method::POST,
                &format!("/api/v1/admin/jobs/retry/q/{id}"),
                Role::Admin,
                Some(json!({})),
            )
            .await;
        assert_eq!(
            (status, &reply["error"]),
            (404, &json!("not_found")),
            "{id}: {reply}"
        );
    }
    let bull = bull_counts(&app, "q", 6).await;
    assert_eq!(bull["counts"]["waiting"], 0, "no junk job: {bull}");
    assert_eq!(bull["counts"]["failed"], 1);
}

/// Regression (issue 15, defect 5): resuming a queue caught between BullMQ 5 and 6 (a legacy
/// `paused` list beside `wait`) moved the whole list in one script, blocking Redis for as long
/// as that took. It now moves at most 1,000 jobs per call; real BullMQ sees every job.
#[tokio::test]
async fn resuming_a_queue_with_a_legacy_paused_list_moves_it_in_batches() {
    let redis = crate::own_redis::OwnRedis::start().expect("redis-server");
    let prefix = crate::helpers::unique_prefix("migrating");
    // BullMQ 5 paused the queue with 25,000 jobs (its `paused` list); BullMQ 6 then added
    // 25,000 more, to `wait` as v6 does.
    crate::helpers::World::build_on(
        &redis.url(),
        &prefix,
        json!([{"name": "mig", "bullmq": 5, "paused": true, "waiting": 25_000}]),
    )
    .await;
    crate::helpers::fixture_on(
        &redis.url(),
        "add",
        &prefix,
        json!([{"name": "mig", "bullmq": 6, "count": 25_000}]),
    )
    .await;
    assert_eq!(
        redis.cli(&["LLEN", &format!("{prefix}:mig:paused")]),
        "25000"
    );
    assert_eq!(redis.cli(&["LLEN", &format!("{prefix}:mig:wait")]), "25000");
    let mut options = crate::helpers::TestOptions::new(&prefix);
    options.redis_url = redis.url();
    let app = TestApp::spawn_with(options).await;
    app.rediscover().await;
    let scripts = || {
        let stats = redis.cli(&["INFO", "commandstats"]);
        crate::helpers::command_calls(&stats, "evalsha")
            + crate::helpers::command_calls(&stats, "eval")
    };
    let before = scripts();

    let reply = app.control("mig", "resume").await;
    assert_eq!(reply["changed"], true, "{reply}");
    assert!(
        scripts() - before >= 25,
        "25,000 jobs moved 1,000 per call: {} calls",
        scripts() - before
    );
    let bull = crate::helpers::fixture_on(
        &redis.url(),
        "counts",
        &prefix,
        json!([{"name": "mig", "bullmq": 6}]),
    )
    .await;
    let mig = &bull["queues"]["mig"];
    assert_eq!(
        (&mig["waitingCount"], &mig["isPaused"]),
        (&json!(50_000), &json!(false)),
        "{mig}"
    );
    assert_eq!(redis.cli(&["EXISTS", &format!("{prefix}:mig:paused")]), "0");
    // The jobs that waited longest (v5's, oldest first) are taken first.
    assert_eq!(
        redis.cli(&["LINDEX", &format!("{prefix}:mig:wait"), "-1"]),
        "1"
    );
}
