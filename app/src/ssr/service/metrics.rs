//! How `GET /metrics` is read: every queue's counts and its two rates, from the snapshot reads
//! of [`snapshot`] (two Redis commands for a queue that has not changed since the last read,
//! about a dozen for one that has), in two to four pipelined round trips whatever the number of
//! queues.
//!
//! A queue whose history covers the rate window (see `history::rates`) gets its rates from the
//! buckets; the others from their retained jobs (the kept list of their most recently finished
//! jobs). The overall success rate comes from the buckets only when every queue is covered, else
//! from the retained jobs of all queues; the overall processing rate is always the sum of the
//! queues'. `source` says which.

use crate::model::{
    Metrics, QueueMetrics, QueueSummary, Source, Totals, PROCESSING_RATE_WINDOW_MINUTES,
    SUCCESS_RATE_SAMPLE,
};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::finished::{round2, Sample};
use crate::ssr::bullmq::snapshot::{self, QueueSnap, SnapshotCache};
use crate::ssr::clock::rfc3339;
use crate::ssr::error::AppError;
use crate::ssr::history::keys::HistoryKeys;
use crate::ssr::history::{rates, read};
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;

/// Where `/metrics` may take its rates from besides the retained jobs.
#[derive(Clone, Debug)]
pub struct HistorySource {
    pub keys: HistoryKeys,
    /// See [`crate::ssr::config::Settings::history_max_lag`].
    pub max_lag_ms: u64,
}

impl HistorySource {
    pub fn new(settings: &crate::ssr::config::Settings) -> Self {
        Self {
            keys: HistoryKeys::new(&settings.monitor_prefix, &settings.prefix),
            max_lag_ms: u64::try_from(settings.history_max_lag().as_millis()).unwrap_or(u64::MAX),
        }
    }
}

/// What was read for a queue's rates, by where they come from.
enum RateRead {
    /// The history's windows (success sample and processing rate both come from them).
    Collector(rates::Windows),
    /// The retained jobs' processing rate (their success sample comes from the kept list).
    Jobs(f64),
}

/// One queue's reads, taken apart.
struct QueueRead {
    summary: QueueSummary,
    rate: RateRead,
}

/// Reads [`Metrics`] for `queues` at `now_ms`, reusing `cache`'s unchanged queues; also returns
/// the Redis round trips it used.
pub async fn read_metrics(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    now_ms: i64,
    history: Option<&HistorySource>,
    cache: &SnapshotCache,
) -> Result<(Metrics, u32), AppError> {
    let mut queues: Vec<QueueInfo> = queues.to_vec();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let now_u = u64::try_from(now_ms).unwrap_or(0);
    let mut round_trips = 0;
    let covered: Vec<bool> = match history {
        Some(history) if !queues.is_empty() => {
            round_trips += 1;
            let coverage = read::coverage(pool, &history.keys, &queues).await?;
            let start = rates::window_start(now_u);
            (0..queues.len())
                .map(|i| coverage.covers(i, start, now_u, history.max_lag_ms))
                .collect()
        }
        _ => vec![false; queues.len()],
    };
    let (snaps, stats) = snapshot::read(
        pool,
        prefix,
        &queues,
        cache,
        now_ms,
        SUCCESS_RATE_SAMPLE as usize,
    )
    .await?;
    round_trips += stats.round_trips;
    // Snapshots keep the queues' order, less the ones gone.
    let covered: Vec<bool> = snaps
        .iter()
        .map(|(queue, _)| {
            queues
                .iter()
                .position(|q| q.name == queue.name)
                .is_some_and(|i| covered[i])
        })
        .collect();
    let (rates, rate_round_trips) =
        read_rates(pool, prefix, &snaps, &covered, history, now_ms).await?;
    round_trips += rate_round_trips;
    let all_covered = !snaps.is_empty() && covered.iter().all(|c| *c);
    let samples: Vec<Sample> = snaps.iter().map(|(_, snap)| snap.recent.sample()).collect();
    let jobs_global = if all_covered {
        Sample::default()
    } else {
        let lists: Vec<&snapshot::Recent> = snaps.iter().map(|(_, snap)| &snap.recent).collect();
        snapshot::global_sample(&lists, SUCCESS_RATE_SAMPLE as usize)
    };
    let reads = snaps
        .into_iter()
        .zip(rates)
        .map(|((_, snap), rate)| QueueRead {
            summary: snap.summary,
            rate,
        })
        .collect();
    Ok((
        combine(reads, samples, jobs_global, all_covered, now_ms),
        round_trips,
    ))
}

