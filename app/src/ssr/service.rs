//! Operations the monitor offers, shared by REST handlers and server functions so both answer
//! with the same data. Each takes the [`AppState`] and returns wire types or an [`AppError`];
//! each runs its Redis reads under one overall deadline.

use crate::model::{
    History, Metrics, Overview, Period, QueueMetrics, StuckJob, Totals, Trend,
    PROCESSING_RATE_WINDOW_MINUTES, SUCCESS_RATE_SAMPLE,
};
use crate::ssr::bullmq::active::stuck_jobs;
use crate::ssr::bullmq::counts::{
    push_count_commands, read_summaries, reply_u64, run_pipeline, summary_from_replies,
    COUNT_COMMANDS,
};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::finished::{
    self, push_span_commands, recent_samples, round2, span_from_replies, SCORE_MAX, SPAN_COMMANDS,
};
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::redis::within;
use crate::ssr::state::AppState;
use fred::prelude::*;

/// Every discovered queue with its counts.
pub async fn overview(state: &AppState) -> Result<Overview, AppError> {
    let queues = state.registry.queues().await?;
    let read = read_summaries(&state.redis, &state.settings.prefix, &queues);
    let mut summaries = within(state.settings.redis_timeout, read).await?;
    summaries.sort_by(|a, b| a.queue_name.cmp(&b.queue_name));
    Ok(Overview {
        timestamp: now_rfc3339(),
        prefix: state.settings.prefix.clone(),
        queues: summaries,
    })
}

/// `GET /metrics`: counts, success rates and processing rates for every queue and in total.
pub async fn metrics(state: &AppState) -> Result<Metrics, AppError> {
    let queues = state.registry.queues().await?;
    let read = read_metrics(&state.redis, &state.settings.prefix, &queues, now_ms());
    let (metrics, round_trips) = within(state.settings.redis_timeout, read).await?;
    tracing::debug!(queues = queues.len(), round_trips, "metrics read");
    Ok(metrics)
}

/// Commands per queue in the first metrics round trip.
const METRICS_COMMANDS: usize = COUNT_COMMANDS + 2 + SPAN_COMMANDS;

/// Reads [`Metrics`] for `queues` at `now_ms`; also returns the Redis round trips it used (one
/// pipeline, plus the success-rate search steps when more than 1,000 jobs are retained).
pub async fn read_metrics(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    now_ms: i64,
) -> Result<(Metrics, u32), AppError> {
    let mut queues: Vec<QueueInfo> = queues.to_vec();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let keys: Vec<QueueKeys> = queues
        .iter()
        .map(|q| QueueKeys::new(prefix, &q.name))
        .collect();
    let window_start = (now_ms - (PROCESSING_RATE_WINDOW_MINUTES * 60_000) as i64) as f64;
    let mut replies = Vec::new();
    if !keys.is_empty() {
        let pipeline = pool.next().pipeline();
        for key in &keys {
            push_count_commands(&pipeline, key).await?;
            let _: () = pipeline
                .zcount(key.completed(), window_start, SCORE_MAX)
                .await?;
            let _: () = pipeline
                .zcount(key.failed(), window_start, SCORE_MAX)
                .await?;
            push_span_commands(&pipeline, key).await?;
        }
        replies = run_pipeline(&pipeline, keys.len() * METRICS_COMMANDS).await?;
    }
    let mut summaries = Vec::with_capacity(queues.len());
    let mut kept_keys = Vec::with_capacity(queues.len());
    let mut spans = Vec::with_capacity(queues.len());
    let mut recent_finished = Vec::with_capacity(queues.len());
    for ((queue, key), replies) in queues
        .iter()
        .zip(keys)
        .zip(replies.chunks(METRICS_COMMANDS))
    {
        let Some(summary) = summary_from_replies(queue, &replies[..COUNT_COMMANDS]) else {
            continue;
        };
        let recent = reply_u64(queue, replies.get(COUNT_COMMANDS))
            + reply_u64(queue, replies.get(COUNT_COMMANDS + 1));
        spans.push(span_from_replies(
            summary.counts.completed,
            summary.counts.failed,
            &replies[COUNT_COMMANDS + 2..],
        ));
        recent_finished.push(recent);
        summaries.push(summary);
        kept_keys.push(key);
    }
    let (samples, global, search_round_trips) =
        recent_samples(pool, &kept_keys, &spans, SUCCESS_RATE_SAMPLE).await?;

    let per_minute =
        |finished: u64| round2(finished as f64 / PROCESSING_RATE_WINDOW_MINUTES as f64);
    let mut totals = Totals::default();
    let mut queue_metrics = Vec::with_capacity(summaries.len());
    for ((summary, sample), recent) in summaries.into_iter().zip(samples).zip(&recent_finished) {
        totals.add(&summary.counts);
        queue_metrics.push(QueueMetrics {
            summary,
            success_rate: sample.success_rate(),
            success_rate_sample: sample.size(),
            processing_rate: per_minute(*recent),
        });
    }
    let metrics = Metrics {
        timestamp: rfc3339(now_ms),
        queues: queue_metrics,
        totals,
        success_rate: global.success_rate(),
        success_rate_sample: global.size(),
        processing_rate: per_minute(recent_finished.iter().sum()),
    };
    let round_trips = u32::from(!queues.is_empty()) + search_round_trips;
    Ok((metrics, round_trips))
}

