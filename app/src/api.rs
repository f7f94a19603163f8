//! Server functions used by the dashboard. Each authenticates the request (session cookie or
//! bearer token), checks the minimum role, and calls the same service code as the REST API.
//! In the browser they are sent by [`crate::client::MonitorClient`], which adds the embedding
//! app's token when there is one.

use crate::error::ApiError;
use crate::model::{
    ClearReply, History, Metrics, Overview, PauseReply, QueueLive, RetryReply, StuckJob, Trend,
    Viewer,
};
use leptos::prelude::*;

/// Every queue with its counts. Minimum role: MODERATOR.
#[server(name = GetOverview, prefix = "/api/fn", endpoint = "overview", client = crate::client::MonitorClient)]
pub async fn get_overview() -> Result<Overview, ApiError> {
    use crate::role::Role;
    use crate::ssr::{auth::require_role, service, state::respond_with_error, state::AppState};
    require_role(Role::Moderator).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    service::overview(&state).await.map_err(respond_with_error)
}

/// Who the current session belongs to. Minimum role: MODERATOR.
#[server(name = GetViewer, prefix = "/api/fn", endpoint = "viewer", client = crate::client::MonitorClient)]
pub async fn get_viewer() -> Result<Viewer, ApiError> {
    use crate::role::Role;
    use crate::ssr::auth::require_role;
    let principal = require_role(Role::Moderator).await?;
    Ok(Viewer {
        subject: principal.subject,
        role: principal.role,
        expires_at: principal.expires_at,
    })
}

/// Counts, success rates and processing rates. Minimum role: MODERATOR.
#[server(name = GetMetrics, prefix = "/api/fn", endpoint = "metrics", client = crate::client::MonitorClient)]
pub async fn get_metrics() -> Result<Metrics, ApiError> {
    use crate::role::Role;
    use crate::ssr::{auth::require_role, service, state::respond_with_error, state::AppState};
    require_role(Role::Moderator).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    service::metrics(&state).await.map_err(respond_with_error)
}

/// Trends over `period` (`24h`, `7d` or `30d`; empty means `24h`). Minimum role: MODERATOR.
#[server(name = GetTrends, prefix = "/api/fn", endpoint = "trends", client = crate::client::MonitorClient)]
pub async fn get_trends(#[server(default)] period: String) -> Result<Vec<Trend>, ApiError> {
    use crate::role::Role;
    use crate::ssr::{auth::require_role, service, state::respond_with_error, state::AppState};
    require_role(Role::Moderator).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    let period = service::parse_period(Some(&period)).map_err(respond_with_error)?;
    service::trends(&state, period)
        .await
        .map_err(respond_with_error)
}

/// The history collector's series over `period` (`24h`, `7d` or `30d`) for one queue, or all
/// queues summed when `queue` is empty: hourly for 24 h and 7 d, daily for 30 d.
/// Minimum role: MODERATOR.
#[server(name = GetHistory, prefix = "/api/fn", endpoint = "history", client = crate::client::MonitorClient)]
pub async fn get_history(
    #[server(default)] queue: String,
    #[server(default)] period: String,
) -> Result<History, ApiError> {
    use crate::role::Role;
    use crate::ssr::{auth::require_role, service, state::respond_with_error, state::AppState};
    require_role(Role::Moderator).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    let period = service::parse_period(Some(&period)).map_err(respond_with_error)?;
    service::history_over(&state, Some(&queue), period)
        .await
        .map_err(respond_with_error)
}

/// Stuck active jobs, longest first. Minimum role: MODERATOR.
#[server(name = GetStuckAlerts, prefix = "/api/fn", endpoint = "stuck", client = crate::client::MonitorClient)]
pub async fn get_stuck_alerts() -> Result<Vec<StuckJob>, ApiError> {
    use crate::role::Role;
    use crate::ssr::{auth::require_role, service, state::respond_with_error, state::AppState};
    require_role(Role::Moderator).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    service::stuck_alerts(&state)
        .await
        .map_err(respond_with_error)
}

/// One queue's counts and active jobs, as its live stream sends them (the polling fallback of
/// the queue detail). Minimum role: MODERATOR.
#[server(name = GetQueueLive, prefix = "/api/fn", endpoint = "queue_live", client = crate::client::MonitorClient)]
pub async fn get_queue_live(#[server(default)] queue_name: String) -> Result<QueueLive, ApiError> {
    use crate::role::Role;
    use crate::ssr::{
        auth::require_role, error::AppError, service, state::respond_with_error, state::AppState,
    };
    require_role(Role::Moderator).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    let queue = service::resolve_queue(&state, &queue_name)
        .await
        .map_err(respond_with_error)?;
    service::queue_live(&state, &queue)
        .await
        .and_then(|live| {
            live.ok_or_else(|| AppError::NotFound(format!("queue `{queue_name}` is gone")))
        })
        .map_err(respond_with_error)
}

/// Pauses (`pause = true`) or resumes a queue. Minimum role: ADMIN.
#[server(name = SetQueuePaused, prefix = "/api/fn", endpoint = "pause", client = crate::client::MonitorClient)]
pub async fn set_queue_paused(
    #[server(default)] queue_name: String,
    #[server(default)] pause: bool,
) -> Result<PauseReply, ApiError> {
    use crate::role::Role;
    use crate::ssr::{auth::require_role, service, state::respond_with_error, state::AppState};
    let principal = require_role(Role::Admin).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    service::set_paused(&state, &principal, &queue_name, pause)
        .await
        .map_err(respond_with_error)
}

/// Removes a queue's finished jobs (`kind`: completed, failed or all). Minimum role: ADMIN.
#[server(name = ClearQueue, prefix = "/api/fn", endpoint = "clear", client = crate::client::MonitorClient)]
pub async fn clear_queue(
    #[server(default)] queue_name: String,
    #[server(default)] kind: String,
) -> Result<ClearReply, ApiError> {
    use crate::role::Role;
    use crate::ssr::{auth::require_role, service, state::respond_with_error, state::AppState};
    let principal = require_role(Role::Admin).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    service::clear_queue(&state, &principal, &queue_name, Some(&kind))
        .await
        .map_err(respond_with_error)
}

/// Retries a job with changes; `request` is the same JSON object the REST route takes (empty for
/// none). Minimum role: ADMIN.
#[server(name = RetryJob, prefix = "/api/fn", endpoint = "retry", client = crate::client::MonitorClient)]
pub async fn retry_job(
    #[server(default)] queue_name: String,
    #[server(default)] job_id: String,
    #[server(default)] request: String,
) -> Result<RetryReply, ApiError> {
    use crate::role::Role;
    use crate::ssr::{auth::require_role, service, state::respond_with_error, state::AppState};
    let principal = require_role(Role::Admin).await?;
    let state = AppState::from_context().map_err(respond_with_error)?;
    service::retry_job(&state, &principal, &queue_name, &job_id, request.as_bytes())
        .await
        .map_err(respond_with_error)
}
