//! `GET /queue/{q}/limits`: a queue's global concurrency and rate limit (setting them is a
//! control action: `control::set_limits`).

use crate::model::QueueLimits;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::bullmq::limits;
use crate::ssr::error::AppError;
use crate::ssr::service::resolve_queue;
use crate::ssr::state::AppState;

/// The queue's limits as BullMQ reads them.
pub async fn queue_limits(state: &AppState, name: &str) -> Result<QueueLimits, AppError> {
    let queue = resolve_queue(state, name).await?;
    let keys = QueueKeys::new(&state.settings.prefix, &queue.name);
    let (concurrency, rate_limit) = state.within(limits::read(&state.redis, &keys)).await?;
    Ok(QueueLimits {
        queue_name: queue.name.as_str().to_owned(),
        concurrency,
        rate_limit,
    })
}
