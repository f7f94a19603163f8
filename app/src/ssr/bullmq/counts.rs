//! Jobs per state for many queues, read in one pipelined round trip whatever the number of
//! queues: `LLEN` for the lists, `ZCARD` for the sorted sets, `HEXISTS meta paused` for the
//! paused flag — the same reads BullMQ's own `getJobCounts()`/`isPaused()` do.

use crate::model::{QueueSummary, StateCounts};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use fred::prelude::*;

/// Commands queued per queue; the order below is the order [`summary_from_replies`] reads.
const COMMANDS_PER_QUEUE: usize = 9;

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
        let keys = QueueKeys::new(prefix, &queue.name);
        let _: () = pipeline.llen(keys.wait()).await?;
        let _: () = pipeline.llen(keys.paused()).await?;
        let _: () = pipeline.llen(keys.active()).await?;
        let _: () = pipeline.zcard(keys.prioritized()).await?;
        let _: () = pipeline.zcard(keys.delayed()).await?;
        let _: () = pipeline.zcard(keys.completed()).await?;
        let _: () = pipeline.zcard(keys.failed()).await?;
        let _: () = pipeline.zcard(keys.waiting_children()).await?;
        let _: () = pipeline.hexists(keys.meta(), "paused").await?;
    }
    let replies: Vec<Result<u64, Error>> = pipeline.try_all().await;
    if replies.len() != queues.len() * COMMANDS_PER_QUEUE {
        return Err(replies
            .into_iter()
            .find_map(Result::err)
            .map(AppError::from)
            .unwrap_or_else(|| {
                AppError::Internal("Redis pipeline returned too few replies".into())
            }));
    }
    Ok(queues
        .iter()
        .zip(replies.chunks(COMMANDS_PER_QUEUE))
        .map(|(queue, replies)| summary_from_replies(queue, replies))
        .collect())
}

/// Builds one queue's summary from its replies. A reply that is an error (a key of an unexpected
/// type, which BullMQ never creates) counts as 0 and is logged, so one odd key cannot take the
/// whole dashboard down.
fn summary_from_replies(queue: &QueueInfo, replies: &[Result<u64, Error>]) -> QueueSummary {
    let value = |index: usize| match replies.get(index) {
        Some(Ok(value)) => *value,
        Some(Err(error)) => {
            tracing::warn!(queue = %queue.name, error.message = %error, "unexpected reply while counting");
            0
        }
        None => 0,
    };
    let (wait, paused_list, active) = (value(0), value(1), value(2));
    let (prioritized, delayed, completed, failed, waiting_children) =
        (value(3), value(4), value(5), value(6), value(7));
    QueueSummary {
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
    }
}
