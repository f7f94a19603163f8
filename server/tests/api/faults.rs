//! Redis faults while requests and streams are in flight, on a redis-server of the test's own
//! (stopped, restarted, made slow with `DEBUG SLEEP`, its connections killed): every request
//! answers within its deadline (503 JSON while Redis is unavailable, never a hang), streams stay
//! open and resume, the server keeps running, `/readyz` tells the truth, and a control action
//! cut off by a fault leaves BullMQ's data consistent (every job in exactly one state).

use crate::helpers::{
    eventually, fixture_on, unique_prefix, SseClient, SseEvent, TestApp, TestOptions,
};
use crate::own_redis::OwnRedis;
use app::role::Role;
use fred::prelude::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The test servers' overall Redis deadline (`helpers`: 800 ms), plus what HTTP may add.
const ANSWER_WITHIN: Duration = Duration::from_millis(2_500);

async fn app_on(redis: &OwnRedis, label: &str) -> TestApp {
    let mut options = TestOptions::new(&unique_prefix(label));
    options.redis_url = redis.url();
    TestApp::spawn_with(options).await
}

/// A redis-server of the test's own, a server on it, and `waiting` jobs in queue `mails`
/// (added by BullMQ, discovered by the server).
async fn mails_on_own_redis(label: &str, waiting: u32) -> (OwnRedis, TestApp) {
    let redis = OwnRedis::start().expect("redis-server");
    let app = app_on(&redis, label).await;
    fixture_on(
        &redis.url(),
        "add",
        &app.prefix,
        json!([{"name": "mails", "count": waiting}]),
    )
    .await;
    app.rediscover().await;
    (redis, app)
}

/// `GET path` as a moderator: status, JSON body and how long the answer took.
async fn timed_get(app: &TestApp, path: &str) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token(Role::Moderator))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("an answer, not a hang");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, started.elapsed())
}

/// Asserts an answer is 200, or 503 `redis_unavailable` JSON, within the deadline.
fn assert_ok_or_unavailable(what: &str, (status, body, took): &(u16, Value, Duration)) {
    assert!(took < &ANSWER_WITHIN, "{what}: answered after {took:?}");
    match status {
        200 => {}
        503 => assert_eq!(body["error"], "redis_unavailable", "{what}: {body}"),
        other => panic!("{what}: {other} {body}"),
    }
}

/// The next event of `stream` that is not a keep-alive, named `name`.
async fn next_named(stream: &mut SseClient, name: &str, within: Duration) -> SseEvent {
    let until = Instant::now() + within;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let event = stream
            .next_event(left)
            .await
            .unwrap_or_else(|| panic!("the stream ended while waiting for `{name}`"));
        if event.event.as_deref().unwrap_or("message") == name {
            return event;
        }
    }
}

#[tokio::test]
async fn slow_redis_gets_a_prompt_503_and_readyz_says_so_until_it_answers_again() {
    let (redis, app) = mails_on_own_redis("fault-slow", 3).await;
    assert_ok_or_unavailable(
        "before",
        &timed_get(&app, "/api/v1/admin/jobs/metrics").await,
    );
    assert_eq!(timed_get(&app, "/readyz").await.0, 200);

    // Redis stops answering for 8 s (`DEBUG SLEEP` blocks the whole server); each request below
    // waits its 800 ms deadline, so they all fall inside.
    let sleeper = std::thread::spawn({
        let url = redis.url();
        move || {
            let _ = std::process::Command::new("redis-cli")
                .args(["-u", &url, "DEBUG", "SLEEP", "8"])
                .output();
        }
    });
    eventually(Duration::from_secs(5), "Redis to be asleep", || async {
        (timed_get(&app, "/readyz").await.0 == 503).then_some(())
    })
    .await;
    for path in [
        "/api/v1/admin/jobs/metrics",
        "/api/v1/admin/jobs/queues",
        "/api/v1/admin/jobs/trends",
        "/api/v1/admin/jobs/alerts/stuck",
    ] {
        let answer = timed_get(&app, path).await;
        assert_ok_or_unavailable(path, &answer);
        assert_eq!(answer.0, 503, "{path} while Redis sleeps: {:?}", answer.1);
    }
    let ready = timed_get(&app, "/readyz").await;
    assert_eq!(
        (ready.0, ready.1["error"].as_str()),
        (503, Some("redis_unavailable"))
    );
    assert!(ready.2 < ANSWER_WITHIN);
    assert_eq!(
        timed_get(&app, "/healthz").await.0,
        200,
        "the process is fine"
    );

    sleeper.join().expect("sleeper");
    eventually(Duration::from_secs(10), "Redis to answer again", || async {
        (timed_get(&app, "/readyz").await.0 == 200).then_some(())
    })
    .await;
    let (status, body, _) = timed_get(&app, "/api/v1/admin/jobs/metrics").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["queues"][0]["waiting"], 3);
}

