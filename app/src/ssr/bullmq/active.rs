//! Active jobs and stuck-job detection. A job is stuck when its current attempt has been active
//! (`processedOn`) longer than the threshold; its `:lock` tells whether a worker is still on it.
//!
//! BullMQ pushes a job onto the head of `active` when a worker takes it, so the list's tail
//! holds the jobs active the longest: the likeliest stuck. Reads therefore take the tail, at
//! most [`MAX_ACTIVE_PER_QUEUE`] per queue (and say when a queue had more), read only the small
//! fields of those, and read `data` (which may be large) only for the jobs they return. Three
//! round trips whatever the number of queues.

use crate::model::{ActiveJobView, Severity, StuckJob, StuckReport};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::clock::rfc3339;
use crate::ssr::error::AppError;
use crate::ssr::redis::pipeline::reply_text;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;

/// At most this many active jobs are read per queue, from the oldest end. An active list is
/// bounded by the workers' concurrency, so this only guards against a pathological list.
pub const MAX_ACTIVE_PER_QUEUE: i64 = 10_000;

/// Larger `data` payloads are cut to a preview of this many bytes.
pub const DATA_PREVIEW_BYTES: usize = 4096;

/// At most this many active jobs are shown per queue in the live stream.
pub const LIVE_ACTIVE_LIMIT: usize = 100;

/// Job hash fields read for each active job, in this order (`data` is read later, only for
/// the jobs shown).
const FIELDS: [&str; 5] = ["name", "processedOn", "atm", "attemptsMade", "progress"];

/// The active jobs found in the oldest end of each queue's `active` list.
struct Scan {
    /// `(queue index, job id)`, oldest first within each queue.
    candidates: Vec<(usize, String)>,
    /// Per queue: whether its list was longer than what was read.
    capped: Vec<bool>,
}

/// Reads the oldest end of every queue's `active` list (one round trip).
async fn scan_active(pool: &Pool, keys: &[QueueKeys]) -> Result<Scan, AppError> {
    let pipeline = pool.next().pipeline();
    for key in keys {
        let _: () = pipeline.llen(key.active()).await?;
        let _: () = pipeline
            .lrange(key.active(), -MAX_ACTIVE_PER_QUEUE, -1)
            .await?;
    }
    let replies = run_pipeline(&pipeline, keys.len() * 2).await?;
    let mut scan = Scan {
        candidates: Vec::new(),
        capped: Vec::with_capacity(keys.len()),
    };
    for (index, pair) in replies.chunks(2).enumerate() {
        let length = match pair.first() {
            Some(Ok(value)) => value.as_u64().unwrap_or(0),
            _ => 0,
        };
        scan.capped
            .push(length > u64::try_from(MAX_ACTIVE_PER_QUEUE).unwrap_or(u64::MAX));
        let Some(Ok(Value::Array(ids))) = pair.get(1) else {
            continue;
        };
        // The list's tail is its oldest entry: walk it backwards so each queue's candidates
        // come oldest first. Legacy BullMQ ≤ 4 marker entries are not jobs.
        for id in ids.iter().rev().filter_map(Value::as_string) {
            if !id.starts_with("0:") {
                scan.candidates.push((index, id));
            }
        }
    }
    Ok(scan)
}

/// The small fields of an active job.
struct ActiveJob {
    queue: usize,
    id: String,
    name: String,
    processed_on: i64,
    attempts_made: u64,
    progress: serde_json::Value,
    lock_held: bool,
}

/// Reads the small fields (and, with `locks`, the lock) of every candidate (one round trip).
/// Jobs gone since the scan, or without a usable `processedOn`, are left out.
async fn read_active(
    pool: &Pool,
    keys: &[QueueKeys],
    candidates: Vec<(usize, String)>,
    locks: bool,
) -> Result<Vec<ActiveJob>, AppError> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let per_job = if locks { 2 } else { 1 };
    let pipeline = pool.next().pipeline();
    for (index, id) in &candidates {
        let _: () = pipeline
            .hmget(keys[*index].job(id), FIELDS.to_vec())
            .await?;
        if locks {
            let _: () = pipeline.exists(keys[*index].lock(id)).await?;
        }
    }
    let replies = run_pipeline(&pipeline, candidates.len() * per_job).await?;
    Ok(candidates
        .into_iter()
        .zip(replies.chunks(per_job))
        .filter_map(|((queue, id), replies)| {
            let Some(Ok(Value::Array(fields))) = replies.first() else {
                return None;
            };
            let text = |i: usize| fields.get(i).and_then(Value::as_string);
            let processed_on = text(1)?.parse::<f64>().ok()? as i64;
            let attempts_made = text(2)
                .or_else(|| text(3))
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(0);
            let progress = text(4)
                .map(|raw| serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw)))
                .unwrap_or(serde_json::Value::Null);
            let lock_held = matches!(replies.get(1), Some(Ok(v)) if v.as_u64() == Some(1));
            Some(ActiveJob {
                queue,
                id,
                name: text(0).unwrap_or_default(),
                processed_on,
                attempts_made,
                progress,
                lock_held,
            })
        })
        .collect())
}

