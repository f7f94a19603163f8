//! The REST API under `/api/v1/admin/jobs`. Handlers are thin: their route group has checked
//! the caller's role (`guarded`), typed extractors have parsed the input (bad input is a JSON
//! 400 before the handler runs), they call `app::ssr::service` and answer JSON.

use crate::routes::alerts;
use crate::routes::bulk;
use crate::routes::explorer;
use crate::routes::extract::{AppBody, AppPath, AppQuery};
use crate::routes::guarded::RoleRoutes;
use crate::routes::ProtectedRoute;
use app::model::{
    AuditPage, AuditQuery, ClearQuery, ClearReply, History, HistoryQuery, JobId, LimitsChange,
    Metrics, Overview, PauseReply, QueueLimits, QueueWorkers, RefreshReply, RetryChanges,
    RetryReply, SchedulerPage, SchedulersQuery, StuckQuery, StuckReport, Trend, TrendsQuery,
};
use app::role::Role;
use app::ssr::auth::Caller;
use app::ssr::error::AppError;
use app::ssr::service::{
    control, history as history_service, queue_limits as limits_service, reads,
    schedulers as schedulers_service, workers as workers_service,
};
use app::ssr::state::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Json, Router};
use serde_json::Value;

/// Where these routes are mounted.
pub const BASE: &str = "/api/v1/admin/jobs";

/// The routes, grouped by the role they need.
fn groups() -> [RoleRoutes; 2] {
    [
        RoleRoutes::new(Role::Moderator)
            .get("/queues", list_queues)
            .get("/metrics", metrics)
            .get("/trends", trends)
            .get("/history", history)
            .get("/alerts/stuck", stuck_alerts)
            .get("/alerts", alerts::list)
            .get("/alerts/rules", alerts::rules)
            .get("/alerts/deliveries", alerts::deliveries)
            .get("/alerts/silences", alerts::silences)
            .get("/alerts/playbooks", alerts::playbooks)
            .get("/live", super::live::all_queues)
            .get("/queue/{queue_name}/live", super::live::one_queue)
            .get("/queue/{queue_name}/jobs", explorer::list)
            .get("/queue/{queue_name}/jobs/{job_id}", explorer::detail)
            .get("/queue/{queue_name}/jobs/{job_id}/data", explorer::data)
            .get(
                "/queue/{queue_name}/jobs/{job_id}/returnvalue",
                explorer::returnvalue,
            )
            .get("/queue/{queue_name}/jobs/{job_id}/logs", explorer::logs)
            .get("/queue/{queue_name}/jobs/{job_id}/flow", explorer::flow)
            .get("/queue/{queue_name}/priorities", explorer::priorities)
            .get("/queue/{queue_name}/workers", workers)
            .get("/queue/{queue_name}/schedulers", schedulers)
            .get("/queue/{queue_name}/limits", limits)
            .get("/jobs", explorer::search)
            .get("/failures", bulk::failures),
        RoleRoutes::new(Role::Admin)
            .post("/queues/refresh", refresh_queues)
            .post("/queues/bulk", bulk::queues)
            .patch("/queue/{queue_name}/pause", pause)
            .patch("/queue/{queue_name}/resume", resume)
            .put("/queue/{queue_name}/limits", set_limits)
            .delete("/queue/{queue_name}/clear", clear)
            .post("/retry/{queue_name}/{job_id}", retry)
            .post("/queue/{queue_name}/jobs/{job_id}/retry", explorer::retry)
            .post(
                "/queue/{queue_name}/jobs/{job_id}/promote",
                explorer::promote,
            )
            .delete("/queue/{queue_name}/jobs/{job_id}", explorer::remove)
            .post("/queue/{queue_name}/bulk", bulk::start)
            .get("/operations", bulk::list)
            .get("/operations/{operation_id}", bulk::one)
            .delete("/operations/{operation_id}", bulk::cancel)
            .post("/alerts/test", alerts::test)
            .post("/alerts/silences", alerts::silence)
            .delete("/alerts/silences/{silence_id}", alerts::unsilence)
            .get("/audit", audit),
    ]
}

