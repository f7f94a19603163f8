//! Server functions used by the dashboard. Each opens with [`access::authorized`], which
//! authenticates the request (session cookie or bearer token) and demands the role declared for
//! it in [`access::SERVER_FN_ROLES`] (the one declaration of who may call what; the server also
//! checks it before a request is even decoded, and the auth tests walk it), then calls the same
//! service code as the REST API. In the browser they are sent by
//! [`crate::client::MonitorClient`], which adds the embedding app's token when there is one.

use crate::error::ApiError;
use crate::model::failures::BulkAnswer;
use crate::model::{
    BulkRequest, ClearKind, ClearReply, FailuresQuery, FailuresReply, FlowQuery, FlowTree, History,
    JobAction, JobActionReply, JobDetail, JobId, JobListQuery, JobLogs, JobsAnswer, LogsQuery,
    Metrics, Operation, Operations, Overview, PauseReply, Period, Priorities, QueueLimits,
    QueueLive, QueueSetup, RetryChanges, RetryReply, SearchPage, SearchQuery, StuckReport, Trend,
    Viewer,
};
use leptos::prelude::*;

/// Every queue with its counts.
#[server(name = GetOverview, prefix = "/api/fn", endpoint = "overview", client = crate::client::MonitorClient)]
pub async fn get_overview() -> Result<Overview, ApiError> {
    let caller = access::authorized::<GetOverview>().await?;
    access::reply(crate::ssr::service::reads::overview(&caller.state).await)
}

/// Who the current session belongs to.
#[server(name = GetViewer, prefix = "/api/fn", endpoint = "viewer", client = crate::client::MonitorClient)]
pub async fn get_viewer() -> Result<Viewer, ApiError> {
    let caller = access::authorized::<GetViewer>().await?;
    Ok(Viewer {
        subject: caller.principal.subject,
        role: caller.principal.role,
        expires_at: caller.principal.expires_at,
    })
}

/// Counts, success rates and processing rates.
#[server(name = GetMetrics, prefix = "/api/fn", endpoint = "metrics", client = crate::client::MonitorClient)]
pub async fn get_metrics() -> Result<Metrics, ApiError> {
    let caller = access::authorized::<GetMetrics>().await?;
    access::reply(crate::ssr::service::reads::metrics(&caller.state).await)
}

/// Trends over `period` (absent: 24 h).
#[server(name = GetTrends, prefix = "/api/fn", endpoint = "trends", client = crate::client::MonitorClient)]
pub async fn get_trends(#[server(default)] period: Period) -> Result<Vec<Trend>, ApiError> {
    let caller = access::authorized::<GetTrends>().await?;
    access::reply(crate::ssr::service::reads::trends(&caller.state, period).await)
}

/// The history collector's series over `period` for one queue, or all queues summed when
/// `queue` is empty: hourly for 24 h and 7 d, daily for 30 d.
#[server(name = GetHistory, prefix = "/api/fn", endpoint = "history", client = crate::client::MonitorClient)]
pub async fn get_history(
    #[server(default)] queue: String,
    #[server(default)] period: Period,
) -> Result<History, ApiError> {
    let caller = access::authorized::<GetHistory>().await?;
    access::reply(
        crate::ssr::service::history::history_over(
            &caller.state,
            &caller.principal,
            Some(&queue),
            period,
        )
        .await,
    )
}

/// Stuck active jobs, longest stuck first (at most the default limit), with their total.
#[server(name = GetStuckAlerts, prefix = "/api/fn", endpoint = "stuck", client = crate::client::MonitorClient)]
pub async fn get_stuck_alerts() -> Result<StuckReport, ApiError> {
    let caller = access::authorized::<GetStuckAlerts>().await?;
    access::reply(crate::ssr::service::reads::stuck_alerts(&caller.state, None).await)
}

/// One queue's counts and active jobs, as its live stream sends them (the polling fallback of
/// the queue detail).
#[server(name = GetQueueLive, prefix = "/api/fn", endpoint = "queue_live", client = crate::client::MonitorClient)]
pub async fn get_queue_live(#[server(default)] queue_name: String) -> Result<QueueLive, ApiError> {
    use crate::ssr::error::AppError;
    use crate::ssr::service::{reads, resolve_queue};
    let caller = access::authorized::<GetQueueLive>().await?;
    let state = &caller.state;
    access::reply(
        async {
            let queue = resolve_queue(state, &queue_name).await?;
            reads::queue_live(state, &queue)
                .await?
                .ok_or_else(|| AppError::NotFound(format!("queue `{queue_name}` is gone")))
        }
        .await,
    )
}

