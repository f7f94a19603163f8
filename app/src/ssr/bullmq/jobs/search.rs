//! Searches: a bounded scan of one queue's states (or every queue's), newest first within each
//! state, in batches of at most [`BATCH`] jobs per Redis call, matching inside Redis
//! (`lua/search.lua`) so only matches travel. A request stops at `limit` matches or after
//! `scan_limit` jobs, and says how far it got: `scanned`, `total`, `complete`, and a cursor to
//! scan on — never a silent partial result.
//!
//! States are walked in a fixed order (active, waiting, prioritized, delayed,
//! waiting-children, failed, completed, then BullMQ 5's paused list), queues by name. The scan
//! is of a moving target: a job that changes state while a search pages on may be missed or
//! met twice.

use super::query::Query;
use super::{script, summary_from_row, text, Kind, Reader, COMMON, PREVIEW_BYTES};
use crate::model::{JobState, JobSummary, SearchPage};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::sync::LazyLock;

static SEARCH: LazyLock<Script> = LazyLock::new(|| script(&[include_str!("lua/search.lua")]));
static SUMMARIES: LazyLock<Script> =
    LazyLock::new(|| script(&[COMMON, include_str!("lua/summaries.lua")]));

/// The most job hashes one Redis call looks at.
pub const BATCH: u64 = 1000;

/// One key a search walks.
#[derive(Clone, Debug)]
struct Target {
    queue: usize,
    state: JobState,
    key: String,
    kind: Kind,
}

/// The keys to walk, in order: per queue, per state.
fn targets(prefix: &str, queues: &[QueueInfo], only: Option<JobState>) -> Vec<Target> {
    let mut out = Vec::new();
    for (queue, info) in queues.iter().enumerate() {
        let keys = QueueKeys::new(prefix, &info.name);
        for state in JobState::LISTED {
            // BullMQ 5's paused list holds waiting jobs (`getState` says waiting).
            let (shown_as, key, kind) = match state {
                JobState::Waiting => (JobState::Waiting, keys.wait(), Kind::List),
                JobState::Paused => (JobState::Waiting, keys.paused(), Kind::List),
                JobState::Active => (JobState::Active, keys.active(), Kind::List),
                JobState::Prioritized => (state, keys.prioritized(), Kind::Zset),
                JobState::Delayed => (state, keys.delayed(), Kind::Zset),
                JobState::WaitingChildren => (state, keys.waiting_children(), Kind::Zset),
                JobState::Failed => (state, keys.failed(), Kind::Zset),
                JobState::Completed => (state, keys.completed(), Kind::Zset),
                JobState::Unknown => continue,
            };
            let included = match only {
                None => true,
                Some(JobState::Paused) => state == JobState::Paused,
                Some(only) => only == shown_as,
            };
            if !included {
                continue;
            }
            out.push(Target {
                queue,
                state: shown_as,
                key,
                kind,
            });
        }
    }
    out
}

/// Where a search goes on: the key (by index into the walk) and the position in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchCursor {
    pub target: usize,
    pub position: u64,
}

impl SearchCursor {
    pub fn encode(self) -> String {
        format!("s{}.{}", self.target, self.position)
    }

    pub fn decode(text: &str) -> Result<SearchCursor, AppError> {
        let bad = || {
            AppError::BadRequest(
                "cursor is not one this server gave (pass `nextCursor` back as it is)".into(),
            )
        };
        let (target, position) = text
            .strip_prefix('s')
            .and_then(|rest| rest.split_once('.'))
            .ok_or_else(bad)?;
        Ok(SearchCursor {
            target: target.parse().map_err(|_| bad())?,
            position: position.parse().map_err(|_| bad())?,
        })
    }
}

/// What a search asks.
pub struct Search<'a> {
    pub query: &'a Query,
    /// A state from the request (besides the query's own `state:`).
    pub state: Option<JobState>,
    pub limit: u64,
    pub scan_limit: u64,
    pub cursor: Option<SearchCursor>,
    /// Whether matches name their queue (searches across queues).
    pub name_queues: bool,
}