/// The OpenAPI description of these routes (`crate::openapi` nests it under [`BASE`] and adds
/// the roles from [`groups`]); a test keeps the two lists equal.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_queues,
    metrics,
    trends,
    history,
    stuck_alerts,
    alerts::list,
    alerts::rules,
    alerts::deliveries,
    alerts::silences,
    alerts::playbooks,
    super::live::all_queues,
    super::live::one_queue,
    explorer::list,
    explorer::detail,
    explorer::data,
    explorer::returnvalue,
    explorer::logs,
    explorer::flow,
    explorer::priorities,
    workers,
    schedulers,
    limits,
    explorer::search,
    bulk::failures,
    refresh_queues,
    bulk::queues,
    pause,
    resume,
    set_limits,
    clear,
    retry,
    explorer::retry,
    explorer::promote,
    explorer::remove,
    bulk::start,
    bulk::list,
    bulk::one,
    bulk::cancel,
    alerts::test,
    alerts::silence,
    alerts::unsilence,
    audit,
))]
pub struct JobsApi;

/// Every route of this API as declared: method, path pattern, minimum role.
pub fn patterns() -> Vec<crate::routes::guarded::RoutePattern> {
    groups()
        .iter()
        .flat_map(|group| group.patterns(BASE))
        .collect()
}

/// Routes relative to [`BASE`].
pub fn router(state: &AppState) -> Router<AppState> {
    groups()
        .into_iter()
        .fold(Router::new(), |router, group| {
            router.merge(group.into_router(state))
        })
        .method_not_allowed_fallback(super::api_method_not_allowed)
}

/// Every route of this API with its minimum role (derived from [`groups`]).
pub fn table() -> Vec<ProtectedRoute> {
    groups()
        .iter()
        .flat_map(|group| group.table(BASE))
        .collect()
}

/// `GET /queue/{queueName}/workers` (MODERATOR): the workers connected to the queue, as
/// BullMQ's `getWorkers()` finds them.
#[utoipa::path(get, path = "/queue/{queue_name}/workers", tag = "setup", params(crate::openapi::QueuePath),
    responses((status = 200, description = "The queue's workers, oldest connection first", body = QueueWorkers)))]
async fn workers(
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
) -> Result<Json<QueueWorkers>, AppError> {
    Ok(Json(
        workers_service::queue_workers(&state, &queue_name).await?,
    ))
}

/// `GET /queue/{queueName}/schedulers?limit=` (MODERATOR): job schedulers and legacy
/// repeatable jobs, soonest next run first, read without BullMQ's side effects.
#[utoipa::path(get, path = "/queue/{queue_name}/schedulers", tag = "setup", params(crate::openapi::QueuePath, SchedulersQuery),
    responses((status = 200, description = "Schedulers and repeatables, soonest next run first", body = SchedulerPage)))]
async fn schedulers(
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
    AppQuery(query): AppQuery<SchedulersQuery>,
) -> Result<Json<SchedulerPage>, AppError> {
    Ok(Json(
        schedulers_service::queue_schedulers(&state, &queue_name, query.limit).await?,
    ))
}

/// `GET /queue/{queueName}/limits` (MODERATOR): global concurrency and rate limit.
#[utoipa::path(get, path = "/queue/{queue_name}/limits", tag = "setup", params(crate::openapi::QueuePath),
    responses((status = 200, description = "The queue's global concurrency and rate limit (`null`: none)", body = QueueLimits)))]
async fn limits(
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
) -> Result<Json<QueueLimits>, AppError> {
    Ok(Json(
        limits_service::queue_limits(&state, &queue_name).await?,
    ))
}

/// `PUT /queue/{queueName}/limits` (ADMIN): `{"concurrency": N|null, "rateLimit": {"max",
/// "duration"}|null}`; a field left out stays; audited.
#[utoipa::path(put, path = "/queue/{queue_name}/limits", tag = "setup", params(crate::openapi::QueuePath),
    request_body(content = LimitsChange, description = "A value sets, `null` removes, a field left out stays"),
    responses((status = 200, description = "The limits after the change", body = QueueLimits)))]
