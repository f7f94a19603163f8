//! Retry with changes: a new BullMQ job made from an original (its name, its data with
//! `dataOverrides` merged in, its options with a new priority, attempts and backoff), added the
//! way BullMQ adds jobs so a real worker picks it up at once. The new job records where it
//! came from (`opts.retriedFrom`).
//!
//! A retry is made once per request: the script keeps a record of each request (by an
//! `Idempotency-Key`, or by the original and the changes) for [`REPEAT_WINDOW`], and the same
//! request again within it returns the first one's job instead of creating another. So an
//! operator who repeats a retry whose answer was lost (a timeout after the script was sent)
//! never makes a duplicate, and the record tells what the lost answer would have said.

use crate::model::{BackoffKind, JobId, RetryChanges};
use crate::ssr::bullmq::commands::PARENT;
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::{QueueKeys, QueueName};
use crate::ssr::error::AppError;
use crate::ssr::redis::pipeline::reply_text;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use serde_json::{Map, Value};
use std::sync::LazyLock;
use std::time::Duration;

static RETRY: LazyLock<String> =
    LazyLock::new(|| format!("{PARENT}\n{}", include_str!("lua/retry.lua")));

/// How long a retry request is remembered: the same request again within this window returns
/// the job the first one made.
pub const REPEAT_WINDOW: Duration = Duration::from_secs(600);

/// Options that describe the original job's identity or schedule and must not be copied.
const NOT_COPIED: [&str; 13] = [
    "jobId",
    "repeat",
    "repeatJobKey",
    "parent",
    "de",
    "debounce",
    "deduplication",
    "delay",
    "timestamp",
    "prevMillis",
    "fpof",
    "cpof",
    "idof",
];

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retried {
    pub new_job_id: String,
    /// `kept`, `removed` (finished original deleted) or `failed` (active original failed).
    pub original: String,
    /// The job was made by an earlier identical request; none was made now.
    pub repeated: bool,
}

/// The name of one retry request: the original and either the client's `Idempotency-Key` or
/// the changes themselves (canonical JSON, so key order does not matter).
pub fn fingerprint(
    job_id: &JobId,
    changes: &RetryChanges,
    idempotency_key: Option<&str>,
) -> String {
    let request = match idempotency_key {
        Some(key) => format!("key\n{}\n{key}", job_id.as_str()),
        None => format!(
            "changes\n{}\n{}",
            job_id.as_str(),
            canonical(&serde_json::to_value(changes).unwrap_or(Value::Null))
        ),
    };
    fred::util::sha1_hash(&request)
}

/// JSON with every object's keys sorted.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(fields) => {
            let mut keys: Vec<&String> = fields.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .into_iter()
                .map(|key| format!("{}:{}", Value::String(key.clone()), canonical(&fields[key])))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// `retry.lua`'s keys: the queue's, the original job's hash and the request's record.
fn script_keys(keys: &QueueKeys, original: String, record: &str) -> Vec<String> {
    vec![
        keys.id(),
        keys.meta(),
        keys.wait(),
        keys.paused(),
        keys.prioritized(),
        keys.marker(),
        keys.events(),
        keys.priority_counter(),
        original,
        keys.completed(),
        keys.failed(),
        keys.active(),
        record.to_owned(),
    ]
}

fn no_such_job(job_id: &JobId, queue: &QueueInfo) -> AppError {
    AppError::NotFound(format!("no job `{job_id}` in queue `{}`", queue.name))
}

