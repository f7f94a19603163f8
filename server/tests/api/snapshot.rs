//! The change-skipping snapshot: a queue whose event stream has not moved costs two Redis
//! commands, and every kind of change BullMQ makes is seen at the next read (BullMQ's own counts
//! are the oracle; the recount period is an hour there, so only the event stream can tell), a
//! key deleted by hand within the recount period.

use crate::helpers::{
    command_calls, eventually, fixture_on, fixture_raw, unique_prefix, TestApp, TestOptions,
};
use crate::own_redis::OwnRedis;
use crate::queues::assert_matches_bullmq;
use app::role::Role;
use serde_json::{json, Value};
use std::time::Duration;

const QUEUE: &str = "watched";

struct Setup {
    redis: OwnRedis,
    app: TestApp,
}

/// A server on `redis` for `prefix` whose snapshot trusts an unchanged queue for `recount`.
async fn server(redis: &OwnRedis, prefix: &str, recount: Duration) -> TestApp {
    let mut options = TestOptions::new(prefix);
    options.redis_url = redis.url();
    // Nothing else may read this Redis while commands are counted.
    options.discovery_interval = Duration::from_secs(3600);
    options.bulk_interval = Duration::from_secs(3600);
    options.snapshot_recount = recount;
    TestApp::spawn_with(options).await
}

impl Setup {
    /// A long recount period: every change below must be seen through the event stream.
    async fn new(label: &str) -> Setup {
        let redis = OwnRedis::start().expect("redis-server");
        let app = server(&redis, &unique_prefix(label), Duration::from_secs(3600)).await;
        Setup { redis, app }
    }

    async fn bullmq(&self, command: &str, spec: Value) -> Value {
        let mut full = json!({"redis": self.redis.url(), "prefix": self.app.prefix});
        for (key, value) in spec.as_object().expect("spec").clone() {
            full[key] = value;
        }
        fixture_raw(command, full).await
    }

    async fn counts(&self, queues: &[&str]) -> Value {
        let queues: Vec<Value> = queues.iter().map(|q| json!({"name": q})).collect();
        fixture_on(&self.redis.url(), "counts", &self.app.prefix, json!(queues)).await
    }

    async fn queue_in_metrics(&self, name: &str) -> Value {
        metrics_of(&self.app, name).await
    }

    /// The next read agrees with BullMQ: the change was seen at once.
    async fn agrees(&self, what: &str) {
        let bull = self.counts(&[QUEUE]).await;
        let ours = self.queue_in_metrics(QUEUE).await;
        assert!(!ours.is_null(), "{what}: queue missing");
        assert_matches_bullmq(&ours, &bull["queues"][QUEUE]);
        // The success sample too (read incrementally after the first read): BullMQ retains
        // every finished job here, fewer than 1,000, so the sample is all of them.
        let counts = &bull["queues"][QUEUE]["counts"];
        let (completed, failed) = (
            counts["completed"].as_u64().unwrap_or(0),
            counts["failed"].as_u64().unwrap_or(0),
        );
        assert_eq!(
            ours["successRateSample"],
            completed + failed,
            "{what}: {ours}"
        );
        let expected = (completed + failed > 0)
            .then(|| (completed as f64 * 10_000.0 / (completed + failed) as f64).round() / 100.0);
        assert_eq!(ours["successRate"].as_f64(), expected, "{what}: {ours}");
    }

    fn commandstats(&self) -> String {
        self.redis.cli(&["INFO", "commandstats"])
    }

    /// `total_commands_processed` (which does not count the `INFO` reading it).
    fn total_commands(&self) -> u64 {
        let info = self.redis.cli(&["INFO", "stats"]);
        info.lines()
            .find_map(|line| line.trim().strip_prefix("total_commands_processed:"))
            .and_then(|n| n.parse().ok())
            .expect("total_commands_processed")
    }
}

