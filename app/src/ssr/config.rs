//! Runtime settings of the monitor. Parsing them from flags and environment variables is the
//! server binary's job; this module holds the validated result that the rest of the code reads.

use std::fmt;
use std::time::Duration;

/// Validated settings. Built once at start-up; a missing or invalid value never gets this far.
#[derive(Clone)]
pub struct Settings {
    /// Where Redis is, e.g. `redis://127.0.0.1:6379`. May carry a password, so it is redacted in
    /// `Debug` output.
    pub redis_url: String,
    /// Connect to `redis_url` as a Redis Cluster even when its scheme is plain `redis://`.
    pub redis_cluster: bool,
    /// The BullMQ key prefix to watch (BullMQ's `prefix` option, default `bull`).
    pub prefix: String,
    /// When set, only these queues are shown, even if more exist under the prefix.
    pub queue_allow_list: Option<Vec<String>>,
    /// How often the list of queues is re-discovered.
    pub discovery_interval: Duration,
    /// How long one Redis command may take before the request fails with 503.
    pub redis_timeout: Duration,
    /// An active job whose current attempt is older than this is reported as stuck.
    pub stuck_after: Duration,
    /// How often the live streams' pollers read Redis.
    pub live_interval: Duration,
    /// The monitor's own key namespace (audit trail, history), never a BullMQ prefix.
    pub monitor_prefix: String,
    /// Whether this server runs the history collector (one instance collects at a time).
    pub collector: bool,
    /// How often the collector reads the event streams.
    pub collector_interval: Duration,
    /// How long the collector's lease lives without renewal (a stand-by takes over after it).
    pub collector_lease: Duration,
    /// How long a bulk operation's lease lives without a batch renewing it (another instance
    /// continues the operation after it).
    pub bulk_lease: Duration,
    /// A pause between two batches of a bulk operation (zero: only yield).
    pub bulk_pause: Duration,
    /// Jobs per batch of a bulk operation (at most 1,000).
    pub bulk_batch: usize,
    /// How often an instance looks for bulk operations to run or continue.
    pub bulk_interval: Duration,
    /// How long minute buckets are kept.
    pub history_minute_ttl: Duration,
    /// How long hour buckets are kept.
    pub history_hour_ttl: Duration,
    /// How long one read (metrics, trends…) serves identical requests (`ssr::shared_reads`).
    pub reads_shared_for: Duration,
    /// How long the snapshot trusts a queue whose event stream has not moved before reading it
    /// in full again (a key deleted by hand moves no stream); 60 s.
    pub snapshot_recount: Duration,
    /// `COOKIE_SECURE`: the session cookie is `Secure` and named `__Host-monitor_session`.
    pub cookie_secure: bool,
    /// Per-user limits (live streams, history reads).
    pub limits: crate::ssr::limits::LimitSettings,
    /// JSON paths never shown nor searched (`REDACT_PATHS`).
    pub redactor: crate::ssr::redact::Redactor,
    /// The alert rules and channels (`ALERTS_FILE`); none: no alerting.
    pub alerts: Option<std::sync::Arc<crate::ssr::alerts::rules::RuleSet>>,
    /// How often the rules are evaluated and the outboxes delivered.
    pub alerts_interval: Duration,
    /// The bearer token Prometheus scrapes `/metrics` with (`METRICS_TOKEN`); the endpoint is
    /// off without one. Never printed.
    pub metrics_token: Option<String>,
}

impl Settings {
    /// Settings for a prefix on a Redis URL with the default intervals; used by tests and tools.
    pub fn new(redis_url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            redis_url: redis_url.into(),
            redis_cluster: false,
            prefix: prefix.into(),
            queue_allow_list: None,
            discovery_interval: Duration::from_secs(10),
            redis_timeout: Duration::from_secs(5),
            stuck_after: Duration::from_secs(600),
            live_interval: Duration::from_secs(2),
            monitor_prefix: "bullmq-monitor".into(),
            collector: true,
            collector_interval: Duration::from_secs(2),
            collector_lease: Duration::from_secs(10),
            bulk_lease: Duration::from_secs(10),
            bulk_pause: Duration::ZERO,
            bulk_batch: crate::ssr::bulk::DEFAULT_BATCH,
            bulk_interval: Duration::from_millis(500),
            history_minute_ttl: Duration::from_secs(48 * 3600),
            history_hour_ttl: Duration::from_secs(90 * 86_400),
            reads_shared_for: crate::ssr::shared_reads::SHARED_FOR,
            snapshot_recount: crate::ssr::bullmq::snapshot::RECOUNT_EVERY,
            cookie_secure: false,
            limits: crate::ssr::limits::LimitSettings::default(),
            redactor: crate::ssr::redact::Redactor::default(),
            alerts: None,
            alerts_interval: Duration::from_secs(15),
            metrics_token: None,
        }
    }
}

impl Settings {
    /// Where the dashboard's session cookie lives.
    pub fn session_cookie(&self) -> crate::ssr::auth::SessionCookie {
        crate::ssr::auth::SessionCookie {
            secure: self.cookie_secure,
        }
    }

    /// How far behind the collector's last full pass may be before readers stop trusting the
    /// history: two leases, so a stand-by taking over from a dead collector fits inside it.
    pub fn history_max_lag(&self) -> Duration {
        self.collector_lease * 2
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("redis_url", &redact_url(&self.redis_url))
            .field("redis_cluster", &self.redis_cluster)
            .field("prefix", &self.prefix)
            .field("queue_allow_list", &self.queue_allow_list)
            .field("discovery_interval", &self.discovery_interval)
            .field("redis_timeout", &self.redis_timeout)
            .field("stuck_after", &self.stuck_after)
            .field("live_interval", &self.live_interval)
            .field("monitor_prefix", &self.monitor_prefix)
            .field("collector", &self.collector)
            .field("collector_interval", &self.collector_interval)
            .field("collector_lease", &self.collector_lease)
            .field("bulk_lease", &self.bulk_lease)
            .field("bulk_pause", &self.bulk_pause)
            .field("bulk_batch", &self.bulk_batch)
            .field("bulk_interval", &self.bulk_interval)
            .field("history_minute_ttl", &self.history_minute_ttl)
            .field("history_hour_ttl", &self.history_hour_ttl)
            .field("reads_shared_for", &self.reads_shared_for)
            .field("snapshot_recount", &self.snapshot_recount)
            .field("cookie_secure", &self.cookie_secure)
            .field("limits", &self.limits)
            .field("redactor", &self.redactor)
            .field("alerts", &self.alerts)
            .field("alerts_interval", &self.alerts_interval)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .finish()
    }
}

/// Replaces the password of a `scheme://user:password@host` URL with `***`, so that settings can
/// be logged without leaking credentials.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let user_info = &authority[..at];
            let user = user_info.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..scheme_end], user, &rest[at + 1..])
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_url_hides_passwords_only() {
        assert_eq!(
            redact_url("redis://:hunter2@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact_url("redis://alice:pw@h:1"), "redis://alice:***@h:1");
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn debug_output_never_contains_the_password() {
        let settings = Settings::new("redis://:s3cret@localhost:6379", "bull");
        assert!(!format!("{settings:?}").contains("s3cret"));
    }
}
