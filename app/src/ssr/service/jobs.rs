//! The job explorer's reads (MODERATOR): pages, searches, a job's detail, whole values, logs
//! and flow, the priority histogram. Each resolves the queue (one small lookup for a name not
//! yet discovered), then does its Redis work under the request deadline. Actions on one job are
//! in `control`.

use crate::model::jobs::{DEFAULT_PAGE, DEFAULT_SCAN, FULL_VALUE_BYTES};
use crate::model::{
    FlowQuery, FlowTree, JobDetail, JobId, JobListQuery, JobLogs, JobState, JobsAnswer, ListOrder,
    LogsQuery, Priorities, SearchPage, SearchQuery,
};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::jobs::detail::no_such_job;
use crate::ssr::bullmq::jobs::page::{Cursor, PageRequest};
use crate::ssr::bullmq::jobs::query::Query;
use crate::ssr::bullmq::jobs::search::{Search, SearchCursor};
use crate::ssr::bullmq::jobs::{detail, flow, page, search, Reader};
use crate::ssr::clock::now_ms;
use crate::ssr::error::AppError;
use crate::ssr::service::resolve_queue;
use crate::ssr::state::AppState;
use serde_json::Value;

fn reader(state: &AppState) -> Reader<'_> {
    Reader {
        pool: &state.redis,
        prefix: &state.settings.prefix,
        redactor: &state.settings.redactor,
    }
}

/// `GET /queue/{q}/jobs`: a page of one state (default `waiting`), or with `search` a search of
/// the queue.
pub async fn list(
    state: &AppState,
    queue_name: &str,
    query: &JobListQuery,
) -> Result<JobsAnswer, AppError> {
    let queue = resolve_queue(state, queue_name).await?;
    let limit = query.limit.map_or(DEFAULT_PAGE, |l| l.0);
    if let Some(text) = &query.search {
        let parsed = Query::parse(text)?;
        let cursor = query
            .cursor
            .as_deref()
            .map(SearchCursor::decode)
            .transpose()?;
        let found = state
            .within(search::search(
                reader(state),
                std::slice::from_ref(&queue),
                Search {
                    query: &parsed,
                    state: query.state,
                    limit,
                    scan_limit: query.scan_limit.map_or(DEFAULT_SCAN, |s| s.0),
                    cursor,
                    name_queues: false,
                },
            ))
            .await?;
        return Ok(JobsAnswer::Search(found));
    }
    let request = PageRequest {
        state: query.state.unwrap_or(JobState::Waiting),
        order: query.order.unwrap_or_default(),
        limit,
        cursor: query.cursor.as_deref().map(Cursor::decode).transpose()?,
    };
    let found = state
        .within(page::page(reader(state), &queue, &request))
        .await?;
    Ok(JobsAnswer::Page(found))
}

/// `GET /jobs?search=`: a search of every queue (by name).
pub async fn search_all(state: &AppState, query: &SearchQuery) -> Result<SearchPage, AppError> {
    let text = query
        .search
        .as_deref()
        .ok_or_else(|| AppError::BadRequest("search is required (e.g. `failed:timeout`)".into()))?;
    let parsed = Query::parse(text)?;
    let cursor = query
        .cursor
        .as_deref()
        .map(SearchCursor::decode)
        .transpose()?;
    state
        .within(async {
            let mut queues: Vec<QueueInfo> = state.registry.queues().await?.to_vec();
            queues.sort_by(|a, b| a.name.cmp(&b.name));
            search::search(
                reader(state),
                &queues,
                Search {
                    query: &parsed,
                    state: query.state,
                    limit: query.limit.map_or(DEFAULT_PAGE, |l| l.0),
                    scan_limit: query.scan_limit.map_or(DEFAULT_SCAN, |s| s.0),
                    cursor,
                    name_queues: true,
                },
            )
            .await
        })
        .await
}

/// `GET /queue/{q}/jobs/{id}`.
pub async fn detail(state: &AppState, queue_name: &str, id: &JobId) -> Result<JobDetail, AppError> {
    let queue = resolve_queue(state, queue_name).await?;
    state
        .within(detail::detail(reader(state), &queue, id, now_ms()))
        .await?
        .ok_or_else(|| no_such_job(&queue, id))
}

/// Which whole value of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobValue {
    Data,
    ReturnValue,
}

/// `GET /queue/{q}/jobs/{id}/data` and `…/returnvalue`: the whole value, up to 8 MiB.
pub async fn value(
    state: &AppState,
    queue_name: &str,
    id: &JobId,
    which: JobValue,
) -> Result<Value, AppError> {
    let queue = resolve_queue(state, queue_name).await?;
    let field = match which {
        JobValue::Data => "data",
        JobValue::ReturnValue => "returnvalue",
    };
    state
        .within(detail::value(
            reader(state),
            &queue,
            id,
            field,
            FULL_VALUE_BYTES,
        ))
        .await?
        .ok_or_else(|| no_such_job(&queue, id))
}

/// `GET /queue/{q}/jobs/{id}/logs?start=&count=&order=`: as BullMQ's `getJobLogs` (default:
/// the first 100 lines, oldest first).
pub async fn logs(
    state: &AppState,
    queue_name: &str,
    id: &JobId,
    query: &LogsQuery,
) -> Result<JobLogs, AppError> {
    let queue = resolve_queue(state, queue_name).await?;
    let start = query.start.map_or(0, |s| s.0);
    let count = query.count.map_or(100, |c| c.0);
    let order = query.order.unwrap_or(ListOrder::Asc);
    state
        .within(detail::logs(reader(state), &queue, id, start, count, order))
        .await?
        .ok_or_else(|| no_such_job(&queue, id))
}

/// `GET /queue/{q}/jobs/{id}/flow?depth=&maxChildren=`: the tree from its root (defaults as
/// BullMQ's `getFlow`: depth 10, 20 children per node).
pub async fn flow(
    state: &AppState,
    queue_name: &str,
    id: &JobId,
    query: &FlowQuery,
) -> Result<FlowTree, AppError> {
    let queue = resolve_queue(state, queue_name).await?;
    let depth = query.depth.map_or(10, |d| u32::try_from(d.0).unwrap_or(10));
    let max_children = query.max_children.map_or(20, |m| m.0);
    state
        .within(flow::flow(
            &state.redis,
            &state.settings.prefix,
            &queue,
            id,
            depth,
            max_children,
        ))
        .await?
        .ok_or_else(|| no_such_job(&queue, id))
}

/// `GET /queue/{q}/priorities`: ready jobs per priority.
pub async fn priorities(state: &AppState, queue_name: &str) -> Result<Priorities, AppError> {
    let queue = resolve_queue(state, queue_name).await?;
    state
        .within(page::priorities(
            &state.redis,
            &state.settings.prefix,
            &queue,
        ))
        .await
}
