//! Hostile input over every route: generated paths, queries and bodies (unicode, `:`/`*`/`{}` in
//! queue names, ids that are not ids, wrong types, deep and huge JSON, bytes that are not JSON).
//! Every answer must be a 2xx or a 4xx with the JSON error shape, never a 5xx, and the server
//! must never touch a Redis key outside its two prefixes: it runs as a Redis ACL user that may
//! only use `<prefix>:*` and `<prefix>-monitor:*`, so any other key (read or written, by a command
//! or inside a script) is refused by Redis and logged in `ACL LOG`, which the test reads.

use crate::helpers::{redis_cli, redis_url, unique_prefix, TestApp, TestOptions};
use app::role::Role;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// A small deterministic generator (xorshift64*), so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

/// Queue names and job ids as an attacker would write them (already fit for a URL path, or
/// percent-encoded so that they reach the handler as written).
const SEGMENTS: &[&str] = &[
    "mails",
    "mails:1",
    "a%3Ab",
    "*",
    "%2A",
    "{bull}",
    "%7Bx%7D",
    "q%3F",
    "%00",
    "%0A",
    "%0D%0AX-Injected:%201",
    "%2F",
    "..",
    "%2E%2E%2F%2E%2E",
    "%C3%BC",
    "%F0%9F%98%80",
    "%FF%FE",
    "a%20b",
    "%25",
    "%5B%5D",
    "'%20OR%201=1",
    "__proto__",
    "1e999",
    "-1",
    "0x1f",
    "18446744073709551616",
    "repeat:",
    "",
];

/// Query values.
const VALUES: &[&str] = &[
    "",
    "24h",
    "7d",
    "30d",
    "1y",
    "-1",
    "99999999999999999999999",
    "NaN",
    "2026-13-45T99:99:99Z",
    "2026-11-28T10:00:00Z",
    "0",
    "minute",
    "hour",
    "day",
    "week",
    "completed",
    "failed",
    "all",
    "waiting",
    "*",
    "%00",
    "a%3Ab",
    "%F0%9F%98%80",
    "%FF",
];

/// Request bodies.
fn bodies(rng: &mut Rng) -> Vec<u8> {
    let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
    let deep_object = format!("{}1{}", "{\"a\":".repeat(2_000), "}".repeat(2_000));
    let choices: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{}".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\"text\"".to_vec(),
        b"{\"priority\": \"high\"}".to_vec(),
        b"{\"priority\": -5, \"attempts\": 1e308}".to_vec(),
        b"{\"attempts\": 18446744073709551616}".to_vec(),
        b"{\"backoff\": {\"type\": \"\\u0000\", \"delay\": -1}}".to_vec(),
        b"{\"dataOverrides\": [1, 2]}".to_vec(),
        b"{\"dataOverrides\": {\"__proto__\": {\"x\": 1}}}".to_vec(),
        b"{\"removeOriginal\": \"yes\"}".to_vec(),
        b"{\"unknown\": true}".to_vec(),
        b"{\"priority\": 1, \"priority\": 2}".to_vec(),
        deep.into_bytes(),
        deep_object.into_bytes(),
        vec![0xff, 0xfe, 0x00, 0x01],
        "{\"dataOverrides\": {\"ключ\": \"😀\"}}"
            .as_bytes()
            .to_vec(),
        b"queue_name=*&pause=true".to_vec(),
        b"queue_name=a%3Ab&kind=all".to_vec(),
        b"queue_name=mails&job_id=%00&body=zz".to_vec(),
        b"token=".to_vec(),
        vec![b'a'; 70 * 1024],
    ];
    rng.pick(&choices).clone()
}

/// One generated request: method, path and query, body, content type.
fn request(rng: &mut Rng) -> (Method, String, Vec<u8>, &'static str) {
    let mut segment = || {
        let s = rng.pick(SEGMENTS).to_string();
        if s == "repeat:" {
            "q".repeat(300)
        } else {
            s
        }
    };
    let (a, b) = (segment(), segment());
    let v1 = rng.pick(VALUES).to_string();
    let v2 = rng.pick(VALUES).to_string();
    let v3 = rng.pick(VALUES).to_string();
    let base = "/api/v1/admin/jobs";
    let routes: Vec<(Method, String)> = vec![
        (Method::GET, format!("{base}/queues?x={v1}")),
        (Method::POST, format!("{base}/queues/refresh")),
        (Method::GET, format!("{base}/metrics?{v1}={v2}")),
        (Method::GET, format!("{base}/trends?period={v1}")),
        (
            Method::GET,
            format!("{base}/history?queue={a}&from={v1}&to={v2}&step={v3}"),
        ),
        (Method::GET, format!("{base}/alerts/stuck?limit={v1}")),
        (Method::GET, format!("{base}/audit?count={v1}&before={v2}")),
        (Method::PATCH, format!("{base}/queue/{a}/pause")),
        (Method::PATCH, format!("{base}/queue/{a}/resume")),
        (Method::DELETE, format!("{base}/queue/{a}/clear?type={v1}")),
        (Method::POST, format!("{base}/retry/{a}/{b}")),
        (Method::GET, format!("{base}/queue/{a}/{b}")),
        (Method::PUT, format!("{base}/queue/{a}/pause")),
        (Method::GET, format!("{base}/{a}")),
        (Method::POST, "/api/fn/overview".into()),
        (Method::POST, "/api/fn/metrics".into()),
        (Method::POST, "/api/fn/trends".into()),
        (Method::POST, "/api/fn/history".into()),
        (Method::POST, "/api/fn/stuck".into()),
        (Method::POST, "/api/fn/queue_live".into()),
        (Method::POST, "/api/fn/pause".into()),
        (Method::POST, "/api/fn/clear".into()),
        (Method::POST, "/api/fn/retry".into()),
        (Method::POST, format!("/api/fn/{a}")),
        (Method::GET, format!("/api/{a}/{b}")),
        (Method::POST, "/auth/session".into()),
    ];
    let (method, path) = rng.pick(&routes).clone();
    let content_type = *rng.pick(&[
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/cbor",
    ]);
    (method, path, bodies(rng), content_type)
}

