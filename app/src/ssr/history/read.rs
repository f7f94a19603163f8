//! Reading the history back: a series of points for one queue or all, for charts.

use crate::model::HistoryPoint;
use crate::ssr::bullmq::counts::run_pipeline;
use crate::ssr::bullmq::discovery::QueueInfo;
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
    if !queues.is_empty() && !starts.is_empty() {
        let pipeline = pool.next().pipeline();
        for queue in queues {
            for start in &starts {
                let _: () = pipeline
                    .hgetall(keys.bucket(&queue.name, step, *start))
                    .await?;
            }
        }
        let replies = run_pipeline(&pipeline, queues.len() * starts.len()).await?;
        for (i, reply) in replies.into_iter().enumerate() {
            let Ok(value) = reply else { continue };
            let Ok(fields) = value.convert::<HashMap<String, u64>>() else {
                continue;
            };
            totals[i % starts.len()].merge(&stats_from(&fields));
        }
    }
    Ok(starts
        .iter()
        .zip(totals)
        .map(|(start, stats)| point(*start, &stats))
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
