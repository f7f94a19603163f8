//! Shared reads: requests that ask for the same read at the same time share one Redis
//! computation, and its result serves further requests for a moment (`SHARED_FOR`).
//!
//! Without it, N viewers' dashboards and scripts asking for `/metrics` cost N identical
//! pipelines: under load Redis saturates, every request waits, and answers turn into 503s
//! (measured with `scripts/load.sh`: 200 requests/s over 100 queues with 1M jobs went from
//! 5 s latencies and 83 % errors to the figures in README). A monitor's numbers are a snapshot
//! anyway (every answer carries the time it was read), and the live streams refresh every 2 s,
//! so a second of sharing changes nothing a viewer can see.
//!
//! A failed read is not reused later, but the requests that waited for it get its error at once
//! instead of each trying again (a stampede on a Redis that is already struggling).
//!
//! Several instances share their reads through Redis too ([`RedisTier`]): a result is also
//! stored there for the same moment, and an instance that has none of its own takes it with one
//! `MGET` instead of recomputing it (thousands of commands for 1,000 queues). Without that, every
//! instance added behind a load balancer would add its full read load to Redis. A control action
//! bumps a generation counter there, so no instance takes a result read before the action.

use crate::ssr::error::AppError;
use fred::prelude::*;
use serde::{de::DeserializeOwned, Serialize};
use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a successful read serves later requests by default.
pub const SHARED_FOR: Duration = Duration::from_secs(1);

/// At most this many distinct reads are remembered (history queries have many shapes); past it
/// the memory is dropped and starts over.
const MAX_KEYS: usize = 256;

type Value = Arc<dyn Any + Send + Sync>;

struct Done {
    at: Instant,
    result: Result<Value, AppError>,
    /// The generation (control actions so far, counted in Redis) it was read in, when known.
    generation: Option<u64>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Done>>>;

/// The shared reads of one process.
pub struct SharedReads {
    slots: Mutex<HashMap<String, Slot>>,
    /// How long a successful read serves later requests (0: only requests that arrive while it
    /// runs share it).
    shared_for: Duration,
    /// Where other instances' results are found (`None`: this process only).
    redis: Option<RedisTier>,
}

/// Results shared between instances: `<namespace>:<key>` holds
/// `<generation>\n<read at, epoch ms>\n<JSON>` for `shared_for`; `<namespace>:generation` counts control actions. All keys of a namespace share
/// one hash slot (`slots::slot_namespace`), so entry and generation come in one `MGET`, also on
/// a cluster.
pub struct RedisTier {
    pool: Pool,
    namespace: String,
    /// The most one lookup, check or write of the tier may take: it saves work, so it must never
    /// make a request slower than computing the read (which has its own deadline).
    deadline: Duration,
}

impl RedisTier {
    /// The tier of instances that answer alike: the same BullMQ prefix and the same settings
    /// that shape the answers (queue allow-list, stuck threshold). Instances configured
    /// differently get namespaces of their own and never take each other's results.
    pub fn new(pool: Pool, settings: &crate::ssr::config::Settings) -> Self {
        let mut allowed = settings.queue_allow_list.clone().unwrap_or_default();
        allowed.sort();
        let shape = format!(
            "{}|{}|{}",
            settings.prefix,
            allowed.join(","),
            settings.stuck_after.as_millis()
        );
        let fingerprint = &fred::util::sha1_hash(&shape)[..12];
        RedisTier {
            pool,
            namespace: crate::ssr::slots::slot_namespace(
                &settings.monitor_prefix,
                &format!("reads:{}:{fingerprint}", settings.prefix),
            ),
            deadline: (settings.redis_timeout / 4).min(Duration::from_millis(250)),
        }
    }

