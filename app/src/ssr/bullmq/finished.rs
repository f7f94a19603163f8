//! Reads about finished jobs, from the scores of the `completed` and `failed` sorted sets (BullMQ
//! scores both by `finishedOn`), so nothing here reads every job:
//!
//! - the success sample type and its percentage (the samples themselves come from
//!   [`crate::ssr::bullmq::snapshot`]);
//! - trends over a period (`ZCOUNT` since the period's start) with the average processing time
//!   taken from a bounded sample of the period's most recent jobs.

use crate::model::{Period, Trend};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;

/// An upper bound above every `finishedOn` score (ms timestamps stay far below 2^53).
pub const SCORE_MAX: f64 = 9_007_199_254_740_991.0;

/// Completed and failed counts of a sample of recently finished jobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sample {
    /// Completed jobs in the sample.
    pub completed: u64,
    /// Failed jobs in the sample.
    pub failed: u64,
}

impl Sample {
    /// How many jobs the sample holds.
    pub fn size(&self) -> u64 {
        self.completed + self.failed
    }

    /// Percentage of completed, 2 decimals; `None` for an empty sample.
    pub fn success_rate(&self) -> Option<f64> {
        percentage(self.completed, self.size())
    }
}

/// `part / whole` as a percentage rounded to 2 decimals; `None` when `whole` is 0.
pub fn percentage(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round2(part as f64 * 100.0 / whole as f64))
}

/// Rounds to 2 decimals.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Per-queue sample size for the trends' average processing time: the average is exact for
/// queues with few jobs in the period and a sample of the most recent ones otherwise, keeping the
/// whole request bounded (about 20,000 job reads at most) whatever the number of queues.
pub fn trend_sample_size(queue_count: usize) -> usize {
    (20_000 / queue_count.max(1)).clamp(50, 500)
}

/// Job reads per pipeline in [`trends`]: enough to keep round trips few (20 at most), few enough
/// that a pipeline's commands stay a small buffer.
const TIMES_PER_ROUND_TRIP: usize = 1_000;

/// Trends for every queue over `period` ending at `now_ms`: one round trip for the counts, then
/// one per [`TIMES_PER_ROUND_TRIP`] sampled jobs. Queues whose
/// `meta` hash has gone since discovery are left out.
pub async fn trends(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    period: Period,
    now_ms: i64,
) -> Result<Vec<Trend>, AppError> {
    if queues.is_empty() {
        return Ok(Vec::new());
    }
    let since = (now_ms - period.millis()) as f64;
    let sample = trend_sample_size(queues.len());
    let keys: Vec<QueueKeys> = queues
        .iter()
        .map(|q| QueueKeys::new(prefix, &q.name))
        .collect();

    // Round trip 1: counts in the period and the most recent ids of each set, with scores, and
    // whether the queue still exists.
    const PER_QUEUE: usize = 5;
    let pipeline = pool.next().pipeline();
    for key in &keys {
        let _: () = pipeline.exists(key.meta()).await?;
        let _: () = pipeline.zcount(key.completed(), since, SCORE_MAX).await?;
        let _: () = pipeline.zcount(key.failed(), since, SCORE_MAX).await?;
        for set in [key.completed(), key.failed()] {
            let _: () = pipeline
                .zrevrangebyscore(set, SCORE_MAX, since, true, Some((0, sample as i64)))
                .await?;
        }
    }
    let replies = run_pipeline(&pipeline, keys.len() * PER_QUEUE).await?;
    let reply = |queue: usize, offset: usize| replies.get(queue * PER_QUEUE + offset);

    // Then processedOn/finishedOn of the most recent `sample` jobs of each queue, in pipelines
    // of at most `TIMES_PER_ROUND_TRIP` reads: one pipeline of all 20,000 reads held every
    // command in the connection's queue at once (~40 MB under the load command's trends calls).
    let mut picked: Vec<Vec<String>> = Vec::with_capacity(keys.len());
    let mut jobs: Vec<String> = Vec::new();
    for (index, key) in keys.iter().enumerate() {
        let mut recent: Vec<(String, f64)> = Vec::new();
        for offset in [3, 4] {
            if let Some(Ok(value)) = reply(index, offset) {
                recent.extend(members_with_scores(value));
            }
        }
        recent.sort_by(|a, b| b.1.total_cmp(&a.1));
        recent.truncate(sample);
        jobs.extend(recent.iter().map(|(id, _)| key.job(id)));
        picked.push(recent.into_iter().map(|(id, _)| id).collect());
    }
    let mut times = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(TIMES_PER_ROUND_TRIP) {
        let pipeline = pool.next().pipeline();
        for job in chunk {
            let _: () = pipeline
                .hmget(job.as_str(), vec!["processedOn", "finishedOn"])
                .await?;
        }
        times.extend(run_pipeline(&pipeline, chunk.len()).await?);
    }
    drop(jobs);

    let mut times = times.into_iter();
    let mut trends = Vec::with_capacity(keys.len());
    for (index, queue) in queues.iter().enumerate() {
        let successful = reply_count(reply(index, 1));
        let failed = reply_count(reply(index, 2));
        let mut sum: u64 = 0;
        let mut measured: u64 = 0;
        for _ in 0..picked[index].len() {
            if let Some(duration) = times.next().and_then(|r| r.ok()).and_then(processing_time) {
                sum += duration;
                measured += 1;
            }
        }
        // Obliterated since discovery: leave it out rather than report zeros.
        if reply_count(reply(index, 0)) == 0 {
            continue;
        }
        let total = successful + failed;
        trends.push(Trend {
            queue_name: queue.name.as_str().to_owned(),
            period,
            successful,
            failed,
            total,
            success_rate: percentage(successful, total),
            avg_processing_time: (measured > 0 && total > 0)
                .then(|| (sum as f64 / measured as f64).round() as u64),
            avg_processing_time_sample: measured,
            source: crate::model::Source::Jobs,
        });
    }
    Ok(trends)
}

