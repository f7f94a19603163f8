//! Load: many viewers on the live streams plus a steady REST request rate against a big world,
//! measured from outside the server process.
//!
//! Run with: `scripts/load.sh` (builds the release server and this example, then runs it).
//! It starts its own redis-server on a free loopback port, fills it with `LOAD_QUEUES` queues
//! holding `LOAD_JOBS` finished jobs in all (BullMQ's layout: hashes plus `completed`/`failed`
//! sorted sets, spread over 30 days) and a few waiting/active/delayed ones, runs the release
//! server binary (`target/release/server`, or `SERVER_BIN`) with its defaults (history collector
//! on), then for `LOAD_SECS`:
//! - holds `LOAD_SSE` live streams (9 in 10 on `/live`, the rest on one queue's stream), and
//! - sends `LOAD_RPS` REST requests per second, open loop (a request is due every 1/RPS s,
//!   whether or not earlier ones answered), rotating over `/metrics`, `/queues`, `/trends`,
//!   `/alerts/stuck` and `/history`.
//!
//! It prints, every `LOAD_SAMPLE_SECS`, the server's CPU and resident memory and Redis's
//! commands/s, and at the end: errors (non-2xx answers, failed or ended streams; must be 0),
//! REST latency p50/p99/max, server CPU, peak memory (`VmHWM`), Redis commands/s, and the memory
//! at the start and end of the run (a soak: `LOAD_SECS=600`).
//!
//! Defaults: 100 queues, 1,000,000 jobs, 1,000 streams, 200 requests/s, 60 s. The load generator
//! runs on the same machine as the server and Redis, so all three share its cores.
//!
//! Scale-out: `LOAD_CLUSTER=1` puts the world on a Redis Cluster of its own (3 primaries with a
//! replica each; queues tagged by name, `load:{queue-0000}`, so they spread over the primaries;
//! Redis figures summed over the primaries), and `LOAD_INSTANCES=N` runs N servers on the same
//! Redis with streams and requests dealt round-robin among them (server figures summed).

use app::role::Role;
use app::ssr::auth::{AuthSettings, Authenticator};
use fred::prelude::*;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Where the world lives: a redis-server or a cluster of the run's own.
enum Backend {
    Single(common::OwnRedis),
    Cluster(common::OwnCluster),
}

impl Backend {
    fn url(&self) -> String {
        match self {
            Backend::Single(redis) => redis.url(),
            Backend::Cluster(cluster) => cluster.url(),
        }
    }

    /// A queue's name: tagged on a cluster so that the queues spread over its primaries.
    fn queue(&self, index: usize) -> String {
        match self {
            Backend::Single(_) => format!("queue-{index:04}"),
            Backend::Cluster(_) => format!("{{queue-{index:04}}}"),
        }
    }

    /// One `INFO` field summed over the primaries (the one server).
    fn info_sum(&self, section: &str, field: &str) -> f64 {
        match self {
            Backend::Single(redis) => common::info_number(&redis.cli(&["INFO", section]), field),
            Backend::Cluster(cluster) => cluster
                .nodes()
                .iter()
                .filter(|node| node.primary && !node.failed)
                .map(|node| {
                    common::info_number(&common::cli_on(node.port, &["INFO", section]), field)
                })
                .sum(),
        }
    }