#[tokio::test]
async fn redis_stopped_and_restarted_the_stream_says_so_and_resumes() {
    let (mut redis, app) = mails_on_own_redis("fault-restart", 2).await;
    let token = app.token(Role::Moderator);
    let mut stream = SseClient::connect(&app, "/api/v1/admin/jobs/live", Some(&token)).await;
    assert_eq!(stream.status, 200);
    let first = next_named(&mut stream, "message", Duration::from_secs(5)).await;
    assert_eq!(first.json()["queues"][0]["waiting"], 2, "{}", first.data);

    redis.stop();
    let status = next_named(&mut stream, "status", Duration::from_secs(10)).await;
    assert_eq!(
        status.json()["status"],
        "redis_unavailable",
        "{}",
        status.data
    );
    for path in ["/api/v1/admin/jobs/metrics", "/readyz"] {
        let answer = timed_get(&app, path).await;
        assert_ok_or_unavailable(path, &answer);
        assert_eq!(answer.0, 503, "{path} with Redis down");
    }
    assert_eq!(timed_get(&app, "/healthz").await.0, 200);

    // Back, empty (it keeps nothing): the same stream says so and carries data again.
    redis.restart().expect("redis-server again");
    fixture_on(
        &redis.url(),
        "add",
        &app.prefix,
        json!([{"name": "mails", "count": 5}]),
    )
    .await;
    let back = next_named(&mut stream, "status", Duration::from_secs(15)).await;
    assert_eq!(back.json()["status"], "ok", "{}", back.data);
    app.rediscover().await;
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let event = next_named(&mut stream, "message", Duration::from_secs(5)).await;
        if event.json()["queues"][0]["waiting"] == 5 {
            break;
        }
        assert!(
            Instant::now() < until,
            "the stream shows the new jobs: {}",
            event.data
        );
    }
    assert_eq!(timed_get(&app, "/readyz").await.0, 200);
}

