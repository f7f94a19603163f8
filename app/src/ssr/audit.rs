//! The audit trail: every control action, appended to a capped Redis stream in the monitor's own
//! key namespace (`{MONITOR_PREFIX}:audit`, never inside a BullMQ queue's keys), shared by every
//! monitor instance on the same Redis.

use crate::model::{AuditEntry, AuditPage};
use crate::ssr::auth::Principal;
use crate::ssr::error::AppError;
use fred::prelude::*;
use std::collections::HashMap;
use std::time::Duration;

/// The stream keeps about this many entries (trimmed approximately, as `MAXLEN ~` does).
pub const AUDIT_MAX_LEN: u64 = 100_000;

/// The most entries one page returns.
pub const AUDIT_MAX_PAGE: u64 = 500;

/// The audit stream's key.
pub fn audit_key(monitor_prefix: &str) -> String {
    format!("{monitor_prefix}:audit")
}

/// The most bytes of JSON an entry's `params` or `result` may hold; a larger one is stored as
/// `{"truncated": true, "bytes": n}` (callers store bounded summaries, so this is a backstop).
pub const MAX_FIELD_BYTES: usize = 4096;

/// How long a control action's entry is retried while Redis cannot take it (an outage must not
/// leave an action unrecorded; the action itself already happened).
pub const RETRY_FOR: Duration = Duration::from_secs(120);

/// What to record about one action.
#[derive(Clone, Debug)]
pub struct Action {
    pub principal: Principal,
    pub action: &'static str,
    pub queue: String,
    pub job_id: Option<String>,
    pub params: serde_json::Value,
    pub result: serde_json::Value,
}

/// A JSON field as stored: itself, or a marker when it is over [`MAX_FIELD_BYTES`].
fn bounded(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.len() <= MAX_FIELD_BYTES {
        text
    } else {
        serde_json::json!({"truncated": true, "bytes": text.len()}).to_string()
    }
}

/// Appends an entry once; `Err` when Redis did not take it.
pub async fn append(pool: &Pool, monitor_prefix: &str, action: &Action) -> Result<(), Error> {
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let fields: Vec<(&str, String)> = vec![
        ("at", at),
        ("sub", action.principal.subject.clone()),
        ("role", action.principal.role.as_str().to_owned()),
        ("action", action.action.to_owned()),
        ("queue", action.queue.clone()),
        ("job", action.job_id.clone().unwrap_or_default()),
        ("params", bounded(&action.params)),
        ("result", bounded(&action.result)),
    ];
    let _: String = pool
        .xadd(
            audit_key(monitor_prefix),
            false,
            ("MAXLEN", "~", AUDIT_MAX_LEN as i64),
            "*",
            fields,
        )
        .await?;
    Ok(())
}

/// Logs an action (always) and appends its entry; when Redis does not take it, retries with
/// back-off for up to [`RETRY_FOR`]. Returns once written (or given up), so run it where the
/// wait does not hold anyone up (control actions call [`append`] first, answer, then this).
pub async fn record_until_written(pool: &Pool, monitor_prefix: &str, action: &Action) {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match append(pool, monitor_prefix, action).await {
            Ok(()) => return,
            Err(error) if started.elapsed() >= RETRY_FOR => {
                tracing::error!(error.message = %error, action = action.action, queue = %action.queue,
                    result = %action.result, "could not write the audit trail; the entry is in this log only");
                return;
            }
            Err(error) => {
                tracing::warn!(error.message = %error, action = action.action, "audit trail write failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Logs an action and appends its entry now; when Redis does not take it, a background task
/// keeps trying (as [`record_until_written`]), so the caller never waits for the retries.
pub async fn record(pool: &Pool, monitor_prefix: &str, action: Action) {
    log(&action);
    if append(pool, monitor_prefix, &action).await.is_err() {
        let (pool, prefix) = (pool.clone(), monitor_prefix.to_owned());
        tokio::spawn(async move {
            record_until_written(&pool, &prefix, &action).await;
        });
    }
}

/// Logs a control action (the log is a second record, kept whatever Redis does).
pub fn log(action: &Action) {
    tracing::info!(
        subject = %action.principal.subject,
        role = %action.principal.role,
        action = action.action,
        queue = %action.queue,
        job = action.job_id.as_deref().unwrap_or_default(),
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
