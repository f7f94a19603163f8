//! Benchmark of the job explorer on one queue holding 1,000,000 completed and 100,000 failed
//! jobs, side by side with bull-board on the same Redis in the same run.
//!
//! Run with: `cargo run -p server --release --example bench_jobs` (needs `npm ci` in `end2end/`
//! for bull-board; `BENCH_REQUESTS` sets requests per case, default 200).
//!
//! It starts its own `redis-server` (no persistence), writes the jobs with BullMQ 6's layout
//! (one hash per job with realistic data, options, return values, failure reasons and stack
//! traces; `completed`/`failed` sets scored by `finishedOn`), then serves them twice: the
//! monitor in-process, and bull-board 9.10 (`end2end/bench/bull-board.mjs`, Node). Requests
//! alternate between the two so both see the same machine at the same moment. For each case it
//! prints latency (p50/p99), the response's size, and the Redis commands one request costs
//! (`total_commands_processed` around it; nothing else talks to this Redis meanwhile).
//! Then a search with a `data.` qualifier over 100,000 jobs, with every Redis call it made
//! timed by Redis itself (`SLOWLOG` with a 0 µs threshold).

use fred::prelude::*;
use std::time::{Duration, Instant};

mod common;

const QUEUE: &str = "big";
const PREFIX: &str = "bench";
const COMPLETED: i64 = 1_000_000;
const FAILED: i64 = 100_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let requests: usize = std::env::var("BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let redis = common::OwnRedis::start()?;
    let url = redis.url();
    let client = Builder::from_config(Config::from_url(&url)?).build()?;
    client.init().await?;
    let started = Instant::now();
    fill(&client).await?;
    println!(
        "wrote {COMPLETED} completed and {FAILED} failed jobs in one queue in {:.1} s (own redis-server at {url})",
        started.elapsed().as_secs_f64()
    );
    let memory: String = client.info(Some(fred::types::InfoKind::Memory)).await?;
    println!(
        "redis used_memory: {}",
        memory
            .lines()
            .find_map(|l| l.strip_prefix("used_memory_human:"))
            .unwrap_or("?")
            .trim()
    );

    let mut settings = app::ssr::config::Settings::new(url.clone(), PREFIX);
    settings.monitor_prefix = "bench-monitor".into();
    settings.collector = false;
    settings.redis_timeout = Duration::from_secs(30);
    settings.discovery_interval = Duration::from_secs(3600);
    let ours = common::serve(settings).await?;
    let board = common::BullBoard::spawn(&url, PREFIX, &[QUEUE])?;
    let http = reqwest::Client::new();
    let api = format!("{}/api/v1/admin/jobs/queue/{QUEUE}", ours.base);
    let detail_ids: Vec<String> = (0..requests)
        .map(|i| (1 + (i as i64 * 7919) % COMPLETED).to_string())
        .collect();

    println!("\n{requests} requests per case, ours and bull-board's alternating");
    println!(
        "{:<52} {:>8} {:>8} {:>10} {:>10}",
        "case", "p50 ms", "p99 ms", "bytes", "redis cmds"
    );
    let cases: Vec<(&str, MakeRequest)> = vec![
        (
            "ours: failed, page 1 (50 of 100k)",
            Box::new(|_| Request::ours(&format!("{api}/jobs?state=failed&limit=50"))),
        ),
        (
            "bull-board: failed, page 1 (50 of 100k)",
            Box::new(|_| {
                Request::plain(&format!(
                    "{}/api/queues?activeQueue={QUEUE}&status=failed&page=1&jobsPerPage=50",
                    board.address
                ))
            }),
        ),
        (
            "ours: completed, page 1 (50 of 1M)",
            Box::new(|_| Request::ours(&format!("{api}/jobs?state=completed&limit=50"))),
        ),
        (
            "bull-board: completed, page 1 (50 of 1M)",
            Box::new(|_| {
                Request::plain(&format!(
                    "{}/api/queues?activeQueue={QUEUE}&status=completed&page=1&jobsPerPage=50",
                    board.address
                ))
            }),
        ),
        (
            "ours: one job's detail",
            Box::new(|i| Request::ours(&format!("{api}/jobs/{}", detail_ids[i]))),
        ),
        (
            "bull-board: one job's detail",
            Box::new(|i| {
                Request::plain(&format!(
                    "{}/api/queues/{QUEUE}/{}",
                    board.address, detail_ids[i]
                ))
            }),
        ),
    ];
    let mut results: Vec<Measured> = cases.iter().map(|_| Measured::default()).collect();
    // Two warm-up rounds (connections, script loading, discovery), then the measured ones.
    for round in 0..requests + 2 {
        for (index, (_, make)) in cases.iter().enumerate() {
            let request = make(round % requests);
            let token = request.authenticated.then_some(ours.token.as_str());
            let (ms, bytes, commands) = measure(&client, &http, &request.url, token).await?;
            if round >= 2 {
                results[index].add(ms, bytes, commands);
            }
        }
    }
    for ((name, _), measured) in cases.iter().zip(&mut results) {
        measured.print(name);
    }
    let ratio = |ours: usize, theirs: usize| results[theirs].p50() / results[ours].p50();
    println!(
        "\nbull-board / ours, p50 latency: failed page {:.1}×, completed page {:.1}×, detail {:.1}×",
        ratio(0, 1),
        ratio(2, 3),
        ratio(4, 5)
    );

    // A search with a data qualifier over 100,000 jobs: the failed set, newest first.
    redis_command(&client, "CONFIG", &["SET", "slowlog-log-slower-than", "0"]).await?;
    redis_command(&client, "CONFIG", &["SET", "slowlog-max-len", "100000"]).await?;
    redis_command(&client, "SLOWLOG", &["RESET"]).await?;
    let search = format!("{api}/jobs?search=data.user.id:4242&scanLimit=100000");
    let (ms, bytes, commands) = measure(&client, &http, &search, Some(&ours.token)).await?;
    let body: serde_json::Value = http
        .get(&search)
        .bearer_auth(&ours.token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let log = redis_command(&client, "SLOWLOG", &["GET", "-1"]).await?;
    let (slowest_us, calls) = slowest(&log);
    println!(
        "\nsearch data.user.id:4242 over {} jobs: {ms:.0} ms, {} match(es), {bytes} bytes, {commands} redis commands; \
         slowest redis call {:.1} ms of {calls} logged (SLOWLOG, threshold 0 µs; over 50 ms: {})",
        body["scanned"],
        body["jobs"].as_array().map(Vec::len).unwrap_or_default(),
        slowest_us as f64 / 1000.0,
        if slowest_us > 50_000 { "yes" } else { "none" }
    );
    redis_command(
        &client,
        "CONFIG",
        &["SET", "slowlog-log-slower-than", "10000"],
    )
    .await?;
    drop(cases);
    ours.stop().await;
    drop(board);
    Ok(())
}

/// A Redis command this build of fred has no method for.
async fn redis_command(client: &Client, name: &'static str, args: &[&str]) -> Result<Value, Error> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    client.custom(fred::cmd!(name), args).await
}

/// Builds a case's `i`-th request.
type MakeRequest<'a> = Box<dyn Fn(usize) -> Request + 'a>;

/// One request of a case.
struct Request {
    url: String,
    authenticated: bool,
}

impl Request {
    fn ours(url: &str) -> Request {
        Request {
            url: url.to_owned(),
            authenticated: true,
        }
    }

    fn plain(url: &str) -> Request {
        Request {
            url: url.to_owned(),
            authenticated: false,
        }
    }
}

/// Latency (ms), response bytes and Redis commands of one request. The two `INFO` calls
/// around it are not counted.
async fn measure(
    redis: &Client,
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> Result<(f64, usize, u64), Box<dyn std::error::Error>> {
    let before = common::total_commands(redis).await?;
    let started = Instant::now();
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let body = request.send().await?.error_for_status()?.bytes().await?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    let after = common::total_commands(redis).await?;
    // `total_commands_processed` counts the first INFO only after it ran.
    Ok((ms, body.len(), after.saturating_sub(before + 1)))
}

#[derive(Default)]
struct Measured {
    latencies: Vec<f64>,
    bytes: usize,
    commands: Vec<u64>,
}

impl Measured {
    fn add(&mut self, ms: f64, bytes: usize, commands: u64) {
        self.latencies.push(ms);
        self.bytes = bytes;
        self.commands.push(commands);
    }

    fn p50(&self) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_by(f64::total_cmp);
        common::percentile(&sorted, 0.5)
    }

    fn print(&mut self, name: &str) {
        self.latencies.sort_by(f64::total_cmp);
        self.commands.sort_unstable();
        println!(
            "{:<52} {:>8.2} {:>8.2} {:>10} {:>10}",
            name,
            common::percentile(&self.latencies, 0.50),
            common::percentile(&self.latencies, 0.99),
            self.bytes,
            self.commands[self.commands.len() / 2]
        );
    }
}

/// The longest call in a `SLOWLOG GET` answer (µs), and how many calls it holds.
fn slowest(log: &Value) -> (i64, usize) {
    let Value::Array(entries) = log else {
        return (0, 0);
    };
    let longest = entries
        .iter()
        .filter_map(|entry| match entry {
            Value::Array(fields) => fields.get(2).and_then(|d| d.as_i64()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    (longest, entries.len())
}

/// The queue, written as BullMQ 6 writes finished jobs.
async fn fill(client: &Client) -> Result<(), Error> {
    let base = format!("{PREFIX}:{QUEUE}");
    let _: () = client
        .hset(
            format!("{base}:meta"),
            vec![("version", "bullmq:6.7.0"), ("opts.maxLenEvents", "10000")],
        )
        .await?;
    let now = chrono::Utc::now().timestamp_millis();
    let chunk = 5_000;
    for (set, count, offset) in [("failed", FAILED, 0), ("completed", COMPLETED, FAILED)] {
        for first in (0..count).step_by(chunk) {
            let pipeline = client.pipeline();
            let mut members = Vec::with_capacity(chunk);
            for i in first..(first + chunk as i64).min(count) {
                let n = offset + i + 1;
                let finished = now - 1_000 - i * 50;
                let id = n.to_string();
                let _: () = pipeline
                    .hset(format!("{base}:{id}"), job_fields(n, finished, set))
                    .await?;
                members.push((finished as f64, id));
            }
            let _: () = pipeline
                .zadd(format!("{base}:{set}"), None, None, false, false, members)
                .await?;
            let _: Vec<Value> = pipeline.all().await?;
        }
    }
    Ok(())
}

/// A finished job's hash: what an e-mail job of a real app carries.
fn job_fields(n: i64, finished: i64, set: &str) -> Vec<(&'static str, String)> {
    let data = serde_json::json!({
        "user": {"id": n % 100_000, "email": format!("user{n}@example.com")},
        "order": {"id": format!("ord-{n}"), "total": n % 997},
        "template": "receipt",
        "locale": "en-GB",
    });
    let mut fields = vec![
        ("name", "send-receipt".to_owned()),
        ("data", data.to_string()),
        (
            "opts",
            r#"{"attempts":3,"backoff":{"type":"exponential","delay":1000}}"#.to_owned(),
        ),
        ("timestamp", (finished - 1_500).to_string()),
        ("processedOn", (finished - 400).to_string()),
        ("finishedOn", finished.to_string()),
        ("pb", "worker-1:7".to_owned()),
    ];
    if set == "failed" {
        fields.extend([
            ("atm", "3".to_owned()),
            ("ats", "3".to_owned()),
            (
                "failedReason",
                format!("SMTP timeout after 30000 ms sending to user{n}@example.com"),
            ),
            (
                "stacktrace",
                serde_json::json!([format!(
                    "Error: SMTP timeout after 30000 ms\n    at Mailer.send (/app/src/mailer.js:88:13)\n    \
                     at async Worker.process (/app/src/worker.js:41:7)\n    at async Worker.processJob \
                     (/app/node_modules/bullmq/dist/cjs/classes/worker.js:455:28) job {n}"
                )])
                .to_string(),
            ),
        ]);
    } else {
        fields.extend([
            ("atm", "1".to_owned()),
            ("ats", "1".to_owned()),
            (
                "returnvalue",
                serde_json::json!({"messageId": format!("<{n}@mail.example.com>"), "accepted": 1})
                    .to_string(),
            ),
        ]);
    }
    fields
}
