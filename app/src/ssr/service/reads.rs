//! The reads: what a viewer (MODERATOR and up) sees. Each identical read in flight at once is
//! shared (`shared_reads`), so N dashboards cost Redis one read.

use crate::model::{Metrics, Overview, Period, QueueLive, StuckReport, Trend, STUCK_DEFAULT_LIMIT};
use crate::ssr::bullmq::active::{active_jobs, stuck_jobs};
use crate::ssr::bullmq::counts::read_summaries;
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::finished;
use crate::ssr::bullmq::keys::QueueName;
use crate::ssr::clock::{now_ms, now_rfc3339, rfc3339};
use crate::ssr::error::AppError;
use crate::ssr::history::keys::HistoryKeys;
use crate::ssr::history::read;
use crate::ssr::service::metrics::{read_metrics, HistorySource};
use crate::ssr::service::workers::worker_counts;
use crate::ssr::state::AppState;

/// Every discovered queue with its counts.
pub async fn overview(state: &AppState) -> Result<Overview, AppError> {
    state.reads.get("overview", || read_overview(state)).await
}

async fn read_overview(state: &AppState) -> Result<Overview, AppError> {
    let summaries = state
        .within(async {
            let queues = state.registry.queues().await?;
            read_summaries(&state.redis, &state.settings.prefix, &queues).await
        })
        .await?;
    let mut summaries = summaries;
    summaries.sort_by(|a, b| a.queue_name.cmp(&b.queue_name));
    Ok(Overview {
        timestamp: now_rfc3339(),
        prefix: state.settings.prefix.clone(),
        queues: summaries,
    })
}

/// `GET /metrics`: counts, success rates and processing rates for every queue and in total.
pub async fn metrics(state: &AppState) -> Result<Metrics, AppError> {
    state.reads.get("metrics", || read_all_metrics(state)).await
}

async fn read_all_metrics(state: &AppState) -> Result<Metrics, AppError> {
    let history = HistorySource::new(&state.settings);
    let (mut metrics, round_trips, queues) = state
        .within(async {
            let queues = state.registry.queues().await?;
            let (metrics, round_trips) = read_metrics(
                &state.redis,
                &state.settings.prefix,
                &queues,
                now_ms(),
                Some(&history),
                &state.snapshots,
            )
            .await?;
            Ok((metrics, round_trips, queues.len()))
        })
        .await?;
    tracing::debug!(queues, round_trips, "metrics read");
    attach_workers(state, &mut metrics).await;
    Ok(metrics)
}

/// Each queue's connected workers, from one `CLIENT LIST` (per primary) for all of them. A
/// Redis that refuses `CLIENT LIST` (some managed services rename or forbid `CLIENT`) leaves
/// `workers` null instead of failing the read; that is logged once per process.
async fn attach_workers(state: &AppState, metrics: &mut Metrics) {
    static TOLD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let names: Vec<QueueName> = metrics
        .queues
        .iter()
        .filter_map(|queue| QueueName::parse(&queue.summary.queue_name).ok())
        .collect();
    match worker_counts(state, &names).await {
        Ok(counts) => {
            for queue in &mut metrics.queues {
                let count = QueueName::parse(&queue.summary.queue_name)
                    .ok()
                    .and_then(|name| counts.get(&name).copied())
                    .unwrap_or(0);
                queue.workers = Some(count as u64);
            }
        }
        Err(error) => {
            if !TOLD.swap(true, std::sync::atomic::Ordering::Relaxed) {
                tracing::warn!(error.message = %error, "cannot read CLIENT LIST: the workers per queue are unknown");
            }
        }
    }
}

/// One snapshot of a queue for its live stream: counts and active jobs. `Ok(None)` when the
/// queue no longer exists.
pub async fn queue_live(
    state: &AppState,
    queue: &QueueInfo,
) -> Result<Option<QueueLive>, AppError> {
    state
        .within(async {
            let prefix = &state.settings.prefix;
            let summary = read_summaries(&state.redis, prefix, std::slice::from_ref(queue)).await?;
            let Some(summary) = summary.into_iter().next() else {
                return Ok(None);
            };
            let now = now_ms();
            let (active_jobs, active_jobs_truncated) =
                active_jobs(&state.redis, prefix, queue, now).await?;
            Ok(Some(QueueLive {
                timestamp: rfc3339(now),
                queue: summary,
                active_jobs,
                active_jobs_truncated,
            }))
        })
        .await
}

/// `GET /trends`: per queue, what finished inside `period`: from the history where it covers
/// the whole period (exact whatever BullMQ removed), else from the jobs BullMQ still has.
pub async fn trends(state: &AppState, period: Period) -> Result<Vec<Trend>, AppError> {
    let key = format!("trends:{}", period.as_str());
    state.reads.get(&key, || read_trends(state, period)).await
}

async fn read_trends(state: &AppState, period: Period) -> Result<Vec<Trend>, AppError> {
    let now = now_ms();
    let now_u = u64::try_from(now).unwrap_or(0);
    let start = now_u.saturating_sub(u64::try_from(period.millis()).unwrap_or(0));
    let keys = HistoryKeys::new(&state.settings.monitor_prefix, &state.settings.prefix);
    let minute_ttl = u64::try_from(state.settings.history_minute_ttl.as_millis()).unwrap_or(0);
    let max_lag = HistorySource::new(&state.settings).max_lag_ms;
    let prefix = &state.settings.prefix;
    state
        .within(async {
            let mut queues: Vec<QueueInfo> = state.registry.queues().await?.to_vec();
            queues.sort_by(|a, b| a.name.cmp(&b.name));
            let coverage = read::coverage(&state.redis, &keys, &queues).await?;
            let mut covered = Vec::new();
            let mut rest = Vec::new();
            for (i, queue) in queues.into_iter().enumerate() {
                if coverage.covers(i, start, now_u, max_lag) {
                    covered.push(queue);
                } else {
                    rest.push(queue);
                }
            }
            let mut trends =
                read::trends(&state.redis, &keys, &covered, period, now_u, minute_ttl).await?;
            trends.extend(finished::trends(&state.redis, prefix, &rest, period, now).await?);
            trends.sort_by(|a, b| a.queue_name.cmp(&b.queue_name));
            Ok(trends)
        })
        .await
}

/// `GET /alerts/stuck`: active jobs older than the stuck threshold, longest stuck first, at
/// most `limit` (default [`STUCK_DEFAULT_LIMIT`]), with how many there are in all.
pub async fn stuck_alerts(state: &AppState, limit: Option<u64>) -> Result<StuckReport, AppError> {
    let limit = limit.unwrap_or(STUCK_DEFAULT_LIMIT);
    let key = format!("stuck:{limit}");
    state
        .reads
        .get(&key, || read_stuck_alerts(state, limit))
        .await
}

async fn read_stuck_alerts(state: &AppState, limit: u64) -> Result<StuckReport, AppError> {
    let threshold = u64::try_from(state.settings.stuck_after.as_millis()).unwrap_or(u64::MAX);
    state
        .within(async {
            let queues = state.registry.queues().await?;
            stuck_jobs(
                &state.redis,
                &state.settings.prefix,
                &queues,
                threshold,
                now_ms(),
                limit,
            )
            .await
        })
        .await
}
