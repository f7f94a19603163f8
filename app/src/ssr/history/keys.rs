//! Key names of the history. Everything sits under
//! `<MONITOR_PREFIX>:{history:<BULLMQ_PREFIX>}`, so monitors of different BullMQ prefixes can
//! share one monitor namespace without mixing their numbers. The braces are a Redis Cluster hash
//! tag: the collector's scripts touch several of these keys at once, which a cluster allows only
//! within one slot (a `MONITOR_PREFIX` with its own tag, like `{monitor}`, is kept as it is).

use crate::ssr::bullmq::keys::QueueName;

pub use crate::model::Step;

/// The letter of a step in bucket keys.
fn letter(step: Step) -> char {
    match step {
        Step::Minute => 'm',
        Step::Hour => 'h',
        Step::Day => 'd',
    }
}

/// How many recent outcomes a ring keeps: the seed's success-rate sample.
pub const RECENT: usize = crate::model::SUCCESS_RATE_SAMPLE as usize;

/// A collector scope's name in keys: empty for every queue, else a digest of the allow-list
/// (order does not matter).
fn scope(allow_list: Option<&[String]>) -> String {
    match allow_list {
        None => String::new(),
        Some(names) => {
            let mut names = names.to_vec();
            names.sort();
            fred::util::sha1_hash(&names.join("\n"))[..12].to_owned()
        }
    }
}

/// The fields of [`HistoryKeys::recent_counts`] holding the completed and failed jobs of a
/// scope's [`HistoryKeys::recent_all`]. Queue names hold no `:`, so these (with two) never meet a
/// queue's field.
pub fn recent_all_field(allow_list: Option<&[String]>) -> String {
    format!("all:{}:", scope(allow_list))
}

/// The history's keys for one monitor namespace and one BullMQ prefix.
#[derive(Clone, Debug)]
pub struct HistoryKeys {
    base: String,
}

impl HistoryKeys {
    pub fn new(monitor_prefix: &str, bullmq_prefix: &str) -> Self {
        Self {
            base: crate::ssr::slots::slot_namespace(
                monitor_prefix,
                &format!("history:{bullmq_prefix}"),
            ),
        }
    }

    /// Who collects (`SET NX PX` with a random token), per collector scope: one lease for
    /// collectors of every queue, and one per queue allow-list (`BULLMQ_QUEUES`), so
    /// deployments that watch different queues of one Redis each collect theirs. (Where their
    /// queues overlap, both may try a batch; the cursor check in `apply.lua` applies it once.)
    pub fn lease(&self, allow_list: Option<&[String]>) -> String {
        match scope(allow_list) {
            scope if scope.is_empty() => format!("{}:lease", self.base),
            scope => format!("{}:lease:{scope}", self.base),
        }
    }

    /// A queue's ring of recent outcomes: one letter per finished job (`c` completed, `f`
    /// failed) in the order the events stream gives them, oldest first, at most
    /// [`RECENT`] letters. (How many of each it holds is in [`Self::recent_counts`].)
    pub fn recent(&self, queue: &QueueName) -> String {
        format!("{}:{queue}:recent", self.base)
    }

    /// Counts of the recent outcomes: fields `<queue>:c` and `<queue>:f` for each queue's ring,
    /// and [`recent_all_field`] for the rings of all the queues a collector scope collects. One
    /// `HMGET` reads every queue's success sample. Beside them, `<queue>:tc` and `<queue>:tf`:
    /// every completed and failed job the collector ever read (the Prometheus counters).
    pub fn recent_counts(&self) -> String {
        format!("{}:recent-counts", self.base)
    }

    /// The [`RECENT`] most recently finished jobs over all queues of a collector scope, as a
    /// sorted set scored by finish time (members `<entry id>|<queue>|<c or f>`).
    pub fn recent_all(&self, allow_list: Option<&[String]>) -> String {
        match scope(allow_list) {
            scope if scope.is_empty() => format!("{}:recent-all", self.base),
            scope => format!("{}:recent-all:{scope}", self.base),
        }
    }

    /// The id of the last event of a queue's stream that the buckets include.
    pub fn cursor(&self, queue: &QueueName) -> String {
        format!("{}:{queue}:cursor", self.base)
    }

    /// One bucket hash.
    pub fn bucket(&self, queue: &QueueName, step: Step, start_ms: u64) -> String {
        format!("{}:{queue}:{}:{start_ms}", self.base, letter(step))
    }

    /// Per queue, the time (ms) of the first event the history counted: it is complete from
    /// then on (gaps aside).
    pub fn since(&self) -> String {
        format!("{}:since", self.base)
    }

    /// Per queue, the Redis time (ms) at which a collector last began a pass that read that
    /// queue's stream to its end: its history holds every event up to then. Readers check it
    /// is recent before they trust the queue's buckets (a stopped collector, or one that does
    /// not collect that queue, leaves them silently behind).
    pub fn caught_up(&self) -> String {
        format!("{}:caught-up", self.base)
    }

    /// Per queue, the cursor of the last batch applied (as the `cursor` key holds it): it
    /// changes exactly when the queue's buckets do, so a reader may keep what it derived from
    /// them until it moves (one `HMGET` for all queues tells).
    pub fn applied(&self) -> String {
        format!("{}:applied", self.base)
    }

    /// Where the failure groups live (`crate::ssr::failures::FailureKeys`): in the history's
    /// slot, since the collector changes them in the same script as the buckets.
    pub fn failures(&self) -> String {
        format!("{}:fg", self.base)
    }

    /// Per queue, how many gaps (events trimmed before they were read) were detected.
    pub fn gaps(&self) -> String {
        format!("{}:gaps", self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_buckets() {
        let keys = HistoryKeys::new("mon", "bull");
        let queue = QueueName::parse("mails").expect("valid");
        assert_eq!(keys.lease(None), "mon:{history:bull}:lease");
        let some = keys.lease(Some(&["b".to_owned(), "a".to_owned()]));
        assert_eq!(some, keys.lease(Some(&["a".to_owned(), "b".to_owned()])));
        assert!(some.starts_with("mon:{history:bull}:lease:"), "{some}");
        assert_ne!(some, keys.lease(Some(&["a".to_owned()])));
        assert_eq!(keys.caught_up(), "mon:{history:bull}:caught-up");
        assert_eq!(keys.cursor(&queue), "mon:{history:bull}:mails:cursor");
        assert_eq!(
            keys.bucket(&queue, Step::Hour, 7_200_000),
            "mon:{history:bull}:mails:h:7200000"
        );
        let tagged = HistoryKeys::new("{mon}", "bull");
        assert_eq!(tagged.lease(None), "{mon}:history:bull:lease");
    }
}
