//! The monitor's own history of finished jobs: what BullMQ forgets (`removeOnComplete`), kept as
//! per-queue minute and hour buckets under the monitor's namespace.
//!
//! - [`keys`] — where the buckets, cursors and the lease live.
//! - [`aggregate`] — events in, bucket statistics out (plain code, tested on the host).
//! - [`collector`] — the background task: one collector at a time (a Redis lease), following
//!   each queue's event stream from its stored cursor; every batch's bucket updates and its new
//!   cursor are written by one script that first checks the lease and the cursor, so an event is
//!   counted once across restarts and instances.
//! - [`read`] — series for charts (`GET /history`).

pub mod aggregate;
pub mod collector;
pub mod keys;
pub mod read;
