//! Commands that change BullMQ state: pause, resume and clear. Each step is one Lua script (our
//! own, following BullMQ's semantics for the queue's version), so it is atomic: a worker or
//! producer running at the same time sees the queue before or after, never in between. Bulk
//! work runs in bounded batches of at most [`BATCH`] jobs, one script call each, so Redis keeps
//! serving others between them, whatever the size of the lists.

use crate::model::ClearKind;
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::sync::LazyLock;

/// What BullMQ does to a removed job's parent, prepended to the scripts that remove jobs.
pub(crate) const PARENT: &str = include_str!("lua/parent.lua");

static PAUSE: LazyLock<Script> = LazyLock::new(|| Script::from_lua(include_str!("lua/pause.lua")));
static RESUME: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/resume.lua")));
static CLEAR: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(format!("{PARENT}\n{}", include_str!("lua/clear.lua"))));

/// The most jobs one script call moves or removes: small enough that a call stays in the low
/// milliseconds, large enough to clear millions of jobs in reasonable time.
pub const BATCH: usize = 1000;

/// How many jobs [`clear`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cleared {
    /// From `completed`.
    pub completed: u64,
    /// From `failed`.
    pub failed: u64,
}

/// Calls a stepwise script (`pause.lua`, `resume.lua`) with "start", then with "continue"
/// while it says jobs are left to move. Returns whether the first step changed the state.
async fn stepwise(
    pool: &Pool,
    script: &Script,
    keys: Vec<String>,
    leading_args: Vec<String>,
) -> Result<bool, AppError> {
    let mut step = "start";
    let mut changed = false;
    loop {
        let mut args = leading_args.clone();
        args.push(step.to_owned());
        args.push(BATCH.to_string());
        let reply: Vec<i64> = script
            .evalsha_with_reload(pool.next(), keys.clone(), args)
            .await?;
        let (now_changed, left) = (
            reply.first().copied().unwrap_or(0),
            reply.get(1).copied().unwrap_or(0),
        );
        if step == "start" {
            changed = now_changed == 1;
        }
        if left <= 0 {
            return Ok(changed);
        }
        step = "continue";
    }
}

/// Pauses the queue as its BullMQ version does (v6: the flag; v5 or unknown: the flag plus the
/// `wait` → `paused` move, in batches), so real workers stop taking jobs. Returns whether it
/// changed anything.
pub async fn pause(pool: &Pool, prefix: &str, queue: &QueueInfo) -> Result<bool, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    stepwise(
        pool,
        &PAUSE,
        vec![
            keys.meta(),
            keys.wait(),
            keys.paused(),
            keys.marker(),
            keys.events(),
        ],
        vec![queue.bull_version().script_mode().to_owned()],
    )
    .await
}

/// Resumes the queue (merging a legacy `paused` list back into `wait` in batches, without
/// overwriting) and wakes its workers. Returns whether it changed anything.
pub async fn resume(pool: &Pool, prefix: &str, queue: &QueueInfo) -> Result<bool, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    stepwise(
        pool,
        &RESUME,
        vec![
            keys.meta(),
            keys.wait(),
            keys.paused(),
            keys.marker(),
            keys.events(),
            keys.prioritized(),
            keys.delayed(),
        ],
        Vec::new(),
    )
    .await
}

/// Removes finished jobs (and their logs and other per-job keys) in batches of [`BATCH`],
/// oldest first, adding what it removed to `cleared` as it goes (so a failure part-way still
/// says how far it got). Never touches waiting, prioritized, delayed or active jobs, nor any
/// lock; a parent waiting for a removed child is dealt with as BullMQ's `clean` does.
pub async fn clear(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    kind: ClearKind,
    cleared: &mut Cleared,
) -> Result<(), AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let mut sets = Vec::new();
    if kind.includes_completed() {
        sets.push((keys.completed(), true));
    }
    if kind.includes_failed() {
        sets.push((keys.failed(), false));
    }
    for (set, is_completed) in sets {
        loop {
            let removed: u64 = CLEAR
                .evalsha_with_reload(
                    pool.next(),
                    vec![set.clone(), keys.meta(), keys.events()],
                    vec![keys.base().to_owned(), BATCH.to_string()],
                )
                .await?;
            if is_completed {
                cleared.completed += removed;
            } else {
                cleared.failed += removed;
            }
            if removed < BATCH as u64 {
                break;
            }
        }
    }
    Ok(())
}
