//! Shared by the benchmarks: a redis-server of their own, BullMQ-shaped test data, counters.

#![allow(dead_code)]

use fred::prelude::*;
use std::time::Duration;

#[path = "../../tests/support/own_redis.rs"]
mod own_redis;
#[allow(unused_imports)]
pub use own_redis::{cli_on, OwnRedis};
#[path = "../../tests/support/own_cluster.rs"]
mod own_cluster;
#[allow(unused_imports)]
pub use own_cluster::OwnCluster;

/// The hash fields of a finished job as BullMQ writes them (the ones the monitor reads): added
/// 10 ms before it started, processed for `processing_ms`, finished at `finished_ms`.
pub fn finished_job(finished_ms: i64, processing_ms: i64) -> Vec<(&'static str, String)> {
    vec![
        ("name", "bench".to_owned()),
        ("data", "{}".to_owned()),
        ("timestamp", (finished_ms - processing_ms - 10).to_string()),
        ("processedOn", (finished_ms - processing_ms).to_string()),
        ("finishedOn", finished_ms.to_string()),
    ]
}

/// Writes `count` queues with BullMQ's layout under `prefix` (`queue-0000`…): 150 completed and
/// 50 failed jobs finished over the last day, 5 waiting, 2 active, 3 delayed each.
pub async fn fill(client: &Client, prefix: &str, count: usize) -> Result<(), Error> {
    let now = chrono::Utc::now().timestamp_millis();
    let world = World {
        finished: 200,
        processing_ms: 1500,
        event: false,
    };
    fill_queues(client, prefix, count, world, |queue, i| {
        let id = i as i64 + 1;
        ((now - (id * 431 + queue as i64 * 7) % 86_400_000), i >= 150)
    })
    .await?;
    Ok(())
}

/// What each queue of [`fill_queues`] holds besides 5 waiting, 2 active and 3 delayed jobs.
pub struct World {
    /// Finished jobs per queue.
    pub finished: usize,
    pub processing_ms: i64,
    /// Whether its event stream gets an entry (as every BullMQ queue's has).
    pub event: bool,
}

/// Writes `count` queues with BullMQ's layout under `prefix` (`queue-0000`…) as `world` says;
/// job `i` of queue `q` finished at `when(q, i).0`, failed when `.1`. Returns the queues' names.
pub async fn fill_queues(
    client: &Client,
    prefix: &str,
    count: usize,
    world: World,
    when: impl Fn(usize, usize) -> (i64, bool),
) -> Result<Vec<String>, Error> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut names = Vec::with_capacity(count);
    for queue in 0..count {
        let name = format!("queue-{queue:04}");
        let base = format!("{prefix}:{name}");
        let pipeline = client.pipeline();
        let _: () = pipeline
            .hset(
                format!("{base}:meta"),
                vec![("version", "bullmq:6.7.0"), ("opts.maxLenEvents", "10000")],
            )
            .await?;
        let (mut completed, mut failed) = (Vec::new(), Vec::new());
        for i in 0..world.finished {
            let id = (i + 1).to_string();
            let (finished_ms, is_failed) = when(queue, i);
            let _: () = pipeline
                .hset(
                    format!("{base}:{id}"),
                    finished_job(finished_ms, world.processing_ms),
                )
                .await?;
            let set = if is_failed {
                &mut failed
            } else {
                &mut completed
            };
            set.push((finished_ms as f64, id));
        }
        for (set, members) in [("completed", completed), ("failed", failed)] {
            if !members.is_empty() {
                let _: () = pipeline
                    .zadd(format!("{base}:{set}"), None, None, false, false, members)
                    .await?;
            }
        }
        let waiting: Vec<String> = (0..5).map(|i| format!("w{i}")).collect();
        let _: () = pipeline.lpush(format!("{base}:wait"), waiting).await?;
        let _: () = pipeline
            .lpush(format!("{base}:active"), vec!["a1", "a2"])
            .await?;
        let delayed: Vec<(f64, String)> = (0..3)
            .map(|i| (((now + 3_600_000) * 4096) as f64, format!("d{i}")))
            .collect();
        let _: () = pipeline
            .zadd(format!("{base}:delayed"), None, None, false, false, delayed)
            .await?;
        if world.event {
            let _: () = pipeline
                .xadd(
                    format!("{base}:events"),
                    false,
                    None,
                    "*",
                    vec![("event", "added"), ("jobId", "w4")],
                )
                .await?;
        }
        let _: Vec<Value> = pipeline.all().await?;
        names.push(name);
    }
    Ok(names)
}

