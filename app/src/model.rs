//! Types that cross the wire (REST JSON, server functions, live streams). They are the only
//! serialisable types of the monitor and follow the public contract: camelCase field names.

use crate::role::Role;
use serde::{Deserialize, Serialize};

/// Who is looking at the dashboard, as established from their token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Viewer {
    /// The token's `sub` claim, or `"unknown"` when it has none.
    pub subject: String,
    /// The highest monitor role the token carries.
    pub role: Role,
    /// When the token expires, in seconds since the Unix epoch.
    pub expires_at: i64,
}

/// Jobs per state for one queue, read from BullMQ's keys.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateCounts {
    /// Ready to run and not started: `wait` + `prioritized` + the legacy v5 `paused` list.
    pub waiting: u64,
    /// Being processed (`active` list).
    pub active: u64,
    /// Finished successfully and still retained (`completed` set).
    pub completed: u64,
    /// Failed for the last time and still retained (`failed` set).
    pub failed: u64,
    /// Scheduled for later (`delayed` set).
    pub delayed: u64,
    /// The part of `waiting` that has a priority (`prioritized` set).
    pub prioritized: u64,
    /// Parents waiting for their children (`waiting-children` set).
    pub waiting_children: u64,
}

/// One queue as the dashboard lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueSummary {
    /// The BullMQ queue name (without prefix).
    pub queue_name: String,
    /// Counts per state.
    #[serde(flatten)]
    pub counts: StateCounts,
    /// Whether the queue is paused, as BullMQ's `isPaused()` says.
    pub paused: bool,
    /// The BullMQ version that last wrote the queue's `meta` hash (e.g. `bullmq:6.7.0`), if known.
    pub bullmq_version: Option<String>,
}

/// The dashboard's first view: every queue with its counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// When the counts were read, RFC 3339 in UTC with milliseconds.
    pub timestamp: String,
    /// The BullMQ key prefix being watched.
    pub prefix: String,
    /// Queues, sorted by name.
    pub queues: Vec<QueueSummary>,
}