/// A Redis ACL user confined to the test's prefixes; removed when dropped.
struct ConfinedUser {
    name: String,
}

impl ConfinedUser {
    fn create(prefix: &str) -> (ConfinedUser, String) {
        let name = format!("{prefix}-user");
        let password = format!("pw-{prefix}");
        let reply = redis_cli(&[
            "ACL",
            "SETUSER",
            &name,
            "on",
            &format!(">{password}"),
            &format!("~{prefix}:*"),
            &format!("~{prefix}-monitor:*"),
            "&*",
            "+@all",
        ]);
        assert_eq!(reply.trim(), "OK", "ACL SETUSER: {reply}");
        let url = redis_url().replacen("redis://", &format!("redis://{name}:{password}@"), 1);
        (ConfinedUser { name }, url)
    }

    /// `ACL LOG` entries of this user (refused commands, keys or channels).
    fn denials(&self) -> Vec<String> {
        let log = redis_cli(&["ACL", "LOG", "128"]);
        // `redis-cli` prints each entry's fields one per line, starting with `count`; keep the
        // entries naming this user.
        log.split("count\n")
            .filter(|entry| entry.lines().any(|line| line == self.name))
            .map(|entry| entry.chars().take(400).collect())
            .collect()
    }
}

impl Drop for ConfinedUser {
    fn drop(&mut self) {
        redis_cli(&["ACL", "DELUSER", &self.name]);
    }
}

#[tokio::test]
async fn hostile_requests_get_4xx_json_and_never_touch_keys_outside_the_prefix() {
    let prefix = unique_prefix("hostile");
    let (user, url) = ConfinedUser::create(&prefix);
    let mut options = TestOptions::new(&prefix);
    options.redis_url = url;
    options.collector = true;
    let app = TestApp::spawn_with(options).await;
    let _world = app
        .world(json!([
            {"name": "mails", "bullmq": 6, "completed": 3, "failed": 2, "waiting": 2, "delayed": 1},
            {"name": "legacy", "bullmq": 5, "failed": 1, "waiting": 1}
        ]))
        .await;
    let token = app.token(Role::SuperAdmin);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let mut rng = Rng(0x5eed_1234_abcd_9876);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    const REQUESTS: usize = 1_500;
    for i in 0..REQUESTS {
        let (method, path, body, content_type) = request(&mut rng);
        let case = format!(
            "case {i}: {method} {path} ({content_type}, {} bytes: {:?})",
            body.len(),
            String::from_utf8_lossy(&body[..body.len().min(60)])
        );
        let response = client
            .request(method, format!("{}{path}", app.address))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{case}: no answer: {e}"));
        let status = response.status().as_u16();
        // `..` segments are resolved by the client; what left the API is a page (HTML 404).
        let sent_to = response.url().path().to_owned();
        let api = sent_to.starts_with("/api/") || sent_to.starts_with("/auth/");
        *statuses.entry(status).or_default() += 1;
        let is_stream = response
            .headers()
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        assert!(status < 500, "{case}: {status}");
        if is_stream {
            continue; // a live stream answered 200: it never ends by itself
        }
        let bytes = response
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        if status >= 400 && api {
            let error: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{case}: {status} without JSON: {}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            assert!(
                error["error"].is_string() && error["message"].is_string(),
                "{case}: {status} {error}"
            );
        }
    }
    println!("{REQUESTS} hostile requests, answers by status: {statuses:?}");
    assert!(
        statuses.keys().any(|s| (200..300).contains(s)) && statuses.contains_key(&400),
        "the generator reaches both handlers and validation: {statuses:?}"
    );
    // The collector ran all along under the same user.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let denials = user.denials();
    assert!(
        denials.is_empty(),
        "keys outside the prefixes were touched: {denials:?}"
    );
}

#[tokio::test]
async fn the_acl_check_itself_catches_a_key_outside_the_prefix() {
    // The premise of the test above: a confined user's stray access is refused and logged.
    let prefix = unique_prefix("hostile-premise");
    let (user, url) = ConfinedUser::create(&prefix);
    let credentials = url
        .trim_start_matches("redis://")
        .split('@')
        .next()
        .unwrap_or_default()
        .to_owned();
    let (name, password) = credentials.split_once(':').unwrap_or_default();
    let output = std::process::Command::new("redis-cli")
        .args(["-u", &redis_url(), "--user", name, "--pass", password])
        .args(["GET", "somebody-elses:key"])
        .output()
        .expect("redis-cli runs");
    let reply = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(reply.contains("NOPERM"), "{reply}");
    assert!(!user.denials().is_empty(), "the stray access is in ACL LOG");
}
