//! The REST API under `/api/v1/admin/jobs`. Handlers are thin: extract and check the caller's
//! role, call `app::ssr::service`, answer JSON. Errors are `AppError`, i.e. `{error, message}`.

use app::model::Overview;
use app::ssr::auth::{AtLeastAdmin, AtLeastModerator, Require};
use app::ssr::error::AppError;
use app::ssr::service;
use app::ssr::state::AppState;
use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// Routes relative to `/api/v1/admin/jobs`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/queues", get(list_queues))
        .route("/queues/refresh", post(refresh_queues))
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
