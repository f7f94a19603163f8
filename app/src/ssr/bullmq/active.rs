//! Active jobs and stuck-job detection. A job is stuck when its current attempt has been active
//! (`processedOn`) longer than the threshold; its `:lock` tells whether a worker is still on it.
//! Two round trips whatever the number of queues: the active lists, then every active job's
//! fields and lock.

use crate::model::{Severity, StuckJob};
use crate::ssr::bullmq::counts::run_pipeline;
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use fred::prelude::*;

/// At most this many active jobs are read per queue. An active list is bounded by the workers'
/// concurrency, so this only guards against a pathological list.
pub const MAX_ACTIVE_PER_QUEUE: i64 = 10_000;

/// Larger `data` payloads are cut to a preview of this many bytes.
pub const DATA_PREVIEW_BYTES: usize = 4096;

/// Job hash fields read for each active job, in this order.
const FIELDS: [&str; 5] = ["name", "data", "processedOn", "atm", "attemptsMade"];

/// Active jobs whose current attempt started at least `threshold_ms` before `now_ms`, longest
/// first.
pub async fn stuck_jobs(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    threshold_ms: u64,
    now_ms: i64,
) -> Result<Vec<StuckJob>, AppError> {
    if queues.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<QueueKeys> = queues
        .iter()
        .map(|q| QueueKeys::new(prefix, &q.name))
        .collect();
    let pipeline = pool.next().pipeline();
    for key in &keys {
        let _: () = pipeline
            .lrange(key.active(), 0, MAX_ACTIVE_PER_QUEUE - 1)
            .await?;
    }
    let lists = run_pipeline(&pipeline, keys.len()).await?;

    let mut candidates: Vec<(usize, String)> = Vec::new();
    for (index, reply) in lists.into_iter().enumerate() {
        let Ok(Value::Array(ids)) = reply else {
            continue;
        };
        for id in ids.into_iter().filter_map(|v| v.into_string()) {
            // Legacy BullMQ ≤ 4 marker entries are not jobs.
            if !id.starts_with("0:") {
                candidates.push((index, id));
            }
        }
    }
    if candidates.is_empty() {
        return Ok(Vec::new());
    }

    let pipeline = pool.next().pipeline();
    for (index, id) in &candidates {
        let _: () = pipeline
            .hmget(keys[*index].job(id), FIELDS.to_vec())
            .await?;
        let _: () = pipeline.exists(keys[*index].lock(id)).await?;
    }
    let details = run_pipeline(&pipeline, candidates.len() * 2).await?;

    let mut stuck: Vec<StuckJob> = candidates
        .into_iter()
        .zip(details.chunks(2))
        .filter_map(|((index, id), replies)| {
            let fields = match replies.first() {
                Some(Ok(Value::Array(fields))) => fields.clone(),
                _ => return None,
            };
            let lock_held = matches!(replies.get(1), Some(Ok(v)) if v.as_u64() == Some(1));
            let job = ActiveJob::from_fields(id, &fields)?;
            let duration = u64::try_from(now_ms - job.processed_on).ok()?;
            (duration >= threshold_ms).then(|| job.into_stuck(&queues[index], duration, lock_held))
        })
        .collect();
    stuck.sort_by_key(|job| std::cmp::Reverse(job.stuck_duration));
    Ok(stuck)
}

/// The fields of an active job we need, parsed leniently.
struct ActiveJob {
    id: String,
    name: String,
    data: Option<String>,
    processed_on: i64,
    attempts_made: u64,
}

impl ActiveJob {
    /// `None` when the hash is gone or has no usable `processedOn` (the job just moved).
    fn from_fields(id: String, fields: &[Value]) -> Option<Self> {
        let text = |i: usize| fields.get(i).and_then(Value::as_string);
        let processed_on = text(2)?.parse::<f64>().ok()? as i64;
        let attempts_made = text(3)
            .or_else(|| text(4))
            .and_then(|t| t.parse::<u64>().ok())
            .unwrap_or(0);
        Some(Self {
            id,
            name: text(0).unwrap_or_default(),
            data: text(1),
            processed_on,
            attempts_made,
        })
    }

    fn into_stuck(self, queue: &QueueInfo, duration: u64, lock_held: bool) -> StuckJob {
        let (data, data_truncated) = preview_data(self.data.as_deref());
        StuckJob {
            job_id: self.id,
            queue_name: queue.name.as_str().to_owned(),
            job_name: self.name,
            stuck_duration: duration,
            severity: Severity::for_duration(duration),
            started_at: crate::ssr::service::rfc3339(self.processed_on),
            data,
            data_truncated,
            attempts_made: self.attempts_made,
            lock_held,
        }
    }
}

