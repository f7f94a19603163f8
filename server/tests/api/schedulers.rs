//! `GET /queue/{q}/schedulers` against real BullMQ: job schedulers (v6 and v5) and legacy
//! repeatable jobs (v5) made by BullMQ itself, compared with its own `getJobSchedulers()`.

use crate::helpers::*;
use app::role::Role;
use serde_json::{json, Value};

const PATH: &str = "/api/v1/admin/jobs/queue";

#[tokio::test]
async fn schedulers_and_repeatables_read_as_bullmq_reads_them_and_nothing_is_deleted() {
    let prefix = unique_prefix("schedulers");
    let mut options = TestOptions::new(&prefix);
    options.redact = "token".into();
    let app = TestApp::spawn_with(options).await;
    let bullmq = fixture(
        "schedulers",
        &prefix,
        json!([
            {"name": "cron6", "schedulers": [
                {"id": "nightly", "repeat": {"pattern": "0 3 * * *", "tz": "Europe/Paris"},
                 "template": {"name": "report", "data": {"day": 1, "token": "s3cret"},
                              "opts": {"attempts": 3}}},
                {"id": "tick", "repeat": {"every": 5000}, "template": {"name": "t"}}
            ]},
            {"name": "old5", "bullmq": 5,
             "schedulers": [{"id": "tick5", "repeat": {"every": 7000}}],
             "repeatables": [{"name": "legacy", "repeat": {"every": 60000}}]}
        ]),
    )
    .await;
    app.rediscover().await;

    for queue in ["cron6", "old5"] {
        let (status, page) = app
            .get_json(&format!("{PATH}/{queue}/schedulers"), Role::Moderator)
            .await;
        assert_eq!(status, 200, "{page}");
        let theirs = bullmq["queues"][queue]["schedulers"]
            .as_array()
            .expect("getJobSchedulers()");
        let ours = page["schedulers"].as_array().expect("schedulers");
        assert_eq!(page["total"], theirs.len(), "{page}");
        assert_eq!(ours.len(), theirs.len(), "{page}");
        // Same entries in the same order (soonest first), with BullMQ's values.
        for (ours, theirs) in ours.iter().zip(theirs) {
            assert_eq!(ours["key"], theirs["key"], "{page}");
            assert_eq!(ours["name"], theirs["name"]);
            assert_eq!(ours["next"], theirs["next"]);
            for field in ["pattern", "every", "tz", "offset", "iterationCount"] {
                let theirs = theirs.get(field).cloned().unwrap_or(Value::Null);
                assert_eq!(ours[field], theirs, "{queue} {field}: {ours}");
            }
            let kind = if theirs.get("iterationCount").is_some() {
                "scheduler"
            } else {
                "legacy"
            };
            assert_eq!(ours["kind"], kind, "{ours}");
            assert_eq!(ours["orphan"], false);
        }
    }
    let (_, page) = app
        .get_json(&format!("{PATH}/cron6/schedulers"), Role::Moderator)
        .await;
    let nightly = page["schedulers"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["key"] == "nightly"))
        .expect("nightly")
        .clone();
    assert_eq!(nightly["template"]["data"]["day"], 1, "{nightly}");
    assert_ne!(
        nightly["template"]["data"]["token"], "s3cret",
        "REDACT_PATHS applies"
    );
    assert_eq!(nightly["template"]["opts"]["attempts"], 3);
    let (_, old) = app
        .get_json(&format!("{PATH}/old5/schedulers"), Role::Moderator)
        .await;
    assert!(
        old["schedulers"]
            .as_array()
            .expect("schedulers")
            .iter()
            .any(|s| s["name"] == "legacy" && s["kind"] == "legacy" && s["every"] == 60000),
        "{old}"
    );

    // An entry whose hash is gone: BullMQ's getJobSchedulers() would delete it; we show it.
    let repeat = format!("{prefix}:cron6:repeat");
    redis_cli(&["ZADD", &repeat, "1", "ghost"]);
    let (_, page) = app
        .get_json(&format!("{PATH}/cron6/schedulers"), Role::Moderator)
        .await;
    assert_eq!(
        page["schedulers"][0]["key"], "ghost",
        "soonest first: {page}"
    );
    assert_eq!(page["schedulers"][0]["orphan"], true);
    assert_eq!(redis_cli(&["ZSCORE", &repeat, "ghost"]), "1", "still there");

    // Bounds and errors.
    let (status, page) = app
        .get_json(&format!("{PATH}/cron6/schedulers?limit=1"), Role::Moderator)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            page["total"].as_u64(),
            page["schedulers"].as_array().map(Vec::len)
        ),
        (Some(3), Some(1))
    );
    for bad in ["limit=0", "limit=1001", "limit=x", "size=3"] {
        let (status, body) = app
            .get_json(&format!("{PATH}/cron6/schedulers?{bad}"), Role::Moderator)
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("bad_request")),
            "{bad}: {body}"
        );
    }
    let (status, _) = app
        .get_json(&format!("{PATH}/nope/schedulers"), Role::Moderator)
        .await;
    assert_eq!(status, 404);
}
