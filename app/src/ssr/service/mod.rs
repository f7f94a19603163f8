//! Operations the monitor offers, shared by REST handlers and server functions so both answer
//! with the same data. Each takes the [`AppState`] and typed inputs (parsed at the edge, see
//! `crate::model`) and returns wire types or an [`AppError`]; each runs its Redis work under the
//! request deadline (`AppState::within`), which answers 503 at once while Redis is known to be
//! unreachable.
//!
//! - [`reads`] — overview, metrics, per-queue live snapshot, trends, stuck jobs;
//! - [`metrics`] — how `/metrics` is read (counts, rates from the history or the jobs);
//! - [`history`] — the collector's series (`/history`, the dashboard's chart);
//! - [`jobs`] — the job explorer's reads: pages, searches, details, values, logs, flows;
//! - [`bulk`] — failure groups, and bulk operations (dry run, run, progress, cancel);
//! - [`queue_limits`] — a queue's global concurrency and rate limit (set through [`control`]);
//! - [`schedulers`] — a queue's job schedulers and legacy repeatables;
//! - [`workers`] — the workers connected to the queues (`CLIENT LIST`);
//! - [`control`] — pause, resume, clear, retry, and the actions on one job, each run to its
//!   end and audited.

pub mod alerts;
pub mod bulk;
pub mod control;
pub mod history;
pub mod jobs;
pub mod metrics;
pub mod queue_limits;
pub mod reads;
pub mod schedulers;
pub mod workers;

use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueName;
use crate::ssr::error::AppError;
use crate::ssr::state::AppState;

/// Finds a queue by the name a client sent: 400 when the name is not a valid BullMQ queue name,
/// 404 when no such queue exists under the prefix (or the allow-list hides it). Costs no Redis
/// work for a known queue and one small round trip for an unknown name (never a SCAN walk).
pub async fn resolve_queue(state: &AppState, name: &str) -> Result<QueueInfo, AppError> {
    let name = QueueName::parse(name).map_err(AppError::BadRequest)?;
    state
        .within(state.registry.find(&name))
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no queue named `{name}`")))
}
