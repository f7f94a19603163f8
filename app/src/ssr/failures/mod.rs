//! Failure groups: failed jobs grouped by cause ([`fingerprint`]), kept by the history
//! collector as it reads BullMQ's `failed` events, so that reading them costs O(groups).
//!
//! - A `failed` event becomes an operation applied in the same script as the batch's buckets and
//!   cursor (`history/lua/apply.lua` with `lua/groups.lua` prepended): counted exactly once,
//!   whoever collects and whenever one dies.
//! - A group also holds its **retained** members: the failed jobs BullMQ still keeps (those a
//!   bulk action can reach). A job leaves them when an event says it left `failed` (`waiting
//!   prev failed`: a retry; `removed prev failed`) and when BullMQ drops it without an event
//!   (`removeOnFail` trimming by count or age, `clean`): [`sweep`] finds those by comparing a
//!   queue's `failed` size with its members', and checks the members only then.
//! - Failed jobs that failed before the collector read their events (or in a gap) are
//!   [`seed`]ed from the retained jobs, once per queue (and again after a gap); a failure is a
//!   (job, `finishedOn`) pair, so the seed and an event never count one failure twice.
//!
//! [`read`] answers `GET /failures`.

pub mod fingerprint;
pub mod read;

use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::history::aggregate::{EventKind, StreamEvent};
use crate::ssr::redis::run_pipeline;
use fingerprint::Fingerprint;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The Lua that applies operations; prepended to the scripts that change groups.
pub const GROUPS_LUA: &str = include_str!("lua/groups.lua");
/// The seed's script (with the groups' Lua), hashed once.
static SEED: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::from_lua(format!("{GROUPS_LUA}\n{}", include_str!("lua/seed.lua")))
});

/// Operations per seed call, and jobs read per seed page (about 15 commands each inside the
/// script: a few milliseconds of Redis per call).
const SEED_BATCH: usize = 250;

/// How long hour counts of failures are kept at most (the sparkline shows 24 h; `since`
/// reaches 30 days back).
pub const MAX_HOUR_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// At most this many characters of an example `failedReason` are stored.
const EXAMPLE_CHARS: usize = 2000;

/// The keys of the failure groups (see `lua/groups.lua` for what each holds).
#[derive(Clone, Debug)]
pub struct FailureKeys {
    pub base: String,
}

impl FailureKeys {
    pub fn new(history: &crate::ssr::history::keys::HistoryKeys) -> Self {
        Self {
            base: history.failures(),
        }
    }

    pub fn count(&self) -> String {
        format!("{}:count", self.base)
    }
    pub fn info(&self) -> String {
        format!("{}:info", self.base)
    }
    pub fn first(&self) -> String {
        format!("{}:first", self.base)
    }
    pub fn last(&self) -> String {
        format!("{}:last", self.base)
    }
    pub fn queues(&self) -> String {
        format!("{}:queues", self.base)
    }
    pub fn retained(&self) -> String {
        format!("{}:retained", self.base)
    }
    pub fn seeded(&self) -> String {
        format!("{}:seeded", self.base)
    }
    pub fn hour(&self, start_ms: u64) -> String {
        format!("{}:h:{start_ms}", self.base)
    }
    /// A group's retained failed jobs in one queue (scored by `finishedOn`).
    pub fn members(&self, group: &str, queue: &str) -> String {
        format!("{}:m:{group}:{queue}", self.base)
    }
    /// A queue's members: job id → group.
    pub fn by_job(&self, queue: &str) -> String {
        format!("{}:job:{queue}", self.base)
    }
}

/// What one operation does (see `lua/groups.lua`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// A `failed` event.
    Failed,
    /// A retained failed job met by the seed.
    Seeded,
    /// A job that left `failed`.
    Left,
}

/// One change to the groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Op {
    pub kind: OpKind,
    pub group: String,
    pub queue: String,
    pub job: String,
    /// `finishedOn` while BullMQ keeps the job in `failed`; `None` when it is gone.
    pub score: Option<u64>,
    pub ms: u64,
    /// The group's description with this failure as its example (JSON).
    pub info: Option<String>,
}

