//! The job explorer's routes under `/api/v1/admin/jobs`: lists and searches, a job's detail,
//! whole values, logs and flow, the priority histogram (MODERATOR); retry in place, promote and
//! remove (ADMIN). Grouped by role in `jobs::groups`; thin over `app::ssr::service::jobs` and
//! `control::job_action`.

use crate::routes::extract::{AppPath, AppQuery};
use app::model::{
    FlowQuery, FlowTree, JobAction, JobActionReply, JobDetail, JobId, JobListQuery, JobLogs,
    JobsAnswer, LogsQuery, Priorities, SearchPage, SearchQuery,
};
use app::ssr::auth::Caller;
use app::ssr::error::AppError;
use app::ssr::service::control;
use app::ssr::service::jobs::{self, JobValue};
use app::ssr::state::AppState;
use axum::extract::State;
use axum::Json;

fn job_id(text: &str) -> Result<JobId, AppError> {
    JobId::parse(text).map_err(AppError::BadRequest)
}

/// `GET /queue/{q}/jobs?state=&limit=&cursor=&order=` (a page) or `…?search=` (a search).
#[utoipa::path(get, path = "/queue/{queue_name}/jobs", tag = "jobs", params(crate::openapi::QueuePath, JobListQuery),
    responses((status = 200, description = "A page of one state, or (with `search`) a search of the queue", body = JobsAnswer)))]
pub async fn list(
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
    AppQuery(query): AppQuery<JobListQuery>,
) -> Result<Json<JobsAnswer>, AppError> {
    Ok(Json(jobs::list(&state, &queue_name, &query).await?))
}

/// `GET /jobs?search=`: a search of every queue.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(SearchQuery),
    responses((status = 200, description = "Matching jobs across every queue", body = SearchPage)))]
pub async fn search(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<SearchQuery>,
) -> Result<Json<SearchPage>, AppError> {
    Ok(Json(jobs::search_all(&state, &query).await?))
}

/// `GET /queue/{q}/jobs/{id}`.
#[utoipa::path(get, path = "/queue/{queue_name}/jobs/{job_id}", tag = "jobs", params(crate::openapi::JobPath),
    responses((status = 200, description = "The job, with its data and return value previewed", body = JobDetail)))]
pub async fn detail(
    State(state): State<AppState>,
    AppPath((queue_name, id)): AppPath<(String, String)>,
) -> Result<Json<JobDetail>, AppError> {
    Ok(Json(
        jobs::detail(&state, &queue_name, &job_id(&id)?).await?,
    ))
}

/// `GET /queue/{q}/jobs/{id}/data`: the whole data (up to 8 MiB).
#[utoipa::path(get, path = "/queue/{queue_name}/jobs/{job_id}/data", tag = "jobs", params(crate::openapi::JobPath),
    responses((status = 200, description = "The job's whole data, as JSON (text that is not JSON comes as a string)", body = serde_json::Value)))]
pub async fn data(
    State(state): State<AppState>,
    AppPath((queue_name, id)): AppPath<(String, String)>,
) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(
        jobs::value(&state, &queue_name, &job_id(&id)?, JobValue::Data).await?,
    ))
}

/// `GET /queue/{q}/jobs/{id}/returnvalue`: the whole return value (up to 8 MiB).
#[utoipa::path(get, path = "/queue/{queue_name}/jobs/{job_id}/returnvalue", tag = "jobs", params(crate::openapi::JobPath),
    responses((status = 200, description = "The job's whole return value, as JSON", body = serde_json::Value)))]
pub async fn returnvalue(
    State(state): State<AppState>,
    AppPath((queue_name, id)): AppPath<(String, String)>,
) -> Result<Json<serde_json::Value>, AppError> {
    Ok(Json(
        jobs::value(&state, &queue_name, &job_id(&id)?, JobValue::ReturnValue).await?,
    ))
}

