//! Alerts (`GET /alerts`, `/alerts/rules`, `/alerts/deliveries`, `POST /alerts/test`): what
//! crosses the wire. An alert is modelled the way Prometheus and Alertmanager model one —
//! labels, annotations, a fingerprint of the labels, `startsAt`/`endsAt` — so the payloads a
//! channel receives are Alertmanager's own shapes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

wire_enum! {
    /// How urgent an alert is (the `severity` label).
    AlertSeverity, field "severity", default Warning {
        Info => "info",
        Warning => "warning",
        Critical => "critical",
    }
}

wire_enum! {
    /// Where notifications go.
    ChannelKind, field "type", default Webhook {
        /// Any HTTP endpoint: Alertmanager's webhook payload (version 4), HMAC-signed.
        Webhook => "webhook",
        /// A Slack incoming webhook: readable text and blocks with a link.
        Slack => "slack",
        /// An Alertmanager: `POST /api/v2/alerts`.
        Alertmanager => "alertmanager",
        /// E-mail over SMTP (STARTTLS, TLS or plain; optional auth).
        Email => "email",
    }
}

wire_enum! {
    /// Where an alert is.
    AlertStatus, field "status", default Firing {
        /// The condition holds, not yet for the rule's `for`.
        Pending => "pending",
        Firing => "firing",
        Resolved => "resolved",
    }
}

/// A rule's condition, for people.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    pub kind: String,
    pub text: String,
}

/// A rule as `GET /alerts/rules` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    pub name: String,
    pub condition: ConditionView,
    /// The queues it covers (names or a pattern); `null`: all.
    pub queues: Option<String>,
    /// How long the condition must hold before it fires (`for`).
    pub hold_seconds: u64,
    pub severity: AlertSeverity,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub channels: Vec<String>,
    pub repeat_seconds: Option<u64>,
}

/// A channel as listed (no secret: Slack's URL shows its host only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChannelView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    pub url: String,
    /// Whether its requests are signed (webhook).
    pub signed: bool,
}

/// `GET /alerts/rules`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RulesReply {
    /// The rules file (`ALERTS_FILE`); `null` when none is configured.
    pub source: Option<String>,
    pub rules: Vec<RuleView>,
    pub channels: Vec<ChannelView>,
}

/// One alert.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// 16 hex digits of a hash of the labels: the same alert keeps it.
    pub fingerprint: String,
    pub status: AlertStatus,
    /// `alertname` (the rule), `severity`, `queue` (per-queue rules), `prefix`, and the rule's.
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`.
    pub annotations: BTreeMap<String, String>,
    /// When the condition began to hold (RFC 3339).
    pub active_since: String,
    /// When it fired (RFC 3339); `null` while pending.
    pub starts_at: Option<String>,
    /// When it resolved (RFC 3339).
    pub ends_at: Option<String>,
    /// The number the condition looked at last (jobs, percent…).
    pub value: f64,
    /// A link into the dashboard.
    pub generator_url: String,
    /// The silence that holds its notifications back now, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub silenced_by: Option<String>,
}

/// `GET /alerts`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AlertsReply {
    /// Firing first (most severe first), then pending.
    pub active: Vec<Alert>,
    /// The latest resolved, newest first.
    pub resolved: Vec<Alert>,
    /// How many are firing.
    pub firing: u64,
    /// Whether some instance evaluates the rules now (holds the lease).
    pub evaluating: bool,
    /// The silences in force.
    #[serde(default)]
    pub silences: Vec<Silence>,
    /// Each rule's condition in words, by rule name (the `alertname` label).
    #[serde(default)]
    pub rules: BTreeMap<String, String>,
}

/// One attempt to deliver a notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// RFC 3339.
    pub at: String,
    pub channel: String,
    /// The notification's id (its attempts share it).
    pub notification: String,
    /// `firing`, `resolved` or `test`.
    pub kind: String,
    /// How many alerts it carried.
    pub alerts: u64,
    /// `delivered`, `retrying` (a 5xx or no answer; tried again later) or `failed`.
    pub outcome: String,
    pub attempt: u32,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// `GET /alerts/deliveries`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DeliveriesReply {
    /// Newest first.
    pub deliveries: Vec<Delivery>,
}

/// `POST /alerts/test`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestRequest {
    pub channel: String,
}

/// The header's count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Firing {
    /// Whether alert rules are configured at all.
    pub configured: bool,
    pub firing: u64,
    /// How many of them are critical.
    pub critical: u64,
}

/// A silence: notifications of the alerts whose labels hold all its matchers are not sent
/// until it ends (the alerts still show, marked).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Silence {
    pub id: String,
    /// Label → value; every one must equal the alert's.
    pub matchers: BTreeMap<String, String>,
    /// RFC 3339.
    pub starts_at: String,
    pub ends_at: String,
    pub comment: String,
    pub created_by: String,
    /// Whether it is in force now.
    pub active: bool,
}

/// `POST /alerts/silences`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SilenceRequest {
    pub matchers: BTreeMap<String, String>,
    /// How long from now (`30m`, `4h`, `2d`; at most 90 days).
    pub duration: String,
    pub comment: String,
}

/// `GET /alerts/silences`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SilencesReply {
    /// In force first, then the recently ended; newest first within each.
    pub silences: Vec<Silence>,
}

/// A playbook as `GET /alerts/playbooks` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlaybookView {
    pub name: String,
    /// The queues it covers (names or a pattern); `null`: all.
    pub queues: Option<String>,
    pub stuck_for_seconds: u64,
    /// `move_to_wait` or `fail`.
    pub action: String,
    pub reason: Option<String>,
    pub max_per_hour: u64,
    /// Only reports what it would do.
    pub dry_run: bool,
}

/// One thing a playbook did (or would have done).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlaybookRun {
    /// RFC 3339.
    pub at: String,
    pub playbook: String,
    pub queue_name: String,
    pub job_id: String,
    /// `moved`, `failed`; `would-move`, `would-fail` (dry run); `skipped-locked`,
    /// `skipped-gone` (a worker took it back, or it finished, since the report); `capped`.
    pub outcome: String,
    pub stuck_ms: u64,
}

/// `GET /alerts/playbooks`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlaybooksReply {
    pub playbooks: Vec<PlaybookView>,
    /// Newest first.
    pub runs: Vec<PlaybookRun>,
}
