//! The alert rules file (`ALERTS_FILE`, TOML): channels, rules and a few settings, read and
//! validated once at start, so a mistake stops the server with one line naming the rule and
//! the field instead of an alert that never fires.
//!
//! ```toml
//! [settings]
//! dashboard_url = "https://monitor.example.com"   # links in notifications
//!
//! [[channels]]
//! name = "ops"
//! type = "webhook"                                 # webhook | slack | alertmanager
//! url = "https://hooks.example.com/bullmq"
//! secret_env = "OPS_WEBHOOK_SECRET"                # HMAC key; or secret_file
//!
//! [[rules]]
//! name = "QueueBacklog"
//! condition = { kind = "backlog", above = 1000 }
//! queues = ["mail"]                                # or queue_pattern = "mail-*"; default all
//! for = "5m"
//! severity = "warning"
//! channels = ["ops"]
//! summary = "{queue} has {value} jobs waiting"
//! ```

use crate::model::alerts::{AlertSeverity, ChannelKind, ConditionView, RuleView};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// What a rule watches. Per-queue conditions hold (or not) for each queue of the rule's scope;
/// the others once for the whole monitor.
#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    /// At least `at_least` stuck jobs (of `severity` or worse when given) in the queue.
    Stuck {
        at_least: u64,
        severity: Option<crate::model::Severity>,
    },
    /// Failed among the queue's finished jobs above `above` percent, with at least
    /// `min_finished` of them: over `window` from the collector's history, or without a window
    /// over the most recently finished (the snapshot's success-rate sample, up to 1,000).
    FailureRate {
        above: f64,
        min_finished: u64,
        window: Option<Duration>,
    },
    /// Waiting + prioritized + delayed above `above`.
    Backlog { above: u64 },
    /// Jobs wait and none finished since the previous evaluation (with `for`: for that long).
    Stalled,
    /// The queue is paused (with `for`: longer than that).
    Paused,
    /// The oldest job in `wait` has waited longer than this.
    OldestWaiting { older_than: Duration },
    /// A failure group first seen less than `within` ago (per group).
    NewFailureGroup { within: Duration },
    /// A failure group growing faster than `per_minute` failures a minute (per group; measured
    /// over at least a minute between evaluations).
    FailureGroupGrowth { per_minute: f64 },
    /// The history collector has not caught up with the queue's events for longer than this.
    CollectorBehind { by: Duration },
    /// Redis does not answer the snapshot.
    RedisUnreachable,
}

impl Condition {
    /// Whether it is judged per queue (then the alert carries a `queue` label).
    pub fn per_queue(&self) -> bool {
        !matches!(self, Condition::RedisUnreachable)
    }

    fn view(&self) -> ConditionView {
        let (kind, text) = match self {
            Condition::Stuck { at_least, severity } => (
                "stuck",
                match severity {
                    Some(s) => format!("at least {at_least} stuck jobs of severity {s:?} or worse")
                        .to_lowercase(),
                    None => format!("at least {at_least} stuck jobs"),
                },
            ),
            Condition::FailureRate {
                above,
                min_finished,
                window,
            } => (
                "failure_rate",
                match window {
                    Some(window) => format!(
                        "more than {above}% of the jobs finished in the last {}s failed (at least {min_finished} finished)",
                        window.as_secs()
                    ),
                    None => format!(
                        "more than {above}% of the last finished jobs failed (at least {min_finished} finished)"
                    ),
                },
            ),
            Condition::Backlog { above } => (
                "backlog",
                format!("more than {above} jobs waiting, prioritized or delayed"),
            ),
            Condition::Stalled => ("stalled", "jobs wait and none finishes".to_owned()),
            Condition::Paused => ("paused", "the queue is paused".to_owned()),
            Condition::OldestWaiting { older_than } => (
                "oldest_waiting",
                format!("a job has waited longer than {}s", older_than.as_secs()),
            ),
            Condition::NewFailureGroup { within } => (
                "new_failure_group",
                format!("a failure group first seen in the last {}s", within.as_secs()),
            ),
            Condition::FailureGroupGrowth { per_minute } => (
                "failure_group_growth",
                format!("a failure group grows by more than {per_minute} a minute"),
            ),
            Condition::CollectorBehind { by } => (
                "collector_behind",
                format!("the history collector is more than {}s behind", by.as_secs()),
            ),
            Condition::RedisUnreachable => (
                "redis_unreachable",
                "Redis does not answer".to_owned(),
            ),
        };
        ConditionView {
            kind: kind.to_owned(),
            text,
        }
    }
}

