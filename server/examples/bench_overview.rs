//! The all-queues overview side by side with bull-board, in one run on one world: 100 and 1,000
//! queues × 2,000 finished jobs spread over 30 days (BullMQ 6 layout), a few waiting, active and
//! delayed jobs each, no history collector.
//!
//! Run with: `scripts/release.sh && cargo run -p server --release --example bench_overview`
//! (`npm ci` in `end2end/` for bull-board; `BENCH_REQUESTS` per case, default 20).
//!
//! It starts its own `redis-server`, the release server binary (`target/release/server`, or
//! `SERVER_BIN`) and bull-board 9.10 (`end2end/bench/bull-board.mjs`), and for each size
//! alternates requests between:
//!
//! - ours, nothing changed since the previous request (the steady state of an idle system);
//! - ours, every queue changed since the previous request (an event added to each queue's
//!   stream first, so every queue is read in full, as in a busy system or a cold start);
//! - bull-board's overview, `GET /api/queues?page=1&jobsPerPage=10` (what its UI polls).
//!
//! Our requests are 1.1 s apart, so none is answered by the previous one's shared read. For each:
//! latency (p50/p99), bytes, and Redis commands per request (`total_commands_processed`
//! around the request: commands run inside scripts included, nothing else talks to this Redis).
//! Then the Redis load of 1,000 viewers (ours: one poller per topic, whatever the viewers; bull-
//! board: each tab polls every 5 s) and the bytes one viewer receives per minute (our stream,
//! whole snapshots and deltas, against bull-board's poll), at 100 queues.

use fred::prelude::*;
use futures_util::StreamExt;
use std::time::{Duration, Instant};

mod common;

