//! `/metrics` rates from the history, so they stay right when BullMQ removes finished jobs (with
//! `removeOnComplete` the retained-jobs sample holds only failures, or nothing at all).
//!
//! - Processing rate: the jobs finished from the start of the minute four minutes before the
//!   current one up to now (4 to 5 minutes of minute buckets), per minute. Five small `HMGET`s
//!   per queue, kept in a [`WindowsCache`] until the queue's buckets change (the collector's
//!   `applied` cursor moves) or the minute does, so an unchanged queue costs nothing here.
//! - Success rate: over the [`RECENT`](crate::ssr::history::keys::RECENT) most recently finished jobs, the seed's definition,
//!   exactly: the collector keeps each queue's last outcomes as it reads the events (a ring, and
//!   one for all queues of its scope, see `lua/apply.lua`) with their counts in one hash, so one
//!   `HMGET` gives every queue's sample. The ring holds what the collector read: jobs that
//!   finished before it began, or in a gap it filled from the retained jobs, are not in it.
//!
//! No job is read.

use crate::ssr::bullmq::finished::{round2, Sample};
use crate::ssr::bullmq::keys::QueueName;
use crate::ssr::history::keys::{recent_all_field, HistoryKeys, Step};
use fred::clients::Pipeline;
use fred::prelude::*;

/// Whole minutes before the current one in the processing-rate window.
const EARLIER_MINUTES: u64 = 4;

/// Commands [`push_rate_commands`] queues per queue.
pub const RATE_COMMANDS: usize = 5;

/// The minute buckets read, oldest first.
fn window_buckets(now_ms: u64) -> [(Step, u64); RATE_COMMANDS] {
    let minute = Step::Minute.bucket_start(now_ms);
    let m = Step::Minute.millis();
    [4, 3, 2, 1, 0].map(|back| (Step::Minute, minute.saturating_sub(back * m)))
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

/// Rate windows read before, by queue: valid while the queue's `applied` cursor and the minute
/// they were read in are still the same.
#[derive(Debug, Default)]
pub struct WindowsCache {
    queues: std::sync::Mutex<std::collections::HashMap<QueueName, (String, u64, Windows)>>,
}

impl WindowsCache {
    /// The windows of `queue` read in `now_ms`'s minute with the buckets at `applied`.
    pub fn get(&self, queue: &QueueName, applied: &str, now_ms: u64) -> Option<Windows> {
        let minute = Step::Minute.bucket_start(now_ms);
        self.lock()
            .get(queue)
            .filter(|(at, read_in, _)| at == applied && *read_in == minute)
            .map(|(_, _, windows)| *windows)
    }

    pub fn put(&self, queue: &QueueName, applied: String, now_ms: u64, windows: Windows) {
        let minute = Step::Minute.bucket_start(now_ms);
        self.lock()
            .insert(queue.clone(), (applied, minute, windows));
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<QueueName, (String, u64, Windows)>>
    {
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A queue's finished jobs in the processing-rate window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Windows(pub Sample);

impl Windows {
    /// Jobs finished per minute over the window, 2 decimals.
    pub fn processing_rate(&self, now_ms: u64) -> f64 {
        let minutes = now_ms.saturating_sub(window_start(now_ms)) as f64 / 60_000.0;
        round2(self.0.size() as f64 / minutes.max(1.0))
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
    Windows(
        (0..RATE_COMMANDS)
            .map(bucket)
            .fold(Sample::default(), |a, b| Sample {
                completed: a.completed + b.completed,
                failed: a.failed + b.failed,
            }),
    )
}

/// Queues, on `pipeline`, the one `HMGET` of the success samples of the collector's rings:
/// per queue of `queues` and over all queues of the scope of `allow_list`
/// ([`samples_from_reply`] reads it).
pub async fn push_recent_command(
    pipeline: &Pipeline<Client>,
    keys: &HistoryKeys,
    queues: &[&QueueName],
    allow_list: Option<&[String]>,
) -> Result<(), Error> {
    let all = recent_all_field(allow_list);
    let mut fields: Vec<String> = Vec::with_capacity(queues.len() * 2 + 2);
    for queue in queues {
        fields.push(format!("{queue}:c"));
        fields.push(format!("{queue}:f"));
    }
    fields.push(format!("{all}c"));
    fields.push(format!("{all}f"));
    pipeline.hmget(keys.recent_counts(), fields).await
}

/// The reply of [`push_recent_command`] for `queues` queues: their samples in order, and the
/// scope's over all queues (missing counts are 0).
pub fn samples_from_reply(
    reply: Option<&Result<Value, Error>>,
    queues: usize,
) -> (Vec<Sample>, Sample) {
    let counts: Vec<u64> = match reply {
        Some(Ok(Value::Array(values))) => values.iter().map(|v| v.as_u64().unwrap_or(0)).collect(),
        _ => Vec::new(),
    };
    let sample = |i: usize| Sample {
        completed: counts.get(i).copied().unwrap_or(0),
        failed: counts.get(i + 1).copied().unwrap_or(0),
    };
    (
        (0..queues).map(|i| sample(2 * i)).collect(),
        sample(2 * queues),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;

    #[test]
    fn the_window_starts_four_minutes_before_the_current_one() {
        let now = 100 * 86_400_000 + 10 * 3_600_000 + 7 * MIN + 30_000; // day 100, 10:07:30
        let buckets = window_buckets(now);
        assert_eq!(buckets[0], (Step::Minute, now - 30_000 - 4 * MIN));
        assert_eq!(window_start(now), buckets[0].1);
        assert_eq!(buckets[4], (Step::Minute, now - 30_000));
    }

    #[test]
    fn the_rate_divides_by_the_window_so_far() {
        let now = 10 * MIN + 30_000; // the window is 4.5 minutes long
        let windows = Windows(Sample {
            completed: 80,
            failed: 10,
        });
        assert_eq!(windows.processing_rate(now), 20.0);
    }

    #[test]
    fn replies_sum_over_the_window() {
        let reply = |c: &str, f: &str| {
            Ok(Value::Array(vec![
                Value::from(c.to_owned()),
                Value::from(f.to_owned()),
            ]))
        };
        let mut replies: Vec<Result<Value, Error>> = vec![Ok(Value::Null); RATE_COMMANDS];
        replies[0] = reply("2", "1");
        replies[4] = reply("3", "0");
        replies[2] = Ok(Value::Array(vec![
            Value::from("40".to_owned()),
            Value::Null,
        ]));
        let windows = windows_from_replies(&replies);
        assert_eq!(
            windows.0,
            Sample {
                completed: 45,
                failed: 1
            }
        );
    }
}
