//! The OpenAPI 3.1 description of the HTTP API, served at [`PATH`] without a token (it says
//! what the routes are, as README does; every route it describes still demands its role).
//!
//! Generated from the code, never written by hand: the handlers' `#[utoipa::path]`
//! annotations (paths, parameters, bodies, success answers) and the wire types' `ToSchema`
//! derives (`app::model`, their doc comments becoming the descriptions). Then [`complete`]
//! adds what the route groups already know, so it is written once: each guarded operation's
//! minimum role (`x-min-role`, its security and a sentence in its description) and the error
//! answers every guarded route can give, all in the one shape `{"error", "message"}`. The two
//! live streams get the schemas of their events (`x-events`). A test keeps the document and
//! the router equal and validates real answers against the schemas (`tests/api/openapi.rs`).
//!
//! The dashboard's server functions (`/api/fn/…`) are its own transport, not part of this API.

use crate::routes::guarded::RoutePattern;
use crate::routes::jobs;
use app::error::ApiError;
use app::model::queries::{
    AuditCount, FlowDepth, LogCount, LogStart, MaxChildren, PageLimit, ScanLimit, StuckLimit,
    Switch,
};
use app::model::{ClearKind, ListOrder, Metrics, MetricsDelta, Operations, QueueLive};
use app::ssr::auth::SESSION_COOKIE;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{json, Map, Value};
use std::sync::LazyLock;
use utoipa::OpenApi;

/// Where the document is served.
pub const PATH: &str = "/api/v1/openapi.json";

/// Path parameters shared by the per-queue routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only described: axum's extractors read the path")]
pub struct QueuePath {
    /// The BullMQ queue name, without the prefix.
    queue_name: String,
}

/// Path parameters of the per-job routes.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only described: axum's extractors read the path")]
pub struct JobPath {
    /// The BullMQ queue name, without the prefix.
    queue_name: String,
    /// The job's id (1 to 256 printable characters).
    job_id: String,
}

/// Path parameter of one bulk operation.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only described: axum's extractors read the path")]
pub struct OperationPath {
    /// The operation's id, as `POST /queue/{queue_name}/bulk` returned it.
    operation_id: String,
}

/// Path parameter of one silence.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "only described: axum's extractors read the path")]
pub struct SilencePath {
    /// The silence's id.
    silence_id: String,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "BullMQ monitor",
        description = "Watches and operates the BullMQ queues of one Redis. Every route under `/api/v1/admin/jobs` needs a JWT with a monitor role (`x-min-role`: MODERATOR reads, ADMIN and SUPER_ADMIN operate), sent as `Authorization: Bearer <token>` or as the dashboard's session cookie; state-changing requests from another origin's page are refused. Every error answers `{\"error\": code, \"message\": text}`.",
        license(name = "MIT", identifier = "MIT")
    ),
    nest((path = "/api/v1/admin/jobs", api = jobs::JobsApi)),
    paths(
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::session::sign_in,
        crate::routes::session::sign_out,
        crate::prometheus::serve,
        serve,
    ),
    // The events' schemas, and the query parameters' (a parameter refers to its type's schema
    // but does not bring it along).
    components(schemas(
        ApiError, Metrics, MetricsDelta, QueueLive, Operations,
        ClearKind, ListOrder, Switch, StuckLimit, AuditCount, PageLimit, ScanLimit, LogStart,
        LogCount, FlowDepth, MaxChildren,
    )),
    tags(
        (name = "queues", description = "Every queue's counts; pause, resume, clear"),
        (name = "metrics", description = "Rates, trends and the collector's history"),
        (name = "jobs", description = "The job explorer: lists, search, detail, logs, flows and per-job actions"),
        (name = "setup", description = "A queue's workers, schedulers and global limits"),
        (name = "failures", description = "Failure groups and bulk operations"),
        (name = "alerts", description = "Stuck jobs, alert rules, firing alerts, deliveries and silences"),
        (name = "live", description = "Server-Sent Events streams"),
        (name = "audit", description = "The control actions' trail"),
        (name = "session", description = "The dashboard's sign-in"),
        (name = "service", description = "Health, the Prometheus exposition and this document"),
    )
)]
struct ApiDoc;