/// Runs a search over `queues` (sorted by name by the caller).
pub async fn search(
    reader: Reader<'_>,
    queues: &[QueueInfo],
    search: Search<'_>,
) -> Result<SearchPage, AppError> {
    let Reader {
        pool,
        prefix,
        redactor,
    } = reader;
    let only = match (search.state, search.query.state) {
        (Some(a), Some(b)) if a != b => {
            return Err(AppError::BadRequest(format!(
                "search: `state:{}` and state={} disagree",
                b.as_str(),
                a.as_str()
            )))
        }
        (a, b) => a.or(b),
    };
    let targets = targets(prefix, queues, only);
    let start = search.cursor.unwrap_or(SearchCursor {
        target: 0,
        position: 0,
    });
    if start.target > targets.len() {
        return Err(AppError::BadRequest(
            "cursor is not one this server gave for this search".into(),
        ));
    }
    // How many jobs the search covers, in one round trip.
    let total = if targets.is_empty() {
        0
    } else {
        let pipeline = pool.next().pipeline();
        for target in &targets {
            match target.kind {
                Kind::List => pipeline.llen::<(), _>(target.key.as_str()).await?,
                Kind::Zset => pipeline.zcard::<(), _>(target.key.as_str()).await?,
            }
        }
        run_pipeline(&pipeline, targets.len())
            .await?
            .iter()
            .map(|reply| reply.as_ref().ok().and_then(Value::as_u64).unwrap_or(0))
            .sum()
    };
    let script_query = search.query.to_script(redactor);
    let (found, scanned, at) = scan(
        pool,
        prefix,
        queues,
        &targets,
        &script_query,
        start,
        search.limit,
        search.scan_limit,
    )
    .await?;
    let complete = at.target >= targets.len();
    let jobs = summaries(reader, queues, &targets, &found, search.name_queues).await?;
    Ok(SearchPage {
        jobs,
        scanned,
        total,
        complete,
        next_cursor: (!complete).then(|| at.encode()),
    })
}

/// Walks `targets` from `start` until `limit` matches or `scan_limit` jobs looked at: the
/// matches (target index, id), the jobs looked at, and where the walk stopped.
#[allow(clippy::too_many_arguments)]
async fn scan(
    pool: &Pool,
    prefix: &str,
    queues: &[QueueInfo],
    targets: &[Target],
    script_query: &str,
    start: SearchCursor,
    limit: u64,
    scan_limit: u64,
) -> Result<(Vec<(usize, String)>, u64, SearchCursor), AppError> {
    let mut found: Vec<(usize, String)> = Vec::new();
    let mut scanned = 0_u64;
    let mut at = start;
    while at.target < targets.len() && scanned < scan_limit && (found.len() as u64) < limit {
        let target = &targets[at.target];
        let base = QueueKeys::new(prefix, &queues[target.queue].name);
        let batch = BATCH.min(scan_limit - scanned);
        let wanted = limit - found.len() as u64;
        let reply: Vec<Value> = SEARCH
            .evalsha_with_reload(
                pool.next(),
                vec![target.key.clone()],
                vec![
                    base.base().to_owned(),
                    target.kind.as_str().to_owned(),
                    "desc".to_owned(),
                    at.position.to_string(),
                    batch.to_string(),
                    script_query.to_owned(),
                    wanted.to_string(),
                ],
            )
            .await?;
        let next = reply.first().and_then(Value::as_u64).unwrap_or(at.position);
        let looked = reply.get(1).and_then(Value::as_u64).unwrap_or(0);
        scanned += looked;
        found.extend(
            reply
                .iter()
                .skip(2)
                .filter_map(Value::as_string)
                .map(|id| (at.target, id)),
        );
        if looked < batch && (found.len() as u64) < limit {
            // This key is done (it held fewer jobs than the batch asked for).
            at = SearchCursor {
                target: at.target + 1,
                position: 0,
            };
        } else {
            at.position = next;
        }
    }
    Ok((found, scanned, at))
}

