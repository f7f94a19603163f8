//! Types that cross the wire (REST JSON, server functions, live streams). They are the only
//! serialisable types of the monitor and follow the public contract: camelCase field names.
//!
//! - this module — replies and snapshots;
//! - [`enums`] — the closed word sets (`Period`, `ClearKind`, `Step`, `Source`);
//! - [`ids`] — `JobId`;
//! - [`queries`] — the REST API's query parameters;
//! - [`retry`] — `RetryChanges`, validated once for the form and the server;
//! - [`jobs`] — the job explorer's pages, details, logs, flows and searches;
//! - [`delta`] — what the live stream sends between full snapshots;
//! - [`failures`] — failure groups and bulk operations.

#[macro_use]
pub mod enums;
pub mod alerts;
pub mod delta;
pub mod failures;
pub mod ids;
pub mod jobs;
pub mod queries;
pub mod queue_limits;
pub mod retry;
pub mod schedulers;
pub mod workers;

pub use delta::{MetricsDelta, QueuePatch};
pub use enums::{ClearKind, Period, Source, Step};
pub use failures::{
    BulkAction, BulkPreview, BulkRequest, BulkStarted, BulkTarget, FailureGroup, FailuresReply,
    Operation, OperationState, Operations,
};
pub use ids::JobId;
pub use jobs::{
    FlowNode, FlowTree, JobAction, JobActionReply, JobDetail, JobLogs, JobPage, JobState,
    JobSummary, JobsAnswer, ListOrder, Priorities, PriorityCount, SearchPage, Timeline,
};
pub use queries::{
    AuditQuery, ClearQuery, FailuresQuery, FlowQuery, HistoryQuery, JobListQuery, LiveQuery,
    LogsQuery, SearchQuery, StuckQuery, TrendsQuery,
};
pub use queue_limits::{LimitsChange, QueueLimits, RateLimit};
pub use retry::{Backoff, BackoffKind, FieldError, RetryChanges, MAX_ATTEMPTS, MAX_PRIORITY};
pub use schedulers::{Scheduler, SchedulerKind, SchedulerPage, SchedulersQuery, MAX_SCHEDULERS};
pub use workers::{QueueWorkers, Worker};

use crate::role::Role;
use serde::{Deserialize, Serialize};

/// Who is looking at the dashboard, as established from their token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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

impl StateCounts {
    /// Adds another queue's counts to these (for totals).
    pub fn add(&mut self, other: &StateCounts) {
        self.waiting += other.waiting;
        self.active += other.active;
        self.completed += other.completed;
        self.failed += other.failed;
        self.delayed += other.delayed;
        self.prioritized += other.prioritized;
        self.waiting_children += other.waiting_children;
    }
}

/// One queue as the dashboard lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
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
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    /// When the counts were read, RFC 3339 in UTC with milliseconds.
    pub timestamp: String,
    /// The BullMQ key prefix being watched.
    pub prefix: String,
    /// Queues, sorted by name.
    pub queues: Vec<QueueSummary>,
}

/// One queue in `GET /metrics`: its counts plus its own success and processing rates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueMetrics {
    /// Name, counts, paused flag and version.
    #[serde(flatten)]
    pub summary: QueueSummary,
    /// Percentage (2 decimals) of completed among this queue's most recently finished jobs
    /// (up to [`SUCCESS_RATE_SAMPLE`]); `null` when none finished.
    pub success_rate: Option<f64>,
    /// How many finished jobs `successRate` is based on.
    pub success_rate_sample: u64,
    /// Jobs finished (completed + failed) per minute over the trailing 5 minutes (from the
    /// history: since the start of the minute 4 minutes before the current one).
    pub processing_rate: f64,
    /// Where the two rates come from: `collector` (the monitor's history, exact whatever BullMQ
    /// removed; the success rate then covers the last [`SUCCESS_RATE_SAMPLE`] outcomes the
    /// collector read) or `jobs` (the finished jobs BullMQ still retains).
    pub source: Source,
    /// Workers connected to the queue, as BullMQ's `getWorkers()` finds them (one `CLIENT LIST`
    /// per snapshot for all queues); `null` when Redis refuses `CLIENT LIST` (some managed
    /// services do). Waiting jobs and 0 workers: nothing will run them.
    #[serde(default)]
    pub workers: Option<u64>,
}

impl QueueMetrics {
    /// Whether jobs wait in a running queue that no worker is connected to: the finding the
    /// dashboard marks (unknown workers are no finding).
    pub fn unattended(&self) -> bool {
        self.workers == Some(0) && self.summary.counts.waiting > 0 && !self.summary.paused
    }
}

