//! A queue's job schedulers and legacy repeatable jobs, read as BullMQ's `getJobSchedulers()`
//! (v6) and `getRepeatableJobs()` (v5) describe them, but read-only: BullMQ deletes an entry
//! whose hash is empty when it meets one; the monitor shows it as an orphan and leaves it.
//!
//! Layout: `<queue>:repeat` is a sorted set (member = scheduler id or legacy repeat key, score =
//! next run in ms); `<queue>:repeat:<id>` a hash (`name`, `pattern` or `every`, `tz`, `limit`,
//! `startDate`, `endDate`, `offset`, `data`, `opts`, and `ic` for schedulers). The oldest legacy
//! repeatables have no hash: their key `name:jobId:endDate:tz:pattern` says it all.

use crate::model::{Scheduler, SchedulerKind};
use crate::ssr::bullmq::finished::members_with_scores;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::redact::Redactor;
use crate::ssr::redis::pipeline::run_pipeline;
use fred::prelude::*;
use std::collections::HashMap;

/// The entry count and the `limit` entries that run soonest: two round trips whatever the
/// limit (the set's range with the count, then every entry's hash in one pipeline).
pub async fn read(
    pool: &Pool,
    keys: &QueueKeys,
    limit: u64,
    redactor: &Redactor,
) -> Result<(u64, Vec<Scheduler>), AppError> {
    let pipeline = pool.next().pipeline();
    let _: () = pipeline.zcard(keys.repeat()).await?;
    let _: () = pipeline
        .zrange(
            keys.repeat(),
            0,
            limit.saturating_sub(1) as i64,
            None,
            false,
            None,
            true,
        )
        .await?;
    let replies = run_pipeline(&pipeline, 2).await?;
    let total = match replies.first() {
        Some(Ok(value)) => value.as_u64().unwrap_or(0),
        _ => 0,
    };
    let entries = match replies.get(1) {
        Some(Ok(value)) => members_with_scores(value),
        Some(Err(error)) => return Err(error.clone().into()),
        None => Vec::new(),
    };
    if limit == 0 || entries.is_empty() {
        return Ok((total, Vec::new()));
    }
    let pipeline = pool.next().pipeline();
    for (id, _) in &entries {
        let _: () = pipeline.hgetall(keys.repeat_entry(id)).await?;
    }
    let hashes = run_pipeline(&pipeline, entries.len()).await?;
    let schedulers = entries
        .into_iter()
        .zip(hashes)
        .map(|((id, next), hash)| {
            let fields: HashMap<String, String> = hash
                .ok()
                .and_then(|value| value.convert().ok())
                .unwrap_or_default();
            describe(&id, Some(next as i64), &fields, redactor)
        })
        .collect();
    Ok((total, schedulers))
}

/// One entry from its id, its score and its hash (plain code).
pub fn describe(
    key: &str,
    next: Option<i64>,
    fields: &HashMap<String, String>,
    redactor: &Redactor,
) -> Scheduler {
    let text = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
    let number = |name: &str| fields.get(name).and_then(|v| v.parse::<i64>().ok());
    let mut scheduler = Scheduler {
        key: key.to_owned(),
        kind: if fields.contains_key("ic") {
            SchedulerKind::Scheduler
        } else {
            SchedulerKind::Legacy
        },
        name: text("name"),
        next,
        pattern: text("pattern"),
        every: number("every").and_then(|v| u64::try_from(v).ok()),
        tz: text("tz"),
        limit: number("limit").and_then(|v| u64::try_from(v).ok()),
        start_date: number("startDate"),
        end_date: number("endDate"),
        offset: number("offset"),
        iteration_count: number("ic").and_then(|v| u64::try_from(v).ok()),
        job_id: None,
        template: None,
        orphan: false,
    };
    if fields.is_empty() {
        let segments: Vec<&str> = key.split(':').collect();
        if segments.len() >= 5 {
            // BullMQ's `keyToData`: name:jobId:endDate:tz:pattern (the pattern may hold `:`).
            let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
            scheduler.name = some(segments[0]);
            scheduler.job_id = some(segments[1]);
            scheduler.end_date = segments[2].parse().ok();
            scheduler.tz = some(segments[3]);
            scheduler.pattern = some(&segments[4..].join(":"));
        } else {
            scheduler.orphan = true;
        }
        return scheduler;
    }
    let json = |name: &str| {
        fields
            .get(name)
            .filter(|v| !v.is_empty())
            .map(|raw| serde_json::from_str(raw).unwrap_or(serde_json::Value::String(raw.clone())))
    };
    let data = json("data").map(|mut data| {
        redactor.mask(&mut data);
        data
    });
    let opts = json("opts");
    if data.is_some() || opts.is_some() {
        scheduler.template = Some(serde_json::json!({ "data": data, "opts": opts }));
    }
    scheduler
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_scheduler_is_told_by_its_iteration_count_and_its_template_is_masked() {
        let redactor = Redactor::parse("token").expect("paths");
        let entry = describe(
            "nightly",
            Some(1_700_000_000_000),
            &fields(&[
                ("name", "report"),
                ("pattern", "0 3 * * *"),
                ("tz", "Europe/Paris"),
                ("ic", "12"),
                ("data", r#"{"token":"s3cret","day":1}"#),
                ("opts", r#"{"attempts":3}"#),
            ]),
            &redactor,
        );
        assert_eq!(entry.kind, SchedulerKind::Scheduler);
        assert_eq!(entry.iteration_count, Some(12));
        assert_eq!(entry.pattern.as_deref(), Some("0 3 * * *"));
        let template = entry.template.expect("template");
        assert_eq!(template["data"]["day"], 1);
        assert_ne!(template["data"]["token"], "s3cret");
        assert_eq!(template["opts"]["attempts"], 3);
        assert!(!entry.orphan);
    }

    #[test]
    fn old_legacy_keys_describe_themselves_and_an_empty_scheduler_is_an_orphan() {
        let redactor = Redactor::parse("").expect("paths");
        let legacy = describe(
            "cleanup:job-1:1800000000000:UTC:*/5 * * * *",
            Some(5),
            &HashMap::new(),
            &redactor,
        );
        assert_eq!(legacy.kind, SchedulerKind::Legacy);
        assert_eq!(legacy.name.as_deref(), Some("cleanup"));
        assert_eq!(legacy.job_id.as_deref(), Some("job-1"));
        assert_eq!(legacy.end_date, Some(1_800_000_000_000));
        assert_eq!(legacy.pattern.as_deref(), Some("*/5 * * * *"));
        assert!(!legacy.orphan);
        let orphan = describe("gone", Some(5), &HashMap::new(), &redactor);
        assert!(orphan.orphan);
    }

    #[test]
    fn every_is_a_number_of_milliseconds() {
        let redactor = Redactor::parse("").expect("paths");
        let entry = describe(
            "tick",
            None,
            &fields(&[("name", "t"), ("every", "5000"), ("ic", "1")]),
            &redactor,
        );
        assert_eq!(entry.every, Some(5000));
        assert_eq!(entry.template, None);
    }
}
