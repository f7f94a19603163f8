//! Filling a gap from the jobs BullMQ still retains.
//!
//! When events were trimmed before the collector read them, the jobs they told of are lost to
//! the stream, but many of them may still sit in the queue's `completed` and `failed` sets
//! (scored by `finishedOn`). Those that finished strictly between the last event the history
//! counted and the first event read after the gap are counted from there, with their times from
//! their hashes, in the same atomic write as the batch after the gap (so once).
//!
//! Two limits, both stated in README: a job removed by `removeOnComplete`/`removeOnFail` cannot
//! be recovered, and `finishedOn` is the worker's clock while stream ids are Redis's, so a job
//! finishing within the clocks' skew of either edge may be missed. Jobs whose own finish event
//! is in the batch being applied are skipped, so the far edge cannot double count.

use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::history::aggregate::{add_to_buckets, finished_job, Buckets, JobTimes};
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use std::collections::HashSet;

/// The most jobs one gap is filled with; beyond it the fill stops and says so (a bound on the
/// work one step does, like every bulk operation of the monitor).
pub const FILL_MAX: usize = 100_000;

/// Jobs read per `ZRANGEBYSCORE` page and per pipeline of hash reads.
const PAGE: usize = 1_000;

/// What a gap was filled with.
#[derive(Debug, Default)]
pub struct Filled {
    pub buckets: Buckets,
    /// Jobs counted.
    pub jobs: u64,
    /// Whether [`FILL_MAX`] stopped the fill before every retained job of the gap was read.
    pub truncated: bool,
}

/// The retained finished jobs of a queue with `after_ms < finishedOn < before_ms`, except those
/// in `skip`, as bucket statistics.
pub async fn fill(
    pool: &Pool,
    keys: &QueueKeys,
    after_ms: u64,
    before_ms: u64,
    skip: &HashSet<&str>,
) -> Result<Filled, AppError> {
    let mut filled = Filled::default();
    if before_ms <= after_ms.saturating_add(1) {
        return Ok(filled);
    }
    // Scores are whole milliseconds, so the open interval is this closed one.
    let (low, high) = ((after_ms + 1) as f64, (before_ms - 1) as f64);
    let mut read = 0usize;
    for (set, completed) in [(keys.completed(), true), (keys.failed(), false)] {
        let mut offset = 0usize;
        loop {
            let page_size = PAGE.min(FILL_MAX - read);
            if page_size == 0 {
                filled.truncated = true;
                return Ok(filled);
            }
            let page: Vec<(String, f64)> = pool
                .zrangebyscore(
                    set.as_str(),
                    low,
                    high,
                    true,
                    Some((offset as i64, page_size as i64)),
                )
                .await?;
            read += page.len();
            offset += page.len();
            let jobs: Vec<(String, u64)> = page
                .iter()
                .filter(|(id, _)| !skip.contains(id.as_str()))
                .map(|(id, score)| (id.clone(), *score as u64))
                .collect();
            for ((_, finished), times) in jobs.iter().zip(job_times(pool, keys, &jobs).await?) {
                let stats = finished_job(completed, *finished, times);
                add_to_buckets(&mut filled.buckets, *finished, &stats);
                filled.jobs += 1;
            }
            if page.len() < page_size {
                break;
            }
        }
    }
    Ok(filled)
}

/// `timestamp` and `processedOn` of `jobs`, in one pipeline.
async fn job_times(
    pool: &Pool,
    keys: &QueueKeys,
    jobs: &[(String, u64)],
) -> Result<Vec<JobTimes>, AppError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = pool.next().pipeline();
    for (job, _) in jobs {
        let _: () = pipeline
            .hmget(keys.job(job), vec!["timestamp", "processedOn"])
            .await?;
    }
    let replies = run_pipeline(&pipeline, jobs.len()).await?;
    Ok(replies.into_iter().map(times_from_reply).collect())
}

/// An `HMGET timestamp processedOn` reply as [`JobTimes`] (missing or unreadable: unknown).
pub fn times_from_reply(reply: Result<Value, fred::error::Error>) -> JobTimes {
    let Ok(Value::Array(values)) = reply else {
        return JobTimes::default();
    };
    let number = |i: usize| values.get(i).and_then(|v| v.as_u64());
    JobTimes {
        added: number(0),
        started: number(1),
    }
}
