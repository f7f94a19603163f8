//! Processing and success rates from the latest buckets, so `/metrics` stays right when BullMQ
//! removes finished jobs (with `removeOnComplete` the retained-jobs sample holds only failures,
//! or nothing at all).
//!
//! - Processing rate: the jobs finished from the start of the minute four minutes before the
//!   current one up to now (4 to 5 minutes of minute buckets), per minute.
//! - Success rate: over the smallest of three nested windows that holds at least
//!   [`SUCCESS_RATE_SAMPLE`] finished jobs (those minutes; the current and previous hour; the
//!   current and previous UTC day), else over the largest. The sample size says which.
//!
//! Nine small `HMGET`s per queue, in the caller's pipeline; no job is read.

use crate::model::SUCCESS_RATE_SAMPLE;
use crate::ssr::bullmq::finished::{round2, Sample};
use crate::ssr::bullmq::keys::QueueName;
use crate::ssr::history::keys::{HistoryKeys, Step};
use fred::clients::Pipeline;
use fred::prelude::*;

/// Whole minutes before the current one in the processing-rate window.
const EARLIER_MINUTES: u64 = 4;

/// Commands [`push_rate_commands`] queues per queue.
pub const RATE_COMMANDS: usize = 9;

/// The buckets read, in order: 5 minutes, 2 hours, 2 days.
fn window_buckets(now_ms: u64) -> [(Step, u64); RATE_COMMANDS] {
    let minute = Step::Minute.bucket_start(now_ms);
    let hour = Step::Hour.bucket_start(now_ms);
    let day = Step::Day.bucket_start(now_ms);
    let m = Step::Minute.millis();
    [
        (Step::Minute, minute.saturating_sub(4 * m)),
        (Step::Minute, minute.saturating_sub(3 * m)),
        (Step::Minute, minute.saturating_sub(2 * m)),
        (Step::Minute, minute.saturating_sub(m)),
        (Step::Minute, minute),
        (Step::Hour, hour.saturating_sub(Step::Hour.millis())),
        (Step::Hour, hour),
        (Step::Day, day.saturating_sub(Step::Day.millis())),
        (Step::Day, day),
    ]
}

/// Where the processing-rate window starts: a queue's history must reach back to here.
pub fn window_start(now_ms: u64) -> u64 {
    Step::Minute
        .bucket_start(now_ms)
        .saturating_sub(EARLIER_MINUTES * Step::Minute.millis())
}

/// Queues, on `pipeline`, the [`RATE_COMMANDS`] reads [`windows_from_replies`] takes.
pub async fn push_rate_commands(
    pipeline: &Pipeline<Client>,
    keys: &HistoryKeys,
    queue: &QueueName,
    now_ms: u64,
) -> Result<(), Error> {
    for (step, start) in window_buckets(now_ms) {
        let _: () = pipeline
            .hmget(keys.bucket(queue, step, start), vec!["completed", "failed"])
            .await?;
    }
    Ok(())
}

/// A queue's finished jobs in the three nested windows (minutes, hours, days).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Windows(pub [Sample; 3]);

impl Windows {
    pub fn add(&mut self, other: &Windows) {
        for (mine, theirs) in self.0.iter_mut().zip(other.0) {
            mine.completed += theirs.completed;
            mine.failed += theirs.failed;
        }
    }

    /// Jobs finished per minute over the minutes window, 2 decimals.
    pub fn processing_rate(&self, now_ms: u64) -> f64 {
        let minutes = now_ms.saturating_sub(window_start(now_ms)) as f64 / 60_000.0;
        round2(self.0[0].size() as f64 / minutes.max(1.0))
    }

    /// The smallest window with at least [`SUCCESS_RATE_SAMPLE`] jobs, else the largest.
    pub fn success_sample(&self) -> Sample {
        self.0
            .iter()
            .copied()
            .find(|sample| sample.size() >= SUCCESS_RATE_SAMPLE)
            .unwrap_or(self.0[2])
    }
}

/// Reads a queue's [`RATE_COMMANDS`] replies (missing buckets count as empty).
pub fn windows_from_replies(replies: &[Result<Value, Error>]) -> Windows {
    let bucket = |i: usize| -> Sample {
        let Some(Ok(Value::Array(values))) = replies.get(i) else {
            return Sample::default();
        };
        let number = |j: usize| values.get(j).and_then(|v| v.as_u64()).unwrap_or(0);
        Sample {
            completed: number(0),
            failed: number(1),
        }
    };
    let sum = |range: std::ops::Range<usize>| {
        range.map(bucket).fold(Sample::default(), |a, b| Sample {
            completed: a.completed + b.completed,
            failed: a.failed + b.failed,
        })
    };
    Windows([sum(0..5), sum(5..7), sum(7..9)])
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    fn sample(completed: u64, failed: u64) -> Sample {
        Sample { completed, failed }
    }

    #[test]
    fn the_windows_nest_and_start_four_minutes_before_the_current_one() {
        let now = 100 * 86_400_000 + 10 * 3_600_000 + 7 * MIN + 30_000; // day 100, 10:07:30
        let buckets = window_buckets(now);
        assert_eq!(buckets[0], (Step::Minute, now - 30_000 - 4 * MIN));
        assert_eq!(window_start(now), buckets[0].1);
        assert_eq!(buckets[4], (Step::Minute, now - 30_000));
        assert_eq!(buckets[5], (Step::Hour, now - 7 * MIN - 30_000 - 3_600_000));
        assert_eq!(buckets[8], (Step::Day, 100 * 86_400_000));
        // Each window starts no later than the one inside it.
        assert!(buckets[5].1 <= buckets[0].1 && buckets[7].1 <= buckets[5].1);
    }

    #[test]
    fn the_rate_divides_by_the_window_so_far_and_the_sample_widens_until_it_is_big_enough() {
        let now = 10 * MIN + 30_000; // the window is 4.5 minutes long
        let windows = Windows([sample(80, 10), sample(700, 100), sample(5_000, 300)]);
        assert_eq!(windows.processing_rate(now), 20.0);
        assert_eq!(windows.success_sample(), sample(5_000, 300));
        let busy = Windows([sample(990, 10), sample(2_000, 20), sample(9_000, 90)]);
        assert_eq!(busy.success_sample(), sample(990, 10));
        let quiet = Windows([sample(0, 0), sample(3, 1), sample(7, 1)]);
        assert_eq!(quiet.success_sample(), sample(7, 1), "the largest window");
    }

    #[test]
    fn replies_sum_per_window() {
        let reply = |c: &str, f: &str| {
            Ok(Value::Array(vec![
                Value::from(c.to_owned()),
                Value::from(f.to_owned()),
            ]))
        };
        let mut replies: Vec<Result<Value, Error>> = vec![Ok(Value::Null); RATE_COMMANDS];
        replies[0] = reply("2", "1");
        replies[4] = reply("3", "0");
        replies[6] = reply("10", "2");
        replies[8] = Ok(Value::Array(vec![
            Value::from("40".to_owned()),
            Value::Null,
        ]));
        let windows = windows_from_replies(&replies);
        assert_eq!(windows.0, [sample(5, 1), sample(10, 2), sample(40, 0)]);
    }
}
