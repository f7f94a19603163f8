//! The job explorer's wire types: pages of jobs, a job's detail, its logs, its flow, search
//! results, the priority histogram and what an action on one job did. Field names are BullMQ's
//! own job JSON names (`id`, `name`, `data`, `opts`, `progress`, `attemptsMade`,
//! `attemptsStarted`, `timestamp`, `processedOn`, `finishedOn`, `delay`, `priority`,
//! `failedReason`, `stacktrace`, `returnvalue`, `parentKey`) plus `state`, so people who know
//! BullMQ read them without a glossary. Times are epoch milliseconds, as BullMQ keeps them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

wire_enum! {
    /// Where a job is, as BullMQ's `job.getState()` names it (`paused` is BullMQ 5's legacy
    /// list; `unknown` is a job hash in no state, as `getState` says).
    JobState, field "state", default Waiting {
        Waiting => "waiting",
        Prioritized => "prioritized",
        Active => "active",
        Delayed => "delayed",
        Completed => "completed",
        Failed => "failed",
        WaitingChildren => "waiting-children",
        Paused => "paused",
        Unknown => "unknown",
    }
}

impl JobState {
    /// The states a list can show, in the order a search walks them (the liveliest first).
    pub const LISTED: [JobState; 8] = [
        JobState::Active,
        JobState::Waiting,
        JobState::Prioritized,
        JobState::Delayed,
        JobState::WaitingChildren,
        JobState::Failed,
        JobState::Completed,
        JobState::Paused,
    ];
}

wire_enum! {
    /// A list's order: `desc` is BullMQ's default (`getJobs` without `asc`: the head of a list,
    /// the highest score of a sorted set first), `asc` the other way.
    ListOrder, field "order", default Desc {
        Desc => "desc",
        Asc => "asc",
    }
}

wire_enum! {
    /// An action on one job.
    JobAction, field "action", default Retry {
        /// A failed or completed job back in line, in place (`job.retry(state)`).
        Retry => "retry",
        /// A delayed job ready now (`job.promote()`).
        Promote => "promote",
        /// The job and its children gone (`job.remove()`).
        Remove => "remove",
    }
}

/// One job in a list: what a row shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobSummary {
    pub id: String,
    /// The job's queue (set in searches across queues).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_name: Option<String>,
    pub name: String,
    pub state: JobState,
    /// When it was added.
    pub timestamp: Option<i64>,
    /// When its current (or last) attempt started.
    pub processed_on: Option<i64>,
    pub finished_on: Option<i64>,
    /// The delay it was added with (ms).
    pub delay: Option<i64>,
    /// When a delayed job is due.
    pub delay_until: Option<i64>,
    pub priority: u64,
    pub progress: Value,
    pub attempts_made: u64,
    pub attempts_started: u64,
    /// The first line of `failedReason` (at most 300 characters).
    pub failed_reason: Option<String>,
    /// The data, parsed when small; a text preview when large (`dataTruncated`).
    pub data: Value,
    pub data_truncated: bool,
}

/// `GET /queue/{q}/jobs`: one page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobPage {
    pub jobs: Vec<JobSummary>,
    /// Jobs in the state (the list's length).
    pub total: u64,
    /// Pass as `cursor` for the next page; `null` at the end.
    pub next_cursor: Option<String>,
}

/// `GET /queue/{q}/jobs`: a page of one state, or (with `search`) a search's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum JobsAnswer {
    Search(SearchPage),
    Page(JobPage),
}

// In the OpenAPI description: `anyOf` (a derive says `oneOf`, which a search's answer breaks:
// it is also a valid page, whose schema does not forbid more fields).
#[cfg(feature = "ssr")]
impl utoipa::PartialSchema for JobsAnswer {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::AnyOfBuilder;
        use utoipa::openapi::Ref;
        AnyOfBuilder::new()
            .item(Ref::from_schema_name("SearchPage"))
            .item(Ref::from_schema_name("JobPage"))
            .description(Some(
                "A page of one state, or (with `search`) a search's answer (with `scanned` and `complete`).",
            ))
            .into()
    }
}

#[cfg(feature = "ssr")]
impl utoipa::ToSchema for JobsAnswer {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        use utoipa::PartialSchema;
        schemas.push((SearchPage::name().into_owned(), SearchPage::schema()));
        schemas.push((JobPage::name().into_owned(), JobPage::schema()));
        SearchPage::schemas(schemas);
        JobPage::schemas(schemas);
    }
}

/// A job's way through its states.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub added: Option<i64>,
    /// When a delay made it due.
    pub delayed_until: Option<i64>,
    /// The start of its current (or last) attempt.
    pub started: Option<i64>,
    pub finished: Option<i64>,
    /// From added (or due) to started, ms.
    pub wait_ms: Option<i64>,
    /// From started to finished (or now, while active), ms.
    pub run_ms: Option<i64>,
}

