//! The workers connected to the queues (`GET /queue/{q}/workers`; the count per queue in every
//! metrics snapshot, hence the dashboard's table and `bullmq_monitor_queue_workers`): one
//! `CLIENT LIST` per Redis (per primary, in a cluster) for any number of queues.

use crate::model::QueueWorkers;
use crate::ssr::bullmq::keys::QueueName;
use crate::ssr::bullmq::workers::{client_lists, workers_by_queue};
use crate::ssr::error::AppError;
use crate::ssr::service::resolve_queue;
use crate::ssr::state::AppState;
use std::collections::HashMap;

/// One queue's workers, oldest connection first.
pub async fn queue_workers(state: &AppState, name: &str) -> Result<QueueWorkers, AppError> {
    let queue = resolve_queue(state, name).await?;
    let lists = state.within(client_lists(&state.redis)).await?;
    let workers = workers_by_queue(
        &lists,
        &state.settings.prefix,
        std::slice::from_ref(&queue.name),
    )
    .remove(&queue.name)
    .unwrap_or_default();
    Ok(QueueWorkers {
        queue_name: queue.name.as_str().to_owned(),
        count: workers.len(),
        workers,
    })
}

/// How many workers each of `queues` has (queues with none are absent).
pub async fn worker_counts(
    state: &AppState,
    queues: &[QueueName],
) -> Result<HashMap<QueueName, usize>, AppError> {
    let lists = state.within(client_lists(&state.redis)).await?;
    Ok(workers_by_queue(&lists, &state.settings.prefix, queues)
        .into_iter()
        .map(|(queue, workers)| (queue, workers.len()))
        .collect())
}