    /// `operation` under the tier's deadline (running out of time is an error like any other);
    /// skipped at once while the pool is disconnected (the tier saves work; it must not make a
    /// request wait for a Redis that is gone).
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if !self
            .pool
            .clients()
            .iter()
            .any(|client| client.is_connected())
        {
            return Err(Error::new(
                fred::error::ErrorKind::IO,
                "shared read tier: not connected",
            ));
        }
        tokio::time::timeout(self.deadline, operation)
            .await
            .unwrap_or_else(|_| {
                Err(Error::new(
                    fred::error::ErrorKind::Timeout,
                    "shared read tier: no answer in time",
                ))
            })
    }

    fn entry_key(&self, key: &str) -> String {
        format!("{}:{key}", self.namespace)
    }

    fn generation_key(&self) -> String {
        format!("{}:generation", self.namespace)
    }

    /// The stored result for `key` and how long ago it was read, if it was read in the current
    /// generation; and the current generation (for storing a new result).
    async fn fetch<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<(Option<(T, Duration)>, u64), Error> {
        let (entry, generation): (Option<String>, Option<u64>) = self
            .bounded(
                self.pool
                    .mget(vec![self.entry_key(key), self.generation_key()]),
            )
            .await?;
        let generation = generation.unwrap_or(0);
        let value = entry.and_then(|entry| {
            let mut parts = entry.splitn(3, '\n');
            let stored: u64 = parts.next()?.parse().ok()?;
            let read_at: u64 = parts.next()?.parse().ok()?;
            let value = serde_json::from_str(parts.next()?).ok()?;
            // Instances' clocks differ a little; a result from "the future" is just new.
            let age = Duration::from_millis(epoch_ms().saturating_sub(read_at));
            (stored == generation).then_some((value, age))
        });
        Ok((value, generation))
    }

    async fn store<T: Serialize>(
        &self,
        key: &str,
        generation: u64,
        value: &T,
        ttl: Duration,
    ) -> Result<(), Error> {
        let Ok(json) = serde_json::to_string(value) else {
            return Ok(());
        };
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.bounded(self.pool.set::<(), _, _>(
            self.entry_key(key),
            format!("{generation}\n{}\n{json}", epoch_ms()),
            Some(Expiration::PX(millis)),
            None,
            false,
        ))
        .await
    }

    async fn generation(&self) -> Result<u64, Error> {
        Ok(self
            .bounded(self.pool.get::<Option<u64>, _>(self.generation_key()))
            .await?
            .unwrap_or(0))
    }

    async fn bump(&self) -> Result<(), Error> {
        self.bounded(self.pool.incr::<(), _>(self.generation_key()))
            .await
    }
}

/// Milliseconds since the Unix epoch (the wall clock other instances can compare with).
fn epoch_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Default for SharedReads {
    fn default() -> Self {
        SharedReads::new(SHARED_FOR)
    }
}

impl SharedReads {
    pub fn new(shared_for: Duration) -> Self {
        SharedReads {
            slots: Mutex::default(),
            shared_for,
            redis: None,
        }
    }

    /// Shared reads that also share results with other instances through Redis.
    pub fn with_redis(shared_for: Duration, tier: RedisTier) -> Self {
        SharedReads {
            redis: Some(tier),
            ..SharedReads::new(shared_for)
        }
    }

