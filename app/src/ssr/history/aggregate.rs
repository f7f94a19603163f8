//! From a queue's event stream to bucket statistics.
//!
//! A stream entry's id is Redis's clock in milliseconds, so the stream alone times a job: its
//! `added` entry, its `active` entry (the start of the attempt that finished) and its
//! `completed`/`failed` entry. When the `active` entry was read before this collector started,
//! the job hash's `processedOn`/`timestamp` stand in, if the hash still exists
//! (`removeOnComplete` deletes it; the job is then counted without times).
//!
//! Processing time = finish − start of the finishing attempt; wait time = that start − added
//! (so it includes delays and earlier attempts).

use crate::ssr::history::keys::Step;
use std::collections::{BTreeMap, HashMap};

/// In-flight jobs remembered at most; beyond it the memory is dropped (jobs then get their times
/// from their hashes, or none).
pub const MAX_TRACKED_JOBS: usize = 200_000;

/// What an entry says, as far as the history cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Added,
    Active,
    Completed,
    Failed,
    /// Back in line; with `prev: failed`, a failed job retried.
    Waiting,
    /// Removed; `prev` names the state it left.
    Removed,
    Other,
}

impl EventKind {
    pub fn parse(name: &str) -> EventKind {
        match name {
            "added" => EventKind::Added,
            "active" => EventKind::Active,
            "completed" => EventKind::Completed,
            "failed" => EventKind::Failed,
            "waiting" => EventKind::Waiting,
            "removed" => EventKind::Removed,
            _ => EventKind::Other,
        }
    }
}

/// One stream entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEvent {
    /// The entry id, `<ms>-<seq>`.
    pub id: String,
    /// Its milliseconds part.
    pub ms: u64,
    pub kind: EventKind,
    pub job_id: Option<String>,
    /// The fields the failure groups need: `failedReason` of a `failed` event, `prev` of a
    /// `waiting` or `removed` one, `name` of an `added` one.
    pub failed_reason: Option<String>,
    pub prev: Option<String>,
    pub name: Option<String>,
}

/// Splits a stream id into its two numbers.
pub fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// Sum, min, max and count of durations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timing {
    pub sum: u64,
    pub min: u64,
    pub max: u64,
    pub count: u64,
}

impl Timing {
    pub fn add(&mut self, ms: u64) {
        self.min = if self.count == 0 {
            ms
        } else {
            self.min.min(ms)
        };
        self.max = self.max.max(ms);
        self.sum += ms;
        self.count += 1;
    }

    pub fn merge(&mut self, other: &Timing) {
        if other.count == 0 {
            return;
        }
        self.min = if self.count == 0 {
            other.min
        } else {
            self.min.min(other.min)
        };
        self.max = self.max.max(other.max);
        self.sum += other.sum;
        self.count += other.count;
    }

    /// The mean, when there is one.
    pub fn mean(&self) -> Option<u64> {
        (self.count > 0).then(|| self.sum / self.count)
    }
}

/// Upper bounds (ms, inclusive) of the lifetime histograms' buckets, Prometheus' `le`; a
/// duration above the last is counted in `+Inf` only.
pub const HISTOGRAM_LE_MS: [u64; 12] = [
    10, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000,
];

/// Durations counted per bucket of [`HISTOGRAM_LE_MS`] (not cumulative), with their sum and
/// count: a batch's share of a queue's lifetime histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    pub buckets: [u64; HISTOGRAM_LE_MS.len()],
    pub sum: u64,
    pub count: u64,
}

impl Histogram {
    pub fn add(&mut self, ms: u64) {
        if let Some(at) = HISTOGRAM_LE_MS.iter().position(|le| ms <= *le) {
            self.buckets[at] += 1;
        }
        self.sum += ms;
        self.count += 1;
    }
}

/// The processing and wait time histograms of the jobs a batch timed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Histograms {
    pub processing: Histogram,
    pub wait: Histogram,
}