/// Retries `job_id` of `queue` with `changes`, once per `fingerprint`. 404 when the id names no
/// job (nothing at all, or one of the queue's own keys such as `meta`).
pub async fn retry(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    job_id: &JobId,
    changes: &RetryChanges,
    fingerprint: &str,
) -> Result<Retried, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let original = keys.job(job_id.as_str());
    let pipeline = pool.next().pipeline();
    let _: () = pipeline.r#type(original.as_str()).await?;
    let _: () = pipeline
        .hmget(
            original.as_str(),
            vec!["name", "data", "opts", "priority", "timestamp"],
        )
        .await?;
    let replies = run_pipeline(&pipeline, 2).await?;
    let fields: Vec<Option<String>> = match (reply_text(replies.first()).as_deref(), replies.get(1))
    {
        (Some("hash"), Some(Ok(fred::types::Value::Array(fields)))) => {
            fields.iter().map(fred::types::Value::as_string).collect()
        }
        _ => return Err(no_such_job(job_id, queue)),
    };
    let field = |i: usize| fields.get(i).cloned().flatten();
    if field(4).is_none() {
        // A hash without a job's `timestamp` is no job (the queue's `meta`, say).
        return Err(no_such_job(job_id, queue));
    }
    let copy = prepare(
        &queue.name,
        job_id.as_str(),
        field(0),
        field(1).as_deref(),
        field(2).as_deref(),
        field(3).as_deref(),
        changes,
    )?;
    let mode = queue.bull_version().script_mode();
    let now = chrono::Utc::now().timestamp_millis().to_string();
    // Sent once, never re-sent by the client after a dropped connection: the script may have run
    // before the connection dropped. Its record tells afterwards (see `recorded`).
    let once = fred::types::config::Options {
        max_attempts: Some(1),
        ..Default::default()
    };
    let reply: Vec<String> = pool
        .next()
        .with_options(&once)
        .eval(
            RETRY.as_str(),
            script_keys(&keys, original, &keys.retry_record(fingerprint)),
            vec![
                keys.base().to_owned(),
                copy.name,
                copy.data,
                copy.opts,
                now,
                copy.priority.to_string(),
                job_id.as_str().to_owned(),
                if changes.remove_original { "1" } else { "0" }.to_owned(),
                mode.to_owned(),
                REPEAT_WINDOW.as_millis().to_string(),
            ],
        )
        .await?;
    match reply.as_slice() {
        [_, fate] if fate == "missing" => Err(no_such_job(job_id, queue)),
        [new_job_id, fate, rest @ ..] => Ok(Retried {
            new_job_id: new_job_id.clone(),
            original: fate.clone(),
            repeated: rest.first().is_some_and(|r| r == "repeated"),
        }),
        _ => Err(AppError::Internal(
            "unexpected reply from the retry script".into(),
        )),
    }
}

/// A new job's fields, made from an original's and the changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewJob {
    pub name: String,
    pub data: String,
    pub opts: String,
    pub priority: u64,
}

/// The new job's fields from the original's `name`, `data`, `opts` and `priority` (as BullMQ
/// stores them) and `changes`: the data with the overrides merged in, the options without
/// what names the original's identity or schedule, with the new priority, attempts and
/// back-off and `retriedFrom`. Plain code: the one-job retry and the bulk one share it.
pub fn prepare(
    queue: &QueueName,
    job_id: &str,
    name: Option<String>,
    data: Option<&str>,
    opts: Option<&str>,
    priority: Option<&str>,
    changes: &RetryChanges,
) -> Result<NewJob, AppError> {
    let data = merged_data(data, &changes.data_overrides)?;
    let mut opts: Map<String, Value> = opts
        .and_then(|raw| serde_json::from_str(raw).ok())
        .unwrap_or_default();
    for key in NOT_COPIED {
        opts.remove(key);
    }
    let original_priority = priority.and_then(|p| p.parse::<u64>().ok()).unwrap_or(0);
    let priority = changes.priority.unwrap_or(original_priority);
    if priority > 0 {
        opts.insert("priority".into(), priority.into());
    } else {
        opts.remove("priority");
    }
    if let Some(attempts) = changes.attempts {
        opts.insert("attempts".into(), attempts.into());
    }
    if let Some(backoff) = changes.backoff {
        let kind = match backoff.kind {
            BackoffKind::Fixed => "fixed",
            BackoffKind::Exponential => "exponential",
        };
        opts.insert(
            "backoff".into(),
            serde_json::json!({"type": kind, "delay": backoff.delay}),
        );
    }
    opts.insert(
        "retriedFrom".into(),
        serde_json::json!({"queue": queue.as_str(), "jobId": job_id}),
    );
    Ok(NewJob {
        name: name.unwrap_or_default(),
        data,
        opts: Value::Object(opts).to_string(),
        priority,
    })
}

