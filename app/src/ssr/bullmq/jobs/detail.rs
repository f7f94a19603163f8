//! One job as BullMQ's `Job.fromId` reads it (its hash, decoded the way BullMQ decodes it), its
//! state as `job.getState()` says, a timeline, and its counts — one round trip
//! (`lua/detail.lua`); its whole data or return value (`lua/value.lua`); its logs as
//! `getJobLogs` reads them (`lua/logs.lua`). A key that is no job's (the queue's `meta`, `id`,
//! `events`…) is "no such job".

use super::{delay_until, parsed, script, shown, text, Reader, COMMON, STATE};
use crate::model::jobs::DETAIL_VALUE_BYTES;
use crate::model::{JobDetail, JobId, JobLogs, JobState, ListOrder, Timeline};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::redact::Redactor;
use fred::prelude::*;
use fred::types::scripts::Script;
use serde_json::Value as Json;
use std::collections::HashMap;
use std::sync::LazyLock;

static DETAIL: LazyLock<Script> =
    LazyLock::new(|| script(&[COMMON, STATE, include_str!("lua/detail.lua")]));
static VALUE: LazyLock<Script> = LazyLock::new(|| script(&[STATE, include_str!("lua/value.lua")]));
static LOGS: LazyLock<Script> = LazyLock::new(|| script(&[STATE, include_str!("lua/logs.lua")]));

/// "No such job" for a queue.
pub fn no_such_job(queue: &QueueInfo, id: &JobId) -> AppError {
    AppError::NotFound(format!("no job `{id}` in queue `{}`", queue.name))
}

/// A job's detail; `None` when the id names no job.
pub async fn detail(
    reader: Reader<'_>,
    queue: &QueueInfo,
    id: &JobId,
    now_ms: i64,
) -> Result<Option<JobDetail>, AppError> {
    let Reader {
        pool,
        prefix,
        redactor,
    } = reader;
    let keys = QueueKeys::new(prefix, &queue.name);
    let reply: Value = DETAIL
        .evalsha_with_reload(
            pool.next(),
            vec![keys.job(id.as_str())],
            vec![
                keys.base().to_owned(),
                id.as_str().to_owned(),
                DETAIL_VALUE_BYTES.to_string(),
            ],
        )
        .await?;
    let Value::Array(parts) = reply else {
        return Ok(None);
    };
    if parts.is_empty() {
        return Ok(None);
    }
    let state = JobState::parse(&text(parts.first())).unwrap_or(JobState::Unknown);
    let mut fields: HashMap<String, String> = HashMap::new();
    if let Some(Value::Array(flat)) = parts.get(1) {
        for pair in flat.chunks(2) {
            fields.insert(text(pair.first()), text(pair.get(1)));
        }
    }
    let count = |i: usize| parts.get(i).and_then(Value::as_u64).unwrap_or(0);
    let length = |i: usize| usize::try_from(count(i)).unwrap_or(usize::MAX);
    let delayed_score = super::number(parts.get(7));
    Ok(Some(build(
        queue,
        id,
        state,
        &fields,
        (length(2), length(3)),
        (count(4), count(5), count(6)),
        delayed_score,
        now_ms,
        redactor,
    )))
}

/// The detail from a job's decoded fields.
#[allow(clippy::too_many_arguments)]
fn build(
    queue: &QueueInfo,
    id: &JobId,
    state: JobState,
    fields: &HashMap<String, String>,
    (data_length, return_length): (usize, usize),
    (logs_count, pending_children, processed_children): (u64, u64, u64),
    delayed_score: Option<i64>,
    now_ms: i64,
    redactor: &Redactor,
) -> JobDetail {
    let get = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let int = |name: &str| {
        get(name)
            .and_then(|v| v.parse::<f64>().ok())
            .map(|f| f as i64)
    };
    let count = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| int(name))
            .map_or(0, |n| u64::try_from(n).unwrap_or(0))
    };
    let (data, data_truncated) = shown(
        get("data").unwrap_or("{}"),
        data_length,
        DETAIL_VALUE_BYTES,
        redactor,
    );
    let (returnvalue, returnvalue_truncated) = match get("returnvalue") {
        Some(raw) => shown(raw, return_length, DETAIL_VALUE_BYTES, redactor),
        None => (Json::Null, false),
    };
    // BullMQ appends each attempt's trace; the newest attempt comes first here.
    let mut stacktrace: Vec<String> = get("stacktrace")
        .and_then(|raw| serde_json::from_str::<Vec<Json>>(raw).ok())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|trace| match trace {
            Json::String(text) => Some(text),
            Json::Null => None,
            other => Some(other.to_string()),
        })
        .collect();
    stacktrace.reverse();
    let timestamp = int("timestamp");
    let delay = int("delay");
    let processed_on = int("processedOn");
    let finished_on = int("finishedOn");
    let due = delay_until(delayed_score, timestamp, delay);
    let ready_at = match (timestamp, due) {
        (Some(added), Some(due)) => Some(added.max(due)),
        (added, due) => added.or(due),
    };
    let run_end = finished_on.or((state == JobState::Active).then_some(now_ms));
    JobDetail {
        id: id.as_str().to_owned(),
        queue_name: queue.name.as_str().to_owned(),
        name: get("name").unwrap_or_default().to_owned(),
        state,
        data,
        data_truncated,
        opts: decoded_opts(get("opts").unwrap_or("{}")),
        progress: get("progress").map_or(Json::from(0), parsed),
        returnvalue,
        returnvalue_truncated,
        failed_reason: get("failedReason").map(str::to_owned),
        stacktrace,
        attempts_made: count(&["atm", "attemptsMade"]),
        attempts_started: count(&["ats"]),
        stalled_counter: count(&["stc"]),
        processed_by: get("pb").map(str::to_owned),
        deduplication_id: get("deid").map(str::to_owned),
        repeat_job_key: get("rjk").map(str::to_owned),
        deferred_failure: get("defa").map(str::to_owned),
        parent_key: get("parentKey").map(str::to_owned),
        parent: get("parent").map(parsed),
        timestamp,
        processed_on,
        finished_on,
        delay,
        priority: count(&["priority"]),
        timeline: Timeline {
            added: timestamp,
            delayed_until: due,
            started: processed_on,
            finished: finished_on,
            wait_ms: processed_on
                .zip(ready_at)
                .map(|(start, ready)| start - ready),
            run_ms: processed_on.zip(run_end).map(|(start, end)| end - start),
        },
        logs_count,
        pending_children,
        processed_children,
    }
}

