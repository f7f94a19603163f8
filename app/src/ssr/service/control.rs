//! Control actions (ADMIN): pause, resume, clear, retry and a queue's limits. They all go
//! through [`audited`]:
//!
//! - the action runs on a task of its own, so once started it runs to its end whatever the
//!   client does (a closed tab, a dropped connection, the request's deadline): a clear never
//!   stops part-way because its caller left;
//! - its audit entry is written when the action has ended, with what actually happened (the
//!   reply; the error; how far a clear got; "outcome unknown" when Redis took the command but
//!   its answer was lost), before the caller is answered when Redis takes it at once, and
//!   retried for a while when it does not;
//! - the shared reads are expired, so the next read shows the action's effect.

use crate::model::{
    ClearKind, ClearReply, JobAction, JobActionReply, JobId, LimitsChange, PauseReply, QueueLimits,
    RetryChanges, RetryReply,
};
use crate::ssr::audit;
use crate::ssr::auth::Principal;
use crate::ssr::bullmq::commands::{self, Cleared};
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::bullmq::limits;
use crate::ssr::bullmq::retry::{self, Retried, REPEAT_WINDOW};
use crate::ssr::error::AppError;
use crate::ssr::redis::within;
use crate::ssr::service::resolve_queue;
use crate::ssr::state::AppState;
use serde::Serialize;
use serde_json::{json, Value};
use std::future::Future;
use std::time::Duration;

/// What an action did: the answer for its caller, and what the audit trail records.
pub struct Done<T> {
    result: Result<T, AppError>,
    record: Value,
}

impl<T: Serialize> Done<T> {
    /// The usual record: the reply, or the error's code. An error of Redis after the command
    /// was sent means the action may have happened: the record says "outcome unknown".
    fn of(result: Result<T, AppError>) -> Self {
        let record = match &result {
            Ok(reply) => serde_json::to_value(reply).unwrap_or(Value::Null),
            Err(error @ (AppError::RedisUnavailable(_) | AppError::OutcomeUnknown(_))) => {
                json!({"success": false, "outcome": "unknown", "error": error.to_api_error().error})
            }
            Err(error) => json!({"success": false, "error": error.to_api_error().error}),
        };
        Done { result, record }
    }
}

/// How long the caller waits for an action's outcome.
enum Wait {
    /// Until the action ends (the caller may leave; the action goes on).
    ToTheEnd,
    /// At most this long; then the caller hears "outcome unknown" (with this explanation) and
    /// the action goes on.
    AtMost(Duration, String),
}

/// Runs `work` to its end on a task of its own, expires the shared reads and writes the audit
/// entry (see the module docs). `action` holds everything but the result.
async fn audited<T, W>(
    state: &AppState,
    mut action: audit::Action,
    wait: Wait,
    work: W,
) -> Result<T, AppError>
where
    T: Send + 'static,
    W: Future<Output = Done<T>> + Send + 'static,
{
    let (answer, answered) = tokio::sync::oneshot::channel();
    let state = state.clone();
    let name = action.action;
    tokio::spawn(async move {
        let done = work.await;
        state.reads.forget().await;
        state.snapshots.clear();
        action.result = done.record;
        audit::log(&action);
        let prefix = state.settings.monitor_prefix.clone();
        let written = audit::append(&state.redis, &prefix, &action).await.is_ok();
        let _ = answer.send(done.result);
        if !written {
            audit::record_until_written(&state.redis, &prefix, &action).await;
        }
    });
    let outcome = match wait {
        Wait::ToTheEnd => answered.await.ok(),
        Wait::AtMost(deadline, unknown) => tokio::time::timeout(deadline, answered)
            .await
            .map_err(|_| AppError::OutcomeUnknown(unknown))?
            .ok(),
    };
    outcome.unwrap_or_else(|| {
        Err(AppError::Internal(format!(
            "the {name} task ended without an answer"
        )))
    })
}

/// The queue an action is about (404 when there is none), once Redis is known reachable (else
/// 503 at once: nothing is started), with the action's audit entry, its outcome still to come.
async fn prepare(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    name: &'static str,
    job_id: Option<&JobId>,
    params: Value,
) -> Result<(QueueInfo, audit::Action), AppError> {
    let queue = resolve_queue(state, queue_name).await?;
    state.gate.check().await?;
    let entry = audit::Action {
        principal: principal.clone(),
        action: name,
        queue: queue.name.as_str().to_owned(),
        job_id: job_id.map(|id| id.as_str().to_owned()),
        params,
        result: Value::Null,
    };
    Ok((queue, entry))
}