/// One snapshot of a queue for its live stream: counts and active jobs. `Ok(None)` when the
/// queue no longer exists.
pub async fn queue_live(
    state: &AppState,
    queue: &QueueInfo,
) -> Result<Option<crate::model::QueueLive>, AppError> {
    let read = async {
        let prefix = &state.settings.prefix;
        let summary = read_summaries(&state.redis, prefix, std::slice::from_ref(queue)).await?;
        let Some(summary) = summary.into_iter().next() else {
            return Ok(None);
        };
        let now = now_ms();
        let (active_jobs, active_jobs_truncated) =
            crate::ssr::bullmq::active::active_jobs(&state.redis, prefix, queue, now).await?;
        Ok(Some(crate::model::QueueLive {
            timestamp: rfc3339(now),
            queue: summary,
            active_jobs,
            active_jobs_truncated,
        }))
    };
    within(state.settings.redis_timeout, read).await
}

/// `GET /trends`: per queue, what finished inside `period`.
pub async fn trends(state: &AppState, period: Period) -> Result<Vec<Trend>, AppError> {
    use crate::ssr::history::{keys::HistoryKeys, read};
    let mut queues: Vec<QueueInfo> = state.registry.queues().await?.to_vec();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let now = now_ms();
    let now_u = u64::try_from(now).unwrap_or(0);
    let start = now_u.saturating_sub(u64::try_from(period.millis()).unwrap_or(0));
    let keys = HistoryKeys::new(&state.settings.monitor_prefix, &state.settings.prefix);
    let minute_ttl = u64::try_from(state.settings.history_minute_ttl.as_millis()).unwrap_or(0);
    let prefix = &state.settings.prefix;
    let read = async {
        // Queues whose history covers the whole period are answered from the buckets (exact
        // whatever BullMQ retained); the others from the jobs BullMQ still has.
        let since = read::coverage(&state.redis, &keys, &queues).await?;
        let (covered, rest): (Vec<QueueInfo>, Vec<QueueInfo>) = {
            let mut covered = Vec::new();
            let mut rest = Vec::new();
            for (queue, since) in queues.iter().zip(since) {
                if since.is_some_and(|since| since <= start) {
                    covered.push(queue.clone());
                } else {
                    rest.push(queue.clone());
                }
            }
            (covered, rest)
        };
        let mut trends =
            read::trends(&state.redis, &keys, &covered, period, now_u, minute_ttl).await?;
        trends.extend(finished::trends(&state.redis, prefix, &rest, period, now).await?);
        trends.sort_by(|a, b| a.queue_name.cmp(&b.queue_name));
        Ok::<_, AppError>(trends)
    };
    within(state.settings.redis_timeout, read).await
}

/// `GET /alerts/stuck`: active jobs older than the stuck threshold, longest first.
pub async fn stuck_alerts(state: &AppState) -> Result<Vec<StuckJob>, AppError> {
    let queues = state.registry.queues().await?;
    let threshold = u64::try_from(state.settings.stuck_after.as_millis()).unwrap_or(u64::MAX);
    let read = stuck_jobs(
        &state.redis,
        &state.settings.prefix,
        &queues,
        threshold,
        now_ms(),
    );
    within(state.settings.redis_timeout, read).await
}

