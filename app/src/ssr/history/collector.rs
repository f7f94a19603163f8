//! The history collector: a background task in every server; the one holding the lease
//! collects, the others stand by and take over when the lease expires (the holder renews it
//! every tick, so it expires only when the holder is gone or stuck).
//!
//! Each tick first asks, for all queues in one pipelined round trip, which streams have an entry
//! after the queue's cursor; an idle queue costs that one `XREVRANGE … COUNT 1` and nothing more.
//! For each queue that moved, it reads the events after the queue's stored cursor (at most
//! [`BATCH`] per step), folds them into minute and hour buckets, and writes the increments and
//! the new cursor with one script that first checks the lease token and the cursor. A batch is
//! therefore applied exactly once: a collector that dies before the script leaves nothing half
//! done, and one that lost its lease (or raced another) is refused and re-reads.
//!
//! A gap (events trimmed from the stream before they were read, e.g. the monitor was down
//! while more than `maxLenEvents` events happened) is detected exactly: the cursor stores the
//! ordinal number of its entry, and the stream's `entries-added − length` tells how many entries
//! were ever trimmed. It is logged, counted per queue (`gaps` in `/history`) and filled from the
//! finished jobs BullMQ still retains ([`super::gap`]), all in the same script as the batch after
//! it, so it is counted and filled once too.
//!
//! After a pass, the collector records the pass's start (Redis time) for every queue it brought
//! to its stream's end (the `caught-up` hash): readers trust a queue's buckets only while its
//! mark is recent. The mark is per queue, so a deployment that watches other queues of the same
//! Redis (another `BULLMQ_QUEUES`) never vouches for queues it does not collect; each such
//! deployment holds a lease of its own (see `HistoryKeys::lease`).

use crate::ssr::bullmq::discovery::{QueueInfo, QueueRegistry};
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::config::Settings;
use crate::ssr::error::AppError;
use crate::ssr::failures::{self, FailureKeys, Names};
use crate::ssr::history::aggregate::{
    parse_id, Buckets, EventKind, Histograms, JobTimes, StreamEvent, Tracker,
};
use crate::ssr::history::gap::{self, times_from_reply};
use crate::ssr::history::keys::{recent_all_field, HistoryKeys, Step, RECENT};
use crate::ssr::redis::pipeline::reply_text;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// The batch script (with the failure groups' Lua it calls), hashed once.
static APPLY: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::from_lua(format!(
        "{}\n{}",
        failures::GROUPS_LUA,
        include_str!("lua/apply.lua")
    ))
});
const LEASE: &str = include_str!("lua/lease.lua");
const READ: &str = include_str!("lua/read.lua");

/// Ticks between two checks for failed jobs BullMQ dropped without an event (see
/// [`failures::sweep`]).
const SWEEP_EVERY: u64 = 30;

/// Events read and applied per step (one script call).
pub const BATCH: u64 = 1000;

/// Queues checked for new events per round trip.
const IDLE_CHECKS: usize = 1000;

/// Where a queue's history stands: the last applied entry and its ordinal number in the
/// stream (1 = the first entry ever added). Stored as `"<id> <ordinal>"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub id: String,
    pub ordinal: u64,
}

impl Cursor {
    pub fn parse(text: &str) -> Option<Cursor> {
        let (id, ordinal) = text.split_once(' ')?;
        parse_id(id)?;
        Some(Cursor {
            id: id.to_owned(),
            ordinal: ordinal.parse().ok()?,
        })
    }

    pub fn to_text(&self) -> String {
        format!("{} {}", self.id, self.ordinal)
    }
}

/// A queue's collection state while this collector leads.
#[derive(Default)]
struct QueueState {
    /// The last applied entry; `None`: nothing applied yet (start at the stream's start).
    cursor: Option<Cursor>,
    tracker: Tracker,
    /// Whether the failure groups hold the queue's retained failed jobs (see
    /// [`failures::seed`]); false again after a gap.
    seeded: bool,
    names: Names,
}

