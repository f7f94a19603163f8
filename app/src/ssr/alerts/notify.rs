//! Notifications on the wire: each channel's payload (plain code) and one delivery attempt.
//!
//! - **webhook**: Alertmanager's webhook payload, version 4, as its receivers expect it,
//!   signed: `X-Monitor-Timestamp: <unix seconds>` and `X-Monitor-Signature: sha256=<hex>`,
//!   the HMAC-SHA256 of `<timestamp>.<body>` under the channel's secret (a receiver checks
//!   the signature and refuses old timestamps, so a captured request cannot be replayed later).
//! - **slack**: an incoming webhook's `text` (the fallback) and `blocks` with a link.
//! - **alertmanager**: `POST <url>/api/v2/alerts`, an array of alerts with `endsAt` once
//!   resolved; firing ones are sent again every minute (`state::ALERTMANAGER_RESEND`).
//!
//! An attempt answered 2xx is delivered; 5xx, 429, a timeout or no connection is retried with
//! back-off ([`retry_delay`]); any other answer fails the notification at once (the receiver
//! refuses it; sending it again would not help).

use super::rules::Channel;
use super::state::Notice;
use crate::model::alerts::{Alert, ChannelKind};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::BTreeMap;
use std::time::Duration;

/// The attempts a notification gets before it is given up.
pub const MAX_ATTEMPTS: u32 = 10;
/// How long one attempt may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The wait before attempt `attempt + 1` after `attempt` failed: 1 s, doubling, at most 5 min.
pub fn retry_delay(attempt: u32) -> Duration {
    let seconds = 1_u64 << attempt.saturating_sub(1).min(9);
    Duration::from_secs(seconds.min(300))
}

/// What an attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered(u16),
    /// Worth trying again (5xx, 429, timeout, no connection).
    Retry(Option<u16>, String),
    /// The receiver refused it.
    Refused(u16, String),
}