#[tokio::test]
async fn killed_connections_are_replaced_and_requests_never_hang() {
    let (redis, app) = mails_on_own_redis("fault-kill", 4).await;
    let token = app.token(Role::Moderator);
    let mut stream = SseClient::connect(&app, "/api/v1/admin/jobs/live", Some(&token)).await;
    next_named(&mut stream, "message", Duration::from_secs(5)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let killer = killer(&redis, stop.clone());
    let mut answers = HashMap::<u16, usize>::new();
    for _ in 0..40 {
        let answer = timed_get(&app, "/api/v1/admin/jobs/metrics").await;
        assert_ok_or_unavailable("metrics while connections are killed", &answer);
        *answers.entry(answer.0).or_default() += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let kills = killer.join().expect("killer");
    assert!(kills > 0, "connections were killed");
    println!("{kills} CLIENT KILLs; answers {answers:?}");
    // Afterwards everything works again, the same stream included.
    let (status, body, _) = timed_get(&app, "/api/v1/admin/jobs/metrics").await;
    assert_eq!(status, 200, "{body}");
    let event = next_named(&mut stream, "message", Duration::from_secs(10)).await;
    assert_eq!(event.json()["queues"][0]["waiting"], 4);
}

/// Kills every normal client connection of `redis` again and again until `stop`; returns how
/// many times.
fn killer(redis: &OwnRedis, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    let port = redis
        .url()
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    std::thread::spawn(move || {
        let mut kills = 0;
        while !stop.load(Ordering::Relaxed) {
            let out = std::process::Command::new("redis-cli")
                .args(["-p", &port, "CLIENT", "KILL", "TYPE", "normal"])
                .output();
            if out.is_ok_and(|o| o.status.success()) {
                kills += 1;
            }
        }
        kills
    })
}

/// For every job of a queue, the states it is in (BullMQ's lists and sorted sets), plus the
/// job hashes that are in no state at all.
async fn job_states(
    client: &Client,
    base: &str,
) -> (HashMap<String, Vec<&'static str>>, Vec<String>) {
    let mut states: HashMap<String, Vec<&'static str>> = HashMap::new();
    for list in ["wait", "paused", "active"] {
        let ids: Vec<String> = client
            .lrange(format!("{base}:{list}"), 0, -1)
            .await
            .expect("lrange");
        for id in ids {
            states.entry(id).or_default().push(list);
        }
    }
    for set in [
        "delayed",
        "prioritized",
        "completed",
        "failed",
        "waiting-children",
    ] {
        let ids: Vec<String> = client
            .zrange(format!("{base}:{set}"), 0, -1, None, false, None, false)
            .await
            .expect("zrange");
        for id in ids {
            states.entry(id).or_default().push(set);
        }
    }
    let mut orphans = Vec::new();
    let mut cursor = "0".to_owned();
    loop {
        let (next, keys): (String, Vec<String>) = client
            .custom(
                fred::cmd!("SCAN"),
                vec![
                    cursor.clone(),
                    "MATCH".into(),
                    format!("{base}:*"),
                    "COUNT".into(),
                    "1000".into(),
                ],
            )
            .await
            .expect("scan");
        for key in keys {
            let id = key.trim_start_matches(&format!("{base}:")).to_owned();
            if id.chars().all(|c| c.is_ascii_digit()) && !states.contains_key(&id) {
                orphans.push(id);
            }
        }
        if next == "0" {
            break;
        }
        cursor = next;
    }
    (states, orphans)
}

/// Checks, with a fresh connection (the killer also kills the test's own), that every job is in
/// exactly one state and has its hash; returns the jobs per state.
async fn assert_consistent(url: &str, base: &str, when: &str) -> HashMap<&'static str, usize> {
    let client = Builder::from_config(Config::from_url(url).expect("url"))
        .build()
        .expect("client");
    client.init().await.expect("connect");
    let client = &client;
    let (states, orphans) = job_states(client, base).await;
    let doubled: Vec<_> = states.iter().filter(|(_, s)| s.len() != 1).collect();
    assert!(
        doubled.is_empty(),
        "{when}: jobs in more than one state: {doubled:?}"
    );
    assert!(
        orphans.is_empty(),
        "{when}: job hashes in no state: {orphans:?}"
    );
    for id in states.keys() {
        let exists: bool = client.exists(format!("{base}:{id}")).await.expect("exists");
        assert!(
            exists,
            "{when}: job {id} is in a state but its hash is gone"
        );
    }
    let mut per_state = HashMap::new();
    for state in states.values() {
        *per_state.entry(state[0]).or_default() += 1;
    }
    per_state
}

#[tokio::test]
async fn a_clear_cut_off_by_killed_connections_leaves_every_job_in_exactly_one_state() {
    let redis = OwnRedis::start().expect("redis-server");
    let app = app_on(&redis, "fault-clear").await;
    let url = redis.url();
    fixture_on(
        &url,
        "work",
        &app.prefix,
        json!([{"name": "big", "completed": 2500, "failed": 600, "concurrency": 50}]),
    )
    .await;
    fixture_on(
        &url,
        "add",
        &app.prefix,
        json!([{"name": "big", "count": 30}]),
    )
    .await;
    fixture_on(
        &url,
        "add",
        &app.prefix,
        json!([{"name": "big", "count": 10, "opts": {"delay": 3_600_000}}]),
    )
    .await;
    app.rediscover().await;
    let base = format!("{}:big", app.prefix);
    let before = assert_consistent(&url, &base, "before").await;
    assert_eq!(before.get("completed"), Some(&2500));

    let clear_all = || {
        app.call(
            reqwest::Method::DELETE,
            "/api/v1/admin/jobs/queue/big/clear?type=all",
            Role::Admin,
            None,
        )
    };
    // The clear runs in batches of 1,000; the server's connections are killed throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let killer = killer(&redis, stop.clone());
    let started = Instant::now();
    let (status, body) = clear_all().await;
    stop.store(true, Ordering::Relaxed);
    let kills = killer.join().expect("killer");
    println!(
        "clear under {kills} CLIENT KILLs: {status} {body} after {:?}",
        started.elapsed()
    );
    assert!(status == 200 || status == 503, "{status} {body}");

    // Whatever the clear got done: nothing is half-moved, and only finished jobs went.
    let after = assert_consistent(&url, &base, "after the cut-off clear").await;
    assert_eq!(
        after.get("wait"),
        Some(&30),
        "waiting jobs are never deleted"
    );
    assert_eq!(
        after.get("delayed"),
        Some(&10),
        "delayed jobs are never deleted"
    );
    let bull = fixture_on(&url, "counts", &app.prefix, json!([{"name": "big"}])).await;
    let counts = &bull["queues"]["big"]["counts"];
    assert_eq!(
        counts["wait"].as_u64().or(counts["waiting"].as_u64()),
        Some(30),
        "{bull}"
    );
    assert_eq!(counts["delayed"], 10, "{bull}");

    // Done again without faults, the clear finishes the job, as BullMQ confirms.
    let (status, body) = clear_all().await;
    assert_eq!(status, 200, "{body}");
    let bull = fixture_on(&url, "counts", &app.prefix, json!([{"name": "big"}])).await;
    let counts = &bull["queues"]["big"]["counts"];
    assert_eq!(
        (counts["completed"].as_u64(), counts["failed"].as_u64()),
        (Some(0), Some(0)),
        "{bull}"
    );
    assert_eq!(counts["delayed"], 10);
    assert_consistent(&url, &base, "after the second clear").await;
}

/// Regression (issue 15, defect 11): with Redis shut down, `/metrics` answered 503 only after
/// the whole `REDIS_TIMEOUT` (5.3 s measured), although the connection was known to be refused.
/// Now every request answers at once while Redis refuses connections, and the first request
/// after it is back succeeds.
#[tokio::test]
async fn with_redis_gone_requests_answer_503_at_once_and_succeed_as_soon_as_it_is_back() {
    let mut redis = OwnRedis::start().expect("redis-server");
    let mut options = TestOptions::new(&unique_prefix("fault-gone"));
    options.redis_url = redis.url();
    // The production default: waiting it out would take 5 s per request.
    options.redis_timeout = Duration::from_secs(5);
    let app = TestApp::spawn_with(options).await;
    fixture_on(
        &redis.url(),
        "add",
        &app.prefix,
        json!([{"name": "mails", "count": 2}]),
    )
    .await;
    app.rediscover().await;
    assert_eq!(timed_get(&app, "/api/v1/admin/jobs/metrics").await.0, 200);

    redis.stop();
    // The pool notices the closed connections; from then on every answer is prompt.
    eventually(Duration::from_secs(10), "the first 503", || async {
        (timed_get(&app, "/api/v1/admin/jobs/metrics").await.0 == 503).then_some(())
    })
    .await;
    for path in [
        "/api/v1/admin/jobs/metrics",
        "/api/v1/admin/jobs/queues",
        "/api/v1/admin/jobs/trends?period=7d",
        "/api/v1/admin/jobs/alerts/stuck",
        "/api/v1/admin/jobs/history",
        "/readyz",
    ] {
        let (status, body, took) = timed_get(&app, path).await;
        assert_eq!(
            (status, &body["error"]),
            (503, &json!("redis_unavailable")),
            "{path}"
        );
        assert!(
            took < Duration::from_secs(1),
            "{path} answered after {took:?}"
        );
    }
    let (status, body) = app
        .call(
            reqwest::Method::PATCH,
            "/api/v1/admin/jobs/queue/mails/pause",
            Role::Admin,
            None,
        )
        .await;
    assert_eq!(
        (status, &body["error"]),
        (503, &json!("redis_unavailable")),
        "{body}"
    );

    redis.restart().expect("redis-server again");
    let (status, body, took) = timed_get(&app, "/api/v1/admin/jobs/queues").await;
    assert_eq!(
        status, 200,
        "the first request after Redis is back: {body} after {took:?}"
    );
}