/// One read: the entries after the cursor, and how many entries were trimmed between the
/// cursor and the first of them (a gap).
struct Batch {
    events: Vec<StreamEvent>,
    /// The ordinal number of `events[0]` (or of the next entry, when there are none).
    first_ordinal: u64,
    missed: u64,
    /// The milliseconds of the stream's last entry ever added (trimmed or not).
    last_ms: u64,
}

/// The collector of one server.
pub struct Collector {
    pool: Pool,
    registry: QueueRegistry,
    prefix: String,
    keys: HistoryKeys,
    /// The lease of this collector's scope (its queue allow-list).
    lease_key: String,
    /// The scope's recent outcomes over all its queues, and their fields in the counts hash.
    recent_all_key: String,
    recent_all_field: String,
    token: String,
    lease: Duration,
    ttl: [(Step, Duration); 3],
    leader: bool,
    queues: HashMap<String, QueueState>,
    failure_keys: FailureKeys,
    failure_hours: Duration,
    ticks: u64,
}

/// What one batch changes besides the cursor.
struct Changes<'a> {
    /// Jobs a gap was filled with from the retained jobs.
    filled: u64,
    buckets: &'a Buckets,
    /// The times of the jobs the batch timed, for the lifetime histograms (`/metrics`).
    histograms: &'a Histograms,
    failure_ops: &'a [failures::Op],
}

/// How a batch ended.
enum Applied {
    Yes,
    LeaseLost,
    CursorMoved,
}

/// How one queue's collection ended.
#[derive(PartialEq, Eq)]
enum Caught {
    /// Every event up to the stream's end (when read) is applied.
    Up,
    /// Someone else moved the cursor; this queue is re-read next tick.
    Behind,
    LeaseLost,
}

