//! Reading the history back: a series of points for one queue or all, for charts.

use crate::model::{HistoryPoint, Period, Trend};
use crate::ssr::bullmq::counts::run_pipeline;
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::finished::percentage;
use crate::ssr::error::AppError;
use crate::ssr::history::aggregate::{Stats, Timing};
use crate::ssr::history::keys::{HistoryKeys, Step};
use crate::ssr::service::rfc3339;
use fred::prelude::*;
use std::collections::HashMap;

/// The most points one request may ask for.
pub const MAX_POINTS: u64 = 2_000;
/// The most bucket reads (points × queues) one request may cost.
pub const MAX_READS: u64 = 50_000;

/// The buckets of `queues` (summed) from `from_ms` to `to_ms` (bucket starts), one point per
/// bucket, empty buckets included (as zeros).
pub async fn series(
    pool: &Pool,
    keys: &HistoryKeys,
    queues: &[QueueInfo],
    step: Step,
    from_ms: u64,
    to_ms: u64,
) -> Result<Vec<HistoryPoint>, AppError> {
    let starts: Vec<u64> = (step.bucket_start(from_ms)..=step.bucket_start(to_ms))
        .step_by(usize::try_from(step.millis()).unwrap_or(usize::MAX))
        .collect();
    let mut totals = vec![Stats::default(); starts.len()];
    let keys_to_read: Vec<String> = queues
        .iter()
        .flat_map(|queue| {
            starts
                .iter()
                .map(|start| keys.bucket(&queue.name, step, *start))
        })
        .collect();
    for (i, stats) in bucket_stats(pool, &keys_to_read)
        .await?
        .into_iter()
        .enumerate()
    {
        totals[i % starts.len().max(1)].merge(&stats);
    }
    Ok(starts
        .iter()
        .zip(totals)
        .map(|(start, stats)| point(*start, &stats))
        .collect())
}

/// The statistics of each bucket key (zeros for a missing bucket), in one pipeline.
async fn bucket_stats(pool: &Pool, keys: &[String]) -> Result<Vec<Stats>, AppError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = pool.next().pipeline();
    for key in keys {
        let _: () = pipeline.hgetall(key.as_str()).await?;
    }
    let replies = run_pipeline(&pipeline, keys.len()).await?;
    Ok(replies
        .into_iter()
        .map(|reply| {
            reply
                .ok()
                .and_then(|value| value.convert::<HashMap<String, u64>>().ok())
                .map(|fields| stats_from(&fields))
                .unwrap_or_default()
        })
        .collect())
}

/// Since when (ms) each queue's history is complete; `None` where the collector has not
/// counted anything yet.
pub async fn coverage(
    pool: &Pool,
    keys: &HistoryKeys,
    queues: &[QueueInfo],
) -> Result<Vec<Option<u64>>, AppError> {
    if queues.is_empty() {
        return Ok(Vec::new());
    }
    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    Ok(pool.hmget(keys.since(), names).await?)
}

/// The buckets that cover `[start_ms, now_ms]`: minute buckets up to the first full hour when
/// they are still kept (`minutes_kept_from_ms`), then hour buckets. So a 24 h trend is exact to
/// the minute, longer ones to the hour (their first hour is counted whole).
pub fn covering_buckets(start_ms: u64, now_ms: u64, minutes_kept_from_ms: u64) -> Vec<(Step, u64)> {
    let hour = Step::Hour.millis();
    let minute = Step::Minute.millis();
    let mut buckets = Vec::new();
    let mut first_hour = Step::Hour.bucket_start(start_ms);
    if start_ms >= minutes_kept_from_ms && first_hour < start_ms {
        first_hour += hour;
        let mut m = Step::Minute.bucket_start(start_ms);
        while m < first_hour && m <= now_ms {
            buckets.push((Step::Minute, m));
            m += minute;
        }
    }
    let mut h = first_hour;
    while h <= now_ms {
        buckets.push((Step::Hour, h));
        h += hour;
    }
    buckets
}

/// Trends of `queues` over `period` from their buckets.
pub async fn trends(
    pool: &Pool,
    keys: &HistoryKeys,
    queues: &[QueueInfo],
    period: Period,
    now_ms: u64,
    minute_ttl_ms: u64,
) -> Result<Vec<Trend>, AppError> {
    let start = now_ms.saturating_sub(u64::try_from(period.millis()).unwrap_or(0));
    let buckets = covering_buckets(start, now_ms, now_ms.saturating_sub(minute_ttl_ms));
    let keys_to_read: Vec<String> = queues
        .iter()
        .flat_map(|queue| {
            buckets
                .iter()
                .map(|(step, at)| keys.bucket(&queue.name, *step, *at))
        })
        .collect();
    let stats = bucket_stats(pool, &keys_to_read).await?;
    Ok(queues
        .iter()
        .zip(stats.chunks(buckets.len().max(1)))
        .map(|(queue, chunk)| {
            let mut total = Stats::default();
            for stats in chunk {
                total.merge(stats);
            }
            let all = total.completed + total.failed;
            Trend {
                queue_name: queue.name.as_str().to_owned(),
                period,
                successful: total.completed,
                failed: total.failed,
                total: all,
                success_rate: percentage(total.completed, all),
                avg_processing_time: total.processing.mean(),
                avg_processing_time_sample: total.processing.count,
                source: "collector".into(),
            }
        })
        .collect())
}

fn stats_from(fields: &HashMap<String, u64>) -> Stats {
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
        processing: timing("processing"),
        wait: timing("wait"),
    }
}

fn point(start: u64, stats: &Stats) -> HistoryPoint {
    let timed = |t: &Timing, v: u64| (t.count > 0).then_some(v);
    HistoryPoint {
        t: rfc3339(i64::try_from(start).unwrap_or(i64::MAX)),
        completed: stats.completed,
        failed: stats.failed,
        avg_processing_time: stats.processing.mean(),
        min_processing_time: timed(&stats.processing, stats.processing.min),
        max_processing_time: timed(&stats.processing, stats.processing.max),
        timed_jobs: stats.processing.count,
        avg_wait_time: stats.wait.mean(),
        max_wait_time: timed(&stats.wait, stats.wait.max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    const HOUR: u64 = 3_600_000;

    #[test]
    fn a_day_is_covered_to_the_minute_and_longer_periods_to_the_hour() {
        let now = 1000 * HOUR + 30 * MIN + 5_000;
        let day = covering_buckets(now - 24 * HOUR, now, now - 48 * HOUR);
        assert_eq!(day.first(), Some(&(Step::Minute, 976 * HOUR + 30 * MIN)));
        assert_eq!(day.iter().filter(|(s, _)| *s == Step::Minute).count(), 30);
        assert_eq!(day.iter().filter(|(s, _)| *s == Step::Hour).count(), 24);
        assert_eq!(day.last(), Some(&(Step::Hour, 1000 * HOUR)));

        let week = covering_buckets(now - 168 * HOUR, now, now - 48 * HOUR);
        assert!(
            week.iter().all(|(s, _)| *s == Step::Hour),
            "minute buckets are gone by then"
        );
        assert_eq!(week.first(), Some(&(Step::Hour, 832 * HOUR)));
        assert_eq!(week.len(), 169);
    }
}
