//! The OpenAPI document (`GET /api/v1/openapi.json`): it describes exactly the routes the router
//! declares, each with its role, and the answers of a real server over a world built by real
//! BullMQ (v6 and v5) validate against its schemas: every route called, successes and errors.

use crate::helpers::*;
use app::role::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const BASE: &str = "/api/v1/admin/jobs";
const SCRAPE_TOKEN: &str = "scrape-secret-for-the-openapi-test";

/// The document as the server serves it, anonymously.
async fn served(app: &TestApp) -> Value {
    let (status, document) = app.anonymous(Method::GET, "/api/v1/openapi.json").await;
    assert_eq!(status, 200, "{document}");
    document
}

/// Checks answers against the document's schemas.
struct Checker {
    document: Value,
    /// (method, path pattern) → the statuses seen, for the coverage check.
    seen: BTreeMap<(String, String), BTreeSet<u16>>,
}

impl Checker {
    /// The operation of `method` at `pattern`.
    fn operation(&self, method: &str, pattern: &str) -> &Value {
        let operation = &self.document["paths"][pattern][method.to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {pattern} is not in the document"
        );
        operation
    }

    /// The documented answer for `status`, with `$ref`s to shared answers followed.
    fn answer(&self, method: &str, pattern: &str, status: u16) -> Value {
        let answer = &self.operation(method, pattern)["responses"][status.to_string()];
        assert!(
            answer.is_object(),
            "{method} {pattern} answered {status}, which the document does not list"
        );
        match answer["$ref"].as_str() {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                self.document
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference} does not resolve"))
                    .clone()
            }
            None => answer.clone(),
        }
    }

    /// Validates `instance` against `schema`, resolving references in the document.
    fn validate(&self, schema: &Value, instance: &Value, what: &str) {
        let mut root = schema.clone();
        if let Some(object) = root.as_object_mut() {
            object.insert("components".into(), self.document["components"].clone());
        } else {
            root = json!({"allOf": [schema], "components": self.document["components"]});
        }
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .unwrap_or_else(|error| panic!("the schema of {what} does not compile: {error}"));
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|error| format!("{} at {}", error, error.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{what} does not validate:\n{}\nanswer: {instance}",
            errors.join("\n")
        );
    }

    /// Records and validates one answer: its status is documented, its content type is the
    /// documented one, and a JSON body validates against the documented schema.
    fn check(&mut self, method: &str, pattern: &str, status: u16, content_type: &str, body: &[u8]) {
        let answer = self.answer(method, pattern, status);
        self.seen
            .entry((method.to_owned(), pattern.to_owned()))
            .or_default()
            .insert(status);
        let what = format!("{method} {pattern} → {status}");
        let Some(content) = answer["content"].as_object() else {
            assert!(body.is_empty(), "{what}: a body, but none is documented");
            return;
        };
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let (_, media) = content
            .iter()
            .find(|(documented, _)| documented.split(';').next().unwrap_or("").trim() == essence)
            .unwrap_or_else(|| panic!("{what}: content type {content_type} is not documented"));
        if essence == "application/json" {
            let instance: Value = serde_json::from_slice(body)
                .unwrap_or_else(|error| panic!("{what}: the body is not JSON: {error}"));
            self.validate(&media["schema"], &instance, &what);
        } else {
            assert!(
                std::str::from_utf8(body).is_ok(),
                "{what}: the body is not text"
            );
        }
    }
}

/// One request: method, concrete path, credentials, body, and the status it must get.
struct Call {
    method: Method,
    pattern: String,
    path: String,
    auth: Auth,
    body: Option<Body>,
    expect: u16,
}

enum Auth {
    Anonymous,
    Role(Role),
    Bearer(&'static str),
}

enum Body {
    Json(Value),
    Form(String),
}

fn call(method: Method, pattern: &str, path: &str, expect: u16) -> Call {
    Call {
        method,
        pattern: pattern.to_owned(),
        path: path.to_owned(),
        auth: Auth::Role(Role::Admin),
        body: None,
        expect,
    }
}

impl Call {
    fn under_base(mut self) -> Self {
        self.pattern = format!("{BASE}{}", self.pattern);
        self.path = format!("{BASE}{}", self.path);
        self
    }

    fn json(mut self, body: Value) -> Self {
        self.body = Some(Body::Json(body));
        self
    }

    fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }
}

/// Sends `call` (redirects not followed) and checks the answer; returns the JSON body.
async fn send(app: &TestApp, client: &reqwest::Client, checker: &mut Checker, call: Call) -> Value {
    let mut request = client.request(call.method.clone(), app.url(&call.path));
    request = match call.auth {
        Auth::Anonymous => request,
        Auth::Role(role) => request.bearer_auth(app.token(role)),
        Auth::Bearer(token) => request.bearer_auth(token),
    };
    request = match call.body {
        None => request,
        Some(Body::Json(body)) => request.json(&body),
        Some(Body::Form(form)) => request
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form),
    };
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.bytes().await.expect("body");
    assert_eq!(
        status,
        call.expect,
        "{} {}: {}",
        call.method,
        call.path,
        String::from_utf8_lossy(&body)
    );
    checker.check(
        call.method.as_str(),
        &call.pattern,
        status,
        &content_type,
        &body,
    );
    serde_json::from_slice(&body).unwrap_or(Value::Null)
}

/// Reads a live stream's first data event and validates it against the schema the document
/// gives its events (`x-events`).
async fn check_stream(app: &TestApp, checker: &mut Checker, pattern: &str, path: &str) {
    let mut stream = SseClient::connect(app, path, Some(&app.token(Role::Admin))).await;
    let answer = checker.answer("GET", pattern, stream.status);
    assert_eq!(stream.status, 200, "{path}");
    checker
        .seen
        .entry(("GET".to_owned(), pattern.to_owned()))
        .or_default()
        .insert(200);
    let event = stream
        .next_event(Duration::from_secs(10))
        .await
        .expect("a first event");
    let name = event.event.clone().unwrap_or_else(|| "message".to_owned());
    let schema = answer["x-events"][&name]["schema"].clone();
    assert!(
        !schema.is_null(),
        "{path}: event `{name}` is not in x-events"
    );
    checker.validate(&schema, &event.json(), &format!("{path} event {name}"));
}

#[tokio::test]
async fn the_document_describes_exactly_the_declared_routes_with_their_roles() {
    let app = TestApp::spawn("openapi-routes").await;
    let document = served(&app).await;
    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(document, server::openapi::document(), "served as built");

    let declared: BTreeMap<(String, String), &'static str> = server::routes::jobs::patterns()
        .into_iter()
        .map(|route| {
            (
                (route.method.to_ascii_lowercase(), route.pattern),
                route.min_role.as_str(),
            )
        })
        .collect();
    let mut documented = BTreeMap::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            // The handler's doc comment is the operation's summary.
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{method} {path} has no summary: give its handler a doc comment"
            );
            if path.starts_with(BASE) {
                let role = operation["x-min-role"].as_str().unwrap_or("none");
                documented.insert((method.clone(), path.clone()), role);
                assert!(
                    operation["responses"]["401"].is_object()
                        && operation["responses"]["403"].is_object()
                        && operation["security"].is_array(),
                    "{method} {path} lacks its security or its 401/403"
                );
            }
        }
    }
    assert_eq!(
        documented, declared,
        "the guarded routes and their roles, documented vs declared"
    );

    // Every `$ref` resolves.
    let text = document.to_string();
    for reference in text.split("\"$ref\":\"#").skip(1) {
        let pointer = &reference[..reference.find('"').expect("end of the reference")];
        assert!(
            document.pointer(pointer).is_some(),
            "{pointer} does not resolve"
        );
    }

    // The routes outside the API's base are served where the document says: none of them
    // falls through to the JSON 404 for unknown API paths or the page router.
    for (path, item) in document["paths"].as_object().expect("paths") {
        if path.starts_with(BASE) {
            continue;
        }
        for method in item.as_object().expect("path item").keys() {
            let method =
                Method::from_bytes(method.to_ascii_uppercase().as_bytes()).expect("method");
            let (status, body) = app.anonymous(method.clone(), path).await;
            assert!(
                status != 405
                    && !(status == 404
                        && body["message"]
                            .as_str()
                            .is_some_and(|m| m.starts_with("no API route"))),
                "{method} {path} is documented but not routed: {status} {body}"
            );
        }
    }
}

