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
#[utoipa::path(get, path = "/alerts", tag = "alerts",
    responses((status = 200, description = "Firing and recently resolved alerts", body = AlertsReply)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<AlertsReply>, AppError> {
    Ok(Json(alerts::alerts(&state).await?))
}

/// `GET /alerts/rules`.
#[utoipa::path(get, path = "/alerts/rules", tag = "alerts",
    responses((status = 200, description = "The rules and channels (no secrets)", body = RulesReply)))]
pub async fn rules(State(state): State<AppState>) -> Json<RulesReply> {
    Json(alerts::rules(&state))
}

/// `GET /alerts/deliveries`.
#[utoipa::path(get, path = "/alerts/deliveries", tag = "alerts",
    responses((status = 200, description = "Recent notifications and their outcome", body = DeliveriesReply)))]
pub async fn deliveries(State(state): State<AppState>) -> Result<Json<DeliveriesReply>, AppError> {
    Ok(Json(alerts::deliveries(&state).await?))
}

/// `POST /alerts/test` with `{"channel": "<name>"}`.
#[utoipa::path(post, path = "/alerts/test", tag = "alerts",
    request_body(content = TestRequest, description = "The channel to send a test notification to"),
    responses((status = 200, description = "The delivery", body = Delivery)))]
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
#[utoipa::path(get, path = "/alerts/silences", tag = "alerts",
    responses((status = 200, description = "Active silences", body = SilencesReply)))]
pub async fn silences(State(state): State<AppState>) -> Result<Json<SilencesReply>, AppError> {
    Ok(Json(alerts::silences(&state).await?))
}

/// `POST /alerts/silences` with `{"matchers": {...}, "duration": "2h", "comment": "..."}`.
#[utoipa::path(post, path = "/alerts/silences", tag = "alerts",
    request_body(content = SilenceRequest, description = "Which alerts, for how long, and why"),
    responses((status = 200, description = "The silence", body = Silence)))]
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
#[utoipa::path(delete, path = "/alerts/silences/{silence_id}", tag = "alerts", params(crate::openapi::SilencePath),
    responses((status = 200, description = "The silence, ended", body = Silence)))]
pub async fn unsilence(
    caller: Caller,
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
) -> Result<Json<Silence>, AppError> {
    Ok(Json(alerts::end_silence(&state, &caller.0, &id).await?))
}

/// `GET /alerts/playbooks`.
#[utoipa::path(get, path = "/alerts/playbooks", tag = "alerts",
    responses((status = 200, description = "The playbooks and their recent runs", body = app::model::alerts::PlaybooksReply)))]
pub async fn playbooks(
    State(state): State<AppState>,
) -> Result<Json<app::model::alerts::PlaybooksReply>, AppError> {
    Ok(Json(alerts::playbooks(&state).await?))
}