/// Pauses (`pause = true`) or resumes a queue.
#[server(name = SetQueuePaused, prefix = "/api/fn", endpoint = "pause", client = crate::client::MonitorClient)]
pub async fn set_queue_paused(
    #[server(default)] queue_name: String,
    #[server(default)] pause: bool,
) -> Result<PauseReply, ApiError> {
    let caller = access::authorized::<SetQueuePaused>().await?;
    access::reply(
        crate::ssr::service::control::set_paused(
            &caller.state,
            &caller.principal,
            &queue_name,
            pause,
        )
        .await,
    )
}

/// A queue's workers, its soonest schedulers and its limits, for the queue page.
#[server(name = GetQueueSetup, prefix = "/api/fn", endpoint = "queue_setup", client = crate::client::MonitorClient)]
pub async fn get_queue_setup(
    #[server(default)] queue_name: String,
) -> Result<QueueSetup, ApiError> {
    use crate::ssr::service::{queue_limits, schedulers, workers};
    let caller = access::authorized::<GetQueueSetup>().await?;
    let state = &caller.state;
    access::reply(
        async {
            let (workers, schedulers, limits) = futures::try_join!(
                workers::queue_workers(state, &queue_name),
                schedulers::queue_schedulers(state, &queue_name, None),
                queue_limits::queue_limits(state, &queue_name),
            )?;
            Ok(QueueSetup {
                workers,
                schedulers,
                limits,
            })
        }
        .await,
    )
}

/// Sets a queue's global concurrency and rate limit; `None` removes one (the rate limit needs
/// both `rate_max` and `rate_duration`, or neither).
#[server(name = SetQueueLimits, prefix = "/api/fn", endpoint = "queue_limits", client = crate::client::MonitorClient)]
pub async fn set_queue_limits(
    #[server(default)] queue_name: String,
    #[server(default)] concurrency: Option<u64>,
    #[server(default)] rate_max: Option<u64>,
    #[server(default)] rate_duration: Option<u64>,
) -> Result<QueueLimits, ApiError> {
    use crate::model::{LimitsChange, RateLimit};
    let caller = access::authorized::<SetQueueLimits>().await?;
    let rate_limit = match (rate_max, rate_duration) {
        (Some(max), Some(duration)) => Some(RateLimit { max, duration }),
        (None, None) => None,
        _ => {
            return access::reply(Err(crate::ssr::error::AppError::BadRequest(
                "a rate limit needs both its maximum and its duration".into(),
            )))
        }
    };
    let change = LimitsChange {
        concurrency: Some(concurrency),
        rate_limit: Some(rate_limit),
    };
    access::reply(
        crate::ssr::service::control::set_limits(
            &caller.state,
            &caller.principal,
            &queue_name,
            change,
        )
        .await,
    )
}

/// Removes a queue's finished jobs (`kind`: completed, failed or all).
#[server(name = ClearQueue, prefix = "/api/fn", endpoint = "clear", client = crate::client::MonitorClient)]
pub async fn clear_queue(
    #[server(default)] queue_name: String,
    #[server(default)] kind: ClearKind,
) -> Result<ClearReply, ApiError> {
    let caller = access::authorized::<ClearQueue>().await?;
    access::reply(
        crate::ssr::service::control::clear_queue(
            &caller.state,
            &caller.principal,
            &queue_name,
            kind,
        )
        .await,
    )
}

/// Retries a job with changes (the same JSON object the REST route takes, checked the same
/// way).
#[server(name = RetryJob, prefix = "/api/fn", endpoint = "retry", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn retry_job(
    queue_name: String,
    job_id: JobId,
    #[server(default)] changes: RetryChanges,
) -> Result<RetryReply, ApiError> {
    let caller = access::authorized::<RetryJob>().await?;
    access::reply(
        crate::ssr::service::control::retry_job(
            &caller.state,
            &caller.principal,
            &queue_name,
            &job_id,
            changes,
            None,
        )
        .await,
    )
}

/// A page of a queue's jobs in one state, or (with `query.search`) a search of the queue.
#[server(name = ListJobs, prefix = "/api/fn", endpoint = "jobs", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn list_jobs(queue_name: String, query: JobListQuery) -> Result<JobsAnswer, ApiError> {
    let caller = access::authorized::<ListJobs>().await?;
    access::reply(crate::ssr::service::jobs::list(&caller.state, &queue_name, &query).await)
}

/// A search of every queue.
#[server(name = SearchJobs, prefix = "/api/fn", endpoint = "search", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn search_jobs(query: SearchQuery) -> Result<SearchPage, ApiError> {
    let caller = access::authorized::<SearchJobs>().await?;
    access::reply(crate::ssr::service::jobs::search_all(&caller.state, &query).await)
}

/// One job's detail.
#[server(name = GetJob, prefix = "/api/fn", endpoint = "job", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn get_job(queue_name: String, job_id: JobId) -> Result<JobDetail, ApiError> {
    let caller = access::authorized::<GetJob>().await?;
    access::reply(crate::ssr::service::jobs::detail(&caller.state, &queue_name, &job_id).await)
}

