//! Health checks for orchestrators: `/healthz` says the process is up; `/readyz` says whether it
//! can serve, i.e. whether Redis answers.

use app::ssr::error::AppError;
use app::ssr::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::time::Duration;

/// How long `/readyz` waits for Redis' PONG.
const READY_DEADLINE: Duration = Duration::from_secs(1);

/// `/healthz` and `/readyz`; no authentication (they reveal nothing).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(state): State<AppState>) -> Result<Json<Value>, AppError> {
    // Refused connections are known at once; only a silent Redis costs the deadline.
    state.gate.check().await?;
    app::ssr::redis::ping(&state.redis, READY_DEADLINE)
        .await
        .map_err(|reason| {
            AppError::RedisUnavailable(fred::error::Error::new(fred::error::ErrorKind::IO, reason))
        })?;
    Ok(Json(json!({ "status": "ready", "redis": "ok" })))
}
