//! Queue discovery: which BullMQ queues exist under the prefix. A queue is found by its `meta`
//! hash (`{prefix}:{name}:meta`), which BullMQ creates with the queue and removes only on
//! obliterate. The result is cached and refreshed in the background, because a SCAN walks the
//! whole keyspace and must not run per request.
//!
//! A request never starts a SCAN walk (but the very first lookup after start-up, before any
//! list exists): a name missing from the list is looked up alone, with one round trip for its
//! `meta` hash, and a miss is remembered for [`MISS_TTL`], so requests for made-up names cost
//! Redis next to nothing.

use crate::ssr::bullmq::keys::{meta_pattern, queue_from_meta_key, QueueKeys, QueueName};
use crate::ssr::config::Settings;
use crate::ssr::error::AppError;
use crate::ssr::redis::pipeline::reply_text;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use fred::types::scan::ScanType;
use futures::TryStreamExt;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Keys asked for per SCAN call: large enough to walk a big keyspace in few round trips, small
/// enough that each call stays short for Redis.
const SCAN_COUNT: u32 = 1000;

/// The BullMQ generation that wrote a queue; it decides how pause/resume must be done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BullVersion {
    /// `meta.version` says `bullmq:5.x` (pause moves `wait` to `paused`).
    V5,
    /// `meta.version` says `bullmq:6.x` or later (pause is a flag only).
    V6,
    /// No `version` field (written only by Queue instances of BullMQ ≥ 5.20) or an unknown one.
    Unknown,
}

impl BullVersion {
    /// How our scripts must pause and add jobs for this generation: `v6` keeps paused jobs in
    /// `wait`; `v5` (also when unknown, as BullMQ 5 would find it) uses the `paused` list.
    pub fn script_mode(self) -> &'static str {
        match self {
            BullVersion::V6 => "v6",
            BullVersion::V5 | BullVersion::Unknown => "v5",
        }
    }
}

/// A discovered queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueInfo {
    /// The queue's name.
    pub name: QueueName,
    /// `meta.version`, e.g. `bullmq:6.7.0`, when present.
    pub version: Option<String>,
}

impl QueueInfo {
    /// The BullMQ generation from `meta.version`.
    pub fn bull_version(&self) -> BullVersion {
        let Some(version) = self.version.as_deref() else {
            return BullVersion::Unknown;
        };
        let major = version
            .strip_prefix("bullmq:")
            .and_then(|v| v.split('.').next())
            .and_then(|v| v.parse::<u32>().ok());
        match major {
            Some(5) => BullVersion::V5,
            Some(m) if m >= 6 => BullVersion::V6,
            _ => BullVersion::Unknown,
        }
    }
}

/// Scans Redis for the queues under `prefix` (restricted to `allow_list` when given) and reads
/// their versions. Costs one SCAN walk (per primary, in a cluster) plus one pipelined round trip.
pub async fn discover(
    pool: &Pool,
    prefix: &str,
    allow_list: Option<&[String]>,
) -> Result<Vec<QueueInfo>, AppError> {
    let client = pool.next();
    if client.is_clustered() && !client.is_connected() {
        // Before its first connection a cluster client has no routing table, and fred fails a
        // scan of every primary at once instead of queueing it as it queues other commands; so
        // the first discovery after start-up waits here (under its caller's deadline).
        client.wait_for_connect().await?;
    }
    let pattern = meta_pattern(prefix);
    // In a cluster every primary holds its own part of the keyspace (queues tagged by name,
    // `bull:{emails}`, spread over all of them), so each one is scanned.
    let keys: Vec<Key> = if client.is_clustered() {
        client
            .scan_cluster_buffered(pattern, Some(SCAN_COUNT), Some(ScanType::Hash))
            .try_collect()
            .await?
    } else {
        client
            .scan_buffered(pattern, Some(SCAN_COUNT), Some(ScanType::Hash))
            .try_collect()
            .await?
    };
    let names: BTreeSet<QueueName> = keys
        .iter()
        .filter_map(|key| key.as_str())
        .filter_map(|key| queue_from_meta_key(prefix, key))
        .filter(|name| allow_list.is_none_or(|allow| allow.iter().any(|a| a == name.as_str())))
        .collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = pool.next().pipeline();
    for name in &names {
        let _: () = pipeline
            .hget(QueueKeys::new(prefix, name).meta(), "version")
            .await?;
    }
    let versions = run_pipeline(&pipeline, names.len()).await?;
    Ok(names
        .into_iter()
        .zip(versions)
        .map(|(name, version)| QueueInfo {
            name,
            version: version.ok().and_then(|v| v.into_string()),
        })
        .collect())
}

