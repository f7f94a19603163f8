//! Operations the monitor offers, shared by REST handlers and server functions so both answer
//! with the same data. Each takes the [`AppState`] and returns wire types or an [`AppError`].

use crate::model::Overview;
use crate::ssr::bullmq::counts::read_summaries;
use crate::ssr::error::AppError;
use crate::ssr::redis::within;
use crate::ssr::state::AppState;

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

/// The current time as RFC 3339, UTC, milliseconds (`2026-01-22T10:30:00.000Z`).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
