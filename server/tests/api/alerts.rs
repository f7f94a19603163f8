//! Alerts against real receivers the test runs (an HTTP server on port 0 that checks the
//! webhook's HMAC and records every request) and real BullMQ worlds that make a condition true
//! and then false: one notification on firing, one on resolve, retries until a 500 becomes a
//! 200, nothing sent twice when another instance takes over.

use crate::helpers::{eventually, fixture_raw, redis_cli, unique_prefix, TestApp, TestOptions};
use app::role::Role;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BASE: &str = "/api/v1/admin/jobs";
const SECRET: &str = "test-hook-secret";

/// One request a receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    body: Value,
    /// Whether the webhook signature checked out (`None`: unsigned).
    signed: Option<bool>,
}

#[derive(Clone, Default)]
struct Inbox {
    got: Arc<Mutex<Vec<Received>>>,
    /// Statuses the webhook (`/hook`) answers, in order; 200 once they run out.
    script: Arc<Mutex<Vec<u16>>>,
}

impl Inbox {
    fn all(&self) -> Vec<Received> {
        self.got.lock().expect("inbox").clone()
    }
    fn on(&self, path: &str) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.path == path).collect()
    }
}

/// An HMAC check written apart from the server's own code: HMAC-SHA256 by its definition
/// (RFC 2104) over `sha2`.
fn hmac_hex(key: &[u8], message: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let mut block = [0_u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(Sha256::digest(key).as_slice());
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|b| b ^ byte).collect::<Vec<u8>>();
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

async fn receive(
    State(inbox): State<Inbox>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let signed = match (header("x-monitor-signature"), header("x-monitor-timestamp")) {
        (Some(signature), Some(timestamp)) => {
            let mut message = timestamp.into_bytes();
            message.push(b'.');
            message.extend_from_slice(&body);
            Some(signature == format!("sha256={}", hmac_hex(SECRET.as_bytes(), &message)))
        }
        _ => None,
    };
    let status = {
        let mut script = inbox.script.lock().expect("script");
        if script.is_empty() || uri.path() != "/hook" {
            200
        } else {
            script.remove(0)
        }
    };
    if status == 200 {
        inbox.got.lock().expect("inbox").push(Received {
            path: uri.path().to_owned(),
            body: serde_json::from_slice(&body).unwrap_or(Value::Null),
            signed,
        });
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

/// A receiver on port 0; its webhook path answers `script` first.
async fn receiver(script: Vec<u16>) -> (String, Inbox) {
    let inbox = Inbox {
        script: Arc::new(Mutex::new(script)),
        ..Default::default()
    };
    let app = axum::Router::new()
        .fallback(receive)
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (address, inbox)
}

/// The secret in a file, as `secret_file` reads it.
fn secret_file(prefix: &str) -> String {
    let path = std::env::temp_dir().join(format!("{prefix}-hook-secret"));
    std::fs::write(&path, format!("{SECRET}\n")).expect("secret file");
    path.display().to_string()
}

fn rules(url: &str, secret: &str, hold: &str) -> String {
    format!(
        r#"
[settings]
dashboard_url = "https://monitor.example"

[[channels]]
name = "hook"
type = "webhook"
url = "{url}/hook"
secret_file = "{secret}"

[[channels]]
name = "am"
type = "alertmanager"
url = "{url}"

[[channels]]
name = "chat"
type = "slack"
url = "{url}/slack"

[[rules]]
name = "MailBacklog"
condition = {{ kind = "backlog", above = 5 }}
queues = ["mail"]
for = "{hold}"
severity = "critical"
labels = {{ team = "mail" }}
summary = "{{queue}} has {{value}} jobs waiting"
runbook_url = "https://runbooks.example/backlog"
channels = ["hook", "am", "chat"]
"#
    )
}

/// A server with the rules (on `prefix`, default a fresh one); the secret's file is read at
/// start and removed then.
async fn spawn(label: &str, prefix: Option<&str>, url: &str, hold: &str) -> TestApp {
    let prefix = prefix.map_or_else(|| unique_prefix(label), str::to_owned);
    let mut options = TestOptions::new(&prefix);
    let secret = secret_file(&format!("{prefix}-{label}"));
    options.alerts = Some(rules(url, &secret, hold));
    let app = TestApp::spawn_with(options).await;
    let _ = std::fs::remove_file(secret);
    app
}

async fn drain(app: &TestApp, queue: &str) {
    fixture_raw(
        "drain",
        json!({"redis": app.redis_url, "prefix": app.prefix, "queue": queue}),
    )
    .await;
}

#[tokio::test]
async fn a_backlog_fires_once_and_resolves_once_on_every_channel() {
    let (url, inbox) = receiver(Vec::new()).await;
    let app = spawn("alerts-fire", None, &url, "0s").await;
    // A second instance runs beside it all along: one of them evaluates, nobody twice.
    let _twin = spawn("alerts-fire-twin", Some(&app.prefix), &url, "0s").await;
    let (status, listed) = app
        .get_json(&format!("{BASE}/alerts/rules"), Role::Moderator)
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["rules"][0]["name"], "MailBacklog");
    assert_eq!(listed["rules"][0]["condition"]["kind"], "backlog");
    assert_eq!(listed["channels"][0]["signed"], true);
    assert_eq!(
        listed["channels"][2]["url"],
        format!("{url}/…"),
        "Slack's URL is a secret"
    );

    // 12 jobs wait and no worker runs: the backlog holds.
    let _world = app
        .world(json!([{"name": "mail", "waiting": 12}, {"name": "other", "waiting": 50}]))
        .await;
    let fired = eventually(Duration::from_secs(20), "the firing webhook", || async {
        inbox.on("/hook").first().cloned()
    })
    .await;
    assert_eq!(fired.signed, Some(true), "signed with the channel's secret");
    let payload = &fired.body;
    assert_eq!(payload["version"], "4");
    assert_eq!(payload["status"], "firing");
    assert_eq!(payload["receiver"], "hook");
    let alerts = payload["alerts"].as_array().expect("alerts");
    assert_eq!(alerts.len(), 1, "only the queue the rule covers: {payload}");
    let alert = &alerts[0];
    assert_eq!(alert["labels"]["alertname"], "MailBacklog");
    assert_eq!(alert["labels"]["queue"], "mail");
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["labels"]["team"], "mail");
    assert_eq!(alert["labels"]["prefix"], app.prefix.as_str());
    assert_eq!(alert["annotations"]["summary"], "mail has 12 jobs waiting");
    assert_eq!(alert["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(alert["generatorURL"], "https://monitor.example/?queue=mail");
    assert_eq!(alert["fingerprint"].as_str().map(str::len), Some(16));
    let am = eventually(Duration::from_secs(20), "the Alertmanager push", || async {
        inbox.on("/api/v2/alerts").first().cloned()
    })
    .await;
    assert_eq!(am.body[0]["labels"]["queue"], "mail");
    assert!(am.body[0].get("endsAt").is_none(), "firing: no end");
    let slack = eventually(Duration::from_secs(20), "the Slack message", || async {
        inbox.on("/slack").first().cloned()
    })
    .await;
    assert!(slack.body["text"]
        .as_str()
        .is_some_and(|t| t.contains("mail has 12 jobs waiting")));
    let (status, current) = app
        .get_json(&format!("{BASE}/alerts"), Role::Moderator)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (current["firing"].as_u64(), current["evaluating"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(current["active"][0]["status"], "firing");

    // A real worker empties the queue: resolved, once per channel.
    drain(&app, "mail").await;
    let resolved = eventually(Duration::from_secs(20), "the resolving webhook", || async {
        inbox.on("/hook").get(1).cloned()
    })
    .await;
    assert_eq!(resolved.body["status"], "resolved");
    assert_eq!(
        resolved.body["alerts"][0]["fingerprint"],
        alert["fingerprint"]
    );
    assert_ne!(resolved.body["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    let am_resolved = eventually(
        Duration::from_secs(20),
        "the Alertmanager resolve",
        || async {
            inbox
                .on("/api/v2/alerts")
                .into_iter()
                .find(|r| r.body[0].get("endsAt").is_some())
        },
    )
    .await;
    assert_eq!(am_resolved.body[0]["labels"]["queue"], "mail");
    let (_, after) = app
        .get_json(&format!("{BASE}/alerts"), Role::Moderator)
        .await;
    assert_eq!(after["firing"], 0, "{after}");
    assert_eq!(after["resolved"][0]["status"], "resolved");
    // Nothing more: still two webhook requests several rounds later.
    let (_, deliveries) = app
        .get_json(&format!("{BASE}/alerts/deliveries"), Role::Moderator)
        .await;
    let log = deliveries["deliveries"].as_array().expect("log");
    assert!(
        log.iter().all(|d| d["outcome"] == "delivered"),
        "{deliveries}"
    );
    eventually(Duration::from_secs(10), "the Slack resolve", || async {
        (inbox.on("/slack").len() == 2).then_some(())
    })
    .await;
    // Once per channel each way: six deliveries, one attempt each.
    let (_, deliveries) = app
        .get_json(&format!("{BASE}/alerts/deliveries"), Role::Moderator)
        .await;
    assert_eq!(
        deliveries["deliveries"].as_array().map(Vec::len),
        Some(6),
        "{deliveries}"
    );
    assert_eq!(inbox.on("/hook").len(), 2, "{:?}", inbox.on("/hook"));
}

#[tokio::test]
async fn a_receiver_answering_500_gets_the_notification_once_after_retries_and_a_new_instance_sends_nothing_twice(
) {
    let (url, inbox) = receiver(vec![500, 503]).await;
    let mut first = spawn("alerts-retry", None, &url, "0s").await;
    let _world = first.world(json!([{"name": "mail", "waiting": 8}])).await;
    // The webhook answers 500, then 503, then 200: delivered on the third attempt, once.
    let delivered = eventually(
        Duration::from_secs(30),
        "the webhook after retries",
        || async {
            let (_, log) = first
                .get_json(&format!("{BASE}/alerts/deliveries"), Role::Moderator)
                .await;
            log["deliveries"]
                .as_array()?
                .iter()
                .find(|d| d["channel"] == "hook" && d["outcome"] == "delivered")
                .cloned()
        },
    )
    .await;
    assert_eq!(delivered["attempt"], 3, "{delivered}");
    let (_, log) = first
        .get_json(&format!("{BASE}/alerts/deliveries"), Role::Moderator)
        .await;
    let hook: Vec<&Value> = log["deliveries"]
        .as_array()
        .expect("log")
        .iter()
        .filter(|d| d["channel"] == "hook")
        .collect();
    let outcomes: Vec<(&str, u64, Option<u64>)> = hook
        .iter()
        .rev()
        .map(|d| {
            (
                d["outcome"].as_str().unwrap_or("?"),
                d["attempt"].as_u64().unwrap_or(0),
                d["httpStatus"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("retrying", 1, Some(500)),
            ("retrying", 2, Some(503)),
            ("delivered", 3, Some(200))
        ]
    );
    assert!(hook
        .iter()
        .all(|d| d["notification"] == hook[0]["notification"]));
    assert_eq!(inbox.on("/hook").len(), 1);

    // The instance stops; a second takes over once the lease expires. The alert still fires:
    // it is not sent again. Then the queue drains: the new instance sends the resolve.
    first.stop();
    let second = spawn("alerts-retry-2", Some(&first.prefix), &url, "0s").await;
    drain(&second, "mail").await;
    let resolved = eventually(
        Duration::from_secs(30),
        "the resolve from the new instance",
        || async { inbox.on("/hook").get(1).cloned() },
    )
    .await;
    assert_eq!(resolved.body["status"], "resolved");
    let fired: Vec<Received> = inbox
        .on("/hook")
        .into_iter()
        .filter(|r| r.body["status"] == "firing")
        .collect();
    assert_eq!(
        fired.len(),
        1,
        "one firing notification across the failover"
    );
}

#[tokio::test]
async fn a_condition_must_hold_for_its_duration_and_test_notifications_are_audited() {
    let (url, inbox) = receiver(Vec::new()).await;
    let app = spawn("alerts-hold", None, &url, "1h").await;
    let _world = app.world(json!([{"name": "mail", "waiting": 9}])).await;
    let pending = eventually(Duration::from_secs(20), "a pending alert", || async {
        let (_, current) = app
            .get_json(&format!("{BASE}/alerts"), Role::Moderator)
            .await;
        (current["active"][0]["status"] == "pending").then_some(current)
    })
    .await;
    assert_eq!(pending["firing"], 0);
    assert!(inbox.all().is_empty(), "nothing before `for` has passed");

    // A test notification: one attempt through the channel named, audited.
    let (status, delivery) = app
        .call(
            Method::POST,
            &format!("{BASE}/alerts/test"),
            Role::Admin,
            Some(json!({"channel": "hook"})),
        )
        .await;
    assert_eq!(status, 200, "{delivery}");
    assert_eq!(delivery["outcome"], "delivered");
    let test = inbox.on("/hook");
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].signed, Some(true));
    assert_eq!(
        test[0].body["alerts"][0]["labels"]["alertname"],
        "MonitorTest"
    );
    assert!(app.audit_actions().await.contains(&"alert-test".to_owned()));
    for (body, expected) in [
        (json!({"channel": "nope"}), 404),
        (json!({"chanel": "hook"}), 400),
    ] {
        let (status, reply) = app
            .call(
                Method::POST,
                &format!("{BASE}/alerts/test"),
                Role::Admin,
                Some(body),
            )
            .await;
        assert_eq!(status, expected, "{reply}");
    }
    let (status, _) = app
        .call(
            Method::POST,
            &format!("{BASE}/alerts/test"),
            Role::Moderator,
            Some(json!({"channel": "hook"})),
        )
        .await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn without_a_rules_file_the_alert_reads_are_empty() {
    let app = TestApp::spawn("alerts-none").await;
    let (status, rules) = app
        .get_json(&format!("{BASE}/alerts/rules"), Role::Moderator)
        .await;
    assert_eq!(status, 200);
    assert_eq!(rules, json!({"source": null, "rules": [], "channels": []}));
    let (status, alerts) = app
        .get_json(&format!("{BASE}/alerts"), Role::Moderator)
        .await;
    assert_eq!(status, 200);
    assert_eq!(alerts["active"], json!([]));
}

#[tokio::test]
async fn a_silence_holds_notifications_back_until_it_ends() {
    let (url, inbox) = receiver(Vec::new()).await;
    let app = spawn("alerts-silence", None, &url, "0s").await;
    let silences = format!("{BASE}/alerts/silences");
    for (body, needle) in [
        (
            json!({"matchers": {}, "duration": "1h", "comment": "x"}),
            "matchers is empty",
        ),
        (
            json!({"matchers": {"queue": "mail"}, "duration": "forever", "comment": "x"}),
            "duration",
        ),
        (
            json!({"matchers": {"queue": "mail"}, "duration": "100d", "comment": "x"}),
            "90d",
        ),
        (
            json!({"matchers": {"queue": "mail"}, "duration": "1h", "comment": " "}),
            "comment",
        ),
        (
            json!({"matchers": {"queue": "mail"}, "duration": "1h"}),
            "comment",
        ),
    ] {
        let (status, reply) = app
            .call(Method::POST, &silences, Role::Admin, Some(body.clone()))
            .await;
        assert_eq!(status, 400, "{body} → {reply}");
        assert!(
            reply["message"]
                .as_str()
                .is_some_and(|m| m.contains(needle)),
            "{body} → {reply}"
        );
    }
    let (status, _) = app
        .call(
            Method::POST,
            &silences,
            Role::Moderator,
            Some(json!({"matchers": {"queue": "mail"}, "duration": "1h", "comment": "deploy"})),
        )
        .await;
    assert_eq!(status, 403);
    let (status, silence) = app
        .call(
            Method::POST,
            &silences,
            Role::Admin,
            Some(json!({"matchers": {"alertname": "MailBacklog", "queue": "mail"}, "duration": "1h", "comment": "migrating the mail workers"})),
        )
        .await;
    assert_eq!(status, 200, "{silence}");
    assert_eq!(silence["active"], true);
    let id = silence["id"].as_str().expect("id").to_owned();

    // The condition holds: the alert fires, silenced; nobody is told.
    let _world = app.world(json!([{"name": "mail", "waiting": 7}])).await;
    let firing = eventually(
        Duration::from_secs(20),
        "the silenced alert firing",
        || async {
            let (_, current) = app
                .get_json(&format!("{BASE}/alerts"), Role::Moderator)
                .await;
            (current["firing"] == 1).then_some(current)
        },
    )
    .await;
    assert_eq!(firing["active"][0]["silencedBy"], id.as_str());
    // The evaluation that made it fire wrote its notifications in the same script: none is
    // waiting in an outbox, and none was delivered.
    let outboxes = redis_cli(&[
        "--scan",
        "--pattern",
        &format!("{}-monitor*outbox*", app.prefix),
    ]);
    assert_eq!(outboxes.trim(), "", "no notification queued");
    assert!(inbox.all().is_empty(), "{:?}", inbox.all());

    // Ended: the notification goes out.
    let (status, ended) = app
        .call(
            Method::DELETE,
            &format!("{silences}/{id}"),
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["active"], false);
    let told = eventually(
        Duration::from_secs(20),
        "the notification once unsilenced",
        || async { inbox.on("/hook").first().cloned() },
    )
    .await;
    assert_eq!(told.body["status"], "firing");
    for (path, expected) in [
        (format!("{silences}/{id}"), 409),
        (format!("{silences}/0123456789abcdef"), 404),
        (format!("{silences}/nope"), 400),
    ] {
        let (status, reply) = app.call(Method::DELETE, &path, Role::Admin, None).await;
        assert_eq!(status, expected, "{path} → {reply}");
    }
    let (_, listed) = app.get_json(&silences, Role::Moderator).await;
    assert_eq!(listed["silences"][0]["id"], id.as_str());
    assert_eq!(
        listed["silences"][0]["comment"],
        "migrating the mail workers"
    );
    let actions = app.audit_actions().await;
    assert!(
        actions.contains(&"alert-silence".to_owned())
            && actions.contains(&"alert-unsilence".to_owned())
    );
}

/// A small SMTP server the test runs (port 0): it answers MAIL FROM with `script`'s codes
/// first (451: try later), then takes every message; returns the port and the messages.
async fn smtp_server(script: Vec<u16>) -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    let mail: Arc<Mutex<Vec<String>>> = Arc::default();
    let script = Arc::new(Mutex::new(script));
    let (kept, scripted) = (mail.clone(), script.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let (mail, script) = (kept.clone(), scripted.clone());
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 test.local ESMTP\r\n").await;
                let (mut in_data, mut data) = (false, String::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    if in_data {
                        if line == "." {
                            in_data = false;
                            mail.lock().expect("mail").push(std::mem::take(&mut data));
                            let _ = write.write_all(b"250 2.0.0 queued\r\n").await;
                        } else {
                            data.push_str(&line);
                            data.push('\n');
                        }
                        continue;
                    }
                    let upper = line.to_ascii_uppercase();
                    let reply = if upper.starts_with("EHLO") {
                        "250-test.local\r\n250 8BITMIME\r\n".to_owned()
                    } else if upper.starts_with("MAIL FROM") {
                        let code = {
                            let mut script = script.lock().expect("script");
                            (!script.is_empty()).then(|| script.remove(0))
                        };
                        match code {
                            Some(code) => format!("{code} 4.3.0 try again later\r\n"),
                            None => "250 2.1.0 ok\r\n".to_owned(),
                        }
                    } else if upper.starts_with("DATA") {
                        in_data = true;
                        "354 go ahead\r\n".to_owned()
                    } else if upper.starts_with("QUIT") {
                        let _ = write.write_all(b"221 bye\r\n").await;
                        break;
                    } else {
                        "250 ok\r\n".to_owned()
                    };
                    let _ = write.write_all(reply.as_bytes()).await;
                }
            });
        }
    });
    (port, mail)
}

#[tokio::test]
async fn alerts_reach_people_by_email_once_the_smtp_server_takes_them() {
    let (port, mail) = smtp_server(vec![451]).await;
    let mut options = TestOptions::new(&unique_prefix("alerts-mail"));
    options.alerts = Some(format!(
        r#"
[[channels]]
name = "oncall"
type = "email"
host = "127.0.0.1"
port = {port}
tls = "none"
from = "BullMQ monitor <monitor@example.com>"
to = ["oncall@example.com", "lead@example.com"]

[[rules]]
name = "MailBacklog"
condition = {{ kind = "backlog", above = 5 }}
queues = ["mail"]
severity = "critical"
summary = "{{queue}} has {{value}} jobs waiting"
channels = ["oncall"]
"#
    ));
    let app = TestApp::spawn_with(options).await;
    let _world = app.world(json!([{"name": "mail", "waiting": 6}])).await;
    // The server answers 451 first: the message goes on the second attempt, once.
    let first = eventually(Duration::from_secs(30), "the firing e-mail", || async {
        mail.lock().expect("mail").first().cloned()
    })
    .await;
    assert!(
        first.contains("Subject: [FIRING:1] MailBacklog (mail)"),
        "{first}"
    );
    assert!(
        first.contains("To: oncall@example.com, lead@example.com"),
        "{first}"
    );
    assert!(first.contains("[critical] MailBacklog - mail"), "{first}");
    assert!(first.contains("mail has 6 jobs waiting"), "{first}");
    // The server recorded the message before its 250 reached the monitor: the log may lag.
    let attempts = eventually(Duration::from_secs(10), "the delivery logged", || async {
        let (_, log) = app
            .get_json(&format!("{BASE}/alerts/deliveries"), Role::Moderator)
            .await;
        let attempts: Vec<(String, Option<u64>)> = log["deliveries"]
            .as_array()?
            .iter()
            .rev()
            .map(|d| {
                (
                    d["outcome"].as_str().unwrap_or("?").to_owned(),
                    d["httpStatus"].as_u64(),
                )
            })
            .collect();
        (attempts.len() >= 2).then_some(attempts)
    })
    .await;
    assert_eq!(
        attempts,
        [
            ("retrying".to_owned(), Some(451)),
            ("delivered".to_owned(), Some(250))
        ]
    );
    drain(&app, "mail").await;
    let resolved = eventually(Duration::from_secs(30), "the resolving e-mail", || async {
        mail.lock().expect("mail").get(1).cloned()
    })
    .await;
    assert!(
        resolved.contains("Subject: [RESOLVED] MailBacklog (mail)"),
        "{resolved}"
    );
    assert!(resolved.contains("resolved at "), "{resolved}");
    assert_eq!(mail.lock().expect("mail").len(), 2);
}

#[tokio::test]
async fn playbooks_move_back_the_jobs_of_dead_workers_and_leave_held_ones_alone() {
    let mut options = TestOptions::new(&unique_prefix("alerts-playbook"));
    options.stuck_after = Duration::from_millis(300);
    options.alerts = Some(
        r#"
[[playbooks]]
name = "RequeueDeadWorkers"
queues = ["mail", "held"]
stuck_for = "300ms"
action = "move_to_wait"
max_per_hour = 10
dry_run = false

[[playbooks]]
name = "GiveUp"
queues = ["doomed"]
stuck_for = "300ms"
action = "fail"
reason = "its worker died; failed by the monitor"
dry_run = false

[[playbooks]]
name = "Rescue"
queues = ["rescue"]
stuck_for = "300ms"
action = "retry_with_changes"
changes = { dataOverrides = { rescued = true }, priority = 3 }
dry_run = false

[[playbooks]]
name = "JustLooking"
queues = ["dry"]
stuck_for = "300ms"
action = "fail"
reason = "stuck with a dead worker"
"#
        .to_owned(),
    );
    let app = TestApp::spawn_with(options).await;
    // `held`: a real worker holds its job (and renews the lock); `mail` and `dry`: jobs left
    // active by a worker that died (no lock).
    let _world = app
        .world(json!([{"name": "mail"}, {"name": "held", "active": 1}, {"name": "dry"}, {"name": "doomed"}, {"name": "rescue"}]))
        .await;
    crate::helpers::write_jobs(&app.redis_url, &app.prefix, "mail", "active", 5000, 2).await;
    crate::helpers::write_jobs(&app.redis_url, &app.prefix, "dry", "active", 7000, 1).await;
    crate::helpers::write_jobs(&app.redis_url, &app.prefix, "doomed", "active", 8000, 1).await;
    crate::helpers::write_jobs(&app.redis_url, &app.prefix, "rescue", "active", 9000, 1).await;
    let runs = eventually(Duration::from_secs(20), "the playbooks' runs", || async {
        let (_, reply) = app
            .get_json(&format!("{BASE}/alerts/playbooks"), Role::Moderator)
            .await;
        let runs = reply["runs"].as_array()?.clone();
        let outcomes: Vec<(String, String)> = runs
            .iter()
            .map(|r| {
                (
                    r["jobId"].as_str().unwrap_or("?").to_owned(),
                    r["outcome"].as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect();
        (outcomes.contains(&("5000".into(), "moved".into()))
            && outcomes.contains(&("5001".into(), "moved".into()))
            && outcomes.contains(&("7000".into(), "would-fail".into()))
            && outcomes.contains(&("8000".into(), "failed".into()))
            && outcomes
                .iter()
                .any(|(id, o)| id == "9000" && o.starts_with("retried as ")))
        .then_some(outcomes)
    })
    .await;
    assert_eq!(
        runs.len(),
        5,
        "the held job is no candidate, a dry run says it once: {runs:?}"
    );
    // BullMQ: the dead workers' jobs wait again; the held one and the dry run's are active.
    let states = |queue: &'static str, ids: Vec<String>| {
        let app = &app;
        async move {
            let report = fixture_raw(
                "states",
                json!({"redis": app.redis_url, "prefix": app.prefix, "queue": queue, "ids": ids}),
            )
            .await;
            report["states"].clone()
        }
    };
    let mail = states("mail", vec!["5000".into(), "5001".into()]).await;
    assert_eq!(mail, json!({"5000": "waiting", "5001": "waiting"}));
    assert_eq!(
        states("dry", vec!["7000".into()]).await,
        json!({"7000": "active"})
    );
    let held = fixture_raw(
        "counts",
        json!({"redis": app.redis_url, "prefix": app.prefix, "queues": [{"name": "held"}]}),
    )
    .await;
    assert_eq!(held["queues"]["held"]["counts"]["active"], 1, "{held}");
    // A new worker completes them.
    let drained = fixture_raw(
        "drain",
        json!({"redis": app.redis_url, "prefix": app.prefix, "queue": "mail"}),
    )
    .await;
    let mut completed: Vec<&str> = drained["completed"]
        .as_array()
        .expect("completed")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    completed.sort_unstable();
    assert_eq!(completed, ["5000", "5001"]);
    let audit = app.audit_entries().await;
    let moved: Vec<&Value> = audit
        .iter()
        .filter(|e| e["action"] == "playbook-move-to-wait")
        .collect();
    assert_eq!(moved.len(), 2, "{audit:?}");
    assert_eq!(moved[0]["params"]["playbook"], "RequeueDeadWorkers");
    assert!(
        moved
            .iter()
            .all(|e| e["subject"] == "playbook:RequeueDeadWorkers"),
        "{moved:?}"
    );
    let mut jobs: Vec<&str> = moved.iter().filter_map(|e| e["jobId"].as_str()).collect();
    jobs.sort_unstable();
    assert_eq!(jobs, ["5000", "5001"]);
}

#[tokio::test]
async fn a_long_wait_a_new_cause_and_a_failure_rate_over_a_window_raise_alerts() {
    let mut options = TestOptions::new(&unique_prefix("alerts-more"));
    options.collector = true;
    options.alerts = Some(
        r#"
[[rules]]
name = "LongWait"
condition = { kind = "oldest_waiting", older_than = "200ms" }
queues = ["slow"]

[[rules]]
name = "NewCause"
condition = { kind = "new_failure_group", within = "10m" }
queues = ["bills"]
summary = "a new cause of failures in {queue}"

[[rules]]
name = "CollectorBehind"
condition = { kind = "collector_behind", by = "1m" }

[[rules]]
name = "Failing"
condition = { kind = "failure_rate", above = 50, window = "10m", min_finished = 3 }
queues = ["bills"]
"#
        .to_owned(),
    );
    let app = TestApp::spawn_with(options).await;
    let _world = app.world(json!([{"name": "slow", "waiting": 3}])).await;
    fixture_raw(
        "fail",
        json!({"redis": app.redis_url, "prefix": app.prefix, "queue": "bills",
               "causes": [{"count": 4, "name": "charge", "message": "card {i} declined"}]}),
    )
    .await;
    app.rediscover().await;
    let alerts = eventually(Duration::from_secs(30), "both alerts firing", || async {
        let (_, current) = app
            .get_json(&format!("{BASE}/alerts"), Role::Moderator)
            .await;
        let names: Vec<String> = current["active"]
            .as_array()?
            .iter()
            .filter(|a| a["status"] == "firing")
            .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
            .collect();
        (names.contains(&"LongWait".to_owned())
            && names.contains(&"NewCause".to_owned())
            && names.contains(&"Failing".to_owned()))
        .then_some(current)
    })
    .await;
    let active = alerts["active"].as_array().expect("active");
    let wait = active
        .iter()
        .find(|a| a["labels"]["alertname"] == "LongWait")
        .expect("long wait");
    assert_eq!(wait["labels"]["queue"], "slow");
    let cause = active
        .iter()
        .find(|a| a["labels"]["alertname"] == "NewCause")
        .expect("new cause");
    assert_eq!(
        cause["annotations"]["summary"],
        "a new cause of failures in bills"
    );
    let (_, groups) = app
        .get_json(&format!("{BASE}/failures?queue=bills"), Role::Moderator)
        .await;
    assert_eq!(cause["labels"]["failure_group"], groups["groups"][0]["id"]);
    let failing = active
        .iter()
        .find(|a| a["labels"]["alertname"] == "Failing")
        .expect("failing");
    assert_eq!(
        failing["value"], 100.0,
        "4 of 4 finished in the window failed"
    );
    // The collector runs here: once it has read the new queues, it is not behind (a queue it
    // has never read counts as behind, so right after discovery the alert may show).
    eventually(
        Duration::from_secs(20),
        "no collector-behind alert",
        || async {
            let (_, current) = app
                .get_json(&format!("{BASE}/alerts"), Role::Moderator)
                .await;
            current["active"]
                .as_array()?
                .iter()
                .all(|a| a["labels"]["alertname"] != "CollectorBehind")
                .then_some(())
        },
    )
    .await;
}

/// The alert names in `key` (`active` or `resolved`) of `GET /alerts`.
async fn alert_names(app: &TestApp, key: &str) -> Vec<String> {
    let (_, current) = app
        .get_json(&format!("{BASE}/alerts"), Role::Moderator)
        .await;
    let mut names: Vec<String> = current[key]
        .as_array()
        .map(|alerts| {
            alerts
                .iter()
                .filter(|a| key != "active" || a["status"] == "firing")
                .filter_map(|a| a["labels"]["alertname"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names.dedup();
    names
}

#[tokio::test]
async fn each_condition_fires_on_a_real_world_and_resolves_when_it_no_longer_holds() {
    let mut options = TestOptions::new(&unique_prefix("alerts-cycle"));
    options.collector = true;
    options.stuck_after = Duration::from_millis(300);
    options.alerts = Some(
        r#"
[[rules]]
name = "Paused"
condition = { kind = "paused" }
queues = ["p"]

[[rules]]
name = "Stalled"
condition = { kind = "stalled" }
queues = ["s"]

[[rules]]
name = "Stuck"
condition = { kind = "stuck", at_least = 1 }
queues = ["k"]

[[rules]]
name = "LongWait"
condition = { kind = "oldest_waiting", older_than = "300ms" }
queues = ["w"]

[[rules]]
name = "Failing"
condition = { kind = "failure_rate", above = 50, window = "10m", min_finished = 3 }
queues = ["f"]

[[rules]]
name = "NewCause"
condition = { kind = "new_failure_group", within = "4s" }
queues = ["f"]
"#
        .to_owned(),
    );
    let app = TestApp::spawn_with(options).await;
    let _world = app
        .world(json!([
            {"name": "p"}, {"name": "s", "waiting": 2}, {"name": "k"}, {"name": "w", "waiting": 2}
        ]))
        .await;
    let spec = |queue: &str| json!({"redis": app.redis_url, "prefix": app.prefix, "queue": queue});
    fixture_raw("pause", spec("p")).await;
    crate::helpers::write_jobs(&app.redis_url, &app.prefix, "k", "active", 6000, 1).await;
    let mut fail = spec("f");
    fail["causes"] = json!([{"count": 4, "name": "charge", "message": "card {i} declined"}]);
    fixture_raw("fail", fail).await;
    app.rediscover().await;
    let all = [
        "Failing", "LongWait", "NewCause", "Paused", "Stalled", "Stuck",
    ];
    eventually(
        Duration::from_secs(30),
        "every condition firing",
        || async {
            let firing = alert_names(&app, "active").await;
            (firing == all).then_some(())
        },
    )
    .await;

    // Each made false again by what an operator or a worker would do.
    let mut resume = spec("p");
    resume["pause"] = json!(false);
    fixture_raw("pause", resume).await;
    drain(&app, "s").await;
    redis_cli(&["LREM", &format!("{}:k:active", app.prefix), "0", "6000"]);
    drain(&app, "w").await;
    fixture_raw(
        "add",
        json!({"redis": app.redis_url, "prefix": app.prefix, "queues": [{"name": "f", "count": 10}]}),
    )
    .await;
    drain(&app, "f").await;
    eventually(Duration::from_secs(30), "every alert resolved", || async {
        let firing = alert_names(&app, "active").await;
        let resolved = alert_names(&app, "resolved").await;
        (firing.is_empty() && resolved == all).then_some(())
    })
    .await;
}

#[tokio::test]
async fn redis_going_away_is_told_by_the_evaluating_instance_and_resolved_when_it_answers() {
    let (url, inbox) = receiver(Vec::new()).await;
    let mut redis = crate::own_redis::OwnRedis::start().expect("redis-server");
    let prefix = unique_prefix("alerts-down");
    let mut options = TestOptions::new(&prefix);
    options.redis_url = redis.url();
    let secret = secret_file(&prefix);
    options.alerts = Some(format!(
        r#"
[[channels]]
name = "hook"
type = "webhook"
url = "{url}/hook"
secret_file = "{secret}"

[[rules]]
name = "RedisDown"
condition = {{ kind = "redis_unreachable" }}
for = "500ms"
severity = "critical"
summary = "the monitor cannot reach Redis"
channels = ["hook"]
"#
    ));
    let app = TestApp::spawn_with(options).await;
    let _ = std::fs::remove_file(secret);
    eventually(
        Duration::from_secs(10),
        "an instance evaluating",
        || async {
            let (_, current) = app
                .get_json(&format!("{BASE}/alerts"), Role::Moderator)
                .await;
            (current["evaluating"] == true).then_some(())
        },
    )
    .await;

    // Redis goes away: the alert state cannot be written, yet the instance that evaluated
    // tells the channel (once), from memory.
    redis.stop();
    let fired = eventually(Duration::from_secs(30), "the firing webhook", || async {
        inbox.on("/hook").first().cloned()
    })
    .await;
    assert_eq!(fired.signed, Some(true));
    assert_eq!(fired.body["status"], "firing");
    assert_eq!(fired.body["alerts"][0]["labels"]["alertname"], "RedisDown");
    assert_eq!(
        fired.body["alerts"][0]["annotations"]["summary"],
        "the monitor cannot reach Redis"
    );

    // It answers again: the resolve goes out, the episode is written down.
    redis.restart().expect("redis-server again");
    let resolved = eventually(Duration::from_secs(30), "the resolve", || async {
        inbox.on("/hook").get(1).cloned()
    })
    .await;
    assert_eq!(resolved.body["status"], "resolved");
    assert_eq!(
        resolved.body["alerts"][0]["fingerprint"],
        fired.body["alerts"][0]["fingerprint"]
    );
    eventually(
        Duration::from_secs(10),
        "the episode in the lists",
        || async {
            let (_, current) = app
                .get_json(&format!("{BASE}/alerts"), Role::Moderator)
                .await;
            let (_, log) = app
                .get_json(&format!("{BASE}/alerts/deliveries"), Role::Moderator)
                .await;
            (current["resolved"][0]["labels"]["alertname"] == "RedisDown"
                && log["deliveries"].as_array().map(Vec::len) == Some(2))
            .then_some(())
        },
    )
    .await;
    assert_eq!(inbox.on("/hook").len(), 2, "{:?}", inbox.on("/hook"));
}