/// The `data` of each job (one round trip), as previews.
async fn read_data(
    pool: &Pool,
    keys: &[QueueKeys],
    jobs: &[ActiveJob],
) -> Result<Vec<(serde_json::Value, bool)>, AppError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = pool.next().pipeline();
    for job in jobs {
        let _: () = pipeline.hget(keys[job.queue].job(&job.id), "data").await?;
    }
    let replies = run_pipeline(&pipeline, jobs.len()).await?;
    Ok(replies
        .iter()
        .map(|reply| preview_data(reply_text(Some(reply)).as_deref()))
        .collect())
}

/// Active jobs whose current attempt started at least `threshold_ms` before `now_ms`, longest
/// stuck first, at most `limit` of them, with how many there are in all.
pub async fn stuck_jobs(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    threshold_ms: u64,
    now_ms: i64,
    limit: u64,
) -> Result<StuckReport, AppError> {
    let keys: Vec<QueueKeys> = queues
        .iter()
        .map(|q| QueueKeys::new(prefix, &q.name))
        .collect();
    let scanned_per_queue = u64::try_from(MAX_ACTIVE_PER_QUEUE).unwrap_or(0);
    if keys.is_empty() {
        return Ok(StuckReport {
            limit,
            scanned_per_queue,
            ..StuckReport::default()
        });
    }
    let scan = scan_active(pool, &keys).await?;
    let mut stuck: Vec<(u64, ActiveJob)> = read_active(pool, &keys, scan.candidates, true)
        .await?
        .into_iter()
        .filter_map(|job| {
            let duration = u64::try_from(now_ms - job.processed_on).ok()?;
            (duration >= threshold_ms).then_some((duration, job))
        })
        .collect();
    let total = stuck.len() as u64;
    stuck.sort_by_key(|(duration, _)| std::cmp::Reverse(*duration));
    stuck.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let (durations, jobs): (Vec<u64>, Vec<ActiveJob>) = stuck.into_iter().unzip();
    let data = read_data(pool, &keys, &jobs).await?;
    let jobs = jobs
        .into_iter()
        .zip(durations)
        .zip(data)
        .map(|((job, duration), (data, data_truncated))| StuckJob {
            queue_name: queues[job.queue].name.as_str().to_owned(),
            job_id: job.id,
            job_name: job.name,
            stuck_duration: duration,
            severity: Severity::for_duration(duration),
            started_at: rfc3339(job.processed_on),
            data,
            data_truncated,
            attempts_made: job.attempts_made,
            lock_held: job.lock_held,
        })
        .collect();
    Ok(StuckReport {
        jobs,
        total,
        limit,
        capped_queues: queues
            .iter()
            .zip(&scan.capped)
            .filter(|(_, capped)| **capped)
            .map(|(queue, _)| queue.name.as_str().to_owned())
            .collect(),
        scanned_per_queue,
    })
}

/// The active jobs of one queue, longest running first, at most [`LIVE_ACTIVE_LIMIT`] (and
/// whether there were more). Three round trips, `data` read only for the jobs shown.
pub async fn active_jobs(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    now_ms: i64,
) -> Result<(Vec<ActiveJobView>, bool), AppError> {
    let keys = [QueueKeys::new(prefix, &queue.name)];
    let scan = scan_active(pool, &keys).await?;
    let mut jobs = read_active(pool, &keys, scan.candidates, false).await?;
    jobs.sort_by_key(|job| job.processed_on);
    let truncated = jobs.len() > LIVE_ACTIVE_LIMIT || scan.capped.iter().any(|c| *c);
    jobs.truncate(LIVE_ACTIVE_LIMIT);
    let data = read_data(pool, &keys, &jobs).await?;
    let views = jobs
        .into_iter()
        .zip(data)
        .map(|(job, (data, data_truncated))| ActiveJobView {
            job_id: job.id,
            job_name: job.name,
            started_at: rfc3339(job.processed_on),
            running_for: u64::try_from(now_ms - job.processed_on).unwrap_or(0),
            progress: job.progress,
            attempts_made: job.attempts_made,
            data,
            data_truncated,
        })
        .collect();
    Ok((views, truncated))
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
