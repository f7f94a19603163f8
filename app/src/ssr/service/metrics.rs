//! How `GET /metrics` is read: every queue's counts and its two rates, from the snapshot reads
//! of [`snapshot`] (two Redis commands for a queue that has not changed since the last read,
//! about a dozen for one that has), in two to four pipelined round trips whatever the number of
//! queues.
//!
//! A queue whose history covers the rate window (see `history::rates`) gets its rates from the
//! history (processing rate from the minute buckets, success rate from the collector's ring of
//! its 1,000 most recent outcomes); the others from their retained jobs (the kept list of their
//! most recently finished jobs). The overall success rate comes from the ring over all queues
//! only when every queue is covered, else from the retained jobs of all queues; the overall
//! processing rate is always the sum of the queues'. `source` says which. With the history,
//! an unchanged queue costs nothing more: one `HMGET` gives every queue's ring counts, and the
//! minute buckets are read again only when the collector moved them or the minute turned.

use crate::model::{
    Metrics, QueueMetrics, QueueSummary, Source, Totals, PROCESSING_RATE_WINDOW_MINUTES,
    SUCCESS_RATE_SAMPLE,
};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::finished::{round2, Sample};
use crate::ssr::bullmq::keys::QueueName;
use crate::ssr::bullmq::snapshot::{self, QueueSnap, SnapshotCache};
use crate::ssr::clock::rfc3339;
use crate::ssr::error::AppError;
use crate::ssr::history::keys::HistoryKeys;
use crate::ssr::history::{rates, read};
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use std::sync::Arc;

/// Where `/metrics` may take its rates from besides the retained jobs.
#[derive(Clone, Debug)]
pub struct HistorySource {
    pub keys: HistoryKeys,
    /// See [`crate::ssr::config::Settings::history_max_lag`].
    pub max_lag_ms: u64,
    /// The collector scope whose rings of recent outcomes this reader takes.
    pub allow_list: Option<Vec<String>>,
}

impl HistorySource {
    pub fn new(settings: &crate::ssr::config::Settings) -> Self {
        Self {
            keys: HistoryKeys::new(&settings.monitor_prefix, &settings.prefix),
            max_lag_ms: u64::try_from(settings.history_max_lag().as_millis()).unwrap_or(u64::MAX),
            allow_list: settings.queue_allow_list.clone(),
        }
    }
}

