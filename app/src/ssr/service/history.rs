//! The collector's series: `GET /history` and the dashboard's chart. Every request is bounded
//! (points, and points × queues), and each user's bucket reads over time too
//! (`limits::Limits::charge_history`).

use crate::model::{History, HistoryQuery, Period, Source, Step};
use crate::ssr::auth::Principal;
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::clock::{now_ms_u64, parse_time, rfc3339_u64};
use crate::ssr::error::AppError;
use crate::ssr::history::keys::HistoryKeys;
use crate::ssr::history::read::{series, MAX_POINTS, MAX_READS};
use crate::ssr::service::resolve_queue;
use crate::ssr::state::AppState;
use fred::prelude::*;

const DAY_MS: u64 = 86_400_000;

/// A history request with its times resolved and its size checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Window {
    from_ms: u64,
    to_ms: u64,
    step: Step,
    points: u64,
}

impl Window {
    /// Resolves `from`/`to` (RFC 3339 or epoch ms; default the 24 h before now) and `step`
    /// (default minute up to 48 h, else hour), and bounds the points.
    fn of(query: &HistoryQuery, now: u64) -> Result<Window, AppError> {
        let time = |text: &Option<String>, field: &str| {
            text.as_deref()
                .map(|t| {
                    parse_time(t).ok_or_else(|| {
                        AppError::BadRequest(format!(
                            "`{field}` must be RFC 3339 (2026-11-28T10:00:00Z) or epoch milliseconds"
                        ))
                    })
                })
                .transpose()
        };
        let to_ms = time(&query.to, "to")?.unwrap_or(now);
        let from_ms = time(&query.from, "from")?.unwrap_or(to_ms.saturating_sub(DAY_MS));
        if from_ms > to_ms {
            return Err(AppError::BadRequest("`from` must not be after `to`".into()));
        }
        let step = query.step.unwrap_or(if to_ms - from_ms <= 2 * DAY_MS {
            Step::Minute
        } else {
            Step::Hour
        });
        let points = (step.bucket_start(to_ms) - step.bucket_start(from_ms)) / step.millis() + 1;
        if points > MAX_POINTS {
            return Err(AppError::BadRequest(format!(
                "{points} {}s asked; at most {MAX_POINTS} points per request (use a larger step or a shorter range)",
                step.as_str()
            )));
        }
        Ok(Window {
            from_ms,
            to_ms,
            step,
            points,
        })
    }
}

/// `GET /history?queue=&from=&to=&step=`: the collector's series for one queue (or all queues
/// summed).
pub async fn history(
    state: &AppState,
    caller: &Principal,
    query: &HistoryQuery,
) -> Result<History, AppError> {
    let window = Window::of(query, now_ms_u64())?;
    let queues = charged_queues(state, caller, query.queue.as_deref(), &window).await?;
    let read = || read_history(state, query.queue.clone(), &queues, window.clone());
    let parts = [
        query.queue.as_deref(),
        query.from.as_deref(),
        query.to.as_deref(),
        Some(window.step.as_str()),
    ]
    .map(Option::unwrap_or_default);
    if parts.iter().any(|part| part.len() > 64) {
        // Not a query anyone repeats; not worth remembering.
        return read().await;
    }
    let key = format!("history:{}", parts.join("\n"));
    state.reads.get(&key, read).await
}

/// The history over a trends period, ending now: hourly buckets for 24 h and 7 d (24 and 168
/// points), daily for 30 d. `queue` empty or absent: all queues summed.
pub async fn history_over(
    state: &AppState,
    caller: &Principal,
    queue: Option<&str>,
    period: Period,
) -> Result<History, AppError> {
    let now = now_ms_u64();
    let query = HistoryQuery {
        queue: queue.filter(|q| !q.is_empty()).map(str::to_owned),
        from: Some(
            now.saturating_sub(u64::try_from(period.millis()).unwrap_or(0))
                .to_string(),
        ),
        to: Some(now.to_string()),
        step: Some(match period {
            Period::Day | Period::Week => Step::Hour,
            Period::Month => Step::Day,
        }),
    };
    let window = Window::of(&query, now)?;
    let queues = charged_queues(state, caller, query.queue.as_deref(), &window).await?;
    let name = query.queue.clone().unwrap_or_default();
    let read = || read_history(state, query.queue.clone(), &queues, window.clone());
    if name.len() > 256 {
        return read().await;
    }
    let key = format!("history-over:{}:{name}", period.as_str());
    state.reads.get(&key, read).await
}

