//! The job explorer's Redis layer: pages of a state's jobs, a job's detail, whole values and
//! logs, flows, searches, the priority histogram, and the three actions on one job (retry in
//! place, promote, remove) with BullMQ's own semantics.
//!
//! - [`page`] — one page per round trip, by cursor (stable while workers move jobs);
//! - [`detail`] — a job as `Job.fromId` reads it, its state, timeline, values and logs;
//! - [`flow`] — the tree a job belongs to, walked up to its root and down, bounded;
//! - [`query`] — the search syntax, parsed (errors say where);
//! - [`search`] — bounded scans, matching inside Redis;
//! - [`actions`] — retry, promote, remove.
//!
//! Every script reads or changes one queue's keys (plus, for flows and removals, the keys
//! BullMQ itself links to: a parent or children, which BullMQ requires to share a hash tag on a
//! cluster). `lua/common.lua` (row fields) and `lua/state.lua` (`getState`, "is it a job")
//! are prepended to the scripts that use them.

pub mod actions;
pub mod detail;
pub mod flow;
pub mod page;
pub mod query;
pub mod search;

use crate::model::{JobState, JobSummary};
use crate::ssr::bullmq::discovery::{BullVersion, QueueInfo};
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::redact::Redactor;
use fred::prelude::*;
use serde_json::Value as Json;

const COMMON: &str = include_str!("lua/common.lua");
const STATE: &str = include_str!("lua/state.lua");

/// What every explorer read needs: the pool, the BullMQ prefix, and what to redact.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    pub pool: &'a Pool,
    pub prefix: &'a str,
    pub redactor: &'a Redactor,
}

/// The most bytes of a job's `data` a row shows (parsed when it fits, else a text preview).
pub const PREVIEW_BYTES: usize = 4096;

/// How a state is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    List,
    Zset,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::List => "list",
            Kind::Zset => "zset",
        }
    }
}

/// The keys of a state, in the order BullMQ's `getJobs([state])` reads them: a BullMQ 5 queue's
/// `waiting` is its `wait` list and then its legacy `paused` list (v5's `getJobs` adds `paused`
/// to `waiting`); `unknown` is no list.
pub fn state_keys(
    keys: &QueueKeys,
    queue: &QueueInfo,
    state: JobState,
) -> Result<(Kind, Vec<String>), AppError> {
    Ok(match state {
        JobState::Waiting if queue.bull_version() == BullVersion::V6 => {
            (Kind::List, vec![keys.wait()])
        }
        JobState::Waiting => (Kind::List, vec![keys.wait(), keys.paused()]),
        JobState::Paused => (Kind::List, vec![keys.paused()]),
        JobState::Active => (Kind::List, vec![keys.active()]),
        JobState::Prioritized => (Kind::Zset, vec![keys.prioritized()]),
        JobState::Delayed => (Kind::Zset, vec![keys.delayed()]),
        JobState::Completed => (Kind::Zset, vec![keys.completed()]),
        JobState::Failed => (Kind::Zset, vec![keys.failed()]),
        JobState::WaitingChildren => (Kind::Zset, vec![keys.waiting_children()]),
        JobState::Unknown => {
            return Err(AppError::BadRequest(
                "state must be one of waiting, prioritized, active, delayed, completed, failed, waiting-children, paused".into(),
            ))
        }
    })
}

/// A script made of shared parts and its own text.
fn script(parts: &[&str]) -> fred::types::scripts::Script {
    fred::types::scripts::Script::from_lua(parts.join("\n"))
}

/// A reply's element as text (empty for nil).
fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_string).unwrap_or_default()
}

/// A reply's element as a number, if it is one.
fn number(value: Option<&Value>) -> Option<i64> {
    let value = value?;
    value.as_i64().or_else(|| {
        value
            .as_string()
            .and_then(|t| t.parse::<f64>().ok())
            .map(|f| f as i64)
    })
}