fn reply_count(reply: Option<&Result<Value, Error>>) -> u64 {
    match reply {
        Some(Ok(value)) => value.as_u64().unwrap_or(0),
        _ => 0,
    }
}

/// `[member, score, member, score, …]` (or `[[member, score], …]`) as pairs.
pub fn members_with_scores(value: &Value) -> Vec<(String, f64)> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    if items.iter().all(|item| matches!(item, Value::Array(_))) {
        return items
            .iter()
            .filter_map(|pair| match pair {
                Value::Array(pair) => Some((pair.first()?.as_string()?, pair.get(1)?.as_f64()?)),
                _ => None,
            })
            .collect();
    }
    items
        .chunks(2)
        .filter_map(|pair| Some((pair.first()?.as_string()?, pair.get(1)?.as_f64()?)))
        .collect()
}

/// `finishedOn - processedOn` from an `HMGET processedOn finishedOn` reply; `None` when the job is
/// gone or the fields are missing, malformed or inconsistent.
fn processing_time(value: Value) -> Option<u64> {
    let Value::Array(fields) = value else {
        return None;
    };
    let number = |v: Option<&Value>| v.and_then(Value::as_string)?.parse::<f64>().ok();
    let processed = number(fields.first())?;
    let finished = number(fields.get(1))?;
    (finished >= processed).then_some((finished - processed) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_to_two_decimals() {
        assert_eq!(percentage(1208, 1250), Some(96.64));
        assert_eq!(percentage(2, 3), Some(66.67));
        assert_eq!(percentage(0, 0), None);
        assert_eq!(percentage(5, 5), Some(100.0));
    }

    #[test]
    fn trend_samples_stay_bounded() {
        assert_eq!(trend_sample_size(1), 500);
        assert_eq!(trend_sample_size(100), 200);
        assert_eq!(trend_sample_size(10_000), 50);
        assert_eq!(trend_sample_size(0), 500);
    }

    #[test]
    fn processing_time_tolerates_missing_and_odd_fields() {
        let s = |t: &str| Value::String(t.into());
        assert_eq!(
            processing_time(Value::Array(vec![s("1000"), s("3500")])),
            Some(2500)
        );
        assert_eq!(
            processing_time(Value::Array(vec![Value::Null, s("3500")])),
            None
        );
        assert_eq!(processing_time(Value::Array(vec![s("x"), s("3500")])), None);
        assert_eq!(
            processing_time(Value::Array(vec![s("4000"), s("3500")])),
            None
        );
        assert_eq!(processing_time(Value::Null), None);
    }
}