/// The queues a history request is about (sorted by name), once its bucket reads are within
/// the per-request bound and charged to the caller's budget.
async fn charged_queues(
    state: &AppState,
    caller: &Principal,
    queue: Option<&str>,
    window: &Window,
) -> Result<Vec<QueueInfo>, AppError> {
    let mut queues = match queue {
        Some(name) => vec![resolve_queue(state, name).await?],
        None => state.within(state.registry.queues()).await?.to_vec(),
    };
    queues.sort_by(|a, b| a.name.cmp(&b.name));
    let reads = window.points * queues.len() as u64;
    if reads > MAX_READS {
        return Err(AppError::BadRequest(format!(
            "{} points × {} queues is more than {MAX_READS} bucket reads; ask for one queue or fewer points",
            window.points,
            queues.len()
        )));
    }
    state.limits.charge_history(&caller.subject, reads)?;
    Ok(queues)
}

async fn read_history(
    state: &AppState,
    queue: Option<String>,
    queues: &[QueueInfo],
    window: Window,
) -> Result<History, AppError> {
    let keys = HistoryKeys::new(&state.settings.monitor_prefix, &state.settings.prefix);
    let (points, gaps, gap_jobs_filled) = state
        .within(async {
            let points = series(
                &state.redis,
                &keys,
                queues,
                window.step,
                window.from_ms,
                window.to_ms,
            )
            .await?;
            // Per queue `<queue>` (gaps seen) and `<queue>:filled` (jobs recovered for them).
            if queues.is_empty() {
                return Ok((points, 0, 0));
            }
            let fields: Vec<String> = queues
                .iter()
                .flat_map(|q| [q.name.as_str().to_owned(), format!("{}:filled", q.name)])
                .collect();
            let counts: Vec<Option<u64>> = state.redis.hmget(keys.gaps(), fields).await?;
            let sum =
                |parity: usize| -> u64 { counts.iter().skip(parity).step_by(2).flatten().sum() };
            Ok((points, sum(0), sum(1)))
        })
        .await?;
    Ok(History {
        queue_name: queue,
        step: window.step,
        from: rfc3339_u64(window.from_ms),
        to: rfc3339_u64(window.to_ms),
        source: Source::Collector,
        gaps,
        gap_jobs_filled,
        points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from: Option<&str>, to: Option<&str>, step: Option<Step>) -> HistoryQuery {
        HistoryQuery {
            queue: None,
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            step,
        }
    }

    fn message(result: Result<Window, AppError>) -> String {
        match result {
            Err(AppError::BadRequest(message)) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn a_window_defaults_to_the_last_day_by_minute() {
        let now = 100 * DAY_MS;
        let window = Window::of(&query(None, None, None), now).expect("valid");
        assert_eq!((window.from_ms, window.to_ms), (99 * DAY_MS, now));
        assert_eq!(window.step, Step::Minute);
        assert_eq!(window.points, 1441);
        let week = Window::of(
            &query(Some("0"), Some(&(7 * DAY_MS).to_string()), None),
            now,
        )
        .expect("valid");
        assert_eq!(week.step, Step::Hour);
    }

    #[test]
    fn bad_windows_say_what_is_wrong() {
        assert!(message(Window::of(&query(Some("yesterday"), None, None), 0)).contains("from"));
        assert!(message(Window::of(
            &query(
                Some("2026-11-28T10:00:00Z"),
                Some("2026-11-27T10:00:00Z"),
                None
            ),
            0
        ))
        .contains("after"));
        assert!(message(Window::of(
            &query(Some("0"), Some("86400000000"), Some(Step::Minute)),
            0
        ))
        .contains("points"));
    }
}
