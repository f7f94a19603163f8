//! Failure groups (MODERATOR) and bulk operations (ADMIN): `GET /failures`,
//! `POST /queue/{q}/bulk` (dry run, then run with `expect`), `GET /operations[/{id}]`,
//! `DELETE /operations/{id}`.

use crate::model::failures::{
    allowed_growth, BulkPreview, BulkRequest, BulkStarted, FailuresReply, Operation,
    OperationState, Operations, BULK_SAMPLE,
};
use crate::model::failures::{QueuesAction, QueuesBulkReply, QueuesBulkRequest};
use crate::model::FailuresQuery;
use crate::ssr::auth::Principal;
use crate::ssr::bulk::runner::audit_name;
use crate::ssr::bulk::store::{new_id, NewOp};
use crate::ssr::bulk::target;
use crate::ssr::bullmq::jobs::Reader;
use crate::ssr::bullmq::keys::QueueName;
use crate::ssr::clock::{now_ms_u64, parse_time, rfc3339_u64};
use crate::ssr::error::AppError;
use crate::ssr::failures::{self, FailureKeys};
use crate::ssr::history::keys::HistoryKeys;
use crate::ssr::service::resolve_queue;
use crate::ssr::state::AppState;
use fred::prelude::*;

const DAY: u64 = 86_400_000;

fn failure_keys(state: &AppState) -> FailureKeys {
    FailureKeys::new(&HistoryKeys::new(
        &state.settings.monitor_prefix,
        &state.settings.prefix,
    ))
}

/// `since` as a time: a duration back from `now` (`90m`, `24h`, `7d`), RFC 3339 or epoch ms;
/// at most 30 days back.
pub fn parse_since(text: Option<&str>, now: u64) -> Result<u64, AppError> {
    let bad = || {
        AppError::BadRequest(
            "since must be a duration back from now (`90m`, `24h`, `7d`), RFC 3339 or epoch milliseconds".into(),
        )
    };
    let since = match text.map(str::trim) {
        None | Some("") => now.saturating_sub(DAY),
        Some(text) => {
            let unit = match text.chars().last() {
                Some('m') => Some(60_000),
                Some('h') => Some(3_600_000),
                Some('d') => Some(DAY),
                _ => None,
            };
            match unit {
                Some(unit) => {
                    let count: u64 = text[..text.len() - 1].parse().map_err(|_| bad())?;
                    now.saturating_sub(count.saturating_mul(unit))
                }
                None => parse_time(text).ok_or_else(bad)?,
            }
        }
    };
    if since.saturating_add(30 * DAY) < now {
        return Err(AppError::BadRequest(
            "since reaches at most 30 days back (hour counts are kept that long)".into(),
        ));
    }
    Ok(since.min(now))
}

/// `GET /failures?queue=&since=`.
pub async fn failures(state: &AppState, query: &FailuresQuery) -> Result<FailuresReply, AppError> {
    let now = now_ms_u64();
    let since = parse_since(query.since.as_deref(), now)?;
    let queue = match query.queue.as_deref() {
        Some(name) => Some(resolve_queue(state, name).await?),
        None => None,
    };
    let keys = failure_keys(state);
    let lease = HistoryKeys::new(&state.settings.monitor_prefix, &state.settings.prefix)
        .lease(state.settings.queue_allow_list.as_deref());
    state
        .within(async {
            let mut groups = failures::read::groups(
                &state.redis,
                &keys,
                queue.as_ref().map(|q| q.name.as_str()),
                since,
                now,
            )
            .await?;
            // Only queues this monitor shows (an allow-list hides the others).
            if queue.is_none() && state.settings.queue_allow_list.is_some() {
                let shown = state.registry.queues().await?;
                for group in &mut groups {
                    group
                        .queues
                        .retain(|q| shown.iter().any(|s| s.name.as_str() == q.queue_name));
                    group.count = group.queues.iter().map(|q| q.count).sum();
                    group.retained = group.queues.iter().map(|q| q.retained).sum();
                }
                groups.retain(|g| !g.queues.is_empty());
            }
            let collecting: bool = state.redis.exists(lease).await?;
            Ok(FailuresReply {
                groups,
                since: rfc3339_u64(since - since % 3_600_000),
                collecting,
            })
        })
        .await
}

