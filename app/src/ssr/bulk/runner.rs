//! Who runs operations: every instance's runner looks at the operations not yet ended (one
//! `SMEMBERS` per tick when there are none), claims those whose lease is free or its own, and
//! runs them batch by batch, yielding Redis to other clients between batches. An operation's
//! final counts go to the audit trail once, written by the instance whose batch ended it.
//!
//! What the runner sees it also publishes ([`Operations::progress`]): the operations not yet
//! ended with their counts, after every batch it runs and every look at those another instance
//! runs, as the live stream's `operations` event, serialised once for every viewer. It costs
//! Redis nothing while no operation runs, and one `HGETALL` per batch or look while one does.

use super::store::{Batch, NewOp, OpKeys, Store};
use crate::model::failures::{BulkAction, Operation, OperationState};
use crate::ssr::audit;
use crate::ssr::auth::Principal;
use crate::ssr::bullmq::discovery::{QueueInfo, QueueRegistry};
use crate::ssr::bullmq::keys::QueueName;
use crate::ssr::config::Settings;
use crate::ssr::error::AppError;
use bytes::Bytes;
use fred::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// This instance's handle on operations: the store, its lease token, and the lease length.
#[derive(Clone)]
pub struct Operations {
    pub store: Store,
    pub token: Arc<str>,
    pub lease: Duration,
    /// A pause between two batches of one operation (`BULK_PAUSE`; zero yields only).
    pub pause: Duration,
    pub batch: usize,
    monitor_prefix: String,
    /// The operations not yet ended, as `{"operations": [...]}` (see the module docs).
    progress: Arc<watch::Sender<Bytes>>,
}

impl Operations {
    pub fn new(pool: Pool, settings: &Settings) -> Self {
        Operations {
            store: Store {
                pool,
                prefix: settings.prefix.clone(),
                keys: OpKeys::new(&settings.monitor_prefix, &settings.prefix),
            },
            token: Arc::from(super::store::new_id()),
            lease: settings.bulk_lease,
            pause: settings.bulk_pause,
            batch: settings.bulk_batch.clamp(1, super::BATCH),
            monitor_prefix: settings.monitor_prefix.clone(),
            progress: Arc::new(watch::Sender::new(progress_json(&[]))),
        }
    }

    /// The operations not yet ended as this instance last saw them, as the JSON of
    /// [`crate::model::failures::Operations`]; it changes only when what it says changes.
    pub fn progress(&self) -> watch::Receiver<Bytes> {
        self.progress.subscribe()
    }

    fn publish(&self, ops: &[Operation]) {
        let json = progress_json(ops);
        self.progress.send_if_modified(|current| {
            let changed = *current != json;
            if changed {
                *current = json;
            }
            changed
        });
    }

