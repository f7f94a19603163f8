//! Pipelines: many commands, one round trip. Every multi-queue read of the monitor goes
//! through [`run_pipeline`], so a dropped connection or a timeout is one error for the whole
//! read (503), while one odd key's error stays in its slot for the caller to tolerate.

use crate::ssr::error::AppError;
use fred::clients::Pipeline;
use fred::prelude::*;

/// Runs a pipeline and checks it answered every command; a connection failure fails the whole
/// read, while a single command's error stays in its slot for the caller to tolerate.
pub async fn run_pipeline(
    pipeline: &Pipeline<Client>,
    expected: usize,
) -> Result<Vec<Result<Value, Error>>, AppError> {
    let replies: Vec<Result<Value, Error>> = pipeline.try_all().await;
    if replies.len() != expected {
        return Err(replies
            .into_iter()
            .find_map(Result::err)
            .map(AppError::from)
            .unwrap_or_else(|| {
                AppError::Internal("Redis pipeline returned too few replies".into())
            }));
    }
    // A timeout or a dropped connection can also come back as one error per command, with the
    // count right: that is Redis being unavailable (503), not a queue with odd keys, and must not
    // turn into zeros or missing queues.
    if let Some(unavailable) = replies.iter().find_map(|reply| {
        reply
            .as_ref()
            .err()
            .map(|error| AppError::from(error.clone()))
            .filter(|error| matches!(error, AppError::RedisUnavailable(_)))
    }) {
        return Err(unavailable);
    }
    Ok(replies)
}

/// A reply as text, when it is one.
pub fn reply_text(reply: Option<&Result<Value, Error>>) -> Option<String> {
    match reply {
        Some(Ok(value)) => value.as_string(),
        _ => None,
    }
}