/// The document, built and serialised once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| document().to_string());

/// `GET /api/v1/openapi.json`: this document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object)))]
pub(crate) async fn serve() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        DOCUMENT.as_str(),
    )
}

/// The route of the document.
pub fn router() -> axum::Router<app::ssr::state::AppState> {
    axum::Router::new().route(PATH, axum::routing::get(serve))
}

/// The whole document, as JSON.
pub fn document() -> Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_else(|_| json!({}));
    complete(&mut document, &jobs::patterns());
    document
}

/// Errors every guarded operation can answer, by status: (name in `components/responses`,
/// status, what it means).
const GUARDED_ERRORS: &[(&str, &str, &str)] = &[
    (
        "Unauthorized",
        "401",
        "No token, or not a valid, unexpired one (`unauthorized`)",
    ),
    (
        "Forbidden",
        "403",
        "The token's role is too low, or a state-changing request came from another origin's page (`forbidden`, `cross_site_refused`)",
    ),
    (
        "TooManyRequests",
        "429",
        "Over one of the caller's limits; `Retry-After` says when to try again (`too_many_requests`)",
    ),
    (
        "Internal",
        "500",
        "Something failed on the server's side; the details are in its log (`internal`)",
    ),
    (
        "Unavailable",
        "503",
        "Redis did not answer in time (`redis_unavailable`), or a control action was sent but not confirmed (`outcome_unknown`: the audit trail records the outcome; repeating the request is safe)",
    ),
];

/// Which operations an error applies to, from the operation, its method and its path.
type Applies = fn(&Map<String, Value>, &str, &str) -> bool;

/// Errors some operations answer: (name, status, meaning, whether the operation gives it).
const INPUT_ERRORS: &[(&str, &str, &str, Applies)] = &[
    (
        "BadRequest",
        "400",
        "A parameter or the body is malformed; the message names it (`bad_request`)",
        |operation, _, _| {
            operation.contains_key("parameters") || operation.contains_key("requestBody")
        },
    ),
    (
        "NotFound",
        "404",
        "The queue, job, operation or silence does not exist (`not_found`)",
        |_, _, path| path.contains('{'),
    ),
    (
        "Conflict",
        "409",
        "What is acted on is not in a state the action needs (`conflict`)",
        |_, method, _| method != "get",
    ),
    (
        "PayloadTooLarge",
        "413",
        "The body (or a value asked for) is larger than the server accepts or sends (`payload_too_large`)",
        |operation, _, _| operation.contains_key("requestBody"),
    ),
];

