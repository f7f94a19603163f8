//! The history collector against real BullMQ workers: counts equal what the workers finished,
//! also when BullMQ removed the jobs (`removeOnComplete`), with two instances collecting, and
//! when the collecting instance dies mid-stream.

use crate::helpers::{eventually, fixture, redis_cli, unique_prefix, TestApp, TestOptions};
use app::role::Role;
use serde_json::{json, Value};
use std::time::Duration;

/// Sums of `/history` for one queue over the last 24 h: (completed, failed, timed jobs);
/// `None` while the server does not know the queue yet.
pub(crate) async fn try_history_sums(app: &TestApp, queue: &str) -> Option<(u64, u64, u64)> {
    let path = format!("/api/v1/admin/jobs/history?queue={queue}");
    let (status, body) = app.get_json(&path, Role::Moderator).await;
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["source"], "collector");
    let points = body["points"].as_array().cloned().unwrap_or_default();
    let sum = |field: &str| points.iter().filter_map(|p| p[field].as_u64()).sum::<u64>();
    Some((sum("completed"), sum("failed"), sum("timedJobs")))
}

pub(crate) async fn history_sums(app: &TestApp, queue: &str) -> (u64, u64, u64) {
    try_history_sums(app, queue)
        .await
        .expect("the server knows the queue")
}

fn collecting(prefix: &str) -> TestOptions {
    let mut options = TestOptions::new(prefix);
    options.collector = true;
    options
}

/// The last id of a queue's event stream.
fn last_event_id(prefix: &str, queue: &str) -> String {
    crate::helpers::last_event(prefix, queue).0
}

/// Waits until the collector has applied every event the queue's stream holds now.
async fn caught_up(prefix: &str, queue: &str) {
    let last = last_event_id(prefix, queue);
    eventually(
        Duration::from_secs(30),
        "the collector to catch up",
        || async { (cursor(prefix, queue) == last).then_some(()) },
    )
    .await;
}

/// The first `/metrics` answer `accept` takes (each answer must be a 200).
async fn metrics_where(app: &TestApp, what: &str, accept: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(15), what, || async {
        let (status, body) = app
            .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
            .await;
        assert_eq!(status, 200, "{body}");
        accept(&body).then_some(body)
    })
    .await
}

/// The id part of a queue's stored history cursor (`"<id> <ordinal>"`).
fn cursor(prefix: &str, queue: &str) -> String {
    redis_cli(&[
        "GET",
        &format!("{prefix}-monitor:{{history:{prefix}}}:{queue}:cursor"),
    ])
    .split_whitespace()
    .next()
    .unwrap_or_default()
    .to_owned()
}

#[tokio::test]
async fn the_collector_counts_every_job_the_workers_finished_even_when_bullmq_removed_them() {
    let app = TestApp::spawn_with(collecting(&unique_prefix("history-remove"))).await;
    let report = fixture(
        "work",
        &app.prefix,
        json!([{"name": "mails", "completed": 120, "failed": 30, "remove": true, "workMs": 2}]),
    )
    .await;
    let done = &report["queues"]["mails"];
    let (completed, failed) = (done["completed"].as_u64(), done["failed"].as_u64());
    assert_eq!((completed, failed), (Some(120), Some(30)));
    // BullMQ itself no longer has them.
    let counts = fixture("counts", &app.prefix, json!([{"name": "mails"}])).await;
    assert_eq!(counts["queues"]["mails"]["counts"]["completed"], 0);
    assert_eq!(counts["queues"]["mails"]["counts"]["failed"], 0);

    app.rediscover().await;
    let sums = eventually(
        Duration::from_secs(15),
        "the collector to catch up",
        || async {
            let sums = history_sums(&app, "mails").await;
            (sums.0 + sums.1 >= 150).then_some(sums)
        },
    )
    .await;
    // Every job once, each timed from the stream alone (its hash is gone).
    assert_eq!(sums, (120, 30, 150));
    let (_, body) = app
        .get_json(
            "/api/v1/admin/jobs/history?queue=mails&step=hour",
            Role::Moderator,
        )
        .await;
    let point = body["points"]
        .as_array()
        .and_then(|points| points.iter().find(|p| p["completed"].as_u64() > Some(0)))
        .cloned()
        .unwrap_or(Value::Null);
    assert!(point["avgProcessingTime"].as_u64().is_some(), "{body}");
    assert!(point["maxProcessingTime"].as_u64() >= point["minProcessingTime"].as_u64());
    assert!(point["avgWaitTime"].as_u64().is_some(), "{body}");
    assert_eq!(body["gaps"], 0);
}

