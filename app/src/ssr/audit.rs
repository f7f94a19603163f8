//! The audit trail: every control action, appended to a capped Redis stream in the monitor's own
//! key namespace (`{MONITOR_PREFIX}:audit`, never inside a BullMQ queue's keys), shared by every
//! monitor instance on the same Redis.

use crate::model::{AuditEntry, AuditPage};
use crate::ssr::auth::Principal;
use crate::ssr::error::AppError;
use fred::prelude::*;
use std::collections::HashMap;

/// The stream keeps about this many entries (trimmed approximately, as `MAXLEN ~` does).
pub const AUDIT_MAX_LEN: u64 = 100_000;

/// The most entries one page returns.
pub const AUDIT_MAX_PAGE: u64 = 500;

/// The audit stream's key.
pub fn audit_key(monitor_prefix: &str) -> String {
    format!("{monitor_prefix}:audit")
}

/// What to record about one action.
pub struct Action<'a> {
    pub principal: &'a Principal,
    pub action: &'a str,
    pub queue: &'a str,
    pub job_id: Option<&'a str>,
    pub params: serde_json::Value,
    pub result: serde_json::Value,
}

/// Appends an entry. A failure to write the trail is logged, not returned: the action itself has
/// already happened and its caller must learn its result.
pub async fn record(pool: &Pool, monitor_prefix: &str, action: Action<'_>) {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let fields: Vec<(&str, String)> = vec![
        ("at", at),
        ("sub", action.principal.subject.clone()),
        ("role", action.principal.role.as_str().to_owned()),
        ("action", action.action.to_owned()),
        ("queue", action.queue.to_owned()),
        ("job", action.job_id.unwrap_or_default().to_owned()),
        ("params", action.params.to_string()),
        ("result", action.result.to_string()),
    ];
    let written: Result<String, Error> = pool
        .xadd(
            audit_key(monitor_prefix),
            false,
            ("MAXLEN", "~", AUDIT_MAX_LEN as i64),
            "*",
            fields,
        )
        .await;
    if let Err(error) = written {
        tracing::error!(error.message = %error, action = action.action, "could not write the audit trail");
    }
    tracing::info!(
        subject = %action.principal.subject,
        role = %action.principal.role,
        action = action.action,
        queue = action.queue,
        job = action.job_id.unwrap_or_default(),
        result = %action.result,
        "control action"
    );
}

/// A page of entries, newest first, strictly older than `before` (an entry id) when given.
pub async fn page(
    pool: &Pool,
    monitor_prefix: &str,
    before: Option<&str>,
    count: u64,
) -> Result<AuditPage, AppError> {
    let count = count.clamp(1, AUDIT_MAX_PAGE);
    let end = match before {
        Some(id) => format!("({id}"),
        None => "+".to_owned(),
    };
    let raw: Vec<(String, HashMap<String, String>)> = pool
        .xrevrange(audit_key(monitor_prefix), end, "-", Some(count + 1))
        .await?;
    let more = raw.len() as u64 > count;
    let mut entries: Vec<AuditEntry> = raw
        .into_iter()
        .take(count as usize)
        .map(|(id, fields)| {
            let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
            let json = |name: &str| {
                fields
                    .get(name)
                    .and_then(|v| serde_json::from_str(v).ok())
                    .unwrap_or(serde_json::Value::Null)
            };
            AuditEntry {
                id,
                at: text("at"),
                subject: text("sub"),
                role: text("role"),
                action: text("action"),
                queue_name: text("queue"),
                job_id: fields.get("job").filter(|j| !j.is_empty()).cloned(),
                params: json("params"),
                result: json("result"),
            }
        })
        .collect();
    entries.shrink_to_fit();
    let next = more.then(|| entries.last().map(|e| e.id.clone())).flatten();
    Ok(AuditPage { entries, next })
}

/// Checks a `before` cursor: a stream id `ms-seq`.
pub fn parse_cursor(text: &str) -> Result<String, AppError> {
    let valid = text.split_once('-').is_some_and(|(ms, seq)| {
        !ms.is_empty()
            && !seq.is_empty()
            && ms.bytes().chain(seq.bytes()).all(|b| b.is_ascii_digit())
    });
    if valid {
        Ok(text.to_owned())
    } else {
        Err(AppError::BadRequest(
            "before must be an audit entry id like 1764312345678-0".into(),
        ))
    }
}