/// Adds to the generated document what the route groups know: roles, security, error answers,
/// the live streams' events.
fn complete(document: &mut Value, routes: &[RoutePattern]) {
    let error = json!({"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}});
    if let Some(responses) = map_at(document, &["components", "responses"]) {
        let all = GUARDED_ERRORS.iter().copied().chain(
            INPUT_ERRORS
                .iter()
                .map(|(name, status, meaning, _)| (*name, *status, *meaning)),
        );
        for (name, _, meaning) in all {
            let mut answer = error.clone();
            answer["description"] = json!(meaning);
            responses.insert(name.to_owned(), answer);
        }
    }
    if let Some(schemes) = map_at(document, &["components", "securitySchemes"]) {
        schemes.insert(
            "bearer".into(),
            json!({"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                   "description": "A JWT whose roles hold MODERATOR, ADMIN or SUPER_ADMIN"}),
        );
        schemes.insert(
            "session".into(),
            json!({"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
                   "description": "The dashboard's session cookie, set by `POST /auth/session` (named `__Host-monitor_session` behind HTTPS)"}),
        );
        schemes.insert(
            "metrics_token".into(),
            json!({"type": "http", "scheme": "bearer",
                   "description": "`METRICS_TOKEN`, for `GET /metrics` only"}),
        );
    }

    for route in routes {
        let method = route.method.to_ascii_lowercase();
        let pointer = format!("/paths/{}/{method}", route.pattern.replace('/', "~1"));
        // Missing only while a handler lacks its annotation; the OpenAPI test names it.
        let Some(operation) = document
            .pointer_mut(&pointer)
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        let role = route.min_role.as_str();
        let sentence = format!("Needs the {role} role or a higher one.");
        let description = match operation.get("description").and_then(Value::as_str) {
            Some(text) if !text.is_empty() => format!("{text}\n\n{sentence}"),
            _ => sentence,
        };
        operation.insert("description".into(), json!(description));
        operation.insert("x-min-role".into(), json!(role));
        operation.insert("security".into(), json!([{"bearer": []}, {"session": []}]));
        let input: Vec<(&str, &str)> = INPUT_ERRORS
            .iter()
            .filter(|(_, _, _, applies)| applies(operation, &method, &route.pattern))
            .map(|(name, status, _, _)| (*name, *status))
            .collect();
        let Some(answers) = operation
            .entry("responses")
            .or_insert_with(|| json!({}))
            .as_object_mut()
        else {
            continue;
        };
        let guarded = GUARDED_ERRORS
            .iter()
            .map(|(name, status, _)| (*name, *status));
        for (name, status) in guarded.chain(input) {
            answers
                .entry(status.to_owned())
                .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
        }
    }

    describe_events(document);
}

/// The live streams' events and the schema of each one's data, as `x-events` on their 200
/// answers (OpenAPI 3.1 has no way of its own to type the events of a stream).
fn describe_events(document: &mut Value) {
    let control = json!({
        "status": {"description": "Redis unavailable or back, or the queue is gone: `{\"status\": code, \"message\": text}`",
                   "schema": {"type": "object", "required": ["status", "message"],
                              "properties": {"status": {"type": "string"}, "message": {"type": "string"}}}},
        "auth": {"description": "The token expired or its session signed out; the stream ends",
                 "schema": {"$ref": "#/components/schemas/ApiError"}},
        "shutdown": {"description": "The server stops; the stream ends", "schema": {}},
        "operations": {"description": "ADMIN and above: the bulk operations not yet ended, whenever their progress changes",
                       "schema": {"$ref": "#/components/schemas/Operations"}},
    });
    let streams = [
        (
            "/api/v1/admin/jobs/live",
            json!({
                "message": {"description": "A full snapshot (unnamed event)", "schema": {"$ref": "#/components/schemas/Metrics"}},
                "delta": {"description": "With `delta=true`: what changed since the previous event", "schema": {"$ref": "#/components/schemas/MetricsDelta"}},
            }),
        ),
        (
            "/api/v1/admin/jobs/queue/{queue_name}/live",
            json!({
                "message": {"description": "The queue's snapshot (unnamed event)", "schema": {"$ref": "#/components/schemas/QueueLive"}},
            }),
        ),
    ];
    for (path, data) in streams {
        let pointer = format!("/paths/{}/get/responses/200", path.replace('/', "~1"));
        if let Some(answer) = document
            .pointer_mut(&pointer)
            .and_then(Value::as_object_mut)
        {
            let mut events = data.as_object().cloned().unwrap_or_default();
            events.extend(control.as_object().cloned().unwrap_or_default());
            answer.insert("x-events".into(), Value::Object(events));
        }
    }
}

/// The object at `path` (keys from the root), created where missing.
fn map_at<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Map<String, Value>> {
    let mut here = value;
    for key in path {
        let map = here.as_object_mut()?;
        here = map.entry(*key).or_insert_with(|| json!({}));
    }
    here.as_object_mut()
}
