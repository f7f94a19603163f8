//! Integration tests: the real server, the real Redis, real BullMQ. Run with
//! `cargo test -p server` (needs Redis at `REDIS_URL` and `end2end/node_modules`).

mod alerts;
mod assets;
mod auth;
mod bulk;
mod cli;
mod cluster;
mod control;
mod explorer;
mod faults;
mod flows;
mod health;
mod helpers;
mod history;
mod hostile;
mod instances;
mod limits;
mod live;
mod metrics;
mod openapi;
#[path = "../support/own_cluster.rs"]
mod own_cluster;
#[path = "../support/own_redis.rs"]
mod own_redis;
mod prometheus;
mod queue_limits;
mod queues;
mod router;
mod schedulers;
mod security;
mod session;
mod snapshot;