/// `GET /history?queue=&from=&to=&step=`: the collector's series for one queue (or all queues
/// summed). `from`/`to` are RFC 3339 or epoch milliseconds (default: the last 24 h); `step` is
/// `minute` or `hour` (default: minute up to 48 h, else hour).
pub async fn history(
    state: &AppState,
    queue: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    step: Option<&str>,
) -> Result<History, AppError> {
    use crate::ssr::history::keys::{HistoryKeys, Step};
    use crate::ssr::history::read::{series, MAX_POINTS, MAX_READS};
    const DAY_MS: u64 = 86_400_000;
    fn given(value: Option<&str>) -> Option<&str> {
        value.filter(|v| !v.is_empty())
    }
    let now = u64::try_from(now_ms()).unwrap_or(0);
    let to_ms = given(to)
        .map(|t| parse_time(t, "to"))
        .transpose()?
        .unwrap_or(now);
    let from_ms = given(from)
        .map(|t| parse_time(t, "from"))
        .transpose()?
        .unwrap_or(to_ms.saturating_sub(DAY_MS));
    if from_ms > to_ms {
        return Err(AppError::BadRequest("`from` must not be after `to`".into()));
    }
    let step = match given(step) {
        None if to_ms - from_ms <= 2 * DAY_MS => Step::Minute,
        None => Step::Hour,
        Some(text) => Step::parse(text)
            .ok_or_else(|| AppError::BadRequest("`step` must be minute, hour or day".into()))?,
    };
    let points = (step.bucket_start(to_ms) - step.bucket_start(from_ms)) / step.millis() + 1;
    if points > MAX_POINTS {
        return Err(AppError::BadRequest(format!(
            "{points} {}s asked; at most {MAX_POINTS} points per request (use a larger step or a shorter range)",
            step.as_str()
        )));
    }
    let mut queues: Vec<QueueInfo> = match given(queue) {
        Some(name) => vec![resolve_queue(state, name).await?],
        None => state.registry.queues().await?.to_vec(),
    };
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    if points * queues.len() as u64 > MAX_READS {
        return Err(AppError::BadRequest(format!(
            "{points} points × {} queues is more than {MAX_READS} bucket reads; ask for one queue or fewer points",
            queues.len()
        )));
    }
    let keys = HistoryKeys::new(&state.settings.monitor_prefix, &state.settings.prefix);
    let read = async {
        let points = series(&state.redis, &keys, &queues, step, from_ms, to_ms).await?;
        let gaps: u64 = if queues.is_empty() {
            0
        } else {
            let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
            let counts: Vec<Option<u64>> = state.redis.hmget(keys.gaps(), names).await?;
            counts.into_iter().flatten().sum()
        };
        Ok::<_, AppError>((points, gaps))
    };
    let (points, gaps) = within(state.settings.redis_timeout, read).await?;
    Ok(History {
        queue_name: given(queue).map(str::to_owned),
        step: step.as_str().to_owned(),
        from: rfc3339(i64::try_from(from_ms).unwrap_or(i64::MAX)),
        to: rfc3339(i64::try_from(to_ms).unwrap_or(i64::MAX)),
        source: "collector".into(),
        gaps,
        points,
    })
}

/// A time given as epoch milliseconds or RFC 3339.
fn parse_time(text: &str, field: &str) -> Result<u64, AppError> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .and_then(|t| u64::try_from(t.timestamp_millis()).ok())
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "`{field}` must be RFC 3339 (2026-11-28T10:00:00Z) or epoch milliseconds"
            ))
        })
}

/// Parses a `period` query value; absent means 24h.
pub fn parse_period(value: Option<&str>) -> Result<Period, AppError> {
    match value {
        None | Some("") => Ok(Period::Day),
        Some(text) => Period::parse(text).ok_or_else(|| {
            AppError::BadRequest(format!(
                "period must be one of 24h, 7d, 30d (got `{}`)",
                text.chars().take(40).collect::<String>()
            ))
        }),
    }
}

