//! Benchmark of `GET /api/v1/admin/jobs/metrics` for 10, 100 and 1,000 queues: latency through
//! the real HTTP server and the Redis round trips and commands one response costs.
//!
//! Run with: `cargo run -p server --release --example bench_metrics`
//! It starts its own `redis-server` on a free loopback port (no persistence) so the command counts
//! are not mixed with other clients, fills it with BullMQ-shaped queues (each with 150 completed,
//! 50 failed, 5 waiting, 2 active and 3 delayed jobs, finished over the last day, so the
//! success-rate search runs), and stops it at the end. `BENCH_REQUESTS` sets requests per size
//! (default 50).
//!
//! Each size is measured twice: rates from the retained jobs (no history), then from the
//! collector's buckets (written here as the collector would have: every queue's history
//! complete and its last pass just now).

use app::ssr::config::Settings;
use fred::prelude::*;
use std::time::{Duration, Instant};

mod common;

const SIZES: [usize; 3] = [10, 100, 1000];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let redis = common::OwnRedis::start()?;
    run(&redis.url(), requests).await
}

async fn run(url: &str, requests: usize) -> Result<(), Box<dyn std::error::Error>> {
    let client = Builder::from_config(Config::from_url(url)?).build()?;
    client.init().await?;
    println!(
        "GET /api/v1/admin/jobs/metrics, {requests} requests per size, own redis-server at {url}"
    );
    println!(
        "{:>7} {:>10} {:>10} {:>10} {:>10} {:>12} {:>14}",
        "queues", "rates", "p50 ms", "p99 ms", "mean ms", "round trips", "cmds/request"
    );
    for size in SIZES {
        let prefix = format!("bench{size}");
        common::fill(&client, &prefix, size).await?;
        let pool = Builder::from_config(Config::from_url(url)?).build_pool(1)?;
        pool.init().await?;
        let queues = app::ssr::bullmq::discovery::discover(&pool, &prefix, None).await?;
        // The server's own history source.
        let history = app::ssr::service::metrics::HistorySource::new(&Settings::new(url, &prefix));
        for source in ["jobs", "collector"] {
            if source == "collector" {
                write_history(&client, &history.keys, &queues).await?;
            }
            let (latencies, commands) = measure(url, &prefix, &client, requests).await?;
            let now = app::ssr::clock::now_ms();
            let (metrics, round_trips) = app::ssr::service::metrics::read_metrics(
                &pool,
                &prefix,
                &queues,
                now,
                Some(&history),
                // A cold read: every queue read in full.
                &app::ssr::bullmq::snapshot::SnapshotCache::default(),
            )
            .await?;
            assert_eq!(
                metrics.source.as_str(),
                source,
                "the rates come from where they should"
            );
            println!(
                "{:>7} {:>10} {:>10.2} {:>10.2} {:>10.2} {:>12} {:>14.0}",
                size,
                source,
                common::percentile(&latencies, 0.50),
                common::percentile(&latencies, 0.99),
                latencies.iter().sum::<f64>() / latencies.len() as f64,
                round_trips,
                commands
            );
        }
    }
    Ok(())
}

/// The buckets the collector would hold for `queues` now (each queue's 200 jobs in the current
/// minute, hour and day), their history complete from the beginning, the last pass just now.
async fn write_history(
    client: &Client,
    keys: &app::ssr::history::keys::HistoryKeys,
    queues: &[app::ssr::bullmq::discovery::QueueInfo],
) -> Result<(), Box<dyn std::error::Error>> {
    use app::ssr::history::aggregate::Stats;
    use app::ssr::history::keys::Step;
    let now = u64::try_from(app::ssr::clock::now_ms())?;
    let stats = Stats {
        completed: 150,
        failed: 50,
        ..Stats::default()
    };
    for chunk in queues.chunks(100) {
        let pipeline = client.pipeline();
        for queue in chunk {
            for step in Step::ALL.iter().copied() {
                let key = keys.bucket(&queue.name, step, step.bucket_start(now));
                let _: () = pipeline.hset(key, stats.to_fields()).await?;
            }
            let _: () = pipeline
                .hset(keys.since(), (queue.name.as_str(), 0))
                .await?;
            // Caught up for longer than a measurement takes (the server trusts it for 2
            // leases, 20 s).
            let _: () = pipeline
                .hset(keys.caught_up(), (queue.name.as_str(), now + 3_600_000))
                .await?;
        }
        let _: Vec<Value> = pipeline.all().await?;
    }
    Ok(())
}

/// Latencies (ms) of `requests` sequential requests, and Redis commands per request.
async fn measure(
    url: &str,
    prefix: &str,
    redis: &Client,
    requests: usize,
) -> Result<(Vec<f64>, f64), Box<dyn std::error::Error>> {
    let mut settings = Settings::new(url, prefix);
    settings.discovery_interval = Duration::from_secs(3600);
    // Only `/metrics` is measured: no history collector adding its own commands.
    settings.collector = false;
    let server = common::serve(settings).await?;
    let address = format!("{}/api/v1/admin/jobs/metrics", server.base);
    let token = server.token.clone();
    let http = reqwest::Client::new();
    // Warm-up: discovery, connections.
    for _ in 0..3 {
        http.get(&address)
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?;
    }
    let before = common::total_commands(redis).await?;
    let mut latencies = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        let response = http
            .get(&address)
            .bearer_auth(&token)
            .send()
            .await?
            .error_for_status()?;
        let _ = response.bytes().await?;
        latencies.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let after = common::total_commands(redis).await?;
    server.stop().await;
    // The INFO call that reads the counter counts itself once.
    let commands = (after.saturating_sub(before + 1)) as f64 / requests as f64;
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, commands))
}
