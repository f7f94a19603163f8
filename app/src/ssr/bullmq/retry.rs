//! Retry with changes: a new BullMQ job made from an original (its name, its data with
//! `dataOverrides` merged in, its options with a new priority, attempts and backoff), added the
//! way BullMQ adds jobs so a real worker picks it up at once. The request is validated field by
//! field; the new job records where it came from (`opts.retriedFrom`).

use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use fred::prelude::*;
use serde_json::{Map, Value};
use std::collections::HashMap;

const RETRY: &str = include_str!("lua/retry.lua");

pub use crate::model::{MAX_ATTEMPTS, MAX_PRIORITY};

/// A validated retry request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RetryRequest {
    pub priority: Option<u64>,
    pub attempts: Option<u64>,
    /// `(type, delay ms)`.
    pub backoff: Option<(String, u64)>,
    pub data_overrides: Map<String, Value>,
    pub remove_original: bool,
}

fn bad(message: impl Into<String>) -> AppError {
    AppError::BadRequest(message.into())
}

fn integer_in(value: &Value, field: &str, min: u64, max: u64) -> Result<u64, AppError> {
    value
        .as_u64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| bad(format!("{field} must be an integer from {min} to {max}")))
}

impl RetryRequest {
    /// Parses a request body: empty means "retry as it was"; anything else must be a JSON object
    /// with only the known fields, each of the right type and range.
    pub fn parse(body: &[u8]) -> Result<Self, AppError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
        let Value::Object(fields) = value else {
            return Err(bad("the body must be a JSON object"));
        };
        let mut request = Self::default();
        for (field, value) in &fields {
            match field.as_str() {
                "priority" => {
                    request.priority = Some(integer_in(value, "priority", 0, MAX_PRIORITY)?)
                }
                "attempts" => {
                    request.attempts = Some(integer_in(value, "attempts", 1, MAX_ATTEMPTS)?)
                }
                "backoff" => {
                    let Value::Object(backoff) = value else {
                        return Err(bad(
                            "backoff must be an object like {\"type\": \"fixed\", \"delay\": 1000}",
                        ));
                    };
                    let kind = match backoff.get("type").and_then(Value::as_str) {
                        Some(kind @ ("fixed" | "exponential")) => kind.to_owned(),
                        _ => return Err(bad("backoff.type must be \"fixed\" or \"exponential\"")),
                    };
                    let delay = match backoff.get("delay") {
                        None => 0,
                        Some(delay) => integer_in(delay, "backoff.delay", 0, u64::from(u32::MAX))?,
                    };
                    if let Some(extra) = backoff.keys().find(|k| *k != "type" && *k != "delay") {
                        return Err(bad(format!("backoff has an unknown field `{extra}`")));
                    }
                    request.backoff = Some((kind, delay));
                }
                "dataOverrides" => match value {
                    Value::Object(overrides) => request.data_overrides = overrides.clone(),
                    _ => return Err(bad("dataOverrides must be a JSON object")),
                },
                "removeOriginal" => {
                    request.remove_original = value
                        .as_bool()
                        .ok_or_else(|| bad("removeOriginal must be true or false"))?
                }
                other => {
                    let shown: String = other.chars().take(40).collect();
                    return Err(bad(format!(
                        "unknown field `{shown}` (allowed: priority, attempts, backoff, dataOverrides, removeOriginal)"
                    )));
                }
            }
        }
        Ok(request)
    }
}

/// Checks a job id from a URL: what BullMQ could have stored (no control characters, bounded).
pub fn parse_job_id(text: &str) -> Result<String, AppError> {
    if text.is_empty() || text.len() > 256 || text.chars().any(char::is_control) {
        return Err(bad("job id must be 1 to 256 printable characters"));
    }
    Ok(text.to_owned())
}

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
}

