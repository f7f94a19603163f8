//! `GET /queue/{q}/schedulers`: a queue's job schedulers and legacy repeatable jobs.

use crate::model::{SchedulerPage, MAX_SCHEDULERS};
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::bullmq::schedulers;
use crate::ssr::error::AppError;
use crate::ssr::service::resolve_queue;
use crate::ssr::state::AppState;

/// Entries listed when the request names no `limit`.
pub const DEFAULT_LIMIT: u64 = 100;

/// The queue's entries, soonest next run first.
pub async fn queue_schedulers(
    state: &AppState,
    name: &str,
    limit: Option<u64>,
) -> Result<SchedulerPage, AppError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_SCHEDULERS).contains(&limit) {
        return Err(AppError::BadRequest(format!(
            "limit must be 1 to {MAX_SCHEDULERS}, not {limit}"
        )));
    }
    let queue = resolve_queue(state, name).await?;
    let keys = QueueKeys::new(&state.settings.prefix, &queue.name);
    let (total, schedulers) = state
        .within(schedulers::read(
            &state.redis,
            &keys,
            limit,
            &state.settings.redactor,
        ))
        .await?;
    Ok(SchedulerPage {
        queue_name: queue.name.as_str().to_owned(),
        total,
        schedulers,
    })
}
