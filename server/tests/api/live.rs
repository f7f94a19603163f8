//! The live streams: cadence and shape, fan-out (one poll for many viewers), cleanup on
//! disconnect, auth, token expiry and shutdown (Redis going away and coming back: `faults.rs`).

use crate::helpers::{eventually, unique_prefix, SseClient, TestApp, TestOptions};
use app::role::Role;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const LIVE: &str = "/api/v1/admin/jobs/live";

fn keys_of(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

#[tokio::test]
async fn the_all_queues_stream_pushes_metrics_at_once_then_every_interval() {
    let app = TestApp::spawn("live-cadence").await;
    let _world = app
        .world(json!([{"name": "mail", "completed": 2, "waiting": 1}]))
        .await;
    let started = Instant::now();
    let mut stream = SseClient::connect(&app, LIVE, Some(&app.token(Role::Moderator))).await;
    assert_eq!(stream.status, 200);

    let first = stream
        .next_event(Duration::from_secs(5))
        .await
        .expect("first event");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the first event comes at once"
    );
    assert_eq!(first.event, None, "data events are unnamed (onmessage)");
    assert!(first.retry.is_some(), "a retry hint comes first");
    let first_id: u64 = first
        .id
        .as_deref()
        .expect("id")
        .parse()
        .expect("numeric id");

    // Same shape as GET /metrics.
    let (_, metrics) = app
        .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
        .await;
    let pushed = first.json();
    assert_eq!(keys_of(&pushed), keys_of(&metrics));
    assert_eq!(
        keys_of(&pushed["queues"][0]),
        keys_of(&metrics["queues"][0])
    );
    assert_eq!(pushed["queues"][0]["queueName"], "mail");

    // Then one event per interval (200 ms in tests), with increasing ids.
    let mut last = first_id;
    let cadence = Instant::now();
    for _ in 0..3 {
        let event = stream
            .next_event(Duration::from_secs(5))
            .await
            .expect("event");
        let id: u64 = event.id.as_deref().expect("id").parse().expect("numeric");
        assert!(id > last);
        last = id;
    }
    let elapsed = cadence.elapsed();
    assert!(
        elapsed >= Duration::from_millis(400) && elapsed < Duration::from_secs(3),
        "3 events at a 200 ms interval took {elapsed:?}"
    );
}

#[tokio::test]
async fn many_viewers_share_one_poll_and_a_gone_viewer_stops_it() {
    let mut options = TestOptions::new(&unique_prefix("live-fanout"));
    // One user's 25 streams: this is about fan-out, not the per-user limit (`limits.rs`).
    options.limits.streams_per_user = 25;
    let app = TestApp::spawn_with(options).await;
    let token = app.token(Role::Moderator);
    let mut viewers = Vec::new();
    for _ in 0..25 {
        let mut viewer = SseClient::connect(&app, LIVE, Some(&token)).await;
        viewer
            .next_event(Duration::from_secs(5))
            .await
            .expect("first event");
        viewers.push(viewer);
    }
    assert_eq!(app.hub.active_topics(), 1, "one topic, one poller");

    // Over ~1 s, 25 viewers cost what one does: about 1 s / 200 ms polls, not 25 times that.
    let polls_before = app.hub.polls();
    let window = Instant::now();
    for viewer in viewers.iter_mut() {
        for _ in 0..3 {
            viewer
                .next_event(Duration::from_secs(5))
                .await
                .expect("event");
        }
    }
    let polls = app.hub.polls() - polls_before;
    let expected = window.elapsed().as_millis() as u64 / 200 + 2;
    assert!(
        polls <= expected,
        "{polls} polls for 25 viewers in {:?}",
        window.elapsed()
    );

    // All viewers leave: the poller stops.
    drop(viewers);
    eventually(Duration::from_secs(5), "the poller to stop", || async {
        (app.hub.active_topics() == 0).then_some(())
    })
    .await;
    let stopped_at = app.hub.polls();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        app.hub.polls() <= stopped_at + 1,
        "a topic nobody watches is not polled"
    );
}

