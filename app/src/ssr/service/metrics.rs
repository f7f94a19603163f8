//! How `GET /metrics` is read: every queue's counts and its two rates, in a few pipelined
//! round trips whatever the number of queues.
//!
//! A queue whose history covers the rate window (see `history::rates`) gets its rates from the
//! buckets; the others from the retained jobs (`ZCOUNT` over the window, and the success-rate
//! search over the most recent jobs). The overall success rate comes from the buckets only when
//! every queue is covered, else from the retained jobs of all queues; the overall processing
//! rate is always the sum of the queues'. `source` says which.

use crate::model::{
    Metrics, QueueMetrics, QueueSummary, Source, Totals, PROCESSING_RATE_WINDOW_MINUTES,
    SUCCESS_RATE_SAMPLE,
};
use crate::ssr::bullmq::counts::{
    push_count_commands, reply_u64, summary_from_replies, COUNT_COMMANDS,
};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::finished::{
    push_span_commands, recent_samples, round2, span_from_replies, FinishedSpan, Sample, SCORE_MAX,
    SPAN_COMMANDS,
};
use crate::ssr::bullmq::keys::QueueKeys;
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
    /// The retained jobs' processing rate (their success sample comes from the search).
    Jobs(f64),
}

/// One queue's replies, taken apart.
struct QueueRead {
    summary: QueueSummary,
    keys: QueueKeys,
    rate: RateRead,
    span: Option<FinishedSpan>,
}

/// Reads [`Metrics`] for `queues` at `now_ms`; also returns the Redis round trips it used.
pub async fn read_metrics(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    now_ms: i64,
    history: Option<&HistorySource>,
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
    let all_covered = !queues.is_empty() && covered.iter().all(|c| *c);
    let reads = if queues.is_empty() {
        Vec::new()
    } else {
        round_trips += 1;
        read_queues(
            pool,
            prefix,
            &queues,
            &covered,
            history,
            now_ms,
            !all_covered,
        )
        .await?
    };
    let (samples, jobs_global, search_round_trips) = if all_covered {
        (vec![Sample::default(); reads.len()], Sample::default(), 0)
    } else {
        let keys: Vec<QueueKeys> = reads.iter().map(|r| r.keys.clone()).collect();
        let spans: Vec<FinishedSpan> = reads.iter().map(|r| r.span.unwrap_or_default()).collect();
        recent_samples(pool, &keys, &spans, SUCCESS_RATE_SAMPLE).await?
    };
    round_trips += search_round_trips;
    Ok((
        combine(reads, samples, jobs_global, all_covered, now_ms),
        round_trips,
    ))
}

/// One pipeline for every queue: its counts, then its rate reads (buckets, or the window's
/// `ZCOUNT`s), then, when the retained jobs decide any success rate, the span of its finished
/// jobs. Queues gone since discovery are left out.
async fn read_queues(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    covered: &[bool],
    history: Option<&HistorySource>,
    now_ms: i64,
    spans_needed: bool,
) -> Result<Vec<QueueRead>, AppError> {
    let now_u = u64::try_from(now_ms).unwrap_or(0);
    let window_start = (now_ms - (PROCESSING_RATE_WINDOW_MINUTES * 60_000) as i64) as f64;
    let keys: Vec<QueueKeys> = queues
        .iter()
        .map(|q| QueueKeys::new(prefix, &q.name))
        .collect();
    let pipeline = pool.next().pipeline();
    let mut commands = Vec::with_capacity(queues.len());
    for ((queue, key), covered) in queues.iter().zip(&keys).zip(covered) {
        push_count_commands(&pipeline, key).await?;
        let mut count = COUNT_COMMANDS;
        match (covered, history) {
            (true, Some(history)) => {
                rates::push_rate_commands(&pipeline, &history.keys, &queue.name, now_u).await?;
                count += rates::RATE_COMMANDS;
            }
            _ => {
                let _: () = pipeline
                    .zcount(key.completed(), window_start, SCORE_MAX)
                    .await?;
                let _: () = pipeline
                    .zcount(key.failed(), window_start, SCORE_MAX)
                    .await?;
                count += 2;
            }
        }
        if spans_needed {
            push_span_commands(&pipeline, key).await?;
            count += SPAN_COMMANDS;
        }
        commands.push(count);
    }
    let replies = run_pipeline(&pipeline, commands.iter().sum()).await?;
    let per_minute =
        |finished: u64| round2(finished as f64 / PROCESSING_RATE_WINDOW_MINUTES as f64);
    let mut reads = Vec::with_capacity(queues.len());
    let mut rest = replies.as_slice();
    for (((queue, key), covered), count) in queues.iter().zip(keys).zip(covered).zip(&commands) {
        let (mine, after) = rest.split_at((*count).min(rest.len()));
        rest = after;
        let Some(summary) = summary_from_replies(queue, &mine[..COUNT_COMMANDS.min(mine.len())])
        else {
            continue;
        };
        let rate_len = if *covered { rates::RATE_COMMANDS } else { 2 };
        let rate_replies = mine
            .get(COUNT_COMMANDS..COUNT_COMMANDS + rate_len)
            .unwrap_or(&[]);
        let rate = if *covered {
            RateRead::Collector(rates::windows_from_replies(rate_replies))
        } else {
            let finished =
                reply_u64(queue, rate_replies.first()) + reply_u64(queue, rate_replies.get(1));
            RateRead::Jobs(per_minute(finished))
        };
        let span = spans_needed.then(|| {
            span_from_replies(
                summary.counts.completed,
                summary.counts.failed,
                mine.get(COUNT_COMMANDS + rate_len..).unwrap_or(&[]),
            )
        });
        reads.push(QueueRead {
            summary,
            keys: key,
            rate,
            span,
        });
    }
    Ok(reads)
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
