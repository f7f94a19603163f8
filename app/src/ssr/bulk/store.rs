//! Where an operation lives and the scripts that move it (see the module docs of `bulk`).

use crate::model::failures::{BulkAction, Operation, OperationState};
use crate::model::RetryChanges;
use crate::ssr::bullmq::commands::PARENT;
use crate::ssr::bullmq::discovery::QueueInfo;
use crate::ssr::bullmq::keys::QueueKeys;
use crate::ssr::bullmq::retry::{prepare, NewJob};
use crate::ssr::error::AppError;
use crate::ssr::redis::run_pipeline;
use fred::prelude::*;
use fred::types::scripts::Script;
use std::collections::HashMap;
use std::sync::LazyLock;

const STATE_LUA: &str = include_str!("../bullmq/jobs/lua/state.lua");
const ACTIONS_LUA: &str = include_str!("../bullmq/jobs/lua/actions.lua");

/// The explorer's one-job scripts as functions of their `KEYS` and `ARGV`, then what an action
/// accepts: the same Lua acts on one job from the explorer and on each job of a batch.
fn with_actions(own: &str) -> Script {
    let wrap = |name: &str, body: &str| format!("local function {name}(KEYS, ARGV)\n{body}\nend");
    Script::from_lua(
        [
            PARENT.to_owned(),
            STATE_LUA.to_owned(),
            ACTIONS_LUA.to_owned(),
            wrap(
                "retry_one",
                include_str!("../bullmq/jobs/lua/retry_job.lua"),
            ),
            wrap(
                "promote_one",
                include_str!("../bullmq/jobs/lua/promote.lua"),
            ),
            wrap("remove_one", include_str!("../bullmq/jobs/lua/remove.lua")),
            wrap("retry_changed", include_str!("../bullmq/lua/retry.lua")),
            include_str!("lua/jobs.lua").to_owned(),
            include_str!("lua/op.lua").to_owned(),
            own.to_owned(),
        ]
        .join("\n"),
    )
}

static CHECK: LazyLock<Script> = LazyLock::new(|| with_actions(include_str!("lua/check.lua")));
static BATCH: LazyLock<Script> = LazyLock::new(|| with_actions(include_str!("lua/batch.lua")));
static CHANGED: LazyLock<Script> = LazyLock::new(|| with_actions(include_str!("lua/changed.lua")));
static CREATE: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/create.lua")));
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::from_lua(include_str!("lua/claim.lua")));
static FINISH: LazyLock<Script> =
    LazyLock::new(|| Script::from_lua(include_str!("lua/finish.lua")));

/// The most bytes of new jobs' data and options one retry-with-changes batch carries to Redis
/// (a batch takes fewer jobs when theirs are large; at least one).
const CHANGED_BATCH_BYTES: usize = 4 << 20;

/// Ids checked per dry-run call (about five commands each: a few milliseconds).
const CHECK_CHUNK: usize = 500;

/// How long an operation may stay `preparing` (its ids being listed) before another instance
/// ends it as failed.
const PREPARING_LEASE_MS: u64 = 60_000;

/// How long finished operations are kept (readable at `GET /operations/{id}`).
const KEEP_FINISHED_SECS: i64 = 7 * 86_400;

/// The keys of operations: per queue beside BullMQ's keys, and the index in the monitor's
/// namespace.
#[derive(Clone, Debug)]
pub struct OpKeys {
    /// Operation id → queue name.
    pub index: String,
    /// The ids of the operations not yet ended.
    pub running: String,
    /// The latest ended ids, newest first.
    pub recent: String,
}

/// An operation's own keys (in its queue's slot).
pub struct OneOp {
    pub hash: String,
    pub todo: String,
    /// The queue's running-operation key.
    pub running: String,
    /// What every operation hash of the queue starts with.
    pub hash_prefix: String,
}