#[tokio::test]
async fn two_instances_count_each_job_once() {
    let prefix = unique_prefix("history-two");
    let first = TestApp::spawn_with(collecting(&prefix)).await;
    let second = TestApp::spawn_with(collecting(&prefix)).await;
    let mut expected = (0, 0);
    for round in 0..2 {
        let report = fixture(
            "work",
            &prefix,
            json!([{"name": "sync", "completed": 60, "failed": 15, "remove": round == 0}]),
        )
        .await;
        expected.0 += report["queues"]["sync"]["completed"].as_u64().unwrap_or(0);
        expected.1 += report["queues"]["sync"]["failed"].as_u64().unwrap_or(0);
        first.rediscover().await;
        second.rediscover().await;
        // Once the stored cursor is at the stream's last event, everything has been applied.
        caught_up(&prefix, "sync").await;
        for app in [&first, &second] {
            let (completed, failed, _) = history_sums(app, "sync").await;
            assert_eq!((completed, failed), expected, "round {round}");
        }
    }
    assert_eq!(expected, (120, 30));
}

#[tokio::test]
async fn killing_the_collecting_instance_mid_stream_loses_and_doubles_nothing() {
    let prefix = unique_prefix("history-kill");
    let mut first = TestApp::spawn_with(collecting(&prefix)).await;
    // A slow workload, so the first instance dies while events are still coming.
    let work = tokio::spawn({
        let prefix = prefix.clone();
        async move {
            fixture(
                "work",
                &prefix,
                json!([{"name": "video", "completed": 160, "failed": 40, "workMs": 15, "concurrency": 2, "remove": true}]),
            )
            .await
        }
    });
    eventually(
        Duration::from_secs(20),
        "the first instance to collect some",
        || async {
            first.rediscover().await;
            let (completed, failed, _) = try_history_sums(&first, "video").await?;
            (completed + failed > 0).then_some(())
        },
    )
    .await;
    assert!(
        !work.is_finished(),
        "the workload is still running when the collecting instance dies"
    );
    first.stop();
    let second = TestApp::spawn_with(collecting(&prefix)).await;
    let report = work.await.expect("workload");
    let done = &report["queues"]["video"];
    let expected = (
        done["completed"].as_u64().unwrap_or(0),
        done["failed"].as_u64().unwrap_or(0),
    );
    assert_eq!(expected, (160, 40));
    second.rediscover().await;
    caught_up(&prefix, "video").await;
    let (completed, failed, _) = history_sums(&second, "video").await;
    assert_eq!((completed, failed), expected);
    drop(first);
}

