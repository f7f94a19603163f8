//! Jobs per state for many queues, read in one pipelined round trip whatever the number of
//! queues: `LLEN` for the lists, `ZCARD` for the sorted sets, `HEXISTS meta paused` for the
//! paused flag — the same reads BullMQ's own `getJobCounts()`/`isPaused()` do.

use crate::model::{QueueSummary, StateCounts};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::redis::run_pipeline;
use fred::clients::Pipeline;
use fred::prelude::*;

/// Commands [`push_count_commands`] queues per queue, in the order [`summary_from_replies`] reads.
pub const COUNT_COMMANDS: usize = 10;

/// Queues the count commands of one queue on a pipeline.
pub async fn push_count_commands(
    pipeline: &Pipeline<Client>,
    keys: &QueueKeys,
) -> Result<(), Error> {
    let _: () = pipeline.llen(keys.wait()).await?;
    let _: () = pipeline.llen(keys.paused()).await?;
    let _: () = pipeline.llen(keys.active()).await?;
    let _: () = pipeline.zcard(keys.prioritized()).await?;
    let _: () = pipeline.zcard(keys.delayed()).await?;
    let _: () = pipeline.zcard(keys.completed()).await?;
    let _: () = pipeline.zcard(keys.failed()).await?;
    let _: () = pipeline.zcard(keys.waiting_children()).await?;
    let _: () = pipeline.hexists(keys.meta(), "paused").await?;
    let _: () = pipeline.exists(keys.meta()).await?;
    Ok(())
}

/// Reads the counts of every queue in `queues` with a single pipeline.
pub async fn read_summaries(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
) -> Result<Vec<QueueSummary>, AppError> {
    if queues.is_empty() {
        return Ok(Vec::new());
    }
    let pipeline = pool.next().pipeline();
    for queue in queues {
        push_count_commands(&pipeline, &QueueKeys::new(prefix, &queue.name)).await?;
    }
    let replies = run_pipeline(&pipeline, queues.len() * COUNT_COMMANDS).await?;
    Ok(queues
        .iter()
        .zip(replies.chunks(COUNT_COMMANDS))
        .filter_map(|(queue, replies)| summary_from_replies(queue, replies))
        .collect())
}

/// A reply as a count. An error reply (a key of an unexpected type, which BullMQ never creates)
/// counts as 0 and is logged, so one odd key cannot take the whole dashboard down.
pub fn reply_u64(queue: &QueueInfo, reply: Option<&Result<Value, Error>>) -> u64 {
    match reply {
        Some(Ok(value)) => value.as_u64().unwrap_or(0),
        Some(Err(error)) => {
            tracing::warn!(queue = %queue.name, error.message = %error, "unexpected reply while reading counts");
            0
        }
        None => 0,
    }
}

/// Builds one queue's summary from its [`COUNT_COMMANDS`] replies; `None` when the queue's `meta`
/// hash is gone (obliterated since it was discovered), so a vanished queue is left out rather
/// than shown with zeros.
pub fn summary_from_replies(
    queue: &QueueInfo,
    replies: &[Result<Value, Error>],
) -> Option<QueueSummary> {
    let value = |index: usize| reply_u64(queue, replies.get(index));
    if value(9) == 0 {
        return None;
    }
    let (wait, paused_list, active) = (value(0), value(1), value(2));
    let (prioritized, delayed, completed, failed, waiting_children) =
        (value(3), value(4), value(5), value(6), value(7));
    Some(QueueSummary {
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
        paused: value(8) == 1,
        bullmq_version: queue.version.clone(),
    })
}
