//! Key names of the history. Everything sits under
//! `<MONITOR_PREFIX>:{history:<BULLMQ_PREFIX>}`, so monitors of different BullMQ prefixes can
//! share one monitor namespace without mixing their numbers. The braces are a Redis Cluster hash
//! tag: the collector's scripts touch several of these keys at once, which a cluster allows only
//! within one slot (a `MONITOR_PREFIX` with its own tag, like `{monitor}`, is kept as it is).

use crate::ssr::bullmq::keys::QueueName;

/// A bucket width.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Minute,
    Hour,
    /// Days (UTC), so long trends read 30 buckets per queue, not 720.
    Day,
}

impl Step {
    pub const ALL: [Step; 3] = [Step::Minute, Step::Hour, Step::Day];

    /// The width in milliseconds.
    pub fn millis(self) -> u64 {
        match self {
            Step::Minute => 60_000,
            Step::Hour => 3_600_000,
            Step::Day => 86_400_000,
        }
    }

    /// The wire spelling (`minute`, `hour`).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Minute => "minute",
            Step::Hour => "hour",
            Step::Day => "day",
        }
    }

    /// Parses `minute` or `hour`.
    pub fn parse(text: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|step| step.as_str() == text)
    }

    /// The start of the bucket holding `ms`.
    pub fn bucket_start(self, ms: u64) -> u64 {
        ms - ms % self.millis()
    }

    fn letter(self) -> char {
        match self {
            Step::Minute => 'm',
            Step::Hour => 'h',
            Step::Day => 'd',
        }
    }
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

    /// Who collects (`SET NX PX` with a random token).
    pub fn lease(&self) -> String {
        format!("{}:lease", self.base)
    }

    /// The id of the last event of a queue's stream that the buckets include.
    pub fn cursor(&self, queue: &QueueName) -> String {
        format!("{}:{queue}:cursor", self.base)
    }

    /// One bucket hash.
    pub fn bucket(&self, queue: &QueueName, step: Step, start_ms: u64) -> String {
        format!("{}:{queue}:{}:{start_ms}", self.base, step.letter())
    }

    /// Per queue, the time (ms) of the first event the history counted: it is complete from
    /// then on (gaps aside).
    pub fn since(&self) -> String {
        format!("{}:since", self.base)
    }

    /// The Redis time (ms) at which the collector last began a pass that read every queue's
    /// stream to its end: the history holds every event up to then. Readers check it is recent
    /// before they trust the buckets (a stopped collector leaves them silently behind).
    pub fn through(&self) -> String {
        format!("{}:through", self.base)
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
        assert_eq!(keys.lease(), "mon:{history:bull}:lease");
        assert_eq!(keys.through(), "mon:{history:bull}:through");
        assert_eq!(keys.cursor(&queue), "mon:{history:bull}:mails:cursor");
        assert_eq!(
            keys.bucket(&queue, Step::Hour, 7_200_000),
            "mon:{history:bull}:mails:h:7200000"
        );
        let tagged = HistoryKeys::new("{mon}", "bull");
        assert_eq!(tagged.lease(), "{mon}:history:bull:lease");
        assert_eq!(Step::Minute.bucket_start(125_000), 120_000);
        assert_eq!(Step::Hour.bucket_start(3_599_999), 0);
        assert_eq!(Step::parse("hour"), Some(Step::Hour));
        assert_eq!(Step::parse("day"), Some(Step::Day));
        assert_eq!(Step::parse("week"), None);
    }
}