fn unique_token() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl Collector {
    pub fn new(pool: Pool, registry: QueueRegistry, settings: &Settings) -> Self {
        let keys = HistoryKeys::new(&settings.monitor_prefix, &settings.prefix);
        let scope = settings.queue_allow_list.as_deref();
        Self {
            failure_keys: FailureKeys::new(&keys),
            pool,
            registry,
            prefix: settings.prefix.clone(),
            lease_key: keys.lease(scope),
            recent_all_key: keys.recent_all(scope),
            recent_all_field: recent_all_field(scope),
            keys,
            token: unique_token(),
            lease: settings.collector_lease,
            ttl: [
                (Step::Minute, settings.history_minute_ttl),
                (Step::Hour, settings.history_hour_ttl),
                (Step::Day, settings.history_hour_ttl),
            ],
            leader: false,
            queues: HashMap::new(),
            failure_hours: settings.history_hour_ttl.min(failures::MAX_HOUR_RETENTION),
            ticks: 0,
        }
    }

    /// Runs a tick every `interval` until the task is aborted. Errors are logged; the next tick
    /// starts again from what Redis holds.
    pub fn spawn(mut self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            // Start once connected: a cluster client has no routing table before, and the first
            // ticks would only fail (and log it) while it connects.
            if !self.pool.next().is_connected() {
                let _ = self.pool.wait_for_connect().await;
            }
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = self.tick().await {
                    tracing::warn!(error.message = %error, "history collection failed; retrying");
                    self.queues.clear();
                }
            }
        })
    }

    /// Takes or renews the lease; with `caught_up`, also records that those queues' history
    /// is complete up to the pass start given. Returns whether this collector holds the lease,
    /// and Redis's clock (ms).
    async fn hold(&self, caught_up: Option<(u64, Vec<String>)>) -> Result<(bool, u64), AppError> {
        let mut args = vec![self.token.clone(), self.lease.as_millis().to_string()];
        match caught_up {
            Some((pass_start, queues)) if !queues.is_empty() => {
                args.push(pass_start.to_string());
                args.extend(queues);
            }
            _ => args.push(String::new()),
        }
        let reply: Vec<i64> = Script::from_lua(LEASE)
            .evalsha_with_reload(
                self.pool.next(),
                vec![self.lease_key.clone(), self.keys.caught_up()],
                args,
            )
            .await?;
        let number = |i: usize| reply.get(i).copied().unwrap_or(0);
        Ok((number(0) == 1, u64::try_from(number(1)).unwrap_or(0)))
    }

    /// One round: hold the lease, then bring every queue's buckets up to its stream's end.
    pub async fn tick(&mut self) -> Result<(), AppError> {
        let (holds, pass_start) = self.hold(None).await?;
        if !holds {
            if self.leader {
                tracing::info!("history collector: another instance holds the lease now");
            }
            self.leader = false;
            self.queues.clear();
            return Ok(());
        }
        if !self.leader {
            tracing::info!("history collector: this instance collects");
            self.leader = true;
            self.queues.clear();
        }
        let queues = self.registry.queues().await?;
        let mut caught_up = Vec::with_capacity(queues.len());
        let moved = self.moved_queues(queues.as_slice()).await?;
        self.ticks += 1;
        if self.ticks.is_multiple_of(SWEEP_EVERY) && !self.sweep(queues.as_slice()).await? {
            return Ok(());
        }
        for queue in queues.iter() {
            let seeded = self
                .queues
                .get(queue.name.as_str())
                .is_some_and(|state| state.seeded);
            if seeded && !moved.contains(queue.name.as_str()) {
                caught_up.push(queue.name.as_str().to_owned());
                continue;
            }
            match self.collect(queue).await? {
                Caught::Up => caught_up.push(queue.name.as_str().to_owned()),
                Caught::Behind => {}
                Caught::LeaseLost => return Ok(()),
            }
        }
        if !self.hold(Some((pass_start, caught_up))).await?.0 {
            self.leader = false;
            self.queues.clear();
        }
        Ok(())
    }

    /// The queues whose event stream may hold entries after the cursor: all but those whose
    /// stream's last entry is the cursor's own (or that have neither cursor nor stream). This is
    /// what makes an idle queue cheap: a pipelined `XREVRANGE … COUNT 1` per queue per tick, in
    /// round trips of [`IDLE_CHECKS`] queues, instead of a script call and a round trip each.
    /// Stream ids only grow, so an equal last id means nothing was added (and nothing trimmed
    /// after the cursor); anything else, a recreated stream included, gets the full read.
    async fn moved_queues<'a>(
        &mut self,
        queues: &'a [QueueInfo],
    ) -> Result<HashSet<&'a str>, AppError> {
        let mut moved = HashSet::new();
        for chunk in queues.chunks(IDLE_CHECKS) {
            self.load_cursors(chunk).await?;
            let pipeline = self.pool.next().pipeline();
            for queue in chunk {
                let _: () = pipeline
                    .xrevrange(
                        QueueKeys::new(&self.prefix, &queue.name).events(),
                        "+",
                        "-",
                        Some(1),
                    )
                    .await?;
            }
            let replies = run_pipeline(&pipeline, chunk.len()).await?;
            for (queue, reply) in chunk.iter().zip(replies) {
                let last = match reply {
                    Ok(Value::Array(entries)) => entries.into_iter().next().and_then(|entry| {
                        let Value::Array(parts) = entry else {
                            return None;
                        };
                        parts.into_iter().next().and_then(|id| id.as_string())
                    }),
                    _ => None,
                };
                let cursor = self
                    .queues
                    .get(queue.name.as_str())
                    .and_then(|state| state.cursor.as_ref());
                let idle = match (cursor, last) {
                    (Some(cursor), Some(last)) => cursor.id == last,
                    (None, None) => true,
                    _ => false,
                };
                if !idle {
                    moved.insert(queue.name.as_str());
                }
            }
        }
        Ok(moved)
    }

    /// Reads the stored cursors of the queues this collector has not seen yet, in one round trip.
    async fn load_cursors(&mut self, queues: &[QueueInfo]) -> Result<(), AppError> {
        let unknown: Vec<&QueueInfo> = queues
            .iter()
            .filter(|queue| !self.queues.contains_key(queue.name.as_str()))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let pipeline = self.pool.next().pipeline();
        for queue in &unknown {
            let _: () = pipeline.get(self.keys.cursor(&queue.name)).await?;
            let _: () = pipeline
                .hexists(self.failure_keys.seeded(), queue.name.as_str())
                .await?;
        }
        let replies = run_pipeline(&pipeline, unknown.len() * 2).await?;
        for (queue, pair) in unknown.into_iter().zip(replies.chunks(2)) {
            let stored = reply_text(pair.first());
            let seeded = pair
                .get(1)
                .and_then(|r| r.as_ref().ok())
                .and_then(Value::as_u64)
                == Some(1);
            self.queues.insert(
                queue.name.as_str().to_owned(),
                QueueState {
                    cursor: stored.as_deref().and_then(Cursor::parse),
                    tracker: Tracker::default(),
                    seeded,
                    names: Names::default(),
                },
            );
        }
        Ok(())
    }

    /// Applies every pending event of one queue.
    async fn collect(&mut self, queue: &QueueInfo) -> Result<Caught, AppError> {
        let name = queue.name.as_str().to_owned();
        if !self.queues.contains_key(&name) {
            self.load_cursors(std::slice::from_ref(queue)).await?;
        }
        let queue_keys = QueueKeys::new(&self.prefix, &queue.name);
        let events_key = queue_keys.events();
        if !self.queues.get(&name).is_some_and(|s| s.seeded) {
            if !failures::seed(&self.failure_writer(), &queue_keys, &name).await? {
                self.leader = false;
                self.queues.clear();
                return Ok(Caught::LeaseLost);
            }
            if let Some(state) = self.queues.get_mut(&name) {
                state.seeded = true;
            }
        }
        loop {
            let cursor = self.queues.get(&name).and_then(|s| s.cursor.clone());
            let batch = self.read(&events_key, cursor.as_ref()).await?;
            if batch.events.is_empty() && batch.missed == 0 {
                return Ok(Caught::Up);
            }
            let filled = match (&cursor, batch.missed) {
                (Some(cursor), missed) if missed > 0 => {
                    let filled = self.fill_gap(&queue_keys, cursor, &batch).await?;
                    tracing::warn!(
                        queue = %queue.name,
                        missed_events = batch.missed,
                        after = %cursor.id,
                        filled_from_retained_jobs = filled.jobs,
                        fill_truncated = filled.truncated,
                        "history gap: events were trimmed from the stream before they were read; \
                         the jobs BullMQ still retains from that time are counted instead"
                    );
                    filled
                }
                _ => gap::Filled::default(),
            };
            let new_cursor = match batch.events.last() {
                Some(last) => Cursor {
                    id: last.id.clone(),
                    ordinal: batch.first_ordinal + batch.events.len() as u64 - 1,
                },
                // Only a gap: the position moves past it, the id stays.
                None => Cursor {
                    id: cursor
                        .as_ref()
                        .map(|c| c.id.clone())
                        .unwrap_or_else(|| "0-0".into()),
                    ordinal: batch.first_ordinal - 1,
                },
            };
            let unknown = self
                .queues
                .get(&name)
                .map(|s| s.tracker.unknown_starts(&batch.events))
                .unwrap_or_default();
            let hashes = self.job_times(queue, &unknown).await?;
            let Some(state) = self.queues.get_mut(&name) else {
                return Ok(Caught::Up);
            };
            let failure_ops = failures::batch_ops(
                &self.pool,
                &queue_keys,
                &name,
                &batch.events,
                &mut state.names,
            )
            .await?;
            let (mut buckets, histograms) = state.tracker.fold_timed(&batch.events, &hashes);
            for (bucket, stats) in &filled.buckets {
                buckets.entry(*bucket).or_default().merge(stats);
            }
            match self
                .apply(
                    queue,
                    cursor.as_ref(),
                    &new_cursor,
                    &batch,
                    Changes {
                        filled: filled.jobs,
                        buckets: &buckets,
                        histograms: &histograms,
                        failure_ops: &failure_ops,
                    },
                )
                .await?
            {
                Applied::Yes => {
                    if let Some(state) = self.queues.get_mut(&name) {
                        state.cursor = Some(new_cursor);
                        // Failed jobs of a gap are grouped from the retained ones.
                        state.seeded &= batch.missed == 0;
                    }
                }
                Applied::LeaseLost => {
                    self.leader = false;
                    self.queues.clear();
                    return Ok(Caught::LeaseLost);
                }
                Applied::CursorMoved => {
                    // Someone else applied this range: start over from what Redis holds.
                    self.queues.remove(&name);
                    return Ok(Caught::Behind);
                }
            }
            if (batch.events.len() as u64) < BATCH {
                return Ok(Caught::Up);
            }
        }
    }

    fn failure_writer(&self) -> failures::Writer<'_> {
        failures::Writer {
            pool: &self.pool,
            keys: &self.failure_keys,
            lease_key: &self.lease_key,
            token: &self.token,
            hour_retention: self.failure_hours,
        }
    }

    /// Drops from the failure groups the jobs BullMQ dropped from `failed` without an event,
    /// for the queues whose `failed` set is smaller than their members (all queues checked in
    /// one round trip). `Ok(false)` when the lease was lost.
    async fn sweep(&mut self, queues: &[QueueInfo]) -> Result<bool, AppError> {
        for chunk in queues.chunks(IDLE_CHECKS) {
            let pipeline = self.pool.next().pipeline();
            for queue in chunk {
                let keys = QueueKeys::new(&self.prefix, &queue.name);
                let _: () = pipeline.zcard(keys.failed()).await?;
                let _: () = pipeline
                    .hlen(self.failure_keys.by_job(queue.name.as_str()))
                    .await?;
            }
            let replies = run_pipeline(&pipeline, chunk.len() * 2).await?;
            let number = |reply: Option<&Result<Value, fred::error::Error>>| {
                reply
                    .and_then(|r| r.as_ref().ok())
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            };
            for (queue, pair) in chunk.iter().zip(replies.chunks(2)) {
                if number(pair.get(1)) <= number(pair.first()) {
                    continue;
                }
                let keys = QueueKeys::new(&self.prefix, &queue.name);
                if !failures::sweep(&self.failure_writer(), &keys, queue.name.as_str()).await? {
                    self.leader = false;
                    self.queues.clear();
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// The entries after `cursor` (at most [`BATCH`]), with their position and any gap.
    async fn read(&self, events_key: &str, cursor: Option<&Cursor>) -> Result<Batch, AppError> {
        let start = match cursor {
            Some(cursor) => format!("({}", cursor.id),
            None => "-".to_owned(),
        };
        let reply: Value = Script::from_lua(READ)
            .evalsha_with_reload(
                self.pool.next(),
                vec![events_key.to_owned()],
                vec![start, BATCH.to_string()],
            )
            .await?;
        let Value::Array(mut parts) = reply else {
            return Err(AppError::Internal(
                "unexpected reply from the history read".into(),
            ));
        };
        let entries = if parts.len() == 4 {
            parts.pop().unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let number = |i: usize| parts.get(i).and_then(|v| v.as_u64()).unwrap_or(0);
        let (added, length) = (number(0), number(1));
        let last_ms = parts
            .get(2)
            .and_then(|v| v.as_string())
            .and_then(|id| parse_id(&id))
            .map_or(0, |(ms, _)| ms);
        // The ordinal of the oldest entry still in the stream (all before it were trimmed).
        let oldest = added.saturating_sub(length) + 1;
        let (first_ordinal, missed) = match cursor {
            None => (oldest, 0),
            Some(cursor) => {
                let next = cursor.ordinal + 1;
                (next.max(oldest), oldest.saturating_sub(next))
            }
        };
        Ok(Batch {
            events: parse_entries(entries),
            first_ordinal,
            missed,
            last_ms,
        })
    }

    /// The retained jobs that finished in the gap before `batch`: after the cursor's event and
    /// before the batch's first event (or, when everything after the cursor was trimmed, before
    /// the stream's last event ever added).
    async fn fill_gap(
        &self,
        keys: &QueueKeys,
        cursor: &Cursor,
        batch: &Batch,
    ) -> Result<gap::Filled, AppError> {
        let after = parse_id(&cursor.id).map_or(0, |(ms, _)| ms);
        let before = batch.events.first().map_or(batch.last_ms, |e| e.ms);
        let finished_in_batch: HashSet<&str> = batch
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Completed | EventKind::Failed))
            .filter_map(|e| e.job_id.as_deref())
            .collect();
        gap::fill(&self.pool, keys, after, before, &finished_in_batch).await
    }

    /// `timestamp` and `processedOn` of jobs whose start the tracker does not know.
    async fn job_times(
        &self,
        queue: &QueueInfo,
        jobs: &[String],
    ) -> Result<HashMap<String, JobTimes>, AppError> {
        if jobs.is_empty() {
            return Ok(HashMap::new());
        }
        let keys = QueueKeys::new(&self.prefix, &queue.name);
        let pipeline = self.pool.next().pipeline();
        for job in jobs {
            let _: () = pipeline
                .hmget(keys.job(job), vec!["timestamp", "processedOn"])
                .await?;
        }
        let replies = run_pipeline(&pipeline, jobs.len()).await?;
        Ok(jobs
            .iter()
            .cloned()
            .zip(replies.into_iter().map(times_from_reply))
            .collect())
    }

    /// Seconds until a bucket's retention ends: it is kept for its step's retention after its
    /// own end, not after its last write (so a gap filled late does not keep old minutes for
    /// another 48 h). `None` when that is already past: the bucket is not written at all.
    fn seconds_left(&self, step: Step, start: u64, now: u64) -> Option<u64> {
        let retention = self
            .ttl
            .iter()
            .find(|(s, _)| *s == step)
            .map_or(0, |(_, ttl)| {
                u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
            });
        let expires = start
            .saturating_add(step.millis())
            .saturating_add(retention);
        (expires > now).then(|| (expires - now).div_ceil(1000))
    }

    async fn apply(
        &self,
        queue: &QueueInfo,
        expected: Option<&Cursor>,
        new_cursor: &Cursor,
        batch: &Batch,
        changes: Changes<'_>,
    ) -> Result<Applied, AppError> {
        let Changes {
            filled,
            buckets,
            histograms,
            failure_ops,
        } = changes;
        let now = crate::ssr::clock::now_ms_u64();
        let mut bucket_args = Vec::new();
        let mut written = 0usize;
        for ((step, start), stats) in buckets {
            let Some(ttl) = self.seconds_left(*step, *start, now) else {
                continue;
            };
            written += 1;
            bucket_args.push(self.keys.bucket(&queue.name, *step, *start));
            bucket_args.push(ttl.to_string());
            bucket_args.push(stats.completed.to_string());
            bucket_args.push(stats.failed.to_string());
            for timing in [stats.processing, stats.wait] {
                bucket_args.push(timing.sum.to_string());
                bucket_args.push(timing.min.to_string());
                bucket_args.push(timing.max.to_string());
                bucket_args.push(timing.count.to_string());
            }
        }
        let finished: Vec<(&StreamEvent, char)> = batch
            .events
            .iter()
            .filter_map(|event| match event.kind {
                EventKind::Completed => Some((event, 'c')),
                EventKind::Failed => Some((event, 'f')),
                _ => None,
            })
            .collect();
        let mut args: Vec<String> = vec![
            self.token.clone(),
            expected.map(Cursor::to_text).unwrap_or_default(),
            new_cursor.to_text(),
            queue.name.as_str().to_owned(),
            batch.missed.to_string(),
            written.to_string(),
            history_start(batch),
            filled.to_string(),
            finished.iter().map(|(_, outcome)| *outcome).collect(),
            self.recent_all_field.clone(),
            RECENT.to_string(),
            finished.len().to_string(),
        ];
        for (event, outcome) in &finished {
            args.push(event.ms.to_string());
            args.push(format!("{}|{}|{outcome}", event.id, queue.name.as_str()));
        }
        args.extend(bucket_args);
        let histogram_fields = histograms.fields(queue.name.as_str());
        args.push(histogram_fields.len().to_string());
        for (field, increment) in histogram_fields {
            args.push(field);
            args.push(increment.to_string());
        }
        args.push(self.failure_keys.base.clone());
        args.push(self.failure_hours.as_millis().to_string());
        args.push(failure_ops.len().to_string());
        for op in failure_ops {
            op.push_args(&mut args);
        }
        let result: i64 = APPLY
            .evalsha_with_reload(
                self.pool.next(),
                vec![
                    self.lease_key.clone(),
                    self.keys.cursor(&queue.name),
                    self.keys.gaps(),
                    self.keys.since(),
                    self.keys.applied(),
                    self.keys.recent(&queue.name),
                    self.keys.recent_counts(),
                    self.recent_all_key.clone(),
                ],
                args,
            )
            .await?;
        Ok(match result {
            1 => Applied::Yes,
            -1 => Applied::LeaseLost,
            _ => Applied::CursorMoved,
        })
    }
}

/// Where a queue's history starts, as the first batch's `apply` records it: from its first
/// event read, or from the beginning (0) when that event is the stream's first entry ever (nothing
/// was trimmed, so every job the queue ever finished is in the history).
fn history_start(batch: &Batch) -> String {
    match batch.events.first() {
        Some(_) if batch.first_ordinal == 1 => "0".to_owned(),
        Some(first) => first.ms.to_string(),
        None => String::new(),
    }
}

/// A field of a stream entry (`field value field value …`, as a script returns it).
fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let Value::Array(items) = value else {
        return None;
    };
    items
        .chunks(2)
        .find(|pair| {
            pair.first()
                .and_then(|k| k.as_string())
                .is_some_and(|k| k == name)
        })
        .and_then(|pair| pair.get(1))
}

/// XRANGE's reply as events (entries it cannot read are skipped).
fn parse_entries(reply: Value) -> Vec<StreamEvent> {
    let Value::Array(entries) = reply else {
        return Vec::new();
    };
    entries
        .into_iter()
        .filter_map(|entry| {
            let Value::Array(parts) = entry else {
                return None;
            };
            let id = parts.first()?.as_string()?;
            let (ms, _) = parse_id(&id)?;
            let fields = parts.get(1)?;
            let text = |name: &str| field(fields, name).and_then(|v| v.as_string());
            Some(StreamEvent {
                ms,
                kind: EventKind::parse(&text("event").unwrap_or_default()),
                job_id: text("jobId"),
                failed_reason: text("failedReason"),
                prev: text("prev"),
                name: text("name"),
                id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = Cursor {
            id: "1700000000000-2".into(),
            ordinal: 42,
        };
        assert_eq!(Cursor::parse(&cursor.to_text()), Some(cursor));
        assert_eq!(Cursor::parse("1700000000000-2"), None);
        assert_eq!(Cursor::parse("x 1"), None);
    }
}
