//! Two monitor instances on the same Redis behave as one: a sign-in on one is valid on the other,
//! requests alternating between them see the same numbers, an action taken through one shows in
//! the other's stream and in the shared audit trail. (That two collectors count each job once is
//! `history::two_instances_count_each_job_once`.)

use crate::helpers::{fixture, unique_prefix, SseClient, TestApp, TestOptions};
use crate::queues::{assert_matches_bullmq, queue};
use crate::session::{session_cookie, sign_in};
use app::role::Role;
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn two_instances_serve_any_request_and_stream_as_one() {
    let prefix = unique_prefix("instances");
    let instances = [
        TestApp::spawn_with(TestOptions::new(&prefix)).await,
        TestApp::spawn_with(TestOptions::new(&prefix)).await,
    ];
    let world = instances[0]
        .world(
            json!([{"name": "mail", "completed": 3, "failed": 1, "waiting": 2},
                      {"name": "sms", "waiting": 1}]),
        )
        .await;
    instances[1].rediscover().await;

    // A session cookie from one instance opens the other's dashboard and server functions.
    let response = sign_in(&instances[0], &instances[0].token(Role::Admin)).await;
    assert_eq!(response.status(), 303);
    let cookie = session_cookie(&response);
    let page = instances[1]
        .client
        .get(instances[1].url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("request");
    assert_eq!(page.status(), 200);
    assert!(page
        .text()
        .await
        .expect("html")
        .contains("data-queue=\"mail\""));

    // Requests alternate between the instances and get the same answers.
    let mut answers = Vec::new();
    for round in 0..6 {
        let (status, body) = instances[round % 2]
            .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
            .await;
        assert_eq!(status, 200, "{body}");
        for name in ["mail", "sms"] {
            assert_matches_bullmq(queue(&body, name), world.queue(name));
        }
        answers.push(body["queues"].clone());
    }
    assert!(answers.windows(2).all(|pair| pair[0] == pair[1]));

    // A pause through the first instance shows in the second's stream.
    let token = instances[1].token(Role::Moderator);
    let mut stream =
        SseClient::connect(&instances[1], "/api/v1/admin/jobs/live", Some(&token)).await;
    assert_eq!(stream.status, 200);
    let first = stream
        .next_event(Duration::from_secs(5))
        .await
        .expect("event");
    assert_eq!(queue(&first.json(), "mail")["paused"], false);
    instances[0].control("mail", "pause").await;
    let mut seen = Value::Null;
    for _ in 0..50 {
        let event = stream
            .next_event(Duration::from_secs(5))
            .await
            .expect("event");
        seen = event.json();
        if queue(&seen, "mail")["paused"] == true {
            break;
        }
    }
    assert_eq!(queue(&seen, "mail")["paused"], true, "{seen}");

    // … and is undone through the second; both appear in either instance's audit trail.
    instances[1].control("mail", "resume").await;
    for instance in &instances {
        assert_eq!(instance.audit_actions().await, ["resume", "pause"]);
    }
}

#[tokio::test]
async fn instances_share_their_reads_and_an_action_on_one_expires_them_on_all() {
    let prefix = unique_prefix("instances-reads");
    // Results shared for a long time, so that what is shared is unmistakable.
    let sharing = || {
        let mut options = TestOptions::new(&prefix);
        options.reads_shared_for = Duration::from_secs(60);
        options
    };
    let (first, second) = (
        TestApp::spawn_with(sharing()).await,
        TestApp::spawn_with(sharing()).await,
    );
    let _world = first.world(json!([{"name": "mail", "waiting": 2}])).await;
    second.rediscover().await;
    let waiting = |body: &Value| queue(body, "mail")["waiting"].clone();

    let (_, read) = first
        .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
        .await;
    assert_eq!(waiting(&read), 2);
    // BullMQ adds three jobs; the second instance answers with the first one's result (its own
    // read would say 5): it did not read the queues again.
    fixture("add", &prefix, json!([{"name": "mail", "count": 3}])).await;
    let (_, shared) = second
        .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
        .await;
    assert_eq!(waiting(&shared), 2, "{shared}");
    assert_eq!(shared["timestamp"], read["timestamp"]);
    // An instance showing other queues (its own allow-list) never takes their results.
    let mut narrower = sharing();
    narrower.queue_allow_list = Some(vec!["sms".into()]);
    let narrower = TestApp::spawn_with(narrower).await;
    let (_, own) = narrower
        .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
        .await;
    assert_eq!(own["queues"], json!([]), "{own}");

    // A pause through the first instance: both answer with fresh numbers at once, though the
    // second one's own copy is still within its minute.
    first.control("mail", "pause").await;
    for instance in [&second, &first] {
        let (_, fresh) = instance
            .get_json("/api/v1/admin/jobs/metrics", Role::Moderator)
            .await;
        assert_eq!(waiting(&fresh), 5, "{fresh}");
        assert_eq!(queue(&fresh, "mail")["paused"], true, "{fresh}");
    }
}
