//! The reads some conditions need beyond the live snapshot, made only when a rule asks for
//! them: the oldest waiting job of each queue (one pipelined script call per queue), the
//! collector's caught-up marks (one `HMGET`), and the failure groups with their growth (the
//! groups' own read, plus one hash of the last totals).

use super::eval::GroupSeen;
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use std::collections::HashMap;

/// The oldest job of `wait` (its tail: workers take from there) and when it was added.
const OLDEST: &str = "local id = redis.call('LINDEX', KEYS[1], -1)
if not id then return false end
return redis.call('HGET', ARGV[1] .. id, 'timestamp')";

/// Queue → when its oldest waiting job was added (queues with none are absent).
pub async fn oldest_waiting(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
) -> Result<HashMap<String, u64>, AppError> {
    if queues.is_empty() {
        return Ok(HashMap::new());
    }
    let pipeline = pool.next().pipeline();
    for queue in queues {
        let keys = QueueKeys::new(prefix, &queue.name);
        // Pipelines have no `EVAL` method; routed on a cluster by the key (argument 2).
        let eval = fred::types::CustomCommand::new_static(
            "EVAL",
            fred::types::ClusterHash::Offset(2),
            false,
        );
        let args = vec![
            OLDEST.to_owned(),
            "1".to_owned(),
            keys.wait(),
            keys.base().to_owned(),
        ];
        let _: () = pipeline.custom(eval, args).await?;
    }
    let replies = run_pipeline(&pipeline, queues.len()).await?;
    Ok(queues
        .iter()
        .zip(replies)
        .filter_map(|(queue, reply)| {
            let added = reply.ok()?.as_string()?.parse::<u64>().ok()?;
            Some((queue.name.as_str().to_owned(), added))
        })
        .collect())
}

/// Queue → when the collector last caught up with it.
pub async fn caught_up(
    pool: &Pool,
    key: &str,
    queues: &[QueueInfo],
) -> Result<HashMap<String, Option<u64>>, AppError> {
    if queues.is_empty() {
        return Ok(HashMap::new());
    }
    let names: Vec<String> = queues.iter().map(|q| q.name.as_str().to_owned()).collect();
    let marks: Vec<Option<String>> = pool.hmget(key, names.clone()).await?;
    Ok(names
        .into_iter()
        .zip(marks)
        .map(|(name, mark)| (name, mark.and_then(|m| m.parse().ok())))
        .collect())
}

/// The failure groups, each with its failures a minute: measured against the total kept in
/// `growth_key` at the last measure at least a minute ago (the first measure knows none).
pub async fn groups(
    pool: &Pool,
    keys: &crate::ssr::failures::FailureKeys,
    growth_key: &str,
    now: u64,
) -> Result<Vec<GroupSeen>, AppError> {
    let groups =
        crate::ssr::failures::read::groups(pool, keys, None, now.saturating_sub(3_600_000), now)
            .await?;
    let kept: HashMap<String, String> = pool.hgetall(growth_key).await?;
    let mut updates: Vec<(String, String)> = Vec::new();
    let mut seen = Vec::with_capacity(groups.len());
    for group in groups {
        let total: u64 = group.queues.iter().map(|q| q.total).sum();
        let previous = kept.get(&group.id).and_then(|text| {
            let mut parts = text.split(' ');
            let total: u64 = parts.next()?.parse().ok()?;
            let at: u64 = parts.next()?.parse().ok()?;
            let rate: Option<f64> = parts.next().and_then(|r| r.parse().ok());
            Some((total, at, rate))
        });
        let per_minute = match previous {
            Some((before, at, _)) if now.saturating_sub(at) >= 60_000 => {
                let rate = total.saturating_sub(before) as f64 * 60_000.0 / (now - at) as f64;
                updates.push((group.id.clone(), format!("{total} {now} {rate}")));
                Some(rate)
            }
            Some((_, _, rate)) => rate,
            None => {
                updates.push((group.id.clone(), format!("{total} {now}")));
                None
            }
        };
        let mut queues = group.queues.clone();
        queues.sort_by_key(|q| std::cmp::Reverse(q.total));
        seen.push(GroupSeen {
            id: group.id.clone(),
            queues: queues.into_iter().map(|q| q.queue_name).collect(),
            first_seen: group
                .first_seen
                .as_deref()
                .and_then(crate::ssr::clock::parse_time),
            per_minute,
        });
    }
    if !updates.is_empty() {
        let _: () = pool.hset(growth_key, updates).await?;
    }
    Ok(seen)
}