/// Pauses (`pause = true`) or resumes a queue; idempotent; audited.
pub async fn set_paused(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    pause: bool,
) -> Result<PauseReply, AppError> {
    let name = if pause { "pause" } else { "resume" };
    let (queue, entry) = prepare(state, principal, queue_name, name, None, json!({})).await?;
    let (pool, prefix) = (state.redis.clone(), state.settings.prefix.clone());
    audited(state, entry, Wait::ToTheEnd, async move {
        let changed = if pause {
            commands::pause(&pool, &prefix, &queue).await
        } else {
            commands::resume(&pool, &prefix, &queue).await
        };
        Done::of(changed.map(|changed| PauseReply {
            success: true,
            queue_name: queue.name.as_str().to_owned(),
            paused: pause,
            changed,
        }))
    })
    .await
}

/// Sets or removes a queue's global concurrency and rate limit (`change` validated here too);
/// audited as `limits` with the change and the limits after it.
pub async fn set_limits(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    change: LimitsChange,
) -> Result<QueueLimits, AppError> {
    change.validate().map_err(AppError::BadRequest)?;
    let params = json!({
        "concurrency": change.concurrency,
        "rateLimit": change.rate_limit,
    });
    let (queue, entry) = prepare(state, principal, queue_name, "limits", None, params).await?;
    let (pool, prefix) = (state.redis.clone(), state.settings.prefix.clone());
    audited(state, entry, Wait::ToTheEnd, async move {
        let keys = QueueKeys::new(&prefix, &queue.name);
        let written = limits::write(&pool, &keys, &change).await.and_then(|now| {
            now.ok_or_else(|| AppError::NotFound(format!("no queue named `{}`", queue.name)))
        });
        Done::of(written.map(|(concurrency, rate_limit)| QueueLimits {
            queue_name: queue.name.as_str().to_owned(),
            concurrency,
            rate_limit,
        }))
    })
    .await
}

/// Removes a queue's finished jobs (`kind`: completed, failed or all); audited. Runs in bounded
/// batches, to its end, so it has no overall deadline.
pub async fn clear_queue(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    kind: ClearKind,
) -> Result<ClearReply, AppError> {
    let params = json!({"type": kind.as_str()});
    let (queue, entry) = prepare(state, principal, queue_name, "clear", None, params).await?;
    let (pool, prefix) = (state.redis.clone(), state.settings.prefix.clone());
    audited(state, entry, Wait::ToTheEnd, async move {
        let mut cleared = Cleared::default();
        let result = commands::clear(&pool, &prefix, &queue, kind, &mut cleared).await;
        let reply = |cleared: Cleared| ClearReply {
            success: true,
            queue_name: queue.name.as_str().to_owned(),
            kind: kind.as_str().to_owned(),
            removed: cleared.completed + cleared.failed,
            completed: cleared.completed,
            failed: cleared.failed,
        };
        match result {
            Ok(()) => Done::of(Ok(reply(cleared))),
            Err(error) => {
                // How far it got is part of what happened.
                let mut record = Done::<ClearReply>::of(Err(error.clone())).record;
                record["removedBeforeError"] = json!({
                    "completed": cleared.completed,
                    "failed": cleared.failed,
                });
                let error = match error {
                    AppError::RedisUnavailable(_) => AppError::OutcomeUnknown(format!(
                        "Redis stopped answering part-way: {} jobs were removed before; \
                         clearing again removes the rest",
                        cleared.completed + cleared.failed
                    )),
                    other => other,
                };
                Done {
                    result: Err(error),
                    record,
                }
            }
        }
    })
    .await
}