impl Op {
    /// The seven script arguments of this operation.
    pub fn push_args(&self, args: &mut Vec<String>) {
        args.push(
            match self.kind {
                OpKind::Failed => "f",
                OpKind::Seeded => "s",
                OpKind::Left => "l",
            }
            .to_owned(),
        );
        args.push(self.group.clone());
        args.push(self.queue.clone());
        args.push(self.job.clone());
        args.push(self.score.map(|s| s.to_string()).unwrap_or_default());
        args.push(self.ms.to_string());
        args.push(self.info.clone().unwrap_or_default());
    }
}

/// The stored description of a group, with one real example.
fn info(print: &Fingerprint, name: &str, reason: &str, queue: &str, job: &str) -> String {
    let example: String = reason.chars().take(EXAMPLE_CHARS).collect();
    serde_json::json!({
        "name": name,
        "message": print.message,
        "frame": print.frame,
        "example": example,
        "queue": queue,
        "job": job,
    })
    .to_string()
}

/// Names of a queue's unfinished jobs from their `added` events, for failures whose job BullMQ
/// removed before the collector could read its hash (`removeOnFail: true`). A name is kept
/// until its job finishes or is removed; at most [`NAMES_KEPT`] per queue (forgotten
/// wholesale when full: those jobs' failures are then grouped without their name).
#[derive(Default)]
pub struct Names {
    names: HashMap<String, String>,
}

const NAMES_KEPT: usize = 10_000;

impl Names {
    /// Learns the names of the jobs `events` add (failures are looked up before the names of
    /// finished jobs are forgotten: see [`batch_ops`]).
    fn learn(&mut self, events: &[StreamEvent]) {
        for event in events {
            if let (EventKind::Added, Some(job), Some(name)) =
                (&event.kind, &event.job_id, &event.name)
            {
                if self.names.len() >= NAMES_KEPT {
                    self.names.clear();
                }
                self.names.insert(job.clone(), name.clone());
            }
        }
    }

    fn forget_finished(&mut self, events: &[StreamEvent]) {
        for event in events {
            if matches!(
                event.kind,
                EventKind::Completed | EventKind::Failed | EventKind::Removed
            ) {
                if let Some(job) = &event.job_id {
                    self.names.remove(job);
                }
            }
        }
    }

    fn get(&self, job: &str) -> Option<String> {
        self.names.get(job).cloned()
    }
}

/// The operations of a batch of one queue's events, in stream order: each `failed` event (its
/// job's name and newest stack trace read from the job, and whether BullMQ keeps it, in one
/// pipelined round trip for the batch) and each job that left `failed`.
pub async fn batch_ops(
    pool: &Pool,
    keys: &QueueKeys,
    queue: &str,
    events: &[StreamEvent],
    names: &mut Names,
) -> Result<Vec<Op>, AppError> {
    names.learn(events);
    let failed: Vec<&StreamEvent> = events
        .iter()
        .filter(|e| e.kind == EventKind::Failed && e.job_id.is_some())
        .collect();
    let mut looked_up = Vec::with_capacity(failed.len());
    if !failed.is_empty() {
        let pipeline = pool.next().pipeline();
        for event in &failed {
            let job = event.job_id.as_deref().unwrap_or_default();
            let _: () = pipeline
                .hmget(keys.job(job), vec!["name", "stacktrace"])
                .await?;
            let _: () = pipeline.zscore(keys.failed(), job).await?;
        }
        let replies = run_pipeline(&pipeline, failed.len() * 2).await?;
        let mut replies = replies.into_iter();
        while let (Some(hash), Some(score)) = (replies.next(), replies.next()) {
            let fields: Vec<Option<String>> = match hash {
                Ok(Value::Array(values)) => values.into_iter().map(|v| v.as_string()).collect(),
                _ => Vec::new(),
            };
            let field = |i: usize| fields.get(i).cloned().flatten();
            let score = score.ok().and_then(|s| s.as_f64()).map(|s| s as u64);
            looked_up.push((field(0), field(1), score));
        }
    }
    let mut looked_up = looked_up.into_iter();
    let mut ops = Vec::new();
    for event in events {
        let Some(job) = event.job_id.as_deref() else {
            continue;
        };
        match event.kind {
            EventKind::Failed => {
                let (name, stack, score) = looked_up.next().unwrap_or((None, None, None));
                let name = name.or_else(|| names.get(job)).unwrap_or_default();
                let reason = event.failed_reason.as_deref().unwrap_or_default();
                let print = Fingerprint::of(&name, reason, stack.as_deref());
                ops.push(Op {
                    kind: OpKind::Failed,
                    info: Some(info(&print, &name, reason, queue, job)),
                    group: print.id,
                    queue: queue.to_owned(),
                    job: job.to_owned(),
                    score,
                    ms: event.ms,
                });
            }
            EventKind::Waiting | EventKind::Removed if event.prev.as_deref() == Some("failed") => {
                ops.push(left(queue, job, event.ms));
            }
            _ => {}
        }
    }
    names.forget_finished(events);
    keep_newest_info(&mut ops);
    Ok(ops)
}