impl OneOp {
    pub fn new(prefix: &str, queue: &QueueInfo, id: &str) -> Self {
        let keys = QueueKeys::new(prefix, &queue.name);
        let hash_prefix = keys.bulk_operation_prefix();
        OneOp {
            hash: format!("{hash_prefix}{id}"),
            todo: format!("{hash_prefix}{id}:todo"),
            running: keys.bulk_running(),
            hash_prefix,
        }
    }
}

impl OpKeys {
    pub fn new(monitor_prefix: &str, bullmq_prefix: &str) -> Self {
        let base =
            crate::ssr::slots::slot_namespace(monitor_prefix, &format!("ops:{bullmq_prefix}"));
        Self {
            index: format!("{base}:index"),
            running: format!("{base}:running"),
            recent: format!("{base}:recent"),
        }
    }
}

/// A new operation's description.
pub struct NewOp<'a> {
    pub id: &'a str,
    pub action: BulkAction,
    /// The state each job must still be in ('' when the action alone decides).
    pub source: &'a str,
    pub by: &'a str,
    pub role: &'a str,
    pub target: &'a str,
    pub total: u64,
    /// A `retry-with-changes` operation's changes (JSON).
    pub changes: Option<&'a str>,
}

/// What a batch did.
pub enum Batch {
    /// `remaining` 0: the operation is done now (this call finished it).
    Ran {
        done: u64,
        skipped: u64,
        remaining: u64,
    },
    /// It is no longer running (cancelled, failed, done elsewhere).
    Ended(OperationState),
    /// Another instance holds it.
    NotOurs,
}

/// The operations of one monitor: index keys and the pool.
#[derive(Clone)]
pub struct Store {
    pub pool: Pool,
    pub prefix: String,
    pub keys: OpKeys,
}

fn number(values: &[Value], i: usize) -> i64 {
    values.get(i).and_then(Value::as_i64).unwrap_or(0)
}

fn text(values: &[Value], i: usize) -> String {
    values.get(i).and_then(Value::as_string).unwrap_or_default()
}

/// A batch script's reply (`lua/op.lua`'s shapes).
fn batch_reply(reply: &[Value]) -> Batch {
    match number(reply, 0) {
        1 => Batch::Ran {
            done: number(reply, 1) as u64,
            skipped: number(reply, 2) as u64,
            remaining: number(reply, 3) as u64,
        },
        0 => Batch::Ended(OperationState::parse(&text(reply, 1)).unwrap_or(OperationState::Failed)),
        _ => Batch::NotOurs,
    }
}

impl Store {
    /// Which of `ids` the action would act on now (`source`: the state they must be in).
    pub async fn acceptable(
        &self,
        queue: &QueueInfo,
        action: BulkAction,
        source: &str,
        ids: &[String],
    ) -> Result<Vec<String>, AppError> {
        let keys = QueueKeys::new(&self.prefix, &queue.name);
        let mut out = Vec::new();
        for chunk in ids.chunks(CHECK_CHUNK) {
            let mut args = vec![
                keys.base().to_owned(),
                action.as_str().to_owned(),
                source.to_owned(),
            ];
            args.extend(chunk.iter().cloned());
            let reply: Vec<String> = CHECK
                .evalsha_with_reload(self.pool.next(), vec![keys.meta()], args)
                .await?;
            out.extend(reply);
        }
        Ok(out)
    }