/// While no queue is found, discovery looks again after 1 s, then 2 s, then every
/// [`EMPTY_RECHECK_MAX`] (or the interval, when shorter), so a monitor started just before its
/// queues (a fresh deploy, the demo) shows them within seconds without a walk per request.
const EMPTY_RECHECK_MAX: Duration = Duration::from_secs(4);

/// How long a name found missing stays known as missing (a queue created meanwhile shows up
/// after this, or at once after a discovery).
pub const MISS_TTL: Duration = Duration::from_secs(2);

/// At most this many missing names are remembered; past it the memory starts over.
const MAX_MISSES: usize = 10_000;

/// One discovery result and when it was taken.
struct Snapshot {
    queues: Arc<Vec<QueueInfo>>,
    taken_at: Instant,
}

/// The cached queue list, shared by every request. Cloning shares the cache.
#[derive(Clone)]
pub struct QueueRegistry {
    cache: Arc<RwLock<Option<Snapshot>>>,
    /// Names looked up alone and not found, and when.
    misses: Arc<Mutex<HashMap<QueueName, Instant>>>,
    /// Serialises refreshes, so concurrent callers share one SCAN walk instead of each starting
    /// their own.
    refreshing: Arc<tokio::sync::Mutex<()>>,
    pool: Pool,
    prefix: Arc<str>,
    allow_list: Option<Arc<[String]>>,
    /// Deadline for a discovery a request waits for: the request's own Redis deadline.
    request_deadline: Duration,
    /// Deadline for a background discovery (a SCAN walk of a big keyspace is many round trips).
    background_deadline: Duration,
}

impl QueueRegistry {
    /// A registry for the prefix and allow-list of `settings`; nothing is scanned yet.
    pub fn new(pool: Pool, settings: &Settings) -> Self {
        Self {
            cache: Arc::new(RwLock::new(None)),
            misses: Arc::default(),
            refreshing: Arc::new(tokio::sync::Mutex::new(())),
            pool,
            prefix: settings.prefix.as_str().into(),
            allow_list: settings.queue_allow_list.as_deref().map(Into::into),
            request_deadline: settings.redis_timeout,
            background_deadline: settings.redis_timeout * 4,
        }
    }

    /// The queues, from the cache; discovered now only if they never were.
    pub async fn queues(&self) -> Result<Arc<Vec<QueueInfo>>, AppError> {
        if let Some((queues, _)) = self.cached() {
            return Ok(queues);
        }
        self.refresh_within(self.request_deadline).await
    }

    /// Looks a queue up by name. A name missing from the list (and allowed) is looked up alone:
    /// one round trip for its `meta` hash, so a queue created since the last discovery is found
    /// at once, and a made-up name costs no SCAN; a miss is remembered for [`MISS_TTL`].
    pub async fn find(&self, name: &QueueName) -> Result<Option<QueueInfo>, AppError> {
        if !self.allows(name) {
            return Ok(None);
        }
        let lookup = |queues: &[QueueInfo]| queues.iter().find(|q| &q.name == name).cloned();
        if let Some(found) = lookup(&self.queues().await?) {
            return Ok(Some(found));
        }
        if self.missed_recently(name) {
            return Ok(None);
        }
        let meta = QueueKeys::new(&self.prefix, name).meta();
        let pipeline = self.pool.next().pipeline();
        let _: () = pipeline.r#type(meta.as_str()).await?;
        let _: () = pipeline.hget(meta.as_str(), "version").await?;
        let replies = run_pipeline(&pipeline, 2).await?;
        if reply_text(replies.first()).as_deref() != Some("hash") {
            self.remember_miss(name);
            return Ok(None);
        }
        let found = QueueInfo {
            name: name.clone(),
            version: reply_text(replies.get(1)),
        };
        self.add_to_cache(found.clone());
        Ok(Some(found))
    }

    /// Whether the allow-list (if any) lets `name` be shown.
    fn allows(&self, name: &QueueName) -> bool {
        self.allow_list
            .as_deref()
            .is_none_or(|allow| allow.iter().any(|a| a == name.as_str()))
    }

    fn missed_recently(&self, name: &QueueName) -> bool {
        let misses = self.misses.lock().unwrap_or_else(|e| e.into_inner());
        misses.get(name).is_some_and(|at| at.elapsed() < MISS_TTL)
    }

    fn remember_miss(&self, name: &QueueName) {
        let mut misses = self.misses.lock().unwrap_or_else(|e| e.into_inner());
        if misses.len() >= MAX_MISSES {
            misses.retain(|_, at| at.elapsed() < MISS_TTL);
            if misses.len() >= MAX_MISSES {
                misses.clear();
            }
        }
        misses.insert(name.clone(), Instant::now());
    }

