//! The integration-test harness: a real server on port 0 against the real Redis, a unique BullMQ
//! prefix per test (deleted again when the test ends, pass or fail), tokens for every role, and
//! worlds built by real BullMQ through `end2end/fixtures/world.mjs`.

use app::role::Role;
use app::ssr::auth::{AuthSettings, Authenticator};
use app::ssr::config::Settings;
use serde_json::Value;
use server::config::ServerConfig;
use server::Application;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// The HS256 secret every test server uses.
pub const SECRET: &str = "integration-test-secret-0123456789";

/// The Redis the tests use (`REDIS_URL`, default the local one).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A prefix no other test (or test run) uses.
pub fn unique_prefix(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "test-{label}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deletes every key under a prefix when dropped, so a failing test leaves nothing behind.
/// Synchronous (redis-cli) because `Drop` cannot await.
pub struct PrefixGuard {
    pub prefix: String,
}

impl Drop for PrefixGuard {
    fn drop(&mut self) {
        delete_prefix_blocking(&self.prefix);
        // The monitor's own keys (audit trail) of a test server live under `<prefix>-monitor`.
        delete_prefix_blocking(&format!("{}-monitor", self.prefix));
    }
}

/// Deletes every key under `prefix:` with SCAN + DEL in batches.
pub fn delete_prefix_blocking(prefix: &str) {
    let url = redis_url();
    let Ok(output) = std::process::Command::new("redis-cli")
        .args(["-u", &url, "--scan", "--pattern", &format!("{prefix}:*")])
        .output()
    else {
        return;
    };
    let keys: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    for batch in keys.chunks(500) {
        let _ = std::process::Command::new("redis-cli")
            .args(["-u", &url, "DEL"])
            .args(batch)
            .stdout(Stdio::null())
            .status();
    }
}

/// Runs one `redis-cli` command against the test Redis and returns its trimmed output.
pub fn redis_cli(args: &[&str]) -> String {
    let output = std::process::Command::new("redis-cli")
        .args(["-u", &redis_url()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    assert!(output.status.success(), "redis-cli {args:?} failed");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Counts the keys under a prefix (to prove cleanup and key confinement).
pub fn count_keys_blocking(pattern: &str) -> usize {
    let output = std::process::Command::new("redis-cli")
        .args(["-u", &redis_url(), "--scan", "--pattern", pattern])
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .count()
}

/// How a test server is configured.
pub struct TestOptions {
    pub prefix: String,
    pub redis_url: String,
    pub queue_allow_list: Option<Vec<String>>,
    pub stuck_after: Duration,
    pub live_interval: Duration,
    /// Run the history collector (off unless a test is about it).
    pub collector: bool,
    /// `CORS_ORIGINS`.
    pub cors_origins: Vec<String>,
    /// `MONITOR_PREFIX`; default `<prefix>-monitor`.
    pub monitor_prefix: Option<String>,
    /// How long a read serves identical requests; zero (tests check each read at once).
    pub reads_shared_for: Duration,
    /// `DISCOVERY_INTERVAL`.
    pub discovery_interval: Duration,
    /// Per-user limits.
    pub limits: app::ssr::limits::LimitSettings,
    /// `COOKIE_SECURE`.
    pub cookie_secure: bool,
    /// `REDIS_TIMEOUT` (800 ms: short, so tests of a slow Redis are quick).
    pub redis_timeout: Duration,
    /// `REDACT_PATHS`.
    pub redact: String,
    /// How long the snapshot trusts an unchanged queue (60 s).
    pub snapshot_recount: Duration,
    /// `LEPTOS_SITE_ROOT` (default `target/site`).
    pub site_root: String,
    /// `LEPTOS_HASH_FILE_NAME` (default: `hash.txt` beside the test binary, which has none).
    pub hash_file: std::path::PathBuf,
    /// `BULK_BATCH` (200) and `BULK_PAUSE` (none): small and slow to catch an operation
    /// half-way.
    pub bulk_batch: usize,
    pub bulk_pause: Duration,
    /// How often the bulk runner looks for operations (100 ms; an hour where a test counts
    /// every Redis command: its look is one `SMEMBERS`).
    pub bulk_interval: Duration,
    /// An alert rules file's text (`ALERTS_FILE`); secrets from files or the environment.
    pub alerts: Option<String>,
    /// `ALERTS_INTERVAL` (200 ms).
    pub alerts_interval: Duration,
    /// `METRICS_TOKEN` (none: `/metrics` is off).
    pub metrics_token: Option<String>,
}

impl TestOptions {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            redis_url: redis_url(),
            queue_allow_list: None,
            stuck_after: Duration::from_secs(600),
            live_interval: Duration::from_millis(200),
            collector: false,
            cors_origins: Vec::new(),
            monitor_prefix: None,
            reads_shared_for: Duration::ZERO,
            discovery_interval: Duration::from_secs(10),
            limits: app::ssr::limits::LimitSettings::default(),
            cookie_secure: false,
            redis_timeout: Duration::from_millis(800),
            redact: String::new(),
            snapshot_recount: Duration::from_secs(60),
            site_root: "target/site".into(),
            hash_file: server::assets::hash_file_path(server::assets::HASH_FILE),
            bulk_batch: app::ssr::bulk::DEFAULT_BATCH,
            bulk_pause: Duration::ZERO,
            bulk_interval: Duration::from_millis(100),
            alerts: None,
            alerts_interval: Duration::from_millis(200),
            metrics_token: None,
        }
    }
}

/// A running server.
pub struct TestApp {
    pub address: String,
    pub prefix: String,
    /// The Redis (or cluster) it watches; worlds for it are built there.
    pub redis_url: String,
    pub client: reqwest::Client,
    auth: Arc<Authenticator>,
    registry: app::ssr::bullmq::discovery::QueueRegistry,
    pub hub: Arc<server::live::LiveHub>,
    shutdown: Option<oneshot::Sender<()>>,
    _guard: PrefixGuard,
}

impl TestApp {
    /// Starts a server for a fresh unique prefix.
    pub async fn spawn(label: &str) -> TestApp {
        Self::spawn_with(TestOptions::new(&unique_prefix(label))).await
    }

    /// Starts a server with explicit options; the prefix is cleaned up when the app is dropped.
    pub async fn spawn_with(options: TestOptions) -> TestApp {
        if std::env::var("TEST_LOG").is_ok() {
            server::telemetry::init("text");
        }
        let auth_settings = AuthSettings {
            secret: Some(SECRET.into()),
            ..Default::default()
        };
        let mut settings = Settings::new(options.redis_url.clone(), options.prefix.clone());
        settings.queue_allow_list = options.queue_allow_list.clone();
        settings.redis_timeout = options.redis_timeout;
        settings.stuck_after = options.stuck_after;
        settings.live_interval = options.live_interval;
        settings.monitor_prefix = options
            .monitor_prefix
            .clone()
            .unwrap_or_else(|| format!("{}-monitor", options.prefix));
        settings.collector = options.collector;
        settings.collector_interval = Duration::from_millis(100);
        settings.collector_lease = Duration::from_secs(1);
        settings.bulk_lease = Duration::from_secs(1);
        settings.bulk_interval = options.bulk_interval;
        settings.bulk_batch = options.bulk_batch;
        settings.bulk_pause = options.bulk_pause;
        settings.reads_shared_for = options.reads_shared_for;
        settings.snapshot_recount = options.snapshot_recount;
        settings.discovery_interval = options.discovery_interval;
        settings.limits = options.limits;
        settings.cookie_secure = options.cookie_secure;
        settings.redactor = app::ssr::redact::Redactor::parse(&options.redact).expect("paths");
        settings.alerts = options.alerts.as_deref().map(|text| {
            Arc::new(
                app::ssr::alerts::rules::RuleSet::parse(text, &|source| source.read())
                    .expect("valid alert rules"),
            )
        });
        settings.alerts_interval = options.alerts_interval;
        settings.metrics_token = options.metrics_token.clone();
        let config = ServerConfig {
            settings,
            auth: auth_settings.clone(),
            site_addr: "127.0.0.1:0".parse().expect("address"),
            site_root: options.site_root.clone(),
            hash_file: options.hash_file.clone(),
            cors_origins: server::security::AllowedOrigins::parse(&options.cors_origins)
                .expect("valid origins"),
        };
        let application = Application::build(config).await.expect("server builds");
        let address = format!("http://{}", application.local_addr());
        let registry = application.state().registry.clone();
        let hub = application.live_hub();
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(application.run_until(async move {
            let _ = stopped.await;
        }));
        TestApp {
            address,
            prefix: options.prefix.clone(),
            redis_url: options.redis_url.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            auth: Arc::new(Authenticator::new(&auth_settings).expect("auth")),
            registry,
            hub,
            shutdown: Some(shutdown),
            _guard: PrefixGuard {
                prefix: options.prefix,
            },
        }
    }

    /// Stops the server (as SIGTERM would); streams get their shutdown event.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }

    /// A token for `role` that expires after `ttl`.
    pub fn token_for(&self, role: Role, ttl: Duration) -> String {
        self.auth.issue(role, "test-user", ttl).expect("token")
    }

    /// A valid token for `role` and subject `sub`.
    pub fn token_as(&self, role: Role, sub: &str) -> String {
        self.auth
            .issue(role, sub, Duration::from_secs(600))
            .expect("token")
    }

    /// A valid token for `role`, signed with the server's secret.
    pub fn token(&self, role: Role) -> String {
        self.auth
            .issue(role, "test-user", Duration::from_secs(600))
            .expect("token")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path` with a bearer token for `role`; returns status and JSON body.
    pub async fn get_json(&self, path: &str, role: Role) -> (u16, Value) {
        let response = self
            .client
            .get(self.url(path))
            .bearer_auth(self.token(role))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `method path` without credentials; returns status and JSON body (`Null` if not JSON).
    pub async fn anonymous(&self, method: reqwest::Method, path: &str) -> (u16, Value) {
        let response = self
            .client
            .request(method, self.url(path))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Has the server discover queues now (instead of at the next periodic refresh).
    pub async fn rediscover(&self) {
        self.registry.refresh().await.expect("rediscovery");
    }

    /// Builds a world with real BullMQ under this app's prefix, then has the server discover
    /// its queues at once (instead of at the next periodic refresh).
    pub async fn world(&self, queues: Value) -> World {
        let world = World::build_on(&self.redis_url, &self.prefix, queues).await;
        self.registry.refresh().await.expect("rediscovery");
        world
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// The repository's `end2end/` directory (fixtures and node_modules).
pub fn end2end_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .join("end2end")
}

/// A world built by real BullMQ; its process holds active jobs until the world is dropped.
pub struct World {
    /// BullMQ's own report: `{ queues: { name: { bullmq, counts, isPaused, waitingCount } } }`.
    pub report: Value,
    _process: Child,
}

impl World {
    /// Runs `world.mjs build` and waits (with a deadline) for its report line.
    pub async fn build(prefix: &str, queues: Value) -> World {
        Self::build_on(&redis_url(), prefix, queues).await
    }

    /// [`World::build`] on another Redis (or cluster: `redis-cluster://h:p,h:p`).
    pub async fn build_on(redis: &str, prefix: &str, queues: Value) -> World {
        let spec = serde_json::json!({ "redis": redis, "prefix": prefix, "queues": queues });
        let mut child = Command::new("node")
            .arg("fixtures/world.mjs")
            .arg("build")
            .arg(spec.to_string())
            .current_dir(end2end_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs (is end2end/node_modules installed? run scripts/setup.sh)");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the fixture reports within 60 s")
            .expect("fixture stdout readable")
            .expect("the fixture printed a report");
        let report: Value = serde_json::from_str(&line).expect("report is JSON");
        World {
            report,
            _process: child,
        }
    }

    /// BullMQ's own report for one queue.
    pub fn queue(&self, name: &str) -> &Value {
        &self.report["queues"][name]
    }

    /// BullMQ's `[finishedOn, processedOn]` pairs of a queue's jobs in `state` (needs
    /// `"reportFinished": true` in the spec).
    pub fn finished(&self, name: &str, state: &str) -> Vec<(i64, i64)> {
        self.queue(name)["finished"][state]
            .as_array()
            .expect("reportFinished was set")
            .iter()
            .map(|pair| {
                (
                    pair[0].as_i64().expect("finishedOn"),
                    pair[1].as_i64().expect("processedOn"),
                )
            })
            .collect()
    }
}

/// Polls `check` every 20 ms until it returns `Some`, panicking with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = std::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One Server-Sent Event.
#[derive(Debug, Default, Clone)]
pub struct SseEvent {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: String,
    pub retry: Option<String>,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// A client reading an SSE response frame by frame.
pub struct SseClient {
    pub status: u16,
    body: std::pin::Pin<Box<dyn futures_core::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl SseClient {
    /// `GET path` with a bearer token (or none).
    pub async fn connect(app: &TestApp, path: &str, token: Option<&str>) -> SseClient {
        let mut request = app
            .client
            .get(app.url(path))
            .header("accept", "text/event-stream");
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::from_response(request.send().await.expect("request"))
    }

    /// Reads a response already received (sent with other credentials, say).
    pub fn from_response(response: reqwest::Response) -> SseClient {
        SseClient {
            status: response.status().as_u16(),
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped), `None` when the stream ended; panics after `deadline`.
    pub async fn next_event(&mut self, deadline: Duration) -> Option<SseEvent> {
        use futures_util::StreamExt;
        let until = tokio::time::Instant::now() + deadline;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                let mut data = Vec::new();
                for line in block.lines() {
                    if line.starts_with(':') || line.is_empty() {
                        continue;
                    }
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value).to_owned();
                    match field {
                        "event" => event.event = Some(value),
                        "id" => event.id = Some(value),
                        "data" => data.push(value),
                        "retry" => event.retry = Some(value),
                        _ => {}
                    }
                }
                if data.is_empty() && event.event.is_none() && event.retry.is_none() {
                    continue;
                }
                event.data = data.join("\n");
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(until, self.body.next())
                .await
                .expect("an SSE event within the deadline");
            match chunk {
                Some(Ok(bytes)) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }
}

/// Runs a one-shot fixture command (`counts` or `add`) for this prefix and returns its report.
pub async fn fixture(command: &str, prefix: &str, queues: Value) -> Value {
    fixture_on(&redis_url(), command, prefix, queues).await
}

/// [`fixture`] against another Redis.
pub async fn fixture_on(redis: &str, command: &str, prefix: &str, queues: Value) -> Value {
    let spec = serde_json::json!({ "redis": redis, "prefix": prefix, "queues": queues });
    fixture_raw(command, spec).await
}

/// Runs a one-shot fixture command with a whole spec (e.g. `job`) and returns its report.
pub async fn fixture_raw(command: &str, spec: Value) -> Value {
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        Command::new("node")
            .arg("fixtures/world.mjs")
            .arg(command)
            .arg(spec.to_string())
            .current_dir(end2end_dir())
            .stderr(Stdio::inherit())
            .output(),
    )
    .await
    .expect("the fixture answers within 60 s")
    .expect("node runs");
    assert!(output.status.success(), "fixture {command} failed");
    serde_json::from_slice(&output.stdout).expect("fixture report is JSON")
}

impl TestApp {
    /// `PATCH …/queue/{queue}/{action}` (`pause`, `resume`) as ADMIN; must answer 200.
    pub async fn control(&self, queue: &str, action: &str) -> Value {
        let path = format!("/api/v1/admin/jobs/queue/{queue}/{action}");
        let (status, reply) = self
            .call(reqwest::Method::PATCH, &path, Role::Admin, None)
            .await;
        assert_eq!(status, 200, "{action} {queue}: {reply}");
        reply
    }

    /// The entries of the audit trail's first page, newest first.
    pub async fn audit_entries(&self) -> Vec<Value> {
        let (status, page) = self
            .call(
                reqwest::Method::GET,
                "/api/v1/admin/jobs/audit",
                Role::Admin,
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        page["entries"].as_array().expect("entries").clone()
    }

    /// The actions of the audit trail's first page, newest first.
    pub async fn audit_actions(&self) -> Vec<String> {
        self.audit_entries()
            .await
            .iter()
            .filter_map(|e| e["action"].as_str().map(str::to_owned))
            .collect()
    }

    /// `method path` as `role`, with an optional JSON body; returns status and JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        role: Role,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(self.token(role));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// How many times Redis ran `command` since start (or `CONFIG RESETSTAT`), from the `INFO
/// commandstats` text of a server (`cmdstat_scan:calls=12,…`).
pub fn command_calls(commandstats: &str, command: &str) -> u64 {
    let prefix = format!("cmdstat_{}:calls=", command.to_ascii_lowercase());
    commandstats
        .lines()
        .find_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

/// Writes `count` jobs into `queue` in `state` the way BullMQ leaves them: finished (`completed`
/// or `failed`: job hash with its fields, id in the set scored by `finishedOn`) or `active`
/// (id pushed at the head of `active`, as a worker taking it does; `processedOn` now), in
/// batches of 5,000 so the shared Redis is never blocked long; ids `start..start + count`. For
/// volumes real workers would take minutes to produce; the queue itself must exist (made by
/// BullMQ).
pub async fn write_jobs(
    redis_url: &str,
    prefix: &str,
    queue: &str,
    state: &str,
    start: u64,
    count: u64,
) {
    use fred::prelude::*;
    const WRITE: &str = r#"
local base, state, first, last, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
for i = first, last do
  local id = tostring(i)
  redis.call('HSET', base .. id, 'name', 'bulk', 'data', '{"i":' .. id .. '}', 'opts', '{"attempts":1}',
    'timestamp', now, 'processedOn', now, 'ats', '1')
  if state == 'active' then
    redis.call('LPUSH', KEYS[1], id)
  else
    redis.call('HSET', base .. id, 'finishedOn', now, 'atm', '1')
    if state == 'failed' then
      redis.call('HSET', base .. id, 'failedReason', 'bulk failure')
    else
      redis.call('HSET', base .. id, 'returnvalue', 'null')
    end
    redis.call('ZADD', KEYS[1], now, id)
  end
end
return last - first + 1
"#;
    let client = Builder::from_config(Config::from_url(redis_url).expect("url"))
        .build()
        .expect("client");
    client.init().await.expect("redis");
    let base = format!("{prefix}:{queue}:");
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let mut first = start;
    while first < start + count {
        let last = (first + 5_000).min(start + count) - 1;
        let _: u64 = client
            .eval(
                WRITE,
                vec![format!("{base}{state}")],
                vec![
                    base.clone(),
                    state.to_owned(),
                    first.to_string(),
                    last.to_string(),
                    now.clone(),
                ],
            )
            .await
            .expect("finished jobs written");
        first = last + 1;
    }
    let _ = client.quit().await;
}

/// The last entry of a queue's event stream: its id and its fields in order.
pub fn last_event(prefix: &str, queue: &str) -> (String, Vec<(String, String)>) {
    let out = redis_cli(&[
        "XREVRANGE",
        &format!("{prefix}:{queue}:events"),
        "+",
        "-",
        "COUNT",
        "1",
    ]);
    let mut lines = out.lines().map(str::trim);
    let id = lines.next().unwrap_or_default().to_owned();
    let rest: Vec<&str> = lines.collect();
    let fields = rest
        .chunks(2)
        .map(|pair| {
            (
                pair[0].to_owned(),
                pair.get(1).copied().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    (id, fields)
}
