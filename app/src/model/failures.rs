//! Failure groups (`GET /failures`) and bulk operations (`POST /queue/{q}/bulk`,
//! `GET|DELETE /operations/{id}`): what crosses the wire.

use crate::model::RetryChanges;
use serde::{Deserialize, Serialize};

/// How many hours a group's sparkline shows (the last ones, oldest first).
pub const SPARK_HOURS: usize = 24;

/// Where a group's example comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ExampleJob {
    pub queue_name: String,
    pub id: String,
}

/// A group's numbers in one queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GroupQueue {
    pub queue_name: String,
    /// Failures in the window.
    pub count: u64,
    /// Failures counted ever (since the collector started).
    pub total: u64,
    /// Failed jobs of the group BullMQ still keeps in this queue.
    pub retained: u64,
}

/// Failures of one cause.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FailureGroup {
    /// The fingerprint: pass as `failureGroup` to a bulk operation.
    pub id: String,
    /// The job name the group is of (empty when BullMQ removed the jobs before they were read).
    pub name: String,
    /// `failedReason` with what varies replaced by placeholders.
    pub message: String,
    /// The top frame of the newest stack trace (no line or column).
    pub frame: String,
    /// One real `failedReason` (the newest seen).
    pub example: String,
    pub example_job: Option<ExampleJob>,
    /// Failures in the window (`since`).
    pub count: u64,
    /// Failures counted ever.
    pub total: u64,
    /// Failed jobs of the group BullMQ still keeps (those an action can reach).
    pub retained: u64,
    /// RFC 3339.
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
    pub queues: Vec<GroupQueue>,
    /// Failures per hour over the last [`SPARK_HOURS`] hours, oldest first.
    pub hourly: Vec<u64>,
}

/// `GET /failures`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FailuresReply {
    /// Most failures in the window first; then most retained.
    pub groups: Vec<FailureGroup>,
    /// Where the window starts (RFC 3339): the start of the hour `since` fell in.
    pub since: String,
    /// Whether a history collector keeps the groups now (without one they do not move).
    pub collecting: bool,
}

wire_enum! {
    /// What a bulk operation does to each job.
    BulkAction, field "action", default Retry {
        /// Failed (or completed) jobs back in line, in place (BullMQ's `job.retry()`).
        Retry => "retry",
        /// Jobs and their children removed (BullMQ's `job.remove()`); never a locked one.
        Remove => "remove",
        /// Delayed jobs ready now (BullMQ's `job.promote()`).
        Promote => "promote",
        /// For each finished job, a new job made from it with `changes` (the one-job retry
        /// with changes: data overrides, priority, attempts, back-off; the original kept or
        /// removed).
        RetryWithChanges => "retry-with-changes",
    }
}

impl BulkAction {
    /// The past tense, for messages and the audit trail.
    pub fn done(self) -> &'static str {
        match self {
            BulkAction::Retry => "retried",
            BulkAction::Remove => "removed",
            BulkAction::Promote => "promoted",
            BulkAction::RetryWithChanges => "retried with changes",
        }
    }

    /// Whether it takes the jobs a retry takes (failed or completed).
    pub fn retries(self) -> bool {
        matches!(self, BulkAction::Retry | BulkAction::RetryWithChanges)
    }
}

/// The jobs a bulk operation acts on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", untagged)]
pub enum BulkTarget {
    /// These jobs (at most [`MAX_BULK_IDS`]).
    Ids { ids: Vec<String> },
    /// The retained failed jobs of a failure group, in this queue.
    FailureGroup {
        #[serde(rename = "failureGroup")]
        failure_group: String,
    },
    /// The jobs of a state, optionally narrowed by a search (the explorer's syntax).
    State {
        state: String,
        #[serde(default)]
        search: Option<String>,
    },
}

/// The most ids a target may list.
pub const MAX_BULK_IDS: usize = 10_000;
/// The most jobs one operation acts on.
pub const MAX_BULK_JOBS: u64 = 200_000;
/// How many jobs a dry run shows.
pub const BULK_SAMPLE: usize = 20;

