//! Commands that change BullMQ state: pause, resume and clear. Each is one Lua script (our own,
//! following BullMQ's semantics for the queue's version), so it is atomic: a worker or producer
//! running at the same time sees the queue before or after, never in between. Bulk work runs in
//! bounded batches, one script call each, so Redis keeps serving others between them.

use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use fred::prelude::*;
use fred::types::scripts::Script;

const PAUSE: &str = include_str!("lua/pause.lua");
const RESUME: &str = include_str!("lua/resume.lua");
const CLEAR: &str = include_str!("lua/clear.lua");

/// Jobs removed per script call by [`clear`]: small enough that one call stays in the
/// low milliseconds, large enough to clear millions of jobs in reasonable time.
pub const CLEAR_BATCH: usize = 1000;

/// Which finished jobs [`clear`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClearType {
    /// The `completed` set.
    Completed,
    /// The `failed` set.
    Failed,
    /// Both.
    All,
}

impl ClearType {
    /// Parses `completed`, `failed` or `all`.
    pub fn parse(text: &str) -> Option<ClearType> {
        match text {
            "completed" => Some(ClearType::Completed),
            "failed" => Some(ClearType::Failed),
            "all" => Some(ClearType::All),
            _ => None,
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ClearType::Completed => "completed",
            ClearType::Failed => "failed",
            ClearType::All => "all",
        }
    }
}

/// How many jobs [`clear`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cleared {
    /// From `completed`.
    pub completed: u64,
    /// From `failed`.
    pub failed: u64,
}

/// Pauses the queue as its BullMQ version does (v6: the flag; v5 or unknown: the flag plus the
/// `wait` → `paused` move), so real workers stop taking jobs. Returns whether it changed anything.
pub async fn pause(pool: &Pool, prefix: &str, queue: &QueueInfo) -> Result<bool, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let mode = queue.bull_version().script_mode();
    let changed: i64 = Script::from_lua(PAUSE)
        .evalsha_with_reload(
            pool.next(),
            vec![
                keys.meta(),
                keys.wait(),
                keys.paused(),
                keys.marker(),
                keys.events(),
            ],
            vec![mode],
        )
        .await?;
    Ok(changed == 1)
}

/// Resumes the queue (merging a legacy `paused` list back into `wait` without overwriting) and
/// wakes its workers. Returns whether it changed anything.
pub async fn resume(pool: &Pool, prefix: &str, queue: &QueueInfo) -> Result<bool, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let changed: i64 = Script::from_lua(RESUME)
        .evalsha_with_reload(
            pool.next(),
            vec![
                keys.meta(),
                keys.wait(),
                keys.paused(),
                keys.marker(),
                keys.events(),
                keys.prioritized(),
                keys.delayed(),
            ],
            Vec::<String>::new(),
        )
        .await?;
    Ok(changed == 1)
}

/// Removes finished jobs (and their logs and other per-job keys) in batches of [`CLEAR_BATCH`],
/// oldest first. Never touches waiting, prioritized, delayed or active jobs, nor any lock.
pub async fn clear(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    kind: ClearType,
) -> Result<Cleared, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let script = Script::from_lua(CLEAR);
    let mut cleared = Cleared::default();
    let sets: &[(String, bool)] = &match kind {
        ClearType::Completed => vec![(keys.completed(), true)],
        ClearType::Failed => vec![(keys.failed(), false)],
        ClearType::All => vec![(keys.completed(), true), (keys.failed(), false)],
    };
    for (set, is_completed) in sets {
        loop {
            let removed: u64 = script
                .evalsha_with_reload(
                    pool.next(),
                    vec![set.clone(), keys.meta(), keys.events()],
                    vec![keys.base().to_owned(), CLEAR_BATCH.to_string()],
                )
                .await?;
            if *is_completed {
                cleared.completed += removed;
            } else {
                cleared.failed += removed;
            }
            if removed < CLEAR_BATCH as u64 {
                break;
            }
        }
    }
    Ok(cleared)
}
