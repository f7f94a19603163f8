//! Sign-in with a pasted token, the session cookie, the page guard and the server-rendered
//! dashboard.

use crate::helpers::TestApp;
use app::role::Role;
use serde_json::json;

pub(crate) async fn sign_in(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auth/session"))
        .form(&[("token", token)])
        .send()
        .await
        .expect("request")
}

fn location(response: &reqwest::Response) -> &str {
    response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub(crate) fn session_cookie(response: &reqwest::Response) -> String {
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("a Set-Cookie header")
        .to_owned();
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert!(set_cookie.contains("Path=/"), "{set_cookie}");
    set_cookie.split(';').next().expect("name=value").to_owned()
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_the_login_page() {
    let app = TestApp::spawn("guard").await;
    let response = app.client.get(app.url("/")).send().await.expect("request");
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");

    let login = app
        .client
        .get(app.url("/login"))
        .send()
        .await
        .expect("request");
    assert_eq!(login.status(), 200);
    let html = login.text().await.expect("html");
    assert!(html.contains("action=\"/auth/session\""), "{html}");
}

/// Pages are picked from the path alone (no client-side router): the server renders the one the
/// path names, reads its query itself, and answers any other spelling 404 without a page.
#[tokio::test]
async fn pages_are_exactly_their_paths_and_read_their_query_on_the_server() {
    let app = TestApp::spawn("pages").await;
    let get = |path: &'static str| {
        let request = app.client.get(app.url(path));
        async move { request.send().await.expect("request") }
    };
    let expired = get("/login?error=session_expired").await;
    assert_eq!(expired.status(), 200);
    let html = expired.text().await.expect("html");
    assert!(html.contains("Your session has expired"), "{html}");
    // Unknown codes are not echoed.
    let html = get("/login?error=%3Cb%3Ehi")
        .await
        .text()
        .await
        .expect("html");
    assert!(!html.contains("role=\"alert\""), "{html}");
    assert!(!html.contains("<b>hi"), "{html}");
    for path in ["/nope", "/login/", "//", "/embed/x"] {
        let response = get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        let html = response.text().await.expect("html");
        assert!(html.contains("Page not found."), "{path}: {html}");
        assert!(!html.contains("action=\"/auth/session\""), "{path}: {html}");
    }
}

#[tokio::test]
async fn signing_in_sets_an_httponly_cookie_that_renders_the_dashboard_with_real_counts() {
    let app = TestApp::spawn("signin").await;
    let _world = app
        .world(json!([{"name": "mailer", "completed": 3, "waiting": 2}]))
        .await;

    let response = sign_in(&app, &app.token(Role::Moderator)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/");
    let cookie = session_cookie(&response);

    let page = app
        .client
        .get(app.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    // First paint already has the numbers: the row for the queue with its counts.
    assert!(html.contains("data-queue=\"mailer\""), "{html}");
    assert!(html.contains("data-state=\"completed\">3<"), "{html}");
    assert!(html.contains("data-state=\"waiting\">2<"), "{html}");
    assert!(html.contains("MODERATOR"), "{html}");

    // The cookie also authenticates server functions (what the hydrated page calls).
    let overview = app
        .client
        .post(app.url("/api/fn/overview"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .expect("request");
    assert_eq!(overview.status(), 200);
}

#[tokio::test]
async fn bad_tokens_are_refused_at_sign_in_with_a_reason() {
    let app = TestApp::spawn("signin-bad").await;
    let response = sign_in(&app, "garbage").await;
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?error=invalid_token");
    assert!(response.headers().get("set-cookie").is_none());

    let response = sign_in(&app, "").await;
    assert_eq!(location(&response), "/login?error=missing_token");

    let page = app
        .client
        .get(app.url("/login?error=invalid_token"))
        .send()
        .await
        .expect("request");
    let html = page.text().await.expect("html");
    assert!(html.contains("was not accepted"), "{html}");
}

#[tokio::test]
async fn signing_out_clears_the_cookie() {
    let app = TestApp::spawn("signout").await;
    let response = app
        .client
        .post(app.url("/auth/logout"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 303);
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(set_cookie.starts_with("monitor_session=;"), "{set_cookie}");
    assert!(set_cookie.contains("Max-Age=0"), "{set_cookie}");
}

#[tokio::test]
async fn an_expired_session_cookie_redirects_with_a_reason() {
    let app = TestApp::spawn("expired").await;
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({"role": "ADMIN", "exp": chrono::Utc::now().timestamp() - 3600}),
        &jsonwebtoken::EncodingKey::from_secret(crate::helpers::SECRET.as_bytes()).expect("key"),
    )
    .expect("token");
    let response = app
        .client
        .get(app.url("/"))
        .header("cookie", format!("monitor_session={expired}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login?error=session_expired");
}

/// Regression (issue 15, defect 10): `Authorization: bearer …` in another case than `Bearer`
/// was refused, though HTTP auth schemes are case-insensitive.
#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_case() {
    let app = TestApp::spawn("bearer-case").await;
    let token = app.token(Role::Moderator);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let response = app
            .client
            .get(app.url("/api/v1/admin/jobs/queues"))
            .header("authorization", format!("{scheme} {token}"))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{scheme}");
    }
}

/// Regression (issue 15, defect 10): behind HTTPS the session cookie is `__Host-` prefixed and
/// `Secure`, so no sibling subdomain can plant one; a cookie under the plain name is then no
/// session at all.
#[tokio::test]
async fn behind_https_the_session_cookie_is_host_prefixed_and_secure() {
    let mut options = crate::helpers::TestOptions::new(&crate::helpers::unique_prefix("secure"));
    options.cookie_secure = true;
    let app = TestApp::spawn_with(options).await;
    let token = app.token(Role::Moderator);
    let response = sign_in(&app, &token).await;
    assert_eq!(response.status(), 303);
    let set_cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .expect("Set-Cookie")
        .to_owned();
    assert!(
        set_cookie.starts_with("__Host-monitor_session="),
        "{set_cookie}"
    );
    assert!(set_cookie.contains("; Secure") && set_cookie.contains("Path=/"));
    assert!(!set_cookie.contains("Domain"), "{set_cookie}");
    let page = |cookie: String| app.client.get(app.url("/")).header("cookie", cookie).send();
    let planted = page(format!("monitor_session={token}"))
        .await
        .expect("request");
    assert_eq!(
        (planted.status().as_u16(), location(&planted)),
        (303, "/login")
    );
    let own = page(format!("__Host-monitor_session={token}"))
        .await
        .expect("request");
    assert_eq!(own.status(), 200);
}

/// Regression (issue 15, defect 10): signing out cleared the cookie but the streams the session
/// had open went on. They now end with an `auth` event; other sessions' streams go on.
#[tokio::test]
async fn signing_out_ends_the_sessions_live_streams() {
    use crate::helpers::SseClient;
    let app = TestApp::spawn("signout-streams").await;
    let mine = app.token(Role::Moderator);
    let other = app.token_as(Role::Moderator, "someone-else");
    let session = format!("monitor_session={mine}");
    let open = |cookie: Option<String>, bearer: Option<String>| {
        let mut request = app
            .client
            .get(app.url("/api/v1/admin/jobs/live"))
            .header("accept", "text/event-stream");
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let mut streams = Vec::new();
    for response in [
        open(Some(session.clone()), None).await.expect("stream"),
        open(None, Some(other.clone())).await.expect("stream"),
    ] {
        assert_eq!(response.status(), 200);
        let mut stream = SseClient::from_response(response);
        stream
            .next_event(std::time::Duration::from_secs(5))
            .await
            .expect("a first snapshot");
        streams.push(stream);
    }

    let out = app
        .client
        .post(app.url("/auth/logout"))
        .header("cookie", &session)
        .send()
        .await
        .expect("request");
    assert_eq!(out.status(), 303);

    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let ended = loop {
        let event = streams[0]
            .next_event(std::time::Duration::from_secs(5))
            .await
            .expect("an event before the end");
        if event.event.as_deref() == Some("auth") {
            break event;
        }
        assert!(std::time::Instant::now() < until, "no auth event");
    };
    assert!(ended.data.contains("signed out"), "{}", ended.data);
    assert!(
        streams[0]
            .next_event(std::time::Duration::from_secs(5))
            .await
            .is_none(),
        "the stream ended"
    );
    // The other session's stream goes on; the signed-out one cannot open another here.
    assert!(streams[1]
        .next_event(std::time::Duration::from_secs(5))
        .await
        .is_some());
    assert_eq!(
        open(Some(session), None).await.expect("request").status(),
        401
    );
}