    /// Adds a queue found alone to the cached list (until the next discovery replaces it).
    fn add_to_cache(&self, queue: QueueInfo) {
        if let Ok(mut cache) = self.cache.write() {
            if let Some(snapshot) = cache.as_mut() {
                if snapshot.queues.iter().all(|q| q.name != queue.name) {
                    let mut queues = snapshot.queues.as_ref().clone();
                    queues.push(queue);
                    queues.sort_by(|a, b| a.name.cmp(&b.name));
                    snapshot.queues = Arc::new(queues);
                }
            }
        }
    }

    /// Discovers again and replaces the cache, allowing a long SCAN walk (admin refresh,
    /// background task).
    pub async fn refresh(&self) -> Result<Arc<Vec<QueueInfo>>, AppError> {
        self.refresh_within(self.background_deadline).await
    }

    /// Discovers again under `deadline`. A caller that had to wait for another caller's refresh
    /// takes that result instead of scanning again.
    async fn refresh_within(&self, deadline: Duration) -> Result<Arc<Vec<QueueInfo>>, AppError> {
        // The deadline covers waiting for a refresh already under way, too.
        crate::ssr::redis::within(deadline, self.refresh_now()).await
    }

    async fn refresh_now(&self) -> Result<Arc<Vec<QueueInfo>>, AppError> {
        self.refresh_unless_newer_than(Instant::now()).await
    }

    /// Discovers again, unless a discovery started at or after `since` (one that another caller
    /// ran while this one waited for its turn, say) is at hand.
    async fn refresh_unless_newer_than(
        &self,
        since: Instant,
    ) -> Result<Arc<Vec<QueueInfo>>, AppError> {
        let _turn = self.refreshing.lock().await;
        if let Some((queues, taken_at)) = self.cached() {
            if taken_at >= since {
                return Ok(queues);
            }
        }
        let taken_at = Instant::now();
        let queues =
            Arc::new(discover(&self.pool, &self.prefix, self.allow_list.as_deref()).await?);
        if let Ok(mut cache) = self.cache.write() {
            *cache = Some(Snapshot {
                queues: queues.clone(),
                taken_at,
            });
        }
        self.misses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(queues)
    }

    fn cached(&self) -> Option<(Arc<Vec<QueueInfo>>, Instant)> {
        let cache = self.cache.read().ok()?;
        cache
            .as_ref()
            .map(|snapshot| (snapshot.queues.clone(), snapshot.taken_at))
    }

    /// Refreshes every `interval` (sooner while nothing is found, see [`EMPTY_RECHECK_MAX`])
    /// until the task is aborted; a discovery made meanwhile by someone else (an admin's
    /// refresh, the first request) counts, so the walks stay `interval` apart. Failures are
    /// logged and retried after `interval`; the last good list stays in use meanwhile.
    pub fn spawn_refresher(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let registry = self.clone();
        tokio::spawn(async move {
            let mut empty_wait = Duration::from_secs(1);
            loop {
                // How old a discovery may be: the interval, or less while nothing is found.
                let max_age = match registry.cached() {
                    Some((queues, _)) if queues.is_empty() => empty_wait.min(interval),
                    _ => interval,
                };
                if let Some((_, taken_at)) = registry.cached() {
                    let due_in = max_age.saturating_sub(taken_at.elapsed());
                    if !due_in.is_zero() {
                        tokio::time::sleep(due_in).await;
                        continue;
                    }
                }
                // A discovery that someone else started within that age (while this one waited
                // for its turn, say) does instead of a walk of its own.
                let wanted_since = Instant::now()
                    .checked_sub(max_age)
                    .unwrap_or_else(Instant::now);
                let refreshed = crate::ssr::redis::within(
                    registry.background_deadline,
                    registry.refresh_unless_newer_than(wanted_since),
                );
                match refreshed.await {
                    Ok(queues) if queues.is_empty() => {
                        empty_wait = (empty_wait * 2).min(EMPTY_RECHECK_MAX);
                    }
                    Ok(queues) => {
                        tracing::debug!(queues = queues.len(), "queue discovery refreshed");
                        empty_wait = Duration::from_secs(1);
                    }
                    Err(error) => {
                        tracing::warn!(error.message = %error, "queue discovery failed");
                        tokio::time::sleep(interval).await;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(version: Option<&str>) -> QueueInfo {
        QueueInfo {
            name: QueueName::parse("q").expect("valid"),
            version: version.map(str::to_owned),
        }
    }

    #[test]
    fn versions_are_read_from_meta() {
        assert_eq!(info(Some("bullmq:5.81.5")).bull_version(), BullVersion::V5);
        assert_eq!(info(Some("bullmq:6.7.0")).bull_version(), BullVersion::V6);
        assert_eq!(info(Some("bullmq:7.0.0")).bull_version(), BullVersion::V6);
        assert_eq!(
            info(Some("bullmq-pro:7.1")).bull_version(),
            BullVersion::Unknown
        );
        assert_eq!(info(None).bull_version(), BullVersion::Unknown);
    }
}