/// What was read for a queue's rates, by where they come from.
enum RateRead {
    /// The history's: the processing-rate window and the ring of recent outcomes.
    Collector(rates::Windows, Sample),
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
    // Per queue: `Some(applied cursor)` when the history covers its rate window.
    let covered: Vec<Option<String>> = match history {
        Some(history) if !queues.is_empty() => {
            round_trips += 1;
            let coverage = read::coverage(pool, &history.keys, &queues).await?;
            let start = rates::window_start(now_u);
            (0..queues.len())
                .map(|i| {
                    coverage
                        .covers(i, start, now_u, history.max_lag_ms)
                        .then(|| {
                            coverage
                                .applied
                                .get(i)
                                .cloned()
                                .flatten()
                                .unwrap_or_default()
                        })
                })
                .collect()
        }
        _ => vec![None; queues.len()],
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
    let at: std::collections::HashMap<&QueueName, usize> = queues
        .iter()
        .enumerate()
        .map(|(i, q)| (&q.name, i))
        .collect();
    let covered: Vec<Option<String>> = snaps
        .iter()
        .map(|(queue, _)| at.get(&queue.name).and_then(|&i| covered[i].clone()))
        .collect();
    let (rates, ring_global, rate_round_trips) = read_rates(
        pool,
        prefix,
        &snaps,
        &covered,
        history.map(|h| (h, &cache.windows)),
        now_ms,
    )
    .await?;
    round_trips += rate_round_trips;
    let all_covered = !snaps.is_empty() && covered.iter().all(Option::is_some);
    let samples: Vec<Sample> = snaps.iter().map(|(_, snap)| snap.recent.sample()).collect();
    // All queues covered: the scope's ring over all queues (unless it is still empty, e.g.
    // right after an upgrade), else the retained jobs' most recent of all queues.
    let global = match ring_global {
        Some(ring) if all_covered && ring.size() > 0 => ring,
        _ => {
            let lists: Vec<&snapshot::Recent> =
                snaps.iter().map(|(_, snap)| &snap.recent).collect();
            snapshot::global_sample(&lists, SUCCESS_RATE_SAMPLE as usize)
        }
    };
    let reads = snaps
        .into_iter()
        .zip(rates)
        .map(|((_, snap), rate)| QueueRead {
            summary: snap.summary.clone(),
            rate,
        })
        .collect();
    Ok((
        combine(reads, samples, global, all_covered, now_ms),
        round_trips,
    ))
}

/// Each queue's rates: the buckets for covered queues (one pipeline, only for those whose
/// buckets or minute changed since they were cached), the kept list for the others, with two
/// `ZCOUNT`s for a queue whose list does not reach back to the window's start (another
/// pipeline, only when some queue needs it). `covered[i]`: the queue's `applied` cursor when
/// its history covers the window.
async fn read_rates(
    pool: &Pool,
    prefix: &str,
    snaps: &[(QueueInfo, Arc<QueueSnap>)],
    covered: &[Option<String>],
    history: Option<(&HistorySource, &rates::WindowsCache)>,
    now_ms: i64,
) -> Result<(Vec<RateRead>, Option<Sample>, u32), AppError> {
    let now_u = u64::try_from(now_ms).unwrap_or(0);
    let window_start = now_ms - (PROCESSING_RATE_WINDOW_MINUTES * 60_000) as i64;
    let per_minute =
        |finished: u64| round2(finished as f64 / PROCESSING_RATE_WINDOW_MINUTES as f64);
    let mut round_trips = 0;
    let mut windows: Vec<Option<rates::Windows>> = vec![None; snaps.len()];
    let mut rings: Vec<Sample> = vec![Sample::default(); snaps.len()];
    let mut ring_global = None;
    if let Some((history, cache)) = history.filter(|_| covered.iter().any(Option::is_some)) {
        let names: Vec<&QueueName> = snaps
            .iter()
            .zip(covered)
            .filter(|(_, applied)| applied.is_some())
            .map(|((queue, _), _)| &queue.name)
            .collect();
        // An empty `applied` (none recorded yet) is never taken from the cache.
        let cached = |i: usize, applied: &String| {
            (!applied.is_empty())
                .then(|| cache.get(&snaps[i].0.name, applied, now_u))
                .flatten()
        };
        let mut stale = Vec::new();
        for (i, applied) in covered.iter().enumerate() {
            if let Some(applied) = applied {
                match cached(i, applied) {
                    Some(hit) => windows[i] = Some(hit),
                    None => stale.push(i),
                }
            }
        }
        // One round trip: the rings' counts, and the minute buckets of the stale queues.
        let pipeline = pool.next().pipeline();
        rates::push_recent_command(
            &pipeline,
            &history.keys,
            &names,
            history.allow_list.as_deref(),
        )
        .await?;
        for &i in &stale {
            rates::push_rate_commands(&pipeline, &history.keys, &snaps[i].0.name, now_u).await?;
        }
        let replies = run_pipeline(&pipeline, 1 + stale.len() * rates::RATE_COMMANDS).await?;
        round_trips += 1;
        let (samples, global) = rates::samples_from_reply(replies.first(), names.len());
        ring_global = Some(global);
        let mut samples = samples.into_iter();
        for (ring, applied) in rings.iter_mut().zip(covered) {
            if applied.is_some() {
                *ring = samples.next().unwrap_or_default();
            }
        }
        for (&i, replies) in stale.iter().zip(replies[1..].chunks(rates::RATE_COMMANDS)) {
            let read = rates::windows_from_replies(replies);
            if let Some(applied) = covered[i].clone().filter(|a| !a.is_empty()) {
                cache.put(&snaps[i].0.name, applied, now_u, read);
            }
            windows[i] = Some(read);
        }
    }
    let mut finished: Vec<Option<u64>> = snaps
        .iter()
        .zip(covered)
        .map(|((_, snap), covered)| {
            if covered.is_some() {
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
        .zip(rings)
        .map(|((windows, finished), ring)| match windows {
            Some(windows) => RateRead::Collector(windows, ring),
            None => RateRead::Jobs(per_minute(finished.unwrap_or(0))),
        })
        .collect();
    Ok((rates, ring_global, round_trips))
}

/// Per-queue metrics and the totals, from what was read.
fn combine(
    reads: Vec<QueueRead>,
    samples: Vec<Sample>,
    global: Sample,
    all_covered: bool,
    now_ms: i64,
) -> Metrics {
    let now_u = u64::try_from(now_ms).unwrap_or(0);
    let collector_queues = reads
        .iter()
        .filter(|read| matches!(read.rate, RateRead::Collector(..)))
        .count();
    let mut totals = Totals::default();
    let mut processing_rate = 0.0;
    let mut queue_metrics = Vec::with_capacity(reads.len());
    for (read, jobs_sample) in reads.into_iter().zip(samples) {
        totals.add(&read.summary.counts);
        let (sample, rate, source) = match read.rate {
            RateRead::Collector(windows, ring) => (
                // An empty ring (nothing finished since the collector began keeping it): the
                // retained jobs.
                if ring.size() > 0 { ring } else { jobs_sample },
                windows.processing_rate(now_u),
                Source::Collector,
            ),
            RateRead::Jobs(rate) => (jobs_sample, rate, Source::Jobs),
        };
        processing_rate += rate;
        queue_metrics.push(QueueMetrics {
            summary: read.summary,
            success_rate: sample.success_rate(),
            success_rate_sample: sample.size(),
            processing_rate: rate,
            source,
            // Read once for all queues, after the counts (`service::reads`).
            workers: None,
        });
    }
    let source = if all_covered && collector_queues == queue_metrics.len() {
        Source::Collector
    } else if collector_queues > 0 {
        Source::Mixed
    } else {
        Source::Jobs
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