#[tokio::test]
async fn bad_history_queries_are_refused_with_a_reason() {
    let app = TestApp::spawn("history-bad").await;
    for (query, needle) in [
        ("step=week", "step"),
        ("from=yesterday", "from"),
        ("from=2026-11-28T10:00:00Z&to=2026-11-27T10:00:00Z", "after"),
        ("from=0&to=86400000000&step=minute", "points"),
        ("queue=a:b", "queue"),
    ] {
        let (status, body) = app
            .get_json(
                &format!("/api/v1/admin/jobs/history?{query}"),
                Role::Moderator,
            )
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["error"], "bad_request", "{query}");
        assert!(
            body["message"]
                .as_str()
                .unwrap_or_default()
                .contains(needle),
            "{query}: {body}"
        );
    }
    let (status, body) = app
        .get_json("/api/v1/admin/jobs/history?queue=nope", Role::Moderator)
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn events_trimmed_before_they_were_read_are_reported_and_filled_from_the_retained_jobs() {
    let prefix = unique_prefix("history-gap");
    let mut first = TestApp::spawn_with(collecting(&prefix)).await;
    fixture("work", &prefix, json!([{"name": "feed", "completed": 20}])).await;
    first.rediscover().await;
    caught_up(&prefix, "feed").await;
    first.stop();
    // Its collector is gone once nobody renews the lease (stopping drains the server first).
    let lease = format!("{prefix}-monitor:{{history:{prefix}}}:lease");
    eventually(
        Duration::from_secs(15),
        "the stopped instance's lease to expire",
        || async { redis_cli(&["EXISTS", &lease]).eq("0").then_some(()) },
    )
    .await;
    // While no collector runs, more jobs finish (10 kept by BullMQ, 5 removed) and the stream
    // is trimmed past the cursor.
    fixture("work", &prefix, json!([{"name": "feed", "completed": 10}])).await;
    fixture(
        "work",
        &prefix,
        json!([{"name": "feed", "completed": 5, "remove": true}]),
    )
    .await;
    redis_cli(&["XTRIM", &format!("{prefix}:feed:events"), "MAXLEN", "0"]);
    let second = TestApp::spawn_with(collecting(&prefix)).await;
    second.rediscover().await;
    eventually(
        Duration::from_secs(15),
        "the gap to be reported",
        || async {
            let (_, body) = second
                .get_json("/api/v1/admin/jobs/history?queue=feed", Role::Moderator)
                .await;
            (body["gaps"] == 1).then_some(())
        },
    )
    .await;
    // Read again: one response reads the buckets and the gap count with separate commands, so
    // the one that first saw the gap may have read the buckets just before the gap's write
    // (which changes both at once).
    let (_, body) = second
        .get_json("/api/v1/admin/jobs/history?queue=feed", Role::Moderator)
        .await;
    let sum = |field: &str| -> u64 {
        body["points"]
            .as_array()
            .map(|points| points.iter().filter_map(|p| p[field].as_u64()).sum())
            .unwrap_or(0)
    };
    // The 10 jobs BullMQ kept are recovered (timed from their hashes); the 5 it removed are
    // missing, and the response says how many were recovered.
    assert_eq!(sum("completed"), 30, "{body}");
    assert_eq!(body["gapJobsFilled"], 10, "{body}");
    assert_eq!(sum("timedJobs"), 30, "{body}");
    // Counted once: more rounds of the collector add nothing.
    fixture("work", &prefix, json!([{"name": "feed", "completed": 3}])).await;
    caught_up(&prefix, "feed").await;
    let (completed, _, _) = history_sums(&second, "feed").await;
    assert_eq!(completed, 33);
    drop(first);
}

#[tokio::test]
async fn trends_come_from_the_history_once_it_covers_the_period() {
    let app = TestApp::spawn_with(collecting(&unique_prefix("history-trends"))).await;
    fixture(
        "work",
        &app.prefix,
        json!([{"name": "pdf", "completed": 40, "failed": 10, "remove": true}]),
    )
    .await;
    app.rediscover().await;
    let last = last_event_id(&app.prefix, "pdf");
    eventually(
        Duration::from_secs(15),
        "the collector to catch up",
        || async { (cursor(&app.prefix, "pdf") == last).then_some(()) },
    )
    .await;
    let trend = |body: &Value| {
        body.as_array()
            .and_then(|t| t.iter().find(|t| t["queueName"] == "pdf"))
            .cloned()
            .unwrap_or(Value::Null)
    };
    // The stream holds the queue's whole life (nothing trimmed), so its history is complete
    // from the beginning.
    let since_key = format!("{0}-monitor:{{history:{0}}}:since", app.prefix);
    assert_eq!(redis_cli(&["HGET", &since_key, "pdf"]), "0");
    // As if the stream had been trimmed before the collector first read it, minutes ago: a
    // 24 h trend then comes from BullMQ's retained jobs, which `removeOnComplete` took away.
    redis_cli(&["HSET", &since_key, "pdf", &chrono_now_ms().to_string()]);
    let (_, body) = app
        .get_json("/api/v1/admin/jobs/trends?period=24h", Role::Moderator)
        .await;
    assert_eq!(trend(&body)["source"], "jobs");
    assert_eq!(trend(&body)["successful"], 0);

    // As if the collector had been running for two days: the same request is answered from
    // the buckets.
    let two_days_ago = (chrono_now_ms() - 2 * 86_400_000).to_string();
    redis_cli(&["HSET", &since_key, "pdf", &two_days_ago]);
    let (_, body) = app
        .get_json("/api/v1/admin/jobs/trends?period=24h", Role::Moderator)
        .await;
    let pdf = trend(&body);
    assert_eq!(pdf["source"], "collector", "{body}");
    assert_eq!(
        (pdf["successful"].as_u64(), pdf["failed"].as_u64()),
        (Some(40), Some(10))
    );
    assert_eq!(pdf["successRate"], 80.0);
    assert_eq!(pdf["avgProcessingTimeSample"], 50);
    // A 30-day trend is not covered yet (two days of history).
    let (_, body) = app
        .get_json("/api/v1/admin/jobs/trends?period=30d", Role::Moderator)
        .await;
    assert_eq!(trend(&body)["source"], "jobs");
}

