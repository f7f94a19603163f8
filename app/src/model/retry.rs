//! What a retry may change, validated in one place: the dashboard's form builds a
//! [`RetryChanges`] and checks it before sending; the server reads the same type from the REST
//! body or the server function's argument, through the same checks, so both refuse the same
//! things with the same words (naming the field).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// BullMQ's highest job priority (2^21); a retry may ask for 0 to this.
pub const MAX_PRIORITY: u64 = 2_097_152;
/// The most attempts a retry may ask for.
pub const MAX_ATTEMPTS: u64 = 1000;
/// The longest back-off delay a retry may ask for (ms; BullMQ keeps it in 32 bits).
pub const MAX_BACKOFF_DELAY: u64 = u32::MAX as u64;
/// The largest `dataOverrides` accepted, as JSON text: the request body limit bounds it anyway;
/// this keeps the audit trail's summary and the new job's data sane.
pub const MAX_DATA_OVERRIDES_BYTES: usize = 32 * 1024;

/// A field that is refused, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name on the wire and in the form (`priority`, `attempts`, `backoff`,
    /// `backoffDelay`, `backoffType`, `dataOverrides`, `removeOriginal`, or `body`).
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// BullMQ's back-off types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum BackoffKind {
    Fixed,
    Exponential,
}

/// A back-off as BullMQ's job options hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Backoff {
    #[serde(rename = "type")]
    pub kind: BackoffKind,
    /// Milliseconds.
    pub delay: u64,
}

/// The changes a retry applies to the original job; every field is optional ("as before").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", try_from = "Value")]
pub struct RetryChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Top-level keys replaced in the job's data.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub data_overrides: Map<String, Value>,
    /// Remove a finished original, or fail an active one (its `failedReason` names the new
    /// job).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub remove_original: bool,
}

fn whole_number(value: &Value, field: &'static str, min: u64, max: u64) -> Result<u64, FieldError> {
    value
        .as_u64()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!("{field} must be an integer from {min} to {max}"),
            )
        })
}