/// The job's data for display: parsed JSON when it is small enough; otherwise (or when it is not
/// JSON) a string, cut to [`DATA_PREVIEW_BYTES`] on a character boundary.
pub fn preview_data(raw: Option<&str>) -> (serde_json::Value, bool) {
    let Some(raw) = raw else {
        return (serde_json::Value::Null, false);
    };
    if raw.len() > DATA_PREVIEW_BYTES {
        let mut end = DATA_PREVIEW_BYTES;
        while !raw.is_char_boundary(end) {
            end -= 1;
        }
        return (serde_json::Value::String(format!("{}…", &raw[..end])), true);
    }
    match serde_json::from_str(raw) {
        Ok(value) => (value, false),
        Err(_) => (serde_json::Value::String(raw.to_owned()), false),
    }
}

/// At most this many active jobs are shown per queue in the live stream.
pub const LIVE_ACTIVE_LIMIT: usize = 100;

/// The active jobs of one queue, longest running first, at most [`LIVE_ACTIVE_LIMIT`] (and
/// whether there were more). Two round trips.
pub async fn active_jobs(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    now_ms: i64,
) -> Result<(Vec<crate::model::ActiveJobView>, bool), AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let ids: Vec<String> = pool
        .lrange(keys.active(), 0, MAX_ACTIVE_PER_QUEUE - 1)
        .await
        .map_err(AppError::from)?;
    let ids: Vec<String> = ids.into_iter().filter(|id| !id.starts_with("0:")).collect();
    if ids.is_empty() {
        return Ok((Vec::new(), false));
    }
    let pipeline = pool.next().pipeline();
    for id in &ids {
        let _: () = pipeline
            .hmget(
                keys.job(id),
                vec![
                    "name",
                    "data",
                    "processedOn",
                    "atm",
                    "attemptsMade",
                    "progress",
                ],
            )
            .await?;
    }
    let replies = run_pipeline(&pipeline, ids.len()).await?;
    let mut jobs: Vec<crate::model::ActiveJobView> = ids
        .into_iter()
        .zip(replies)
        .filter_map(|(id, reply)| {
            let Ok(Value::Array(fields)) = reply else {
                return None;
            };
            let progress = fields
                .get(5)
                .and_then(Value::as_string)
                .map(|raw| serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw)))
                .unwrap_or(serde_json::Value::Null);
            let job = ActiveJob::from_fields(id, &fields)?;
            let running_for = u64::try_from(now_ms - job.processed_on).unwrap_or(0);
            let (data, data_truncated) = preview_data(job.data.as_deref());
            Some(crate::model::ActiveJobView {
                job_id: job.id,
                job_name: job.name,
                started_at: crate::ssr::service::rfc3339(job.processed_on),
                running_for,
                progress,
                attempts_made: job.attempts_made,
                data,
                data_truncated,
            })
        })
        .collect();
    jobs.sort_by_key(|job| std::cmp::Reverse(job.running_for));
    let truncated = jobs.len() > LIVE_ACTIVE_LIMIT;
    jobs.truncate(LIVE_ACTIVE_LIMIT);
    Ok((jobs, truncated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn small_json_data_is_parsed() {
        assert_eq!(
            preview_data(Some(r#"{"bandId":"abc"}"#)),
            (json!({"bandId": "abc"}), false)
        );
    }

    #[test]
    fn non_json_data_is_shown_as_text() {
        assert_eq!(preview_data(Some("not json")), (json!("not json"), false));
        assert_eq!(preview_data(None), (serde_json::Value::Null, false));
    }

    #[test]
    fn huge_data_is_cut_on_a_character_boundary_and_flagged() {
        let raw = format!("\"{}\"", "é".repeat(DATA_PREVIEW_BYTES));
        let (value, truncated) = preview_data(Some(&raw));
        assert!(truncated);
        let text = value.as_str().expect("a string preview");
        assert!(text.len() <= DATA_PREVIEW_BYTES + '…'.len_utf8());
    }

    #[test]
    fn severity_follows_the_duration_bands() {
        let minutes = |m: u64| m * 60_000;
        assert_eq!(Severity::for_duration(minutes(10)), Severity::Low);
        assert_eq!(Severity::for_duration(minutes(30)), Severity::Low);
        assert_eq!(Severity::for_duration(minutes(31)), Severity::Medium);
        assert_eq!(Severity::for_duration(minutes(61)), Severity::High);
        assert_eq!(Severity::for_duration(minutes(121)), Severity::Critical);
    }
}