async fn set_limits(
    Caller(caller): Caller,
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
    AppBody(body): AppBody,
) -> Result<Json<QueueLimits>, AppError> {
    let shape = |error: String| {
        AppError::BadRequest(format!(
            r#"the body must be {{"concurrency": N or null, "rateLimit": {{"max": N, "duration": ms}} or null}}: {error}"#
        ))
    };
    // An object only: serde would also take a struct's fields as an array.
    let body: Value = serde_json::from_slice(&body).map_err(|e| shape(e.to_string()))?;
    if !body.is_object() {
        return Err(shape("not an object".into()));
    }
    let change: LimitsChange = serde_json::from_value(body).map_err(|e| shape(e.to_string()))?;
    Ok(Json(
        control::set_limits(&state, &caller, &queue_name, change).await?,
    ))
}

/// `PATCH /queue/{queueName}/pause` (ADMIN): real workers stop taking new jobs.
#[utoipa::path(patch, path = "/queue/{queue_name}/pause", tag = "queues", params(crate::openapi::QueuePath),
    responses((status = 200, description = "The queue is paused", body = PauseReply)))]
async fn pause(
    Caller(caller): Caller,
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
) -> Result<Json<PauseReply>, AppError> {
    Ok(Json(
        control::set_paused(&state, &caller, &queue_name, true).await?,
    ))
}

/// `PATCH /queue/{queueName}/resume` (ADMIN): workers take jobs again.
#[utoipa::path(patch, path = "/queue/{queue_name}/resume", tag = "queues", params(crate::openapi::QueuePath),
    responses((status = 200, description = "The queue runs again", body = PauseReply)))]
async fn resume(
    Caller(caller): Caller,
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
) -> Result<Json<PauseReply>, AppError> {
    Ok(Json(
        control::set_paused(&state, &caller, &queue_name, false).await?,
    ))
}

/// `DELETE /queue/{queueName}/clear?type=completed|failed|all` (ADMIN): removes finished jobs.
#[utoipa::path(delete, path = "/queue/{queue_name}/clear", tag = "queues", params(crate::openapi::QueuePath, ClearQuery),
    responses((status = 200, description = "How many finished jobs were removed", body = ClearReply)))]
async fn clear(
    Caller(caller): Caller,
    State(state): State<AppState>,
    AppPath(queue_name): AppPath<String>,
    AppQuery(query): AppQuery<ClearQuery>,
) -> Result<Json<ClearReply>, AppError> {
    let kind = query.kind.unwrap_or_default();
    Ok(Json(
        control::clear_queue(&state, &caller, &queue_name, kind).await?,
    ))
}

/// The longest `Idempotency-Key` accepted.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// `POST /retry/{queueName}/{jobId}` (ADMIN): a new job from the original with the body's
/// changes; the same request (or the same `Idempotency-Key`) repeated within ten minutes
/// returns the first one's job. The body is read raw so every malformed input gets a message
/// naming the field.
#[utoipa::path(post, path = "/retry/{queue_name}/{job_id}", tag = "jobs", params(crate::openapi::JobPath),
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeating a request with the same key within ten minutes returns the first one's job")),
    request_body(content = RetryChanges, description = "The changes; an empty body retries the job as it was"),
    responses((status = 200, description = "The new job", body = RetryReply)))]
async fn retry(
    Caller(caller): Caller,
    State(state): State<AppState>,
    AppPath((queue_name, job_id)): AppPath<(String, String)>,
    headers: HeaderMap,
    AppBody(body): AppBody,
) -> Result<Json<RetryReply>, AppError> {
    let job_id = JobId::parse(&job_id).map_err(AppError::BadRequest)?;
    let changes =
        RetryChanges::from_body(&body).map_err(|error| AppError::BadRequest(error.message))?;
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(value) => Some(
            value
                .to_str()
                .ok()
                .filter(|key| {
                    !key.is_empty()
                        && key.len() <= MAX_IDEMPOTENCY_KEY
                        && key.bytes().all(|b| b.is_ascii_graphic())
                })
                .ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
                    ))
                })?,
        ),
    };
    Ok(Json(
        control::retry_job(&state, &caller, &queue_name, &job_id, changes, key).await?,
    ))
}

