//! The actions on one job, each one script with BullMQ's own semantics for the queue's
//! generation, checked against BullMQ in the tests:
//!
//! - [`retry`] — a failed or completed job back in line in place (`job.retry(state)`);
//! - [`promote`] — a delayed job ready now (`job.promote()`);
//! - [`remove`] — a job and its children gone (`job.remove()`), its parent moving on.
//!
//! Each says where the job was and is; a job not in a state the action needs is a conflict
//! (409) naming its state, a locked job (a worker holds it) too.

use super::{mode, script, text, STATE};
use crate::model::{JobId, JobState};
use crate::ssr::bullmq::commands::PARENT;
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::sync::LazyLock;

const ACTIONS: &str = include_str!("lua/actions.lua");

static RETRY: LazyLock<Script> =
    LazyLock::new(|| script(&[PARENT, STATE, ACTIONS, include_str!("lua/retry_job.lua")]));
static PROMOTE: LazyLock<Script> =
    LazyLock::new(|| script(&[PARENT, STATE, ACTIONS, include_str!("lua/promote.lua")]));
static REMOVE: LazyLock<Script> =
    LazyLock::new(|| script(&[PARENT, STATE, ACTIONS, include_str!("lua/remove.lua")]));

/// Where a job was and is after an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Moved {
    pub from: JobState,
    pub to: JobState,
}

/// A state name from a script (`wait`/`paused` as BullMQ's removal names lists).
fn state(name: &str) -> JobState {
    match name {
        "wait" | "paused" => JobState::Waiting,
        other => JobState::parse(other).unwrap_or(JobState::Unknown),
    }
}

/// Runs an action script: `[1, from, to?]` on success, `[-1]` no job, `[-3, state]` not in the
/// state the action needs, `[0, state]` locked, `[-8]` a scheduler's next run.
async fn run(
    script: &Script,
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    id: &JobId,
    extra: &str,
    needs: &str,
) -> Result<Moved, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let reply: Vec<Value> = script
        .evalsha_with_reload(
            pool.next(),
            vec![keys.job(id.as_str())],
            vec![
                keys.base().to_owned(),
                id.as_str().to_owned(),
                extra.to_owned(),
            ],
        )
        .await?;
    let code = reply.first().and_then(Value::as_i64).unwrap_or(-1);
    let at = state(&text(reply.get(1)));
    match code {
        1 => Ok(Moved {
            from: at,
            to: reply
                .get(2)
                .map(|to| state(&to.as_string().unwrap_or_default()))
                .unwrap_or(JobState::Unknown),
        }),
        -1 => Err(super::detail::no_such_job(queue, id)),
        -3 => Err(AppError::Conflict(format!(
            "job `{id}` is {}; this action needs it {needs}",
            at.as_str()
        ))),
        0 => Err(AppError::Conflict(format!(
            "job `{id}` (or one of its children) is held by a worker (its lock is set); it cannot be removed while it runs"
        ))),
        -8 => Err(AppError::Conflict(format!(
            "job `{id}` is the next run of its job scheduler; remove the scheduler instead"
        ))),
        other => Err(AppError::Internal(format!(
            "unexpected reply {other} from a job action script"
        ))),
    }
}

/// A failed or completed job back in line, in place.
pub async fn retry(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    id: &JobId,
) -> Result<Moved, AppError> {
    run(
        &RETRY,
        pool,
        prefix,
        queue,
        id,
        mode(queue),
        "failed or completed",
    )
    .await
}

/// A delayed job ready now.
pub async fn promote(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    id: &JobId,
) -> Result<Moved, AppError> {
    run(&PROMOTE, pool, prefix, queue, id, mode(queue), "delayed").await
}

/// A job removed with its children (BullMQ's default).
pub async fn remove(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    id: &JobId,
) -> Result<Moved, AppError> {
    run(
        &REMOVE,
        pool,
        prefix,
        queue,
        id,
        "1",
        "not held by a worker",
    )
    .await
    .map(|moved| Moved {
        from: moved.from,
        to: JobState::Unknown,
    })
}
