//! Failure groups and bulk operations: `GET /failures` (MODERATOR), `POST /queue/{q}/bulk`,
//! `GET /operations`, `GET|DELETE /operations/{id}` (ADMIN). Thin over
//! `app::ssr::service::bulk`.

use crate::routes::extract::{AppBody, AppPath, AppQuery};
use app::model::failures::{QueuesBulkReply, QueuesBulkRequest};
use app::model::{
    BulkPreview, BulkRequest, BulkStarted, FailuresQuery, FailuresReply, Operation, Operations,
};
use app::ssr::auth::Caller;
use app::ssr::error::AppError;
use app::ssr::service::bulk::{self, BulkReply};
use app::ssr::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// `GET /failures?queue=&since=`.
#[utoipa::path(get, path = "/failures", tag = "failures", params(FailuresQuery),
    responses((status = 200, description = "Failure groups: failed jobs grouped by their error", body = FailuresReply)))]
pub async fn failures(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<FailuresQuery>,
) -> Result<Json<FailuresReply>, AppError> {
    Ok(Json(bulk::failures(&state, &query).await?))
}

/// `POST /queue/{q}/bulk`: 200 with the dry run's count, or 202 with the operation.
#[utoipa::path(post, path = "/queue/{queue_name}/bulk", tag = "failures", params(crate::openapi::QueuePath),
    request_body(content = BulkRequest, description = "What to do to which jobs; a dry run unless `dryRun` is false"),
    responses(
        (status = 200, description = "The dry run: how many jobs and a sample", body = BulkPreview),
        (status = 202, description = "The operation started; follow it at `/operations/{id}`", body = BulkStarted)))]
pub async fn start(
    caller: Caller,
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
    AppBody(body): AppBody,
) -> Result<Response, AppError> {
    let request = BulkRequest::from_body(&body).map_err(AppError::BadRequest)?;
    Ok(
        match bulk::bulk(&state, &caller.0, &queue_name, &request).await? {
            BulkReply::Preview(preview) => Json(preview).into_response(),
            BulkReply::Started(started) => (StatusCode::ACCEPTED, Json(started)).into_response(),
        },
    )
}

/// `POST /queues/bulk`: pause or resume every queue (dry run first).
#[utoipa::path(post, path = "/queues/bulk", tag = "queues",
    request_body(content = QueuesBulkRequest, description = "Pause or resume every queue; a dry run unless `dryRun` is false"),
    responses((status = 200, description = "The queues acted on (or that would be)", body = QueuesBulkReply)))]
pub async fn queues(
    caller: Caller,
    State(state): State<AppState>,
    AppBody(body): AppBody,
) -> Result<Json<QueuesBulkReply>, AppError> {
    let request: QueuesBulkRequest = serde_json::from_slice(&body).map_err(|error| {
        AppError::BadRequest(format!(
            r#"the body must be {{"action": "pause"|"resume", "dryRun": true|false, "expect": <the dry run's count>}}: {error}"#
        ))
    })?;
    Ok(Json(bulk::queues_bulk(&state, &caller.0, &request).await?))
}

/// `GET /operations`.
#[utoipa::path(get, path = "/operations", tag = "failures",
    responses((status = 200, description = "Bulk operations, newest first", body = Operations)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Operations>, AppError> {
    Ok(Json(bulk::operations(&state).await?))
}

/// `GET /operations/{id}`.
#[utoipa::path(get, path = "/operations/{operation_id}", tag = "failures", params(crate::openapi::OperationPath),
    responses((status = 200, description = "The operation and its progress", body = Operation)))]
pub async fn one(
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
) -> Result<Json<Operation>, AppError> {
    Ok(Json(bulk::operation(&state, &id).await?))
}

/// `DELETE /operations/{id}`.
#[utoipa::path(delete, path = "/operations/{operation_id}", tag = "failures", params(crate::openapi::OperationPath),
    responses((status = 200, description = "The operation, cancelled (or already ended)", body = Operation)))]
pub async fn cancel(
    caller: Caller,
    State(state): State<AppState>,
    AppPath(id): AppPath<String>,
) -> Result<Json<Operation>, AppError> {
    Ok(Json(bulk::cancel(&state, &caller.0, &id).await?))
}
