//! What other web pages can and cannot do: security headers on pages and API answers, the
//! cross-site guard (a forged form post changes nothing, as BullMQ confirms), and the CORS
//! allow-list for embedding the monitor elsewhere.

use crate::helpers::{fixture, unique_prefix, TestApp, TestOptions};
use app::role::Role;
use serde_json::{json, Value};

const EMBEDDER: &str = "https://ops.example.com";

async fn is_paused(app: &TestApp, queue: &str) -> bool {
    let report = fixture("counts", &app.prefix, json!([{"name": queue}])).await;
    report["queues"][queue]["isPaused"] == true
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn pages_carry_a_csp_with_their_script_nonce_and_refuse_framing() {
    let app = TestApp::spawn("security-headers").await;
    let response = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("page");
    assert_eq!(response.status(), 200);
    let csp = header(&response, "content-security-policy").to_owned();
    assert_eq!(header(&response, "x-frame-options"), "DENY");
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(header(&response, "referrer-policy"), "same-origin");
    let html = response.text().await.expect("html");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
    assert!(!csp.contains("'unsafe-eval'"), "{csp}");
    // Every inline script of the page carries the nonce the policy allows.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    let scripts = html.matches("<script").count();
    assert!(scripts > 0, "{html}");
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        scripts,
        "{html}"
    );
    // A new nonce per page.
    let again = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("page");
    assert_ne!(
        header(&again, "content-security-policy"),
        csp,
        "the nonce changes per response"
    );

    // API answers get the strictest policy.
    let (_, _) = app
        .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
        .await;
    let api = app
        .client
        .get(app.url("/api/v1/admin/jobs/metrics"))
        .bearer_auth(app.token(Role::Moderator))
        .send()
        .await
        .expect("api");
    assert_eq!(
        header(&api, "content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(header(&api, "x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn a_cross_site_form_post_changes_nothing() {
    let app = TestApp::spawn("security-csrf").await;
    let _world = app
        .world(json!([{"name": "mails", "bullmq": 6, "waiting": 2}]))
        .await;
    let cookie = format!("monitor_session={}", app.token(Role::Admin));
    let own_origin = app.address.clone();
    // What a browser sends for a form on another site (or a sibling subdomain, which
    // `SameSite` does not stop) posting to the server function, with the admin's cookie.
    let forged = |origin: Option<&str>, fetch_site: Option<&str>| {
        let mut request = app
            .client
            .post(app.url("/api/fn/pause"))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body("queue_name=mails&pause=true");
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        if let Some(site) = fetch_site {
            request = request.header("sec-fetch-site", site);
        }
        request
    };
    for (origin, site) in [
        (Some("https://evil.example"), Some("cross-site")),
        (Some("https://sub.127.0.0.1.nip.io"), Some("same-site")),
        (Some("null"), None),
        (None, Some("cross-site")),
    ] {
        let response = forged(origin, site).send().await.expect("post");
        assert_eq!(response.status(), 403, "{origin:?} {site:?}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "cross_site_refused", "{body}");
        assert!(
            !is_paused(&app, "mails").await,
            "{origin:?}: BullMQ says paused"
        );
    }
    // The REST control routes too, even with a valid bearer token.
    let response = app
        .client
        .patch(app.url("/api/v1/admin/jobs/queue/mails/pause"))
        .bearer_auth(app.token(Role::Admin))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 403);
    assert!(!is_paused(&app, "mails").await);

    // The dashboard's own page (same origin) and clients without a browser's headers work.
    let response = forged(Some(&own_origin), Some("same-origin"))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert!(is_paused(&app, "mails").await);
    let response = app
        .client
        .patch(app.url("/api/v1/admin/jobs/queue/mails/resume"))
        .bearer_auth(app.token(Role::Admin))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    assert!(!is_paused(&app, "mails").await);
}

#[tokio::test]
async fn cors_answers_only_the_allowed_origins() {
    let mut options = TestOptions::new(&unique_prefix("security-cors"));
    options.cors_origins = vec![EMBEDDER.into()];
    let app = TestApp::spawn_with(options).await;
    let preflight = |origin: &str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                app.url("/api/v1/admin/jobs/metrics"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header("access-control-request-headers", "authorization")
    };
    let allowed = preflight(EMBEDDER).send().await.expect("preflight");
    assert!(allowed.status().is_success(), "{}", allowed.status());
    assert_eq!(header(&allowed, "access-control-allow-origin"), EMBEDDER);
    assert!(header(&allowed, "access-control-allow-headers")
        .to_ascii_lowercase()
        .contains("authorization"));
    assert!(header(&allowed, "access-control-allow-methods").contains("PATCH"));
    let other = preflight("https://evil.example")
        .send()
        .await
        .expect("preflight");
    assert_eq!(header(&other, "access-control-allow-origin"), "");

    // The real request from the embedding page: answered, readable there, and an action is
    // allowed from it (it is on the list).
    let response = app
        .client
        .get(app.url("/api/v1/admin/jobs/metrics"))
        .bearer_auth(app.token(Role::Moderator))
        .header("origin", EMBEDDER)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), EMBEDDER);
    let _world = app
        .world(json!([{"name": "mails", "bullmq": 6, "waiting": 1}]))
        .await;
    let response = app
        .client
        .patch(app.url("/api/v1/admin/jobs/queue/mails/pause"))
        .bearer_auth(app.token(Role::Admin))
        .header("origin", EMBEDDER)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 200);
    assert!(is_paused(&app, "mails").await);
    // Streams too (the embedded monitor reads them with `fetch` and a bearer token).
    let stream = app
        .client
        .get(app.url("/api/v1/admin/jobs/live"))
        .bearer_auth(app.token(Role::Moderator))
        .header("origin", EMBEDDER)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);
    assert_eq!(header(&stream, "access-control-allow-origin"), EMBEDDER);
}

/// Regression (issue 15, defect 8): an allowed origin's page could act with the session cookie
/// the browser attaches by itself (a sibling subdomain is the same site, so `SameSite` lets it
/// through). Cookies now authenticate this server's own pages only; another origin's requests
/// must carry a bearer token. BullMQ says whether the pause happened.
#[tokio::test]
async fn another_origin_cannot_act_with_the_session_cookie() {
    let mut options = TestOptions::new(&unique_prefix("security-cookie"));
    options.cors_origins = vec![EMBEDDER.into()];
    let app = TestApp::spawn_with(options).await;
    let _world = app
        .world(json!([{"name": "mails", "bullmq": 6, "waiting": 1}]))
        .await;
    let cookie = format!("monitor_session={}", app.token(Role::Admin));
    let pause = || {
        app.client
            .patch(app.url("/api/v1/admin/jobs/queue/mails/pause"))
            .header("cookie", &cookie)
    };

    let response = pause()
        .header("origin", EMBEDDER)
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("json");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Bearer"),
        "{body}"
    );
    assert!(!is_paused(&app, "mails").await, "BullMQ sees no pause");
    // Reads from there get no cookie either.
    let read = app
        .client
        .get(app.url("/api/v1/admin/jobs/metrics"))
        .header("cookie", &cookie)
        .header("origin", EMBEDDER)
        .send()
        .await
        .expect("get");
    assert_eq!(read.status(), 401);

    // The server's own page (same origin) acts with its cookie, as always.
    let own_origin = app.address.clone();
    let response = pause()
        .header("origin", own_origin.as_str())
        .send()
        .await
        .expect("patch");
    assert_eq!(response.status(), 200);
    assert!(is_paused(&app, "mails").await);
}
