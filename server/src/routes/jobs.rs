//! The REST API under `/api/v1/admin/jobs`. Handlers are thin: extract and check the caller's
//! role, call `app::ssr::service`, answer JSON. Errors are `AppError`, i.e. `{error, message}`.

use app::model::{
    AuditPage, ClearReply, History, Metrics, Overview, PauseReply, RetryReply, StuckJob, Trend,
};
use app::ssr::auth::{AtLeastAdmin, AtLeastModerator, Require};
use app::ssr::error::AppError;
use app::ssr::service;
use app::ssr::state::AppState;
use axum::extract::Path;
use axum::extract::{Query, State};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;

/// Routes relative to `/api/v1/admin/jobs`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/queues", get(list_queues))
        .route("/queues/refresh", post(refresh_queues))
        .route("/metrics", get(metrics))
        .route("/trends", get(trends))
        .route("/history", get(history))
        .route("/alerts/stuck", get(stuck_alerts))
        .route("/live", get(super::live::all_queues))
        .route("/queue/{queue_name}/live", get(super::live::one_queue))
        .route("/queue/{queue_name}/pause", patch(pause))
        .route("/queue/{queue_name}/resume", patch(resume))
        .route("/queue/{queue_name}/clear", delete(clear))
        .route("/audit", get(audit))
        .route("/retry/{queue_name}/{job_id}", post(retry))
        .method_not_allowed_fallback(super::api_method_not_allowed)
}

/// `PATCH /queue/{queueName}/pause` (ADMIN): real workers stop taking new jobs.
async fn pause(
    caller: Require<AtLeastAdmin>,
    State(state): State<AppState>,
    Path(queue_name): Path<String>,
) -> Result<Json<PauseReply>, AppError> {
    Ok(Json(
        service::set_paused(&state, &caller.principal, &queue_name, true).await?,
    ))
}

/// `PATCH /queue/{queueName}/resume` (ADMIN): workers take jobs again.
async fn resume(
    caller: Require<AtLeastAdmin>,
    State(state): State<AppState>,
    Path(queue_name): Path<String>,
) -> Result<Json<PauseReply>, AppError> {
    Ok(Json(
        service::set_paused(&state, &caller.principal, &queue_name, false).await?,
    ))
}

/// `DELETE /queue/{queueName}/clear?type=completed|failed|all` (ADMIN): removes finished jobs.
async fn clear(
    caller: Require<AtLeastAdmin>,
    State(state): State<AppState>,
    Path(queue_name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<ClearReply>, AppError> {
    let kind = query.get("type").map(String::as_str);
    Ok(Json(
        service::clear_queue(&state, &caller.principal, &queue_name, kind).await?,
    ))
}

/// `POST /retry/{queueName}/{jobId}` (ADMIN): a new job from the original with the body's
/// changes. The body is read raw so every malformed input gets our own 400 message.
async fn retry(
    caller: Require<AtLeastAdmin>,
    State(state): State<AppState>,
    Path((queue_name, job_id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<RetryReply>, AppError> {
    Ok(Json(
        service::retry_job(&state, &caller.principal, &queue_name, &job_id, &body).await?,
    ))
}

/// `GET /audit?count=50&before=<id>` (ADMIN): the control actions, newest first.
async fn audit(
    _caller: Require<AtLeastAdmin>,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<AuditPage>, AppError> {
    let count = match query.get("count") {
        None => 50,
        Some(text) => text
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=app::ssr::audit::AUDIT_MAX_PAGE).contains(n))
            .ok_or_else(|| AppError::BadRequest("count must be a number from 1 to 500".into()))?,
    };
    let before = query
        .get("before")
        .map(|text| app::ssr::audit::parse_cursor(text))
        .transpose()?;
    let page = app::ssr::audit::page(
        &state.redis,
        &state.settings.monitor_prefix,
        before.as_deref(),
        count,
    )
    .await?;
    Ok(Json(page))
}

/// `GET /metrics` (MODERATOR): counts, success rate and processing rate, per queue and in total.
async fn metrics(
    _caller: Require<AtLeastModerator>,
    State(state): State<AppState>,
) -> Result<Json<Metrics>, AppError> {
    Ok(Json(service::metrics(&state).await?))
}

/// `GET /trends?period=24h|7d|30d` (MODERATOR): what finished inside the period, per queue.
async fn trends(
    _caller: Require<AtLeastModerator>,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<Trend>>, AppError> {
    let period = service::parse_period(query.get("period").map(String::as_str))?;
    Ok(Json(service::trends(&state, period).await?))
}

/// `GET /history?queue=&from=&to=&step=` (MODERATOR): the history collector's series.
async fn history(
    _caller: Require<AtLeastModerator>,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<History>, AppError> {
    let get = |name: &str| query.get(name).map(String::as_str);
    Ok(Json(
        service::history(&state, get("queue"), get("from"), get("to"), get("step")).await?,
    ))
}

/// `GET /alerts/stuck` (MODERATOR): active jobs older than `STUCK_AFTER_MS`, longest first.
async fn stuck_alerts(
    _caller: Require<AtLeastModerator>,
    State(state): State<AppState>,
) -> Result<Json<Vec<StuckJob>>, AppError> {
    Ok(Json(service::stuck_alerts(&state).await?))
}

/// `GET /queues` (MODERATOR): every queue with its counts.
async fn list_queues(
    _caller: Require<AtLeastModerator>,
    State(state): State<AppState>,
) -> Result<Json<Overview>, AppError> {
    Ok(Json(service::overview(&state).await?))
}

/// `POST /queues/refresh` (ADMIN): re-discover queues now instead of at the next interval.
async fn refresh_queues(
    caller: Require<AtLeastAdmin>,
    State(state): State<AppState>,
) -> Result<Json<Value>, AppError> {
    let queues = state.registry.refresh().await?;
    tracing::info!(by = %caller.principal.subject, queues = queues.len(), "queue discovery refreshed on request");
    Ok(Json(json!({
        "success": true,
        "queues": queues.iter().map(|q| q.name.as_str()).collect::<Vec<_>>(),
    })))
}