/// Sums over all queues: the same fields as one queue's counts.
pub type Totals = StateCounts;

/// How many of the most recently finished jobs the success rates are based on.
pub const SUCCESS_RATE_SAMPLE: u64 = 1000;

/// The trailing window of `processingRate`, in minutes.
pub const PROCESSING_RATE_WINDOW_MINUTES: u64 = 5;

/// `GET /metrics`: counts, success rate and throughput for every queue and in total.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// When the numbers were read, RFC 3339 UTC with milliseconds.
    pub timestamp: String,
    /// Every queue, sorted by name.
    pub queues: Vec<QueueMetrics>,
    /// Sums over all queues.
    pub totals: Totals,
    /// Percentage (2 decimals) of completed among the [`SUCCESS_RATE_SAMPLE`] most recently
    /// finished jobs across all queues; `null` when nothing finished.
    pub success_rate: Option<f64>,
    /// How many finished jobs `successRate` is based on (more than the sample size only when
    /// several jobs finished in the very millisecond at the sample's edge).
    pub success_rate_sample: u64,
    /// Jobs finished per minute over the trailing 5 minutes, all queues (the sum of theirs).
    pub processing_rate: f64,
    /// Where the overall success rate comes from: `collector` (every queue's history covers it),
    /// `jobs` (no queue's does) or `mixed` (some queues' rates come from the history; the overall
    /// success rate then comes from the retained jobs of all queues).
    pub source: Source,
}

/// One queue in `GET /trends`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Trend {
    pub queue_name: String,
    pub period: Period,
    /// Jobs that completed inside the period (by `finishedOn`).
    pub successful: u64,
    /// Jobs that failed for the last time inside the period.
    pub failed: u64,
    /// `successful + failed`.
    pub total: u64,
    /// Percentage (2 decimals), `null` when `total` is 0.
    pub success_rate: Option<f64>,
    /// Mean of `finishedOn - processedOn` in ms over the sampled jobs; `null` when none.
    pub avg_processing_time: Option<u64>,
    /// How many of the most recent jobs of the period the average is based on.
    pub avg_processing_time_sample: u64,
    /// Where the numbers come from: `collector` (the monitor's history covers the whole period:
    /// exact even when BullMQ removed the jobs) or `jobs` (the finished jobs BullMQ still
    /// retains).
    pub source: Source,
}

/// How bad a stuck job is, by how long it has been active.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Under 30 minutes.
    Low,
    /// 30 to 60 minutes.
    Medium,
    /// 1 to 2 hours.
    High,
    /// Over 2 hours.
    Critical,
}

impl Severity {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// The severity of a job active for `millis`.
    pub fn for_duration(millis: u64) -> Severity {
        const MINUTE: u64 = 60_000;
        match millis {
            d if d > 120 * MINUTE => Severity::Critical,
            d if d > 60 * MINUTE => Severity::High,
            d if d > 30 * MINUTE => Severity::Medium,
            _ => Severity::Low,
        }
    }
}

/// One job in `GET /alerts/stuck`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StuckJob {
    pub job_id: String,
    pub queue_name: String,
    pub job_name: String,
    /// How long the current attempt has been active, ms.
    pub stuck_duration: u64,
    pub severity: Severity,
    /// `processedOn` as RFC 3339 UTC.
    pub started_at: String,
    /// The job's data, parsed; a string preview when it is not JSON or is too large.
    pub data: serde_json::Value,
    /// Whether `data` was cut to a preview because the payload is large.
    pub data_truncated: bool,
    pub attempts_made: u64,
    /// Whether the job's lock still exists: a worker is still on it. Missing means the worker is
    /// gone and only a stalled check (or an operator) will move the job.
    pub lock_held: bool,
}

/// How many stuck jobs `GET /alerts/stuck` lists when no `limit` is given.
pub const STUCK_DEFAULT_LIMIT: u64 = 500;

/// `GET /alerts/stuck`: the stuck jobs, longest stuck first, bounded.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct StuckReport {
    /// At most `limit` jobs, longest stuck first.
    pub jobs: Vec<StuckJob>,
    /// How many stuck jobs were found in all (`jobs` holds the first `limit` of them).
    pub total: u64,
    /// The most jobs this answer lists.
    pub limit: u64,
    /// Queues with more active jobs than one scan reads: only their oldest
    /// `scannedPerQueue` active jobs were looked at (those are the likeliest stuck; BullMQ
    /// keeps the newest at the head of `active`), so `total` may miss newer stuck ones.
    pub capped_queues: Vec<String>,
    /// How many active jobs are read per queue at most.
    pub scanned_per_queue: u64,
}