#[tokio::test]
async fn metrics_rates_come_from_the_history_while_the_collector_keeps_up() {
    let prefix = unique_prefix("history-rates");
    let mut app = TestApp::spawn_with(collecting(&prefix)).await;
    let report = fixture(
        "work",
        &prefix,
        json!([{"name": "thumbs", "completed": 120, "failed": 30, "remove": true, "workMs": 1}]),
    )
    .await;
    assert_eq!(report["queues"]["thumbs"]["completed"], 120);
    app.rediscover().await;
    caught_up(&prefix, "thumbs").await;
    let metrics = metrics_where(&app, "the rates to come from the history", |body| {
        body["source"] == "collector"
    })
    .await;
    let queue = &metrics["queues"][0];
    assert_eq!(queue["queueName"], "thumbs");
    assert_eq!(queue["source"], "collector");
    // All 150 jobs, although BullMQ removed every one of them.
    assert_eq!(queue["completed"], 0);
    assert_eq!(queue["successRate"], 80.0, "{metrics}");
    assert_eq!(queue["successRateSample"], 150);
    assert_eq!(metrics["successRate"], 80.0);
    // 150 jobs over a window of 4 to 5 minutes.
    let rate = queue["processingRate"].as_f64().unwrap_or(0.0);
    assert!((30.0..=37.5).contains(&rate), "{metrics}");
    assert_eq!(metrics["processingRate"], queue["processingRate"]);

    // More work: the rates follow. (A reader keeps the windows it read from the buckets until
    // the collector applies a batch to them; this proves it lets go then.)
    fixture(
        "work",
        &prefix,
        json!([{"name": "thumbs", "completed": 10, "remove": true, "workMs": 1}]),
    )
    .await;
    caught_up(&prefix, "thumbs").await;
    let metrics = metrics_where(&app, "the rates to count the new jobs", |body| {
        body["queues"][0]["successRateSample"] == 160
    })
    .await;
    assert_eq!(metrics["queues"][0]["successRate"], 81.25, "{metrics}");

    // With no collector running, the history falls behind and is no longer trusted: the rates
    // come from what BullMQ kept (nothing here).
    app.stop();
    let reader = TestApp::spawn_with(TestOptions::new(&prefix)).await;
    let metrics = metrics_where(
        &reader,
        "the rates to fall back to the retained jobs",
        |body| body["source"] == "jobs",
    )
    .await;
    assert_eq!(metrics["queues"][0]["source"], "jobs");
    assert_eq!(metrics["queues"][0]["successRate"], Value::Null);
    assert_eq!(metrics["queues"][0]["processingRate"], 0.0);
    let (_, trends) = reader
        .get_json("/api/v1/admin/jobs/trends?period=24h", Role::Moderator)
        .await;
    assert_eq!(trends[0]["source"], "jobs", "{trends}");
    drop(app);
}

fn chrono_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// `source` of one queue in a server's `/metrics`, when it lists it.
async fn metrics_source(app: &TestApp, queue: &str) -> Option<String> {
    let (status, body) = app
        .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
        .await;
    assert_eq!(status, 200, "{body}");
    body["queues"]
        .as_array()?
        .iter()
        .find(|q| q["queueName"] == queue)
        .and_then(|q| q["source"].as_str().map(str::to_owned))
}