    fn lease_ms(&self) -> u64 {
        u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX)
    }

    /// Registers an operation this instance then runs.
    pub async fn start(
        &self,
        queue: &QueueInfo,
        op: &NewOp<'_>,
        ids: &[String],
    ) -> Result<(), AppError> {
        self.store
            .create(queue, op, ids, &self.token, self.lease_ms())
            .await
    }

    /// Runs the runner every `interval` until the task is aborted.
    pub fn spawn(self, registry: QueueRegistry, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticker.tick().await;
                if let Err(error) = self.tick(&registry).await {
                    tracing::warn!(error.message = %error, "bulk operations: a round failed; retrying");
                }
            }
        })
    }

    async fn tick(&self, registry: &QueueRegistry) -> Result<(), AppError> {
        // What this round saw of each operation not yet ended, for `progress`.
        let mut seen: Vec<Operation> = Vec::new();
        for id in self.store.running().await? {
            let queue = match self.store.queue_of(&id).await? {
                Some(name) => match QueueName::parse(&name) {
                    Ok(name) => registry.find(&name).await?,
                    Err(_) => None,
                },
                None => None,
            };
            let Some(queue) = queue else {
                // Its queue is gone (obliterated) or it was never registered.
                let _: () = self.store.pool.srem(&self.store.keys.running, &id).await?;
                continue;
            };
            match self
                .store
                .claim(&queue, &id, &self.token, self.lease_ms())
                .await?
            {
                None => {
                    if let Some(op) = self.store.read(&queue, &id).await? {
                        if op.state != OperationState::Running {
                            self.store.retire(&queue, &id).await?;
                        }
                        seen.push(op);
                    }
                }
                Some(OperationState::Failed) => {
                    let why = "the instance that started it stopped before its jobs were listed; no job was acted on";
                    if self
                        .store
                        .finish(&queue, &id, OperationState::Failed, why, "")
                        .await?
                    {
                        self.ended(&queue, &id).await?;
                    }
                }
                Some(_) => {
                    if let Some(op) = self.run(&queue, &id, &seen).await? {
                        seen.push(op);
                    }
                }
            }
        }
        self.publish(&seen);
        Ok(())
    }

    /// Runs batches while this instance holds the operation, publishing its progress after
    /// each (beside `others`, what this round saw before); answers what it saw last.
    async fn run(
        &self,
        queue: &QueueInfo,
        id: &str,
        others: &[Operation],
    ) -> Result<Option<Operation>, AppError> {
        let changes = match self.store.changes(queue, id).await? {
            Ok(changes) => changes,
            Err(why) => {
                if self
                    .store
                    .finish(queue, id, OperationState::Failed, &why, &self.token)
                    .await?
                {
                    self.ended(queue, id).await?;
                }
                return self.store.read(queue, id).await;
            }
        };
        // A copy costs Redis about twice a retry in place (a new job, and the original
        // removed): half as many per batch keep one call as short.
        let changed_batch = self.batch.div_ceil(2);
        loop {
            let (token, lease) = (&self.token, self.lease_ms());
            let batch = match &changes {
                Some(changes) => {
                    self.store
                        .batch_changed(queue, id, token, lease, changed_batch, changes)
                        .await?
                }
                None => {
                    self.store
                        .batch(queue, id, token, lease, self.batch)
                        .await?
                }
            };
            let last = match batch {
                Batch::Ran { remaining: 0, .. } => {
                    self.ended(queue, id).await?;
                    true
                }
                Batch::Ran { .. } => false,
                Batch::Ended(_) => {
                    self.store.retire(queue, id).await?;
                    true
                }
                Batch::NotOurs => return self.store.read(queue, id).await,
            };
            let op = self.store.read(queue, id).await?;
            let mut now: Vec<Operation> = others.to_vec();
            now.extend(op.clone());
            self.publish(&now);
            if last {
                return Ok(op);
            }
            if self.pause.is_zero() {
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(self.pause).await;
            }
        }
    }

    /// After this instance ended an operation: its audit entry with the final counts, then
    /// off the running set.
    pub async fn ended(&self, queue: &QueueInfo, id: &str) -> Result<(), AppError> {
        if let Some(op) = self.store.read(queue, id).await? {
            let role = self.store.starter_role(queue, id).await?;
            self.audit(&op, &role, "bulk-finished").await;
        }
        self.store.retire(queue, id).await
    }

    /// Writes an operation's audit entry (retried in the background while Redis refuses it).
    pub async fn audit(&self, op: &Operation, role: &str, action: &'static str) {
        let principal = Principal {
            subject: op.by.clone(),
            role: crate::role::Role::parse(role).unwrap_or(crate::role::Role::Admin),
            expires_at: 0,
            token_id: String::new(),
        };
        let entry = audit::Action {
            principal,
            action,
            queue: op.queue_name.clone(),
            job_id: None,
            params: serde_json::json!({
                "operationId": op.id,
                "action": op.action.as_str(),
                "changes": op.changes.as_ref().map(|c| c.summary()),
            }),
            result: serde_json::json!({
                "state": op.state.as_str(),
                "total": op.total,
                "done": op.done,
                "skipped": op.skipped,
                "error": op.error,
            }),
        };
        audit::record(&self.store.pool, &self.monitor_prefix, entry).await;
    }
}

/// The action's word in audit entries.
pub fn audit_name(action: BulkAction) -> &'static str {
    match action {
        BulkAction::Retry => "bulk-retry",
        BulkAction::Remove => "bulk-remove",
        BulkAction::Promote => "bulk-promote",
        BulkAction::RetryWithChanges => "bulk-retry-with-changes",
    }
}

/// The `data:` line of the live stream's `operations` event.
fn progress_json(ops: &[Operation]) -> Bytes {
    let body = serde_json::json!({ "operations": ops });
    Bytes::from(format!("data: {body}\n\n"))
}
