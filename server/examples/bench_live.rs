//! Benchmark of the live stream's fan-out: 1, 100 and 1,000 clients on `GET /live`, and what it
//! costs Redis (commands per second, from `INFO stats`) and the server (resident memory).
//!
//! Run with: `cargo leptos build --release && cargo run -p server --release --example bench_live`
//! It starts its own redis-server on a free loopback port with 10 BullMQ-shaped queues, runs the
//! release server binary (`target/release/server`, or `SERVER_BIN`) on a free port with the
//! default 2 s interval, connects the clients, and measures over `BENCH_WINDOW_SECS` (default 10).

use app::role::Role;
use app::ssr::auth::{AuthSettings, Authenticator};
use fred::prelude::*;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

const CLIENTS: [usize; 3] = [1, 100, 1000];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let window = common::window();
    let redis = common::OwnRedis::start()?;
    let client = Builder::from_config(Config::from_url(&redis.url())?).build()?;
    client.init().await?;
    common::fill(&client, "live", 10).await?;

    // Only the live streams are measured: no history collector adding its own commands.
    let server = common::ServerProcess::spawn(
        &redis.url(),
        "live",
        &[("COLLECTOR", "false"), ("RUST_LOG", "info")],
        |_| {},
    )?;
    run(&client, &server.address, server.pid(), window).await
}

async fn run(
    redis: &Client,
    address: &str,
    server_pid: u32,
    window: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let token = Authenticator::new(&AuthSettings {
        secret: Some(common::SECRET.into()),
        ..Default::default()
    })?
    .issue(Role::Moderator, "bench", Duration::from_secs(3600))?;
    let url = format!("{address}/api/v1/admin/jobs/live");
    println!(
        "GET /api/v1/admin/jobs/live, 10 queues, 2 s interval, {} s window per size",
        window.as_secs()
    );
    println!(
        "{:>8} {:>14} {:>16} {:>14} {:>16}",
        "clients", "events recv", "Redis cmds/s", "server RSS MB", "cmds/s per client"
    );
    let baseline = rss_mb(server_pid);
    println!(
        "{:>8} {:>14} {:>16} {:>14.1} {:>16}",
        0, "-", "-", baseline, "-"
    );
    for clients in CLIENTS {
        let received = Arc::new(AtomicU64::new(0));
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()?;
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let response = http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await?
                .error_for_status()?;
            let received = received.clone();
            tasks.push(tokio::spawn(async move {
                let mut body = response.bytes_stream();
                while let Some(Ok(chunk)) = body.next().await {
                    let events = chunk.windows(2).filter(|w| w == b"\n\n").count();
                    received.fetch_add(events as u64, Ordering::Relaxed);
                }
            }));
        }
        // Every client has its first event before the window opens.
        let ready_by = Instant::now() + Duration::from_secs(30);
        while received.load(Ordering::Relaxed) < clients as u64 {
            if Instant::now() > ready_by {
                return Err("clients did not get their first event".into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let commands_before = common::total_commands(redis).await?;
        let events_before = received.load(Ordering::Relaxed);
        tokio::time::sleep(window).await;
        let commands = common::total_commands(redis).await? - commands_before - 1;
        let events = received.load(Ordering::Relaxed) - events_before;
        let rate = commands as f64 / window.as_secs_f64();
        println!(
            "{:>8} {:>14} {:>16.1} {:>14.1} {:>16.2}",
            clients,
            events,
            rate,
            rss_mb(server_pid),
            rate / clients as f64
        );
        for task in tasks {
            task.abort();
        }
        drop(http);
    }
    Ok(())
}

/// Resident memory of a process, MB, from `/proc`.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
