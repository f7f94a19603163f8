//! A queue's job schedulers and legacy repeatable jobs (`GET /queue/{q}/schedulers`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What made the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum SchedulerKind {
    /// `upsertJobScheduler` (BullMQ ≥ 5.16): its hash holds the iteration count `ic`.
    Scheduler,
    /// `add(…, {repeat})`, BullMQ's older repeatable jobs.
    Legacy,
}

/// One entry of the queue's `repeat` set, as BullMQ's `getJobSchedulers()` /
/// `getRepeatableJobs()` describe it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Scheduler {
    /// The scheduler id (or the legacy repeat key).
    pub key: String,
    pub kind: SchedulerKind,
    /// The name of the jobs it makes.
    pub name: Option<String>,
    /// When it runs next (epoch ms): the set's score.
    pub next: Option<i64>,
    /// A cron pattern…
    pub pattern: Option<String>,
    /// …or a period in ms.
    pub every: Option<u64>,
    /// The pattern's time zone.
    pub tz: Option<String>,
    /// How many jobs it may make in all.
    pub limit: Option<u64>,
    pub start_date: Option<i64>,
    pub end_date: Option<i64>,
    pub offset: Option<i64>,
    /// Jobs made so far (schedulers only).
    pub iteration_count: Option<u64>,
    /// The job id a legacy repeatable was given, if any.
    pub job_id: Option<String>,
    /// The template of the jobs it makes: `{data, opts}` as JSON (data masked by
    /// `REDACT_PATHS`); `null` when it has none.
    pub template: Option<Value>,
    /// Its hash is missing or empty: BullMQ's `getJobSchedulers()` deletes such an entry when it
    /// meets it; the monitor only shows it.
    pub orphan: bool,
}

/// `GET /queue/{q}/schedulers`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SchedulerPage {
    pub queue_name: String,
    /// Entries in the queue's `repeat` set.
    pub total: u64,
    /// Soonest next run first, at most `limit`.
    pub schedulers: Vec<Scheduler>,
}

/// The most entries one request lists.
pub const MAX_SCHEDULERS: u64 = 1000;

/// The query of `GET /queue/{q}/schedulers`: `limit` entries (1 to [`MAX_SCHEDULERS`], 100
/// when absent).
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct SchedulersQuery {
    pub limit: Option<u64>,
}
