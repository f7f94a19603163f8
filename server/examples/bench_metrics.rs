//! Benchmark of `GET /api/v1/admin/jobs/metrics` for 10, 100 and 1,000 queues: latency through
//! the real HTTP server and the Redis round trips and commands one response costs.
//!
//! Run with: `cargo run -p server --release --example bench_metrics`
//! It starts its own `redis-server` on a free loopback port (no persistence) so the command counts
//! are not mixed with other clients, fills it with BullMQ-shaped queues (each with 150 completed,
//! 50 failed, 5 waiting, 2 active and 3 delayed jobs, finished over the last day, so the
//! success-rate search runs), and stops it at the end. `BENCH_REQUESTS` sets requests per size
//! (default 50).

use app::role::Role;
use app::ssr::auth::{AuthSettings, Authenticator};
use app::ssr::config::Settings;
use fred::prelude::*;
use server::config::ServerConfig;
use server::Application;
use std::time::{Duration, Instant};

mod common;

const SIZES: [usize; 3] = [10, 100, 1000];
const SECRET: &str = "benchmark-secret-0123456789";

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
        "{:>7} {:>10} {:>10} {:>10} {:>12} {:>14}",
        "queues", "p50 ms", "p99 ms", "mean ms", "round trips", "cmds/request"
    );
    for size in SIZES {
        let prefix = format!("bench{size}");
        common::fill(&client, &prefix, size).await?;
        let (latencies, commands) = measure(url, &prefix, &client, requests).await?;
        let pool = Builder::from_config(Config::from_url(url)?).build_pool(1)?;
        pool.init().await?;
        let queues = app::ssr::bullmq::discovery::discover(&pool, &prefix, None).await?;
        let (_, round_trips) =
            app::ssr::service::read_metrics(&pool, &prefix, &queues, app::ssr::service::now_ms())
                .await?;
        println!(
            "{:>7} {:>10.2} {:>10.2} {:>10.2} {:>12} {:>14.0}",
            size,
            percentile(&latencies, 0.50),
            percentile(&latencies, 0.99),
            latencies.iter().sum::<f64>() / latencies.len() as f64,
            round_trips,
            commands
        );
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
    let auth = AuthSettings {
        secret: Some(SECRET.into()),
        ..Default::default()
    };
    let mut settings = Settings::new(url, prefix);
    settings.discovery_interval = Duration::from_secs(3600);
    let config = ServerConfig {
        settings,
        auth: auth.clone(),
        site_addr: "127.0.0.1:0".parse()?,
        site_root: "target/site".into(),
        cookie_secure: false,
    };
    let application = Application::build(config).await?;
    let address = format!(
        "http://{}/api/v1/admin/jobs/metrics",
        application.local_addr()
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async move {
        let _ = stopped.await;
    }));
    let token =
        Authenticator::new(&auth)?.issue(Role::Moderator, "bench", Duration::from_secs(600))?;
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
    let _ = stop.send(());
    let _ = server.await;
    // The INFO call that reads the counter counts itself once.
    let commands = (after.saturating_sub(before + 1)) as f64 / requests as f64;
    latencies.sort_by(f64::total_cmp);
    Ok((latencies, commands))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