fn reader(state: &AppState) -> Reader<'_> {
    Reader {
        pool: &state.redis,
        prefix: &state.settings.prefix,
        redactor: &state.settings.redactor,
    }
}

/// What `POST /queue/{q}/bulk` answers: a dry run's preview, or a started operation.
pub enum BulkReply {
    Preview(BulkPreview),
    Started(BulkStarted),
}

/// `POST /queue/{q}/bulk`: a dry run (default) counts the target now; a run (`dryRun: false`)
/// needs the dry run's count as `expect` and is refused when the target grew beyond it by more
/// than [`allowed_growth`].
pub async fn bulk(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    request: &BulkRequest,
) -> Result<BulkReply, AppError> {
    request.check_changes().map_err(AppError::BadRequest)?;
    let queue = resolve_queue(state, queue_name).await?;
    let dry_run = request.dry_run.unwrap_or(true);
    let expect = match (dry_run, request.expect) {
        (true, _) => None,
        (false, Some(expect)) => Some(expect),
        (false, None) => {
            return Err(AppError::BadRequest(
                "a run needs `expect`: the count its dry run answered (send the same request with dryRun: true first)".into(),
            ))
        }
    };
    let operations = &state.operations;
    let resolved = state
        .within(target::resolve(
            &operations.store,
            reader(state),
            &failure_keys(state),
            &queue,
            request.action,
            &request.target,
        ))
        .await?;
    let count = resolved.ids.len() as u64;
    let Some(expect) = expect else {
        return Ok(BulkReply::Preview(BulkPreview {
            count,
            sample: resolved.ids.iter().take(BULK_SAMPLE).cloned().collect(),
            max_accepted: count + allowed_growth(count),
        }));
    };
    if count > expect + allowed_growth(expect) {
        return Err(AppError::Conflict(format!(
            "the target holds {count} jobs now, more than the {expect} expected (at most {} accepted); run a dry run again",
            expect + allowed_growth(expect)
        )));
    }
    if count == 0 {
        return Err(AppError::Conflict(
            "the target holds no job the action applies to now; nothing to do".into(),
        ));
    }
    let id = new_id();
    let changes = request
        .changes
        .as_ref()
        .map(|changes| serde_json::to_string(changes).unwrap_or_default());
    let op = NewOp {
        id: &id,
        action: request.action,
        source: &resolved.source,
        by: &principal.subject,
        role: principal.role.as_str(),
        target: &resolved.description,
        total: count,
        changes: changes.as_deref(),
    };
    state.gate.check().await?;
    operations.start(&queue, &op, &resolved.ids).await?;
    state.reads.forget().await;
    state.snapshots.clear();
    let started = crate::ssr::audit::Action {
        principal: principal.clone(),
        action: audit_name(request.action),
        queue: queue.name.as_str().to_owned(),
        job_id: None,
        params: serde_json::json!({
            "operationId": id,
            "target": resolved.description,
            "expect": expect,
            "changes": request.changes.as_ref().map(|c| c.summary()),
        }),
        result: serde_json::json!({"total": count, "state": "running"}),
    };
    crate::ssr::audit::record(&state.redis, &state.settings.monitor_prefix, started).await;
    Ok(BulkReply::Started(BulkStarted {
        operation_id: id,
        total: count,
    }))
}