/// An HTTP notification: URL, headers, body.
pub type HttpRequest = (String, Vec<(&'static str, String)>, String);

/// The HTTP request for `notice` on `channel` (`None` for email).
pub fn request(
    channel: &Channel,
    notice: &Notice,
    external_url: &str,
    now_secs: u64,
) -> Option<HttpRequest> {
    Some(match channel.kind {
        ChannelKind::Email => return None,
        ChannelKind::Webhook => {
            let body = webhook_body(channel, notice, external_url).to_string();
            let mut headers = vec![("content-type", "application/json".to_owned())];
            if let Some(secret) = &channel.secret {
                headers.push(("x-monitor-timestamp", now_secs.to_string()));
                headers.push((
                    "x-monitor-signature",
                    format!("sha256={}", sign(secret, now_secs, &body)),
                ));
            }
            (channel.url.clone(), headers, body)
        }
        ChannelKind::Slack => (
            channel.url.clone(),
            vec![("content-type", "application/json".to_owned())],
            slack_body(notice).to_string(),
        ),
        ChannelKind::Alertmanager => (
            format!("{}/api/v2/alerts", channel.url),
            vec![("content-type", "application/json".to_owned())],
            alertmanager_body(notice).to_string(),
        ),
    })
}

/// An e-mail's subject and plain-text body.
pub fn email_text(notice: &Notice) -> (String, String) {
    let names: Vec<&str> = {
        let mut names: Vec<&str> = notice
            .alerts
            .iter()
            .filter_map(|a| a.labels.get("alertname").map(String::as_str))
            .collect();
        names.dedup();
        names
    };
    let queues: Vec<&str> = notice
        .alerts
        .iter()
        .filter_map(|a| a.labels.get("queue").map(String::as_str))
        .collect();
    let tag = match notice.kind.as_str() {
        "resolved" => "[RESOLVED]".to_owned(),
        "test" => "[TEST]".to_owned(),
        _ => format!("[FIRING:{}]", notice.alerts.len()),
    };
    let mut subject = format!("{tag} {}", names.join(", "));
    if !queues.is_empty() {
        let shown: Vec<&str> = queues.iter().take(3).copied().collect();
        let more = if queues.len() > 3 { ", …" } else { "" };
        subject.push_str(&format!(" ({}{more})", shown.join(", ")));
    }
    let mut body = String::new();
    for alert in &notice.alerts {
        let label = |name: &str| alert.labels.get(name).cloned().unwrap_or_default();
        body.push_str(&format!("[{}] {}", label("severity"), label("alertname")));
        // ASCII only, so the mail goes as plain 7-bit text (no quoted-printable).
        if let Some(queue) = alert.labels.get("queue") {
            body.push_str(&format!(" - {queue}"));
        }
        body.push('\n');
        for key in ["summary", "description"] {
            if let Some(text) = alert.annotations.get(key) {
                body.push_str(&format!("  {text}\n"));
            }
        }
        match &alert.ends_at {
            Some(ends) => body.push_str(&format!("  resolved at {ends}\n")),
            None => body.push_str(&format!(
                "  firing since {}\n",
                alert.starts_at.as_deref().unwrap_or(&alert.active_since)
            )),
        }
        if let Some(runbook) = alert.annotations.get("runbook_url") {
            body.push_str(&format!("  runbook: {runbook}\n"));
        }
        body.push_str(&format!("  open: {}\n\n", alert.generator_url));
    }
    (subject, body)
}

/// Sends an e-mail notification.
async fn send_email(email: &super::rules::EmailSettings, notice: &Notice) -> Outcome {
    use super::rules::EmailTls;
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let builder = match email.tls {
        EmailTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&email.host),
        EmailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&email.host),
        EmailTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &email.host,
        )),
    };
    let mut builder = match builder {
        Ok(builder) => builder.port(email.port).timeout(Some(TIMEOUT)),
        Err(error) => return Outcome::Refused(0, format!("the SMTP server's TLS set-up: {error}")),
    };
    if let Some((user, password)) = &email.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let transport = builder.build();
    let (subject, body) = email_text(notice);
    let mut message = Message::builder().subject(subject);
    match email.from.parse() {
        Ok(from) => message = message.from(from),
        Err(error) => return Outcome::Refused(0, format!("from: {error}")),
    }
    for to in &email.to {
        match to.parse() {
            Ok(to) => message = message.to(to),
            Err(error) => return Outcome::Refused(0, format!("to: {error}")),
        }
    }
    let message = match message.header(ContentType::TEXT_PLAIN).body(body) {
        Ok(message) => message,
        Err(error) => return Outcome::Refused(0, format!("the message: {error}")),
    };
    match transport.send(message).await {
        Ok(response) => Outcome::Delivered(smtp_code(Some(response.code()))),
        Err(error) if error.is_permanent() => Outcome::Refused(
            smtp_code(error.status()),
            format!("the SMTP server refused it: {error}"),
        ),
        Err(error) => {
            let code = error.status().map(|code| smtp_code(Some(code)));
            let why = if error.is_transient() {
                format!("the SMTP server answered later: {error}")
            } else if error.is_timeout() {
                "no answer in time".to_owned()
            } else {
                format!("could not talk to the SMTP server: {error}")
            };
            Outcome::Retry(code, why)
        }
    }
}

/// An SMTP reply code as a number (250, 451, 550…).
fn smtp_code(code: Option<lettre::transport::smtp::response::Code>) -> u16 {
    code.and_then(|code| code.to_string().parse().ok())
        .unwrap_or(0)
}