/// Job options as BullMQ's `Job.fromJSON` gives them: the short stored names (`de`, `fpof`,
/// `kl`…) under their public ones, `attempts` 0 when unset, a numeric `backoff` as a fixed
/// one, and `repeatJobKey` (a field of the job, not an option) left out.
fn decoded_opts(raw: &str) -> Json {
    const NAMES: [(&str, &str); 6] = [
        ("de", "deduplication"),
        ("fpof", "failParentOnFailure"),
        ("cpof", "continueParentOnFailure"),
        ("idof", "ignoreDependencyOnFailure"),
        ("kl", "keepLogs"),
        ("rdof", "removeDependencyOnFailure"),
    ];
    let Ok(Json::Object(stored)) = serde_json::from_str::<Json>(raw) else {
        return Json::Object(Default::default());
    };
    let mut opts = serde_json::Map::new();
    let mut telemetry = serde_json::Map::new();
    for (name, value) in stored {
        match name.as_str() {
            "tm" => {
                telemetry.insert("metadata".into(), value);
            }
            "omc" => {
                telemetry.insert("omitContext".into(), value);
            }
            short => {
                let public = NAMES
                    .iter()
                    .find(|(stored, _)| *stored == short)
                    .map_or(short, |(_, public)| public);
                opts.insert(public.to_owned(), value);
            }
        }
    }
    if !telemetry.is_empty() {
        opts.insert("telemetry".into(), Json::Object(telemetry));
    }
    opts.remove("repeatJobKey");
    opts.entry("attempts").or_insert(Json::from(0));
    if let Some(delay) = opts.get("backoff").and_then(Json::as_u64) {
        opts.insert(
            "backoff".into(),
            serde_json::json!({"type": "fixed", "delay": delay}),
        );
    }
    Json::Object(opts)
}

/// A job's whole `data` or `returnvalue` (masked), when not over `cap` bytes. `Ok(None)`:
/// no such job; `Err(TooLarge)` when over the cap.
pub async fn value(
    reader: Reader<'_>,
    queue: &QueueInfo,
    id: &JobId,
    field: &str,
    cap: usize,
) -> Result<Option<Json>, AppError> {
    let Reader {
        pool,
        prefix,
        redactor,
    } = reader;
    let keys = QueueKeys::new(prefix, &queue.name);
    let reply: Vec<Value> = VALUE
        .evalsha_with_reload(
            pool.next(),
            vec![keys.job(id.as_str())],
            vec![field.to_owned(), cap.to_string()],
        )
        .await?;
    match reply.as_slice() {
        [] => Ok(None),
        [length] => Err(AppError::TooLarge(format!(
            "the job's {field} is {} bytes; values over {cap} bytes are not served whole",
            length.as_u64().unwrap_or(0)
        ))),
        [_, raw, ..] => {
            let mut value = parsed(&raw.as_string().unwrap_or_default());
            redactor.mask(&mut value);
            Ok(Some(value))
        }
    }
}

/// A page of a job's logs: `count` lines from `start`, oldest first (`asc`) or newest first,
/// as BullMQ's `getJobLogs(id, start, start + count - 1, asc)`. `Ok(None)`: no such job.
pub async fn logs(
    reader: Reader<'_>,
    queue: &QueueInfo,
    id: &JobId,
    start: u64,
    count: u64,
    order: ListOrder,
) -> Result<Option<JobLogs>, AppError> {
    let Reader {
        pool,
        prefix,
        redactor,
    } = reader;
    let keys = QueueKeys::new(prefix, &queue.name);
    let order = match order {
        ListOrder::Asc => "asc",
        ListOrder::Desc => "desc",
    };
    let reply: Vec<Value> = LOGS
        .evalsha_with_reload(
            pool.next(),
            vec![keys.job(id.as_str())],
            vec![
                start.to_string(),
                (start + count - 1).to_string(),
                order.to_owned(),
            ],
        )
        .await?;
    let Some((total, lines)) = reply.split_first() else {
        return Ok(None);
    };
    Ok(Some(JobLogs {
        count: total.as_u64().unwrap_or(0),
        logs: lines
            .iter()
            .map(|line| redactor.mask_line(line.as_string().unwrap_or_default()))
            .collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_option_names_are_decoded_as_bullmq_does() {
        let opts = decoded_opts(r#"{"attempts":3,"kl":5,"de":{"id":"x"},"fpof":true,"tm":"m"}"#);
        assert_eq!(
            opts,
            serde_json::json!({"attempts": 3, "keepLogs": 5, "deduplication": {"id": "x"},
                               "failParentOnFailure": true, "telemetry": {"metadata": "m"}})
        );
        assert_eq!(
            decoded_opts(r#"{"backoff":500,"repeatJobKey":"k"}"#),
            serde_json::json!({"attempts": 0, "backoff": {"type": "fixed", "delay": 500}})
        );
        assert_eq!(decoded_opts("nonsense"), serde_json::json!({}));
    }
}
