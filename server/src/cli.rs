//! Command line and environment: `server` (serve the monitor) and `server token` (print a token
//! for local use). Every setting is a flag and an environment variable; a missing or invalid one
//! stops start-up with a single `error: …` line and exit code 2, never a panic.

use crate::config::ServerConfig;
use app::role::Role;
use app::ssr::auth::{AuthSettings, Authenticator};
use app::ssr::config::Settings;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

/// BullMQ monitor: dashboard, REST API and live streams over BullMQ's Redis keys.
#[derive(Parser, Debug)]
#[command(name = "server", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    options: Options,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print an HS256 token signed with JWT_SECRET, for local use and demos.
    Token {
        /// Role claim: MODERATOR, ADMIN or SUPER_ADMIN.
        #[arg(long)]
        role: Role,
        /// Subject claim (who the token is for).
        #[arg(long, default_value = "local-user")]
        sub: String,
        /// Lifetime, e.g. `90s`, `30m`, `1h`, `7d`.
        #[arg(long, default_value = "1h", value_parser = parse_duration)]
        ttl: Duration,
    },
    /// Print the OpenAPI 3.1 document of the HTTP API (as `GET /api/v1/openapi.json` serves
    /// it), for generating clients without a running server.
    Openapi,
}

/// Settings of the monitor; each flag can also come from the environment variable named.
#[derive(Args, Debug)]
struct Options {
    /// Redis to read BullMQ from.
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        global = true
    )]
    redis_url: String,
    /// Treat REDIS_URL as a Redis Cluster (same as a `redis-cluster://` URL); seed nodes may be
    /// listed comma-separated, e.g. `redis://10.0.0.1:7000,10.0.0.2:7000`.
    #[arg(long, env = "REDIS_CLUSTER", default_value_t = false, action = clap::ArgAction::Set, global = true)]
    redis_cluster: bool,
    /// BullMQ key prefix (BullMQ's `prefix` option).
    #[arg(long, env = "BULLMQ_PREFIX", default_value = "bull", global = true)]
    prefix: String,
    /// Only show these queues (comma-separated); default: every queue under the prefix.
    #[arg(long, env = "BULLMQ_QUEUES", value_delimiter = ',', global = true)]
    queues: Option<Vec<String>>,
    /// HS256 secret for JWTs (at least 16 characters).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true, global = true)]
    jwt_secret: Option<String>,
    /// PEM file with an RSA (RS256) or EC P-256 (ES256) public key for JWTs.
    #[arg(long, env = "JWT_PUBLIC_KEY", global = true)]
    jwt_public_key: Option<std::path::PathBuf>,
    /// Required `iss` claim, if set.
    #[arg(long, env = "JWT_ISSUER", global = true)]
    jwt_issuer: Option<String>,
    /// Required `aud` claim, if set.
    #[arg(long, env = "JWT_AUDIENCE", global = true)]
    jwt_audience: Option<String>,
    /// Address to listen on (port 0 picks a free port; the log says which).
    #[arg(
        long,
        env = "LEPTOS_SITE_ADDR",
        default_value = "127.0.0.1:3000",
        global = true
    )]
    site_addr: SocketAddr,
    /// Directory with the built site (`pkg/` with the WASM, JS and CSS).
    #[arg(
        long,
        env = "LEPTOS_SITE_ROOT",
        default_value = "target/site",
        global = true
    )]
    site_root: String,
    /// The site's file hashes written by `cargo leptos build` (`hash.txt`); a relative path is
    /// beside this binary. Without it, file names are plain and revalidated on every use.
    #[arg(
        long,
        env = "LEPTOS_HASH_FILE_NAME",
        default_value = crate::assets::HASH_FILE,
        global = true
    )]
    hash_file: String,
    /// How often to re-discover queues, e.g. `15s`.
    #[arg(long, env = "DISCOVERY_INTERVAL", default_value = "15s", value_parser = parse_duration, global = true)]
    discovery_interval: Duration,
    /// How long a bulk operation's lease lives: another instance continues an operation whose
    /// instance stopped after this long, e.g. `10s`.
    #[arg(long, env = "BULK_LEASE", default_value = "10s", value_parser = parse_duration, global = true)]
    bulk_lease: Duration,
    /// A pause between two batches of a bulk operation, e.g. `5ms` (default: none, only a yield).
    #[arg(long, env = "BULK_PAUSE", default_value = "0ms", value_parser = parse_duration, global = true)]
    bulk_pause: Duration,
    /// Jobs per batch (one atomic script) of a bulk operation, 1 to 1000.
    #[arg(long, env = "BULK_BATCH", default_value_t = app::ssr::bulk::DEFAULT_BATCH, global = true)]
    bulk_batch: usize,
    /// The alert rules and channels (TOML; README "Alerts"). Without it, nothing is evaluated.
    #[arg(long, env = "ALERTS_FILE", global = true)]
    alerts_file: Option<String>,
    /// Bearer token Prometheus sends to scrape `/metrics`; the endpoint is off without it.
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true, global = true)]
    metrics_token: Option<String>,
    /// How often the alert rules are evaluated and notifications delivered, e.g. `15s`.
    #[arg(long, env = "ALERTS_INTERVAL", default_value = "15s", value_parser = parse_duration, global = true)]
    alerts_interval: Duration,
    /// How long a Redis command may take before a request answers 503, e.g. `5s`.
    #[arg(long, env = "REDIS_TIMEOUT", default_value = "5s", value_parser = parse_duration, global = true)]
    redis_timeout: Duration,
    /// Report active jobs as stuck after this many milliseconds (default 10 minutes).
    #[arg(long, env = "STUCK_AFTER_MS", default_value_t = 600_000, global = true)]
    stuck_after_ms: u64,
    /// Live streams push a snapshot this often, in milliseconds.
    #[arg(long, env = "LIVE_INTERVAL_MS", default_value_t = 2_000, global = true)]
    live_interval_ms: u64,
    /// The monitor's own Redis key namespace (the audit trail lives at `<this>:audit`).
    #[arg(
        long,
        env = "MONITOR_PREFIX",
        default_value = "bullmq-monitor",
        global = true
    )]
    monitor_prefix: String,
    /// Run the history collector (`false`: this instance never collects; another may).
    #[arg(long, env = "COLLECTOR", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    collector: bool,
    /// How often the history collector reads the event streams, in milliseconds.
    #[arg(
        long,
        env = "COLLECTOR_INTERVAL_MS",
        default_value_t = 2_000,
        global = true
    )]
    collector_interval_ms: u64,
    /// Keep minute buckets of the history this many hours.
    #[arg(
        long,
        env = "HISTORY_MINUTE_HOURS",
        default_value_t = 48,
        global = true
    )]
    history_minute_hours: u64,
    /// Keep hour buckets of the history this many days.
    #[arg(long, env = "HISTORY_HOUR_DAYS", default_value_t = 90, global = true)]
    history_hour_days: u64,
    /// Behind HTTPS: mark the session cookie `Secure` and name it `__Host-monitor_session`, so no
    /// sibling subdomain can plant or overwrite it.
    #[arg(long, env = "COOKIE_SECURE", default_value_t = false, global = true)]
    cookie_secure: bool,
    /// Live streams one user (`sub`) may hold open at once on this instance.
    #[arg(
        long,
        env = "LIVE_MAX_STREAMS_PER_USER",
        default_value_t = 20,
        global = true
    )]
    live_max_streams_per_user: usize,
    /// Live streams this instance serves at once, all users together.
    #[arg(long, env = "LIVE_MAX_STREAMS", default_value_t = 2_000, global = true)]
    live_max_streams: usize,
    /// History bucket reads one user may cause per minute (a request reads points × queues).
    #[arg(
        long,
        env = "HISTORY_READS_PER_MINUTE",
        default_value_t = 600_000,
        global = true
    )]
    history_reads_per_minute: u64,
    /// JSON paths of job data, return values and JSON log lines that are never shown nor
    /// searched, comma-separated (e.g. `password,token,customer.email`).
    #[arg(long, env = "REDACT_PATHS", default_value = "", global = true)]
    redact_paths: String,
    /// Origins whose pages may call the API and its streams (CORS) and send it actions, e.g.
    /// `https://ops.example.com` (comma-separated; for embedding `JobMonitor` elsewhere).
    /// Default: none, only this server's own pages.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', global = true)]
    cors_origins: Vec<String>,
    /// Log format: `text` or `json`. Verbosity comes from RUST_LOG (default `info`).
    #[arg(long, env = "LOG_FORMAT", default_value = "text", value_parser = ["text", "json"], global = true)]
    log_format: String,
}