#[tokio::test]
async fn the_queue_stream_shows_counts_and_active_jobs_and_unknown_queues_are_404() {
    let app = TestApp::spawn("live-queue").await;
    let _world = app
        .world(json!([{"name": "sync", "active": 2, "waiting": 1}]))
        .await;
    let token = app.token(Role::Moderator);

    let mut stream =
        SseClient::connect(&app, "/api/v1/admin/jobs/queue/sync/live", Some(&token)).await;
    assert_eq!(stream.status, 200);
    let event = stream
        .next_event(Duration::from_secs(5))
        .await
        .expect("event");
    let snapshot = event.json();
    assert_eq!(snapshot["queue"]["queueName"], "sync");
    assert_eq!(snapshot["queue"]["active"], 2);
    let jobs = snapshot["activeJobs"].as_array().expect("active jobs");
    assert_eq!(jobs.len(), 2);
    for job in jobs {
        assert_eq!(job["jobName"], "hang");
        assert!(job["runningFor"].as_u64().is_some());
        assert!(job["startedAt"].as_str().is_some_and(|t| t.ends_with('Z')));
        assert_eq!(job["attemptsMade"], 0);
        assert_eq!(job["data"]["kind"], "hang");
    }

    // The dashboard's polling fallback reads the same snapshot through its server function.
    let polled = app
        .client
        .post(app.url("/api/fn/queue_live"))
        .bearer_auth(&token)
        .form(&[("queue_name", "sync")])
        .send()
        .await
        .expect("request");
    assert_eq!(polled.status(), 200);
    let polled: Value = polled.json().await.expect("json");
    assert_eq!(keys_of(&polled), keys_of(&snapshot));
    assert_eq!(polled["queue"], snapshot["queue"]);
    assert_eq!(polled["activeJobs"].as_array().map(Vec::len), Some(2));
    let gone = app
        .client
        .post(app.url("/api/fn/queue_live"))
        .bearer_auth(&token)
        .form(&[("queue_name", "nope")])
        .send()
        .await
        .expect("request");
    assert_eq!(gone.status(), 404);
    let body: Value = gone.json().await.expect("json");
    assert_eq!(body["error"], "not_found");

    let missing = app
        .client
        .get(app.url("/api/v1/admin/jobs/queue/nope/live"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(missing.status(), 404);
    let body: Value = missing.json().await.expect("json");
    assert_eq!(body["error"], "not_found");

    let bad = app
        .client
        .get(app.url("/api/v1/admin/jobs/queue/a:b/live"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn streams_need_auth_and_accept_the_session_cookie() {
    let app = TestApp::spawn("live-auth").await;
    let anonymous = SseClient::connect(&app, LIVE, None).await;
    assert_eq!(anonymous.status, 401);

    let response = app
        .client
        .get(app.url(LIVE))
        .header(
            "cookie",
            format!("monitor_session={}", app.token(Role::Moderator)),
        )
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream")));
    // Proxies in front of several instances must not buffer the stream.
    assert_eq!(
        response
            .headers()
            .get("x-accel-buffering")
            .and_then(|v| v.to_str().ok()),
        Some("no")
    );
}

#[tokio::test]
async fn a_token_that_expires_ends_the_stream_with_a_final_auth_event() {
    let app = TestApp::spawn("live-expiry").await;
    let token = app.token_for(Role::Moderator, Duration::from_secs(2));
    let mut stream = SseClient::connect(&app, LIVE, Some(&token)).await;
    assert_eq!(stream.status, 200);
    let mut last = None;
    while let Some(event) = stream.next_event(Duration::from_secs(10)).await {
        last = Some(event);
    }
    let last = last.expect("events");
    assert_eq!(last.event.as_deref(), Some("auth"));
    assert_eq!(last.json()["error"], "unauthorized");
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly() {
    let mut app = TestApp::spawn("live-shutdown").await;
    let mut stream = SseClient::connect(&app, LIVE, Some(&app.token(Role::Moderator))).await;
    stream
        .next_event(Duration::from_secs(5))
        .await
        .expect("first event");
    app.stop();
    let mut last = None;
    while let Some(event) = stream.next_event(Duration::from_secs(10)).await {
        last = Some(event);
    }
    assert_eq!(
        last.expect("a final event").event.as_deref(),
        Some("shutdown")
    );
}

#[tokio::test]
async fn a_viewer_that_stops_reading_does_not_slow_the_others() {
    let app = TestApp::spawn("live-slow").await;
    let token = app.token(Role::Moderator);
    let mut slow = SseClient::connect(&app, LIVE, Some(&token)).await;
    slow.next_event(Duration::from_secs(5))
        .await
        .expect("first event");
    let mut fast = SseClient::connect(&app, LIVE, Some(&token)).await;
    fast.next_event(Duration::from_secs(5))
        .await
        .expect("first event");

    // The slow viewer reads nothing while the fast one takes five events at the normal cadence.
    let started = Instant::now();
    for _ in 0..5 {
        fast.next_event(Duration::from_secs(5))
            .await
            .expect("event");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );

    // The slow viewer is still served, with newer snapshots than it last saw.
    let next = slow
        .next_event(Duration::from_secs(5))
        .await
        .expect("event");
    assert!(next.id.is_some());
}

#[tokio::test]
async fn delta_streams_send_only_what_changed_and_rebuild_bullmqs_numbers() {
    use app::model::{Metrics, MetricsDelta};
    let app = TestApp::spawn("live-delta").await;
    let world = app
        .world(json!([
            {"name": "quiet", "completed": 2},
            {"name": "busy", "waiting": 1}
        ]))
        .await;
    let mut stream = SseClient::connect(
        &app,
        &format!("{LIVE}?delta=true"),
        Some(&app.token(Role::Moderator)),
    )
    .await;
    assert_eq!(stream.status, 200);
    let first = stream
        .next_event(Duration::from_secs(5))
        .await
        .expect("first");
    assert_eq!(first.event, None, "the first event is a whole snapshot");
    let mut snapshot: Metrics = serde_json::from_str(&first.data).expect("metrics");
    let mut last_id = first.id.clone().expect("id");

    crate::helpers::fixture("add", &app.prefix, json!([{"name": "busy", "count": 3}])).await;
    let bullmq = crate::helpers::fixture("counts", &app.prefix, json!([{"name": "busy"}])).await;
    let expected = bullmq["queues"]["busy"]["counts"]["waiting"]
        .as_u64()
        .expect("waiting");
    let mut deltas = 0;
    let mut changed_queues = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let event = stream
            .next_event(Duration::from_secs(5))
            .await
            .expect("event");
        match event.event.as_deref() {
            Some("delta") => {
                let delta: MetricsDelta = serde_json::from_str(&event.data).expect("delta");
                assert_eq!(delta.base.to_string(), last_id, "a delta follows its base");
                changed_queues.extend(delta.queues.iter().map(|q| q.summary.queue_name.clone()));
                changed_queues.extend(delta.changed.iter().map(|q| q.queue_name.clone()));
                snapshot = snapshot.with(&delta);
                deltas += 1;
            }
            None => snapshot = serde_json::from_str(&event.data).expect("metrics"),
            other => panic!("unexpected event {other:?}"),
        }
        last_id = event.id.expect("id");
        let busy = snapshot
            .queues
            .iter()
            .find(|q| q.summary.queue_name == "busy")
            .expect("busy");
        if busy.summary.counts.waiting == expected && deltas >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the deltas never showed BullMQ's count"
        );
    }
    // What the deltas rebuilt is what a full read says.
    let (_, full) = app
        .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
        .await;
    let full: Metrics = serde_json::from_value(full).expect("metrics");
    let counts = |m: &Metrics| -> Vec<(String, app::model::StateCounts)> {
        m.queues
            .iter()
            .map(|q| (q.summary.queue_name.clone(), q.summary.counts.clone()))
            .collect()
    };
    assert_eq!(counts(&snapshot), counts(&full));
    // The quiet queue never changed, so no delta carried it.
    assert!(
        changed_queues.iter().all(|name| name == "busy"),
        "{changed_queues:?}"
    );
    assert!(changed_queues.iter().any(|name| name == "busy"));
    drop(world);

    let bad = app
        .client
        .get(app.url(&format!("{LIVE}?delta=maybe")))
        .bearer_auth(app.token(Role::Moderator))
        .send()
        .await
        .expect("request");
    assert_eq!(bad.status(), 400);
}
