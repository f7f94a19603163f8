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

use crate::ssr::error::AppError;
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
}

type Slot = Arc<tokio::sync::Mutex<Option<Done>>>;

/// The shared reads of one process.
pub struct SharedReads {
    slots: Mutex<HashMap<String, Slot>>,
    /// How long a successful read serves later requests (0: only requests that arrive while it
    /// runs share it).
    shared_for: Duration,
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
        }
    }

    /// Forgets every finished read: after a control action, the next read shows its effect.
    pub fn forget(&self) {
        self.slots.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The result of `read` for `key`: reused when one finished less than `shared_for` ago,
    /// joined when one is under way, else computed now.
    pub async fn get<T, F, Fut>(&self, key: &str, read: F) -> Result<T, AppError>
    where
        T: Clone + Send + Sync + 'static,
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
        if let Some(previous) = done.as_ref() {
            let fresh = previous.at.elapsed() < self.shared_for && previous.result.is_ok();
            // Finished while this request waited for it: its outcome, success or failure.
            let awaited = previous.at >= asked_at;
            if fresh || awaited {
                return match &previous.result {
                    Ok(value) => value.downcast_ref::<T>().cloned().ok_or_else(|| {
                        AppError::Internal(format!("shared read `{key}` holds another type"))
                    }),
                    Err(error) => Err(error.clone()),
                };
            }
        }
        let result = read().await;
        *done = Some(Done {
            at: Instant::now(),
            result: match &result {
                Ok(value) => Ok(Arc::new(value.clone())),
                Err(error) => Err(error.clone()),
            },
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