const SIZES: [usize; 2] = [100, 1000];
const FINISHED_PER_QUEUE: i64 = 2000;
const DAY: i64 = 86_400_000;
/// Longer than identical reads are shared (`shared_reads::SHARED_FOR`, 1 s).
const SHARED_FOR: Duration = Duration::from_millis(1100);

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
    let http = reqwest::Client::new();
    let token = token()?;
    for size in SIZES {
        let prefix = format!("overview{size}");
        let started = Instant::now();
        let names = fill(&client, &prefix, size).await?;
        println!(
            "\n{size} queues × {FINISHED_PER_QUEUE} finished jobs over 30 days written in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let server =
            common::ServerProcess::spawn(&url, &prefix, &[("COLLECTOR", "false")], |_| {})?;
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let board = common::BullBoard::spawn(&url, &prefix, &refs)?;
        let ours = format!("{}/api/v1/admin/jobs/metrics", server.address);
        let theirs = format!("{}/api/queues?page=1&jobsPerPage=10", board.address);

        // The first discovery walks the whole keyspace: wait for the first answer.
        let deadline = Instant::now() + Duration::from_secs(120);
        while http.get(&ours).bearer_auth(&token).send().await?.status() != 200 {
            if Instant::now() > deadline {
                return Err("the server did not answer /metrics within 120 s".into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut idle = Case::default();
        let mut busy = Case::default();
        let mut board_case = Case::default();
        for round in 0..requests + 2 {
            let warm = round >= 2;
            // Identical reads within a second share one Redis read: 1.1 s apart, each request
            // reads Redis itself.
            tokio::time::sleep(SHARED_FOR).await;
            let m = measure(&client, &http, &ours, Some(&token)).await?;
            if warm {
                idle.add(m);
            }
            change(&client, &prefix, &names, Change::Touch).await?;
            tokio::time::sleep(SHARED_FOR).await;
            let m = measure(&client, &http, &ours, Some(&token)).await?;
            if warm {
                busy.add(m);
            }
            let m = measure(&client, &http, &theirs, None).await?;
            if warm {
                board_case.add(m);
            }
        }
        println!(
            "{:<46} {:>8} {:>8} {:>10} {:>12} {:>10}",
            "case", "p50 ms", "p99 ms", "bytes", "redis cmds", "per queue"
        );
        idle.print("ours /metrics, nothing changed", size);
        busy.print("ours /metrics, every queue changed", size);
        board_case.print("bull-board overview", size);
        println!(
            "bull-board / ours: latency {:.1}× (idle) {:.1}× (all changed); Redis commands {:.1}× (idle) {:.1}× (all changed)",
            board_case.p50() / idle.p50(),
            board_case.p50() / busy.p50(),
            board_case.commands() / idle.commands().max(1.0),
            board_case.commands() / busy.commands().max(1.0),
        );
        // 1,000 viewers: ours poll once per 2 s for all of them; each bull-board tab every 5 s.
        let ours_per_second = idle.commands() / 2.0;
        let board_per_second = board_case.commands() * 1000.0 / 5.0;
        println!(
            "1,000 viewers: ours {ours_per_second:.0} Redis commands/s (idle; {:.0} with every queue changing), bull-board {board_per_second:.0}/s: {:.0}× fewer (idle)",
            busy.commands() / 2.0,
            board_per_second / ours_per_second.max(1.0)
        );
        if size == SIZES[0] {
            bytes_per_viewer(
                &client,
                &http,
                &server.address,
                &token,
                &theirs,
                &prefix,
                &names,
            )
            .await?;
        }
        drop(board);
        drop(server);
        collector_idle(&client, &url, &prefix, size).await?;
    }
    Ok(())
}

/// What the history collector costs Redis while nothing happens: a server with the collector
/// on (and nothing else: no viewer, no request), once it has caught up with every queue;
/// commands (those inside scripts included) and Redis's own CPU time per 2 s tick, over 10 s.
async fn collector_idle(
    client: &Client,
    url: &str,
    prefix: &str,
    size: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let caught_up = app::ssr::history::keys::HistoryKeys::new("bullmq-monitor", prefix).caught_up();
    let server = common::ServerProcess::spawn(url, prefix, &[], |_| {})?;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let marked: u64 = client.hlen(&caught_up).await?;
        if marked as usize >= size {
            break;
        }
        if Instant::now() > deadline {
            return Err(
                format!("the collector caught up with {marked} of {size} queues in 120 s").into(),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Per command: (calls, usec), from `INFO commandstats`.
    let stats = |text: &str| -> std::collections::HashMap<String, (f64, f64)> {
        text.lines()
            .filter_map(|line| {
                let (name, rest) = line.strip_prefix("cmdstat_")?.split_once(':')?;
                let field = |key: &str| -> f64 {
                    rest.split(',')
                        .find_map(|kv| kv.strip_prefix(key))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0.0)
                };
                Some((name.to_owned(), (field("calls="), field("usec="))))
            })
            .collect()
    };
    let window = Duration::from_secs(10);
    let ticks = window.as_secs_f64() / 2.0;
    let before: String = client
        .info(Some(fred::types::InfoKind::CommandStats))
        .await?;
    tokio::time::sleep(window).await;
    let after: String = client
        .info(Some(fred::types::InfoKind::CommandStats))
        .await?;
    let (before, after) = (stats(&before), stats(&after));
    // The collector's own commands: not the discovery's background SCAN walk, nor our INFO.
    let (mut calls, mut usec, mut scan_usec) = (0.0, 0.0, 0.0);
    for (name, (c, u)) in &after {
        let (c0, u0) = before.get(name).copied().unwrap_or_default();
        match name.as_str() {
            "info" => {}
            "scan" => scan_usec += u - u0,
            _ => {
                calls += c - c0;
                usec += u - u0;
            }
        }
    }
    println!(
        "collector, idle, {size} queues: {:.0} Redis commands per 2 s tick ({:.2} per queue; those run inside scripts included), Redis CPU {:.0} µs per tick ({:.2} µs per queue); discovery's SCAN walk besides: {:.0} µs per 2 s",
        calls / ticks,
        calls / ticks / size as f64,
        usec / ticks,
        usec / ticks / size as f64,
        scan_usec / ticks
    );
    drop(server);
    let _: () = client.del(caught_up).await?;
    Ok(())
}

fn token() -> Result<String, Box<dyn std::error::Error>> {
    use app::ssr::auth::{AuthSettings, Authenticator};
    Ok(Authenticator::new(&AuthSettings {
        secret: Some(common::SECRET.into()),
        ..Default::default()
    })?
    .issue(
        app::role::Role::Moderator,
        "bench",
        Duration::from_secs(3600),
    )?)
}

/// One measured request.
struct Measure {
    ms: f64,
    bytes: usize,
    commands: u64,
}

async fn measure(
    redis: &Client,
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<Measure, Box<dyn std::error::Error>> {
    let before = common::total_commands(redis).await?;
    let started = Instant::now();
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body = request.send().await?.error_for_status()?.bytes().await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let after = common::total_commands(redis).await?;
    Ok(Measure {
        ms,
        bytes: body.len(),
        commands: after.saturating_sub(before + 1),
    })
}

#[derive(Default)]
struct Case {
    latencies: Vec<f64>,
    bytes: usize,
    commands: Vec<u64>,
}

impl Case {
    fn add(&mut self, m: Measure) {
        self.latencies.push(m.ms);
        self.bytes = m.bytes;
        self.commands.push(m.commands);
    }

    fn p50(&self) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        common::percentile(&sorted, 0.5)
    }

    fn commands(&self) -> f64 {
        let mut sorted: Vec<f64> = self.commands.iter().map(|c| *c as f64).collect();
        sorted.sort_by(f64::total_cmp);
        common::percentile(&sorted, 0.5)
    }

    fn print(&self, name: &str, queues: usize) {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        println!(
            "{:<46} {:>8.2} {:>8.2} {:>10} {:>12.0} {:>10.1}",
            name,
            common::percentile(&sorted, 0.5),
            common::percentile(&sorted, 0.99),
            self.bytes,
            self.commands(),
            self.commands() / queues as f64
        );
    }
}

/// What a benchmark does to a queue between reads.
#[derive(Clone, Copy)]
enum Change {
    /// Only an event on its stream (BullMQ writes one with each change): it is read afresh,
    /// its numbers stay.
    Touch,
    /// A waiting job more, as BullMQ adds one (the list and an `added` event).
    AddJob,
}

/// `change` to each of `names`, in one pipeline.
async fn change(
    client: &Client,
    prefix: &str,
    names: &[String],
    change: Change,
) -> Result<(), Error> {
    let pipeline = client.pipeline();
    for name in names {
        let (event, job) = match change {
            Change::Touch => ("progress", "0"),
            Change::AddJob => {
                let _: () = pipeline
                    .lpush(format!("{prefix}:{name}:wait"), "more")
                    .await?;
                ("added", "more")
            }
        };
        let _: () = pipeline
            .xadd(
                format!("{prefix}:{name}:events"),
                false,
                ("MAXLEN", "~", 1000),
                "*",
                vec![("event", event), ("jobId", job)],
            )
            .await?;
    }
    let _: Vec<Value> = pipeline.all().await?;
    Ok(())
}

/// `count` queues, each with 2,000 finished jobs (every fifth failed) spread over 30 days, 5
/// waiting, 2 active and 3 delayed; returns their names.
async fn fill(client: &Client, prefix: &str, count: usize) -> Result<Vec<String>, Error> {
    let now = chrono::Utc::now().timestamp_millis();
    let world = common::World {
        finished: FINISHED_PER_QUEUE as usize,
        processing_ms: 900,
        event: true,
    };
    common::fill_queues(client, prefix, count, world, |queue, i| {
        let i = i as i64;
        let finished = now - 60_000 - (i * (30 * DAY)) / FINISHED_PER_QUEUE - queue as i64;
        (finished, i % 5 == 0)
    })
    .await
}

/// Bytes one viewer receives in a minute: our stream (whole snapshots, and deltas as the
/// dashboard reads it) and bull-board's overview poll every 5 s, each measured over 20 s while
/// a tenth of the queues get a waiting job every 2 s.
async fn bytes_per_viewer(
    client: &Client,
    http: &reqwest::Client,
    address: &str,
    token: &str,
    board: &str,
    prefix: &str,
    names: &[String],
) -> Result<(), Box<dyn std::error::Error>> {
    let churn = {
        let (client, prefix, names) = (client.clone(), prefix.to_owned(), names.to_vec());
        tokio::spawn(async move {
            let mut next = 0;
            loop {
                let tenth: Vec<String> = (0..names.len() / 10)
                    .map(|i| names[(next + i) % names.len()].clone())
                    .collect();
                next += tenth.len();
                if change(&client, &prefix, &tenth, Change::AddJob)
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        })
    };
    let result = viewer_bytes(http, address, token, board).await;
    churn.abort();
    result
}

async fn viewer_bytes(
    http: &reqwest::Client,
    address: &str,
    token: &str,
    board: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    let window = Duration::from_secs(30);
    let per_minute = |bytes: u64| bytes as f64 * 60.0 / window.as_secs_f64();
    let mut results = Vec::new();
    let mut first_event = 0;
    for (name, path) in [
        ("ours /live, whole snapshots", "/api/v1/admin/jobs/live"),
        (
            "ours /live?delta=true",
            "/api/v1/admin/jobs/live?delta=true",
        ),
    ] {
        let response = http
            .get(format!("{address}{path}"))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?;
        let mut body = response.bytes_stream();
        // The whole snapshot a stream opens with (once per connection), then the window.
        let mut opening = Vec::new();
        while !opening.windows(2).any(|w| w == b"\n\n") {
            match body.next().await {
                Some(chunk) => opening.extend_from_slice(&chunk?),
                None => return Err("the stream ended".into()),
            }
        }
        let split = opening
            .windows(2)
            .position(|w| w == b"\n\n")
            .map_or(opening.len(), |at| at + 2);
        first_event = split;
        let mut bytes = (opening.len() - split) as u64;
        let until = tokio::time::Instant::now() + window;
        while let Ok(Some(Ok(chunk))) = tokio::time::timeout_at(until, body.next()).await {
            bytes += chunk.len() as u64;
        }
        results.push((name, per_minute(bytes)));
    }
    // Deltas also send a whole snapshot every FULL_EVERY events (150: every 5 minutes).
    let polls_per_minute = 30.0;
    let amortised = results[1].1 + first_event as f64 * polls_per_minute / 150.0;
    results.push(("ours /live?delta=true, with its periodic whole", amortised));
    let mut polled = 0_u64;
    let polls = window.as_secs() / 5;
    for _ in 0..polls {
        polled += http.get(board).send().await?.bytes().await?.len() as u64;
    }
    results.push(("bull-board overview, polled every 5 s", per_minute(polled)));
    println!(
        "\nbytes per viewer per minute after the opening snapshot ({first_event} bytes, once per connection); 100 queues, 10 of them changing every 2 s (uncompressed):"
    );
    for (name, bytes) in &results {
        println!("{name:<46} {bytes:>12.0}");
    }
    let board_bytes = results[3].1;
    println!(
        "whole snapshots / deltas: {:.1}×; bull-board / ours: {:.1}× (whole snapshots) {:.1}× (deltas, periodic whole included)",
        results[0].1 / results[2].1.max(1.0),
        board_bytes / results[0].1.max(1.0),
        board_bytes / results[2].1.max(1.0)
    );
    Ok(())
}
