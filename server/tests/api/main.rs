//! Integration tests: the real server, the real Redis, real BullMQ. Run with
//! `cargo test -p server` (needs Redis at `REDIS_URL` and `end2end/node_modules`).

mod auth;
mod cli;
mod control;
mod health;
mod helpers;
mod history;
mod live;
mod metrics;
mod queues;
mod session;
