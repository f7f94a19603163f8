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
    self, push_span_commands, recent_samples, round2, span_from_replies, Sample, SCORE_MAX,
    SPAN_COMMANDS,
};
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::history::keys::HistoryKeys;
use crate::ssr::history::{rates, read};
use crate::ssr::redis::within;
use crate::ssr::state::AppState;
use fred::prelude::*;

/// Every discovered queue with its counts.
pub async fn overview(state: &AppState) -> Result<Overview, AppError> {
    state.reads.get("overview", || read_overview(state)).await
}

async fn read_overview(state: &AppState) -> Result<Overview, AppError> {
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

/// `GET /metrics`: counts, success rates and processing rates for every queue and in total.
pub async fn metrics(state: &AppState) -> Result<Metrics, AppError> {
    state.reads.get("metrics", || read_all_metrics(state)).await
}

async fn read_all_metrics(state: &AppState) -> Result<Metrics, AppError> {
    let queues = state.registry.queues().await?;
    let history = HistorySource::new(&state.settings);
    let read = read_metrics(
        &state.redis,
        &state.settings.prefix,
        &queues,
        now_ms(),
        Some(&history),
    );
    let (metrics, round_trips) = within(state.settings.redis_timeout, read).await?;
    tracing::debug!(queues = queues.len(), round_trips, "metrics read");
    Ok(metrics)
}

/// Reads [`Metrics`] for `queues` at `now_ms`; also returns the Redis round trips it used.
///
/// A queue whose history covers the rate window (see [`rates`]) gets its rates from the
/// buckets; the others from the retained jobs (`ZCOUNT` over the window, and the success-rate
/// search over the most recent jobs). The overall success rate comes from the buckets only when
/// every queue is covered, else from the retained jobs of all queues; the overall processing
/// rate is always the sum of the queues'. `source` says which.
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
    let keys: Vec<QueueKeys> = queues
        .iter()
        .map(|q| QueueKeys::new(prefix, &q.name))
        .collect();
    let window_start = (now_ms - (PROCESSING_RATE_WINDOW_MINUTES * 60_000) as i64) as f64;
    // Per queue: counts, then its rate reads (buckets, or the window's ZCOUNTs), then the span
    // of its retained jobs when the retained jobs decide any success rate.
    let spans_needed = !all_covered;
    let mut commands = Vec::with_capacity(queues.len());
    let mut replies = Vec::new();
    if !keys.is_empty() {
        round_trips += 1;
        let pipeline = pool.next().pipeline();
        for ((queue, key), covered) in queues.iter().zip(&keys).zip(&covered) {
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
        replies = run_pipeline(&pipeline, commands.iter().sum()).await?;
    }

    let per_minute =
        |finished: u64| round2(finished as f64 / PROCESSING_RATE_WINDOW_MINUTES as f64);
    let mut summaries = Vec::with_capacity(queues.len());
    let mut kept_keys = Vec::with_capacity(queues.len());
    let mut spans = Vec::with_capacity(queues.len());
    let mut rate_reads = Vec::with_capacity(queues.len());
    let mut rest = replies.as_slice();
    for (((queue, key), covered), count) in queues.iter().zip(keys).zip(&covered).zip(&commands) {
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
        rate_reads.push(if *covered {
            RateRead::Collector(rates::windows_from_replies(rate_replies))
        } else {
            let finished =
                reply_u64(queue, rate_replies.first()) + reply_u64(queue, rate_replies.get(1));
            RateRead::Jobs(per_minute(finished))
        });
        if spans_needed {
            spans.push(span_from_replies(
                summary.counts.completed,
                summary.counts.failed,
                mine.get(COUNT_COMMANDS + rate_len..).unwrap_or(&[]),
            ));
        }
        summaries.push(summary);
        kept_keys.push(key);
    }
    let (samples, jobs_global, search_round_trips) = if spans_needed {
        recent_samples(pool, &kept_keys, &spans, SUCCESS_RATE_SAMPLE).await?
    } else {
        (
            vec![Sample::default(); summaries.len()],
            Sample::default(),
            0,
        )
    };
    round_trips += search_round_trips;

    let collector_queues = rate_reads
        .iter()
        .filter(|read| matches!(read, RateRead::Collector(_)))
        .count();
    let mut totals = Totals::default();
    let mut windows = rates::Windows::default();
    let mut processing_rate = 0.0;
    let mut queue_metrics = Vec::with_capacity(summaries.len());
    for ((summary, jobs_sample), rate_read) in summaries.into_iter().zip(samples).zip(rate_reads) {
        totals.add(&summary.counts);
        let source = rate_read.source();
        let (sample, rate) = match rate_read {
            RateRead::Collector(queue_windows) => {
                windows.add(&queue_windows);
                (
                    queue_windows.success_sample(),
                    queue_windows.processing_rate(now_u),
                )
            }
            RateRead::Jobs(rate) => (jobs_sample, rate),
        };
        processing_rate += rate;
        queue_metrics.push(QueueMetrics {
            summary,
            success_rate: sample.success_rate(),
            success_rate_sample: sample.size(),
            processing_rate: rate,
            source: source.into(),
        });
    }
    let (global, source) = if all_covered && collector_queues == queue_metrics.len() {
        (windows.success_sample(), "collector")
    } else if collector_queues > 0 {
        (jobs_global, "mixed")
    } else {
        (jobs_global, "jobs")
    };
    let metrics = Metrics {
        timestamp: rfc3339(now_ms),
        queues: queue_metrics,
        totals,
        success_rate: global.success_rate(),
        success_rate_sample: global.size(),
        processing_rate: round2(processing_rate),
        source: source.into(),
    };
    Ok((metrics, round_trips))
}

/// What was read for a queue's rates, by where they come from.
enum RateRead {
    /// The history's windows (success sample and processing rate both come from them).
    Collector(rates::Windows),
    /// The retained jobs' processing rate (their success sample comes from the search).
    Jobs(f64),
}

impl RateRead {
    /// The wire name of the source.
    fn source(&self) -> &'static str {
        match self {
            RateRead::Collector(_) => "collector",
            RateRead::Jobs(_) => "jobs",
        }
    }
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
    let key = format!("trends:{}", period.as_str());
    state.reads.get(&key, || read_trends(state, period)).await
}