impl Histograms {
    /// Adds one finished job's times (`stats` of [`finished_job`]: at most one of each).
    fn add_job(&mut self, stats: &Stats) {
        if stats.processing.count == 1 {
            self.processing.add(stats.processing.sum);
        }
        if stats.wait.count == 1 {
            self.wait.add(stats.wait.sum);
        }
    }

    /// The increments of the counts hash's fields: `<queue>:hp<i>`, `:hps`, `:hpc` for
    /// processing (`i` the bucket's index, sums in ms), `:hw…` for wait; zeros left out.
    pub fn fields(&self, queue: &str) -> Vec<(String, u64)> {
        let mut fields = Vec::new();
        for (letter, histogram) in [('p', &self.processing), ('w', &self.wait)] {
            for (at, count) in histogram.buckets.iter().enumerate() {
                if *count > 0 {
                    fields.push((format!("{queue}:h{letter}{at}"), *count));
                }
            }
            if histogram.count > 0 {
                fields.push((format!("{queue}:h{letter}s"), histogram.sum));
                fields.push((format!("{queue}:h{letter}c"), histogram.count));
            }
        }
        fields
    }
}

/// One bucket's numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub completed: u64,
    pub failed: u64,
    pub processing: Timing,
    pub wait: Timing,
}

/// A bucket hash's fields, in the order `apply.lua` writes them: the one place (besides the
/// script) that names them.
const TIMINGS: [&str; 2] = ["processing", "wait"];

impl Stats {
    /// Reads a bucket hash (missing fields are 0).
    pub fn from_fields(fields: &HashMap<String, u64>) -> Stats {
        let get = |name: &str| fields.get(name).copied().unwrap_or(0);
        let timing = |name: &str| Timing {
            sum: get(&format!("{name}Sum")),
            min: get(&format!("{name}Min")),
            max: get(&format!("{name}Max")),
            count: get(&format!("{name}Count")),
        };
        Stats {
            completed: get("completed"),
            failed: get("failed"),
            processing: timing(TIMINGS[0]),
            wait: timing(TIMINGS[1]),
        }
    }

    /// The bucket hash `apply.lua` would hold for these numbers (benchmarks write it directly).
    pub fn to_fields(&self) -> Vec<(String, String)> {
        let mut fields = vec![
            ("completed".to_owned(), self.completed.to_string()),
            ("failed".to_owned(), self.failed.to_string()),
        ];
        for (name, timing) in TIMINGS.iter().zip([self.processing, self.wait]) {
            if timing.count > 0 {
                fields.push((format!("{name}Sum"), timing.sum.to_string()));
                fields.push((format!("{name}Count"), timing.count.to_string()));
                fields.push((format!("{name}Min"), timing.min.to_string()));
                fields.push((format!("{name}Max"), timing.max.to_string()));
            }
        }
        fields
    }

    pub fn merge(&mut self, other: &Stats) {
        self.completed += other.completed;
        self.failed += other.failed;
        self.processing.merge(&other.processing);
        self.wait.merge(&other.wait);
    }
}

/// A job's times from its hash: `timestamp` (added) and `processedOn` (started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JobTimes {
    pub added: Option<u64>,
    pub started: Option<u64>,
}

/// Bucket statistics by (width, bucket start).
pub type Buckets = BTreeMap<(Step, u64), Stats>;

/// One finished job as bucket statistics: counted as completed or failed, and timed when its
/// start is known and not after `finished` (clocks of different machines can disagree).
pub fn finished_job(completed: bool, finished: u64, times: JobTimes) -> Stats {
    let mut stats = Stats::default();
    if completed {
        stats.completed = 1;
    } else {
        stats.failed = 1;
    }
    if let Some(started) = times.started.filter(|s| *s <= finished) {
        stats.processing.add(finished - started);
        if let Some(added) = times.added.filter(|a| *a <= started) {
            stats.wait.add(started - added);
        }
    }
    stats
}

/// Adds `stats` to the minute, hour and day buckets holding `ms`.
pub fn add_to_buckets(buckets: &mut Buckets, ms: u64, stats: &Stats) {
    for step in Step::ALL.iter().copied() {
        buckets
            .entry((step, step.bucket_start(ms)))
            .or_default()
            .merge(stats);
    }
}

