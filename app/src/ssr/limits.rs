//! Per-user resource limits, so that one user (a runaway script, a forgotten tab farm, a
//! stolen MODERATOR token) cannot take the monitor or Redis from everyone else:
//!
//! - live streams open at once, per user (`sub`) and in total;
//! - history bucket reads per user over time (a token bucket refilled every minute's worth),
//!   on top of the per-request bound in `history::read`.
//!
//! Over a limit the request gets 429 JSON with `Retry-After`. Limits are per instance (each
//! keeps its own counts): behind a load balancer a user gets the limit once per instance, which
//! still bounds what they can cost.

use crate::ssr::error::AppError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a refused stream should wait before trying again.
const STREAM_RETRY_AFTER: Duration = Duration::from_secs(10);

/// At most this many users' history budgets are remembered; past it, full budgets are
/// forgotten (a forgotten budget is a full one, so nothing is lost by forgetting them).
const MAX_TRACKED_USERS: usize = 10_000;

/// The configured limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitSettings {
    /// Live streams one user may hold open at once.
    pub streams_per_user: usize,
    /// Live streams this instance serves at once, all users together.
    pub streams_total: usize,
    /// History bucket reads one user may cause per minute.
    pub history_reads_per_minute: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            streams_per_user: 20,
            streams_total: 2_000,
            history_reads_per_minute: 600_000,
        }
    }
}

/// A user's history budget: tokens refilled continuously up to a minute's worth.
#[derive(Clone, Copy)]
struct Budget {
    tokens: f64,
    at: Instant,
}

#[derive(Default)]
struct Streams {
    total: usize,
    per_user: HashMap<String, usize>,
}

/// The limits of one instance.
pub struct Limits {
    settings: LimitSettings,
    streams: Mutex<Streams>,
    history: Mutex<HashMap<String, Budget>>,
}

/// One open live stream; dropping it (the stream ended) gives its place back.
pub struct StreamPermit {
    limits: Arc<Limits>,
    subject: String,
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut streams = self
            .limits
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        streams.total = streams.total.saturating_sub(1);
        if let Some(count) = streams.per_user.get_mut(&self.subject) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                streams.per_user.remove(&self.subject);
            }
        }
    }
}

impl Limits {
    pub fn new(settings: LimitSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            streams: Mutex::default(),
            history: Mutex::default(),
        })
    }

    /// Takes a place for one more live stream of `subject`, or says why there is none.
    pub fn open_stream(self: &Arc<Self>, subject: &str) -> Result<StreamPermit, AppError> {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        let mine = streams.per_user.get(subject).copied().unwrap_or(0);
        if mine >= self.settings.streams_per_user {
            return Err(AppError::TooManyRequests {
                message: format!(
                    "you have {mine} live streams open; at most {} per user (close a dashboard tab)",
                    self.settings.streams_per_user
                ),
                retry_after: STREAM_RETRY_AFTER,
            });
        }
        if streams.total >= self.settings.streams_total {
            return Err(AppError::TooManyRequests {
                message: format!(
                    "this server already serves {} live streams, its limit; poll instead or try again later",
                    streams.total
                ),
                retry_after: STREAM_RETRY_AFTER,
            });
        }
        streams.total += 1;
        *streams.per_user.entry(subject.to_owned()).or_default() += 1;
        Ok(StreamPermit {
            limits: self.clone(),
            subject: subject.to_owned(),
        })
    }

    /// Live streams open now, all users together.
    pub fn open_streams(&self) -> usize {
        self.streams.lock().map(|s| s.total).unwrap_or(0)
    }

    /// Charges `reads` history bucket reads to `subject`, or refuses them with the time after
    /// which the budget holds enough again.
    pub fn charge_history(&self, subject: &str, reads: u64) -> Result<(), AppError> {
        self.charge_history_at(subject, reads, Instant::now())
    }

    fn charge_history_at(&self, subject: &str, reads: u64, now: Instant) -> Result<(), AppError> {
        let capacity = self.settings.history_reads_per_minute as f64;
        let per_second = capacity / 60.0;
        let mut budgets = self.history.lock().unwrap_or_else(|e| e.into_inner());
        if budgets.len() >= MAX_TRACKED_USERS && !budgets.contains_key(subject) {
            budgets.retain(|_, budget| {
                budget.tokens + now.duration_since(budget.at).as_secs_f64() * per_second < capacity
            });
        }
        let budget = budgets.entry(subject.to_owned()).or_insert(Budget {
            tokens: capacity,
            at: now,
        });
        let refilled = now.saturating_duration_since(budget.at).as_secs_f64() * per_second;
        budget.tokens = (budget.tokens + refilled).min(capacity);
        budget.at = now;
        let wanted = reads as f64;
        if budget.tokens >= wanted {
            budget.tokens -= wanted;
            return Ok(());
        }
        let wait = if per_second > 0.0 {
            (wanted - budget.tokens) / per_second
        } else {
            60.0
        };
        Err(AppError::TooManyRequests {
            message: format!(
                "history reads over your limit ({} bucket reads per minute); this request needs {reads}",
                self.settings.history_reads_per_minute
            ),
            retry_after: Duration::from_secs_f64(wait.clamp(1.0, 3600.0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_user: usize, total: usize, per_minute: u64) -> Arc<Limits> {
        Limits::new(LimitSettings {
            streams_per_user: per_user,
            streams_total: total,
            history_reads_per_minute: per_minute,
        })
    }

    #[test]
    fn streams_are_limited_per_user_and_in_total_and_freed_when_they_end() {
        let limits = limits(2, 3, 1);
        let a1 = limits.open_stream("a").expect("first");
        let _a2 = limits.open_stream("a").expect("second");
        let refused = limits.open_stream("a").err().expect("third refused");
        assert_eq!(refused.retry_after_secs(), Some(10));
        let _b1 = limits.open_stream("b").expect("another user");
        assert!(limits.open_stream("c").is_err(), "total reached");
        drop(a1);
        assert_eq!(limits.open_streams(), 2);
        assert!(limits.open_stream("c").is_ok());
    }

    #[test]
    fn history_reads_refill_over_a_minute() {
        let limits = limits(1, 1, 600);
        let start = Instant::now();
        limits.charge_history_at("a", 500, start).expect("within");
        let refused = limits
            .charge_history_at("a", 200, start)
            .expect_err("over the budget");
        // 100 tokens left, 100 more needed at 10 per second.
        assert_eq!(refused.retry_after_secs(), Some(10));
        assert!(
            limits.charge_history_at("b", 600, start).is_ok(),
            "per user"
        );
        limits
            .charge_history_at("a", 200, start + Duration::from_secs(10))
            .expect("refilled");
    }
}