/// A page of one job's logs.
#[server(name = GetJobLogs, prefix = "/api/fn", endpoint = "job_logs", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn get_job_logs(
    queue_name: String,
    job_id: JobId,
    query: LogsQuery,
) -> Result<JobLogs, ApiError> {
    let caller = access::authorized::<GetJobLogs>().await?;
    access::reply(
        crate::ssr::service::jobs::logs(&caller.state, &queue_name, &job_id, &query).await,
    )
}

/// The flow one job belongs to.
#[server(name = GetJobFlow, prefix = "/api/fn", endpoint = "job_flow", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn get_job_flow(
    queue_name: String,
    job_id: JobId,
    query: FlowQuery,
) -> Result<FlowTree, ApiError> {
    let caller = access::authorized::<GetJobFlow>().await?;
    access::reply(
        crate::ssr::service::jobs::flow(&caller.state, &queue_name, &job_id, &query).await,
    )
}

/// A queue's ready jobs per priority.
#[server(name = GetPriorities, prefix = "/api/fn", endpoint = "priorities", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn get_priorities(queue_name: String) -> Result<Priorities, ApiError> {
    let caller = access::authorized::<GetPriorities>().await?;
    access::reply(crate::ssr::service::jobs::priorities(&caller.state, &queue_name).await)
}

/// Retries (in place), promotes or removes one job.
#[server(name = ActOnJob, prefix = "/api/fn", endpoint = "job_action", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn act_on_job(
    queue_name: String,
    job_id: JobId,
    action: JobAction,
) -> Result<JobActionReply, ApiError> {
    let caller = access::authorized::<ActOnJob>().await?;
    access::reply(
        crate::ssr::service::control::job_action(
            &caller.state,
            &caller.principal,
            &queue_name,
            &job_id,
            action,
        )
        .await,
    )
}

/// The failure groups (`since`: as `GET /failures`; empty = the last 24 h).
#[server(name = GetFailures, prefix = "/api/fn", endpoint = "failures", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn get_failures(query: FailuresQuery) -> Result<FailuresReply, ApiError> {
    let caller = access::authorized::<GetFailures>().await?;
    access::reply(crate::ssr::service::bulk::failures(&caller.state, &query).await)
}

/// A bulk action's dry run (`dry_run`) or its run (with the dry run's count as `expect`).
#[server(name = StartBulk, prefix = "/api/fn", endpoint = "bulk", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn start_bulk(queue_name: String, request: BulkRequest) -> Result<BulkAnswer, ApiError> {
    use crate::ssr::service::bulk::{bulk, BulkReply};
    let caller = access::authorized::<StartBulk>().await?;
    access::reply(
        bulk(&caller.state, &caller.principal, &queue_name, &request)
            .await
            .map(|reply| match reply {
                BulkReply::Preview(preview) => BulkAnswer::Preview(preview),
                BulkReply::Started(started) => BulkAnswer::Started(started),
            }),
    )
}

/// Where the operations are: those running, then the latest ended.
#[server(name = GetOperations, prefix = "/api/fn", endpoint = "operations", client = crate::client::MonitorClient)]
pub async fn get_operations() -> Result<Operations, ApiError> {
    let caller = access::authorized::<GetOperations>().await?;
    access::reply(crate::ssr::service::bulk::operations(&caller.state).await)
}

/// Cancels an operation after its current batch.
#[server(name = CancelOperation, prefix = "/api/fn", endpoint = "cancel_operation", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn cancel_operation(operation_id: String) -> Result<Operation, ApiError> {
    let caller = access::authorized::<CancelOperation>().await?;
    access::reply(
        crate::ssr::service::bulk::cancel(&caller.state, &caller.principal, &operation_id).await,
    )
}

/// The alerts: active and recently resolved (the alerts panel).
#[server(name = GetAlerts, prefix = "/api/fn", endpoint = "alerts", client = crate::client::MonitorClient)]
pub async fn get_alerts() -> Result<crate::model::alerts::AlertsReply, ApiError> {
    let caller = access::authorized::<GetAlerts>().await?;
    access::reply(crate::ssr::service::alerts::alerts(&caller.state).await)
}

/// How many alerts fire (the header's count): small, so the first paint carries little.
#[server(name = GetFiring, prefix = "/api/fn", endpoint = "alerts_firing", client = crate::client::MonitorClient)]
pub async fn get_firing() -> Result<crate::model::alerts::Firing, ApiError> {
    let caller = access::authorized::<GetFiring>().await?;
    access::reply(crate::ssr::service::alerts::firing(&caller.state).await)
}

