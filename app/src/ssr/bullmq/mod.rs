//! The Redis/BullMQ service layer: how BullMQ lays out a queue in Redis and how the monitor reads
//! it. Both REST handlers and server functions call these functions, so every client sees the
//! same numbers.
//!
//! - [`keys`] — queue names and the only place that builds Redis key strings.
//! - [`discovery`] — which queues exist under the prefix, cached and refreshed.
//! - [`counts`] — jobs per state for all queues in one pipelined round trip.
//! - [`finished`] — success rates, processing rate and trends from the finished sets' scores.
//! - [`active`] — active jobs and which of them are stuck.
//! - [`commands`] — pause, resume and clear: atomic Lua scripts, bounded batches.
//! - [`retry`] — retry with changes: validated request, a new job added the BullMQ way.
//! - [`jobs`] — the job explorer: pages, details, logs, flows, searches, one-job actions.
//! - [`limits`] — global concurrency and rate limit (`meta` fields), read and set.
//! - [`schedulers`] — job schedulers and legacy repeatables, read without side effects.
//! - [`workers`] — the workers connected to each queue (`CLIENT LIST`, as `getWorkers()`).
//!
//! The layout (v5 and v6) is summarised in `shared/docs/bullmq-redis-model.md` and checked by the
//! integration tests against real BullMQ.

pub mod active;
pub mod commands;
pub mod counts;
pub mod discovery;
pub mod finished;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod retry;
pub mod schedulers;
pub mod snapshot;
pub mod workers;