/// Every job of one queue's `state` that `query` matches, up to `max` (a bulk operation's
/// target): the ids, and whether the walk covered everything (`false`: more than `max` match).
pub async fn matching_ids(
    reader: Reader<'_>,
    queue: &QueueInfo,
    query: &Query,
    state: JobState,
    max: u64,
) -> Result<(Vec<String>, bool), AppError> {
    let queues = std::slice::from_ref(queue);
    let targets = targets(reader.prefix, queues, Some(state));
    let script_query = query.to_script(reader.redactor);
    let (found, _, at) = scan(
        reader.pool,
        reader.prefix,
        queues,
        &targets,
        &script_query,
        SearchCursor {
            target: 0,
            position: 0,
        },
        max + 1,
        u64::MAX,
    )
    .await?;
    let complete = at.target >= targets.len() && found.len() as u64 <= max;
    Ok((
        found
            .into_iter()
            .map(|(_, id)| id)
            .take(max as usize)
            .collect(),
        complete,
    ))
}

/// The rows of the matches, read per queue (one call each).
async fn summaries(
    reader: Reader<'_>,
    queues: &[QueueInfo],
    targets: &[Target],
    found: &[(usize, String)],
    name_queues: bool,
) -> Result<Vec<JobSummary>, AppError> {
    let Reader {
        pool,
        prefix,
        redactor,
    } = reader;
    let mut out = Vec::with_capacity(found.len());
    let mut i = 0;
    while i < found.len() {
        let queue = targets[found[i].0].queue;
        let run: Vec<&(usize, String)> = found[i..]
            .iter()
            .take_while(|(target, _)| targets[*target].queue == queue)
            .collect();
        i += run.len();
        let keys = QueueKeys::new(prefix, &queues[queue].name);
        let mut args = vec![keys.base().to_owned(), PREVIEW_BYTES.to_string()];
        args.extend(run.iter().map(|(_, id)| id.clone()));
        let rows: Vec<Value> = SUMMARIES
            .evalsha_with_reload(pool.next(), vec![keys.meta()], args)
            .await?;
        for ((target, _), row) in run.iter().zip(rows) {
            let Value::Array(row) = row else { continue };
            if row.len() < 2 {
                // Gone since it matched.
                continue;
            }
            let mut summary = summary_from_row(
                text(row.first()),
                targets[*target].state,
                None,
                &row[1..],
                redactor,
            );
            if name_queues {
                summary.queue_name = Some(queues[queue].name.as_str().to_owned());
            }
            out.push(summary);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::bullmq::keys::QueueName;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = SearchCursor {
            target: 3,
            position: 17_000,
        };
        assert_eq!(
            SearchCursor::decode(&cursor.encode()).expect("valid"),
            cursor
        );
        for bad in ["", "s", "s1", "sx.1", "s1.-1", "c1.1"] {
            assert!(SearchCursor::decode(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_walk_covers_each_key_once_and_a_state_narrows_it() {
        let queues = vec![QueueInfo {
            name: QueueName::parse("q").expect("valid"),
            version: None,
        }];
        let all = targets("bull", &queues, None);
        assert_eq!(all.len(), 8);
        assert_eq!(all[0].key, "bull:q:active");
        assert_eq!(all[7].key, "bull:q:paused");
        assert_eq!(
            all[7].state,
            JobState::Waiting,
            "getState calls them waiting"
        );
        let waiting: Vec<String> = targets("bull", &queues, Some(JobState::Waiting))
            .into_iter()
            .map(|t| t.key)
            .collect();
        assert_eq!(waiting, ["bull:q:wait", "bull:q:paused"]);
        let failed = targets("bull", &queues, Some(JobState::Failed));
        assert_eq!(failed.len(), 1);
    }
}