/// A playbook's retry of a stuck job whose worker died: a new job with `changes`, the original
/// failed (its reason names the new job), only while it is still active and no worker holds
/// its lock (checked in the same script). `Ok(Ok(new id))`, or `Ok(Err("gone" | "locked"))`.
pub async fn retry_stuck(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    job_id: &str,
    changes: &RetryChanges,
) -> Result<Result<String, String>, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let original = keys.job(job_id);
    let fields: Vec<Option<String>> = pool
        .hmget(original.as_str(), vec!["name", "data", "opts", "priority"])
        .await?;
    let field = |i: usize| fields.get(i).cloned().flatten();
    let copy = prepare(
        &queue.name,
        job_id,
        field(0),
        field(1).as_deref(),
        field(2).as_deref(),
        field(3).as_deref(),
        &RetryChanges {
            remove_original: true,
            ..changes.clone()
        },
    )?;
    let reply: Vec<String> = pool
        .next()
        .eval(
            RETRY.as_str(),
            script_keys(&keys, original, &keys.retry_record("playbook")),
            vec![
                keys.base().to_owned(),
                copy.name,
                copy.data,
                copy.opts,
                chrono::Utc::now().timestamp_millis().to_string(),
                copy.priority.to_string(),
                job_id.to_owned(),
                "1".to_owned(),
                queue.bull_version().script_mode().to_owned(),
                "0".to_owned(),
                "1".to_owned(),
                "0".to_owned(),
            ],
        )
        .await?;
    Ok(match reply.as_slice() {
        [id, _, ..] if !id.is_empty() => Ok(id.clone()),
        [_, why, ..] => Err(why.clone()),
        _ => Err("missing".to_owned()),
    })
}

/// What the record of a request says happened, when it exists: how an answer lost in transit
/// is recovered.
pub async fn recorded(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    fingerprint: &str,
) -> Result<Option<Retried>, AppError> {
    let record: Option<String> = pool
        .get(QueueKeys::new(prefix, &queue.name).retry_record(fingerprint))
        .await?;
    Ok(record.and_then(|record| {
        let (new_job_id, fate) = record.split_once(' ')?;
        Some(Retried {
            new_job_id: new_job_id.to_owned(),
            original: fate.to_owned(),
            repeated: false,
        })
    }))
}

/// The original data with the overrides' top-level keys replaced. Data that is not a JSON object
/// can only be retried unchanged.
fn merged_data(raw: Option<&str>, overrides: &Map<String, Value>) -> Result<String, AppError> {
    let raw = raw.unwrap_or("{}");
    if overrides.is_empty() {
        return Ok(raw.to_owned());
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(Value::Object(mut data)) => {
            for (key, value) in overrides {
                data.insert(key.clone(), value.clone());
            }
            Ok(Value::Object(data).to_string())
        }
        _ => Err(AppError::BadRequest(
            "dataOverrides needs the original job's data to be a JSON object".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_top_level_keys_only() {
        let overrides: Map<String, Value> =
            serde_json::from_str(r#"{"a": {"x": 1}, "c": 3}"#).expect("json");
        let merged = merged_data(Some(r#"{"a": {"y": 2}, "b": 2}"#), &overrides).expect("merged");
        let merged: Value = serde_json::from_str(&merged).expect("json");
        assert_eq!(merged, serde_json::json!({"a": {"x": 1}, "b": 2, "c": 3}));
        assert!(merged_data(Some("\"text\""), &overrides).is_err());
        assert_eq!(
            merged_data(Some("\"text\""), &Map::new()).expect("unchanged"),
            "\"text\""
        );
    }

    #[test]
    fn the_same_request_has_the_same_fingerprint_whatever_its_key_order() {
        let id = JobId::parse("7").expect("id");
        let a = RetryChanges::from_body(
            br#"{"dataOverrides": {"a": 1, "b": {"x": 1, "y": 2}}, "priority": 2}"#,
        )
        .expect("valid");
        let b = RetryChanges::from_body(
            br#"{"priority": 2, "dataOverrides": {"b": {"y": 2, "x": 1}, "a": 1}}"#,
        )
        .expect("valid");
        assert_eq!(fingerprint(&id, &a, None), fingerprint(&id, &b, None));
        let other = JobId::parse("8").expect("id");
        assert_ne!(fingerprint(&id, &a, None), fingerprint(&other, &a, None));
        assert_ne!(fingerprint(&id, &a, None), fingerprint(&id, &a, Some("k1")));
        assert_eq!(
            fingerprint(&id, &a, Some("k1")),
            fingerprint(&id, &RetryChanges::default(), Some("k1"))
        );
    }
}
