//! Benchmark of `GET /api/v1/admin/jobs/trends?period=30d` with 1,000,000 finished jobs (10
//! queues × 100,000, finished over the last 30 days), answered from the retained jobs (no
//! history) and from the history collector's buckets.
//!
//! Run with: `cargo run -p server --release --example bench_trends`
//! It starts its own `redis-server` (no persistence), writes the jobs with BullMQ's layout
//! (`completed`/`failed` sets scored by `finishedOn`, one hash per job), then 30 days of
//! buckets exactly as the collector would have written them for those jobs (minute buckets for
//! the last 48 h, hour buckets for all 30 days) plus the marker of where the history starts.
//! `BENCH_REQUESTS` sets requests per case (default 20).

use app::ssr::config::Settings;
use app::ssr::history::aggregate::Stats;
use app::ssr::history::keys::{HistoryKeys, Step};
use fred::prelude::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

mod common;

const QUEUES: usize = 10;
const JOBS_PER_QUEUE: i64 = 100_000;
const DAY: i64 = 86_400_000;
const PREFIX: &str = "bench";
const MONITOR: &str = "bench-monitor";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let redis = common::OwnRedis::start()?;
    let url = redis.url();
    let client = Builder::from_config(Config::from_url(&url)?).build()?;
    client.init().await?;
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    for queue in 0..QUEUES {
        fill_queue(&client, queue, now).await?;
    }
    println!(
        "wrote {} finished jobs in {} queues and their buckets in {:.1} s (own redis-server at {url})",
        QUEUES as i64 * JOBS_PER_QUEUE,
        QUEUES,
        started.elapsed().as_secs_f64()
    );
    let memory: String = client.info(Some(fred::types::InfoKind::Memory)).await?;
    if let Some(used) = memory
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_human:"))
    {
        println!("redis used_memory: {}", used.trim());
    }

    let mut settings = Settings::new(url.clone(), PREFIX);
    settings.monitor_prefix = MONITOR.into();
    settings.collector = false;
    settings.redis_timeout = Duration::from_secs(30);
    settings.discovery_interval = Duration::from_secs(3600);
    let server = common::serve(settings).await?;
    let address = format!("{}/api/v1/admin/jobs/trends?period=30d", server.base);
    let token = server.token.clone();
    let http = reqwest::Client::new();
    let keys = HistoryKeys::new(MONITOR, PREFIX);

    println!("GET /trends?period=30d, {requests} sequential requests per case");
    println!(
        "{:<34} {:>10} {:>10} {:>16}",
        "case", "p50 ms", "p99 ms", "completed (sum)"
    );
    for (case, with_history) in [
        ("without history (retained jobs)", false),
        ("with the collector's buckets", true),
    ] {
        let names: Vec<String> = (0..QUEUES).map(queue_name).collect();
        if with_history {
            let since = (now - 31 * DAY).to_string();
            let fields: Vec<(String, String)> =
                names.iter().map(|n| (n.clone(), since.clone())).collect();
            let _: () = client.hset(keys.since(), fields).await?;
            // Brought up to date by a collector a moment ago (the mark readers check).
            let marks: Vec<(String, String)> = names
                .iter()
                .map(|n| (n.clone(), (now + 3_600_000).to_string()))
                .collect();
            let _: () = client.hset(keys.caught_up(), marks).await?;
        } else {
            let _: () = client.del(keys.since()).await?;
        }
        let mut latencies = Vec::with_capacity(requests);
        let mut completed = 0;
        let mut source = String::new();
        for _ in 0..requests + 2 {
            let started = Instant::now();
            let body: serde_json::Value = http
                .get(&address)
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            let trends = body.as_array().cloned().unwrap_or_default();
            completed = trends
                .iter()
                .filter_map(|t| t["successful"].as_u64())
                .sum::<u64>();
            source = trends
                .first()
                .and_then(|t| t["source"].as_str())
                .unwrap_or_default()
                .to_owned();
        }
        // The first two warm up discovery and connections.
        let mut latencies = latencies.split_off(2);
        latencies.sort_by(f64::total_cmp);
        println!(
            "{:<34} {:>10.2} {:>10.2} {:>16}  (source: {source})",
            case,
            common::percentile(&latencies, 0.50),
            common::percentile(&latencies, 0.99),
            completed
        );
    }
    server.stop().await;
    Ok(())
}

fn queue_name(queue: usize) -> String {
    format!("queue-{queue:02}")
}

/// One queue: 100,000 finished jobs over 30 days (every tenth failed), and its buckets.
async fn fill_queue(client: &Client, queue: usize, now: i64) -> Result<(), Error> {
    let name = queue_name(queue);
    let base = format!("{PREFIX}:{name}");
    let keys = HistoryKeys::new(MONITOR, PREFIX);
    let queue_name = app::ssr::bullmq::keys::QueueName::parse(&name)
        .map_err(|e| Error::new(fred::error::ErrorKind::InvalidArgument, e))?;
    let _: () = client
        .hset(
            format!("{base}:meta"),
            vec![("version", "bullmq:6.7.0"), ("opts.maxLenEvents", "10000")],
        )
        .await?;
    let mut buckets: BTreeMap<(Step, u64), Stats> = BTreeMap::new();
    let chunk = 5_000;
    for first in (0..JOBS_PER_QUEUE).step_by(chunk) {
        let pipeline = client.pipeline();
        let mut completed = Vec::new();
        let mut failed = Vec::new();
        for i in first..(first + chunk as i64).min(JOBS_PER_QUEUE) {
            let finished = now - 60_000 - (i * (30 * DAY - 120_000)) / JOBS_PER_QUEUE;
            let processing = 50 + (i % 200);
            let id = (i + 1).to_string();
            let _: () = pipeline
                .hset(
                    format!("{base}:{id}"),
                    common::finished_job(finished, processing),
                )
                .await?;
            let ok = i % 10 != 0;
            if ok {
                completed.push((finished as f64, id));
            } else {
                failed.push((finished as f64, id));
            }
            let mut stats = Stats::default();
            if ok {
                stats.completed = 1;
            } else {
                stats.failed = 1;
            }
            stats.processing.add(processing as u64);
            stats.wait.add(10);
            for step in Step::ALL.iter().copied() {
                if step == Step::Minute && finished < now - 2 * DAY {
                    continue;
                }
                buckets
                    .entry((step, step.bucket_start(finished as u64)))
                    .or_default()
                    .merge(&stats);
            }
        }
        let _: () = pipeline
            .zadd(
                format!("{base}:completed"),
                None,
                None,
                false,
                false,
                completed,
            )
            .await?;
        let _: () = pipeline
            .zadd(format!("{base}:failed"), None, None, false, false, failed)
            .await?;
        let _: Vec<Value> = pipeline.all().await?;
    }
    let pipeline = client.pipeline();
    for ((step, start), stats) in &buckets {
        let _: () = pipeline
            .hset(keys.bucket(&queue_name, *step, *start), stats.to_fields())
            .await?;
    }
    let _: Vec<Value> = pipeline.all().await?;
    Ok(())
}