async fn read_trends(state: &AppState, period: Period) -> Result<Vec<Trend>, AppError> {
    let mut queues: Vec<QueueInfo> = state.registry.queues().await?.to_vec();
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let now = now_ms();
    let now_u = u64::try_from(now).unwrap_or(0);
    let start = now_u.saturating_sub(u64::try_from(period.millis()).unwrap_or(0));
    let keys = HistoryKeys::new(&state.settings.monitor_prefix, &state.settings.prefix);
    let minute_ttl = u64::try_from(state.settings.history_minute_ttl.as_millis()).unwrap_or(0);
    let max_lag = HistorySource::new(&state.settings).max_lag_ms;
    let prefix = &state.settings.prefix;
    let read = async {
        // Queues whose history covers the whole period are answered from the buckets (exact
        // whatever BullMQ retained); the others from the jobs BullMQ still has.
        let coverage = read::coverage(&state.redis, &keys, &queues).await?;
        let (covered, rest): (Vec<QueueInfo>, Vec<QueueInfo>) = {
            let mut covered = Vec::new();
            let mut rest = Vec::new();
            for (i, queue) in queues.iter().enumerate() {
                if coverage.covers(i, start, now_u, max_lag) {
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
    state.reads.get("stuck", || read_stuck_alerts(state)).await
}

async fn read_stuck_alerts(state: &AppState) -> Result<Vec<StuckJob>, AppError> {
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
    let parts = [queue, from, to, step].map(Option::unwrap_or_default);
    if parts.iter().any(|part| part.len() > 64) {
        // Not a query anyone repeats; not worth remembering.
        return read_history(state, queue, from, to, step).await;
    }
    let key = format!("history:{}", parts.join("\n"));
    state
        .reads
        .get(&key, || read_history(state, queue, from, to, step))
        .await
}

async fn read_history(
    state: &AppState,
    queue: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    step: Option<&str>,
) -> Result<History, AppError> {
    use crate::ssr::history::keys::Step;
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
        // Per queue `<queue>` (gaps seen) and `<queue>:filled` (jobs recovered for them).
        let (gaps, filled) = if queues.is_empty() {
            (0, 0)
        } else {
            let fields: Vec<String> = queues
                .iter()
                .flat_map(|q| [q.name.as_str().to_owned(), format!("{}:filled", q.name)])
                .collect();
            let counts: Vec<Option<u64>> = state.redis.hmget(keys.gaps(), fields).await?;
            let sum =
                |parity: usize| -> u64 { counts.iter().skip(parity).step_by(2).flatten().sum() };
            (sum(0), sum(1))
        };
        Ok::<_, AppError>((points, gaps, filled))
    };
    let (points, gaps, gap_jobs_filled) = within(state.settings.redis_timeout, read).await?;
    Ok(History {
        queue_name: given(queue).map(str::to_owned),
        step: step.as_str().to_owned(),
        from: rfc3339(i64::try_from(from_ms).unwrap_or(i64::MAX)),
        to: rfc3339(i64::try_from(to_ms).unwrap_or(i64::MAX)),
        source: "collector".into(),
        gaps,
        gap_jobs_filled,
        points,
    })
}

/// The history over a trends period, ending now: hourly buckets for 24 h and 7 d (24 and 168
/// points), daily for 30 d.
pub async fn history_over(
    state: &AppState,
    queue: Option<&str>,
    period: Period,
) -> Result<History, AppError> {
    let now = now_ms();
    let (from, to) = ((now - period.millis()).to_string(), now.to_string());
    let step = match period {
        Period::Day | Period::Week => "hour",
        Period::Month => "day",
    };
    let read = || read_history(state, queue, Some(&from), Some(&to), Some(step));
    let name = queue.unwrap_or_default();
    if name.len() > 256 {
        return read().await;
    }
    let key = format!("history-over:{}:{name}", period.as_str());
    state.reads.get(&key, read).await
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
    // The next read shows what the action did.
    state.reads.forget().await;
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
    // The next read shows what the action did.
    state.reads.forget().await;
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
    // The next read shows what the action did.
    state.reads.forget().await;
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