/// `GET /audit?count=50&before=<id>` (ADMIN): the control actions, newest first.
#[utoipa::path(get, path = "/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "Control actions, newest first", body = AuditPage)))]
async fn audit(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<Json<AuditPage>, AppError> {
    let before = query
        .before
        .as_deref()
        .map(app::ssr::audit::parse_cursor)
        .transpose()?;
    let count = query.count.map_or(50, |count| count.0);
    let page = state
        .within(app::ssr::audit::page(
            &state.redis,
            &state.settings.monitor_prefix,
            before.as_deref(),
            count,
        ))
        .await?;
    Ok(Json(page))
}

/// `GET /metrics` (MODERATOR): counts, success rate and processing rate, per queue and in total.
#[utoipa::path(get, path = "/metrics", tag = "metrics",
    responses((status = 200, description = "Counts and rates per queue and in total", body = Metrics)))]
async fn metrics(State(state): State<AppState>) -> Result<Json<Metrics>, AppError> {
    Ok(Json(reads::metrics(&state).await?))
}

/// `GET /trends?period=24h|7d|30d` (MODERATOR): what finished inside the period, per queue.
#[utoipa::path(get, path = "/trends", tag = "metrics", params(TrendsQuery),
    responses((status = 200, description = "Per queue: what finished inside the period", body = Vec<Trend>)))]
async fn trends(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<TrendsQuery>,
) -> Result<Json<Vec<Trend>>, AppError> {
    Ok(Json(
        reads::trends(&state, query.period.unwrap_or_default()).await?,
    ))
}

/// `GET /history?queue=&from=&to=&step=` (MODERATOR): the history collector's series.
#[utoipa::path(get, path = "/history", tag = "metrics", params(HistoryQuery),
    responses((status = 200, description = "The collector's buckets", body = History)))]
async fn history(
    Caller(caller): Caller,
    State(state): State<AppState>,
    AppQuery(query): AppQuery<HistoryQuery>,
) -> Result<Json<History>, AppError> {
    Ok(Json(
        history_service::history(&state, &caller, &query).await?,
    ))
}

/// `GET /alerts/stuck?limit=` (MODERATOR): active jobs older than `STUCK_AFTER_MS`, longest
/// stuck first, at most `limit` (default 500), with the total.
#[utoipa::path(get, path = "/alerts/stuck", tag = "alerts", params(StuckQuery),
    responses((status = 200, description = "Stuck jobs, longest stuck first", body = StuckReport)))]
async fn stuck_alerts(
    State(state): State<AppState>,
    AppQuery(query): AppQuery<StuckQuery>,
) -> Result<Json<StuckReport>, AppError> {
    Ok(Json(
        reads::stuck_alerts(&state, query.limit.map(|limit| limit.0)).await?,
    ))
}

/// `GET /queues` (MODERATOR): every queue with its counts.
#[utoipa::path(get, path = "/queues", tag = "queues",
    responses((status = 200, description = "Every queue with its counts", body = Overview)))]
async fn list_queues(State(state): State<AppState>) -> Result<Json<Overview>, AppError> {
    Ok(Json(reads::overview(&state).await?))
}

/// `POST /queues/refresh` (ADMIN): re-discover queues now instead of at the next interval.
#[utoipa::path(post, path = "/queues/refresh", tag = "queues",
    responses((status = 200, description = "The queues found", body = RefreshReply)))]
async fn refresh_queues(
    Caller(caller): Caller,
    State(state): State<AppState>,
) -> Result<Json<RefreshReply>, AppError> {
    state.gate.check().await?;
    let queues = state.registry.refresh().await?;
    tracing::info!(by = %caller.subject, queues = queues.len(), "queue discovery refreshed on request");
    Ok(Json(RefreshReply {
        success: true,
        queues: queues.iter().map(|q| q.name.as_str().to_owned()).collect(),
    }))
}