    fn total_commands(&self) -> u64 {
        self.info_sum("stats", "total_commands_processed:") as u64
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queues = setting("LOAD_QUEUES", 100) as usize;
    let jobs = setting("LOAD_JOBS", 1_000_000) as usize;
    let instances = setting("LOAD_INSTANCES", 1).max(1) as usize;
    let backend = if setting("LOAD_CLUSTER", 0) == 1 {
        Backend::Cluster(common::OwnCluster::start()?)
    } else {
        Backend::Single(common::OwnRedis::start()?)
    };
    let client =
        Builder::from_config(app::ssr::redis::parse_config(&backend.url(), false)?).build()?;
    client.init().await?;
    let started = Instant::now();
    let names: Vec<String> = (0..queues).map(|i| backend.queue(i)).collect();
    fill(&client, "load", &names, jobs / queues.max(1)).await?;
    println!(
        "world: {queues} queues, {jobs} finished jobs, filled in {:.1} s; Redis uses {:.1} MB{}",
        started.elapsed().as_secs_f64(),
        backend.info_sum("memory", "used_memory:") / 1_048_576.0,
        match backend {
            Backend::Single(_) => "",
            Backend::Cluster(_) => " over 3 primaries (each with a replica)",
        }
    );

    let mut servers = Vec::new();
    for _ in 0..instances {
        servers.push(common::ServerProcess::spawn(
            &backend.url(),
            "load",
            &[("RUST_LOG", "warn,server=info")],
            |line| println!("server log: {line}"),
        )?);
    }
    let targets: Vec<(String, u32)> = servers
        .iter()
        .map(|server| (server.address.clone(), server.pid()))
        .collect();
    let result = run(&backend, &names, &targets).await;
    if servers.iter_mut().any(|server| !server.is_alive()) {
        return Err("a server died during the run".into());
    }
    result
}

/// `per_queue` finished jobs per queue (3 in 4 completed), over the last 30 days, plus 5 waiting,
/// 2 active and 3 delayed.
async fn fill(
    client: &Client,
    prefix: &str,
    names: &[String],
    per_queue: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    const MONTH_MS: i64 = 30 * 86_400_000;
    let now = chrono::Utc::now().timestamp_millis();
    for (queue, name) in names.iter().enumerate() {
        let base = format!("{prefix}:{name}");
        let _: () = client
            .hset(
                format!("{base}:meta"),
                vec![("version", "bullmq:6.7.0"), ("opts.maxLenEvents", "10000")],
            )
            .await?;
        for chunk_start in (0..per_queue).step_by(5_000) {
            let pipeline = client.pipeline();
            let mut completed = Vec::new();
            let mut failed = Vec::new();
            for i in chunk_start..(chunk_start + 5_000).min(per_queue) {
                let id = i + 1;
                let finished = now - (id as i64 * 7_919 + queue as i64 * 13) % MONTH_MS;
                let _: () = pipeline
                    .hset(format!("{base}:{id}"), common::finished_job(finished, 800))
                    .await?;
                if i % 4 == 3 {
                    failed.push((finished as f64, id.to_string()));
                } else {
                    completed.push((finished as f64, id.to_string()));
                }
            }
            for (set, members) in [("completed", completed), ("failed", failed)] {
                if !members.is_empty() {
                    let _: () = pipeline
                        .zadd(format!("{base}:{set}"), None, None, false, false, members)
                        .await?;
                }
            }
            let _: Vec<Value> = pipeline.all().await?;
        }
        let _: () = client
            .lpush(format!("{base}:wait"), vec!["w1", "w2", "w3", "w4", "w5"])
            .await?;
        let _: () = client
            .lpush(format!("{base}:active"), vec!["a1", "a2"])
            .await?;
        let delayed: Vec<(f64, String)> = (0..3)
            .map(|i| (((now + 3_600_000) * 4096) as f64, format!("d{i}")))
            .collect();
        let _: () = client
            .zadd(format!("{base}:delayed"), None, None, false, false, delayed)
            .await?;
    }
    Ok(())
}

/// CPU seconds (user + system) of a process so far, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: u32) -> f64 {
    let ticks = 100.0; // USER_HZ on Linux
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(0.0)
}

/// A `/proc/<pid>/status` field in MB (`VmRSS`, `VmHWM`).
fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|v| {
                    v.trim_start_matches(':')
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<f64>()
                        .ok()
                })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    errors: Vec<String>,
}

/// Every server's CPU seconds so far, summed.
fn cpu_all(targets: &[(String, u32)]) -> f64 {
    targets.iter().map(|(_, pid)| cpu_seconds(*pid)).sum()
}

/// A `/proc/<pid>/status` figure in MB, summed over the servers.
fn mb_all(targets: &[(String, u32)], field: &str) -> f64 {
    targets.iter().map(|(_, pid)| status_mb(*pid, field)).sum()
}