/// How long a benchmark measures each case: `BENCH_WINDOW_SECS`, 10 s when unset or unreadable.
pub fn window() -> Duration {
    Duration::from_secs(
        std::env::var("BENCH_WINDOW_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
    )
}

pub async fn total_commands(client: &Client) -> Result<u64, Error> {
    let info: String = client.info(Some(fred::types::InfoKind::Stats)).await?;
    Ok(info_number(&info, "total_commands_processed:") as u64)
}

/// A number from `INFO` output (`field` with its colon), 0 when missing.
pub fn info_number(info: &str, field: &str) -> f64 {
    info.lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The server in-process on a free port, with a MODERATOR token, for a benchmark's requests.
pub struct BenchServer {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// A bearer token for MODERATOR, valid for an hour.
    pub token: String,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), String>>,
}

/// The benchmarks' JWT secret.
pub const SECRET: &str = "benchmark-secret-0123456789";

/// Starts the real server (router, auth, Redis pool) for `settings`.
pub async fn serve(
    mut settings: app::ssr::config::Settings,
) -> Result<BenchServer, Box<dyn std::error::Error>> {
    // Each request is measured doing its own read, not reusing the previous one's.
    settings.reads_shared_for = Duration::ZERO;
    // Thousands of viewers share one token here: the benchmarks measure fan-out, not limits.
    settings.limits.streams_per_user = usize::MAX;
    settings.limits.streams_total = usize::MAX;
    let auth = app::ssr::auth::AuthSettings {
        secret: Some(SECRET.into()),
        ..Default::default()
    };
    let application = server::Application::build(server::config::ServerConfig {
        settings,
        auth: auth.clone(),
        site_addr: "127.0.0.1:0".parse()?,
        site_root: "target/site".into(),
        hash_file: server::assets::hash_file_path(server::assets::HASH_FILE),
        cors_origins: Default::default(),
    })
    .await?;
    let base = format!("http://{}", application.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    let token = app::ssr::auth::Authenticator::new(&auth)?.issue(
        app::role::Role::Moderator,
        "bench",
        Duration::from_secs(3600),
    )?;
    Ok(BenchServer {
        base,
        token,
        stop,
        task,
    })
}

impl BenchServer {
    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// The `p` quantile (0 to 1) of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// The release server binary (`SERVER_BIN`, default `target/release/server`) running on a free
/// port against `redis_url` and `prefix`, with `extra` settings; its log lines go to `log` after
/// the `listening on` line. Killed on drop.
pub struct ServerProcess {
    child: std::process::Child,
    pub address: String,
}

impl ServerProcess {
    pub fn spawn(
        redis_url: &str,
        prefix: &str,
        extra: &[(&str, &str)],
        log: fn(String),
    ) -> Result<ServerProcess, Box<dyn std::error::Error>> {
        use std::io::{BufRead, BufReader};
        let binary = std::env::var("SERVER_BIN").unwrap_or_else(|_| "target/release/server".into());
        let mut command = std::process::Command::new(&binary);
        command
            .env("REDIS_URL", redis_url)
            .env("BULLMQ_PREFIX", prefix)
            .env("JWT_SECRET", SECRET)
            .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
            .env("NO_COLOR", "1")
            // Thousands of viewers and every request share one token here: the load measures fan-out
            // and throughput, not the per-user limits.
            .env("LIVE_MAX_STREAMS_PER_USER", "1000000")
            .env("LIVE_MAX_STREAMS", "1000000")
            .env("HISTORY_READS_PER_MINUTE", "100000000")
            .stdout(std::process::Stdio::piped());
        for (name, value) in extra {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .map_err(|e| format!("cannot run {binary} (build the release server first): {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let address = loop {
            let line = lines.next().ok_or("the server exited")??;
            if let Some(at) = line.find("listening on http://") {
                break line[at + "listening on ".len()..].trim().to_owned();
            }
        };
        // Read the log all along: a full pipe would block the server.
        std::thread::spawn(move || lines.map_while(Result::ok).for_each(log));
        Ok(ServerProcess { child, address })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it is still running (it must survive a run).
    pub fn is_alive(&mut self) -> bool {
        self.child.try_wait().map(|s| s.is_none()).unwrap_or(false)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// bull-board 9.10 (`end2end/bench/bull-board.mjs`, Node) on a free port, serving `queues` of
/// `prefix` on `redis_url`: the peer benchmarks measure beside the monitor. Stopped on drop.
pub struct BullBoard {
    child: std::process::Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
}

impl BullBoard {
    pub fn spawn(
        redis_url: &str,
        prefix: &str,
        queues: &[&str],
    ) -> Result<BullBoard, Box<dyn std::error::Error>> {
        use std::io::{BufRead, BufReader};
        let end2end = concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end");
        let spec = serde_json::json!({"redis": redis_url, "prefix": prefix, "queues": queues});
        let mut child = std::process::Command::new("node")
            .arg("bench/bull-board.mjs")
            .arg(spec.to_string())
            .current_dir(end2end)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run node for bull-board: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let address = serde_json::from_str::<serde_json::Value>(&line)
            .ok()
            .and_then(|v| v["address"].as_str().map(str::to_owned))
            .ok_or_else(|| {
                format!("bull-board did not start (run `npm ci` in end2end/): {line:?}")
            })?;
        Ok(BullBoard { child, address })
    }
}

impl Drop for BullBoard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
