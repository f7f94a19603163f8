//! The exposition's text, written with `prometheus-client` from a snapshot and its extras:
//! plain code, so every series is checked by unit tests without a server.
//!
//! BullMQ's own names come first (`bullmq_job_count{queue,state}`, `bullmq_job_completed_total`,
//! `bullmq_job_failed_total`, as `Queue.exportPrometheusMetrics()` writes them), so dashboards
//! built on BullMQ's exporter keep working; every series also has a `prefix` label. The
//! monitor's own series are named `bullmq_monitor_*`.

use crate::live::LiveHub;
use app::model::{Metrics, Severity};
use app::ssr::history::aggregate::{Histogram, Histograms, HISTOGRAM_LE_MS};
use app::ssr::state::AppState;
use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::Registry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicU64;

/// What the scraper reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Prometheus' classic text format (0.0.4): what a plain `curl` gets.
    Text,
    /// OpenMetrics 1.0, when the `Accept` header names it (Prometheus does).
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when `accept` lists it, else the classic text.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Completed and failed jobs per queue since the collector first read the queue's events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub completed: u64,
    pub failed: u64,
}

/// The collector's lifetime counters from its counts hash: fields `<queue>:tc` and
/// `<queue>:tf` (see `apply.lua`; queue names hold no `:`).
pub fn lifetime_totals(fields: &HashMap<String, u64>) -> HashMap<String, Totals> {
    let mut totals: HashMap<String, Totals> = HashMap::new();
    for (field, value) in fields {
        if let Some(queue) = field.strip_suffix(":tc").filter(|q| !q.contains(':')) {
            totals.entry(queue.to_owned()).or_default().completed = *value;
        } else if let Some(queue) = field.strip_suffix(":tf").filter(|q| !q.contains(':')) {
            totals.entry(queue.to_owned()).or_default().failed = *value;
        }
    }
    totals
}

/// A queue's lifetime processing and wait time histograms, from the collector's counts hash:
/// fields `<queue>:hp<i>` (jobs in bucket `i` of `HISTOGRAM_LE_MS`), `:hps` (sum, ms), `:hpc`
/// (count), and `:hw…` for wait (see `apply.lua`).
pub fn lifetime_histograms(fields: &HashMap<String, u64>) -> HashMap<String, Histograms> {
    let mut histograms: HashMap<String, Histograms> = HashMap::new();
    for (field, value) in fields {
        let Some((queue, tail)) = field.split_once(':') else {
            continue;
        };
        let (which, part) = match (tail.strip_prefix("hp"), tail.strip_prefix("hw")) {
            (Some(part), _) => (true, part),
            (_, Some(part)) => (false, part),
            _ => continue,
        };
        let entry = histograms.entry(queue.to_owned()).or_default();
        let histogram = if which {
            &mut entry.processing
        } else {
            &mut entry.wait
        };
        match part {
            "s" => histogram.sum = *value,
            "c" => histogram.count = *value,
            index => {
                if let Some(bucket) = index
                    .parse::<usize>()
                    .ok()
                    .and_then(|at| histogram.buckets.get_mut(at))
                {
                    *bucket = *value;
                }
            }
        }
    }
    histograms
}

/// A histogram whose counts were made elsewhere (the collector), written as one.
#[derive(Debug, Default)]
struct FixedHistogram(std::sync::OnceLock<Histogram>);

