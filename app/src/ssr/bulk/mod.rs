//! Bulk operations: one action (retry, remove, promote) on many jobs of one queue, run as an
//! **operation** whose whole state lives in Redis, so any instance can continue it.
//!
//! - [`target`] — the jobs a target holds now (ids, a state and a search, a failure group),
//!   checked by the same Lua test the batches use: a dry run's count is what a run would do.
//! - [`store`] — the operation's keys and scripts: created (one per queue at a time), its ids
//!   listed, then taken off the list **1,000 at most per atomic script** (`lua/batch.lua`):
//!   a batch acts on its jobs and counts them in one step, so an instance killed at any point
//!   leaves each job acted on exactly once or not yet. A lease (`owner`, `until` in the
//!   operation's hash, renewed by every batch) says who runs it; another instance takes over
//!   when it expires.
//! - [`runner`] — the background task of every instance that claims and runs operations.
//!
//! The operation's keys sit beside the queue's own (`<prefix>:<queue>:monitor:op:<id>`), in
//! the queue's hash slot, since a batch changes both in one script; BullMQ never uses these
//! names (a job's keys are `<id>`, `<id>:logs`, `<id>:lock`, …). An index in the monitor's
//! namespace lists the operations by id.

pub mod runner;
pub mod store;
pub mod target;

/// The most jobs one batch (one script call) may act on (`BULK_BATCH`).
pub const BATCH: usize = 1000;

/// Jobs per batch by default: a retry costs Redis about a dozen commands per job (BullMQ's
/// own semantics: parent, priority, LIFO, an event each), so 200 keep one script call to a few
/// milliseconds (`cargo run -p server --release --example bench_bulk` prints the slowest call).
pub const DEFAULT_BATCH: usize = 200;