/// A stored JSON text parsed (text that is no JSON stays text; empty is `null`).
fn parsed(raw: &str) -> Json {
    if raw.is_empty() {
        return Json::Null;
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Json::String(raw.to_owned()))
}

/// A value for display: parsed and masked when whole; when cut (`full_length` over what was
/// read), a text preview — or, with redaction on, only its size, since a cut text cannot be
/// masked safely.
fn shown(raw: &str, full_length: usize, cap: usize, redactor: &Redactor) -> (Json, bool) {
    if full_length <= cap {
        let mut value = parsed(raw);
        redactor.mask(&mut value);
        return (value, false);
    }
    if redactor.is_active() {
        return (
            serde_json::json!({"truncated": true, "bytes": full_length}),
            true,
        );
    }
    let mut end = cap.min(raw.len());
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    (Json::String(format!("{}…", &raw[..end])), true)
}

/// The delay-until of a job: its `delayed` score's time (score = ms × 4096 + counter), else
/// added + delay when it was added with one.
fn delay_until(score: Option<i64>, timestamp: Option<i64>, delay: Option<i64>) -> Option<i64> {
    match (score, timestamp, delay) {
        (Some(score), _, _) => Some(score / 4096),
        (None, Some(added), Some(delay)) if delay > 0 => Some(added + delay),
        _ => None,
    }
}

/// A row of `common.lua`'s `summary` (after `id` and `score`) as a [`JobSummary`].
fn summary_from_row(
    id: String,
    state: JobState,
    score: Option<i64>,
    fields: &[Value],
    redactor: &Redactor,
) -> JobSummary {
    let at = |i: usize| fields.get(i);
    let timestamp = number(at(1));
    let delay = number(at(4));
    let data_length = number(at(11)).map_or(0, |n| usize::try_from(n).unwrap_or(0));
    let (data, data_truncated) = shown(&text(at(10)), data_length, PREVIEW_BYTES, redactor);
    let reason = text(at(9));
    JobSummary {
        id,
        queue_name: None,
        name: text(at(0)),
        state,
        timestamp,
        processed_on: number(at(2)),
        finished_on: number(at(3)),
        delay,
        delay_until: delay_until(
            score.filter(|_| state == JobState::Delayed),
            timestamp,
            delay,
        ),
        priority: number(at(5)).map_or(0, |p| u64::try_from(p).unwrap_or(0)),
        progress: {
            let raw = text(at(6));
            if raw.is_empty() {
                Json::from(0)
            } else {
                parsed(&raw)
            }
        },
        attempts_made: number(at(7)).map_or(0, |n| u64::try_from(n).unwrap_or(0)),
        attempts_started: number(at(8)).map_or(0, |n| u64::try_from(n).unwrap_or(0)),
        failed_reason: (!reason.is_empty()).then_some(reason),
        data,
        data_truncated,
    }
}

/// The script mode of a queue (how BullMQ of its generation moves jobs).
fn mode(queue: &QueueInfo) -> &'static str {
    queue.bull_version().script_mode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_parsed_cut_or_only_sized_when_masked() {
        let none = Redactor::default();
        assert_eq!(
            shown(r#"{"a":1}"#, 7, 10, &none),
            (serde_json::json!({"a": 1}), false)
        );
        assert_eq!(
            shown("ééé", 20, 3, &none),
            (Json::String("é…".into()), true)
        );
        let masking = Redactor::parse("a").expect("valid");
        assert_eq!(
            shown(r#"{"a":1}"#, 7, 10, &masking),
            (serde_json::json!({"a": crate::ssr::redact::MASK}), false)
        );
        assert_eq!(
            shown(r#"{"a":1, "b": "#, 900, 10, &masking),
            (serde_json::json!({"truncated": true, "bytes": 900}), true)
        );
        assert_eq!(
            delay_until(Some(4096 * 1000 + 7), Some(1), Some(5)),
            Some(1000)
        );
        assert_eq!(delay_until(None, Some(100), Some(50)), Some(150));
        assert_eq!(delay_until(None, Some(100), Some(0)), None);
    }
}
