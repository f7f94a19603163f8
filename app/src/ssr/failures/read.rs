//! `GET /failures`: the groups, read in one pipelined round trip whose size grows with the
//! groups and the window's hours, never with the failed jobs.

use super::FailureKeys;
use crate::model::failures::{ExampleJob, FailureGroup, GroupQueue, SPARK_HOURS};
use crate::ssr::clock::rfc3339;
use crate::ssr::error::AppError;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use std::collections::HashMap;

const HOUR: u64 = 3_600_000;

/// Which number of a group's queue a hash fills.
type Slot = fn(&mut GroupQueue) -> &mut u64;

/// The groups as of `now`, with their counts from the hour `since` falls in; only those of
/// `queue` (and their numbers there) when given. Most failures in the window first, then most
/// retained; groups with neither are left out.
pub async fn groups(
    pool: &Pool,
    keys: &FailureKeys,
    queue: Option<&str>,
    since: u64,
    now: u64,
) -> Result<Vec<FailureGroup>, AppError> {
    let from_hour = since - since % HOUR;
    let spark_from = (now - now % HOUR).saturating_sub((SPARK_HOURS as u64 - 1) * HOUR);
    let first_hour = from_hour.min(spark_from);
    let hours: Vec<u64> = (0..)
        .map(|i| first_hour + i * HOUR)
        .take_while(|hour| *hour <= now)
        .collect();
    let pipeline = pool.next().pipeline();
    for key in [
        keys.count(),
        keys.info(),
        keys.first(),
        keys.last(),
        keys.queues(),
        keys.retained(),
    ] {
        let _: () = pipeline.hgetall(key).await?;
    }
    for hour in &hours {
        let _: () = pipeline.hgetall(keys.hour(*hour)).await?;
    }
    let replies = run_pipeline(&pipeline, 6 + hours.len()).await?;
    let maps: Vec<HashMap<String, String>> = replies
        .into_iter()
        .map(|reply| match reply {
            Ok(value) => value.convert().unwrap_or_default(),
            Err(_) => HashMap::new(),
        })
        .collect();
    let number = |text: Option<&String>| text.and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
    let (count, info, first, last, per_queue, retained) =
        (&maps[0], &maps[1], &maps[2], &maps[3], &maps[4], &maps[5]);

    let wanted = |q: &str| queue.is_none_or(|only| only == q);
    // Per (group, queue): totals and retained.
    let mut queues: HashMap<(String, String), GroupQueue> = HashMap::new();
    let fields: [(&HashMap<String, String>, Slot); 2] = [
        (per_queue, |q| &mut q.total),
        (retained, |q| &mut q.retained),
    ];
    for (map, slot) in fields {
        for (field, value) in map {
            let Some((group, q)) = field.split_once('|').filter(|(_, q)| wanted(q)) else {
                continue;
            };
            let numbers = queues
                .entry((group.to_owned(), q.to_owned()))
                .or_insert_with(|| GroupQueue {
                    queue_name: q.to_owned(),
                    ..GroupQueue::default()
                });
            *slot(numbers) = number(Some(value));
        }
    }
    let mut hourly: HashMap<String, Vec<u64>> = HashMap::new();
    for (hour, counts) in hours.iter().zip(&maps[6..]) {
        for (field, value) in counts {
            let Some((group, q)) = field.split_once('|') else {
                continue;
            };
            if !wanted(q) {
                continue;
            }
            let n = number(Some(value));
            if *hour >= from_hour {
                if let Some(numbers) = queues.get_mut(&(group.to_owned(), q.to_owned())) {
                    numbers.count += n;
                }
            }
            if *hour >= spark_from {
                let slot = ((hour - spark_from) / HOUR) as usize;
                let spark = hourly
                    .entry(group.to_owned())
                    .or_insert_with(|| vec![0; SPARK_HOURS]);
                if let Some(cell) = spark.get_mut(slot) {
                    *cell += n;
                }
            }
        }
    }
    let mut by_group: HashMap<String, Vec<GroupQueue>> = HashMap::new();
    for ((group, _), numbers) in queues {
        by_group.entry(group).or_default().push(numbers);
    }
    let mut out: Vec<FailureGroup> = Vec::with_capacity(by_group.len());
    for (id, mut in_queues) in by_group {
        in_queues.sort_by(|a, b| b.count.cmp(&a.count).then(a.queue_name.cmp(&b.queue_name)));
        let described: serde_json::Value = info
            .get(&id)
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default();
        let text = |field: &str| described[field].as_str().unwrap_or_default().to_owned();
        let group = FailureGroup {
            name: text("name"),
            message: text("message"),
            frame: text("frame"),
            example: text("example"),
            example_job: (!text("job").is_empty()).then(|| ExampleJob {
                queue_name: text("queue"),
                id: text("job"),
            }),
            count: in_queues.iter().map(|q| q.count).sum(),
            total: if queue.is_some() {
                in_queues.iter().map(|q| q.total).sum()
            } else {
                number(count.get(&id))
            },
            retained: in_queues.iter().map(|q| q.retained).sum(),
            first_seen: first
                .get(&id)
                .and_then(|t| t.parse::<i64>().ok())
                .map(rfc3339),
            last_seen: last
                .get(&id)
                .and_then(|t| t.parse::<i64>().ok())
                .map(rfc3339),
            hourly: hourly.remove(&id).unwrap_or_else(|| vec![0; SPARK_HOURS]),
            queues: in_queues,
            id,
        };
        if group.count > 0 || group.retained > 0 {
            out.push(group);
        }
    }
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.retained.cmp(&a.retained))
            .then(a.id.cmp(&b.id))
    });
    Ok(out)
}