/// Which queues a per-queue rule looks at.
#[derive(Clone, Debug, PartialEq)]
pub enum Scope {
    All,
    Listed(Vec<String>),
    /// `*` any run of characters, `?` one.
    Pattern(String),
}

impl Scope {
    /// From a rule's or playbook's `queues` and `queue_pattern` (at most one; neither: all).
    pub fn from_fields(
        at: &str,
        queues: Option<Vec<String>>,
        pattern: Option<String>,
    ) -> Result<Scope, String> {
        match (queues, pattern) {
            (Some(_), Some(_)) => Err(format!("{at}: queues and queue_pattern both given; one")),
            (Some(queues), None) if queues.is_empty() => Err(format!("{at}: queues is empty")),
            (Some(queues), None) => Ok(Scope::Listed(queues)),
            (None, Some(pattern)) => Ok(Scope::Pattern(pattern)),
            (None, None) => Ok(Scope::All),
        }
    }

    pub fn covers(&self, queue: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Listed(names) => names.iter().any(|n| n == queue),
            Scope::Pattern(pattern) => glob(pattern.as_bytes(), queue.as_bytes()),
        }
    }
}

/// `*` / `?` matching, iterative (no backtracking blow-up).
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// A rule, validated.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The `alertname` label.
    pub name: String,
    pub condition: Condition,
    pub scope: Scope,
    /// How long the condition must hold before the alert fires.
    pub hold: Duration,
    pub severity: AlertSeverity,
    /// Extra labels (besides `alertname`, `severity`, `queue`, `prefix`).
    pub labels: BTreeMap<String, String>,
    /// `summary`, `description`, `runbook_url`; `{queue}` and `{value}` are filled in.
    pub annotations: BTreeMap<String, String>,
    /// Channel names (none: the alert shows in the dashboard and `GET /alerts` only).
    pub channels: Vec<String>,
    /// Notify again while it keeps firing, this often.
    pub repeat: Option<Duration>,
}

impl Rule {
    /// Its condition, for people.
    pub fn condition_text(&self) -> String {
        self.condition.view().text
    }
}

/// Where a secret comes from: never written in the rules file itself.
#[derive(Clone, Debug, PartialEq)]
pub enum SecretSource {
    Env(String),
    File(String),
}

impl SecretSource {
    /// Reads it now (at start: a missing secret is an error then, not at the first alert).
    pub fn read(&self) -> Result<String, String> {
        match self {
            SecretSource::Env(name) => std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("environment variable {name} is not set")),
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim().to_owned())
                .map_err(|e| format!("cannot read {path}: {e}")),
        }
    }
}

/// A channel, validated, with its secrets read.
#[derive(Clone)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// Where notifications go (for Slack, the secret webhook URL itself).
    pub url: String,
    /// The HMAC key of a webhook channel.
    pub secret: Option<String>,
    /// An email channel's server and addresses.
    pub email: Option<EmailSettings>,
}

/// How an email channel talks to its server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailTls {
    /// Plain connection upgraded with STARTTLS, which must succeed (port 587 by default).
    StartTls,
    /// TLS from the first byte (port 465 by default).
    Tls,
    /// No encryption: a relay on the same host or network only (port 25 by default); no
    /// credentials are sent over it.
    None,
}

/// An email channel's settings, its credentials read.
#[derive(Clone)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub tls: EmailTls,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    pub from: String,
    pub to: Vec<String>,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach a log line.
        f.debug_struct("Channel")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &shown_url(self))
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field(
                "email",
                &self.email.as_ref().map(|e| {
                    (
                        &e.host,
                        e.port,
                        e.tls,
                        e.credentials.as_ref().map(|_| "***"),
                        &e.from,
                        &e.to,
                    )
                }),
            )
            .finish()
    }
}

/// A channel's URL as it may be shown (Slack's URL is its secret: only the host).
/// Webhook URLs often carry a token in their query or their user part: those are never shown
/// either (`https://user:pw@host/hook?token=x` shows as `https://host/hook?…`).
pub fn shown_url(channel: &Channel) -> String {
    let (scheme, rest) = channel.url.split_once("://").unwrap_or(("", &channel.url));
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let host = authority.rsplit('@').next().unwrap_or(authority);
    match channel.kind {
        ChannelKind::Slack => format!("{scheme}://{host}/…"),
        _ => {
            let (path, hidden) = match path.find(['?', '#']) {
                Some(at) => (&path[..at], "?…"),
                None => (path, ""),
            };
            format!("{scheme}://{host}{path}{hidden}")
        }
    }
}