/// An active job as the per-queue live stream shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ActiveJobView {
    pub job_id: String,
    pub job_name: String,
    /// `processedOn` as RFC 3339 UTC (empty when unknown).
    pub started_at: String,
    /// How long the current attempt has been running, ms.
    pub running_for: u64,
    /// The job's progress as BullMQ stores it (a number or any JSON), `null` when none.
    pub progress: serde_json::Value,
    pub attempts_made: u64,
    /// The job's data, parsed; a text preview when large or not JSON.
    pub data: serde_json::Value,
    /// Whether `data` was cut to a preview.
    pub data_truncated: bool,
}

/// One snapshot of the per-queue live stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueLive {
    pub timestamp: String,
    /// The queue's counts and paused flag.
    pub queue: QueueSummary,
    /// Its active jobs, longest running first (at most 100).
    pub active_jobs: Vec<ActiveJobView>,
    /// Whether there were more active jobs than shown.
    pub active_jobs_truncated: bool,
}

/// Reply of pause and resume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PauseReply {
    pub success: bool,
    pub queue_name: String,
    /// The queue's paused state after the call.
    pub paused: bool,
    /// Whether the call changed anything (`false`: it already was in that state).
    pub changed: bool,
}

/// Reply of clear.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ClearReply {
    pub success: bool,
    pub queue_name: String,
    /// `completed`, `failed` or `all`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Jobs removed in total.
    pub removed: u64,
    /// Of which completed.
    pub completed: u64,
    /// Of which failed.
    pub failed: u64,
}

/// One control action in the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// The stream entry id (use it as `before` to page further back).
    pub id: String,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Who (`sub`).
    pub subject: String,
    /// With which role.
    pub role: String,
    /// `pause`, `resume`, `clear` or `retry`.
    pub action: String,
    pub queue_name: String,
    pub job_id: Option<String>,
    /// The request's parameters.
    pub params: serde_json::Value,
    /// What happened: the reply, or the error.
    pub result: serde_json::Value,
}

/// A page of the audit trail, newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    /// Pass as `before` for the next (older) page; `null` at the end.
    pub next: Option<String>,
}

/// Reply of retry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RetryReply {
    pub success: bool,
    pub new_job_id: String,
    pub message: String,
    /// What happened to the original: `kept`, `removed` (it had finished) or `failed` (it was
    /// active; its `failedReason` names the new job).
    pub original: String,
    /// `true` when the same retry (same original, same changes, or the same `Idempotency-Key`)
    /// was already made within the last few minutes: no second job was created, and
    /// `newJobId` is the job the first one made.
    #[serde(default)]
    pub repeated: bool,
}

/// One bucket of `GET /history`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct HistoryPoint {
    /// The bucket's start, RFC 3339 UTC.
    pub t: String,
    /// Jobs that completed in the bucket.
    pub completed: u64,
    /// Jobs that failed for the last time in the bucket.
    pub failed: u64,
    /// Mean processing time (ms) of the timed jobs; `null` when none was timed.
    pub avg_processing_time: Option<u64>,
    pub min_processing_time: Option<u64>,
    pub max_processing_time: Option<u64>,
    /// How many of the bucket's jobs have a processing time (a job whose start was read
    /// before the collector ran and whose hash is gone is counted but not timed).
    pub timed_jobs: u64,
    /// Mean time (ms) from added to the start of the finishing attempt.
    pub avg_wait_time: Option<u64>,
    pub max_wait_time: Option<u64>,
}

/// `GET /history`: a series for charts, from the monitor's own collector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct History {
    /// The queue, or `null` for all queues summed.
    pub queue_name: Option<String>,
    /// The bucket width.
    pub step: Step,
    pub from: String,
    pub to: String,
    /// Always `collector`: these numbers come from the monitor's buckets, not from the jobs
    /// BullMQ still retains.
    pub source: Source,
    /// Gaps detected so far in the covered queues' streams (events trimmed before they were
    /// read).
    pub gaps: u64,
    /// Jobs of those gaps counted from the finished jobs BullMQ still retained when the gap was
    /// found; the gaps' other jobs (removed by `removeOnComplete`/`removeOnFail`) are missing.
    pub gap_jobs_filled: u64,
    pub points: Vec<HistoryPoint>,
}

/// Reply of `POST /queues/refresh`: the queues discovery found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct RefreshReply {
    pub success: bool,
    /// Every queue's name, sorted.
    pub queues: Vec<String>,
}

/// The queue page's setup panel: its workers, schedulers and limits in one reading.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueueSetup {
    pub workers: QueueWorkers,
    pub schedulers: SchedulerPage,
    pub limits: QueueLimits,
}