/// Only the last operation of each group carries the group's description (its newest example):
/// the others would be overwritten in the same script anyway.
fn keep_newest_info(ops: &mut [Op]) {
    let mut seen = HashSet::new();
    for op in ops.iter_mut().rev() {
        if op.info.is_some() && !seen.insert(op.group.clone()) {
            op.info = None;
        }
    }
}

fn left(queue: &str, job: &str, ms: u64) -> Op {
    Op {
        kind: OpKind::Left,
        group: String::new(),
        queue: queue.to_owned(),
        job: job.to_owned(),
        score: None,
        ms,
        info: None,
    }
}

/// Who writes: the collector's lease key and token (every write checks it).
pub struct Writer<'a> {
    pub pool: &'a Pool,
    pub keys: &'a FailureKeys,
    pub lease_key: &'a str,
    pub token: &'a str,
    pub hour_retention: Duration,
}

impl Writer<'_> {
    /// Applies operations in calls of at most [`SEED_BATCH`]; with `seeded`, marks the queue
    /// seeded in the last. `Ok(false)` when the lease was lost.
    async fn write(&self, ops: &[Op], seeded: Option<&str>) -> Result<bool, AppError> {
        let chunks: Vec<&[Op]> = if ops.is_empty() {
            vec![&[]]
        } else {
            ops.chunks(SEED_BATCH).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let mut args = vec![
                self.token.to_owned(),
                self.keys.base.clone(),
                self.hour_retention.as_millis().to_string(),
                if i == last {
                    seeded.unwrap_or_default().to_owned()
                } else {
                    String::new()
                },
                chunk.len().to_string(),
            ];
            for op in chunk {
                op.push_args(&mut args);
            }
            let reply: i64 = SEED
                .evalsha_with_reload(self.pool.next(), vec![self.lease_key.to_owned()], args)
                .await?;
            if reply != 1 {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Groups every failed job BullMQ keeps in `queue` that no group holds yet, page by page
/// (by `finishedOn`, so jobs failing meanwhile do not shift the pages), then marks the queue
/// seeded. `Ok(false)` when the lease was lost.
pub async fn seed(writer: &Writer<'_>, keys: &QueueKeys, queue: &str) -> Result<bool, AppError> {
    let pool = writer.pool;
    let mut low = f64::NEG_INFINITY;
    // The jobs at score `low` already seen (ties at a page's edge).
    let mut seen: HashSet<String> = HashSet::new();
    loop {
        let limit = SEED_BATCH + seen.len();
        let page: Vec<(String, f64)> = pool
            .zrangebyscore(
                keys.failed(),
                low,
                f64::INFINITY,
                true,
                Some((0, limit as i64)),
            )
            .await?;
        let last_page = page.len() < limit;
        let fresh: Vec<&(String, f64)> = page.iter().filter(|(id, _)| !seen.contains(id)).collect();
        let mut ops = seed_ops(pool, keys, queue, &fresh).await?;
        keep_newest_info(&mut ops);
        if !writer.write(&ops, last_page.then_some(queue)).await? {
            return Ok(false);
        }
        if last_page {
            return Ok(true);
        }
        let top = page.last().map_or(low, |(_, score)| *score);
        if top > low {
            seen.clear();
            low = top;
        }
        seen.extend(
            page.iter()
                .filter(|(_, score)| *score == top)
                .map(|(id, _)| id.clone()),
        );
    }
}

/// The seed operations of failed jobs read from `failed` (one pipelined round trip).
async fn seed_ops(
    pool: &Pool,
    keys: &QueueKeys,
    queue: &str,
    jobs: &[&(String, f64)],
) -> Result<Vec<Op>, AppError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = pool.next().pipeline();
    for (id, _) in jobs {
        let _: () = pipeline
            .hmget(keys.job(id), vec!["name", "failedReason", "stacktrace"])
            .await?;
    }
    let replies = run_pipeline(&pipeline, jobs.len()).await?;
    let mut ops = Vec::with_capacity(jobs.len());
    for ((id, score), reply) in jobs.iter().map(|j| (&j.0, j.1)).zip(replies) {
        let fields: Vec<Option<String>> = match reply {
            Ok(Value::Array(values)) => values.into_iter().map(|v| v.as_string()).collect(),
            _ => continue,
        };
        let field = |i: usize| fields.get(i).cloned().flatten();
        let Some(reason) = field(1) else {
            // Gone since the page was read.
            continue;
        };
        let name = field(0).unwrap_or_default();
        let print = Fingerprint::of(&name, &reason, field(2).as_deref());
        ops.push(Op {
            kind: OpKind::Seeded,
            info: Some(info(&print, &name, &reason, queue, id)),
            group: print.id,
            queue: queue.to_owned(),
            job: id.clone(),
            score: Some(score as u64),
            ms: score as u64,
        });
    }
    Ok(ops)
}

/// Drops members BullMQ no longer keeps in `failed` without having said so by an event
/// (`removeOnFail` trimming by count or age, `clean`): walks the queue's members (`HSCAN`, 1,000
/// at a time) and asks `failed` about each (one pipelined round trip per page). The collector
/// calls it only for queues whose `failed` set holds fewer jobs than their members.
/// `Ok(false)` when the lease was lost.
pub async fn sweep(writer: &Writer<'_>, keys: &QueueKeys, queue: &str) -> Result<bool, AppError> {
    let pool = writer.pool;
    let by_job = writer.keys.by_job(queue);
    let mut cursor = "0".to_owned();
    loop {
        let (next, page): (String, Vec<String>) = pool
            .next()
            .custom(
                fred::types::CustomCommand::new_static(
                    "HSCAN",
                    fred::types::ClusterHash::FirstKey,
                    false,
                ),
                vec![
                    by_job.clone(),
                    cursor.clone(),
                    "COUNT".into(),
                    "1000".into(),
                ],
            )
            .await
            .map(|reply: Value| {
                let Value::Array(mut parts) = reply else {
                    return ("0".to_owned(), Vec::new());
                };
                let items = match parts.pop() {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                let next = parts
                    .pop()
                    .and_then(|v| v.as_string())
                    .unwrap_or_else(|| "0".into());
                let ids = items
                    .chunks(2)
                    .filter_map(|pair| pair.first().and_then(Value::as_string))
                    .collect();
                (next, ids)
            })?;
        if !page.is_empty() {
            let pipeline = pool.next().pipeline();
            for id in &page {
                let _: () = pipeline.zscore(keys.failed(), id.as_str()).await?;
            }
            let scores = run_pipeline(&pipeline, page.len()).await?;
            let gone: Vec<Op> = page
                .iter()
                .zip(scores)
                .filter(|(_, score)| matches!(score, Ok(Value::Null)))
                .map(|(id, _)| left(queue, id, 0))
                .collect();
            if !writer.write(&gone, None).await? {
                return Ok(false);
            }
        }
        if next == "0" {
            return Ok(true);
        }
        cursor = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(group: &str, job: &str) -> Op {
        Op {
            kind: OpKind::Failed,
            group: group.into(),
            queue: "q".into(),
            job: job.into(),
            score: Some(1),
            ms: 1,
            info: Some(format!("{{\"job\":\"{job}\"}}")),
        }
    }

    #[test]
    fn only_the_newest_failure_of_a_group_carries_its_description() {
        let mut ops = vec![
            failed("a", "1"),
            failed("b", "2"),
            failed("a", "3"),
            left("q", "4", 1),
        ];
        keep_newest_info(&mut ops);
        let carried: Vec<&str> = ops
            .iter()
            .filter(|op| op.info.is_some())
            .map(|op| op.job.as_str())
            .collect();
        assert_eq!(carried, ["2", "3"]);
    }

    #[test]
    fn an_operation_is_seven_script_arguments() {
        let mut args = Vec::new();
        failed("a", "1").push_args(&mut args);
        left("q", "2", 5).push_args(&mut args);
        assert_eq!(args.len(), 14);
        assert_eq!(&args[..6], ["f", "a", "q", "1", "1", "1"]);
        assert_eq!(&args[7..13], ["l", "", "q", "2", "", "5"]);
    }
}
