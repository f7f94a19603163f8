//! The all-queues snapshot (`/metrics`, the live stream) at a few Redis commands per queue, and
//! two per queue that has not changed.
//!
//! One script call per queue (`lua/snapshot.lua`), all in one pipeline: it reads the last id of
//! the queue's event stream and, when that is the id this process saw last time, answers
//! "unchanged" — BullMQ adds an event in the same atomic script as every change it makes (so do
//! the monitor's own scripts). Otherwise it reads the counts and the queue's
//! [`SUCCESS_RATE_SAMPLE`] most recently finished jobs (merged from the two sets by
//! `finishedOn`, with the jobs tied at the edge counted), which this process keeps
//! ([`SnapshotCache`]). From those kept lists come, exactly and without reading Redis again:
//!
//! - each queue's success sample: the n most recently finished jobs (every job at or after the
//!   n-th's time);
//! - the sample across all queues, by merging the lists (a queue's part of the global n is
//!   always within its own n);
//! - each queue's processing rate: its jobs finished since the window's start, when its list
//!   reaches back that far (else two `ZCOUNT`s in a second round trip, for a queue that
//!   finished more than n jobs in the window).
//!
//! A queue is read in full anyway every [`RECOUNT_EVERY`] (`Settings::snapshot_recount`; a key
//! deleted by hand changes no event stream), and after any control action of this process (the
//! cache is cleared).

use crate::model::{QueueSummary, StateCounts};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::finished::{Sample, SCORE_MAX};
use crate::ssr::bullmq::keys::{QueueKeys, QueueName};
use crate::ssr::error::AppError;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

static SNAPSHOT: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/snapshot.lua")));

/// How long an unchanged queue's numbers are trusted before a full read, by default.
pub const RECOUNT_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// A queue's most recently finished jobs: `finishedOn` scores, newest first, positive for
/// completed and negative for failed, at most n of them; and the jobs beyond them that
/// finished in the very millisecond of the n-th.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recent {
    pub scores: Vec<i64>,
    pub tied: Sample,
    /// Whether the queue retains more finished jobs than listed (the list is full).
    pub full: bool,
}

impl Recent {
    /// The queue's success sample: everything listed plus the ties.
    pub fn sample(&self) -> Sample {
        let completed = self.scores.iter().filter(|s| **s > 0).count() as u64;
        Sample {
            completed: completed + self.tied.completed,
            failed: (self.scores.len() as u64 - completed) + self.tied.failed,
        }
    }

    /// What the script needs to read only the jobs finished since this list was read, for
    /// completed then failed: the exclusive lower bound of new scores, the threshold at or
    /// above which the set's jobs are all known, and how many those are (listed and tied).
    /// A full list's threshold is its edge (jobs below it do not matter and may go); a list
    /// that holds every finished job has none (the whole set must be as known).
    fn incremental_args(&self) -> Vec<String> {
        let edge = self.scores.last().map(|s| s.abs());
        let threshold = edge.filter(|_| self.full);
        let mut args = vec!["inc".to_owned()];
        for (completed, tied) in [(true, self.tied.completed), (false, self.tied.failed)] {
            let listed: Vec<i64> = self
                .scores
                .iter()
                .filter(|s| (**s > 0) == completed)
                .map(|s| s.abs())
                .collect();
            let bound = match (listed.iter().max(), threshold) {
                (Some(newest), _) => format!("({newest}"),
                (None, Some(edge)) => format!("({edge}"),
                (None, None) => "-inf".to_owned(),
            };
            let known = listed.len() as u64 + if self.full { tied } else { 0 };
            args.push(bound);
            args.push(threshold.map_or_else(|| "-inf".to_owned(), |t| t.to_string()));
            args.push(known.to_string());
        }
        args
    }

