//! The binary's start-up contract: bad settings fail with one clear line, `server token` prints a
//! token the server accepts, `server openapi` prints the OpenAPI document.

use app::role::Role;
use app::ssr::auth::{AuthSettings, Authenticator};
use std::process::Command;

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    for var in [
        "JWT_SECRET",
        "JWT_PUBLIC_KEY",
        "REDIS_URL",
        "REDIS_CLUSTER",
        "BULLMQ_PREFIX",
        "BULLMQ_QUEUES",
        "LEPTOS_SITE_ADDR",
        "ALERTS_FILE",
    ] {
        command.env_remove(var);
    }
    command
}

fn assert_one_line_error(output: &std::process::Output, needle: &str) {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line expected, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(lines[0].contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_missing_jwt_secret_fails_with_one_line() {
    let output = server().output().expect("runs");
    assert_one_line_error(&output, "JWT_SECRET");
}

#[test]
fn invalid_settings_fail_with_one_line_naming_the_setting() {
    let cases: [(&str, &str, &str); 7] = [
        ("JWT_SECRET", "short", "JWT_SECRET"),
        ("MONITOR_PREFIX", "mon{}", "MONITOR_PREFIX"),
        (
            "REDIS_URL",
            "redis://h1:7000,h2:7001",
            "several hosts are only allowed for a cluster",
        ),
        ("REDIS_URL", "redis-cluster://h1:7000/2", "only database 0"),
        ("LEPTOS_SITE_ADDR", "not-an-address", "site-addr"),
        ("JWT_PUBLIC_KEY", "/nonexistent/key.pem", "JWT_PUBLIC_KEY"),
        ("BULLMQ_QUEUES", "ok,bad:name", "BULLMQ_QUEUES"),
    ];
    for (var, value, needle) in cases {
        let mut command = server();
        if var != "JWT_SECRET" {
            command.env("JWT_SECRET", "a-good-enough-secret-123");
        }
        let output = command.env(var, value).output().expect("runs");
        assert_one_line_error(&output, needle);
    }
}

#[test]
fn a_bad_alert_rules_file_stops_the_server_with_one_line() {
    let dir = std::env::temp_dir();
    let cases: [(&str, &str, &str); 4] = [
        (
            "unknown-kind",
            "[[rules]]\nname = \"A\"\ncondition = { kind = \"backlogg\", above = 1 }\n",
            "rule 1 (`A`): condition: unknown kind `backlogg`",
        ),
        (
            "bad-duration",
            "[[rules]]\nname = \"A\"\ncondition = { kind = \"paused\" }\nfor = \"soon\"\n",
            "rule 1 (`A`): for:",
        ),
        (
            "missing-channel",
            "[[rules]]\nname = \"A\"\ncondition = { kind = \"paused\" }\nchannels = [\"pager\"]\n",
            "no channel named `pager`",
        ),
        ("unreadable", "", "cannot read it"),
    ];
    for (name, text, needle) in cases {
        let path = dir.join(format!("alerts-cli-{}-{name}.toml", std::process::id()));
        if !text.is_empty() {
            std::fs::write(&path, text).expect("rules file");
        }
        let output = server()
            .env("JWT_SECRET", "a-good-enough-secret-123")
            .env("ALERTS_FILE", &path)
            .output()
            .expect("runs");
        let _ = std::fs::remove_file(&path);
        assert_one_line_error(&output, needle);
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("ALERTS_FILE"),
            "{output:?}"
        );
    }
}

#[test]
fn server_token_prints_a_token_the_server_accepts() {
    let secret = "cli-test-secret-0123456789";
    let output = server()
        .args(["token", "--role", "ADMIN", "--sub", "alice", "--ttl", "1h"])
        .env("JWT_SECRET", secret)
        .output()
        .expect("runs");
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let auth = Authenticator::new(&AuthSettings {
        secret: Some(secret.into()),
        ..Default::default()
    })
    .expect("auth");
    let principal = auth.verify(&token).expect("the token verifies");
    assert_eq!(principal.role, Role::Admin);
    assert_eq!(principal.subject, "alice");
    let lifetime = principal.expires_at - chrono::Utc::now().timestamp();
    assert!((3500..=3600).contains(&lifetime), "{lifetime}");
}

#[test]
fn help_lists_every_setting() {
    let output = server().arg("--help").output().expect("runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for var in [
        "REDIS_URL",
        "REDIS_CLUSTER",
        "BULLMQ_PREFIX",
        "BULLMQ_QUEUES",
        "JWT_SECRET",
        "JWT_PUBLIC_KEY",
        "LEPTOS_SITE_ADDR",
        "LEPTOS_SITE_ROOT",
    ] {
        assert!(help.contains(var), "{var} missing from --help:\n{help}");
    }
}

#[test]
fn secrets_never_reach_the_log() {
    use std::io::{BufRead, BufReader, Read};
    let secret = "log-test-secret-do-not-print-0123";
    let password = "redis-password-do-not-print";
    let mut child = server()
        .env("JWT_SECRET", secret)
        // Nothing listens there: the server starts anyway and logs its attempts.
        .env("REDIS_URL", format!("redis://user:{password}@127.0.0.1:1"))
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "debug")
        .env("LOG_FORMAT", "json")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    // The log is read all along (a full pipe would block the server), lines go to the test.
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<String>();
    for pipe in [
        Box::new(child.stdout.take().expect("stdout")) as Box<dyn Read + Send>,
        Box::new(child.stderr.take().expect("stderr")),
    ] {
        let lines_tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
    }
    drop(lines_tx);
    let mut log = String::new();
    let address = loop {
        let line = lines_rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no `listening on` line: {log}"));
        log.push_str(&line);
        log.push('\n');
        if let Some(at) = line.find("listening on http://") {
            break line[at + "listening on ".len()..]
                .split('"')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
        }
    };
    let token = Authenticator::new(&AuthSettings {
        secret: Some(secret.into()),
        ..Default::default()
    })
    .expect("auth")
    .issue(Role::Admin, "log-test", std::time::Duration::from_secs(600))
    .expect("token");
    // Requests that carry the token, as a header, a cookie and a sign-in form.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("client");
        let _ = client
            .get(format!("{address}/api/v1/admin/jobs/metrics"))
            .bearer_auth(&token)
            .send()
            .await;
        let _ = client
            .get(format!("{address}/readyz"))
            .header("cookie", format!("monitor_session={token}"))
            .send()
            .await;
        let _ = client
            .post(format!("{address}/auth/session"))
            .form(&[("token", token.as_str())])
            .send()
            .await;
    });
    let _ = child.kill();
    let _ = child.wait();
    // Both pipes end with the process, so this ends too.
    for line in lines_rx {
        log.push_str(&line);
        log.push('\n');
    }
    assert!(log.contains("127.0.0.1:1"), "the log is there: {log}");
    for (what, text) in [
        ("JWT_SECRET", secret),
        ("Redis password", password),
        ("token", &token),
    ] {
        assert!(!log.contains(text), "the {what} is in the log");
    }
}

#[test]
fn server_openapi_prints_the_document_without_any_setting() {
    let output = server().arg("openapi").output().expect("runs");
    assert!(output.status.success(), "{output:?}");
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(printed, server::openapi::document());
    assert_eq!(printed["openapi"], "3.1.0");
}