impl TypedMetric for FixedHistogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for FixedHistogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let histogram = self.0.get().copied().unwrap_or_default();
        // Seconds, per bucket (the encoder makes them cumulative); the last bound is +Inf.
        let mut buckets: Vec<(f64, u64)> = HISTOGRAM_LE_MS
            .iter()
            .zip(histogram.buckets)
            .map(|(le, count)| (*le as f64 / 1000.0, count))
            .collect();
        let counted: u64 = histogram.buckets.iter().sum();
        buckets.push((f64::INFINITY, histogram.count.saturating_sub(counted)));
        encoder.encode_histogram::<NoLabelSet>(
            histogram.sum as f64 / 1000.0,
            histogram.count,
            &buckets,
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// What a snapshot does not hold, read beside it.
#[derive(Clone, Debug, Default)]
pub struct Extras {
    /// Whether the snapshot was read (Redis answered the live poll).
    pub snapshot_ok: bool,
    /// Workers per queue name; `None` when `CLIENT LIST` could not be read.
    pub workers: Option<HashMap<String, usize>>,
    /// The collector's counters per queue name; `None` without a collector.
    pub totals: Option<HashMap<String, Totals>>,
    /// The collector's lifetime time histograms per queue name; `None` without a collector.
    pub timings: Option<HashMap<String, Histograms>>,
    /// Firing alerts per severity; `None` without alert rules.
    pub firing: Option<BTreeMap<String, u64>>,
    /// Live streams open on this instance.
    pub live_streams: usize,
    /// Topics this instance polls.
    pub polled_topics: usize,
    /// A `PING`'s round trip, seconds; `None` when Redis did not answer.
    pub redis_rtt: Option<f64>,
    /// The per-queue reads, refreshed at most every [`super::QUEUE_EXTRAS_EVERY`].
    pub queues: QueueExtras,
}

/// What costs a read per queue: kept for several snapshots.
#[derive(Clone, Debug, Default)]
pub struct QueueExtras {
    /// When these were read (`None`: never).
    pub read_at: Option<std::time::Instant>,
    /// When each queue's oldest waiting job was added (ms); queues with none are absent.
    pub oldest_waiting: Option<HashMap<String, u64>>,
    /// Stuck jobs (active longer than `STUCK_AFTER_MS`) per queue and severity; only the
    /// non-zero ones.
    pub stuck: Option<BTreeMap<(String, Severity), u64>>,
    /// When the history collector last caught up with each queue (ms); `None` without a
    /// collector, a queue's `None` when it never did.
    pub caught_up: Option<HashMap<String, Option<u64>>>,
}

impl Extras {
    /// The extras of a scrape with no snapshot: only the monitor's own state.
    pub fn unavailable(hub: &LiveHub, state: &AppState) -> Extras {
        Extras {
            live_streams: state.limits.open_streams(),
            polled_topics: hub.active_topics(),
            ..Extras::default()
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
    prefix: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    queue: String,
    state: &'static str,
    prefix: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StuckLabels {
    queue: String,
    severity: &'static str,
    prefix: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PrefixLabels {
    prefix: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SeverityLabels {
    severity: String,
    prefix: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// One exposition: a snapshot (if Redis answered) and its extras.
pub struct Exposition<'a> {
    pub prefix: &'a str,
    pub metrics: Option<&'a Metrics>,
    pub extras: &'a Extras,
    pub now_ms: i64,
}

impl Exposition<'_> {
    /// The text in `format`.
    pub fn render(&self, format: Format) -> String {
        let registry = self.registry();
        let mut open_metrics = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut open_metrics, &registry);
        match format {
            Format::OpenMetrics => open_metrics,
            Format::Text => classic_text(&open_metrics),
        }
    }

    fn registry(&self) -> Registry {
        let mut registry = Registry::default();
        let prefix = self.prefix.to_owned();
        let queue = |name: &str| QueueLabels {
            queue: name.to_owned(),
            prefix: prefix.clone(),
        };

        let job_count = Family::<StateLabels, Gauge>::default();
        let paused = Family::<QueueLabels, Gauge>::default();
        let success = Family::<QueueLabels, FloatGauge>::default();
        let throughput = Family::<QueueLabels, FloatGauge>::default();
        let completed_total = Family::<QueueLabels, Counter>::default();
        let failed_total = Family::<QueueLabels, Counter>::default();
        let workers = Family::<QueueLabels, Gauge>::default();
        let oldest_waiting = Family::<QueueLabels, FloatGauge>::default();
        let processing_seconds = Family::<QueueLabels, FixedHistogram>::default();
        let wait_seconds = Family::<QueueLabels, FixedHistogram>::default();
        let collector_lag = Family::<QueueLabels, FloatGauge>::default();
        let seconds_since =
            |ms: u64| (self.now_ms.max(0) as u64).saturating_sub(ms) as f64 / 1000.0;
        let deep = &self.extras.queues;
        if let Some(metrics) = self.metrics {
            for queue_metrics in &metrics.queues {
                let name = queue_metrics.summary.queue_name.as_str();
                let counts = &queue_metrics.summary.counts;
                // Our `waiting` holds the prioritized jobs too; BullMQ's state does not.
                for (state, value) in [
                    ("active", counts.active),
                    ("completed", counts.completed),
                    ("delayed", counts.delayed),
                    ("failed", counts.failed),
                    ("prioritized", counts.prioritized),
                    ("waiting", counts.waiting.saturating_sub(counts.prioritized)),
                    ("waiting-children", counts.waiting_children),
                ] {
                    job_count
                        .get_or_create(&StateLabels {
                            queue: name.to_owned(),
                            state,
                            prefix: prefix.clone(),
                        })
                        .set(clamp(value));
                }
                paused
                    .get_or_create(&queue(name))
                    .set(i64::from(queue_metrics.summary.paused));
                if let Some(rate) = queue_metrics.success_rate {
                    success.get_or_create(&queue(name)).set(rate / 100.0);
                }
                throughput
                    .get_or_create(&queue(name))
                    .set(queue_metrics.processing_rate / 60.0);
                if let Some(workers_by_queue) = &self.extras.workers {
                    workers.get_or_create(&queue(name)).set(clamp(
                        workers_by_queue.get(name).copied().unwrap_or(0) as u64,
                    ));
                }
                if let Some(oldest) = &deep.oldest_waiting {
                    let age = oldest.get(name).map_or(0.0, |added| seconds_since(*added));
                    oldest_waiting.get_or_create(&queue(name)).set(age);
                }
                if let Some(Some(Some(at))) = deep.caught_up.as_ref().map(|c| c.get(name)) {
                    collector_lag
                        .get_or_create(&queue(name))
                        .set(seconds_since(*at));
                }
                if let Some(timings) = &self.extras.timings {
                    let timings = timings.get(name).copied().unwrap_or_default();
                    // Set once: a family's metric is made here, for this exposition only.
                    let _ = processing_seconds
                        .get_or_create(&queue(name))
                        .0
                        .set(timings.processing);
                    let _ = wait_seconds.get_or_create(&queue(name)).0.set(timings.wait);
                }
                if let Some(totals) = &self.extras.totals {
                    let totals = totals.get(name).copied().unwrap_or_default();
                    completed_total
                        .get_or_create(&queue(name))
                        .inc_by(totals.completed);
                    failed_total
                        .get_or_create(&queue(name))
                        .inc_by(totals.failed);
                }
            }
        }
        registry.register(
            "bullmq_job_count",
            "Number of jobs in the queue by state",
            job_count,
        );
        if self.extras.totals.is_some() {
            registry.register(
                "bullmq_job_completed",
                "Total number of completed jobs (since the monitor's history collector first read the queue)",
                completed_total,
            );
            registry.register(
                "bullmq_job_failed",
                "Total number of failed jobs (since the monitor's history collector first read the queue)",
                failed_total,
            );
        }
        registry.register(
            "bullmq_monitor_queue_paused",
            "Whether the queue is paused (1) or not (0)",
            paused,
        );
        registry.register(
            "bullmq_monitor_queue_success_ratio",
            "Completed among the 1,000 most recently finished jobs (0 to 1)",
            success,
        );
        registry.register(
            "bullmq_monitor_queue_finished_per_second",
            "Jobs finished per second over the trailing 5 minutes",
            throughput,
        );
        if self.extras.workers.is_some() {
            registry.register(
                "bullmq_monitor_queue_workers",
                "Workers connected to the queue (BullMQ's getWorkers())",
                workers,
            );
        }
        if self.extras.timings.is_some() {
            registry.register(
                "bullmq_monitor_processing_seconds",
                "Processing time of the finished jobs the history collector timed (finish minus the start of the finishing attempt)",
                processing_seconds,
            );
            registry.register(
                "bullmq_monitor_wait_seconds",
                "Wait time of the finished jobs the history collector timed (start of the finishing attempt minus added)",
                wait_seconds,
            );
        }
        if deep.oldest_waiting.is_some() {
            registry.register(
                "bullmq_monitor_queue_oldest_waiting_seconds",
                "How long the queue's oldest waiting job has waited (0: none waits)",
                oldest_waiting,
            );
        }
        if deep.caught_up.is_some() {
            registry.register(
                "bullmq_monitor_collector_lag_seconds",
                "Time since the history collector last caught up with the queue's events",
                collector_lag,
            );
        }
        if let Some(stuck) = &deep.stuck {
            let family = Family::<StuckLabels, Gauge>::default();
            for ((name, severity), count) in stuck {
                family
                    .get_or_create(&StuckLabels {
                        queue: name.clone(),
                        severity: severity.as_str(),
                        prefix: prefix.clone(),
                    })
                    .set(clamp(*count));
            }
            registry.register(
                "bullmq_monitor_stuck_jobs",
                "Active jobs older than STUCK_AFTER_MS, by severity (absent: none)",
                family,
            );
        }

        let labels = PrefixLabels {
            prefix: prefix.clone(),
        };
        let gauge = |registry: &mut Registry, name: &str, help: &str, value: i64| {
            let family = Family::<PrefixLabels, Gauge>::default();
            family.get_or_create(&labels).set(value);
            registry.register(name, help, family);
        };
        gauge(
            &mut registry,
            "bullmq_monitor_redis_up",
            "Whether the last snapshot read Redis (1) or not (0)",
            i64::from(self.metrics.is_some() && self.extras.snapshot_ok),
        );
        gauge(
            &mut registry,
            "bullmq_monitor_queues",
            "Queues the monitor watches",
            self.metrics.map_or(0, |m| clamp(m.queues.len() as u64)),
        );
        gauge(
            &mut registry,
            "bullmq_monitor_live_streams",
            "Live streams (dashboards and API clients) open on this instance",
            clamp(self.extras.live_streams as u64),
        );
        gauge(
            &mut registry,
            "bullmq_monitor_polled_topics",
            "Live topics this instance polls Redis for",
            clamp(self.extras.polled_topics as u64),
        );
        if let Some(firing) = &self.extras.firing {
            let family = Family::<SeverityLabels, Gauge>::default();
            for (severity, count) in firing {
                family
                    .get_or_create(&SeverityLabels {
                        severity: severity.clone(),
                        prefix: prefix.clone(),
                    })
                    .set(clamp(*count));
            }
            registry.register(
                "bullmq_monitor_alerts_firing",
                "Alerts of the monitor's rules (ALERTS_FILE) firing now, by severity",
                family,
            );
        }
        if let Some(age) = self
            .metrics
            .and_then(|m| snapshot_age(&m.timestamp, self.now_ms))
        {
            let family = Family::<PrefixLabels, FloatGauge>::default();
            family.get_or_create(&labels).set(age);
            registry.register(
                "bullmq_monitor_snapshot_age_seconds",
                "How old the snapshot behind these numbers was when they were written (the text is written once per snapshot)",
                family,
            );
        }
        if let Some(rtt) = self.extras.redis_rtt {
            let family = Family::<PrefixLabels, FloatGauge>::default();
            family.get_or_create(&labels).set(rtt);
            registry.register(
                "bullmq_monitor_redis_rtt_seconds",
                "Round trip of a PING to Redis, measured with the snapshot",
                family,
            );
        }
        registry
    }
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Seconds from the snapshot's RFC 3339 `timestamp` to `now_ms`.
fn snapshot_age(timestamp: &str, now_ms: i64) -> Option<f64> {
    let read = chrono::DateTime::parse_from_rfc3339(timestamp).ok()?;
    Some(((now_ms - read.timestamp_millis()).max(0)) as f64 / 1000.0)
}

/// OpenMetrics as Prometheus' classic text: no `# EOF`, no `# UNIT`, and a counter's `HELP` and
/// `TYPE` named like its samples (`…_total`), as the classic format wants.
fn classic_text(open_metrics: &str) -> String {
    let counters: HashSet<&str> = open_metrics
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open_metrics.len());
    for line in open_metrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|tag| {
            let rest = line.strip_prefix(tag)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(name)
                .then(|| format!("{tag}{name}_total {tail}"))
        });
        match renamed {
            Some(line) => out.push_str(&line),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The series names and values of a text exposition, for tests and the benchmark: `name{labels}`
/// → value, labels in the order written.
pub fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            Some((series.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::model::{QueueMetrics, QueueSummary, Source, StateCounts};

    fn snapshot() -> Metrics {
        let queue = |name: &str, waiting: u64, prioritized: u64, paused: bool| QueueMetrics {
            summary: QueueSummary {
                queue_name: name.to_owned(),
                counts: StateCounts {
                    waiting,
                    active: 2,
                    completed: 30,
                    failed: 4,
                    delayed: 1,
                    prioritized,
                    waiting_children: 0,
                },
                paused,
                bullmq_version: None,
            },
            success_rate: Some(88.24),
            success_rate_sample: 34,
            processing_rate: 12.0,
            source: Source::Jobs,
            workers: None,
        };
        Metrics {
            timestamp: "2026-12-02T10:00:00.000Z".into(),
            queues: vec![
                queue("emails", 7, 3, false),
                queue("say \"hi\"", 0, 0, true),
            ],
            totals: StateCounts::default(),
            success_rate: None,
            success_rate_sample: 0,
            processing_rate: 0.0,
            source: Source::Jobs,
        }
    }

    fn extras() -> Extras {
        Extras {
            snapshot_ok: true,
            workers: Some(HashMap::from([("emails".to_owned(), 3)])),
            totals: Some(HashMap::from([(
                "emails".to_owned(),
                Totals {
                    completed: 1200,
                    failed: 17,
                },
            )])),
            firing: Some(BTreeMap::from([
                ("critical".to_owned(), 1),
                ("info".to_owned(), 0),
                ("warning".to_owned(), 2),
            ])),
            live_streams: 5,
            polled_topics: 1,
            timings: Some(HashMap::from([(
                "emails".to_owned(),
                lifetime_histograms(&HashMap::from([
                    ("emails:hp0".to_owned(), 2),
                    ("emails:hp5".to_owned(), 1),
                    ("emails:hps".to_owned(), 400_812),
                    ("emails:hpc".to_owned(), 4),
                    ("emails:hw1".to_owned(), 4),
                    ("emails:hws".to_owned(), 100),
                    ("emails:hwc".to_owned(), 4),
                ]))["emails"],
            )])),
            redis_rtt: Some(0.0004),
            queues: QueueExtras {
                read_at: None,
                // 90 s before the snapshot's time (now_ms in the tests).
                oldest_waiting: Some(HashMap::from([("emails".to_owned(), NOW_MS - 90_000)])),
                stuck: Some(BTreeMap::from([
                    (("emails".to_owned(), Severity::Low), 2),
                    (("emails".to_owned(), Severity::Critical), 1),
                ])),
                caught_up: Some(HashMap::from([
                    ("emails".to_owned(), Some(NOW_MS - 1_500)),
                    ("say \"hi\"".to_owned(), None),
                ])),
            },
        }
    }

    /// When the test expositions are written: 2.5 s after the snapshot's timestamp.
    const NOW_MS: u64 = 1_796_205_602_500;

    fn render(format: Format) -> String {
        let metrics = snapshot();
        let extras = extras();
        Exposition {
            prefix: "bull",
            metrics: Some(&metrics),
            extras: &extras,
            now_ms: NOW_MS as i64,
        }
        .render(format)
    }

    #[test]
    fn bullmq_names_and_states_carry_the_queue_and_prefix() {
        let samples = samples(&render(Format::Text));
        let count = |state: &str| {
            samples
                [&format!("bullmq_job_count{{queue=\"emails\",state=\"{state}\",prefix=\"bull\"}}")]
        };
        assert_eq!(count("waiting"), 4.0, "waiting without the prioritized");
        assert_eq!(count("prioritized"), 3.0);
        assert_eq!(count("active"), 2.0);
        assert_eq!(count("completed"), 30.0);
        assert_eq!(count("failed"), 4.0);
        assert_eq!(count("delayed"), 1.0);
        assert_eq!(count("waiting-children"), 0.0);
        assert_eq!(
            samples["bullmq_job_completed_total{queue=\"emails\",prefix=\"bull\"}"],
            1200.0
        );
        assert_eq!(
            samples["bullmq_job_failed_total{queue=\"emails\",prefix=\"bull\"}"],
            17.0
        );
        assert_eq!(
            samples["bullmq_monitor_queue_workers{queue=\"emails\",prefix=\"bull\"}"],
            3.0
        );
        assert_eq!(
            samples["bullmq_monitor_queue_workers{queue=\"say \\\"hi\\\"\",prefix=\"bull\"}"], 0.0,
            "label values are escaped; a queue without workers says 0"
        );
        assert_eq!(
            samples["bullmq_monitor_queue_paused{queue=\"say \\\"hi\\\"\",prefix=\"bull\"}"],
            1.0
        );
        assert_eq!(
            samples["bullmq_monitor_queue_success_ratio{queue=\"emails\",prefix=\"bull\"}"],
            0.8824
        );
        assert_eq!(
            samples["bullmq_monitor_queue_finished_per_second{queue=\"emails\",prefix=\"bull\"}"],
            0.2
        );
        assert_eq!(samples["bullmq_monitor_redis_up{prefix=\"bull\"}"], 1.0);
        assert_eq!(samples["bullmq_monitor_queues{prefix=\"bull\"}"], 2.0);
        assert_eq!(samples["bullmq_monitor_live_streams{prefix=\"bull\"}"], 5.0);
        assert_eq!(
            samples["bullmq_monitor_alerts_firing{severity=\"warning\",prefix=\"bull\"}"],
            2.0
        );
        assert_eq!(
            samples["bullmq_monitor_snapshot_age_seconds{prefix=\"bull\"}"],
            2.5
        );
    }

    #[test]
    fn the_collectors_histograms_are_cumulative_in_seconds_with_inf_holding_every_job() {
        let samples = samples(&render(Format::Text));
        let bucket = |le: &str| {
            samples[&format!(
                "bullmq_monitor_processing_seconds_bucket{{le=\"{le}\",queue=\"emails\",prefix=\"bull\"}}"
            )]
        };
        assert_eq!(bucket("0.01"), 2.0);
        assert_eq!(bucket("0.5"), 2.0, "cumulative");
        assert_eq!(bucket("1.0"), 3.0);
        assert_eq!(bucket("300.0"), 3.0);
        assert_eq!(bucket("+Inf"), 4.0, "the job over 300 s");
        assert_eq!(
            samples["bullmq_monitor_processing_seconds_sum{queue=\"emails\",prefix=\"bull\"}"],
            400.812
        );
        assert_eq!(
            samples["bullmq_monitor_processing_seconds_count{queue=\"emails\",prefix=\"bull\"}"],
            4.0
        );
        assert_eq!(
            samples["bullmq_monitor_wait_seconds_bucket{le=\"0.05\",queue=\"emails\",prefix=\"bull\"}"],
            4.0
        );
        assert_eq!(
            samples["bullmq_monitor_wait_seconds_count{queue=\"say \\\"hi\\\"\",prefix=\"bull\"}"],
            0.0,
            "a queue the collector timed nothing of"
        );
        let text = render(Format::Text);
        assert!(text.contains("# TYPE bullmq_monitor_processing_seconds histogram\n"));
    }

    #[test]
    fn lifetime_histograms_read_only_their_fields() {
        let fields = HashMap::from([
            ("q:hp3".to_owned(), 5),
            ("q:hpc".to_owned(), 5),
            ("q:hp99".to_owned(), 1),
            ("q:tc".to_owned(), 9),
            ("q:hx1".to_owned(), 7),
        ]);
        let histograms = lifetime_histograms(&fields);
        let q = histograms["q"];
        assert_eq!((q.processing.buckets[3], q.processing.count), (5, 5));
        assert_eq!(q.processing.buckets.iter().sum::<u64>(), 5, "no bucket 99");
        assert_eq!(q.wait, Histogram::default());
    }

    #[test]
    fn the_per_queue_reads_give_waits_stuck_jobs_lag_and_the_round_trip() {
        let samples = samples(&render(Format::Text));
        let emails = "queue=\"emails\",prefix=\"bull\"";
        let hi = "queue=\"say \\\"hi\\\"\",prefix=\"bull\"";
        assert_eq!(
            samples[&format!("bullmq_monitor_queue_oldest_waiting_seconds{{{emails}}}")],
            90.0
        );
        assert_eq!(
            samples[&format!("bullmq_monitor_queue_oldest_waiting_seconds{{{hi}}}")],
            0.0,
            "nothing waits"
        );
        assert_eq!(
            samples["bullmq_monitor_stuck_jobs{queue=\"emails\",severity=\"low\",prefix=\"bull\"}"],
            2.0
        );
        assert_eq!(
            samples["bullmq_monitor_stuck_jobs{queue=\"emails\",severity=\"critical\",prefix=\"bull\"}"],
            1.0
        );
        assert!(!samples.contains_key(
            "bullmq_monitor_stuck_jobs{queue=\"emails\",severity=\"high\",prefix=\"bull\"}"
        ));
        assert_eq!(
            samples[&format!("bullmq_monitor_collector_lag_seconds{{{emails}}}")],
            1.5
        );
        assert!(
            !samples.contains_key(&format!("bullmq_monitor_collector_lag_seconds{{{hi}}}")),
            "a queue the collector never caught up with has no lag to tell"
        );
        assert_eq!(
            samples["bullmq_monitor_redis_rtt_seconds{prefix=\"bull\"}"],
            0.0004
        );
    }

    #[test]
    fn the_classic_text_names_counters_like_their_samples_and_has_no_eof() {
        let text = render(Format::Text);
        assert!(text.contains("# TYPE bullmq_job_completed_total counter\n"));
        assert!(text.contains("# HELP bullmq_job_completed_total Total number"));
        assert!(text.contains("# TYPE bullmq_job_count gauge\n"));
        assert!(!text.contains("# EOF"));
        let open = render(Format::OpenMetrics);
        assert!(open.contains("# TYPE bullmq_job_completed counter\n"));
        assert!(open.ends_with("# EOF\n"));
    }

    #[test]
    fn without_collector_or_client_list_their_series_are_left_out_not_zero() {
        let metrics = snapshot();
        let extras = Extras {
            snapshot_ok: true,
            ..Extras::default()
        };
        let text = Exposition {
            prefix: "bull",
            metrics: Some(&metrics),
            extras: &extras,
            now_ms: 0,
        }
        .render(Format::Text);
        assert!(!text.contains("bullmq_job_completed_total"));
        assert!(!text.contains("bullmq_monitor_queue_workers"));
        assert!(!text.contains("bullmq_monitor_queue_oldest_waiting_seconds"));
        assert!(!text.contains("bullmq_monitor_collector_lag_seconds"));
        assert!(!text.contains("bullmq_monitor_stuck_jobs"));
        assert!(text.contains("bullmq_job_count{"));
    }

    #[test]
    fn with_redis_down_only_the_monitors_own_series_remain() {
        let extras = Extras::default();
        let text = Exposition {
            prefix: "bull",
            metrics: None,
            extras: &extras,
            now_ms: 0,
        }
        .render(Format::Text);
        let samples = samples(&text);
        assert_eq!(samples["bullmq_monitor_redis_up{prefix=\"bull\"}"], 0.0);
        assert!(!text.contains("bullmq_job_count{"));
    }

    #[test]
    fn openmetrics_is_chosen_only_when_asked_for() {
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
            )),
            Format::OpenMetrics
        );
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
    }

    #[test]
    fn the_grafana_dashboard_uses_only_series_the_exposition_has() {
        let dashboard = include_str!("../../../docs/grafana-dashboard.json");
        let rendered: HashSet<String> = samples(&render(Format::Text))
            .keys()
            .map(|series| series.split('{').next().unwrap_or_default().to_owned())
            .collect();
        let mut used = 0;
        for (at, _) in dashboard.match_indices("bullmq_") {
            let name: String = dashboard[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // The dashboard's own uid and title are no series.
            if name == "bullmq_" {
                continue;
            }
            assert!(rendered.contains(&name), "{name} is not exposed");
            used += 1;
        }
        assert!(used >= 10, "the dashboard queries the series ({used})");
    }

    #[test]
    fn lifetime_totals_read_only_the_total_fields() {
        let fields = HashMap::from([
            ("emails:tc".to_owned(), 5),
            ("emails:tf".to_owned(), 2),
            ("emails:c".to_owned(), 900),
            ("all:abc:c".to_owned(), 1),
            ("x:y:tc".to_owned(), 9),
        ]);
        let totals = lifetime_totals(&fields);
        assert_eq!(totals.len(), 1);
        assert_eq!(
            totals["emails"],
            Totals {
                completed: 5,
                failed: 2
            }
        );
    }
}
