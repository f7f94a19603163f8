//! Benchmark of a bulk retry: every failed job of a queue back in line, ours (dry run, run,
//! progress polled until done) side by side with BullMQ's own `queue.retryJobs({state:
//! 'failed', count: 1000})` on the same Redis in the same run, rounds alternating.
//!
//! Run with: `cargo run -p server --release --example bench_bulk` (needs `npm ci` in
//! `end2end/`; `BENCH_JOBS` sets the failed jobs per round, default 30,000; `BENCH_ROUNDS`
//! the rounds, default 3).
//!
//! It starts its own `redis-server`, writes each round's failed jobs (BullMQ 6's layout) into
//! a fresh queue for each side, and measures per side: wall time, the Redis commands it cost
//! (`total_commands_processed` around it, script-internal calls included), and the slowest
//! single Redis call (`SLOWLOG`, 0 µs threshold): how long Redis was blocked at most. Both
//! sides end with every job waiting, checked with `LLEN wait`.

use fred::prelude::*;
use std::time::{Duration, Instant};

mod common;

const PREFIX: &str = "bench";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let jobs: i64 = env_number("BENCH_JOBS", 30_000);
    let rounds: usize = env_number("BENCH_ROUNDS", 3) as usize;
    let redis = common::OwnRedis::start()?;
    let url = redis.url();
    let client = Builder::from_config(Config::from_url(&url)?).build()?;
    client.init().await?;
    redis_command(&client, "CONFIG", &["SET", "slowlog-log-slower-than", "0"]).await?;
    redis_command(&client, "CONFIG", &["SET", "slowlog-max-len", "1000000"]).await?;

    let mut settings = app::ssr::config::Settings::new(url.clone(), PREFIX);
    settings.monitor_prefix = "bench-monitor".into();
    settings.collector = false;
    settings.redis_timeout = Duration::from_secs(30);
    settings.bulk_interval = Duration::from_millis(50);
    let ours = common::serve(settings).await?;
    let admin = app::ssr::auth::Authenticator::new(&app::ssr::auth::AuthSettings {
        secret: Some(common::SECRET.into()),
        ..Default::default()
    })?
    .issue(app::role::Role::Admin, "bench", Duration::from_secs(3600))?;
    let http = reqwest::Client::new();

    println!("{jobs} failed jobs per round, {rounds} rounds, ours and BullMQ's alternating");
    println!(
        "{:<34} {:>9} {:>12} {:>16} {:>12}",
        "case", "ms", "redis cmds", "slowest call µs", "jobs/s"
    );
    let mut ours_ms = Vec::new();
    let mut theirs_ms = Vec::new();
    let mut changed_ms = Vec::new();
    for round in 0..rounds {
        let mine = format!("ours-{round}");
        let bulls = format!("bull-{round}");
        fill(&client, &mine, jobs).await?;
        fill(&client, &bulls, jobs).await?;

        // Ours: the dry run, the run with its count, then progress until done.
        let api = format!("{}/api/v1/admin/jobs", ours.base);
        let body = serde_json::json!({"action": "retry", "target": {"state": "failed"}});
        let (ms, commands, slowest) = measured(&client, || {
            run_ours(&http, &api, &admin, &mine, body.clone())
        })
        .await?;
        check(&client, &mine, jobs).await?;
        print_row(&format!("ours, round {round}"), ms, commands, slowest, jobs);
        ours_ms.push(ms);

        // Ours, a new job per original with changed data, the originals removed (no peer
        // does this; the same world, for what the copy costs over the in-place retry).
        let changed = format!("chg-{round}");
        fill(&client, &changed, jobs).await?;
        let body = serde_json::json!({
            "action": "retry-with-changes",
            "target": {"state": "failed"},
            "changes": {"dataOverrides": {"fixed": true}, "removeOriginal": true},
        });
        let (ms, commands, slowest) = measured(&client, || {
            run_ours(&http, &api, &admin, &changed, body.clone())
        })
        .await?;
        check(&client, &changed, jobs).await?;
        print_row(
            &format!("ours with changes, round {round}"),
            ms,
            commands,
            slowest,
            jobs,
        );
        changed_ms.push(ms);

        // BullMQ's own: one `retryJobs` call (it loops over batches of `count` itself).
        let mut node_ms = 0.0;
        let (ms, commands, slowest) = measured(&client, || async {
            let output = tokio::process::Command::new("node")
                .arg("fixtures/world.mjs")
                .arg("retryjobs")
                .arg(
                    serde_json::json!({
                        "redis": url, "prefix": PREFIX, "queue": bulls, "count": 1000,
                    })
                    .to_string(),
                )
                .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../end2end"))
                .output()
                .await?;
            let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
            node_ms = report["ms"].as_f64().unwrap_or(0.0);
            Ok(())
        })
        .await?;
        check(&client, &bulls, jobs).await?;
        // Node's start-up is not BullMQ's work: its own timing of the call is the figure.
        let _ = ms;
        print_row(
            &format!("BullMQ retryJobs, round {round}"),
            node_ms,
            commands,
            slowest,
            jobs,
        );
        theirs_ms.push(node_ms);
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (ours_median, theirs_median) = (median(&mut ours_ms), median(&mut theirs_ms));
    println!(
        "\nmedian: ours {ours_median:.0} ms (dry run + run + progress), BullMQ {theirs_median:.0} ms → BullMQ / ours {:.2}×",
        theirs_median / ours_median
    );
    println!(
        "median: ours with changes {:.0} ms (a new job per original, originals removed)",
        median(&mut changed_ms)
    );
    ours.stop().await;
    Ok(())
}