/// `GET /queue/{q}/jobs/{id}/logs?start=&count=&order=`.
#[utoipa::path(get, path = "/queue/{queue_name}/jobs/{job_id}/logs", tag = "jobs", params(crate::openapi::JobPath, LogsQuery),
    responses((status = 200, description = "A page of the job's log lines", body = JobLogs)))]
pub async fn logs(
    State(state): State<AppState>,
    AppPath((queue_name, id)): AppPath<(String, String)>,
    AppQuery(query): AppQuery<LogsQuery>,
) -> Result<Json<JobLogs>, AppError> {
    Ok(Json(
        jobs::logs(&state, &queue_name, &job_id(&id)?, &query).await?,
    ))
}

/// `GET /queue/{q}/jobs/{id}/flow?depth=&maxChildren=`.
#[utoipa::path(get, path = "/queue/{queue_name}/jobs/{job_id}/flow", tag = "jobs", params(crate::openapi::JobPath, FlowQuery),
    responses((status = 200, description = "The job's flow: its parents and children", body = FlowTree)))]
pub async fn flow(
    State(state): State<AppState>,
    AppPath((queue_name, id)): AppPath<(String, String)>,
    AppQuery(query): AppQuery<FlowQuery>,
) -> Result<Json<FlowTree>, AppError> {
    Ok(Json(
        jobs::flow(&state, &queue_name, &job_id(&id)?, &query).await?,
    ))
}

/// `GET /queue/{q}/priorities`.
#[utoipa::path(get, path = "/queue/{queue_name}/priorities", tag = "jobs", params(crate::openapi::QueuePath),
    responses((status = 200, description = "Waiting jobs per priority", body = Priorities)))]
pub async fn priorities(
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
) -> Result<Json<Priorities>, AppError> {
    Ok(Json(jobs::priorities(&state, &queue_name).await?))
}

async fn act(
    state: AppState,
    caller: Caller,
    (queue_name, id): (String, String),
    action: JobAction,
) -> Result<Json<JobActionReply>, AppError> {
    Ok(Json(
        control::job_action(&state, &caller.0, &queue_name, &job_id(&id)?, action).await?,
    ))
}

/// `POST /queue/{q}/jobs/{id}/retry` (ADMIN): a failed or completed job back in line.
#[utoipa::path(post, path = "/queue/{queue_name}/jobs/{job_id}/retry", tag = "jobs", params(crate::openapi::JobPath),
    responses((status = 200, description = "The failed or completed job waits again", body = JobActionReply)))]
pub async fn retry(
    caller: Caller,
    State(state): State<AppState>,
    AppPath(path): AppPath<(String, String)>,
) -> Result<Json<JobActionReply>, AppError> {
    act(state, caller, path, JobAction::Retry).await
}

/// `POST /queue/{q}/jobs/{id}/promote` (ADMIN): a delayed job ready now.
#[utoipa::path(post, path = "/queue/{queue_name}/jobs/{job_id}/promote", tag = "jobs", params(crate::openapi::JobPath),
    responses((status = 200, description = "The delayed job waits now", body = JobActionReply)))]
pub async fn promote(
    caller: Caller,
    State(state): State<AppState>,
    AppPath(path): AppPath<(String, String)>,
) -> Result<Json<JobActionReply>, AppError> {
    act(state, caller, path, JobAction::Promote).await
}

/// `DELETE /queue/{q}/jobs/{id}` (ADMIN): the job and its children removed.
#[utoipa::path(delete, path = "/queue/{queue_name}/jobs/{job_id}", tag = "jobs", params(crate::openapi::JobPath),
    responses((status = 200, description = "The job is removed", body = JobActionReply)))]
pub async fn remove(
    caller: Caller,
    State(state): State<AppState>,
    AppPath(path): AppPath<(String, String)>,
) -> Result<Json<JobActionReply>, AppError> {
    act(state, caller, path, JobAction::Remove).await
}