/// The signature of a webhook body: hex HMAC-SHA256 of `<timestamp>.<body>`.
pub fn sign(secret: &str, timestamp: u64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Labels every alert of the notice shares (Alertmanager's `commonLabels`), and the same for
/// annotations.
fn common(alerts: &[Alert], of: impl Fn(&Alert) -> &BTreeMap<String, String>) -> Value {
    let Some(first) = alerts.first() else {
        return json!({});
    };
    let shared: BTreeMap<&String, &String> = of(first)
        .iter()
        .filter(|(key, value)| alerts.iter().all(|a| of(a).get(*key) == Some(*value)))
        .collect();
    json!(shared)
}

/// Alertmanager's zero time: how its payloads say "no end yet".
const NO_END: &str = "0001-01-01T00:00:00Z";

fn payload_alert(alert: &Alert) -> Value {
    json!({
        "status": if alert.status.as_str() == "resolved" { "resolved" } else { "firing" },
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": alert.starts_at.clone().unwrap_or_else(|| alert.active_since.clone()),
        "endsAt": alert.ends_at.clone().unwrap_or_else(|| NO_END.to_owned()),
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    })
}

/// Alertmanager's webhook payload (version 4).
pub fn webhook_body(channel: &Channel, notice: &Notice, external_url: &str) -> Value {
    let status = if notice.kind == "resolved" {
        "resolved"
    } else {
        "firing"
    };
    let group_labels =
        json!({"alertname": notice.alerts.first().and_then(|a| a.labels.get("alertname"))});
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{channel=\"{}\", notification=\"{}\"}}", channel.name, notice.id),
        "truncatedAlerts": 0,
        "receiver": channel.name,
        "status": status,
        "alerts": notice.alerts.iter().map(payload_alert).collect::<Vec<_>>(),
        "groupLabels": group_labels,
        "commonLabels": common(&notice.alerts, |a| &a.labels),
        "commonAnnotations": common(&notice.alerts, |a| &a.annotations),
        "externalURL": external_url,
    })
}

/// An incoming webhook's message: one line per alert, a link to each.
pub fn slack_body(notice: &Notice) -> Value {
    let head = match notice.kind.as_str() {
        "resolved" => format!("Resolved: {} alert(s)", notice.alerts.len()),
        "test" => "Test notification from the BullMQ monitor".to_owned(),
        _ => format!("Firing: {} alert(s)", notice.alerts.len()),
    };
    let mut blocks = vec![json!({"type": "header", "text": {"type": "plain_text", "text": head}})];
    let mut text = head.clone();
    for alert in notice.alerts.iter().take(20) {
        let severity = alert.labels.get("severity").cloned().unwrap_or_default();
        let summary = alert
            .annotations
            .get("summary")
            .cloned()
            .unwrap_or_default();
        let line = format!(
            "*{}* ({severity}): {summary} <{}|open in the monitor>",
            alert.labels.get("alertname").cloned().unwrap_or_default(),
            alert.generator_url
        );
        text.push_str(&format!("\n{summary}"));
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": line}}));
    }
    json!({"text": text, "blocks": blocks})
}

/// Alertmanager's `POST /api/v2/alerts` body.
pub fn alertmanager_body(notice: &Notice) -> Value {
    let alerts: Vec<Value> = notice
        .alerts
        .iter()
        .map(|alert| {
            let mut out = json!({
                "labels": alert.labels,
                "annotations": alert.annotations,
                "startsAt": alert.starts_at.clone().unwrap_or_else(|| alert.active_since.clone()),
                "generatorURL": alert.generator_url,
            });
            if let Some(ends) = &alert.ends_at {
                out["endsAt"] = json!(ends);
            }
            out
        })
        .collect();
    json!(alerts)
}