/// A bulk operation through the REST API as an operator runs it: the dry run, the run with its
/// count, then its progress until it ends.
async fn run_ours(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    queue: &str,
    body: serde_json::Value,
) -> Result<(), Box<dyn std::error::Error>> {
    let preview: serde_json::Value = http
        .post(format!("{api}/queue/{queue}/bulk"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    let count = preview["count"].as_u64().unwrap_or(0);
    let mut run = body.clone();
    run["dryRun"] = false.into();
    run["expect"] = count.into();
    let started: serde_json::Value = http
        .post(format!("{api}/queue/{queue}/bulk"))
        .bearer_auth(token)
        .json(&run)
        .send()
        .await?
        .json()
        .await?;
    let id = started["operationId"]
        .as_str()
        .ok_or_else(|| format!("no operation started: {started}"))?
        .to_owned();
    loop {
        let op: serde_json::Value = http
            .get(format!("{api}/operations/{id}"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        if op["state"] != "running" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn env_number(name: &str, default: i64) -> i64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn print_row(name: &str, ms: f64, commands: u64, slowest_us: u64, jobs: i64) {
    println!(
        "{name:<34} {ms:>9.0} {commands:>12} {slowest_us:>16} {:>12.0}",
        jobs as f64 / (ms / 1000.0)
    );
}

/// Runs `work` and returns its wall time (ms), the Redis commands it cost and the slowest
/// Redis call (µs).
async fn measured<F, Fut>(
    client: &Client,
    work: F,
) -> Result<(f64, u64, u64), Box<dyn std::error::Error>>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>,
{
    redis_command(client, "SLOWLOG", &["RESET"]).await?;
    let before = common::total_commands(client).await?;
    let started = Instant::now();
    work().await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let after = common::total_commands(client).await?;
    let log = redis_command(client, "SLOWLOG", &["GET", "1000000"]).await?;
    let mut calls: Vec<(u64, String)> = match log {
        Value::Array(entries) => entries
            .iter()
            .filter_map(|entry| match entry {
                Value::Array(parts) => {
                    let micros = parts.get(2).and_then(Value::as_u64)?;
                    let command = match parts.get(3) {
                        Some(Value::Array(args)) => args
                            .iter()
                            .take(2)
                            .filter_map(Value::as_string)
                            .map(|a| a.chars().take(24).collect::<String>())
                            .collect::<Vec<_>>()
                            .join(" "),
                        _ => String::new(),
                    };
                    // Our own bookkeeping (freeing the log) is not the work measured.
                    (!command.to_ascii_uppercase().starts_with("SLOWLOG"))
                        .then_some((micros, command))
                }
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    calls.sort_by_key(|call| std::cmp::Reverse(call.0));
    if std::env::var("BENCH_SLOWEST").is_ok() {
        for (micros, command) in calls.iter().take(5) {
            println!("    {micros:>8} µs  {command}");
        }
    }
    let slowest = calls.first().map_or(0, |c| c.0);
    Ok((ms, after.saturating_sub(before), slowest))
}

/// Every job is waiting afterwards.
async fn check(client: &Client, queue: &str, jobs: i64) -> Result<(), Box<dyn std::error::Error>> {
    let waiting: i64 = client.llen(format!("{PREFIX}:{queue}:wait")).await?;
    let failed: i64 = client.zcard(format!("{PREFIX}:{queue}:failed")).await?;
    if waiting != jobs || failed != 0 {
        return Err(
            format!("{queue}: {waiting} waiting and {failed} failed after the retry").into(),
        );
    }
    Ok(())
}

async fn redis_command(client: &Client, name: &'static str, args: &[&str]) -> Result<Value, Error> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    client.custom(fred::cmd!(name), args).await
}

/// `jobs` failed jobs in `queue`, BullMQ 6's layout (hash, `failed` scored by `finishedOn`).
async fn fill(client: &Client, queue: &str, jobs: i64) -> Result<(), Error> {
    let base = format!("{PREFIX}:{queue}");
    let _: () = client
        .hset(
            format!("{base}:meta"),
            vec![("version", "bullmq:6.7.0"), ("opts.maxLenEvents", "10000")],
        )
        .await?;
    // BullMQ's id counter, past the ids below (new jobs are numbered from it).
    let _: () = client
        .set(format!("{base}:id"), jobs, None, None, false)
        .await?;
    let now = chrono::Utc::now().timestamp_millis();
    for first in (0..jobs).step_by(5_000) {
        let pipeline = client.pipeline();
        let mut members = Vec::new();
        for n in first..(first + 5_000).min(jobs) {
            let finished = now - 1_000 - n * 10;
            let id = (n + 1).to_string();
            let data = serde_json::json!({"user": {"id": n % 1000}, "order": format!("ord-{n}")});
            let _: () = pipeline
                .hset(
                    format!("{base}:{id}"),
                    vec![
                        ("name", "charge".to_owned()),
                        ("data", data.to_string()),
                        ("opts", r#"{"attempts":1}"#.to_owned()),
                        ("timestamp", (finished - 1_500).to_string()),
                        ("processedOn", (finished - 400).to_string()),
                        ("finishedOn", finished.to_string()),
                        ("atm", "1".to_owned()),
                        ("ats", "1".to_owned()),
                        ("failedReason", format!("card declined for order ord-{n}")),
                        (
                            "stacktrace",
                            r#"["Error: card declined\n    at charge (/app/worker.js:10:7)"]"#
                                .to_owned(),
                        ),
                    ],
                )
                .await?;
            members.push((finished as f64, id));
        }
        let _: () = pipeline
            .zadd(format!("{base}:failed"), None, None, false, false, members)
            .await?;
        let _: Vec<Value> = pipeline.all().await?;
    }
    Ok(())
}
