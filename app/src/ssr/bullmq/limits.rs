//! A queue's global concurrency and rate limit: the `meta` fields `concurrency`, `max` and
//! `duration` that BullMQ's workers read each time they take a job (`getQueueMetadata.lua`), so
//! a change applies to the running workers at their next job.

use crate::model::{LimitsChange, RateLimit};
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::sync::LazyLock;

static LIMITS: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/limits.lua")));

/// The queue's limits as BullMQ's `getGlobalConcurrency()` / `getGlobalRateLimit()` read them
/// (a rate limit needs both fields).
pub async fn read(
    pool: &Pool,
    keys: &QueueKeys,
) -> Result<(Option<u64>, Option<RateLimit>), AppError> {
    let fields: Vec<Option<String>> = pool
        .next()
        .hmget(keys.meta(), vec!["concurrency", "max", "duration"])
        .await?;
    Ok(decode(&fields))
}

/// Applies `change` atomically; `None` when the queue's `meta` is gone.
pub async fn write(
    pool: &Pool,
    keys: &QueueKeys,
    change: &LimitsChange,
) -> Result<Option<(Option<u64>, Option<RateLimit>)>, AppError> {
    let concurrency = match change.concurrency {
        None => String::new(),
        Some(None) => "-".to_owned(),
        Some(Some(value)) => value.to_string(),
    };
    let (max, duration) = match change.rate_limit {
        None => (String::new(), String::new()),
        Some(None) => ("-".to_owned(), String::new()),
        Some(Some(rate)) => (rate.max.to_string(), rate.duration.to_string()),
    };
    let reply: Vec<Value> = LIMITS
        .evalsha_with_reload(
            pool.next(),
            vec![keys.meta()],
            vec![concurrency, max, duration],
        )
        .await?;
    if reply.first().and_then(Value::as_i64) != Some(1) {
        return Ok(None);
    }
    let fields: Vec<Option<String>> = reply[1..].iter().map(Value::as_string).collect();
    Ok(Some(decode(&fields)))
}

/// `[concurrency, max, duration]` as BullMQ reads them: a number, else unset.
fn decode(fields: &[Option<String>]) -> (Option<u64>, Option<RateLimit>) {
    let number = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.as_deref())
            .and_then(|text| text.parse::<u64>().ok())
            .filter(|value| *value > 0)
    };
    let rate = match (number(1), number(2)) {
        (Some(max), Some(duration)) => Some(RateLimit { max, duration }),
        _ => None,
    };
    (number(0), rate)
}
