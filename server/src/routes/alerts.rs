//! Alerts: `GET /alerts`, `/alerts/rules`, `/alerts/deliveries` (MODERATOR), `POST
//! /alerts/test` (ADMIN). Thin over `app::ssr::service::alerts`.

use crate::routes::extract::AppBody;
use crate::routes::extract::AppPath;
use app::model::alerts::{
    AlertsReply, DeliveriesReply, Delivery, RulesReply, Silence, SilenceRequest, SilencesReply,
    TestRequest,
};
use app::ssr::auth::Caller;
use app::ssr::error::AppError;
use app::ssr::service::alerts;
use app::ssr::state::AppState;
use axum::extract::State;
use axum::Json;

/// `GET /alerts`.
pub async fn list(State(state): State<AppState>) -> Result<Json<AlertsReply>, AppError> {
    Ok(Json(alerts::alerts(&state).await?))
}

/// `GET /alerts/rules`.
pub async fn rules(State(state): State<AppState>) -> Json<RulesReply> {
    Json(alerts::rules(&state))
}

/// `GET /alerts/deliveries`.
pub async fn deliveries(State(state): State<AppState>) -> Result<Json<DeliveriesReply>, AppError> {
    Ok(Json(alerts::deliveries(&state).await?))
}

/// `POST /alerts/test` with `{"channel": "<name>"}`.
pub async fn test(
    caller: Caller,
    State(state): State<AppState>,
    AppBody(body): AppBody,
) -> Result<Json<Delivery>, AppError> {
    let request: TestRequest = serde_json::from_slice(&body).map_err(|error| {
        AppError::BadRequest(format!(
            r#"the body must be {{"channel": "<a channel of the rules file>"}}: {error}"#
        ))
    })?;
    Ok(Json(alerts::test(&state, &caller.0, &request).await?))
}

/// `GET /alerts/silences`.
pub async fn silences(State(state): State<AppState>) -> Result<Json<SilencesReply>, AppError> {
    Ok(Json(alerts::silences(&state).await?))
}

/// `POST /alerts/silences` with `{"matchers": {...}, "duration": "2h", "comment": "..."}`.
pub async fn silence(
    caller: Caller,
    State(state): State<AppState>,
    AppBody(body): AppBody,
) -> Result<Json<Silence>, AppError> {
    let request: SilenceRequest = serde_json::from_slice(&body).map_err(|error| {
        AppError::BadRequest(format!(
            r#"the body must be {{"matchers": {{"<label>": "<value>", ...}}, "duration": "2h", "comment": "why"}}: {error}"#
        ))
    })?;
    Ok(Json(
        alerts::add_silence(&state, &caller.0, &request).await?,
    ))
}

/// `DELETE /alerts/silences/{id}`: ends it now.
pub async fn unsilence(
    caller: Caller,
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
) -> Result<Json<Silence>, AppError> {
    Ok(Json(alerts::end_silence(&state, &caller.0, &id).await?))
}

/// `GET /alerts/playbooks`.
pub async fn playbooks(
    State(state): State<AppState>,
) -> Result<Json<app::model::alerts::PlaybooksReply>, AppError> {
    Ok(Json(alerts::playbooks(&state).await?))
}