/// Per-queue memory of jobs seen added or started but not finished yet.
#[derive(Debug, Default)]
pub struct Tracker {
    added: HashMap<String, u64>,
    started: HashMap<String, u64>,
}

impl Tracker {
    /// The finished jobs in `events` whose start this tracker will not know (read their hashes).
    pub fn unknown_starts(&self, events: &[StreamEvent]) -> Vec<String> {
        let mut started_here: Vec<&str> = Vec::new();
        let mut unknown = Vec::new();
        for event in events {
            let Some(job) = event.job_id.as_deref() else {
                continue;
            };
            match event.kind {
                EventKind::Active => started_here.push(job),
                EventKind::Completed | EventKind::Failed
                    if !self.started.contains_key(job) && !started_here.contains(&job) =>
                {
                    unknown.push(job.to_owned())
                }
                _ => {}
            }
        }
        unknown
    }

    /// Folds `events` (in stream order) into bucket statistics (minute, hour and day).
    pub fn fold(
        &mut self,
        events: &[StreamEvent],
        from_hashes: &HashMap<String, JobTimes>,
    ) -> Buckets {
        self.fold_timed(events, from_hashes).0
    }

    /// [`Tracker::fold`], and the histograms of the times of the jobs it timed.
    pub fn fold_timed(
        &mut self,
        events: &[StreamEvent],
        from_hashes: &HashMap<String, JobTimes>,
    ) -> (Buckets, Histograms) {
        let mut buckets = Buckets::new();
        let mut histograms = Histograms::default();
        for event in events {
            let Some(job) = event.job_id.clone() else {
                continue;
            };
            match event.kind {
                EventKind::Added => {
                    self.added.insert(job, event.ms);
                }
                EventKind::Active => {
                    self.started.insert(job, event.ms);
                }
                EventKind::Completed | EventKind::Failed => {
                    let hash = from_hashes.get(&job).copied().unwrap_or_default();
                    let times = JobTimes {
                        added: self.added.remove(&job).or(hash.added),
                        started: self.started.remove(&job).or(hash.started),
                    };
                    let stats = finished_job(event.kind == EventKind::Completed, event.ms, times);
                    add_to_buckets(&mut buckets, event.ms, &stats);
                    histograms.add_job(&stats);
                }
                EventKind::Waiting | EventKind::Removed | EventKind::Other => {}
            }
        }
        if self.added.len() + self.started.len() > MAX_TRACKED_JOBS {
            self.added.clear();
            self.started.clear();
        }
        (buckets, histograms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_count_each_timed_job_in_its_bucket_once() {
        let mut histograms = Histograms::default();
        for (processing, wait) in [(10, 0), (11, 50), (400_000, 2_000)] {
            let times = JobTimes {
                added: Some(1_000_000 - processing - wait),
                started: Some(1_000_000 - processing),
            };
            histograms.add_job(&finished_job(true, 1_000_000, times));
        }
        // Not timed: no start known.
        histograms.add_job(&finished_job(false, 1_000_000, JobTimes::default()));
        let p = histograms.processing;
        assert_eq!((p.count, p.sum), (3, 400_021));
        assert_eq!(p.buckets[0], 1, "10 ms is in le=10");
        assert_eq!(p.buckets[1], 1, "11 ms is in le=50");
        assert_eq!(
            p.buckets.iter().sum::<u64>(),
            2,
            "400 s is above every bound: +Inf only"
        );
        let fields = histograms.fields("q");
        assert!(fields.contains(&("q:hp0".into(), 1)) && fields.contains(&("q:hpc".into(), 3)));
        assert!(fields.contains(&("q:hw0".into(), 1)) && fields.contains(&("q:hw1".into(), 1)));
        assert!(fields.contains(&("q:hws".into(), 2_050)));
        assert!(
            !fields.iter().any(|(field, _)| field == "q:hp2"),
            "zeros left out"
        );
    }

    fn event(ms: u64, kind: EventKind, job: &str) -> StreamEvent {
        StreamEvent {
            id: format!("{ms}-0"),
            ms,
            kind,
            job_id: Some(job.to_owned()),
            failed_reason: None,
            prev: None,
            name: None,
        }
    }

    #[test]
    fn the_stream_alone_times_a_job() {
        let mut tracker = Tracker::default();
        let events = [
            event(1_000, EventKind::Added, "1"),
            event(1_500, EventKind::Active, "1"),
            event(1_700, EventKind::Added, "2"),
            event(1_800, EventKind::Active, "2"),
            event(2_000, EventKind::Completed, "1"),
            event(61_000, EventKind::Failed, "2"),
        ];
        assert!(tracker.unknown_starts(&events).is_empty());
        let buckets = tracker.fold(&events, &HashMap::new());
        let first = buckets[&(Step::Minute, 0)];
        assert_eq!((first.completed, first.failed), (1, 0));
        assert_eq!(
            first.processing,
            Timing {
                sum: 500,
                min: 500,
                max: 500,
                count: 1
            }
        );
        assert_eq!(
            first.wait,
            Timing {
                sum: 500,
                min: 500,
                max: 500,
                count: 1
            }
        );
        let second = buckets[&(Step::Minute, 60_000)];
        assert_eq!((second.completed, second.failed), (0, 1));
        assert_eq!(second.processing.sum, 59_200);
        let hour = buckets[&(Step::Hour, 0)];
        assert_eq!((hour.completed, hour.failed), (1, 1));
        assert_eq!(
            hour.processing,
            Timing {
                sum: 59_700,
                min: 500,
                max: 59_200,
                count: 2
            }
        );
    }

    #[test]
    fn a_start_read_earlier_comes_from_the_hash_or_is_left_out() {
        let mut tracker = Tracker::default();
        let events = [
            event(5_000, EventKind::Completed, "7"),
            event(6_000, EventKind::Completed, "8"),
        ];
        assert_eq!(
            tracker.unknown_starts(&events),
            vec!["7".to_owned(), "8".to_owned()]
        );
        let hashes = HashMap::from([(
            "7".to_owned(),
            JobTimes {
                added: Some(1_000),
                started: Some(4_000),
            },
        )]);
        let buckets = tracker.fold(&events, &hashes);
        let stats = buckets[&(Step::Minute, 0)];
        assert_eq!(stats.completed, 2, "both count");
        assert_eq!(
            stats.processing,
            Timing {
                sum: 1_000,
                min: 1_000,
                max: 1_000,
                count: 1
            }
        );
        assert_eq!(stats.wait.sum, 3_000);
    }

    #[test]
    fn a_retried_job_is_timed_by_its_last_attempt_and_counted_once() {
        let mut tracker = Tracker::default();
        let events = [
            event(0, EventKind::Added, "1"),
            event(100, EventKind::Active, "1"),
            event(300, EventKind::Other, "1"),
            event(1_000, EventKind::Active, "1"),
            event(1_200, EventKind::Completed, "1"),
        ];
        let stats = tracker.fold(&events, &HashMap::new())[&(Step::Minute, 0)];
        assert_eq!(stats.completed, 1);
        assert_eq!(stats.processing.sum, 200);
        assert_eq!(stats.wait.sum, 1_000);
    }

    #[test]
    fn bucket_fields_round_trip() {
        let mut stats = Stats {
            completed: 3,
            failed: 1,
            ..Stats::default()
        };
        stats.processing.add(40);
        stats.processing.add(10);
        let fields: HashMap<String, u64> = stats
            .to_fields()
            .into_iter()
            .map(|(k, v)| (k, v.parse().expect("number")))
            .collect();
        assert_eq!(Stats::from_fields(&fields), stats);
    }

    #[test]
    fn ids_and_means() {
        assert_eq!(parse_id("1700000000000-3"), Some((1_700_000_000_000, 3)));
        assert_eq!(parse_id("0"), Some((0, 0)));
        assert_eq!(parse_id("x-1"), None);
        assert_eq!(Timing::default().mean(), None);
    }
}