impl RetryChanges {
    /// Reads a request body: empty means "retry as it was"; anything else must be a JSON object
    /// with only the known fields, each of the right type and range.
    pub fn from_body(body: &[u8]) -> Result<Self, FieldError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self::default());
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| FieldError::new("body", format!("the body is not valid JSON: {e}")))?;
        Self::from_value(value)
    }

    /// Reads the changes from a JSON value (the REST body, or the server function's argument).
    pub fn from_value(value: Value) -> Result<Self, FieldError> {
        let Value::Object(fields) = value else {
            return Err(FieldError::new("body", "the body must be a JSON object"));
        };
        let mut changes = Self::default();
        for (field, value) in fields {
            match field.as_str() {
                "priority" => {
                    changes.priority = Some(whole_number(&value, "priority", 0, MAX_PRIORITY)?)
                }
                "attempts" => {
                    changes.attempts = Some(whole_number(&value, "attempts", 1, MAX_ATTEMPTS)?)
                }
                "backoff" => changes.backoff = Some(backoff_from(&value)?),
                "dataOverrides" => match value {
                    Value::Object(overrides) => changes.data_overrides = overrides,
                    _ => {
                        return Err(FieldError::new(
                            "dataOverrides",
                            "dataOverrides must be a JSON object",
                        ))
                    }
                },
                "removeOriginal" => {
                    changes.remove_original = value.as_bool().ok_or_else(|| {
                        FieldError::new("removeOriginal", "removeOriginal must be true or false")
                    })?
                }
                other => {
                    let shown: String = other.chars().take(40).collect();
                    return Err(FieldError::new(
                        "body",
                        format!(
                            "unknown field `{shown}` (allowed: priority, attempts, backoff, dataOverrides, removeOriginal)"
                        ),
                    ));
                }
            }
        }
        changes.validate()?;
        Ok(changes)
    }

    /// Checks the ranges: what the form checks before sending and the server after reading.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(priority) = self.priority {
            whole_number(&priority.into(), "priority", 0, MAX_PRIORITY)?;
        }
        if let Some(attempts) = self.attempts {
            whole_number(&attempts.into(), "attempts", 1, MAX_ATTEMPTS)?;
        }
        if let Some(backoff) = self.backoff {
            whole_number(&backoff.delay.into(), "backoff.delay", 0, MAX_BACKOFF_DELAY)
                .map_err(|e| FieldError::new("backoffDelay", e.message))?;
        }
        if !self.data_overrides.is_empty() {
            let size = Value::Object(self.data_overrides.clone()).to_string().len();
            if size > MAX_DATA_OVERRIDES_BYTES {
                return Err(FieldError::new(
                    "dataOverrides",
                    format!(
                        "dataOverrides is {size} bytes of JSON; at most {MAX_DATA_OVERRIDES_BYTES}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A bounded description for the audit trail: the scalar changes as they are, and of the
    /// data overrides only their keys (at most 20, each cut to 64 characters) and size, never
    /// the values (they may be large, or personal).
    pub fn summary(&self) -> Value {
        let mut summary = Map::new();
        if let Some(priority) = self.priority {
            summary.insert("priority".into(), priority.into());
        }
        if let Some(attempts) = self.attempts {
            summary.insert("attempts".into(), attempts.into());
        }
        if let Some(backoff) = self.backoff {
            summary.insert(
                "backoff".into(),
                serde_json::to_value(backoff).unwrap_or(Value::Null),
            );
        }
        if !self.data_overrides.is_empty() {
            let keys: Vec<Value> = self
                .data_overrides
                .keys()
                .take(20)
                .map(|key| Value::String(key.chars().take(64).collect()))
                .collect();
            summary.insert(
                "dataOverrides".into(),
                serde_json::json!({
                    "keys": keys,
                    "keyCount": self.data_overrides.len(),
                    "bytes": Value::Object(self.data_overrides.clone()).to_string().len(),
                }),
            );
        }
        if self.remove_original {
            summary.insert("removeOriginal".into(), true.into());
        }
        Value::Object(summary)
    }
}

fn backoff_from(value: &Value) -> Result<Backoff, FieldError> {
    let Value::Object(backoff) = value else {
        return Err(FieldError::new(
            "backoff",
            "backoff must be an object like {\"type\": \"fixed\", \"delay\": 1000}",
        ));
    };
    let kind = match backoff.get("type").and_then(Value::as_str) {
        Some("fixed") => BackoffKind::Fixed,
        Some("exponential") => BackoffKind::Exponential,
        _ => {
            return Err(FieldError::new(
                "backoffType",
                "backoff.type must be \"fixed\" or \"exponential\"",
            ))
        }
    };
    let delay = match backoff.get("delay") {
        None => 0,
        Some(delay) => whole_number(delay, "backoff.delay", 0, MAX_BACKOFF_DELAY)
            .map_err(|e| FieldError::new("backoffDelay", e.message))?,
    };
    if let Some(extra) = backoff.keys().find(|k| *k != "type" && *k != "delay") {
        let shown: String = extra.chars().take(40).collect();
        return Err(FieldError::new(
            "backoff",
            format!("backoff has an unknown field `{shown}`"),
        ));
    }
    Ok(Backoff { kind, delay })
}

impl TryFrom<Value> for RetryChanges {
    type Error = FieldError;

    fn try_from(value: Value) -> Result<Self, FieldError> {
        RetryChanges::from_value(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<RetryChanges, FieldError> {
        RetryChanges::from_body(body.as_bytes())
    }

    fn message(result: Result<RetryChanges, FieldError>) -> String {
        result.expect_err("refused").message
    }

    #[test]
    fn the_seed_example_parses_and_serialises_back() {
        let body = r#"{"priority": 1, "attempts": 5, "backoff": {"type": "exponential", "delay": 5000},
                "dataOverrides": {"customParam": "newValue"}, "removeOriginal": true}"#;
        let changes = parse(body).expect("valid");
        assert_eq!(changes.priority, Some(1));
        assert_eq!(changes.attempts, Some(5));
        assert_eq!(
            changes.backoff,
            Some(Backoff {
                kind: BackoffKind::Exponential,
                delay: 5000
            })
        );
        assert_eq!(changes.data_overrides["customParam"], "newValue");
        assert!(changes.remove_original);
        let back: Value = serde_json::to_value(&changes).expect("json");
        let original: Value = serde_json::from_str(body).expect("json");
        assert_eq!(back, original);
        assert_eq!(parse("").expect("empty is fine"), RetryChanges::default());
        assert_eq!(
            serde_json::to_string(&RetryChanges::default()).expect("json"),
            "{}"
        );
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
        // Deserialising (the server function's way) runs the same checks.
        let error = serde_json::from_str::<RetryChanges>(r#"{"attempts": 0}"#)
            .expect_err("refused")
            .to_string();
        assert!(
            error.contains("attempts must be an integer from 1"),
            "{error}"
        );
    }

    #[test]
    fn the_audit_summary_is_bounded_and_holds_no_data_values() {
        let mut overrides = Map::new();
        for i in 0..100 {
            overrides.insert(format!("key{i}"), Value::String("x".repeat(300)));
        }
        let changes = RetryChanges {
            priority: Some(3),
            data_overrides: overrides,
            ..Default::default()
        };
        let summary = changes.summary();
        let text = summary.to_string();
        assert!(text.len() < 1024, "{} bytes", text.len());
        assert!(!text.contains("xxx"));
        assert_eq!(summary["dataOverrides"]["keyCount"], 100);
        assert_eq!(summary["priority"], 3);
    }
}
