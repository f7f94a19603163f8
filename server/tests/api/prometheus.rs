//! `/metrics` at the root (Prometheus) and `GET /queue/{q}/workers`, against real BullMQ: its
//! `getJobCounts()`, `exportPrometheusMetrics()` and `getWorkers()` are the oracle; the text is
//! read by an independent parser of the Prometheus format (`prometheus-parse`).

use crate::helpers::*;
use app::role::Role;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::time::Duration;

const TOKEN: &str = "scrape-secret-7f3a";

fn with_token(prefix: &str) -> TestOptions {
    let mut options = TestOptions::new(prefix);
    options.metrics_token = Some(TOKEN.into());
    options
}

/// A scrape: status, content type, body.
async fn scrape(app: &TestApp, token: Option<&str>, accept: Option<&str>) -> (u16, String, String) {
    let mut request = app.client.get(app.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.expect("scrape");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("body"))
}

/// Samples by `name` and labels, read by `prometheus-parse`.
struct Parsed(Vec<prometheus_parse::Sample>);

impl Parsed {
    fn of(text: &str) -> Parsed {
        let lines = text.lines().map(|line| Ok(line.to_owned()));
        let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text");
        Parsed(scrape.samples)
    }

    /// The first sample of `name` whose labels include `labels`.
    fn sample(&self, name: &str, labels: &[(&str, &str)]) -> Option<&prometheus_parse::Sample> {
        self.0.iter().find(|sample| {
            sample.metric == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(key) == Some(value))
        })
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.sample(name, labels).map(|sample| match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => f64::NAN,
        })
    }

    /// A histogram's cumulative count at bound `le` (the parser groups the `_bucket` samples).
    fn bucket(&self, name: &str, labels: &[(&str, &str)], le: f64) -> Option<f64> {
        self.sample(name, labels)
            .and_then(|sample| match &sample.value {
                prometheus_parse::Value::Histogram(counts) => counts
                    .iter()
                    .find(|count| count.less_than == le)
                    .map(|count| count.count),
                _ => None,
            })
    }
}

/// BullMQ's own `exportPrometheusMetrics()` text as (queue, state) → count. BullMQ separates
/// labels with `", "`, which this parser does not take; the space goes first.
fn bullmq_counts(exposition: &str) -> HashMap<(String, String), f64> {
    let lines = exposition
        .lines()
        .map(|line| Ok(line.replace("\", ", "\",")));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("BullMQ's text parses");
    scrape
        .samples
        .into_iter()
        .filter(|sample| sample.metric == "bullmq_job_count")
        .map(|sample| {
            let value = match sample.value {
                prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => f64::NAN,
            };
            (
                (
                    sample.labels.get("queue").unwrap_or_default().to_owned(),
                    sample.labels.get("state").unwrap_or_default().to_owned(),
                ),
                value,
            )
        })
        .collect()
}