/// Silences the alerts whose labels hold every matcher, from now for `duration`.
#[server(name = AddSilence, prefix = "/api/fn", endpoint = "add_silence", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn add_silence(
    request: crate::model::alerts::SilenceRequest,
) -> Result<crate::model::alerts::Silence, ApiError> {
    let caller = access::authorized::<AddSilence>().await?;
    access::reply(
        crate::ssr::service::alerts::add_silence(&caller.state, &caller.principal, &request).await,
    )
}

/// Ends a silence now.
#[server(name = EndSilence, prefix = "/api/fn", endpoint = "end_silence", input = leptos::server_fn::codec::Json, client = crate::client::MonitorClient)]
pub async fn end_silence(silence_id: String) -> Result<crate::model::alerts::Silence, ApiError> {
    let caller = access::authorized::<EndSilence>().await?;
    access::reply(
        crate::ssr::service::alerts::end_silence(&caller.state, &caller.principal, &silence_id)
            .await,
    )
}

/// Who may call which server function, and the opening every server function starts with.
#[cfg(feature = "ssr")]
pub mod access {
    use super::*;
    use crate::role::Role;
    use crate::ssr::auth::{authorize, Principal};
    use crate::ssr::error::AppError;
    use crate::ssr::state::{respond_with_error, AppState};
    use leptos::server_fn::ServerFn;

    /// The minimum role of every server function, by path: the one declaration, read by
    /// [`authorized`], by the server's guard in front of `/api/fn/` (before a request is
    /// decoded), and by the auth tests. A server function missing here answers 403 to all.
    pub const SERVER_FN_ROLES: &[(&str, Role)] = &[
        (<GetOverview as ServerFn>::PATH, Role::Moderator),
        (<GetViewer as ServerFn>::PATH, Role::Moderator),
        (<GetMetrics as ServerFn>::PATH, Role::Moderator),
        (<GetTrends as ServerFn>::PATH, Role::Moderator),
        (<GetHistory as ServerFn>::PATH, Role::Moderator),
        (<GetStuckAlerts as ServerFn>::PATH, Role::Moderator),
        (<GetQueueLive as ServerFn>::PATH, Role::Moderator),
        (<SetQueuePaused as ServerFn>::PATH, Role::Admin),
        (<ClearQueue as ServerFn>::PATH, Role::Admin),
        (<GetQueueSetup as ServerFn>::PATH, Role::Moderator),
        (<SetQueueLimits as ServerFn>::PATH, Role::Admin),
        (<RetryJob as ServerFn>::PATH, Role::Admin),
        (<ListJobs as ServerFn>::PATH, Role::Moderator),
        (<SearchJobs as ServerFn>::PATH, Role::Moderator),
        (<GetJob as ServerFn>::PATH, Role::Moderator),
        (<GetJobLogs as ServerFn>::PATH, Role::Moderator),
        (<GetJobFlow as ServerFn>::PATH, Role::Moderator),
        (<GetPriorities as ServerFn>::PATH, Role::Moderator),
        (<ActOnJob as ServerFn>::PATH, Role::Admin),
        (<GetFailures as ServerFn>::PATH, Role::Moderator),
        (<StartBulk as ServerFn>::PATH, Role::Admin),
        (<GetOperations as ServerFn>::PATH, Role::Admin),
        (<CancelOperation as ServerFn>::PATH, Role::Admin),
        (<GetAlerts as ServerFn>::PATH, Role::Moderator),
        (<GetFiring as ServerFn>::PATH, Role::Moderator),
        (<AddSilence as ServerFn>::PATH, Role::Admin),
        (<EndSilence as ServerFn>::PATH, Role::Admin),
    ];

    /// The minimum role of the server function at `path`, if it is declared.
    pub fn server_fn_role(path: &str) -> Option<Role> {
        SERVER_FN_ROLES
            .iter()
            .find(|(declared, _)| *declared == path)
            .map(|(_, role)| *role)
    }

    /// An authorized call: the state to serve it with and who makes it.
    pub struct Caller {
        pub state: AppState,
        pub principal: Principal,
    }

    /// Authenticates the current request and demands the role declared for `F` (401/403
    /// otherwise, with the status set on the response).
    pub async fn authorized<F: ServerFn>() -> Result<Caller, ApiError> {
        let result = async {
            let state = AppState::from_context()?;
            let min = server_fn_role(F::PATH).ok_or(AppError::Forbidden {
                required: Role::SuperAdmin,
            })?;
            let headers: axum::http::HeaderMap = leptos_axum::extract()
                .await
                .map_err(|e| AppError::Internal(format!("could not read request headers: {e}")))?;
            let principal = authorize(&state.auth, state.settings.session_cookie(), &headers, min)?;
            Ok(Caller { state, principal })
        }
        .await;
        result.map_err(respond_with_error)
    }

    /// A service result as a server function's reply (the status set from the error).
    pub fn reply<T>(result: Result<T, AppError>) -> Result<T, ApiError> {
        result.map_err(respond_with_error)
    }
}
