//! Reading the history back: a series of points for one queue or all, for charts.

use crate::model::{HistoryPoint, Period, Trend};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::finished::percentage;
use crate::ssr::clock::rfc3339_u64;
use crate::ssr::error::AppError;
use crate::ssr::history::aggregate::{Stats, Timing};
use crate::ssr::history::keys::{HistoryKeys, Step};
use crate::ssr::redis::run_pipeline;
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
                .map(|fields| Stats::from_fields(&fields))
                .unwrap_or_default()
        })
        .collect())
}

/// How far the history can be trusted, per queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Per queue (in the order asked): since when (ms) its history is complete; `None` where
    /// the collector has not counted anything yet.
    pub since: Vec<Option<u64>>,
    /// Per queue: up to when (ms) its history is complete, the start of the last collector
    /// pass that read its stream to the end; `None` where no collector ever did.
    pub through: Vec<Option<u64>>,
    /// Per queue: the cursor of the last batch the collector applied (`HistoryKeys::applied`),
    /// which changes whenever the queue's buckets do.
    pub applied: Vec<Option<String>>,
}

impl Coverage {
    /// Whether queue `i`'s buckets hold every job that finished from `start_ms` up to (about)
    /// `now_ms`: its history began by `start_ms`, and a collector brought it up to date at
    /// most `max_lag_ms` ago (a stopped collector, or one that does not collect this queue,
    /// leaves its buckets behind, silently).
    pub fn covers(&self, i: usize, start_ms: u64, now_ms: u64, max_lag_ms: u64) -> bool {
        let at = |values: &[Option<u64>]| values.get(i).copied().flatten();
        at(&self.through).is_some_and(|through| through.saturating_add(max_lag_ms) >= now_ms)
            && at(&self.since).is_some_and(|since| since <= start_ms)
    }
}

/// The [`Coverage`] of `queues`, in one round trip.
pub async fn coverage(
    pool: &Pool,
    keys: &HistoryKeys,
    queues: &[QueueInfo],
) -> Result<Coverage, AppError> {
    if queues.is_empty() {
        return Ok(Coverage::default());
    }
    let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
    let pipeline = pool.next().pipeline();
    let _: () = pipeline.hmget(keys.since(), names.clone()).await?;
    let _: () = pipeline.hmget(keys.caught_up(), names.clone()).await?;
    let _: () = pipeline.hmget(keys.applied(), names).await?;
    type Marks = Vec<Option<u64>>;
    let (since, through, applied): (Marks, Marks, Vec<Option<String>>) = pipeline.all().await?;
    Ok(Coverage {
        since,
        through,
        applied,
    })
}

/// The buckets that cover `[start_ms, now_ms]`: minute buckets up to the first full hour when
/// they are still kept (`minutes_kept_from_ms`), hour buckets up to the first full day, then day
/// buckets (the last one holds the day so far: buckets never contain the future). So a 24 h trend
/// is exact to the minute, longer ones to the hour (their first hour is counted whole), and 30
/// days cost about 30 + 24 reads per queue.
pub fn covering_buckets(start_ms: u64, now_ms: u64, minutes_kept_from_ms: u64) -> Vec<(Step, u64)> {
    let mut buckets = Vec::new();
    let mut t = Step::Hour.bucket_start(start_ms);
    if start_ms >= minutes_kept_from_ms && t < start_ms {
        t += Step::Hour.millis();
        let mut m = Step::Minute.bucket_start(start_ms);
        while m < t && m <= now_ms {
            buckets.push((Step::Minute, m));
            m += Step::Minute.millis();
        }
    }
    while t <= now_ms {
        let step = if Step::Day.bucket_start(t) == t {
            Step::Day
        } else {
            Step::Hour
        };
        buckets.push((step, t));
        t += step.millis();
    }
    buckets
}