/// Retries a job with `changes`, once per request (the same request repeated within
/// [`REPEAT_WINDOW`], or the same `idempotency_key`, returns the first one's job); audited.
pub async fn retry_job(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    job_id: &JobId,
    changes: RetryChanges,
    idempotency_key: Option<&str>,
) -> Result<RetryReply, AppError> {
    let fingerprint = retry::fingerprint(job_id, &changes, idempotency_key);
    let mut params = changes.summary();
    if idempotency_key.is_some() {
        params["idempotencyKey"] = true.into();
    }
    let (queue, entry) =
        prepare(state, principal, queue_name, "retry", Some(job_id), params).await?;
    let (pool, prefix) = (state.redis.clone(), state.settings.prefix.clone());
    let deadline = state.settings.redis_timeout;
    let unknown = unconfirmed_retry(&queue, job_id);
    // Long enough for the script's answer and, when it is lost, a look at the request's record.
    let wait = Wait::AtMost(deadline * 2, unknown.clone());
    let job_id = job_id.clone();
    audited(state, entry, wait, async move {
        let made = retry::retry(&pool, &prefix, &queue, &job_id, &changes, &fingerprint).await;
        let made = match made {
            // Redis took the script but its answer was lost (or never came): the request's
            // record says whether the job was made.
            Err(AppError::RedisUnavailable(_)) => {
                match within(
                    deadline,
                    retry::recorded(&pool, &prefix, &queue, &fingerprint),
                )
                .await
                {
                    Ok(Some(retried)) => Ok(retried),
                    _ => {
                        let mut done = Done::of(Err(AppError::OutcomeUnknown(unknown)));
                        done.record["retriedFrom"] =
                            json!({"queue": queue.name.as_str(), "jobId": job_id.as_str()});
                        return done;
                    }
                }
            }
            other => other,
        };
        Done::of(made.map(|retried| reply(&retried)))
    })
    .await
}

/// Retries (in place), promotes or removes one job with BullMQ's own semantics; audited. 409
/// when the job is not in a state the action needs (or a worker holds it), 404 when there is
/// no such job.
pub async fn job_action(
    state: &AppState,
    principal: &Principal,
    queue_name: &str,
    job_id: &JobId,
    action: JobAction,
) -> Result<JobActionReply, AppError> {
    use crate::ssr::bullmq::jobs::actions;
    let (queue, entry) = prepare(
        state,
        principal,
        queue_name,
        action.as_str(),
        Some(job_id),
        json!({}),
    )
    .await?;
    let (pool, prefix) = (state.redis.clone(), state.settings.prefix.clone());
    let job_id = job_id.clone();
    audited(state, entry, Wait::ToTheEnd, async move {
        let moved = match action {
            JobAction::Retry => actions::retry(&pool, &prefix, &queue, &job_id).await,
            JobAction::Promote => actions::promote(&pool, &prefix, &queue, &job_id).await,
            JobAction::Remove => actions::remove(&pool, &prefix, &queue, &job_id).await,
        };
        Done::of(moved.map(|moved| {
            let message = match action {
                JobAction::Remove => format!(
                    "Removed job {job_id} (it was {}), with its children",
                    moved.from.as_str()
                ),
                _ => format!(
                    "Job {job_id} moved from {} to {}",
                    moved.from.as_str(),
                    moved.to.as_str()
                ),
            };
            JobActionReply {
                success: true,
                queue_name: queue.name.as_str().to_owned(),
                job_id: job_id.as_str().to_owned(),
                action,
                from: moved.from,
                to: moved.to,
                message,
            }
        }))
    })
    .await
}

/// What a caller hears when a retry is sent but not confirmed.
fn unconfirmed_retry(queue: &QueueInfo, job_id: &JobId) -> String {
    format!(
        "the retry was sent but Redis did not confirm it in time: a new job may exist (its \
         opts.retriedFrom is {{\"queue\": \"{}\", \"jobId\": \"{job_id}\"}}), and the audit trail \
         records the outcome once known; sending the same retry again within {} minutes \
         creates no second job",
        queue.name,
        REPEAT_WINDOW.as_secs() / 60
    )
}

/// The answer to a retry.
fn reply(retried: &Retried) -> RetryReply {
    let message = if retried.repeated {
        format!(
            "Job already retried with ID {} by the same request; no second job was created",
            retried.new_job_id
        )
    } else {
        format!("Job retried with ID {}", retried.new_job_id)
    };
    RetryReply {
        success: true,
        new_job_id: retried.new_job_id.clone(),
        message,
        original: retried.original.clone(),
        repeated: retried.repeated,
    }
}