    /// This list with the jobs that finished since (scores newest first, completed positive,
    /// failed negative; all newer than anything listed): the n newest of all, the jobs tied
    /// with the new n-th beyond them counted (those listed, and those the old list counted
    /// when its edge is the new one).
    pub fn with_newer(&self, completed: &[i64], failed: &[i64], n: usize) -> Recent {
        if (completed.is_empty() && failed.is_empty()) || n == 0 {
            return self.clone();
        }
        let mut all: Vec<i64> = completed
            .iter()
            .chain(failed)
            .chain(&self.scores)
            .copied()
            .collect();
        // Newest first; at the same millisecond completed before failed, as the script merges.
        all.sort_by(|a, b| b.abs().cmp(&a.abs()).then(b.cmp(a)));
        if all.len() <= n {
            return Recent {
                scores: all,
                tied: self.tied,
                full: self.full,
            };
        }
        let edge = all[n - 1].abs();
        let mut tied = Sample::default();
        for score in all[n..].iter().filter(|s| s.abs() == edge) {
            if *score > 0 {
                tied.completed += 1;
            } else {
                tied.failed += 1;
            }
        }
        if self.full && self.scores.last().is_some_and(|s| s.abs() == edge) {
            tied.completed += self.tied.completed;
            tied.failed += self.tied.failed;
        }
        all.truncate(n);
        Recent {
            scores: all,
            tied,
            full: true,
        }
    }

    /// Jobs finished at or after `since_ms`, when the list reaches back that far.
    pub fn finished_since(&self, since_ms: i64) -> Option<u64> {
        let reaches = !self.full || self.scores.last().is_some_and(|s| s.abs() < since_ms);
        reaches.then(|| self.scores.iter().filter(|s| s.abs() >= since_ms).count() as u64)
    }
}

/// The `n` most recently finished jobs across `lists`: every job at or after the time of the
/// n-th newest (ties included), or all of them when there are fewer.
/// Each list is newest first, so this merges them from their heads (a heap of one entry per
/// list): about n steps, not a sort of every listed job (1,000 queues list a million).
pub fn global_sample(lists: &[&Recent], n: usize) -> Sample {
    use std::collections::BinaryHeap;
    let mut heads: BinaryHeap<(i64, usize, usize)> = lists
        .iter()
        .enumerate()
        .filter_map(|(i, list)| list.scores.first().map(|s| (s.abs(), i, 0)))
        .collect();
    let mut sample = Sample::default();
    let mut taken = 0;
    let mut edge = None;
    while let Some((time, i, at)) = heads.pop() {
        if edge.is_some_and(|edge| time < edge) {
            break;
        }
        if lists[i].scores[at] > 0 {
            sample.completed += 1;
        } else {
            sample.failed += 1;
        }
        taken += 1;
        if taken == n {
            edge = Some(time);
        }
        if let Some(next) = lists[i].scores.get(at + 1) {
            heads.push((next.abs(), i, at + 1));
        }
    }
    let Some(edge) = edge.filter(|_| n > 0) else {
        // Fewer than n listed: everything, with every queue's ties.
        let mut sample = Sample::default();
        for list in lists {
            let own = list.sample();
            sample.completed += own.completed;
            sample.failed += own.failed;
        }
        return sample;
    };
    // A queue's unlisted ties sit at its own edge; they belong in when that is the global one.
    for list in lists {
        if list.full && list.scores.last().is_some_and(|s| s.abs() == edge) {
            sample.completed += list.tied.completed;
            sample.failed += list.tied.failed;
        }
    }
    sample
}

/// What the last full read of one queue found.
#[derive(Clone, Debug)]
pub struct QueueSnap {
    /// The last id of the queue's event stream then ("" when it had none).
    pub event_id: String,
    pub read_at_ms: i64,
    pub summary: QueueSummary,
    pub recent: Recent,
}

/// The snapshots this process keeps, by queue.
#[derive(Debug)]
pub struct SnapshotCache {
    /// Shared, not copied, by each read (a queue's kept list is up to 1,000 scores).
    queues: Mutex<HashMap<QueueName, Arc<QueueSnap>>>,
    /// The rate windows of queues the history covers, read from its buckets.
    pub windows: crate::ssr::history::rates::WindowsCache,
    /// How long an unchanged queue is trusted, ms.
    recount_ms: i64,
}

impl Default for SnapshotCache {
    fn default() -> Self {
        Self::new(RECOUNT_EVERY)
    }
}

impl SnapshotCache {
    /// A cache trusting unchanged queues for `recount`.
    pub fn new(recount: std::time::Duration) -> Self {
        SnapshotCache {
            queues: Mutex::default(),
            windows: Default::default(),
            recount_ms: i64::try_from(recount.as_millis()).unwrap_or(i64::MAX),
        }
    }