    /// Registers an operation holding `ids` (its lease taken by `token`): `Err(Conflict)` when
    /// one is running on the queue. The ids are listed in calls of 1,000; the operation runs
    /// once they all are (until then it is `preparing`, and an instance that dies meanwhile
    /// leaves an operation that did nothing, which the next claim ends as failed).
    pub async fn create(
        &self,
        queue: &QueueInfo,
        op: &NewOp<'_>,
        ids: &[String],
        token: &str,
        lease_ms: u64,
    ) -> Result<(), AppError> {
        let keys = OneOp::new(&self.prefix, queue, op.id);
        let created_at = crate::ssr::clock::now_rfc3339();
        // While its ids are listed, the creator holds it for at least a minute (it does not
        // renew the lease meanwhile); the first batch sets the usual lease.
        let mut args = vec![
            op.id.to_owned(),
            token.to_owned(),
            lease_ms.max(PREPARING_LEASE_MS).to_string(),
            keys.hash_prefix.clone(),
        ];
        for (field, value) in [
            ("id", op.id),
            ("queue", queue.name.as_str()),
            ("action", op.action.as_str()),
            ("source", op.source),
            ("by", op.by),
            ("role", op.role),
            ("target", op.target),
            ("total", &op.total.to_string()),
            ("createdAt", &created_at),
        ] {
            args.push(field.to_owned());
            args.push(value.to_owned());
        }
        if let Some(changes) = op.changes {
            args.push("changes".to_owned());
            args.push(changes.to_owned());
        }
        // Indexed first: an operation Redis holds is always one the runners can find.
        let _: () = self
            .pool
            .hset(&self.keys.index, (op.id, queue.name.as_str()))
            .await?;
        let _: () = self.pool.sadd(&self.keys.running, op.id).await?;
        let reply: Vec<Value> = CREATE
            .evalsha_with_reload(
                self.pool.next(),
                vec![keys.running.clone(), keys.hash.clone()],
                args,
            )
            .await?;
        if number(&reply, 0) != 1 {
            let _: () = self.pool.srem(&self.keys.running, op.id).await?;
            let _: () = self.pool.hdel(&self.keys.index, op.id).await?;
            return Err(AppError::Conflict(format!(
                "operation `{}` is running on queue `{}`; wait for it or cancel it (DELETE /operations/{})",
                text(&reply, 1),
                queue.name,
                text(&reply, 1)
            )));
        }
        for chunk in ids.chunks(super::BATCH) {
            let _: () = self.pool.rpush(&keys.todo, chunk.to_vec()).await?;
        }
        let _: () = self.pool.hset(&keys.hash, ("state", "running")).await?;
        Ok(())
    }

    /// Takes or keeps the lease of an operation: `Some(state)` when held now.
    pub async fn claim(
        &self,
        queue: &QueueInfo,
        id: &str,
        token: &str,
        lease_ms: u64,
    ) -> Result<Option<OperationState>, AppError> {
        let keys = OneOp::new(&self.prefix, queue, id);
        let reply: Vec<Value> = CLAIM
            .evalsha_with_reload(
                self.pool.next(),
                vec![keys.hash],
                vec![token.to_owned(), lease_ms.to_string()],
            )
            .await?;
        Ok(
            (number(&reply, 0) == 1).then(|| match text(&reply, 1).as_str() {
                "preparing" => OperationState::Failed,
                _ => OperationState::Running,
            }),
        )
    }

    /// Runs one batch (see `lua/batch.lua`).
    pub async fn batch(
        &self,
        queue: &QueueInfo,
        id: &str,
        token: &str,
        lease_ms: u64,
        size: usize,
    ) -> Result<Batch, AppError> {
        let keys = OneOp::new(&self.prefix, queue, id);
        let queue_keys = QueueKeys::new(&self.prefix, &queue.name);
        let reply: Vec<Value> = BATCH
            .evalsha_with_reload(
                self.pool.next(),
                vec![keys.hash, keys.todo, keys.running],
                vec![
                    token.to_owned(),
                    lease_ms.to_string(),
                    size.to_string(),
                    queue_keys.base().to_owned(),
                    queue.bull_version().script_mode().to_owned(),
                    crate::ssr::clock::now_rfc3339(),
                ],
            )
            .await?;
        Ok(batch_reply(&reply))
    }

