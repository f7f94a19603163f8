//! Benchmark of `/metrics` (Prometheus) at 1,000 queues: what scrapes cost Redis beside the
//! live poll, with one scraper and with ten scraping without pause, and what a scrape costs the
//! scraper (latency, bytes).
//!
//! Run with: `cargo run -p server --release --example bench_scrape`
//! Its own redis-server on a free port, 1,000 BullMQ-shaped queues, the server in-process with
//! the default 2 s `LIVE_INTERVAL_MS`; each phase lasts `BENCH_WINDOW_SECS` (default 10).

use app::ssr::config::Settings;
use fred::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

const QUEUES: usize = 1000;
const TOKEN: &str = "bench-scrape-token";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let window = common::window();
    let redis = common::OwnRedis::start()?;
    let client = Builder::from_config(Config::from_url(&redis.url())?).build()?;
    client.init().await?;
    common::fill(&client, "scrape", QUEUES).await?;
    let mut settings = Settings::new(redis.url(), "scrape");
    settings.collector = false;
    settings.metrics_token = Some(TOKEN.into());
    let server = common::serve(settings).await?;
    let http = reqwest::Client::new();
    let url = format!("{}/metrics", server.base);
    // The first scrape starts the poller and waits for its snapshot.
    let first = http
        .get(&url)
        .bearer_auth(TOKEN)
        .send()
        .await?
        .text()
        .await?;
    let series = first.lines().filter(|l| !l.starts_with('#')).count();
    println!(
        "GET /metrics, {QUEUES} queues, {series} series, {} bytes (text), 2 s live interval, {} s per phase",
        first.len(),
        window.as_secs()
    );
    println!("| scrapers | scrapes | Redis commands/s | commands per scrape | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    for scrapers in [1usize, 10] {
        let (scrapes, commands, mut latencies) =
            phase(&client, &http, &url, scrapers, window).await?;
        latencies.sort_by(f64::total_cmp);
        let per_second = commands as f64 / window.as_secs_f64();
        println!(
            "| {scrapers} | {scrapes} | {per_second:.0} | {:.2} | {:.2} | {:.2} |",
            commands as f64 / scrapes.max(1) as f64,
            common::percentile(&latencies, 0.50),
            common::percentile(&latencies, 0.99),
        );
    }
    // The poll alone, for comparison: the same window with the poller held and nobody
    // scraping.
    let before = common::total_commands(&client).await?;
    tokio::time::sleep(window).await;
    let idle = common::total_commands(&client).await? - before;
    println!(
        "| 0 (poller held, no scrape) | 0 | {:.0} | | | |",
        idle as f64 / window.as_secs_f64()
    );
    server.stop().await;
    Ok(())
}

/// `scrapers` tasks scraping back to back for `window`: scrapes made, Redis commands over the
/// window, each scrape's latency in ms. One scraper scrapes once a second (as a fast
/// Prometheus would); ten scrape without pause.
async fn phase(
    redis: &Client,
    http: &reqwest::Client,
    url: &str,
    scrapers: usize,
    window: Duration,
) -> Result<(u64, u64, Vec<f64>), Box<dyn std::error::Error>> {
    let scrapes = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let before = common::total_commands(redis).await?;
    let until = Instant::now() + window;
    let mut tasks = Vec::new();
    for _ in 0..scrapers {
        let (http, url) = (http.clone(), url.to_owned());
        let (scrapes, latencies) = (scrapes.clone(), latencies.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let started = Instant::now();
                let Ok(response) = http.get(&url).bearer_auth(TOKEN).send().await else {
                    continue;
                };
                if response.bytes().await.is_ok() {
                    scrapes.fetch_add(1, Ordering::Relaxed);
                    if let Ok(mut all) = latencies.lock() {
                        all.push(started.elapsed().as_secs_f64() * 1000.0);
                    }
                }
                if scrapers == 1 {
                    tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed()))
                        .await;
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let commands = common::total_commands(redis).await? - before;
    let latencies = latencies.lock().map(|all| all.clone()).unwrap_or_default();
    Ok((scrapes.load(Ordering::Relaxed), commands, latencies))
}