    /// Forgets every finished read, here and (for other instances) in Redis: after a control
    /// action, the next read shows its effect.
    pub async fn forget(&self) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clear();
        if let (Some(tier), false) = (&self.redis, self.shared_for.is_zero()) {
            if let Err(error) = tier.bump().await {
                tracing::warn!(error.message = %error, "could not expire the shared reads");
            }
        }
    }

    /// The result of `read` for `key`: reused when one finished less than `shared_for` ago,
    /// joined when one is under way, else computed now.
    pub async fn get<T, F, Fut>(&self, key: &str, read: F) -> Result<T, AppError>
    where
        T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AppError>>,
    {
        let asked_at = Instant::now();
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            if slots.len() >= MAX_KEYS && !slots.contains_key(key) {
                slots.clear();
            }
            slots.entry(key.to_owned()).or_default().clone()
        };
        let mut done = slot.lock().await;
        let tier = self.redis.as_ref().filter(|_| !self.shared_for.is_zero());
        if let Some(previous) = done.as_ref() {
            let fresh = previous.at.elapsed() < self.shared_for && previous.result.is_ok();
            // Finished while this request waited for it: its outcome, success or failure.
            let awaited = previous.at >= asked_at;
            // A result stands unless a control action (on any instance) came after it was read,
            // also one this request joined (it began before the request came); asking costs one
            // small GET. If Redis cannot say, the result is as good as any. A failure that this
            // request waited for is shared as it is (no stampede on a struggling Redis).
            let succeeded = previous.result.is_ok();
            let current = match (tier, (fresh || awaited) && succeeded) {
                (Some(tier), true) => tier.generation().await.ok(),
                _ => None,
            };
            let unchanged = current.is_none() || current == previous.generation;
            if (awaited && !succeeded) || ((awaited || fresh) && unchanged) {
                return match &previous.result {
                    Ok(value) => value.downcast_ref::<T>().cloned().ok_or_else(|| {
                        AppError::Internal(format!("shared read `{key}` holds another type"))
                    }),
                    Err(error) => Err(error.clone()),
                };
            }
        }
        // Another instance's result of this moment, if any (a failure to ask is no reason to
        // fail the read: it is computed here instead).
        let mut generation = None;
        if let Some(tier) = tier {
            match tier.fetch::<T>(key).await {
                Ok((Some((value, age)), current)) if age < self.shared_for => {
                    // It serves here for what is left of its moment, not a moment more.
                    *done = Some(Done {
                        at: Instant::now().checked_sub(age).unwrap_or_else(Instant::now),
                        result: Ok(Arc::new(value.clone())),
                        generation: Some(current),
                    });
                    return Ok(value);
                }
                Ok((_, current)) => generation = Some(current),
                Err(error) => tracing::debug!(error.message = %error, "shared read lookup failed"),
            }
        }
        let result = read().await;
        if let (Some(tier), Some(generation), Ok(value)) = (tier, generation, &result) {
            if let Err(error) = tier.store(key, generation, value, self.shared_for).await {
                tracing::debug!(error.message = %error, "shared read not stored");
            }
        }
        *done = Some(Done {
            at: Instant::now(),
            result: match &result {
                Ok(value) => Ok(Arc::new(value.clone())),
                Err(error) => Err(error.clone()),
            },
            generation,
        });
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn concurrent_and_recent_requests_share_one_read() {
        let reads = Arc::new(SharedReads::default());
        let calls = Arc::new(AtomicU32::new(0));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let first = tokio::spawn({
            let (reads, calls) = (reads.clone(), calls.clone());
            async move {
                reads
                    .get("metrics", || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        let _ = released.await;
                        Ok::<_, AppError>(7_u32)
                    })
                    .await
            }
        });
        // The first read is under way (it counted itself) before the others ask.
        while calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let waiting: Vec<_> = (0..5)
            .map(|_| {
                let (reads, calls) = (reads.clone(), calls.clone());
                tokio::spawn(async move {
                    reads
                        .get("metrics", || async move {
                            calls.fetch_add(1, Ordering::SeqCst);
                            Ok::<_, AppError>(8_u32)
                        })
                        .await
                })
            })
            .collect();
        let _ = release.send(());
        assert_eq!(first.await.expect("task").expect("read"), 7);
        for task in waiting {
            assert_eq!(task.await.expect("task").expect("read"), 7);
        }
        // Right after, still shared; another key is its own read.
        assert_eq!(
            reads
                .get("metrics", || async { Ok(9_u32) })
                .await
                .expect("read"),
            7
        );
        assert_eq!(
            reads
                .get("trends", || async { Ok(3_u32) })
                .await
                .expect("read"),
            3
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failure_is_not_reused_later() {
        let reads = SharedReads::default();
        let failed = reads
            .get("stuck", || async {
                Err::<u32, _>(AppError::Internal("boom".into()))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(
            reads
                .get("stuck", || async { Ok(1_u32) })
                .await
                .expect("read"),
            1
        );
    }
}