/// `GET /queue/{q}/jobs/{id}`: everything BullMQ's `Job.fromId` gives, its state, a timeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobDetail {
    pub id: String,
    pub queue_name: String,
    pub name: String,
    pub state: JobState,
    /// Parsed; a text preview when over 64 KiB (`dataTruncated`; the whole value is at
    /// `…/data`).
    pub data: Value,
    pub data_truncated: bool,
    pub opts: Value,
    pub progress: Value,
    pub returnvalue: Value,
    pub returnvalue_truncated: bool,
    pub failed_reason: Option<String>,
    /// One entry per failed attempt, newest first.
    pub stacktrace: Vec<String>,
    pub attempts_made: u64,
    pub attempts_started: u64,
    pub stalled_counter: u64,
    pub processed_by: Option<String>,
    pub deduplication_id: Option<String>,
    /// The job scheduler (or legacy repeatable) that made it.
    pub repeat_job_key: Option<String>,
    /// A failure BullMQ deferred to the job's next pickup (`defa`).
    pub deferred_failure: Option<String>,
    /// The parent's full key, when the job is a flow's child.
    pub parent_key: Option<String>,
    /// `{id, queueKey, …}` as BullMQ stores it.
    pub parent: Option<Value>,
    pub timestamp: Option<i64>,
    pub processed_on: Option<i64>,
    pub finished_on: Option<i64>,
    pub delay: Option<i64>,
    pub priority: u64,
    pub timeline: Timeline,
    /// How many log lines it has.
    pub logs_count: u64,
    /// How many children it waits for (`:dependencies`), and has had processed.
    pub pending_children: u64,
    pub processed_children: u64,
}

/// `GET /queue/{q}/jobs/{id}/logs`: as BullMQ's `getJobLogs`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobLogs {
    pub logs: Vec<String>,
    /// How many lines the job has in all.
    pub count: u64,
}

/// One job of a flow's tree.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FlowNode {
    pub queue_name: String,
    /// The BullMQ prefix of its queue (flows may span prefixes).
    pub prefix: String,
    pub id: String,
    pub name: String,
    pub state: JobState,
    pub progress: Value,
    /// Its children: pending, processed, failed and ignored.
    pub children_count: u64,
    #[cfg_attr(feature = "ssr", schema(no_recursion))]
    pub children: Vec<FlowNode>,
    /// Children not shown: past `maxChildren`, or below `depth`, or past the node budget.
    pub children_cut: u64,
    /// The job this tree was asked for.
    pub focus: bool,
}

/// `GET /queue/{q}/jobs/{id}/flow`: the tree the job belongs to, from its root.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FlowTree {
    pub root: FlowNode,
    /// Nodes shown.
    pub nodes: u64,
    /// Whether anything was left out (see each node's `childrenCut`, and `rootCut`).
    pub truncated: bool,
    /// The walk up stopped before the root (a parent gone, or more levels than `depth`).
    pub root_cut: bool,
}

/// A search's answer: what matched in the part scanned, and how to scan on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SearchPage {
    pub jobs: Vec<JobSummary>,
    /// Jobs looked at by this request.
    pub scanned: u64,
    /// Jobs in what the search covers (the states and queues asked for), at the start.
    pub total: u64,
    /// Whether the scan reached the end: no further match exists (but in jobs added since).
    pub complete: bool,
    /// Pass as `cursor` to scan further; `null` when complete.
    pub next_cursor: Option<String>,
}

/// Prioritized jobs per priority (priority 0 are the `wait` list's).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PriorityCount {
    pub priority: u64,
    pub count: u64,
}

/// `GET /queue/{q}/priorities`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Priorities {
    /// Lowest priority number (the first to run) first.
    pub priorities: Vec<PriorityCount>,
    /// Whether more distinct priorities exist than listed.
    pub truncated: bool,
}

/// What an action on one job did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct JobActionReply {
    pub success: bool,
    pub queue_name: String,
    pub job_id: String,
    pub action: JobAction,
    /// Where the job was before.
    pub from: JobState,
    /// Where it is now (`unknown` once removed).
    pub to: JobState,
    /// The same, in words.
    pub message: String,
}

/// The largest data or return value a detail shows parsed; larger ones are a preview.
pub const DETAIL_VALUE_BYTES: usize = 64 * 1024;
/// The largest value served whole (`…/data`, `…/returnvalue`).
pub const FULL_VALUE_BYTES: usize = 8 * 1024 * 1024;
/// Page sizes.
pub const DEFAULT_PAGE: u64 = 50;
pub const MAX_PAGE: u64 = 1000;
/// Search bounds.
pub const DEFAULT_SCAN: u64 = 10_000;
pub const MAX_SCAN: u64 = 100_000;