/// Sends one attempt.
pub async fn send(
    http: &reqwest::Client,
    channel: &Channel,
    notice: &Notice,
    external_url: &str,
) -> Outcome {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let Some((url, headers, body)) = request(channel, notice, external_url, now) else {
        return match &channel.email {
            Some(email) => send_email(email, notice).await,
            None => Outcome::Refused(0, "the channel has no address".into()),
        };
    };
    let mut builder = http.post(url).timeout(TIMEOUT).body(body);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    match builder.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            if response.status().is_success() {
                Outcome::Delivered(status)
            } else if status >= 500 || status == 429 {
                Outcome::Retry(Some(status), format!("the receiver answered {status}"))
            } else {
                let text: String = response
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                Outcome::Refused(status, format!("the receiver answered {status}: {text}"))
            }
        }
        // The error names the URL; a Slack URL is a secret, so only the kind of failure.
        Err(error) if error.is_timeout() => Outcome::Retry(None, "no answer in time".into()),
        Err(error) if error.is_connect() => Outcome::Retry(None, "could not connect".into()),
        Err(_) => Outcome::Retry(None, "the request failed".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::alerts::AlertStatus;

    fn alert(queue: &str, status: AlertStatus) -> Alert {
        let mut labels = BTreeMap::new();
        labels.insert("alertname".to_owned(), "Backlog".to_owned());
        labels.insert("severity".to_owned(), "warning".to_owned());
        labels.insert("queue".to_owned(), queue.to_owned());
        let mut annotations = BTreeMap::new();
        annotations.insert("summary".to_owned(), format!("{queue} is behind"));
        Alert {
            fingerprint: "0123456789abcdef".into(),
            status,
            labels,
            annotations,
            active_since: "2026-12-02T10:00:00.000Z".into(),
            starts_at: Some("2026-12-02T10:01:00.000Z".into()),
            ends_at: (status == AlertStatus::Resolved).then(|| "2026-12-02T10:05:00.000Z".into()),
            value: 12.0,
            generator_url: format!("https://mon/?queue={queue}"),
            silenced_by: None,
        }
    }

    fn channel(kind: ChannelKind) -> Channel {
        Channel {
            name: "ops".into(),
            kind,
            url: "https://hooks.example.com/x".into(),
            secret: Some("s3cret".into()),
            email: None,
        }
    }

    #[test]
    fn the_webhook_carries_alertmanagers_payload_signed() {
        let notice = Notice {
            id: "n1".into(),
            channel: "ops".into(),
            kind: "firing".into(),
            alerts: vec![
                alert("mail", AlertStatus::Firing),
                alert("video", AlertStatus::Firing),
            ],
        };
        let (url, headers, body) = request(
            &channel(ChannelKind::Webhook),
            &notice,
            "https://mon",
            1_764_670_000,
        )
        .expect("http");
        assert_eq!(url, "https://hooks.example.com/x");
        let payload: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(payload["version"], "4");
        assert_eq!(payload["status"], "firing");
        assert_eq!(payload["receiver"], "ops");
        assert_eq!(payload["alerts"][0]["endsAt"], NO_END);
        assert_eq!(
            payload["commonLabels"],
            json!({"alertname": "Backlog", "severity": "warning"})
        );
        assert_eq!(payload["externalURL"], "https://mon");
        let signature = headers
            .iter()
            .find(|(name, _)| *name == "x-monitor-signature")
            .map(|(_, v)| v.clone())
            .expect("signed");
        assert_eq!(
            signature,
            format!("sha256={}", sign("s3cret", 1_764_670_000, &body))
        );
        assert_ne!(
            sign("s3cret", 1, &body),
            sign("s3cret", 2, &body),
            "the time is signed"
        );
        assert_ne!(sign("other", 1, &body), sign("s3cret", 1, &body));
    }

    #[test]
    fn slack_and_alertmanager_bodies() {
        let notice = Notice {
            id: "n2".into(),
            channel: "ops".into(),
            kind: "resolved".into(),
            alerts: vec![alert("mail", AlertStatus::Resolved)],
        };
        let slack = slack_body(&notice);
        assert!(slack["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("Resolved: 1 alert")));
        assert!(slack["blocks"][1]["text"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("<https://mon/?queue=mail|open in the monitor>")));
        let am = alertmanager_body(&notice);
        assert_eq!(am[0]["endsAt"], "2026-12-02T10:05:00.000Z");
        assert_eq!(am[0]["labels"]["queue"], "mail");
        let (url, _, _) =
            request(&channel(ChannelKind::Alertmanager), &notice, "", 0).expect("http");
        let (subject, text) = email_text(&notice);
        assert_eq!(subject, "[RESOLVED] Backlog (mail)");
        assert!(text.contains(
            "[warning] Backlog - mail\n  mail is behind\n  resolved at 2026-12-02T10:05:00.000Z"
        ));
        assert!(text.contains("open: https://mon/?queue=mail"));
        assert_eq!(url, "https://hooks.example.com/x/api/v2/alerts");
    }

    #[test]
    fn back_off_doubles_to_five_minutes() {
        let delays: Vec<u64> = (1..=11).map(|a| retry_delay(a).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }
}