#[tokio::test]
async fn an_unchanged_queue_costs_two_commands_and_every_change_is_seen_at_once() {
    let setup = Setup::new("snapshot").await;
    let url = setup.redis.url();
    let prefix = setup.app.prefix.clone();
    fixture_on(
        &url,
        "add",
        &prefix,
        json!([{"name": QUEUE, "count": 2}, {"name": "bystander", "count": 1}]),
    )
    .await;
    setup.app.rediscover().await;
    setup.agrees("first read").await;

    // Nothing changed: per queue the script call and its XREVRANGE, and the history's
    // coverage (three HMGETs for all queues) and the workers (one CLIENT LIST for all queues);
    // no count is read again.
    let before = setup.commandstats();
    let total = setup.total_commands();
    setup.queue_in_metrics(QUEUE).await;
    // The second INFO counts the first one (a command is counted once it has run).
    let used = setup.total_commands() - total - 1;
    let after = setup.commandstats();
    let calls = |command: &str| command_calls(&after, command) - command_calls(&before, command);
    assert_eq!(calls("llen"), 0, "no count read for unchanged queues");
    assert_eq!(calls("zrevrange"), 0);
    assert_eq!(calls("xrevrange"), 2, "one per queue");
    assert_eq!(calls("evalsha"), 2, "one per queue");
    assert_eq!(
        calls("hmget"),
        3,
        "the history's coverage, for all queues at once"
    );
    assert_eq!(
        calls("client|list"),
        1,
        "the workers, for all queues at once"
    );
    assert_eq!(used, 8, "2 per queue and 4 in all");

    // Every kind of change, each seen by the very next read.
    fixture_on(&url, "add", &prefix, json!([{"name": QUEUE, "count": 1}])).await;
    setup.agrees("add").await;
    fixture_on(
        &url,
        "work",
        &prefix,
        json!([{"name": QUEUE, "completed": 2}]),
    )
    .await;
    setup.agrees("complete").await;
    fixture_on(&url, "work", &prefix, json!([{"name": QUEUE, "failed": 1}])).await;
    setup.agrees("fail").await;
    let delayed = fixture_on(
        &url,
        "add",
        &prefix,
        json!([{"name": QUEUE, "count": 1, "opts": {"delay": 3_600_000}}]),
    )
    .await;
    setup.agrees("delay").await;
    let delayed_id = delayed["ids"][QUEUE][0].as_str().expect("id").to_owned();
    setup
        .bullmq(
            "act",
            json!({"queue": QUEUE, "id": delayed_id, "action": "promote"}),
        )
        .await;
    setup.agrees("promote").await;
    setup.bullmq("pause", json!({"queue": QUEUE})).await;
    setup.agrees("pause").await;
    setup
        .bullmq("pause", json!({"queue": QUEUE, "pause": false}))
        .await;
    setup.agrees("resume").await;
    setup
        .bullmq("clean", json!({"queue": QUEUE, "type": "completed"}))
        .await;
    setup.agrees("clean").await;
    // (The workers above took every waiting job: remove one added now.)
    let added = fixture_on(&url, "add", &prefix, json!([{"name": QUEUE, "count": 1}])).await;
    setup.agrees("add again").await;
    let removed = added["ids"][QUEUE][0].as_str().expect("id").to_owned();
    setup
        .bullmq("remove", json!({"queue": QUEUE, "id": removed}))
        .await;
    setup.agrees("remove").await;

    // A key deleted by hand moves no event stream: not seen while the queue is trusted…
    let other = server(&setup.redis, &prefix, Duration::from_secs(1)).await;
    other.rediscover().await;
    let failed_before = setup.queue_in_metrics(QUEUE).await["failed"].clone();
    assert_ne!(failed_before, 0);
    let _ = metrics_of(&other, QUEUE).await;
    setup
        .redis
        .cli(&["DEL", &format!("{prefix}:{QUEUE}:failed")]);
    assert_eq!(setup.queue_in_metrics(QUEUE).await["failed"], failed_before);
    // …and seen at the next full read, within the recount period (1 s for this server).
    eventually(
        Duration::from_secs(10),
        "the deleted key to show",
        || async { (metrics_of(&other, QUEUE).await["failed"] == 0).then_some(()) },
    )
    .await;
    let bull = setup.counts(&[QUEUE]).await;
    assert_matches_bullmq(&metrics_of(&other, QUEUE).await, &bull["queues"][QUEUE]);
}

async fn metrics_of(app: &TestApp, name: &str) -> Value {
    let (_, metrics) = app
        .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
        .await;
    metrics["queues"]
        .as_array()
        .and_then(|queues| queues.iter().find(|q| q["queueName"] == name))
        .cloned()
        .unwrap_or(Value::Null)
}

/// With the history collector covering a queue, an unchanged queue still costs no bucket read:
/// the rate windows read from the buckets are kept until the collector applies a batch to them
/// (its `applied` cursor moves) or the minute turns. (That the rates then follow is proved by
/// `history::metrics_rates_come_from_the_history_while_the_collector_keeps_up`.)
#[tokio::test]
async fn a_covered_queue_reads_its_buckets_only_when_the_collector_moved_them() {
    let redis = OwnRedis::start().expect("redis-server");
    let prefix = unique_prefix("snapshot-covered");
    let mut options = TestOptions::new(&prefix);
    options.redis_url = redis.url();
    options.discovery_interval = Duration::from_secs(3600);
    options.bulk_interval = Duration::from_secs(3600);
    options.snapshot_recount = Duration::from_secs(3600);
    options.collector = true;
    let app = TestApp::spawn_with(options).await;
    fixture_on(
        &redis.url(),
        "work",
        &prefix,
        json!([{"name": QUEUE, "completed": 5, "failed": 1}]),
    )
    .await;
    app.rediscover().await;
    eventually(
        Duration::from_secs(20),
        "the rates to come from the history",
        || async { (metrics_of(&app, QUEUE).await["source"] == "collector").then_some(()) },
    )
    .await;
    let minute = || chrono::Utc::now().timestamp_millis() / 60_000;
    let mut bucket_reads = None;
    // Two reads within one minute (a third try when a minute turned in between).
    for _ in 0..3 {
        metrics_of(&app, QUEUE).await;
        let started = minute();
        let before = redis.cli(&["INFO", "commandstats"]);
        let queue = metrics_of(&app, QUEUE).await;
        let after = redis.cli(&["INFO", "commandstats"]);
        assert_eq!(queue["source"], "collector", "{queue}");
        if minute() == started {
            // The collector's idle ticks read no hash: every HMGET here is the read's.
            bucket_reads = Some(command_calls(&after, "hmget") - command_calls(&before, "hmget"));
            break;
        }
    }
    assert_eq!(
        bucket_reads,
        Some(4),
        "the history's coverage (three HMGETs for all queues) and the rings' counts (one), no bucket"
    );
}
