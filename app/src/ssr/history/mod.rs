//! The monitor's own history of finished jobs: what BullMQ forgets (`removeOnComplete`), kept as
//! per-queue minute, hour and day buckets under the monitor's namespace.
//!
//! - [`keys`] — where the buckets, cursors, marks and the lease live.
//! - [`aggregate`] — events in, bucket statistics out (plain code, tested on the host).
//! - [`collector`] — the background task: one collector at a time (a Redis lease), following
//!   each queue's event stream from its stored cursor; every batch's bucket updates and its new
//!   cursor are written by one script that first checks the lease and the cursor, so an event is
//!   counted once across restarts and instances.
//! - [`gap`] — filling a detected gap from the finished jobs BullMQ still retains.
//! - [`read`] — coverage (is the history complete for a period, and recent?), series for charts
//!   (`GET /history`) and trends.
//! - [`rates`] — processing and success rates from the latest buckets, for `/metrics`.

pub mod aggregate;
pub mod collector;
pub mod gap;
pub mod keys;
pub mod rates;
pub mod read;
