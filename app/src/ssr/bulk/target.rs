//! The jobs a bulk target holds now: gathered (ids given, a state's members or a search's
//! matches, a failure group's retained members), then, where membership alone does not say
//! it, checked by `lua/check.lua` (a job, in the state, one the action takes, not locked), so
//! a dry run counts exactly what a run would act on at that moment.

use super::store::Store;
use crate::model::failures::{BulkAction, BulkTarget, MAX_BULK_IDS, MAX_BULK_JOBS};
use crate::model::{JobId, JobState};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::jobs::query::Query;
use crate::ssr::bullmq::jobs::{search, state_keys, Kind, Reader};
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::error::AppError;
use crate::ssr::failures::FailureKeys;
use fred::prelude::*;
use std::collections::HashSet;

/// A target resolved: the state each job must still be in when its batch runs ('' when the
/// action alone decides), a description for the audit trail, and the jobs it holds now.
pub struct Resolved {
    pub source: String,
    pub description: String,
    pub ids: Vec<String>,
}

fn too_many() -> AppError {
    AppError::BadRequest(format!(
        "the target holds more than {MAX_BULK_JOBS} jobs; one operation acts on at most that many (narrow it with a search)"
    ))
}

/// The states an action can act on from, for a target naming one.
fn check_state(action: BulkAction, state: JobState) -> Result<(), AppError> {
    let fits = match action {
        BulkAction::Retry | BulkAction::RetryWithChanges => {
            matches!(state, JobState::Failed | JobState::Completed)
        }
        BulkAction::Promote => state == JobState::Delayed,
        BulkAction::Remove => state != JobState::Unknown,
    };
    if fits {
        Ok(())
    } else {
        Err(AppError::BadRequest(format!(
            "action {} does not apply to {} jobs ({})",
            action.as_str(),
            state.as_str(),
            match action {
                BulkAction::Retry | BulkAction::RetryWithChanges => {
                    "a retry takes failed or completed jobs"
                }
                BulkAction::Promote => "promote takes delayed jobs",
                BulkAction::Remove => "remove takes jobs of any state",
            }
        )))
    }
}

/// Every id of a state's keys (at most [`MAX_BULK_JOBS`]).
async fn all_of_state(
    pool: &Pool,
    prefix: &str,
    queue: &QueueInfo,
    state: JobState,
) -> Result<Vec<String>, AppError> {
    let keys = QueueKeys::new(prefix, &queue.name);
    let (kind, state_keys) = state_keys(&keys, queue, state)?;
    let mut ids = Vec::new();
    for key in state_keys {
        let size: u64 = match kind {
            Kind::List => pool.llen(&key).await?,
            Kind::Zset => pool.zcard(&key).await?,
        };
        if ids.len() as u64 + size > MAX_BULK_JOBS {
            return Err(too_many());
        }
        let mut start = 0_i64;
        loop {
            let page: Vec<String> = match kind {
                Kind::List => pool.lrange(&key, start, start + 9_999).await?,
                Kind::Zset => {
                    pool.zrange(&key, start, start + 9_999, None, false, None, false)
                        .await?
                }
            };
            let got = page.len();
            ids.extend(page);
            if got < 10_000 || ids.len() as u64 > MAX_BULK_JOBS {
                break;
            }
            start += 10_000;
        }
    }
    if ids.len() as u64 > MAX_BULK_JOBS {
        return Err(too_many());
    }
    Ok(ids)
}

/// Resolves `target` for `action` on `queue` now.
pub async fn resolve(
    store: &Store,
    reader: Reader<'_>,
    failure_keys: &FailureKeys,
    queue: &QueueInfo,
    action: BulkAction,
    target: &BulkTarget,
) -> Result<Resolved, AppError> {
    let (source, description, gathered) = match target {
        BulkTarget::Ids { ids } => {
            if ids.is_empty() {
                return Err(AppError::BadRequest("target.ids is empty".into()));
            }
            if ids.len() > MAX_BULK_IDS {
                return Err(AppError::BadRequest(format!(
                    "target.ids lists {} jobs; at most {MAX_BULK_IDS} (use a state and a search for more)",
                    ids.len()
                )));
            }
            let mut seen = HashSet::new();
            let mut unique = Vec::with_capacity(ids.len());
            for id in ids {
                let id = JobId::parse(id)
                    .map_err(|why| AppError::BadRequest(format!("target.ids: {why}")))?;
                if seen.insert(id.as_str().to_owned()) {
                    unique.push(id.as_str().to_owned());
                }
            }
            (
                String::new(),
                format!("{} listed jobs", unique.len()),
                unique,
            )
        }
        BulkTarget::State { state, search } => {
            let state = JobState::parse(state)
                .filter(|s| *s != JobState::Unknown)
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "target.state must be one of {} (got `{}`)",
                        JobState::LISTED
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                        state.chars().take(40).collect::<String>()
                    ))
                })?;
            check_state(action, state)?;
            let ids = match search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => all_of_state(reader.pool, reader.prefix, queue, state).await?,
                Some(text) => {
                    let query = Query::parse(text)?;
                    let (ids, complete) =
                        search::matching_ids(reader, queue, &query, state, MAX_BULK_JOBS).await?;
                    if !complete {
                        return Err(too_many());
                    }
                    ids
                }
            };
            let description = match search {
                Some(text) if !text.trim().is_empty() => {
                    format!("{} jobs matching `{}`", state.as_str(), text.trim())
                }
                _ => format!("every {} job", state.as_str()),
            };
            (state.as_str().to_owned(), description, ids)
        }
        BulkTarget::FailureGroup { failure_group } => {
            if failure_group.len() != 16 || !failure_group.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(AppError::BadRequest(
                    "target.failureGroup must be a group id from GET /failures (16 hex digits)"
                        .into(),
                ));
            }
            check_state(action, JobState::Failed)?;
            let ids: Vec<String> = reader
                .pool
                .zrange(
                    failure_keys.members(failure_group, queue.name.as_str()),
                    0,
                    -1,
                    None,
                    false,
                    None,
                    false,
                )
                .await?;
            if ids.len() as u64 > MAX_BULK_JOBS {
                return Err(too_many());
            }
            (
                JobState::Failed.as_str().to_owned(),
                format!("failure group {failure_group}"),
                ids,
            )
        }
    };
    // A state's members read from its own key are in it; retry and promote take every job of
    // the states they allow, so only listed ids, a group's members (they may have left
    // `failed`) and removals (a worker's lock refuses them) are checked one by one.
    let checked = !matches!(target, BulkTarget::State { .. }) || action == BulkAction::Remove;
    let ids = if checked {
        store.acceptable(queue, action, &source, &gathered).await?
    } else {
        gathered
    };
    Ok(Resolved {
        source,
        description,
        ids,
    })
}