/// Regression (issue 15, defect 9): coverage was one mark for the whole Redis, so a deployment
/// watching other queues (another `BULLMQ_QUEUES`) kept it fresh, and one showing `beta`
/// reported `source: collector` from buckets nobody updated any more. Coverage is per queue
/// now, and each allow-list has a collector lease of its own.
#[tokio::test]
async fn a_deployment_never_vouches_for_queues_it_does_not_collect() {
    let prefix = unique_prefix("history-scope");
    // A collector of every queue once brought both histories up to date.
    let mut everything = TestApp::spawn_with(collecting(&prefix)).await;
    fixture(
        "work",
        &prefix,
        json!([{"name": "alpha", "completed": 5}, {"name": "beta", "completed": 5}]),
    )
    .await;
    everything.rediscover().await;
    for queue in ["alpha", "beta"] {
        eventually(Duration::from_secs(15), "both histories", || async {
            (metrics_source(&everything, queue).await.as_deref() == Some("collector")).then_some(())
        })
        .await;
    }
    everything.stop();

    // Now one deployment collects `alpha` only; another shows `beta` only and collects nothing.
    let mut alpha_options = collecting(&prefix);
    alpha_options.queue_allow_list = Some(vec!["alpha".into()]);
    let alpha = TestApp::spawn_with(alpha_options).await;
    let mut beta_options = TestOptions::new(&prefix);
    beta_options.queue_allow_list = Some(vec!["beta".into()]);
    let beta = TestApp::spawn_with(beta_options).await;
    alpha.rediscover().await;
    beta.rediscover().await;
    eventually(Duration::from_secs(15), "alpha collected", || async {
        (metrics_source(&alpha, "alpha").await.as_deref() == Some("collector")).then_some(())
    })
    .await;
    // Nobody brings beta's history up to date: its numbers come from the jobs.
    eventually(Duration::from_secs(15), "beta from the jobs", || async {
        (metrics_source(&beta, "beta").await.as_deref() == Some("jobs")).then_some(())
    })
    .await;

    // A deployment that collects beta (a lease of its own, beside alpha's) covers it again.
    let mut beta_collector_options = collecting(&prefix);
    beta_collector_options.queue_allow_list = Some(vec!["beta".into()]);
    let beta_collector = TestApp::spawn_with(beta_collector_options).await;
    beta_collector.rediscover().await;
    eventually(Duration::from_secs(15), "beta collected again", || async {
        (metrics_source(&beta, "beta").await.as_deref() == Some("collector")).then_some(())
    })
    .await;
    assert_eq!(
        metrics_source(&alpha, "alpha").await.as_deref(),
        Some("collector")
    );
    drop(everything);
}

/// The seed's success rate — over the 1,000 most recently finished jobs — stays exact with the
/// collector although BullMQ removed every job: 100 failures followed by 1,000 completions read
/// 100 % (the failures are older than the last 1,000), and the overall rate takes the 1,000
/// most recent over both queues (the other queue's 40 jobs finished last).
#[tokio::test]
async fn success_rates_are_over_the_last_thousand_outcomes_when_bullmq_removed_the_jobs() {
    let prefix = unique_prefix("history-ring");
    let app = TestApp::spawn_with(collecting(&prefix)).await;
    let spec = |name: &str, completed: u64, failed: u64| {
        json!([{"name": name, "completed": completed, "failed": failed, "remove": true,
                "concurrency": 50}])
    };
    fixture("work", &prefix, spec("ring", 0, 100)).await;
    fixture("work", &prefix, spec("ring", 1000, 0)).await;
    fixture("work", &prefix, spec("other", 30, 10)).await;
    app.rediscover().await;
    for queue in ["ring", "other"] {
        caught_up(&prefix, queue).await;
    }
    let metrics = metrics_where(&app, "the rates to come from the history", |body| {
        body["source"] == "collector"
    })
    .await;
    let queue = |name: &str| {
        metrics["queues"]
            .as_array()
            .and_then(|queues| queues.iter().find(|q| q["queueName"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(queue("ring")["successRateSample"], 1000, "{metrics}");
    assert_eq!(queue("ring")["successRate"], 100.0, "{metrics}");
    assert_eq!(queue("other")["successRateSample"], 40);
    assert_eq!(queue("other")["successRate"], 75.0);
    // 960 of ring's completions and other's 30 completions and 10 failures.
    assert_eq!(metrics["successRateSample"], 1000);
    assert_eq!(metrics["successRate"], 99.0, "{metrics}");
}
