//! Queue names and Redis key construction. Every Redis key string of a BullMQ queue is built here
//! and nowhere else, so a queue name can never smuggle a key pattern into a command.

use std::fmt;

/// Longest queue name we accept; BullMQ has no limit, but nothing legitimate comes close.
pub const MAX_QUEUE_NAME_BYTES: usize = 512;

/// A BullMQ queue name, checked: non-empty, no `:` (BullMQ forbids it: the name is one segment of
/// `prefix:name:suffix`), no control characters, at most [`MAX_QUEUE_NAME_BYTES`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct QueueName(String);

impl QueueName {
    /// Parses a name, saying what is wrong with it when it is not a valid BullMQ queue name.
    pub fn parse(name: &str) -> Result<Self, String> {
        if name.is_empty() {
            return Err("queue name is empty".into());
        }
        if name.len() > MAX_QUEUE_NAME_BYTES {
            return Err(format!(
                "queue name is longer than {MAX_QUEUE_NAME_BYTES} bytes"
            ));
        }
        if name.contains(':') {
            return Err("queue name cannot contain `:`".into());
        }
        if name.chars().any(char::is_control) {
            return Err("queue name cannot contain control characters".into());
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as BullMQ knows it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The keys of one queue: `{prefix}:{queue}:{suffix}`.
#[derive(Clone, Debug)]
pub struct QueueKeys {
    base: String,
}

impl QueueKeys {
    /// Keys of `queue` under `prefix`.
    pub fn new(prefix: &str, queue: &QueueName) -> Self {
        Self {
            base: format!("{prefix}:{}:", queue.as_str()),
        }
    }

    fn key(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base)
    }

    /// List of ready jobs (priority 0).
    pub fn wait(&self) -> String {
        self.key("wait")
    }
    /// v5 only: the ready list while the queue is paused.
    pub fn paused(&self) -> String {
        self.key("paused")
    }
    /// List of jobs being processed.
    pub fn active(&self) -> String {
        self.key("active")
    }
    /// Sorted set of ready jobs with a priority.
    pub fn prioritized(&self) -> String {
        self.key("prioritized")
    }
    /// Sorted set of jobs scheduled for later.
    pub fn delayed(&self) -> String {
        self.key("delayed")
    }
    /// Sorted set of completed jobs, scored by `finishedOn`.
    pub fn completed(&self) -> String {
        self.key("completed")
    }
    /// Sorted set of failed jobs, scored by `finishedOn`.
    pub fn failed(&self) -> String {
        self.key("failed")
    }
    /// Sorted set of parents waiting for children.
    pub fn waiting_children(&self) -> String {
        self.key("waiting-children")
    }
    /// Queue metadata hash (`paused`, `version`, `opts.maxLenEvents`, …).
    pub fn meta(&self) -> String {
        self.key("meta")
    }
    /// Wake-up marker for workers.
    pub fn marker(&self) -> String {
        self.key("marker")
    }
    /// The queue's event stream.
    pub fn events(&self) -> String {
        self.key("events")
    }
    /// Job schedulers and legacy repeatable jobs: member = scheduler id (or legacy repeat key),
    /// score = its next run in ms.
    pub fn repeat(&self) -> String {
        self.key("repeat")
    }
    /// A scheduler's (or a newer legacy repeatable's) hash. `id` comes from the `repeat` set.
    pub fn repeat_entry(&self, id: &str) -> String {
        format!("{}repeat:{id}", self.base)
    }
    /// The job-id counter.
    pub fn id(&self) -> String {
        self.key("id")
    }
    /// The priority counter.
    pub fn priority_counter(&self) -> String {
        self.key("pc")
    }
    /// The prefix of every key of this queue (`prefix:queue:`), for scripts that build job keys.
    pub fn base(&self) -> &str {
        &self.base
    }
    /// A job's hash. `job_id` comes from BullMQ's own lists and sets (it may contain `:`, as
    /// scheduler job ids do); it is never taken from user input without validation.
    pub fn job(&self, job_id: &str) -> String {
        self.key(job_id)
    }
    /// What the hash of every bulk operation on this queue starts with (`…:monitor:op:<id>`,
    /// its ids to do at `…:<id>:todo`): in the queue's slot, since a batch changes both at once.
    /// BullMQ's own keys are `<name>` and `<job id>[:…]`, and no job key ends in `:op:<id>`.
    pub fn bulk_operation_prefix(&self) -> String {
        format!("{}monitor:op:", self.base)
    }
    /// The id of the bulk operation running on this queue (one at a time).
    pub fn bulk_running(&self) -> String {
        format!("{}monitor:op-running", self.base)
    }
    /// A job's lock, held by the worker processing it.
    pub fn lock(&self, job_id: &str) -> String {
        format!("{}{job_id}:lock", self.base)
    }
    /// The monitor's record of one retry request (`<new job id> <fate of the original>`), kept
    /// a few minutes so the same request repeated creates no second job. It lives among the
    /// queue's keys (BullMQ's hash tag, so the retry script may touch it on a cluster) under a
    /// name no BullMQ key has; it expires by itself and goes with the queue on obliterate.
    pub fn retry_record(&self, fingerprint: &str) -> String {
        format!("{}monitor:retried:{fingerprint}", self.base)
    }
}

/// Escapes Redis glob characters (`*?[]\`) so a prefix matches itself literally in `SCAN MATCH`.
pub fn escape_glob(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The `SCAN MATCH` pattern that finds every queue's `meta` hash under `prefix`.
pub fn meta_pattern(prefix: &str) -> String {
    format!("{}:*:meta", escape_glob(prefix))
}

/// Extracts the queue name from a `{prefix}:{name}:meta` key, or `None` when the key is not a
/// queue's meta hash (another prefix, or a name with `:` such as a job id ending in `:meta`).
pub fn queue_from_meta_key(prefix: &str, key: &str) -> Option<QueueName> {
    let name = key
        .strip_prefix(prefix)?
        .strip_prefix(':')?
        .strip_suffix(":meta")?;
    QueueName::parse(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_names_reject_colons_and_empties() {
        assert!(QueueName::parse("emails").is_ok());
        assert!(QueueName::parse("{cluster}-emails ü").is_ok());
        assert!(QueueName::parse("").is_err());
        assert!(QueueName::parse("a:b").is_err());
        assert!(QueueName::parse("a\nb").is_err());
        assert!(QueueName::parse(&"x".repeat(MAX_QUEUE_NAME_BYTES + 1)).is_err());
    }

    #[test]
    fn keys_follow_bullmq_layout() {
        let keys = QueueKeys::new("bull", &QueueName::parse("emails").expect("valid"));
        assert_eq!(keys.wait(), "bull:emails:wait");
        assert_eq!(keys.waiting_children(), "bull:emails:waiting-children");
        assert_eq!(keys.meta(), "bull:emails:meta");
    }

    #[test]
    fn meta_pattern_escapes_glob_characters_in_the_prefix() {
        assert_eq!(meta_pattern("bull"), "bull:*:meta");
        assert_eq!(meta_pattern("{b*}[x]"), "{b\\*}\\[x\\]:*:meta");
    }

    #[test]
    fn only_direct_meta_keys_name_queues() {
        let name = |key| queue_from_meta_key("bull", key).map(|q| q.as_str().to_owned());
        assert_eq!(name("bull:emails:meta"), Some("emails".into()));
        assert_eq!(name("bull:emails:job:meta"), None);
        assert_eq!(name("bull2:emails:meta"), None);
        assert_eq!(name("bull::meta"), None);
        assert_eq!(name("other:emails:meta"), None);
    }
}