/// Milliseconds since the epoch, from this server's clock (BullMQ also uses client clocks).
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Milliseconds since the epoch as RFC 3339, UTC, with milliseconds (empty past the calendar).
pub fn rfc3339(millis: i64) -> String {
    chrono::DateTime::from_timestamp_millis(millis)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The current time as RFC 3339, UTC, milliseconds (`2026-01-22T10:30:00.000Z`).
pub fn now_rfc3339() -> String {
    rfc3339(now_ms())
}

/// Finds a queue by the name a client sent: 400 when the name is not a valid BullMQ queue name,
/// 404 when no such queue exists under the prefix.
pub async fn resolve_queue(state: &AppState, name: &str) -> Result<QueueInfo, AppError> {
    let name = crate::ssr::bullmq::keys::QueueName::parse(name).map_err(AppError::BadRequest)?;
    state
        .registry
        .find(&name)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no queue named `{name}`")))
}

/// What the audit trail records as an action's outcome.
fn outcome<T: serde::Serialize>(result: &Result<T, AppError>) -> serde_json::Value {
    match result {
        Ok(reply) => serde_json::to_value(reply).unwrap_or(serde_json::Value::Null),
        Err(error) => serde_json::json!({"success": false, "error": error.to_api_error().error}),
    }
}

/// Pauses (`pause = true`) or resumes a queue; idempotent; audited.
pub async fn set_paused(
    state: &AppState,
    principal: &crate::ssr::auth::Principal,
    name: &str,
    pause: bool,
) -> Result<crate::model::PauseReply, AppError> {
    use crate::ssr::bullmq::commands;
    let queue = resolve_queue(state, name).await?;
    let prefix = &state.settings.prefix;
    let run = async {
        if pause {
            commands::pause(&state.redis, prefix, &queue).await
        } else {
            commands::resume(&state.redis, prefix, &queue).await
        }
    };
    let result = within(state.settings.redis_timeout, run)
        .await
        .map(|changed| crate::model::PauseReply {
            success: true,
            queue_name: queue.name.as_str().to_owned(),
            paused: pause,
            changed,
        });
    crate::ssr::audit::record(
        &state.redis,
        &state.settings.monitor_prefix,
        crate::ssr::audit::Action {
            principal,
            action: if pause { "pause" } else { "resume" },
            queue: queue.name.as_str(),
            job_id: None,
            params: serde_json::json!({}),
            result: outcome(&result),
        },
    )
    .await;
    result
}

/// Removes a queue's finished jobs (`kind`: completed, failed or all; absent means all);
/// audited. Runs in bounded batches, so it has no overall deadline.
pub async fn clear_queue(
    state: &AppState,
    principal: &crate::ssr::auth::Principal,
    name: &str,
    kind: Option<&str>,
) -> Result<crate::model::ClearReply, AppError> {
    use crate::ssr::bullmq::commands::{self, ClearType};
    let kind = match kind {
        None | Some("") => ClearType::All,
        Some(text) => ClearType::parse(text).ok_or_else(|| {
            AppError::BadRequest(format!(
                "type must be one of completed, failed, all (got `{}`)",
                text.chars().take(40).collect::<String>()
            ))
        })?,
    };
    let queue = resolve_queue(state, name).await?;
    let result = commands::clear(&state.redis, &state.settings.prefix, &queue, kind)
        .await
        .map(|cleared| crate::model::ClearReply {
            success: true,
            queue_name: queue.name.as_str().to_owned(),
            kind: kind.as_str().to_owned(),
            removed: cleared.completed + cleared.failed,
            completed: cleared.completed,
            failed: cleared.failed,
        });
    crate::ssr::audit::record(
        &state.redis,
        &state.settings.monitor_prefix,
        crate::ssr::audit::Action {
            principal,
            action: "clear",
            queue: queue.name.as_str(),
            job_id: None,
            params: serde_json::json!({"type": kind.as_str()}),
            result: outcome(&result),
        },
    )
    .await;
    result
}

/// Retries a job with changes (`body`: the JSON request, empty for none); audited.
pub async fn retry_job(
    state: &AppState,
    principal: &crate::ssr::auth::Principal,
    queue_name: &str,
    job_id: &str,
    body: &[u8],
) -> Result<crate::model::RetryReply, AppError> {
    use crate::ssr::bullmq::retry::{self, RetryRequest};
    let request = RetryRequest::parse(body)?;
    let job_id = retry::parse_job_id(job_id)?;
    let queue = resolve_queue(state, queue_name).await?;
    let run = retry::retry(
        &state.redis,
        &state.settings.prefix,
        &queue,
        &job_id,
        &request,
    );
    let result = within(state.settings.redis_timeout, run)
        .await
        .map(|retried| crate::model::RetryReply {
            success: true,
            message: format!("Job retried with ID {}", retried.new_job_id),
            new_job_id: retried.new_job_id,
            original: retried.original,
        });
    let params: serde_json::Value =
        serde_json::from_slice(body).unwrap_or_else(|_| serde_json::json!({}));
    crate::ssr::audit::record(
        &state.redis,
        &state.settings.monitor_prefix,
        crate::ssr::audit::Action {
            principal,
            action: "retry",
            queue: queue.name.as_str(),
            job_id: Some(&job_id),
            params,
            result: outcome(&result),
        },
    )
    .await;
    result
}