#[tokio::test]
async fn the_exposition_says_what_bullmq_says_and_needs_the_token() {
    let app = TestApp::spawn_with(with_token(&unique_prefix("prom"))).await;
    let world = app
        .world(json!([
            {"name": "emails", "completed": 3, "failed": 2, "active": 1, "waiting": 4,
             "prioritized": 2, "delayed": 1, "liveWorker": {"name": "mailer-1"}, "paused": true},
            {"name": "legacy", "bullmq": 5, "completed": 2, "failed": 1, "waiting": 3,
             "delayed": 2},
            // A live BullMQ 5 worker, on a queue of its own (it would run legacy's jobs).
            {"name": "idle5", "bullmq": 5, "liveWorker": {"name": "old-1"}},
        ]))
        .await;

    // Without the token, or with another, nothing is told.
    let (status, _, body) = scrape(&app, None, None).await;
    assert_eq!(status, 401, "{body}");
    let error: Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(error["error"], "unauthorized");
    let (status, _, _) = scrape(&app, Some("scrape-secret-7f3b"), None).await;
    assert_eq!(status, 401);
    let moderator = app.token(Role::Moderator);
    let (status, _, _) = scrape(&app, Some(&moderator), None).await;
    assert_eq!(status, 401, "a user's token is no scrape token");

    let (status, content_type, _) = scrape(&app, Some(TOKEN), None).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    // Workers connect on their own time: compare ours with BullMQ's read at about the same
    // moment until both have seen every connection.
    let spec = json!([{"name": "emails"}, {"name": "legacy", "bullmq": 5}, {"name": "idle5", "bullmq": 5}]);
    let (text, bullmq) = eventually(
        Duration::from_secs(15),
        "the same workers as getWorkers()",
        || async {
            let (_, _, text) = scrape(&app, Some(TOKEN), None).await;
            let bullmq = fixture("counts", &app.prefix, spec.clone()).await;
            let ours = Parsed::of(&text);
            let same = ["emails", "legacy", "idle5"].iter().all(|queue| {
                let theirs = bullmq["queues"][queue]["workers"]
                    .as_array()
                    .map_or(0, Vec::len) as f64;
                ours.value(
                    "bullmq_monitor_queue_workers",
                    &[("queue", queue), ("prefix", app.prefix.as_str())],
                ) == Some(theirs)
            });
            let up = |queue: &str| {
                bullmq["queues"][queue]["workers"]
                    .as_array()
                    .map_or(0, Vec::len)
            };
            let all_up = up("emails") >= 2 && up("idle5") >= 1;
            (same && all_up).then_some((text, bullmq))
        },
    )
    .await;
    promtool_accepts(&text);
    let ours = Parsed::of(&text);
    for queue in ["emails", "legacy"] {
        let report = &bullmq["queues"][queue];
        assert_eq!(
            report["counts"],
            world.queue(queue)["counts"],
            "the world stood still"
        );
        let theirs = bullmq_counts(report["prometheus"].as_str().expect("BullMQ's exposition"));
        assert!(
            ["waiting", "active", "failed", "prioritized"]
                .iter()
                .all(|state| theirs.contains_key(&(queue.to_owned(), (*state).to_owned()))),
            "BullMQ's own exposition read: {theirs:?}"
        );
        for state in [
            "active",
            "completed",
            "delayed",
            "failed",
            "prioritized",
            "waiting",
            "waiting-children",
        ] {
            let labels = [
                ("queue", queue),
                ("state", state),
                ("prefix", app.prefix.as_str()),
            ];
            let value = ours.value("bullmq_job_count", &labels);
            assert_eq!(
                value,
                Some(report["counts"][state].as_f64().unwrap_or(0.0)),
                "{queue} {state}: BullMQ's getJobCounts() {}",
                report["counts"]
            );
            if let Some(bullmq) = theirs.get(&(queue.to_owned(), state.to_owned())) {
                assert_eq!(
                    value,
                    Some(*bullmq),
                    "{queue} {state}: exportPrometheusMetrics()"
                );
            }
        }
    }
    let paused = |queue: &str| {
        ours.value(
            "bullmq_monitor_queue_paused",
            &[("queue", queue), ("prefix", app.prefix.as_str())],
        )
    };
    assert_eq!(paused("emails"), Some(1.0));
    assert_eq!(paused("legacy"), Some(0.0));
    assert_eq!(
        ours.value(
            "bullmq_monitor_redis_up",
            &[("prefix", app.prefix.as_str())]
        ),
        Some(1.0)
    );
    assert!(
        !text.contains("bullmq_job_completed_total"),
        "no collector, no lifetime counters"
    );

    // OpenMetrics when asked for, as Prometheus does.
    let (status, content_type, open_metrics) = scrape(
        &app,
        Some(TOKEN),
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(open_metrics.ends_with("# EOF\n"), "{open_metrics}");

    // The workers themselves, as getWorkers() lists them (BullMQ 6 and 5).
    let mut bodies = HashMap::new();
    for queue in ["emails", "idle5"] {
        let (status, body) = app
            .get_json(
                &format!("/api/v1/admin/jobs/queue/{queue}/workers"),
                Role::Moderator,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let theirs = bullmq["queues"][queue]["workers"]
            .as_array()
            .expect("workers")
            .clone();
        assert!(!theirs.is_empty(), "{queue}: BullMQ sees its worker");
        assert_eq!(body["count"], theirs.len(), "{body}");
        let mut names: Vec<String> = body["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .map(|w| w["clientName"].as_str().expect("clientName").to_owned())
            .collect();
        let mut expected: Vec<String> = theirs
            .iter()
            .map(|w| w["rawname"].as_str().expect("rawname").to_owned())
            .collect();
        names.sort_unstable();
        expected.sort_unstable();
        assert_eq!(names, expected, "{queue}");
        bodies.insert(queue, body);
    }
    let body = &bodies["emails"];
    assert!(
        body["workers"]
            .as_array()
            .expect("workers")
            .iter()
            .any(|w| w["name"] == "mailer-1" && w["addr"].as_str().is_some_and(|a| a.contains(':'))),
        "{body}"
    );
    let (status, body) = app
        .get_json("/api/v1/admin/jobs/queue/nope/workers", Role::Moderator)
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let (status, _) = app
        .anonymous(
            reqwest::Method::GET,
            "/api/v1/admin/jobs/queue/emails/workers",
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn without_a_token_set_the_endpoint_is_off() {
    let app = TestApp::spawn(&unique_prefix("prom-off")).await;
    let (status, _, body) = scrape(&app, Some("anything"), None).await;
    assert_eq!(status, 404, "{body}");
    let error: Value = serde_json::from_str(&body).expect("JSON error");
    assert_eq!(error["error"], "not_found");
    assert!(error["message"]
        .as_str()
        .unwrap_or_default()
        .contains("METRICS_TOKEN"));
}

#[tokio::test]
async fn completed_and_failed_totals_are_counters_that_survive_removal() {
    let prefix = unique_prefix("prom-totals");
    let mut options = with_token(&prefix);
    options.collector = true;
    let app = TestApp::spawn_with(options).await;
    // Finished jobs BullMQ removes at once: only the collector saw them.
    fixture(
        "work",
        &prefix,
        json!([{"name": "feed", "completed": 7, "failed": 3, "remove": true}]),
    )
    .await;
    app.rediscover().await;
    let labels = [("queue", "feed"), ("prefix", prefix.as_str())];
    eventually(
        Duration::from_secs(20),
        "the counters to reach 7 and 3",
        || async {
            let (_, _, text) = scrape(&app, Some(TOKEN), None).await;
            let parsed = Parsed::of(&text);
            (parsed.value("bullmq_job_completed_total", &labels) == Some(7.0)
                && parsed.value("bullmq_job_failed_total", &labels) == Some(3.0))
            .then_some(())
        },
    )
    .await;
    let (_, _, text) = scrape(&app, Some(TOKEN), None).await;
    assert!(
        text.contains("# TYPE bullmq_job_completed_total counter"),
        "{text}"
    );
    let parsed = Parsed::of(&text);
    assert_eq!(
        parsed.value(
            "bullmq_job_count",
            &[("queue", "feed"), ("state", "completed")]
        ),
        Some(0.0),
        "BullMQ kept none of them"
    );
    // More work only adds.
    fixture(
        "work",
        &prefix,
        json!([{"name": "feed", "completed": 2, "remove": true}]),
    )
    .await;
    eventually(
        Duration::from_secs(20),
        "the counter to reach 9",
        || async {
            let (_, _, text) = scrape(&app, Some(TOKEN), None).await;
            (Parsed::of(&text).value("bullmq_job_completed_total", &labels) == Some(9.0))
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn scrapes_share_the_live_poll_whatever_their_number() {
    let prefix = unique_prefix("prom-cost");
    let mut options = with_token(&prefix);
    // One poll at start and none after: every scrape below must be served from it.
    options.live_interval = Duration::from_secs(3600);
    let app = TestApp::spawn_with(options).await;
    let _world = app
        .world(json!([{"name": "a", "waiting": 2}, {"name": "b"}]))
        .await;
    let first = scrape(&app, Some(TOKEN), None).await;
    assert_eq!(first.0, 200);
    assert_eq!(app.hub.polls(), 1);
    let scrapes = (0..10).map(|_| scrape(&app, Some(TOKEN), None));
    let answers = futures_util::future::join_all(scrapes).await;
    for (status, _, text) in &answers {
        assert_eq!(*status, 200);
        assert_eq!(text, &first.2, "one snapshot, one text");
    }
    assert_eq!(app.hub.polls(), 1, "ten more scrapes, no more polls");
    assert_eq!(
        app.hub.active_topics(),
        1,
        "the poller is held between scrapes"
    );
}

#[tokio::test]
async fn firing_alerts_are_counted_by_severity() {
    let mut options = with_token(&unique_prefix("prom-alerts"));
    options.alerts = Some(
        r#"
[[rules]]
name = "Backlog"
condition = { kind = "backlog", above = 1 }
queues = ["mail"]
severity = "warning"
"#
        .into(),
    );
    let app = TestApp::spawn_with(options).await;
    let (_, _, before) = scrape(&app, Some(TOKEN), None).await;
    let labels = |severity| [("severity", severity), ("prefix", app.prefix.as_str())];
    assert_eq!(
        Parsed::of(&before).value("bullmq_monitor_alerts_firing", &labels("warning")),
        Some(0.0),
        "{before}"
    );
    let _world = app.world(json!([{"name": "mail", "waiting": 3}])).await;
    eventually(
        Duration::from_secs(20),
        "one warning firing in /metrics",
        || async {
            let (_, _, text) = scrape(&app, Some(TOKEN), None).await;
            let parsed = Parsed::of(&text);
            (parsed.value("bullmq_monitor_alerts_firing", &labels("warning")) == Some(1.0)
                && parsed.value("bullmq_monitor_alerts_firing", &labels("critical")) == Some(0.0))
            .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn per_queue_series_tell_the_oldest_wait_the_stuck_jobs_and_the_collectors_lag() {
    let prefix = unique_prefix("prom-deep");
    let mut options = with_token(&prefix);
    options.collector = true;
    options.stuck_after = Duration::from_millis(1);
    let app = TestApp::spawn_with(options).await;
    let world = app
        .world(json!([
            {"name": "slow", "waiting": 3, "active": 1},
            {"name": "old5", "bullmq": 5, "waiting": 2},
            {"name": "empty"}
        ]))
        .await;

    // BullMQ's oldest waiting job of each queue, and when it was added.
    let mut added = HashMap::new();
    for (queue, version) in [("slow", 6), ("old5", 5)] {
        let spec = json!({"redis": app.redis_url, "prefix": prefix, "queue": queue,
                          "bullmq": version, "states": ["waiting"], "asc": true});
        let oldest = fixture_raw("getjobs", spec).await["byState"]["waiting"][0]
            .as_str()
            .expect("a waiting job")
            .to_owned();
        let spec = json!({"redis": app.redis_url, "prefix": prefix, "queue": queue,
                          "bullmq": version, "id": oldest});
        let job = fixture_raw("jobjson", spec).await;
        added.insert(queue, job["timestamp"].as_f64().expect("timestamp"));
    }
    let labels = |queue: &'static str| [("queue", queue), ("prefix", prefix.as_str())];

    // The collector catches up with every queue within a pass or two; the per-queue reads are
    // refreshed every 15 s, so this may take one refresh.
    let text = eventually(Duration::from_secs(40), "the collector's lag", || async {
        let (_, _, text) = scrape(&app, Some(TOKEN), None).await;
        let parsed = Parsed::of(&text);
        ["slow", "old5", "empty"]
            .iter()
            .all(|queue| {
                parsed
                    .value("bullmq_monitor_collector_lag_seconds", &labels(queue))
                    .is_some_and(|lag| (0.0..30.0).contains(&lag))
            })
            .then_some(text)
    })
    .await;
    promtool_accepts(&text);
    let parsed = Parsed::of(&text);
    let now = chrono::Utc::now().timestamp_millis() as f64;
    for (queue, at) in &added {
        let expected = (now - at) / 1000.0;
        let ours = parsed
            .value(
                "bullmq_monitor_queue_oldest_waiting_seconds",
                &labels(queue),
            )
            .expect("oldest waiting");
        // Written with the snapshot (at most a poll and a scrape before `now`).
        assert!(
            ours <= expected + 0.5 && ours >= expected - 5.0,
            "{queue}: {ours} s, BullMQ's oldest job added {expected} s ago"
        );
    }
    assert_eq!(
        parsed.value(
            "bullmq_monitor_queue_oldest_waiting_seconds",
            &labels("empty")
        ),
        Some(0.0),
        "nothing waits"
    );

    // The world's active job has been active for longer than STUCK_AFTER_MS (1 ms): stuck, low.
    assert_eq!(world.queue("slow")["counts"]["active"], 1);
    let stuck = |queue: &'static str, severity: &'static str| {
        parsed.value(
            "bullmq_monitor_stuck_jobs",
            &[
                ("queue", queue),
                ("severity", severity),
                ("prefix", prefix.as_str()),
            ],
        )
    };
    assert_eq!(stuck("slow", "low"), Some(1.0), "{text}");
    assert_eq!(
        stuck("slow", "critical"),
        None,
        "only the severities that have stuck jobs"
    );
    assert_eq!(stuck("old5", "low"), None);

    let rtt = parsed
        .value(
            "bullmq_monitor_redis_rtt_seconds",
            &[("prefix", prefix.as_str())],
        )
        .expect("round trip");
    assert!(rtt > 0.0 && rtt < 1.0, "{rtt}");
}

#[tokio::test]
async fn the_collectors_time_histograms_hold_every_finished_job_as_bullmq_timed_it() {
    let prefix = unique_prefix("prom-hist");
    let mut options = with_token(&prefix);
    options.collector = true;
    let app = TestApp::spawn_with(options).await;
    // Jobs that run 30 ms each, finished while the collector reads the queue's events.
    let world = app
        .world(
            json!([{"name": "timed", "completed": 6, "failed": 2, "workMs": 30,
                        "reportFinished": true}]),
        )
        .await;
    let labels = [("queue", "timed"), ("prefix", prefix.as_str())];
    let text = eventually(Duration::from_secs(20), "8 timed jobs", || async {
        let (_, _, text) = scrape(&app, Some(TOKEN), None).await;
        (Parsed::of(&text).value("bullmq_monitor_processing_seconds_count", &labels) == Some(8.0))
            .then_some(text)
    })
    .await;
    let parsed = Parsed::of(&text);

    // BullMQ's own times: finishedOn - processedOn of every finished job.
    let durations: Vec<f64> = ["completed", "failed"]
        .iter()
        .flat_map(|state| world.finished("timed", state))
        .map(|(finished, processed)| (finished - processed) as f64 / 1000.0)
        .collect();
    assert_eq!(durations.len(), 8);
    let theirs: f64 = durations.iter().sum();
    let ours = parsed
        .value("bullmq_monitor_processing_seconds_sum", &labels)
        .expect("sum");
    // The collector times by the event stream's clock (Redis'), BullMQ by its client's: a few
    // milliseconds apart per job.
    assert!(
        (ours - theirs).abs() <= 8.0 * 0.005,
        "ours {ours} s, BullMQ's {theirs} s"
    );
    let bucket = |le: f64| parsed.bucket("bullmq_monitor_processing_seconds", &labels, le);
    assert_eq!(bucket(0.01), Some(0.0), "every job ran 30 ms or more");
    assert_eq!(bucket(f64::INFINITY), Some(8.0));
    assert_eq!(
        parsed.value("bullmq_monitor_wait_seconds_count", &labels),
        Some(8.0),
        "each job's wait was timed too"
    );
    promtool_accepts(&text);
}

/// Prometheus' own checker (`promtool check metrics`, from Debian's prometheus package, which
/// `scripts/setup.sh --browser` installs) parses `text` and finds nothing to say but one naming
/// remark: `bullmq_job_count` ends in `_count` without being a histogram. That is BullMQ's own
/// name (`exportPrometheusMetrics()`), kept so existing dashboards work.
fn promtool_accepts(text: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool (scripts/setup.sh --browser installs it)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write the exposition");
    let output = child.wait_with_output().expect("promtool ran");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    const BULLMQS_NAME: &str =
        "bullmq_job_count non-histogram and non-summary metrics should not have \"_count\" suffix";
    let other: Vec<&str> = said
        .lines()
        .filter(|line| !line.trim().is_empty() && line.trim() != BULLMQS_NAME)
        .collect();
    assert!(
        // 3: lint remarks only (1 would be a text it could not read).
        other.is_empty() && matches!(output.status.code(), Some(0 | 3)),
        "promtool check metrics: {said}"
    );
    assert!(
        said.contains(BULLMQS_NAME),
        "promtool read the text: {said}"
    );
}