/// Parses `90`, `90s`, `30m`, `1h`, `7d` or `250ms`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 30s, 5m, 1h or 7d"))?;
    let millis = match unit {
        "ms" => Some(number),
        "" | "s" => number.checked_mul(1_000),
        "m" => number.checked_mul(60_000),
        "h" => number.checked_mul(3_600_000),
        "d" => number.checked_mul(86_400_000),
        _ => None,
    }
    .ok_or_else(|| format!("`{text}` is not a duration like 30s, 5m, 1h or 7d"))?;
    Ok(Duration::from_millis(millis))
}

impl Options {
    fn auth_settings(&self) -> Result<AuthSettings, String> {
        let public_key_pem = match &self.jwt_public_key {
            Some(path) => Some(
                std::fs::read(path)
                    .map_err(|e| format!("JWT_PUBLIC_KEY: cannot read {}: {e}", path.display()))?,
            ),
            None => None,
        };
        Ok(AuthSettings {
            secret: self.jwt_secret.clone().filter(|s| !s.is_empty()),
            public_key_pem,
            issuer: self.jwt_issuer.clone().filter(|s| !s.is_empty()),
            audience: self.jwt_audience.clone().filter(|s| !s.is_empty()),
        })
    }

    fn server_config(&self) -> Result<ServerConfig, String> {
        if self.prefix.is_empty() || self.prefix.chars().any(char::is_control) {
            return Err("BULLMQ_PREFIX must be non-empty text without control characters".into());
        }
        let queues = match &self.queues {
            Some(names) => {
                let names: Vec<String> = names
                    .iter()
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect();
                for name in &names {
                    app::ssr::bullmq::keys::QueueName::parse(name)
                        .map_err(|e| format!("BULLMQ_QUEUES: `{name}`: {e}"))?;
                }
                (!names.is_empty()).then_some(names)
            }
            None => None,
        };
        if self.discovery_interval < Duration::from_millis(100) {
            return Err("DISCOVERY_INTERVAL must be at least 100ms".into());
        }
        if self.redis_timeout < Duration::from_millis(50) {
            return Err("REDIS_TIMEOUT must be at least 50ms".into());
        }
        let auth = self.auth_settings()?;
        // Validate the keys now so a bad key fails at start-up, not on the first request.
        Authenticator::new(&auth)?;
        let mut settings = Settings::new(self.redis_url.clone(), self.prefix.clone());
        settings.redis_cluster = self.redis_cluster;
        // A bad URL fails at start-up with its reason, not later as an unreachable Redis.
        app::ssr::redis::parse_config(&settings.redis_url, settings.redis_cluster)?;
        settings.queue_allow_list = queues;
        settings.discovery_interval = self.discovery_interval;
        settings.redis_timeout = self.redis_timeout;
        settings.stuck_after = Duration::from_millis(self.stuck_after_ms);
        if self.live_interval_ms < 100 {
            return Err("LIVE_INTERVAL_MS must be at least 100".into());
        }
        settings.live_interval = Duration::from_millis(self.live_interval_ms);
        if self.monitor_prefix.is_empty()
            || self.monitor_prefix == self.prefix
            || self
                .monitor_prefix
                .starts_with(&format!("{}:", self.prefix))
        {
            return Err("MONITOR_PREFIX must be non-empty and outside BULLMQ_PREFIX's keys".into());
        }
        app::ssr::slots::check_prefix(&self.monitor_prefix)
            .map_err(|reason| format!("MONITOR_PREFIX: {reason}"))?;
        settings.monitor_prefix = self.monitor_prefix.clone();
        if !(100..=60_000).contains(&self.collector_interval_ms) {
            return Err("COLLECTOR_INTERVAL_MS must be from 100 to 60000".into());
        }
        if self.history_minute_hours == 0 || self.history_hour_days == 0 {
            return Err("HISTORY_MINUTE_HOURS and HISTORY_HOUR_DAYS must be at least 1".into());
        }
        settings.collector = self.collector;
        settings.collector_interval = Duration::from_millis(self.collector_interval_ms);
        // The lease outlives several missed renewals, and at least 5 s.
        settings.collector_lease = (settings.collector_interval * 5).max(Duration::from_secs(5));
        if !(1..=app::ssr::bulk::BATCH).contains(&self.bulk_batch) {
            return Err("BULK_BATCH must be from 1 to 1000".into());
        }
        if self.bulk_lease < Duration::from_secs(1) {
            return Err("BULK_LEASE must be at least 1s".into());
        }
        settings.bulk_lease = self.bulk_lease;
        settings.bulk_pause = self.bulk_pause;
        settings.bulk_batch = self.bulk_batch;
        settings.history_minute_ttl = Duration::from_secs(self.history_minute_hours * 3600);
        settings.history_hour_ttl = Duration::from_secs(self.history_hour_days * 86_400);
        settings.cookie_secure = self.cookie_secure;
        if self.live_max_streams_per_user == 0 || self.live_max_streams == 0 {
            return Err("LIVE_MAX_STREAMS and LIVE_MAX_STREAMS_PER_USER must be at least 1".into());
        }
        if self.history_reads_per_minute < app::ssr::history::read::MAX_READS {
            return Err(format!(
                "HISTORY_READS_PER_MINUTE must be at least {} (one request's most)",
                app::ssr::history::read::MAX_READS
            ));
        }
        settings.redactor = app::ssr::redact::Redactor::parse(&self.redact_paths)?;
        if let Some(path) = self.alerts_file.as_deref().filter(|p| !p.is_empty()) {
            let rules = app::ssr::alerts::rules::RuleSet::load(path)?;
            settings.alerts = Some(std::sync::Arc::new(rules));
        }
        if self.alerts_interval < Duration::from_millis(100) {
            return Err("ALERTS_INTERVAL must be at least 100ms".into());
        }
        settings.alerts_interval = self.alerts_interval;
        settings.metrics_token = self
            .metrics_token
            .as_deref()
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(str::to_owned);
        settings.limits = app::ssr::limits::LimitSettings {
            streams_per_user: self.live_max_streams_per_user,
            streams_total: self.live_max_streams,
            history_reads_per_minute: self.history_reads_per_minute,
        };
        Ok(ServerConfig {
            settings,
            auth,
            site_addr: self.site_addr,
            site_root: self.site_root.clone(),
            hash_file: crate::assets::hash_file_path(&self.hash_file),
            cors_origins: crate::security::AllowedOrigins::parse(&self.cors_origins)?,
        })
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            use clap::error::ErrorKind;
            if matches!(
                error.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) {
                let _ = error.print();
                return ExitCode::SUCCESS;
            }
            return fail(first_line(&error.to_string()));
        }
    };
    match cli.command {
        Some(Command::Token { role, sub, ttl }) => {
            let auth = match cli
                .options
                .auth_settings()
                .and_then(|a| Authenticator::new(&a))
            {
                Ok(auth) => auth,
                Err(error) => return fail(&error),
            };
            match auth.issue(role, &sub, ttl) {
                Ok(token) => {
                    println!("{token}");
                    ExitCode::SUCCESS
                }
                Err(error) => fail(&error),
            }
        }
        Some(Command::Openapi) => {
            println!("{:#}", crate::openapi::document());
            ExitCode::SUCCESS
        }
        None => {
            let config = match cli.options.server_config() {
                Ok(config) => config,
                Err(error) => return fail(&error),
            };
            crate::telemetry::init(&cli.options.log_format);
            // Debug builds render the dashboard with deep, unoptimised stack frames, more than
            // the 2 MiB a runtime thread gets by default; 8 MiB is address space, not memory.
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_stack_size(8 << 20)
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => return fail(&format!("cannot start the async runtime: {error}")),
            };
            match runtime.block_on(crate::run(config)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => fail(&error),
            }
        }
    }
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or(text);
    line.strip_prefix("error: ").unwrap_or(line)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::from(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