/// Retries `job_id` of `queue` with the changes in `request`. 404 when the job does not exist.
pub async fn retry(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    job_id: &str,
    request: &RetryRequest,
) -> Result<Retried, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let original: HashMap<String, String> = pool.hgetall(keys.job(job_id)).await?;
    if original.is_empty() {
        return Err(AppError::NotFound(format!(
            "no job `{job_id}` in queue `{}`",
            queue.name
        )));
    }
    let data = merged_data(
        original.get("data").map(String::as_str),
        &request.data_overrides,
    )?;
    let mut opts: Map<String, Value> = original
        .get("opts")
        .and_then(|raw| serde_json::from_str(raw).ok())
        .unwrap_or_default();
    for key in NOT_COPIED {
        opts.remove(key);
    }
    let original_priority = original
        .get("priority")
        .and_then(|p| p.parse::<u64>().ok())
        .unwrap_or(0);
    let priority = request.priority.unwrap_or(original_priority);
    if priority > 0 {
        opts.insert("priority".into(), priority.into());
    } else {
        opts.remove("priority");
    }
    if let Some(attempts) = request.attempts {
        opts.insert("attempts".into(), attempts.into());
    }
    if let Some((kind, delay)) = &request.backoff {
        opts.insert(
            "backoff".into(),
            serde_json::json!({"type": kind, "delay": delay}),
        );
    }
    opts.insert(
        "retriedFrom".into(),
        serde_json::json!({"queue": queue.name.as_str(), "jobId": job_id}),
    );
    let mode = queue.bull_version().script_mode();
    let name = original.get("name").cloned().unwrap_or_default();
    let now = chrono::Utc::now().timestamp_millis().to_string();
    // Sent once, never re-sent by the client after a dropped connection: the script may have run
    // before the connection dropped, and running it again would create a second new job. A
    // connection lost mid-call is a 503 whose outcome the queue (or the audit trail) tells.
    let once = fred::types::config::Options {
        max_attempts: Some(1),
        ..Default::default()
    };
    let reply: Vec<String> = pool
        .next()
        .with_options(&once)
        .eval(
            RETRY,
            vec![
                keys.id(),
                keys.meta(),
                keys.wait(),
                keys.paused(),
                keys.prioritized(),
                keys.marker(),
                keys.events(),
                keys.priority_counter(),
                keys.job(job_id),
                keys.completed(),
                keys.failed(),
                keys.active(),
            ],
            vec![
                keys.base().to_owned(),
                name,
                data,
                Value::Object(opts).to_string(),
                now,
                priority.to_string(),
                job_id.to_owned(),
                if request.remove_original { "1" } else { "0" }.to_owned(),
                mode.to_owned(),
            ],
        )
        .await?;
    match reply.as_slice() {
        [_, fate] if fate == "missing" => Err(AppError::NotFound(format!(
            "no job `{job_id}` in queue `{}`",
            queue.name
        ))),
        [new_job_id, fate] => Ok(Retried {
            new_job_id: new_job_id.clone(),
            original: fate.clone(),
        }),
        _ => Err(AppError::Internal(
            "unexpected reply from the retry script".into(),
        )),
    }
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
        _ => Err(bad(
            "dataOverrides needs the original job's data to be a JSON object",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<RetryRequest, AppError> {
        RetryRequest::parse(body.as_bytes())
    }

    fn message(result: Result<RetryRequest, AppError>) -> String {
        match result {
            Err(AppError::BadRequest(message)) => message,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn the_seed_example_parses() {
        let request = parse(
            r#"{"priority": 1, "attempts": 5, "backoff": {"type": "exponential", "delay": 5000},
                "dataOverrides": {"customParam": "newValue"}, "removeOriginal": true}"#,
        )
        .expect("valid");
        assert_eq!(request.priority, Some(1));
        assert_eq!(request.attempts, Some(5));
        assert_eq!(request.backoff, Some(("exponential".into(), 5000)));
        assert_eq!(request.data_overrides["customParam"], "newValue");
        assert!(request.remove_original);
        assert_eq!(parse("").expect("empty is fine"), RetryRequest::default());
    }

    #[test]
    fn bad_fields_are_named() {
        assert!(message(parse(r#"{"priority": "high"}"#)).contains("priority"));
        assert!(message(parse(r#"{"priority": 2097153}"#)).contains("priority"));
        assert!(message(parse(r#"{"attempts": 0}"#)).contains("attempts"));
        assert!(message(parse(r#"{"attempts": 1.5}"#)).contains("attempts"));
        assert!(message(parse(r#"{"backoff": {"type": "linear"}}"#)).contains("backoff.type"));
        assert!(
            message(parse(r#"{"backoff": {"type": "fixed", "delay": -1}}"#))
                .contains("backoff.delay")
        );
        assert!(message(parse(r#"{"dataOverrides": [1]}"#)).contains("dataOverrides"));
        assert!(message(parse(r#"{"removeOriginal": "yes"}"#)).contains("removeOriginal"));
        assert!(message(parse(r#"{"priorty": 1}"#)).contains("unknown field `priorty`"));
        assert!(message(parse(r#"{"priority": 1"#)).contains("not valid JSON"));
        assert!(message(parse("[1]")).contains("object"));
    }

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
    fn job_ids_are_bounded_printable_text() {
        assert!(parse_job_id("42").is_ok());
        assert!(parse_job_id("repeat:abc:1700000000000").is_ok());
        assert!(parse_job_id("").is_err());
        assert!(parse_job_id("a\nb").is_err());
        assert!(parse_job_id(&"9".repeat(257)).is_err());
    }
}