/// `POST /queues/bulk`: pause or resume every queue this monitor shows that is not already so.
/// A dry run names them; the run needs their number as `expect` (refused when more queues
/// would change now than that, +10 %) and acts queue by queue, each audited as a pause/resume.
pub async fn queues_bulk(
    state: &AppState,
    principal: &Principal,
    request: &QueuesBulkRequest,
) -> Result<QueuesBulkReply, AppError> {
    let pause = request.action == QueuesAction::Pause;
    let dry_run = request.dry_run.unwrap_or(true);
    let summaries = state
        .within(async {
            let queues = state.registry.queues().await?;
            crate::ssr::bullmq::counts::read_summaries(
                &state.redis,
                &state.settings.prefix,
                &queues,
            )
            .await
        })
        .await?;
    let mut names: Vec<String> = summaries
        .into_iter()
        .filter(|q| q.paused != pause)
        .map(|q| q.queue_name)
        .collect();
    names.sort();
    let count = names.len() as u64;
    if dry_run {
        return Ok(QueuesBulkReply {
            count,
            queues: names,
            dry_run: true,
        });
    }
    let expect = request.expect.ok_or_else(|| {
        AppError::BadRequest(
            "a run needs `expect`: the count its dry run answered (send dryRun: true first)".into(),
        )
    })?;
    if count > expect + allowed_growth(expect) {
        return Err(AppError::Conflict(format!(
            "{count} queues would change now, more than the {expect} expected; run a dry run again"
        )));
    }
    let mut changed = Vec::with_capacity(names.len());
    for name in names {
        let reply =
            crate::ssr::service::control::set_paused(state, principal, &name, pause).await?;
        if reply.changed {
            changed.push(name);
        }
    }
    Ok(QueuesBulkReply {
        count: changed.len() as u64,
        queues: changed,
        dry_run: false,
    })
}

fn check_id(id: &str) -> Result<(), AppError> {
    if id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(AppError::BadRequest(
            "an operation id is 16 hex digits, as POST /queue/{q}/bulk answered".into(),
        ))
    }
}

/// The operation and its queue; 404 when unknown (or expired).
async fn find(
    state: &AppState,
    id: &str,
) -> Result<(crate::ssr::bullmq::discovery::QueueInfo, Operation), AppError> {
    check_id(id)?;
    let missing = || AppError::NotFound(format!("no operation `{id}`"));
    let store = &state.operations.store;
    let queue_name = state
        .within(store.queue_of(id))
        .await?
        .ok_or_else(missing)?;
    let queue = state
        .within(
            state
                .registry
                .find(&QueueName::parse(&queue_name).map_err(|_| missing())?),
        )
        .await?
        .ok_or_else(missing)?;
    let op = state
        .within(store.read(&queue, id))
        .await?
        .ok_or_else(missing)?;
    Ok((queue, op))
}

/// `GET /operations/{id}`.
pub async fn operation(state: &AppState, id: &str) -> Result<Operation, AppError> {
    Ok(find(state, id).await?.1)
}

/// `GET /operations`: those not ended, then the latest ended (newest first).
pub async fn operations(state: &AppState) -> Result<Operations, AppError> {
    let store = &state.operations.store;
    let (running, recent) = state
        .within(async { Ok((store.running().await?, store.recent().await?)) })
        .await?;
    let mut out = Vec::new();
    for id in running.iter().chain(recent.iter().take(20)) {
        if let Ok((_, op)) = find(state, id).await {
            if !out.iter().any(|o: &Operation| o.id == op.id) {
                out.push(op);
            }
        }
    }
    out.sort_by(|a, b| {
        (a.state != OperationState::Running)
            .cmp(&(b.state != OperationState::Running))
            .then(b.created_at.cmp(&a.created_at))
    });
    Ok(Operations { operations: out })
}

/// `DELETE /operations/{id}`: stops it after the batch running now (its jobs acted on so far
/// stay so); 409 when it has ended already.
pub async fn cancel(
    state: &AppState,
    principal: &Principal,
    id: &str,
) -> Result<Operation, AppError> {
    let (queue, op) = find(state, id).await?;
    if op.state != OperationState::Running {
        return Err(AppError::Conflict(format!(
            "operation `{id}` has ended ({}); nothing to cancel",
            op.state.as_str()
        )));
    }
    let operations = &state.operations;
    let ended = state
        .within(
            operations
                .store
                .finish(&queue, id, OperationState::Cancelled, "", ""),
        )
        .await?;
    let (_, op) = find(state, id).await?;
    if !ended {
        return Err(AppError::Conflict(format!(
            "operation `{id}` has ended ({}); nothing to cancel",
            op.state.as_str()
        )));
    }
    let mut record = op.clone();
    record.by = principal.subject.clone();
    operations
        .audit(&record, principal.role.as_str(), "bulk-cancelled")
        .await;
    let _ = operations.store.retire(&queue, id).await;
    state.reads.forget().await;
    state.snapshots.clear();
    Ok(op)
}
