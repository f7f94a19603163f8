//! The binary's start-up contract: bad settings fail with one clear line, `server token` prints a
//! token the server accepts.

use app::role::Role;
use app::ssr::auth::{AuthSettings, Authenticator};
use std::process::Command;

fn server() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_server"));
    for var in [
        "JWT_SECRET",
        "JWT_PUBLIC_KEY",
        "REDIS_URL",
        "BULLMQ_PREFIX",
        "BULLMQ_QUEUES",
        "LEPTOS_SITE_ADDR",
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
    let cases: [(&str, &str, &str); 4] = [
        ("JWT_SECRET", "short", "JWT_SECRET"),
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