/// The whole file, validated.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub channels: Vec<Channel>,
    /// The dashboard's address, for links in notifications (`generatorURL`).
    pub dashboard_url: Option<String>,
    /// Where the rules came from.
    pub source: Option<String>,
    /// Automated stuck-job resolution (opt-in).
    pub playbooks: Vec<super::playbooks::Playbook>,
}

impl RuleSet {
    /// Reads and validates `path`; the error is one line.
    pub fn load(path: &str) -> Result<RuleSet, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("ALERTS_FILE {path}: cannot read it: {e}"))?;
        let mut set =
            Self::parse(&text, &|s| s.read()).map_err(|e| format!("ALERTS_FILE {path}: {e}"))?;
        set.source = Some(path.to_owned());
        Ok(set)
    }

    /// Parses a rules file; `secrets` reads a channel's secret (tests pass their own).
    pub fn parse(
        text: &str,
        secrets: &dyn Fn(&SecretSource) -> Result<String, String>,
    ) -> Result<RuleSet, String> {
        let file: File = toml::from_str(text).map_err(|e| one_line(text, &e))?;
        let mut channels: Vec<Channel> = Vec::new();
        for (i, raw) in file.channels.into_iter().enumerate() {
            let at = format!("channel {} (`{}`)", i + 1, raw.name);
            check_name(&raw.name).map_err(|e| format!("{at}: name {e}"))?;
            if channels.iter().any(|c| c.name == raw.name) {
                return Err(format!("{at}: a second channel of that name"));
            }
            let kind = ChannelKind::parse(&raw.kind).ok_or_else(|| {
                format!(
                    "{at}: unknown type `{}` (one of webhook, slack, alertmanager, email)",
                    raw.kind
                )
            })?;
            if kind == ChannelKind::Email {
                if raw.secret_env.is_some()
                    || raw.secret_file.is_some()
                    || raw.url.is_some()
                    || raw.url_env.is_some()
                {
                    return Err(format!(
                        "{at}: an email channel takes host, port, tls, username_*, password_*, from, to (no url or secret)"
                    ));
                }
                let name = raw.name.clone();
                let email = email_settings(&at, raw, secrets)?;
                channels.push(Channel {
                    name,
                    kind,
                    url: format!("smtp://{}:{}", email.host, email.port),
                    secret: None,
                    email: Some(email),
                });
                continue;
            }
            if raw.email_given() {
                return Err(format!(
                    "{at}: host, port, tls, username_*, password_*, from and to go with type email only"
                ));
            }
            let secret_source = either(
                &at,
                ("secret_env", raw.secret_env),
                ("secret_file", raw.secret_file),
            )?;
            let url_source = match (raw.url, raw.url_env) {
                (Some(_), Some(_)) => return Err(format!("{at}: url and url_env both given; one")),
                (Some(url), None) => url,
                (None, Some(env)) => {
                    secrets(&SecretSource::Env(env)).map_err(|e| format!("{at}: url_env: {e}"))?
                }
                (None, None) => return Err(format!("{at}: url (or url_env) is missing")),
            };
            if !(url_source.starts_with("http://") || url_source.starts_with("https://")) {
                return Err(format!("{at}: the url must start with http:// or https://"));
            }
            let secret = match secret_source {
                Some(source) => Some(secrets(&source).map_err(|e| format!("{at}: secret: {e}"))?),
                None if kind == ChannelKind::Webhook => {
                    return Err(format!(
                        "{at}: a webhook needs secret_env or secret_file (the HMAC key its requests are signed with)"
                    ))
                }
                None => None,
            };
            channels.push(Channel {
                name: raw.name,
                kind,
                url: url_source.trim_end_matches('/').to_owned(),
                secret,
                email: None,
            });
        }
        let mut rules: Vec<Rule> = Vec::new();
        for (i, raw) in file.rules.into_iter().enumerate() {
            let at = format!("rule {} (`{}`)", i + 1, raw.name);
            check_name(&raw.name).map_err(|e| format!("{at}: name {e}"))?;
            if rules.iter().any(|r| r.name == raw.name) {
                return Err(format!("{at}: a second rule of that name"));
            }
            let condition =
                condition(raw.condition).map_err(|e| format!("{at}: condition: {e}"))?;
            let scope = Scope::from_fields(&at, raw.queues, raw.queue_pattern)?;
            if !condition.per_queue() && scope != Scope::All {
                return Err(format!(
                    "{at}: {} is not per queue; no queues",
                    condition.view().kind
                ));
            }
            let hold = match raw.hold.as_deref() {
                Some(text) => duration(text).map_err(|e| format!("{at}: for: {e}"))?,
                None => Duration::ZERO,
            };
            let repeat = match raw.repeat.as_deref() {
                Some(text) => {
                    let every = duration(text).map_err(|e| format!("{at}: repeat: {e}"))?;
                    if every < Duration::from_secs(60) {
                        return Err(format!("{at}: repeat must be at least 1m"));
                    }
                    Some(every)
                }
                None => None,
            };
            let severity = match raw.severity.as_deref() {
                None => AlertSeverity::Warning,
                Some(text) => AlertSeverity::parse(text).ok_or_else(|| {
                    format!("{at}: severity `{text}` (one of info, warning, critical)")
                })?,
            };
            for name in &raw.channels {
                if !channels.iter().any(|c| &c.name == name) {
                    return Err(format!("{at}: no channel named `{name}`"));
                }
            }
            for key in raw.labels.keys() {
                if matches!(key.as_str(), "alertname" | "severity" | "queue" | "prefix")
                    || check_label(key).is_err()
                {
                    return Err(format!(
                        "{at}: label `{key}` (labels are [a-zA-Z_][a-zA-Z0-9_]*, and alertname, severity, queue, prefix are set by the monitor)"
                    ));
                }
            }
            let mut annotations = BTreeMap::new();
            for (key, value) in [
                ("summary", raw.summary),
                ("description", raw.description),
                ("runbook_url", raw.runbook_url),
            ] {
                if let Some(value) = value {
                    annotations.insert(key.to_owned(), value);
                }
            }
            rules.push(Rule {
                name: raw.name,
                condition,
                scope,
                hold,
                severity,
                labels: raw.labels,
                annotations,
                channels: raw.channels,
                repeat,
            });
        }
        let dashboard_url = file
            .settings
            .dashboard_url
            .map(|u| u.trim_end_matches('/').to_owned());
        if let Some(url) = &dashboard_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err("settings: dashboard_url must start with http:// or https://".into());
            }
        }
        let mut playbooks: Vec<super::playbooks::Playbook> = Vec::new();
        for (i, raw) in file.playbooks.into_iter().enumerate() {
            let playbook = raw.validate(i)?;
            if playbooks.iter().any(|p| p.name == playbook.name) {
                return Err(format!(
                    "playbook {} (`{}`): a second playbook of that name",
                    i + 1,
                    playbook.name
                ));
            }
            playbooks.push(playbook);
        }
        Ok(RuleSet {
            rules,
            channels,
            dashboard_url,
            source: None,
            playbooks,
        })
    }

    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.name == name)
    }

    /// What `GET /alerts/rules` shows.
    pub fn views(&self) -> Vec<RuleView> {
        self.rules
            .iter()
            .map(|rule| RuleView {
                name: rule.name.clone(),
                condition: rule.condition.view(),
                queues: match &rule.scope {
                    Scope::All => None,
                    Scope::Listed(names) => Some(names.join(", ")),
                    Scope::Pattern(pattern) => Some(pattern.clone()),
                },
                hold_seconds: rule.hold.as_secs(),
                severity: rule.severity,
                labels: rule.labels.clone(),
                annotations: rule.annotations.clone(),
                channels: rule.channels.clone(),
                repeat_seconds: rule.repeat.map(|r| r.as_secs()),
            })
            .collect()
    }
}

fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 100 {
        return Err("must be 1 to 100 characters".into());
    }
    if name.chars().any(|c| c.is_control()) {
        return Err("holds a control character".into());
    }
    Ok(())
}

fn check_label(key: &str) -> Result<(), ()> {
    let mut chars = key.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return Err(()),
    }
    if chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(())
    }
}

/// `90s`, `5m`, `2h`, `1d`, `250ms`.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("`{text}` has no unit (ms, s, m, h, d)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 90s, 5m, 2h"))?;
    let ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{text}`: unknown unit `{unit}` (ms, s, m, h, d)")),
    };
    Ok(Duration::from_millis(number.saturating_mul(ms)))
}

fn condition(raw: RawCondition) -> Result<Condition, String> {
    let RawCondition {
        kind,
        at_least,
        above,
        min_finished,
        severity,
        older_than,
        within,
        per_minute,
        by,
        window,
    } = raw;
    let durations_given = [
        ("older_than", older_than.is_some()),
        ("within", within.is_some()),
        ("per_minute", per_minute.is_some()),
        ("by", by.is_some()),
        ("window", window.is_some()),
    ];
    let takes = |own: &[&str]| -> Result<(), String> {
        for (name, given) in durations_given {
            if given && !own.contains(&name) {
                return Err(format!("`{name}` does not go with kind {kind}"));
            }
        }
        Ok(())
    };
    let simple = ["stuck", "backlog", "stalled", "paused", "redis_unreachable"];
    if simple.contains(&kind.as_str()) {
        takes(&[])?;
    }
    if kind == "failure_rate" {
        takes(&["window"])?;
    }
    let unused = |name: &str, given: bool| -> Result<(), String> {
        if given {
            Err(format!("`{name}` does not go with kind {kind}"))
        } else {
            Ok(())
        }
    };
    let condition = match kind.as_str() {
        "stuck" => {
            unused("above", above.is_some())?;
            unused("min_finished", min_finished.is_some())?;
            use crate::model::Severity;
            let severity = match severity.as_deref() {
                None => None,
                Some("low") => Some(Severity::Low),
                Some("medium") => Some(Severity::Medium),
                Some("high") => Some(Severity::High),
                Some("critical") => Some(Severity::Critical),
                Some(other) => {
                    return Err(format!(
                        "severity `{other}` (one of low, medium, high, critical: a stuck job's)"
                    ))
                }
            };
            Condition::Stuck {
                at_least: at_least.unwrap_or(1).max(1),
                severity,
            }
        }
        "failure_rate" => {
            unused("at_least", at_least.is_some())?;
            unused("severity", severity.is_some())?;
            let above = above.ok_or("failure_rate needs `above` (a percentage)")?;
            if !(0.0..100.0).contains(&above) {
                return Err("failure_rate's `above` is a percentage from 0 to 100".into());
            }
            let window = match window {
                Some(text) => {
                    let window = duration(&text).map_err(|e| format!("window: {e}"))?;
                    if window < Duration::from_secs(60) || window > Duration::from_secs(30 * 86_400)
                    {
                        return Err("failure_rate's window is from 1m to 30d".into());
                    }
                    Some(window)
                }
                None => None,
            };
            Condition::FailureRate {
                above,
                min_finished: min_finished.unwrap_or(20),
                window,
            }
        }
        "backlog" => {
            unused("at_least", at_least.is_some())?;
            unused("min_finished", min_finished.is_some())?;
            unused("severity", severity.is_some())?;
            let above = above.ok_or("backlog needs `above` (a number of jobs)")?;
            if above < 0.0 || above.fract() != 0.0 {
                return Err("backlog's `above` is a whole number of jobs".into());
            }
            Condition::Backlog {
                above: above as u64,
            }
        }
        "stalled" | "paused" | "redis_unreachable" => {
            unused("at_least", at_least.is_some())?;
            unused("above", above.is_some())?;
            unused("min_finished", min_finished.is_some())?;
            unused("severity", severity.is_some())?;
            match kind.as_str() {
                "stalled" => Condition::Stalled,
                "paused" => Condition::Paused,
                _ => Condition::RedisUnreachable,
            }
        }
        "oldest_waiting" | "new_failure_group" | "failure_group_growth" | "collector_behind" => {
            unused("at_least", at_least.is_some())?;
            unused("above", above.is_some())?;
            unused("min_finished", min_finished.is_some())?;
            unused("severity", severity.is_some())?;
            let need = |name: &str, value: Option<String>| -> Result<Duration, String> {
                let text = value.ok_or_else(|| format!("{kind} needs `{name}` (a duration like 10m)"))?;
                duration(&text).map_err(|e| format!("{name}: {e}"))
            };
            match kind.as_str() {
                "oldest_waiting" => {
                    takes(&["older_than"])?;
                    Condition::OldestWaiting {
                        older_than: need("older_than", older_than)?,
                    }
                }
                "new_failure_group" => {
                    takes(&["within"])?;
                    Condition::NewFailureGroup {
                        within: match within {
                            Some(text) => duration(&text).map_err(|e| format!("within: {e}"))?,
                            None => Duration::from_secs(15 * 60),
                        },
                    }
                }
                "failure_group_growth" => {
                    takes(&["per_minute"])?;
                    let per_minute = per_minute
                        .filter(|n| *n > 0.0)
                        .ok_or("failure_group_growth needs `per_minute` (more than 0)")?;
                    Condition::FailureGroupGrowth { per_minute }
                }
                _ => {
                    takes(&["by"])?;
                    Condition::CollectorBehind {
                        by: need("by", by)?,
                    }
                }
            }
        }
        other => {
            return Err(format!(
                "unknown kind `{other}` (one of stuck, failure_rate, backlog, stalled, paused, oldest_waiting, new_failure_group, failure_group_growth, collector_behind, redis_unreachable)"
            ))
        }
    };
    Ok(condition)
}

/// A TOML error as one line: its message and where.
fn one_line(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    settings: RawSettings,
    #[serde(default)]
    channels: Vec<RawChannel>,
    #[serde(default)]
    rules: Vec<RawRule>,
    #[serde(default)]
    playbooks: Vec<super::playbooks::RawPlaybook>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    dashboard_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChannel {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    url_env: Option<String>,
    secret_env: Option<String>,
    secret_file: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    tls: Option<String>,
    username_env: Option<String>,
    username_file: Option<String>,
    password_env: Option<String>,
    password_file: Option<String>,
    from: Option<String>,
    #[serde(default)]
    to: Vec<String>,
}

impl RawChannel {
    /// Whether any of an email channel's own fields is given.
    fn email_given(&self) -> bool {
        self.host.is_some()
            || self.port.is_some()
            || self.tls.is_some()
            || self.username_env.is_some()
            || self.username_file.is_some()
            || self.password_env.is_some()
            || self.password_file.is_some()
            || self.from.is_some()
            || !self.to.is_empty()
    }
}

/// At most one of two ways to give a secret.
fn either(
    at: &str,
    (env_name, env): (&str, Option<String>),
    (file_name, file): (&str, Option<String>),
) -> Result<Option<SecretSource>, String> {
    match (env, file) {
        (Some(_), Some(_)) => Err(format!("{at}: {env_name} and {file_name} both given; one")),
        (Some(env), None) => Ok(Some(SecretSource::Env(env))),
        (None, Some(file)) => Ok(Some(SecretSource::File(file))),
        (None, None) => Ok(None),
    }
}

fn email_settings(
    at: &str,
    raw: RawChannel,
    secrets: &dyn Fn(&SecretSource) -> Result<String, String>,
) -> Result<EmailSettings, String> {
    let host = raw
        .host
        .filter(|h| !h.trim().is_empty())
        .ok_or_else(|| format!("{at}: host is missing (the SMTP server)"))?;
    let tls = match raw.tls.as_deref().unwrap_or("starttls") {
        "starttls" => EmailTls::StartTls,
        "tls" => EmailTls::Tls,
        "none" => EmailTls::None,
        other => return Err(format!("{at}: tls `{other}` (one of starttls, tls, none)")),
    };
    let port = raw.port.unwrap_or(match tls {
        EmailTls::StartTls => 587,
        EmailTls::Tls => 465,
        EmailTls::None => 25,
    });
    let read = |what: &str, source: Option<SecretSource>| -> Result<Option<String>, String> {
        source
            .map(|source| secrets(&source).map_err(|e| format!("{at}: {what}: {e}")))
            .transpose()
    };
    let username = read(
        "username",
        either(
            at,
            ("username_env", raw.username_env),
            ("username_file", raw.username_file),
        )?,
    )?;
    let password = read(
        "password",
        either(
            at,
            ("password_env", raw.password_env),
            ("password_file", raw.password_file),
        )?,
    )?;
    let credentials = match (username, password) {
        (Some(user), Some(password)) => Some((user, password)),
        (None, None) => None,
        _ => {
            return Err(format!(
                "{at}: a username needs a password, and the other way round"
            ))
        }
    };
    if credentials.is_some() && tls == EmailTls::None {
        return Err(format!(
            "{at}: credentials are never sent unencrypted: use tls = \"starttls\" or \"tls\""
        ));
    }
    let address = |text: &str| -> Result<String, String> {
        text.parse::<lettre::message::Mailbox>()
            .map(|_| text.to_owned())
            .map_err(|e| format!("{at}: `{text}` is not an e-mail address: {e}"))
    };
    let from = address(
        raw.from
            .as_deref()
            .ok_or_else(|| format!("{at}: from is missing (the sender's address)"))?,
    )?;
    if raw.to.is_empty() {
        return Err(format!("{at}: to is empty (name at least one recipient)"));
    }
    let to = raw
        .to
        .iter()
        .map(|a| address(a))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EmailSettings {
        host,
        port,
        tls,
        credentials,
        from,
        to,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    condition: RawCondition,
    queues: Option<Vec<String>>,
    queue_pattern: Option<String>,
    #[serde(rename = "for")]
    hold: Option<String>,
    severity: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    summary: Option<String>,
    description: Option<String>,
    runbook_url: Option<String>,
    #[serde(default)]
    channels: Vec<String>,
    repeat: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCondition {
    kind: String,
    at_least: Option<u64>,
    above: Option<f64>,
    min_finished: Option<u64>,
    severity: Option<String>,
    older_than: Option<String>,
    within: Option<String>,
    per_minute: Option<f64>,
    by: Option<String>,
    window: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(source: &SecretSource) -> Result<String, String> {
        match source {
            SecretSource::Env(name) if name == "HOOK_SECRET" => Ok("s3cret".into()),
            SecretSource::Env(name) if name == "SLACK_URL" => {
                Ok("https://hooks.slack.com/services/T/B/X".into())
            }
            other => Err(format!("{other:?} is not set")),
        }
    }

    const GOOD: &str = r#"
[settings]
dashboard_url = "https://monitor.example.com/"

[[channels]]
name = "ops"
type = "webhook"
url = "http://127.0.0.1:9/hook"
secret_env = "HOOK_SECRET"

[[channels]]
name = "chat"
type = "slack"
url_env = "SLACK_URL"

[[rules]]
name = "Backlog"
condition = { kind = "backlog", above = 100 }
queue_pattern = "mail-*"
for = "2m"
severity = "critical"
labels = { team = "mail" }
summary = "{queue}: {value} jobs wait"
channels = ["ops", "chat"]
repeat = "1h"

[[rules]]
name = "RedisDown"
condition = { kind = "redis_unreachable" }
channels = ["ops"]
"#;

    #[test]
    fn a_good_file_reads_whole() {
        let set = RuleSet::parse(GOOD, &secrets).expect("valid");
        assert_eq!(set.rules.len(), 2);
        let rule = &set.rules[0];
        assert_eq!(rule.condition, Condition::Backlog { above: 100 });
        assert_eq!(rule.hold, Duration::from_secs(120));
        assert_eq!(rule.severity, AlertSeverity::Critical);
        assert!(rule.scope.covers("mail-eu") && !rule.scope.covers("video"));
        assert_eq!(rule.repeat, Some(Duration::from_secs(3600)));
        assert_eq!(
            set.dashboard_url.as_deref(),
            Some("https://monitor.example.com")
        );
        assert_eq!(
            set.channel("ops").and_then(|c| c.secret.clone()).as_deref(),
            Some("s3cret")
        );
        let chat = set.channel("chat").expect("slack");
        assert_eq!(shown_url(chat), "https://hooks.slack.com/…");
        assert!(
            !format!("{chat:?}").contains("/T/B/X"),
            "no secret in Debug"
        );
        assert!(!format!("{:?}", set.channel("ops")).contains("s3cret"));
        assert_eq!(set.views()[1].condition.kind, "redis_unreachable");
    }

    #[test]
    fn each_mistake_is_one_line_naming_what_is_wrong() {
        let cases: [(&str, &str); 16] = [
            ("[[channels]]\nname = \"m\"\ntype = \"email\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]", "host is missing"),
            ("[[channels]]\nname = \"m\"\ntype = \"email\"\nhost = \"smtp\"\nfrom = \"nobody\"\nto = [\"d@e.f\"]", "not an e-mail address"),
            ("[[channels]]\nname = \"m\"\ntype = \"email\"\nhost = \"smtp\"\ntls = \"none\"\nusername_env = \"HOOK_SECRET\"\npassword_env = \"HOOK_SECRET\"\nfrom = \"a@b.c\"\nto = [\"d@e.f\"]", "never sent unencrypted"),
            ("[[channels]]\nname = \"h\"\ntype = \"slack\"\nurl = \"http://x\"\nhost = \"smtp\"", "go with type email only"),
            ("[[rules]]\nname = \"A\"\ncondition = { kind = \"backlogg\" }\nchannels = [\"x\"]", "unknown kind `backlogg`"),
            ("[[rules]]\nname = \"A\"\ncondition = { kind = \"backlog\", above = 5 }\nfor = \"5 minutes\"\nchannels = [\"x\"]", "rule 1 (`A`): for:"),
            ("[[rules]]\nname = \"A\"\ncondition = { kind = \"backlog\", above = 5 }\nchannels = [\"nope\"]", "no channel named `nope`"),
            ("[[rules]]\nname = \"A\"\ncondition = { kind = \"backlog\" }\nchannels = []", "backlog needs `above`"),
            ("[[rules]]\nname = \"A\"\ncondition = { kind = \"stalled\", above = 3 }\nchannels = []", "`above` does not go with kind stalled"),
            ("[[rules]]\nname = \"A\"\nconditon = { kind = \"stalled\" }\nchannels = []", "line 3"),
            ("[[channels]]\nname = \"h\"\ntype = \"webhook\"\nurl = \"http://x\"", "needs secret_env or secret_file"),
            ("[[channels]]\nname = \"h\"\ntype = \"pager\"\nurl = \"http://x\"", "unknown type `pager`"),
            ("[[channels]]\nname = \"h\"\ntype = \"slack\"\nurl_env = \"MISSING\"", "url_env"),
            ("[[channels]]\nname = \"h\"\ntype = \"alertmanager\"\nurl = \"ftp://x\"", "http:// or https://"),
            ("[[rules]]\nname = \"A\"\ncondition = { kind = \"failure_rate\", above = 150 }\nchannels = []", "percentage"),
            ("[[rules]]\nname = \"A\"\ncondition = { kind = \"redis_unreachable\" }\nqueues = [\"a\"]\nchannels = []", "not per queue"),
        ];
        for (text, needle) in cases {
            let error = RuleSet::parse(text, &secrets).expect_err(text);
            assert!(!error.contains('\n'), "one line: {error}");
            assert!(error.contains(needle), "{needle:?} in {error:?}");
        }
    }

    #[test]
    fn the_demos_rules_are_valid() {
        let text = include_str!("../../../../end2end/demo/alerts.toml")
            .replace("@RECEIVER@", "http://127.0.0.1:9/hook")
            .replace("@DASHBOARD@", "http://127.0.0.1:3000");
        let set = RuleSet::parse(&text, &|_: &SecretSource| Ok("demo".into())).expect("valid");
        assert_eq!(set.rules.len(), 3);
    }

    #[test]
    fn an_email_channel_reads_its_server_and_credentials() {
        let text = "[[channels]]\nname = \"mail\"\ntype = \"email\"\nhost = \"smtp.example.com\"\nusername_env = \"HOOK_SECRET\"\npassword_env = \"HOOK_SECRET\"\nfrom = \"Monitor <monitor@example.com>\"\nto = [\"oncall@example.com\"]\n";
        let set = RuleSet::parse(text, &secrets).expect("valid");
        let channel = set.channel("mail").expect("mail");
        let email = channel.email.as_ref().expect("email");
        assert_eq!((email.port, email.tls), (587, EmailTls::StartTls));
        assert_eq!(email.credentials, Some(("s3cret".into(), "s3cret".into())));
        assert_eq!(channel.url, "smtp://smtp.example.com:587");
        assert!(!format!("{channel:?}").contains("s3cret"));
    }

    #[test]
    fn shown_urls_hold_no_credentials() {
        let channel = |kind, url: &str| Channel {
            name: "c".into(),
            kind,
            url: url.into(),
            secret: None,
            email: None,
        };
        assert_eq!(
            shown_url(&channel(
                ChannelKind::Webhook,
                "https://user:pw@hooks.example.com/in?token=x"
            )),
            "https://hooks.example.com/in?…"
        );
        assert_eq!(
            shown_url(&channel(ChannelKind::Alertmanager, "http://am:9093")),
            "http://am:9093"
        );
        assert_eq!(
            shown_url(&channel(
                ChannelKind::Slack,
                "https://hooks.slack.com/services/T/B/X"
            )),
            "https://hooks.slack.com/…"
        );
    }

    #[test]
    fn patterns_and_durations() {
        assert!(glob(b"mail-*", b"mail-"));
        assert!(glob(b"*-eu-?", b"mail-eu-1"));
        assert!(!glob(b"*-eu-?", b"mail-eu-12"));
        assert!(glob(b"*", b""));
        assert_eq!(duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(duration("5").is_err() && duration("5w").is_err() && duration("m").is_err());
    }
}