    /// Forgets every queue: the next snapshot reads each in full (after a control action).
    pub fn clear(&self) {
        self.lock().clear();
        self.windows.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<QueueName, Arc<QueueSnap>>> {
        self.queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What one snapshot read cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub round_trips: u32,
    /// Queues answered "unchanged".
    pub unchanged: usize,
}

/// Reads every queue of `queues` (in their order), from the cache where unchanged. Queues whose
/// `meta` is gone are left out.
pub async fn read(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    cache: &SnapshotCache,
    now_ms: i64,
    n: usize,
) -> Result<(Vec<(QueueInfo, Arc<QueueSnap>)>, ReadStats), AppError> {
    let mut stats = ReadStats::default();
    if queues.is_empty() {
        return Ok((Vec::new(), stats));
    }
    let known: Vec<Option<Arc<QueueSnap>>> = {
        let cached = cache.lock();
        queues
            .iter()
            .map(|q| {
                cached
                    .get(&q.name)
                    .filter(|snap| now_ms - snap.read_at_ms < cache.recount_ms)
                    .cloned()
            })
            .collect()
    };
    let replies = run_scripts(pool, prefix, queues, &known, n).await?;
    stats.round_trips += 1;
    let mut out = Vec::with_capacity(queues.len());
    for ((queue, known), reply) in queues.iter().zip(known).zip(replies) {
        let reply = match reply {
            Ok(Value::Array(items)) => items,
            Ok(_) => continue,
            Err(error) => {
                tracing::warn!(queue = %queue.name, error.message = %error, "snapshot script failed for a queue");
                continue;
            }
        };
        let kind = reply.first().and_then(Value::as_i64);
        let event_id = reply.get(1).and_then(Value::as_string).unwrap_or_default();
        let snap = match (kind, known) {
            (Some(0), Some(known)) => {
                stats.unchanged += 1;
                known
            }
            (Some(2), Some(known)) => match parse_counts(queue, event_id, &reply, now_ms) {
                Some(mut snap) => {
                    let new_completed = usize::try_from(int(&reply, 12)).unwrap_or(0);
                    let new: Vec<i64> = reply.iter().skip(14).filter_map(Value::as_i64).collect();
                    let (completed, failed) = new.split_at(new_completed.min(new.len()));
                    snap.recent = known.recent.with_newer(completed, failed, n);
                    Arc::new(snap)
                }
                None => {
                    cache.lock().remove(&queue.name);
                    continue;
                }
            },
            _ => match parse_full(queue, event_id, &reply, now_ms, n) {
                Some(snap) => Arc::new(snap),
                None => {
                    cache.lock().remove(&queue.name);
                    continue;
                }
            },
        };
        out.push((queue.clone(), snap));
    }
    {
        let mut cached = cache.lock();
        let listed: std::collections::HashSet<&QueueName> =
            queues.iter().map(|q| &q.name).collect();
        cached.retain(|name, _| listed.contains(name));
        for (queue, snap) in &out {
            cached.insert(queue.name.clone(), snap.clone());
        }
    }
    Ok((out, stats))
}

/// One script call per queue in one pipeline; loads the script and tries again when Redis (or
/// a cluster node) does not have it yet.
async fn run_scripts(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    known: &[Option<Arc<QueueSnap>>],
    n: usize,
) -> Result<Vec<Result<Value, Error>>, AppError> {
    for attempt in 0..2 {
        let client = pool.next();
        let pipeline = client.pipeline();
        for (queue, known) in queues.iter().zip(known) {
            let keys = QueueKeys::new(prefix, &queue.name);
            let last = known
                .as_ref()
                .map(|k| k.event_id.clone())
                .unwrap_or_default();
            let force = if known.is_some() { "0" } else { "1" };
            let incremental = known
                .as_ref()
                .map(|k| k.recent.incremental_args())
                .unwrap_or_default();
            let keys = [
                keys.events(),
                keys.meta(),
                keys.wait(),
                keys.paused(),
                keys.active(),
                keys.prioritized(),
                keys.delayed(),
                keys.completed(),
                keys.failed(),
                keys.waiting_children(),
            ];
            // Pipelines have no `EVALSHA` method; routed on a cluster by the first key.
            let mut args: Vec<String> = Vec::with_capacity(keys.len() + 12);
            args.push(SNAPSHOT.sha1().to_string());
            args.push(keys.len().to_string());
            args.extend(keys);
            args.extend([last, force.to_owned(), n.to_string()]);
            args.extend(incremental);
            let _: () = pipeline.custom(evalsha_command(), args).await?;
        }
        let replies = run_pipeline(&pipeline, queues.len()).await?;
        let missing_script = replies
            .iter()
            .any(|r| matches!(r, Err(e) if e.details().starts_with("NOSCRIPT")));
        if !missing_script || attempt == 1 {
            return Ok(replies);
        }
        // On every primary of a cluster.
        SNAPSHOT.load(client).await?;
    }
    Err(AppError::Internal(
        "the snapshot script could not be loaded".into(),
    ))
}

/// `EVALSHA sha numkeys key…`, hashed on a cluster by its first key (argument 2).
fn evalsha_command() -> fred::types::CustomCommand {
    fred::types::CustomCommand::new_static("EVALSHA", fred::types::ClusterHash::Offset(2), false)
}

/// Item `i` of a reply as a number (0 when it is none).
fn int(reply: &[Value], i: usize) -> i64 {
    reply.get(i).and_then(Value::as_i64).unwrap_or(0)
}

/// A full reply taken apart; `None` when the queue's `meta` is gone.
fn parse_full(
    queue: &QueueInfo,
    event_id: String,
    reply: &[Value],
    now_ms: i64,
    n: usize,
) -> Option<QueueSnap> {
    let mut snap = parse_counts(queue, event_id, reply, now_ms)?;
    let count = |i: usize| u64::try_from(int(reply, i)).unwrap_or(0);
    let scores: Vec<i64> = reply.iter().skip(14).filter_map(Value::as_i64).collect();
    let full = scores.len() >= n
        && (snap.summary.counts.completed + snap.summary.counts.failed) > scores.len() as u64;
    snap.recent = Recent {
        scores,
        tied: Sample {
            completed: count(12),
            failed: count(13),
        },
        full,
    };
    Some(snap)
}

/// The counts of a full or incremental reply (the recent jobs left empty); `None` when the
/// queue's `meta` is gone.
fn parse_counts(
    queue: &QueueInfo,
    event_id: String,
    reply: &[Value],
    now_ms: i64,
) -> Option<QueueSnap> {
    let count = |i: usize| u64::try_from(int(reply, i)).unwrap_or(0);
    if count(2) == 0 {
        return None;
    }
    let (wait, paused_list, active) = (count(4), count(5), count(6));
    let (prioritized, delayed, completed, failed, waiting_children) =
        (count(7), count(8), count(9), count(10), count(11));
    Some(QueueSnap {
        event_id,
        read_at_ms: now_ms,
        summary: QueueSummary {
            queue_name: queue.name.as_str().to_owned(),
            counts: StateCounts {
                waiting: wait + paused_list + prioritized,
                active,
                completed,
                failed,
                delayed,
                prioritized,
                waiting_children,
            },
            paused: count(3) == 1,
            bullmq_version: queue.version.clone(),
        },
        recent: Recent::default(),
    })
}

/// Jobs finished since `since_ms` in the queues whose kept list does not reach back that far:
/// two `ZCOUNT`s each, one round trip for all. Returned in the order of `queues`.
pub async fn finished_since(
    pool: &Pool,
    prefix: &str,
    queues: &[&QueueName],
    since_ms: i64,
) -> Result<Vec<u64>, AppError> {
    if queues.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = pool.next().pipeline();
    for name in queues {
        let keys = QueueKeys::new(prefix, name);
        let _: () = pipeline
            .zcount(keys.completed(), since_ms as f64, SCORE_MAX)
            .await?;
        let _: () = pipeline
            .zcount(keys.failed(), since_ms as f64, SCORE_MAX)
            .await?;
    }
    let replies = run_pipeline(&pipeline, queues.len() * 2).await?;
    Ok(replies
        .chunks(2)
        .map(|pair| {
            pair.iter()
                .map(|r| r.as_ref().ok().and_then(Value::as_u64).unwrap_or(0))
                .sum()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recent(scores: &[i64], full: bool) -> Recent {
        Recent {
            scores: scores.to_vec(),
            tied: Sample::default(),
            full,
        }
    }

    /// What a full read gives for these finished jobs (signed scores).
    fn reference(jobs: &[i64], n: usize) -> Recent {
        let mut all = jobs.to_vec();
        all.sort_by(|a, b| b.abs().cmp(&a.abs()).then(b.cmp(a)));
        if all.len() <= n {
            return recent(&all, false);
        }
        let edge = all[n - 1].abs();
        let beyond = &all[n..];
        let tied = Sample {
            completed: beyond.iter().filter(|s| **s == edge).count() as u64,
            failed: beyond.iter().filter(|s| **s == -edge).count() as u64,
        };
        all.truncate(n);
        Recent {
            scores: all,
            tied,
            full: true,
        }
    }

    /// The incremental merge equals a full read, for random worlds with many ties: jobs that
    /// finished since (above each set's bound, as the script reads them) merged into the list
    /// read before.
    #[test]
    fn reading_only_the_newly_finished_jobs_gives_what_a_full_read_gives() {
        let mut seed = 0x2545_f491_u64;
        let mut next = move |below: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (seed >> 33) % below
        };
        for round in 0..400 {
            let n = [1, 3, 10][round % 3];
            let jobs: Vec<i64> = (0..next(25))
                .map(|_| {
                    let ms = 1 + next(12) as i64;
                    if next(3) == 0 {
                        -ms
                    } else {
                        ms
                    }
                })
                .collect();
            let old = reference(&jobs, n);
            let args = old.incremental_args();
            let bound = |i: usize| -> i64 {
                args[i]
                    .strip_prefix('(')
                    .map_or(0, |b| b.parse().expect("bound"))
            };
            let (bound_c, bound_f) = (bound(1), bound(4));
            let mut new_c: Vec<i64> = (0..next(4)).map(|_| bound_c + 1 + next(3) as i64).collect();
            let mut new_f: Vec<i64> = (0..next(4))
                .map(|_| -(bound_f + 1 + next(3) as i64))
                .collect();
            new_c.sort_by(|a, b| b.cmp(a));
            new_f.sort();
            let merged = old.with_newer(&new_c, &new_f, n);
            let all: Vec<i64> = jobs.iter().chain(&new_c).chain(&new_f).copied().collect();
            let expected = reference(&all, n);
            assert_eq!(
                merged.scores, expected.scores,
                "round {round}: {jobs:?} + {new_c:?} {new_f:?}"
            );
            assert_eq!(merged.sample(), expected.sample(), "round {round}");
            assert_eq!(merged.full, expected.full, "round {round}");
        }
    }

    #[test]
    fn a_queue_sample_counts_the_listed_and_the_tied() {
        let mut list = recent(&[9, -8, 7, -7], true);
        list.tied = Sample {
            completed: 2,
            failed: 1,
        };
        assert_eq!(
            list.sample(),
            Sample {
                completed: 4,
                failed: 3
            }
        );
    }

    #[test]
    fn the_processing_window_is_read_from_the_list_only_when_it_reaches_back() {
        let list = recent(&[100, -90, 80], true);
        assert_eq!(list.finished_since(85), Some(2));
        assert_eq!(list.finished_since(80), None, "80 may have more below it");
        assert_eq!(list.finished_since(50), None);
        let whole = recent(&[100, -90, 80], false);
        assert_eq!(whole.finished_since(50), Some(3));
        assert_eq!(recent(&[], false).finished_since(1), Some(0));
    }

    #[test]
    fn the_global_sample_merges_the_queues_lists() {
        let a = recent(&[100, 90, -80, 70], false);
        let b = recent(&[-95, 85, 60], false);
        // n = 4: 100, -95, 90, 85.
        assert_eq!(
            global_sample(&[&a, &b], 4),
            Sample {
                completed: 3,
                failed: 1
            }
        );
        // Ties at the edge are all in: n = 2 with 100, 100, 100.
        let c = recent(&[100, 100], false);
        let d = recent(&[-100], false);
        assert_eq!(
            global_sample(&[&c, &d], 2),
            Sample {
                completed: 2,
                failed: 1
            }
        );
        // Fewer than n finished: everything.
        assert_eq!(
            global_sample(&[&a], 10),
            Sample {
                completed: 3,
                failed: 1
            }
        );
        // A full list's unlisted ties count when its edge is the global edge.
        let mut e = recent(&[50, -40], true);
        e.tied = Sample {
            completed: 0,
            failed: 3,
        };
        assert_eq!(
            global_sample(&[&e], 2),
            Sample {
                completed: 1,
                failed: 4
            }
        );
    }
}