    /// What a `retry-with-changes` operation changes: `Ok(None)` for the other actions,
    /// `Err(why)` when its changes cannot be read (it must not run then).
    pub async fn changes(
        &self,
        queue: &QueueInfo,
        id: &str,
    ) -> Result<Result<Option<RetryChanges>, String>, AppError> {
        let keys = OneOp::new(&self.prefix, queue, id);
        let (action, changes): (Option<String>, Option<String>) = self
            .pool
            .hmget(&keys.hash, vec!["action", "changes"])
            .await?;
        if action.as_deref() != Some(BulkAction::RetryWithChanges.as_str()) {
            return Ok(Ok(None));
        }
        Ok(changes
            .and_then(|json| serde_json::from_str::<RetryChanges>(&json).ok())
            .map(Some)
            .ok_or_else(|| "its changes could not be read; no job was acted on by it".to_owned()))
    }

    /// Runs one batch of a `retry-with-changes` operation (see `lua/changed.lua`): reads the
    /// next jobs of its list, prepares each one's copy, and hands them to the script, which
    /// makes the copies of those still finished and unchanged.
    #[allow(clippy::too_many_arguments)]
    pub async fn batch_changed(
        &self,
        queue: &QueueInfo,
        id: &str,
        token: &str,
        lease_ms: u64,
        size: usize,
        changes: &RetryChanges,
    ) -> Result<Batch, AppError> {
        let keys = OneOp::new(&self.prefix, queue, id);
        let queue_keys = QueueKeys::new(&self.prefix, &queue.name);
        let ids: Vec<String> = self
            .pool
            .lrange(&keys.todo, 0, i64::try_from(size).unwrap_or(1000) - 1)
            .await?;
        let mut jobs: Vec<String> = Vec::new();
        if !ids.is_empty() {
            let pipeline = self.pool.next().pipeline();
            for job in &ids {
                let _: () = pipeline
                    .hmget(
                        queue_keys.job(job),
                        vec!["name", "data", "opts", "priority", "finishedOn"],
                    )
                    .await?;
            }
            let replies = run_pipeline(&pipeline, ids.len()).await?;
            let mut bytes = 0;
            for (job, reply) in ids.iter().zip(replies) {
                // A key that is no hash (WRONGTYPE) is no job: nothing to copy.
                let fields: Vec<Option<String>> = match reply {
                    Ok(Value::Array(fields)) => fields.iter().map(Value::as_string).collect(),
                    _ => Vec::new(),
                };
                let field = |i: usize| fields.get(i).cloned().flatten();
                let copy = prepare(
                    &queue.name,
                    job,
                    field(0),
                    field(1).as_deref(),
                    field(2).as_deref(),
                    field(3).as_deref(),
                    changes,
                );
                let (print, copy) = match copy {
                    Ok(copy) if !fields.is_empty() => {
                        let read: Vec<String> =
                            (0..5).map(|i| field(i).unwrap_or_default()).collect();
                        (fred::util::sha1_hash(&read.join("\0")), copy)
                    }
                    // Data that cannot take the overrides (not an object): skipped.
                    _ => (String::new(), NewJob::default()),
                };
                bytes += copy.data.len() + copy.opts.len();
                jobs.extend([
                    job.clone(),
                    print,
                    copy.name,
                    copy.data,
                    copy.opts,
                    copy.priority.to_string(),
                ]);
                if bytes >= CHANGED_BATCH_BYTES {
                    break;
                }
            }
        }
        let mut args = vec![
            token.to_owned(),
            lease_ms.to_string(),
            queue_keys.base().to_owned(),
            queue.bull_version().script_mode().to_owned(),
            crate::ssr::clock::now_rfc3339(),
            if changes.remove_original { "1" } else { "0" }.to_owned(),
        ];
        args.extend(jobs);
        let reply: Vec<Value> = CHANGED
            .evalsha_with_reload(
                self.pool.next(),
                vec![keys.hash, keys.todo, keys.running],
                args,
            )
            .await?;
        Ok(batch_reply(&reply))
    }