/// Each queue's statistics from `start_ms` to now, summed over the buckets that cover it
/// (minute buckets while they are kept, hours and days before; so to the minute at best).
pub async fn window_stats(
    pool: &Pool,
    keys: &HistoryKeys,
    queues: &[QueueInfo],
    start_ms: u64,
    now_ms: u64,
    minute_ttl_ms: u64,
) -> Result<Vec<Stats>, AppError> {
    let buckets = covering_buckets(start_ms, now_ms, now_ms.saturating_sub(minute_ttl_ms));
    let keys_to_read: Vec<String> = queues
        .iter()
        .flat_map(|queue| {
            buckets
                .iter()
                .map(|(step, at)| keys.bucket(&queue.name, *step, *at))
        })
        .collect();
    let stats = bucket_stats(pool, &keys_to_read).await?;
    Ok(stats
        .chunks(buckets.len().max(1))
        .map(|chunk| {
            let mut total = Stats::default();
            for stats in chunk {
                total.merge(stats);
            }
            total
        })
        .chain(std::iter::repeat_with(Stats::default))
        .take(queues.len())
        .collect())
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
    let totals = window_stats(pool, keys, queues, start, now_ms, minute_ttl_ms).await?;
    Ok(queues
        .iter()
        .zip(totals)
        .map(|(queue, total)| {
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
                source: crate::model::Source::Collector,
            }
        })
        .collect())
}

fn point(start: u64, stats: &Stats) -> HistoryPoint {
    let timed = |t: &Timing, v: u64| (t.count > 0).then_some(v);
    HistoryPoint {
        t: rfc3339_u64(start),
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

    #[test]
    fn the_history_covers_a_period_only_from_its_start_and_while_the_collector_keeps_up() {
        let coverage = Coverage {
            since: vec![Some(1_000), None, Some(5_000)],
            through: vec![Some(100_000), Some(100_000), None],
            applied: vec![None; 3],
        };
        assert!(coverage.covers(0, 1_000, 110_000, 10_000));
        assert!(
            !coverage.covers(0, 999, 110_000, 10_000),
            "before its start"
        );
        assert!(
            !coverage.covers(0, 1_000, 110_001, 10_000),
            "collector behind"
        );
        assert!(
            !coverage.covers(1, 1_000, 100_000, 10_000),
            "never collected"
        );
        assert!(!coverage.covers(3, 1_000, 100_000, 10_000), "no such queue");
        assert!(
            !coverage.covers(2, 5_000, 100_000, 10_000),
            "not collected by any collector"
        );
        let stopped = Coverage {
            through: vec![None; 3],
            ..coverage
        };
        assert!(!stopped.covers(0, 1_000, 100_000, 10_000));
    }

    const MIN: u64 = 60_000;
    const HOUR: u64 = 3_600_000;

    #[test]
    fn a_day_is_covered_to_the_minute_and_longer_periods_to_the_hour() {
        const DAY: u64 = 24 * HOUR;
        let now = 1000 * HOUR + 30 * MIN + 5_000; // day 41, 16:30:05
        let day = covering_buckets(now - 24 * HOUR, now, now - 48 * HOUR);
        assert_eq!(day.first(), Some(&(Step::Minute, 976 * HOUR + 30 * MIN)));
        let count = |buckets: &[(Step, u64)], step: Step| {
            buckets.iter().filter(|(s, _)| *s == step).count()
        };
        assert_eq!(count(&day, Step::Minute), 30);
        // 977 h to 984 h (a day boundary) in hours, then the current day whole.
        assert_eq!(count(&day, Step::Hour), 7);
        assert_eq!(day.last(), Some(&(Step::Day, 41 * DAY)));

        let month = covering_buckets(now - 30 * DAY, now, now - 48 * HOUR);
        assert_eq!(
            count(&month, Step::Minute),
            0,
            "minute buckets are gone by then"
        );
        assert_eq!(month.first(), Some(&(Step::Hour, 280 * HOUR)));
        assert_eq!(count(&month, Step::Hour), 8);
        assert_eq!(count(&month, Step::Day), 30);
        // Contiguous: each bucket starts where the one before ends.
        for pair in month.windows(2) {
            assert_eq!(pair[0].1 + pair[0].0.millis(), pair[1].1);
        }
    }
}
