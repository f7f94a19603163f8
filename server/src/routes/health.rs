//! Health checks for orchestrators: `/healthz` says the process is up; `/readyz` says whether it
//! can serve, i.e. whether Redis answers.

use app::error::ApiError;
use app::ssr::error::AppError;
use app::ssr::state::AppState;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use std::time::Duration;

/// How long `/readyz` waits for Redis' PONG.
const READY_DEADLINE: Duration = Duration::from_secs(1);

/// `/healthz` and `/readyz`; no authentication (they reveal nothing).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// What the health checks answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok` (`/healthz`) or `ready` (`/readyz`).
    status: &'static str,
    /// `ok` when Redis answered (`/readyz` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<&'static str>,
}

/// `GET /healthz`: the process is up (it reads nothing).
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses((status = 200, description = "The process is up", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        redis: None,
    })
}

/// `GET /readyz`: whether the monitor can serve, i.e. whether Redis answers a `PING` within 1 s.
#[utoipa::path(get, path = "/readyz", tag = "service",
    responses(
        (status = 200, description = "Redis answers: the monitor can serve", body = Health),
        (status = 503, description = "Redis does not answer", body = ApiError)))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, AppError> {
    // Refused connections are known at once; only a silent Redis costs the deadline.
    state.gate.check().await?;
    app::ssr::redis::ping(&state.redis, READY_DEADLINE)
        .await
        .map_err(|reason| {
            AppError::RedisUnavailable(fred::error::Error::new(fred::error::ErrorKind::IO, reason))
        })?;
    Ok(Json(Health {
        status: "ready",
        redis: Some("ok"),
    }))
}