#[tokio::test]
async fn real_answers_of_every_route_validate_against_the_document() {
    // A receiver that takes every notification.
    let receiver = axum::Router::new().fallback(|| async { "ok" });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hook = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, receiver).await;
    });

    let prefix = unique_prefix("openapi-answers");
    let mut options = TestOptions::new(&prefix);
    options.collector = true;
    options.stuck_after = Duration::from_millis(1);
    options.metrics_token = Some(SCRAPE_TOKEN.into());
    options.bulk_batch = 1;
    options.bulk_pause = Duration::from_secs(30);
    options.alerts = Some(format!(
        r#"
[[channels]]
name = "hook"
type = "slack"
url = "{hook}"

[[rules]]
name = "DocsBacklog"
condition = {{ kind = "backlog", above = 0 }}
queues = ["docs"]
for = "0s"
severity = "warning"
channels = ["hook"]
"#
    ));
    let app = TestApp::spawn_with(options).await;
    let _world = app
        .world(json!([
            {"name": "docs", "completed": 3, "failed": 4, "delayed": 2, "waiting": 3,
             "prioritized": 2, "active": 1},
            {"name": "legacy", "bullmq": 5, "completed": 2, "failed": 1, "waiting": 1, "delayed": 1}
        ]))
        .await;
    fixture(
        "schedulers",
        &prefix,
        json!([{"name": "docs", "schedulers": [
            {"id": "nightly", "repeat": {"pattern": "0 3 * * *", "tz": "Europe/Paris"},
             "template": {"name": "report", "data": {"day": 1}}}]}]),
    )
    .await;
    let flow = fixture_raw(
        "flows",
        json!({"redis": redis_url(), "prefix": prefix, "run": false, "flows": [
            {"name": "book", "queue": "docs", "children": [{"name": "page", "queue": "legacy"}]}]}),
    )
    .await;
    let parent = flow["ids"]["book"].as_str().expect("flow id").to_owned();
    let logged = fixture_raw(
        "logjob",
        json!({"redis": redis_url(), "prefix": prefix, "queue": "docs", "lines": 3}),
    )
    .await["id"]
        .as_str()
        .expect("logged id")
        .to_owned();
    app.rediscover().await;

    let mut checker = Checker {
        document: served(&app).await,
        seen: BTreeMap::new(),
    };
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    // Job ids of each state, read through the API itself (and checked on the way).
    let mut ids: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for state in ["failed", "completed", "delayed"] {
        let page = send(
            &app,
            &client,
            &mut checker,
            call(
                Method::GET,
                "/queue/{queue_name}/jobs",
                &format!("/queue/docs/jobs?state={state}&limit=10"),
                200,
            )
            .under_base(),
        )
        .await;
        ids.insert(
            state,
            page["jobs"]
                .as_array()
                .expect("jobs")
                .iter()
                .map(|job| job["id"].as_str().expect("id").to_owned())
                .collect(),
        );
    }
    let failed = &ids["failed"];
    let completed = &ids["completed"];
    // The world's delayed jobs (the scheduler's next job is delayed too).
    let delayed: Vec<&String> = ids["delayed"]
        .iter()
        .filter(|id| !id.starts_with("repeat:"))
        .collect();
    assert!(
        failed.len() == 4 && completed.len() == 3 && delayed.len() == 2,
        "{ids:?}"
    );

    // The firing alert, before reading the alerts (the rule's backlog holds at once).
    eventually(Duration::from_secs(20), "the DocsBacklog alert", || async {
        let (_, alerts) = app
            .get_json(&format!("{BASE}/alerts"), Role::Moderator)
            .await;
        (alerts.to_string().contains("DocsBacklog")).then_some(())
    })
    .await;
    // The collector has read the queues, so the history has buckets.
    eventually(Duration::from_secs(20), "the history's buckets", || async {
        let (_, history) = app
            .get_json(&format!("{BASE}/history"), Role::Moderator)
            .await;
        history["points"]
            .as_array()
            .is_some_and(|points| points.iter().any(|p| p["completed"].as_u64() > Some(0)))
            .then_some(())
    })
    .await;

    let job = |id: &str, tail: &str| format!("/queue/docs/jobs/{id}{tail}");
    let calls = vec![
        call(Method::GET, "/queues", "/queues", 200),
        call(Method::GET, "/metrics", "/metrics", 200),
        call(Method::GET, "/trends", "/trends?period=7d", 200),
        call(
            Method::GET,
            "/history",
            "/history?queue=docs&step=minute",
            200,
        ),
        call(Method::GET, "/alerts/stuck", "/alerts/stuck?limit=10", 200),
        call(Method::GET, "/alerts", "/alerts", 200),
        call(Method::GET, "/alerts/rules", "/alerts/rules", 200),
        call(Method::GET, "/alerts/deliveries", "/alerts/deliveries", 200),
        call(Method::GET, "/alerts/silences", "/alerts/silences", 200),
        call(Method::GET, "/alerts/playbooks", "/alerts/playbooks", 200),
        call(
            Method::GET,
            "/queue/{queue_name}/jobs",
            "/queue/docs/jobs?search=name:report",
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/jobs",
            "/queue/legacy/jobs?state=waiting",
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/jobs/{job_id}",
            &job(&failed[0], ""),
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/jobs/{job_id}",
            &job(&parent, ""),
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/jobs/{job_id}/data",
            &job(&failed[0], "/data"),
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/jobs/{job_id}/returnvalue",
            &job(&completed[0], "/returnvalue"),
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/jobs/{job_id}/logs",
            &job(&logged, "/logs?count=2"),
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/jobs/{job_id}/flow",
            &job(&parent, "/flow"),
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/priorities",
            "/queue/docs/priorities",
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/workers",
            "/queue/docs/workers",
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/schedulers",
            "/queue/docs/schedulers",
            200,
        ),
        call(
            Method::GET,
            "/queue/{queue_name}/limits",
            "/queue/docs/limits",
            200,
        ),
        call(Method::GET, "/jobs", "/jobs?search=docs", 200),
        call(Method::GET, "/failures", "/failures?since=1h", 200),
        call(Method::POST, "/queues/refresh", "/queues/refresh", 200),
        call(Method::POST, "/queues/bulk", "/queues/bulk", 200)
            .json(json!({"action": "pause", "dryRun": true})),
        call(
            Method::PATCH,
            "/queue/{queue_name}/pause",
            "/queue/legacy/pause",
            200,
        ),
        call(
            Method::PATCH,
            "/queue/{queue_name}/resume",
            "/queue/legacy/resume",
            200,
        ),
        call(
            Method::PUT,
            "/queue/{queue_name}/limits",
            "/queue/docs/limits",
            200,
        )
        .json(json!({"concurrency": 3, "rateLimit": {"max": 10, "duration": 1000}})),
        call(
            Method::DELETE,
            "/queue/{queue_name}/clear",
            "/queue/legacy/clear?type=completed",
            200,
        ),
        call(
            Method::POST,
            "/retry/{queue_name}/{job_id}",
            &format!("/retry/docs/{}", failed[0]),
            200,
        )
        .json(json!({"priority": 2})),
        call(
            Method::POST,
            "/queue/{queue_name}/jobs/{job_id}/retry",
            &job(&failed[1], "/retry"),
            200,
        ),
        call(
            Method::POST,
            "/queue/{queue_name}/jobs/{job_id}/promote",
            &job(delayed[0], "/promote"),
            200,
        ),
        call(
            Method::DELETE,
            "/queue/{queue_name}/jobs/{job_id}",
            &job(&completed[1], ""),
            200,
        ),
        call(
            Method::POST,
            "/queue/{queue_name}/bulk",
            "/queue/docs/bulk",
            200,
        )
        .json(json!({"action": "remove", "target": {"ids": [failed[2]]}})),
        call(Method::GET, "/audit", "/audit?count=5", 200),
        call(Method::POST, "/alerts/test", "/alerts/test", 200).json(json!({"channel": "hook"})),
        // Errors, in the one shape, each where the document lists it.
        call(
            Method::GET,
            "/queue/{queue_name}/workers",
            "/queue/no-such-queue/workers",
            404,
        ),
        call(Method::GET, "/trends", "/trends?period=1y", 400),
        call(Method::GET, "/queues", "/queues", 401).auth(Auth::Anonymous),
        call(
            Method::PATCH,
            "/queue/{queue_name}/pause",
            "/queue/docs/pause",
            403,
        )
        .auth(Auth::Role(Role::Moderator)),
        call(
            Method::POST,
            "/queue/{queue_name}/jobs/{job_id}/promote",
            &job(&completed[2], "/promote"),
            409,
        ),
        call(
            Method::PUT,
            "/queue/{queue_name}/limits",
            "/queue/docs/limits",
            400,
        )
        .json(json!({"concurrency": 0})),
    ];
    for one in calls {
        send(&app, &client, &mut checker, one.under_base()).await;
    }

    // A bulk operation started, read, listed and cancelled: one job per batch and a long
    // pause between batches keep it running until it is cancelled.
    let failed_target = json!({"action": "remove", "target": {"state": "failed"}});
    let preview = send(
        &app,
        &client,
        &mut checker,
        call(
            Method::POST,
            "/queue/{queue_name}/bulk",
            "/queue/docs/bulk",
            200,
        )
        .json(failed_target.clone())
        .under_base(),
    )
    .await;
    let count = preview["count"].as_u64().expect("count");
    assert!(count >= 2, "{preview}");
    let mut run = failed_target;
    run["dryRun"] = json!(false);
    run["expect"] = json!(count);
    let started = send(
        &app,
        &client,
        &mut checker,
        call(
            Method::POST,
            "/queue/{queue_name}/bulk",
            "/queue/docs/bulk",
            202,
        )
        .json(run)
        .under_base(),
    )
    .await;
    let operation = started["operationId"]
        .as_str()
        .expect("operation id")
        .to_owned();
    for one in [
        call(Method::GET, "/operations", "/operations", 200),
        call(
            Method::GET,
            "/operations/{operation_id}",
            &format!("/operations/{operation}"),
            200,
        ),
        call(
            Method::DELETE,
            "/operations/{operation_id}",
            &format!("/operations/{operation}"),
            200,
        ),
        call(
            Method::GET,
            "/operations/{operation_id}",
            "/operations/0123456789abcdef",
            404,
        ),
    ] {
        send(&app, &client, &mut checker, one.under_base()).await;
    }

    // A silence made and ended.
    let silence = send(
        &app,
        &client,
        &mut checker,
        call(Method::POST, "/alerts/silences", "/alerts/silences", 200)
            .json(json!({"matchers": {"alertname": "DocsBacklog"}, "duration": "1h", "comment": "documented"}))
            .under_base(),
    )
    .await;
    let silence = silence["id"].as_str().expect("silence id").to_owned();
    send(
        &app,
        &client,
        &mut checker,
        call(
            Method::DELETE,
            "/alerts/silences/{silence_id}",
            &format!("/alerts/silences/{silence}"),
            200,
        )
        .under_base(),
    )
    .await;

    // The live streams' first events.
    check_stream(
        &app,
        &mut checker,
        &format!("{BASE}/live"),
        &format!("{BASE}/live"),
    )
    .await;
    check_stream(
        &app,
        &mut checker,
        &format!("{BASE}/live"),
        &format!("{BASE}/live?delta=true"),
    )
    .await;
    check_stream(
        &app,
        &mut checker,
        &format!("{BASE}/queue/{{queue_name}}/live"),
        &format!("{BASE}/queue/docs/live"),
    )
    .await;

    // The routes outside the API's base.
    for one in [
        call(Method::GET, "/healthz", "/healthz", 200).auth(Auth::Anonymous),
        call(Method::GET, "/readyz", "/readyz", 200).auth(Auth::Anonymous),
        call(Method::GET, "/metrics", "/metrics", 200).auth(Auth::Bearer(SCRAPE_TOKEN)),
        call(Method::GET, "/metrics", "/metrics", 401).auth(Auth::Anonymous),
        call(
            Method::GET,
            "/api/v1/openapi.json",
            "/api/v1/openapi.json",
            200,
        )
        .auth(Auth::Anonymous),
        call(Method::POST, "/auth/logout", "/auth/logout", 303).auth(Auth::Anonymous),
    ] {
        send(&app, &client, &mut checker, one).await;
    }
    let mut sign_in =
        call(Method::POST, "/auth/session", "/auth/session", 303).auth(Auth::Anonymous);
    sign_in.body = Some(Body::Form(format!("token={}", app.token(Role::Moderator))));
    send(&app, &client, &mut checker, sign_in).await;

    // Every documented operation was called.
    let mut missing = Vec::new();
    for (path, item) in checker.document["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            let key = (method.to_ascii_uppercase(), path.clone());
            if !checker.seen.contains_key(&key) {
                missing.push(format!("{} {path}", key.0));
            }
        }
    }
    assert!(missing.is_empty(), "not called: {missing:?}");
}