    /// Ends an operation as `state` (cancelled or failed): `true` when this call ended it.
    /// With `token`, only while that token holds it.
    pub async fn finish(
        &self,
        queue: &QueueInfo,
        id: &str,
        state: OperationState,
        error: &str,
        token: &str,
    ) -> Result<bool, AppError> {
        let keys = OneOp::new(&self.prefix, queue, id);
        let reply: Vec<Value> = FINISH
            .evalsha_with_reload(
                self.pool.next(),
                vec![keys.hash, keys.todo, keys.running],
                vec![
                    state.as_str().to_owned(),
                    crate::ssr::clock::now_rfc3339(),
                    error.to_owned(),
                    token.to_owned(),
                ],
            )
            .await?;
        Ok(number(&reply, 0) == 1)
    }

    /// After an operation ended: off the running set, onto the recent list, kept a week.
    pub async fn retire(&self, queue: &QueueInfo, id: &str) -> Result<(), AppError> {
        let keys = OneOp::new(&self.prefix, queue, id);
        let _: () = self
            .pool
            .expire(&keys.hash, KEEP_FINISHED_SECS, None)
            .await?;
        let _: () = self.pool.srem(&self.keys.running, id).await?;
        let _: () = self.pool.lpush(&self.keys.recent, id).await?;
        let _: () = self.pool.ltrim(&self.keys.recent, 0, 49).await?;
        Ok(())
    }

    /// The queue an operation id belongs to.
    pub async fn queue_of(&self, id: &str) -> Result<Option<String>, AppError> {
        Ok(self.pool.hget(&self.keys.index, id).await?)
    }

    /// The ids of the operations not yet ended.
    pub async fn running(&self) -> Result<Vec<String>, AppError> {
        Ok(self.pool.smembers(&self.keys.running).await?)
    }

    /// The ids of the latest ended operations, newest first.
    pub async fn recent(&self) -> Result<Vec<String>, AppError> {
        Ok(self.pool.lrange(&self.keys.recent, 0, 49).await?)
    }

    /// An operation as the API shows it; `None` when it is unknown (or expired).
    pub async fn read(&self, queue: &QueueInfo, id: &str) -> Result<Option<Operation>, AppError> {
        let keys = OneOp::new(&self.prefix, queue, id);
        let fields: HashMap<String, String> = self.pool.hgetall(&keys.hash).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let get = |name: &str| fields.get(name).cloned().unwrap_or_default();
        let count = |name: &str| get(name).parse::<u64>().unwrap_or(0);
        let state = match get("state").as_str() {
            "preparing" => OperationState::Running,
            other => OperationState::parse(other).unwrap_or(OperationState::Failed),
        };
        Ok(Some(Operation {
            id: id.to_owned(),
            queue_name: get("queue"),
            action: BulkAction::parse(&get("action")).unwrap_or_default(),
            state,
            total: count("total"),
            done: count("done"),
            skipped: count("skipped"),
            by: get("by"),
            created_at: get("createdAt"),
            finished_at: fields.get("finishedAt").cloned(),
            error: fields.get("error").cloned(),
            changes: fields
                .get("changes")
                .and_then(|json| serde_json::from_str(json).ok()),
        }))
    }

    /// The role the operation's starter had (for its audit entry).
    pub async fn starter_role(&self, queue: &QueueInfo, id: &str) -> Result<String, AppError> {
        let keys = OneOp::new(&self.prefix, queue, id);
        let role: Option<String> = self.pool.hget(&keys.hash, "role").await?;
        Ok(role.unwrap_or_default())
    }
}

/// A fresh operation id (16 hex digits).
pub fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let seed = format!(
        "{}-{}-{}",
        std::process::id(),
        crate::ssr::clock::now_ms(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    fred::util::sha1_hash(&format!("{seed}-{nanos}"))[..16].to_owned()
}
