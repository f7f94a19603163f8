//! The workers connected to a queue, as BullMQ's `getWorkers()` finds them.

use serde::{Deserialize, Serialize};

/// One worker connection (a Redis client BullMQ named after the queue).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Worker {
    /// The `name` option the worker was started with, when it had one.
    pub name: Option<String>,
    /// The connection's Redis client name (`<prefix>:<base64 of the queue>[:w:<name>]`).
    pub client_name: String,
    /// The Redis client id.
    pub id: String,
    /// The worker's address as Redis sees it (`ip:port`).
    pub addr: String,
    /// Seconds since the connection opened.
    pub age_seconds: u64,
    /// Seconds since the connection last sent a command (a worker blocked waiting for jobs
    /// counts as busy, not idle).
    pub idle_seconds: u64,
}

/// `GET /queue/{q}/workers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueWorkers {
    pub queue_name: String,
    /// `workers.len()`.
    pub count: usize,
    /// Oldest connection first.
    pub workers: Vec<Worker>,
}