async fn run(
    redis: &Backend,
    names: &[String],
    targets: &[(String, u32)],
) -> Result<(), Box<dyn std::error::Error>> {
    let streams = setting("LOAD_SSE", 1_000) as usize;
    let rps = setting("LOAD_RPS", 200).max(1);
    let seconds = setting("LOAD_SECS", 60);
    let sample_every = Duration::from_secs(setting("LOAD_SAMPLE_SECS", 10).max(1));
    let token = Authenticator::new(&AuthSettings {
        secret: Some(common::SECRET.into()),
        ..Default::default()
    })?
    .issue(Role::Moderator, "load", Duration::from_secs(7 * 86_400))?;

    // The streams; each counts its events, and any that fails or ends is an error.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(seconds + 120))
        .build()?;
    let events = Arc::new(AtomicU64::new(0));
    let stream_errors = Arc::new(AtomicU64::new(0));
    let mut stream_tasks = Vec::new();
    let one_queue = format!("/api/v1/admin/jobs/queue/{}/live", names[0]);
    for i in 0..streams {
        let path = if i % 10 == 9 {
            one_queue.as_str()
        } else {
            "/api/v1/admin/jobs/live"
        };
        let address = &targets[i % targets.len()].0;
        let response = http
            .get(format!("{address}{path}"))
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?;
        let (events, stream_errors) = (events.clone(), stream_errors.clone());
        stream_tasks.push(tokio::spawn(async move {
            let mut body = response.bytes_stream();
            loop {
                match body.next().await {
                    Some(Ok(chunk)) => {
                        let n = chunk.windows(2).filter(|w| w == b"\n\n").count();
                        events.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    _ => {
                        stream_errors.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                }
            }
        }));
    }
    println!(
        "{streams} streams open on {} server(s); {rps} REST requests/s for {seconds} s",
        targets.len()
    );

    let history = format!(
        "/api/v1/admin/jobs/history?queue={}",
        names[1.min(names.len() - 1)]
    );
    let paths = [
        "/api/v1/admin/jobs/metrics",
        "/api/v1/admin/jobs/queues",
        "/api/v1/admin/jobs/trends?period=24h",
        "/api/v1/admin/jobs/alerts/stuck",
        history.as_str(),
    ];
    let tally = Arc::new(Mutex::new(Tally::default()));
    let rest = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let cpu_start = cpu_all(targets);
    let rss_start = mb_all(targets, "VmRSS");
    let commands_start = redis.total_commands();
    let events_start = events.load(Ordering::Relaxed);
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rps as f64));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0u64;
    let mut next_sample = started + sample_every;
    let (mut last_cpu, mut last_commands, mut last_at) = (cpu_start, commands_start, started);
    let mut in_flight = Vec::new();
    println!(
        "{:>6} {:>9} {:>9} {:>14} {:>12}",
        "t s", "CPU %", "RSS MB", "Redis cmds/s", "events/s"
    );
    let mut last_events = events_start;
    while Instant::now() < until {
        ticker.tick().await;
        let path = paths[(sent % paths.len() as u64) as usize];
        let address = &targets[(sent % targets.len() as u64) as usize].0;
        sent += 1;
        let (rest, tally, url, token) = (
            rest.clone(),
            tally.clone(),
            format!("{address}{path}"),
            token.clone(),
        );
        in_flight.push(tokio::spawn(async move {
            let at = Instant::now();
            let result = rest.get(&url).bearer_auth(&token).send().await;
            let outcome = match result {
                Ok(response) if response.status().is_success() => response
                    .bytes()
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                Ok(response) => Err(format!("{url}: {}", response.status())),
                Err(error) => Err(format!("{url}: {error}")),
            };
            let ms = at.elapsed().as_secs_f64() * 1000.0;
            let mut tally = tally.lock().expect("tally");
            tally.latencies_ms.push(ms);
            if let Err(error) = outcome {
                tally.errors.push(error);
            }
        }));
        if Instant::now() >= next_sample {
            let now = Instant::now();
            let span = now.duration_since(last_at).as_secs_f64();
            let cpu = cpu_all(targets);
            let commands = redis.total_commands();
            let received = events.load(Ordering::Relaxed);
            println!(
                "{:>6.0} {:>9.1} {:>9.1} {:>14.0} {:>12.0}",
                now.duration_since(started).as_secs_f64(),
                (cpu - last_cpu) / span * 100.0,
                mb_all(targets, "VmRSS"),
                commands.saturating_sub(last_commands) as f64 / span,
                received.saturating_sub(last_events) as f64 / span
            );
            (last_cpu, last_commands, last_at, last_events) = (cpu, commands, now, received);
            next_sample += sample_every;
        }
    }
    for task in in_flight {
        let _ = task.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_all(targets) - cpu_start;
    let commands = redis.total_commands().saturating_sub(commands_start);
    let received = events.load(Ordering::Relaxed) - events_start;
    let broken = stream_errors.load(Ordering::Relaxed);
    for task in stream_tasks {
        task.abort();
    }
    let mut tally = tally.lock().expect("tally");
    tally.latencies_ms.sort_by(f64::total_cmp);
    let lat = &tally.latencies_ms;
    println!("--");
    println!(
        "REST: {} requests in {elapsed:.1} s ({:.1}/s), errors {}",
        lat.len(),
        lat.len() as f64 / elapsed,
        tally.errors.len()
    );
    println!(
        "REST latency ms: p50 {:.2}, p99 {:.2}, max {:.2}",
        common::percentile(lat, 0.50),
        common::percentile(lat, 0.99),
        lat.last().copied().unwrap_or(0.0)
    );
    println!(
        "streams: {streams} held, {broken} failed or ended, {received} events ({:.0}/s)",
        received as f64 / elapsed
    );
    println!(
        "server{}: CPU {:.1} % of one core on average, memory {rss_start:.1} MB at start, {:.1} MB at end, peak {:.1} MB",
        if targets.len() > 1 { "s (summed)" } else { "" },
        cpu / elapsed * 100.0,
        mb_all(targets, "VmRSS"),
        mb_all(targets, "VmHWM")
    );
    println!("Redis: {:.0} commands/s", commands as f64 / elapsed);
    for error in tally.errors.iter().take(10) {
        println!("error: {error}");
    }
    let errors = tally.errors.len() as u64 + broken;
    println!("errors: {errors}");
    if errors > 0 {
        return Err(format!("{errors} errors under load").into());
    }
    Ok(())
}