/// Each queue's rates: the buckets for covered queues (one pipeline), the kept list for the
/// others, with two `ZCOUNT`s for a queue whose list does not reach back to the window's start
/// (another pipeline, only when some queue needs it).
async fn read_rates(
    pool: &Pool,
    prefix: &str,
    snaps: &[(QueueInfo, QueueSnap)],
    covered: &[bool],
    history: Option<&HistorySource>,
    now_ms: i64,
) -> Result<(Vec<RateRead>, u32), AppError> {
    let now_u = u64::try_from(now_ms).unwrap_or(0);
    let window_start = now_ms - (PROCESSING_RATE_WINDOW_MINUTES * 60_000) as i64;
    let per_minute =
        |finished: u64| round2(finished as f64 / PROCESSING_RATE_WINDOW_MINUTES as f64);
    let mut round_trips = 0;
    let mut windows: Vec<Option<rates::Windows>> = vec![None; snaps.len()];
    if let Some(history) = history.filter(|_| covered.iter().any(|c| *c)) {
        let pipeline = pool.next().pipeline();
        let mut expected = 0;
        for ((queue, _), covered) in snaps.iter().zip(covered) {
            if *covered {
                rates::push_rate_commands(&pipeline, &history.keys, &queue.name, now_u).await?;
                expected += rates::RATE_COMMANDS;
            }
        }
        let replies = run_pipeline(&pipeline, expected).await?;
        round_trips += 1;
        let mut rest = replies.chunks(rates::RATE_COMMANDS);
        for (slot, covered) in windows.iter_mut().zip(covered) {
            if *covered {
                *slot = rest.next().map(rates::windows_from_replies);
            }
        }
    }
    let mut finished: Vec<Option<u64>> = snaps
        .iter()
        .zip(covered)
        .map(|((_, snap), covered)| {
            if *covered {
                Some(0)
            } else {
                snap.recent.finished_since(window_start)
            }
        })
        .collect();
    let missing: Vec<usize> = (0..snaps.len())
        .filter(|&i| finished[i].is_none())
        .collect();
    if !missing.is_empty() {
        let names: Vec<_> = missing.iter().map(|&i| &snaps[i].0.name).collect();
        let counted = snapshot::finished_since(pool, prefix, &names, window_start).await?;
        round_trips += 1;
        for (i, count) in missing.into_iter().zip(counted) {
            finished[i] = Some(count);
        }
    }
    let rates = windows
        .into_iter()
        .zip(finished)
        .map(|(windows, finished)| match windows {
            Some(windows) => RateRead::Collector(windows),
            None => RateRead::Jobs(per_minute(finished.unwrap_or(0))),
        })
        .collect();
    Ok((rates, round_trips))
}

/// Per-queue metrics and the totals, from what was read.
fn combine(
    reads: Vec<QueueRead>,
    samples: Vec<Sample>,
    jobs_global: Sample,
    all_covered: bool,
    now_ms: i64,
) -> Metrics {
    let now_u = u64::try_from(now_ms).unwrap_or(0);
    let collector_queues = reads
        .iter()
        .filter(|read| matches!(read.rate, RateRead::Collector(_)))
        .count();
    let mut totals = Totals::default();
    let mut windows = rates::Windows::default();
    let mut processing_rate = 0.0;
    let mut queue_metrics = Vec::with_capacity(reads.len());
    for (read, jobs_sample) in reads.into_iter().zip(samples) {
        totals.add(&read.summary.counts);
        let (sample, rate, source) = match read.rate {
            RateRead::Collector(queue_windows) => {
                windows.add(&queue_windows);
                (
                    queue_windows.success_sample(),
                    queue_windows.processing_rate(now_u),
                    Source::Collector,
                )
            }
            RateRead::Jobs(rate) => (jobs_sample, rate, Source::Jobs),
        };
        processing_rate += rate;
        queue_metrics.push(QueueMetrics {
            summary: read.summary,
            success_rate: sample.success_rate(),
            success_rate_sample: sample.size(),
            processing_rate: rate,
            source,
        });
    }
    let (global, source) = if all_covered && collector_queues == queue_metrics.len() {
        (windows.success_sample(), Source::Collector)
    } else if collector_queues > 0 {
        (jobs_global, Source::Mixed)
    } else {
        (jobs_global, Source::Jobs)
    };
    Metrics {
        timestamp: rfc3339(now_ms),
        queues: queue_metrics,
        totals,
        success_rate: global.success_rate(),
        success_rate_sample: global.size(),
        processing_rate: round2(processing_rate),
        source,
    }
}
