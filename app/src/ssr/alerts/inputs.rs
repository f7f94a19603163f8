//! The reads some conditions need beyond the live snapshot, made only when a rule asks for
//! them: the stuck report (shared with the dashboard's), the oldest waiting job of each queue
//! (one pipelined script call per queue), the collector's caught-up marks (one `HMGET`), the
//! failure groups with their growth (the groups' own read, plus one hash of the last totals),
//! and the finished counts of a failure rate's window (its buckets).

use super::eval::{GroupSeen, Observation, WindowCounts};
use super::rules::Rule;
use crate::model::{Metrics, StuckReport};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::history::keys::HistoryKeys;
use crate::ssr::redis::run_pipeline;
use crate::ssr::state::AppState;
use fred::prelude::*;
use std::collections::HashMap;

/// What one evaluation read beyond the snapshot (each only when a rule needs it).
#[derive(Default)]
pub struct Inputs {
    stuck: Option<StuckReport>,
    oldest: Option<HashMap<String, u64>>,
    caught: Option<HashMap<String, Option<u64>>>,
    groups: Option<Vec<GroupSeen>>,
    windows: Option<WindowCounts>,
}

impl Inputs {
    /// Reads what `rules` need; `alerts_base` is where the groups' growth is kept.
    pub async fn read(
        state: &AppState,
        rules: &[Rule],
        alerts_base: &str,
        now: u64,
    ) -> Result<Inputs, AppError> {
        let settings = &state.settings;
        let history = HistoryKeys::new(&settings.monitor_prefix, &settings.prefix);
        let (stuck_needed, oldest_needed, caught_needed, groups_needed) = super::eval::needs(rules);
        let windows_needed = super::eval::windows(rules);
        let mut inputs = Inputs::default();
        if stuck_needed {
            inputs.stuck = crate::ssr::service::reads::stuck_alerts(state, None)
                .await
                .ok();
        }
        let queues = if oldest_needed || caught_needed || !windows_needed.is_empty() {
            state.registry.queues().await?
        } else {
            std::sync::Arc::default()
        };
        if oldest_needed {
            inputs.oldest = Some(oldest_waiting(&state.redis, &settings.prefix, &queues).await?);
        }
        if caught_needed {
            inputs.caught = Some(caught_up(&state.redis, &history.caught_up(), &queues).await?);
        }
        if groups_needed {
            let keys = crate::ssr::failures::FailureKeys::new(&history);
            let growth = format!("{alerts_base}:group-growth");
            inputs.groups = Some(groups(&state.redis, &keys, &growth, now).await?);
        }
        if !windows_needed.is_empty() {
            let minute_ttl = u64::try_from(settings.history_minute_ttl.as_millis()).unwrap_or(0);
            let mut all = WindowCounts::new();
            for window in windows_needed {
                let stats = crate::ssr::history::read::window_stats(
                    &state.redis,
                    &history,
                    &queues,
                    now.saturating_sub(window),
                    now,
                    minute_ttl,
                )
                .await?;
                let counts = queues
                    .iter()
                    .zip(stats)
                    .map(|(q, s)| (q.name.as_str().to_owned(), (s.completed, s.failed)))
                    .collect();
                all.insert(window, counts);
            }
            inputs.windows = Some(all);
        }
        Ok(inputs)
    }

    /// What the rules are judged on: the snapshot (`None`: Redis did not answer) and these.
    pub fn observation<'a>(&'a self, metrics: Option<&'a Metrics>, now: u64) -> Observation<'a> {
        Observation {
            metrics,
            stuck: self.stuck.as_ref(),
            oldest_waiting: self.oldest.as_ref(),
            caught_up: self.caught.as_ref(),
            groups: self.groups.as_deref(),
            windows: self.windows.as_ref(),
            now,
        }
    }
}

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