/// `POST /queue/{q}/bulk`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BulkRequest {
    pub action: BulkAction,
    pub target: BulkTarget,
    /// Absent or true: only count. False: run (with `expect`).
    #[serde(default)]
    pub dry_run: Option<bool>,
    /// The dry run's `count`; required to run.
    #[serde(default)]
    pub expect: Option<u64>,
    /// What `retry-with-changes` changes (required for it, refused for the other actions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<RetryChanges>,
}

impl BulkRequest {
    /// The request from a JSON body; a refusal says what the body must look like.
    pub fn from_body(body: &[u8]) -> Result<BulkRequest, String> {
        const SHAPE: &str = r#"{"action": "retry"|"remove"|"promote"|"retry-with-changes", "target": {"ids": [...]} | {"state": "failed", "search": "..."} | {"failureGroup": "<id>"}, "dryRun": true|false, "expect": <the dry run's count>, "changes": {...} (retry-with-changes only)}"#;
        let request: BulkRequest = serde_json::from_slice(body).map_err(|error| {
            let reason = error.to_string();
            let reason = if reason.contains("did not match any variant") {
                "target must hold ids, a state (and a search) or a failureGroup".to_owned()
            } else {
                reason
            };
            format!("the body must be {SHAPE}: {reason}")
        })?;
        request.check_changes()?;
        Ok(request)
    }

    /// `changes` goes with `retry-with-changes`, and only with it.
    pub fn check_changes(&self) -> Result<(), String> {
        match (self.action, &self.changes) {
            (BulkAction::RetryWithChanges, None) => Err(
                "retry-with-changes needs `changes`: {\"priority\", \"attempts\", \"backoff\", \"dataOverrides\", \"removeOriginal\"} (an empty object retries each job as it was, as a new job)".into(),
            ),
            (BulkAction::RetryWithChanges, Some(_)) | (_, None) => Ok(()),
            (action, Some(_)) => Err(format!(
                "`changes` goes only with action retry-with-changes (the action is {action})"
            )),
        }
    }
}

/// How far a target may have grown between the dry run and the run: 10 % of `expect`, at
/// least 1 (a target of 0 may not grow at all).
pub fn allowed_growth(expect: u64) -> u64 {
    if expect == 0 {
        0
    } else {
        expect.div_ceil(10)
    }
}

/// A dry run's answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BulkPreview {
    /// Jobs the action would act on now.
    pub count: u64,
    /// Some of their ids.
    pub sample: Vec<String>,
    /// The largest `count` a run with `expect: count` accepts.
    pub max_accepted: u64,
}

/// A run's answer (202).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct BulkStarted {
    pub operation_id: String,
    pub total: u64,
}

wire_enum! {
    /// What `POST /queues/bulk` does to every queue.
    QueuesAction, field "action", default Pause {
        Pause => "pause",
        Resume => "resume",
    }
}

/// `POST /queues/bulk`: pause or resume every queue (that is not already so).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueuesBulkRequest {
    pub action: QueuesAction,
    /// Absent or true: only count. False: act (with `expect`).
    #[serde(default)]
    pub dry_run: Option<bool>,
    #[serde(default)]
    pub expect: Option<u64>,
}

/// Its answer: the queues it would change (dry run) or changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueuesBulkReply {
    pub count: u64,
    pub queues: Vec<String>,
    pub dry_run: bool,
}

/// A bulk request's answer for the dashboard's server function.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum BulkAnswer {
    Preview(BulkPreview),
    Started(BulkStarted),
}

wire_enum! {
    /// Where an operation is.
    OperationState, field "state", default Running {
        Running => "running",
        Done => "done",
        Cancelled => "cancelled",
        Failed => "failed",
    }
}

/// `GET /operations/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub id: String,
    pub queue_name: String,
    pub action: BulkAction,
    pub state: OperationState,
    pub total: u64,
    /// Jobs acted on.
    pub done: u64,
    /// Jobs that were no longer where the target found them (a worker took them, someone
    /// removed them): not acted on.
    pub skipped: u64,
    /// Who started it (the token's subject).
    pub by: String,
    /// RFC 3339.
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// What a `retry-with-changes` operation changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<RetryChanges>,
}

/// `GET /operations`: the running ones and the latest finished.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Operations {
    pub operations: Vec<Operation>,
}
