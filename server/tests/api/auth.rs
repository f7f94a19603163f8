//! The auth table: every protected route against missing, broken and hostile tokens, and every
//! role against the route's minimum role. Routes come from `server::routes::PROTECTED_ROUTES`,
//! so a route added there is covered here without editing this file.

use crate::helpers::{TestApp, SECRET};
use app::role::Role;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use server::routes::{protected_routes, ProtectedRoute};

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sign_hs256(claims: &Value, secret: &str) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes()).expect("key");
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).expect("sign")
}

fn b64(bytes: &[u8]) -> String {
    // URL-safe base64 without padding, as JWTs use.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Tokens that must all be refused with 401.
fn hostile_tokens() -> Vec<(&'static str, String)> {
    let good_claims = json!({"sub": "mallory", "role": "SUPER_ADMIN", "exp": now() + 600});
    let valid = sign_hs256(&good_claims, SECRET);
    let mut parts: Vec<&str> = valid.split('.').collect();
    let tampered_payload = b64(
        json!({"sub": "mallory", "role": "SUPER_ADMIN", "exp": now() + 99999})
            .to_string()
            .as_bytes(),
    );
    parts[1] = &tampered_payload;
    let tampered = parts.join(".");
    let alg_none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(good_claims.to_string().as_bytes())
    );
    vec![
        (
            "expired",
            sign_hs256(&json!({"role": "ADMIN", "exp": now() - 3600}), SECRET),
        ),
        (
            "wrong key",
            sign_hs256(&good_claims, "another-secret-0123456789abcdef"),
        ),
        ("alg none", alg_none),
        ("tampered payload", tampered),
        ("no exp", sign_hs256(&json!({"role": "ADMIN"}), SECRET)),
        (
            "not yet valid",
            sign_hs256(
                &json!({"role": "ADMIN", "exp": now() + 7200, "nbf": now() + 3600}),
                SECRET,
            ),
        ),
        ("garbage", "not-a-jwt".to_owned()),
        ("oversized", "a".repeat(9000)),
    ]
}

async fn call(app: &TestApp, route: &ProtectedRoute, token: Option<&str>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(route.method.as_bytes()).expect("method");
    let mut request = app.client.request(method, app.url(&route.path));
    if route.path.starts_with("/api/fn/") {
        request = request
            .header("content-type", "application/x-www-form-urlencoded")
            .body("");
    }
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let streaming = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if streaming {
        // A live stream never ends; its status is the answer.
        return (status, Value::Null);
    }
    let text = response.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str, context: &str) {
    assert_eq!(status, expected_status, "{context}: {body}");
    assert_eq!(body["error"], code, "{context}: {body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{context}: message missing in {body}"
    );
}

#[tokio::test]
async fn every_protected_route_refuses_missing_and_hostile_tokens() {
    let app = TestApp::spawn("auth-hostile").await;
    for route in &protected_routes() {
        let context = format!("{} {} without token", route.method, route.path);
        let (status, body) = call(&app, route, None).await;
        assert_error(status, &body, 401, "unauthorized", &context);
        for (label, token) in hostile_tokens() {
            let context = format!("{} {} with {label} token", route.method, route.path);
            let (status, body) = call(&app, route, Some(&token)).await;
            assert_error(status, &body, 401, "unauthorized", &context);
            assert!(
                !body.to_string().contains(SECRET),
                "{context}: the secret leaked"
            );
        }
    }
}

#[tokio::test]
async fn a_valid_token_without_a_monitor_role_is_forbidden_everywhere() {
    let app = TestApp::spawn("auth-norole").await;
    let token = sign_hs256(
        &json!({"sub": "eve", "role": "USER", "exp": now() + 600}),
        SECRET,
    );
    for route in &protected_routes() {
        let (status, body) = call(&app, route, Some(&token)).await;
        assert_error(
            status,
            &body,
            403,
            "forbidden",
            &format!("{} {} with role USER", route.method, route.path),
        );
    }
}

#[tokio::test]
async fn each_role_reaches_exactly_the_routes_at_or_below_it() {
    let app = TestApp::spawn("auth-roles").await;
    for route in &protected_routes() {
        for role in Role::ALL {
            let context = format!("{} {} as {role}", route.method, route.path);
            let (status, body) = call(&app, route, Some(&app.token(role))).await;
            if role >= route.min_role {
                // Authorized: anything but 401/403 and no server error (a per-queue route's
                // sample queue does not exist, so 404 is a pass).
                assert!(
                    status != 401 && status != 403 && status < 500,
                    "{context}: expected to pass auth, got {status} {body}"
                );
            } else {
                assert_error(status, &body, 403, "forbidden", &context);
            }
        }
    }
}

#[tokio::test]
async fn the_roles_array_claim_is_honoured() {
    let app = TestApp::spawn("auth-roles-array").await;
    let token = sign_hs256(
        &json!({"sub": "ann", "roles": ["USER", "ADMIN"], "exp": now() + 600}),
        SECRET,
    );
    let routes = protected_routes();
    let route = routes
        .iter()
        .find(|r| r.min_role == Role::Admin && r.path.ends_with("/audit"))
        .expect("an ADMIN route exists");
    let (status, body) = call(&app, route, Some(&token)).await;
    assert!((200..300).contains(&status), "{status} {body}");
}
