//! Judging the rules against what the live view already read (plain code): the snapshot every
//! viewer gets (counts, paused, success and processing rates) and, only when a rule asks for
//! stuck jobs, the stuck report. A rule costs Redis nothing of its own beyond that.

use super::rules::{Condition, Rule};
use crate::model::alerts::AlertSeverity;
use crate::model::{Metrics, StuckReport};
use std::collections::{BTreeMap, HashMap};

/// What one evaluation looks at. Besides the snapshot, each read is made only when a rule
/// needs it.
#[derive(Default)]
pub struct Observation<'a> {
    /// `None`: Redis did not answer.
    pub metrics: Option<&'a Metrics>,
    pub stuck: Option<&'a StuckReport>,
    /// Queue → when its oldest job in `wait` was added (epoch ms).
    pub oldest_waiting: Option<&'a HashMap<String, u64>>,
    /// Queue → when the collector last caught up with its events (epoch ms; `None`: never).
    pub caught_up: Option<&'a HashMap<String, Option<u64>>>,
    pub groups: Option<&'a [GroupSeen]>,
    pub windows: Option<&'a WindowCounts>,
    /// Epoch ms.
    pub now: u64,
}

/// Window (ms) → queue → (completed, failed) in it, from the collector's history.
pub type WindowCounts = HashMap<u64, HashMap<String, (u64, u64)>>;

/// A failure group as the group conditions see it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSeen {
    pub id: String,
    /// Its queues, most failures first.
    pub queues: Vec<String>,
    /// Epoch ms.
    pub first_seen: Option<u64>,
    /// Failures a minute, over the last minute or more between evaluations.
    pub per_minute: Option<f64>,
}

/// A condition that holds now: the rule (its index), the queue (per-queue rules), the number
/// it looked at, and labels of its own (`failure_group`).
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub rule: usize,
    pub queue: Option<String>,
    pub value: f64,
    pub extra: BTreeMap<String, String>,
}

/// Every condition that holds now.
pub fn evaluate(rules: &[Rule], seen: &Observation<'_>) -> Vec<Finding> {
    let mut found = Vec::new();
    for (index, rule) in rules.iter().enumerate() {
        if rule.condition == Condition::RedisUnreachable {
            if seen.metrics.is_none() {
                found.push(Finding {
                    rule: index,
                    queue: None,
                    value: 1.0,
                    extra: BTreeMap::new(),
                });
            }
            continue;
        }
        if let Condition::NewFailureGroup { .. } | Condition::FailureGroupGrowth { .. } =
            rule.condition
        {
            found.extend(group_findings(index, rule, seen));
            continue;
        }
        // Without a snapshot nothing per queue can be judged: those alerts keep their state.
        let Some(metrics) = seen.metrics else {
            continue;
        };
        for queue in &metrics.queues {
            let name = &queue.summary.queue_name;
            if !rule.scope.covers(name) {
                continue;
            }
            let counts = &queue.summary.counts;
            let value = match &rule.condition {
                Condition::Backlog { above } => {
                    let backlog = counts.waiting + counts.delayed;
                    (backlog > *above).then_some(backlog as f64)
                }
                Condition::Paused => queue.summary.paused.then_some(1.0),
                Condition::Stalled => {
                    (counts.waiting > 0 && !queue.summary.paused && queue.processing_rate == 0.0)
                        .then_some(counts.waiting as f64)
                }
                Condition::FailureRate {
                    above,
                    min_finished,
                    window: None,
                } => queue
                    .success_rate
                    .filter(|_| queue.success_rate_sample >= *min_finished)
                    .map(|rate| round2(100.0 - rate))
                    .filter(|failed| failed > above),
                Condition::FailureRate {
                    above,
                    min_finished,
                    window: Some(window),
                } => seen
                    .windows
                    .and_then(|w| w.get(&(window.as_millis() as u64)))
                    .and_then(|queues| queues.get(name))
                    .filter(|(completed, failed)| completed + failed >= *min_finished)
                    .map(|(completed, failed)| {
                        round2(*failed as f64 * 100.0 / (completed + failed) as f64)
                    })
                    .filter(|failed| failed > above),
                Condition::Stuck { at_least, severity } => {
                    let stuck = seen
                        .stuck
                        .map(|report| {
                            report
                                .jobs
                                .iter()
                                .filter(|job| &job.queue_name == name)
                                .filter(|job| severity.is_none_or(|least| job.severity >= least))
                                .count() as u64
                        })
                        .unwrap_or(0);
                    (stuck >= *at_least).then_some(stuck as f64)
                }
                Condition::OldestWaiting { older_than } => seen
                    .oldest_waiting
                    .and_then(|oldest| oldest.get(name))
                    .map(|added| seen.now.saturating_sub(*added))
                    .filter(|waited| u128::from(*waited) > older_than.as_millis())
                    .map(|waited| (waited / 1000) as f64),
                Condition::CollectorBehind { by } => seen
                    .caught_up
                    .and_then(|caught| caught.get(name))
                    .and_then(|at| {
                        let behind = at.map_or(u64::MAX, |at| seen.now.saturating_sub(at));
                        (u128::from(behind) > by.as_millis())
                            .then(|| at.map_or(-1.0, |_| (behind / 1000) as f64))
                    }),
                Condition::RedisUnreachable
                | Condition::NewFailureGroup { .. }
                | Condition::FailureGroupGrowth { .. } => None,
            };
            if let Some(value) = value {
                found.push(Finding {
                    rule: index,
                    queue: Some(name.clone()),
                    value,
                    extra: BTreeMap::new(),
                });
            }
        }
    }
    found
}

/// The failure-group findings of one rule: one per group it covers.
fn group_findings(index: usize, rule: &Rule, seen: &Observation<'_>) -> Vec<Finding> {
    let Some(groups) = seen.groups else {
        return Vec::new();
    };
    groups
        .iter()
        .filter_map(|group| {
            let queue = group.queues.iter().find(|q| rule.scope.covers(q))?;
            let value = match &rule.condition {
                Condition::NewFailureGroup { within } => group
                    .first_seen
                    .filter(|first| {
                        u128::from(seen.now.saturating_sub(*first)) < within.as_millis()
                    })
                    .map(|first| (seen.now.saturating_sub(first) / 1000) as f64)?,
                Condition::FailureGroupGrowth { per_minute } => {
                    group.per_minute.filter(|rate| rate > per_minute)?
                }
                _ => return None,
            };
            Some(Finding {
                rule: index,
                queue: Some(queue.clone()),
                value,
                extra: [("failure_group".to_owned(), group.id.clone())].into(),
            })
        })
        .collect()
}

/// Which extra reads the rules need: (stuck report, oldest waiting, caught-up marks, groups).
pub fn needs(rules: &[Rule]) -> (bool, bool, bool, bool) {
    let any = |f: fn(&Condition) -> bool| rules.iter().any(|r| f(&r.condition));
    (
        any(|c| matches!(c, Condition::Stuck { .. })),
        any(|c| matches!(c, Condition::OldestWaiting { .. })),
        any(|c| matches!(c, Condition::CollectorBehind { .. })),
        any(|c| {
            matches!(
                c,
                Condition::NewFailureGroup { .. } | Condition::FailureGroupGrowth { .. }
            )
        }),
    )
}

/// The failure-rate windows the rules ask for (ms).
pub fn windows(rules: &[Rule]) -> Vec<u64> {
    let mut out: Vec<u64> = rules
        .iter()
        .filter_map(|rule| match rule.condition {
            Condition::FailureRate {
                window: Some(window),
                ..
            } => Some(window.as_millis() as u64),
            _ => None,
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Whether any rule needs the stuck report.
pub fn needs_stuck(rules: &[Rule]) -> bool {
    rules
        .iter()
        .any(|rule| matches!(rule.condition, Condition::Stuck { .. }))
}

fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// The labels of a finding's alert: the rule's, then `alertname`, `severity`, `prefix`,
/// `queue` and the finding's own (the monitor's win).
pub fn labels(rule: &Rule, queue: Option<&str>, prefix: &str) -> BTreeMap<String, String> {
    let mut labels = rule.labels.clone();
    labels.insert("alertname".into(), rule.name.clone());
    labels.insert("severity".into(), rule.severity.as_str().into());
    labels.insert("prefix".into(), prefix.into());
    if let Some(queue) = queue {
        labels.insert("queue".into(), queue.into());
    }
    labels
}

/// An alert's identity: a hash of its labels (16 hex digits), as Alertmanager fingerprints.
pub fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut text = String::new();
    for (key, value) in labels {
        text.push_str(key);
        text.push('\u{1}');
        text.push_str(value);
        text.push('\u{2}');
    }
    let hash = fred::util::sha1_hash(&text);
    hash[..16].to_owned()
}

/// The rule's annotations with `{queue}` and `{value}` filled in.
pub fn annotations(rule: &Rule, queue: Option<&str>, value: f64) -> BTreeMap<String, String> {
    let value = if value.fract() == 0.0 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    };
    let mut out = BTreeMap::new();
    for (key, text) in &rule.annotations {
        out.insert(
            key.clone(),
            text.replace("{queue}", queue.unwrap_or("-"))
                .replace("{value}", &value),
        );
    }
    if !out.contains_key("summary") {
        let summary = match queue {
            Some(queue) => format!(
                "{}: {} in {queue} ({value})",
                rule.name,
                rule.condition_text()
            ),
            None => format!("{}: {}", rule.name, rule.condition_text()),
        };
        out.insert("summary".into(), summary);
    }
    out
}

/// Most severe first.
pub fn severity_rank(severity: &str) -> u8 {
    match AlertSeverity::parse(severity) {
        Some(AlertSeverity::Critical) => 0,
        Some(AlertSeverity::Warning) => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{QueueMetrics, QueueSummary, Source, StateCounts};
    use crate::ssr::alerts::rules::{RuleSet, SecretSource};

    fn rules(text: &str) -> Vec<Rule> {
        let channels = "[[channels]]\nname = \"c\"\ntype = \"alertmanager\"\nurl = \"http://am\"\n";
        RuleSet::parse(&format!("{channels}{text}"), &|_: &SecretSource| {
            Ok(String::new())
        })
        .expect("rules")
        .rules
    }

    fn queue(name: &str, waiting: u64, delayed: u64, paused: bool, rate: f64) -> QueueMetrics {
        QueueMetrics {
            summary: QueueSummary {
                queue_name: name.into(),
                counts: StateCounts {
                    waiting,
                    delayed,
                    ..Default::default()
                },
                paused,
                bullmq_version: None,
            },
            success_rate: Some(90.0),
            success_rate_sample: 50,
            processing_rate: rate,
            source: Source::Jobs,
            workers: None,
        }
    }

    fn metrics(queues: Vec<QueueMetrics>) -> Metrics {
        Metrics {
            timestamp: String::new(),
            queues,
            totals: Default::default(),
            success_rate: None,
            success_rate_sample: 0,
            processing_rate: 0.0,
            source: Source::Jobs,
        }
    }

    #[test]
    fn each_condition_holds_exactly_when_it_should() {
        let rules = rules(
            r#"
[[rules]]
name = "Backlog"
condition = { kind = "backlog", above = 10 }
channels = ["c"]
[[rules]]
name = "Paused"
condition = { kind = "paused" }
queues = ["b"]
channels = ["c"]
[[rules]]
name = "Stalled"
condition = { kind = "stalled" }
channels = ["c"]
[[rules]]
name = "Failing"
condition = { kind = "failure_rate", above = 5, min_finished = 50 }
channels = ["c"]
[[rules]]
name = "Down"
condition = { kind = "redis_unreachable" }
channels = ["c"]
"#,
        );
        let world = metrics(vec![
            queue("a", 8, 3, false, 0.0),
            queue("b", 0, 0, true, 0.0),
            queue("c", 4, 0, false, 2.5),
        ]);
        let found = evaluate(
            &rules,
            &Observation {
                metrics: Some(&world),
                ..Default::default()
            },
        );
        let named: Vec<(&str, Option<&str>, f64)> = found
            .iter()
            .map(|f| (rules[f.rule].name.as_str(), f.queue.as_deref(), f.value))
            .collect();
        assert_eq!(
            named,
            [
                ("Backlog", Some("a"), 11.0),
                ("Paused", Some("b"), 1.0),
                ("Stalled", Some("a"), 8.0),
                ("Failing", Some("a"), 10.0),
                ("Failing", Some("b"), 10.0),
                ("Failing", Some("c"), 10.0),
            ]
        );
        let down = evaluate(&rules, &Observation::default());
        assert_eq!(down.len(), 1);
        assert_eq!(rules[down[0].rule].name, "Down");
    }

    #[test]
    fn waiting_age_the_collector_and_failure_groups() {
        let rules = rules(
            r#"
[[rules]]
name = "Old"
condition = { kind = "oldest_waiting", older_than = "1m" }
channels = ["c"]
[[rules]]
name = "Behind"
condition = { kind = "collector_behind", by = "30s" }
channels = ["c"]
[[rules]]
name = "New"
condition = { kind = "new_failure_group", within = "10m" }
queues = ["b"]
channels = ["c"]
[[rules]]
name = "Growing"
condition = { kind = "failure_group_growth", per_minute = 5 }
channels = ["c"]
"#,
        );
        let now = 10_000_000;
        let world = metrics(vec![
            queue("a", 1, 0, false, 1.0),
            queue("b", 0, 0, false, 1.0),
        ]);
        let oldest: HashMap<String, u64> = [("a".to_owned(), now - 90_000)].into();
        let caught: HashMap<String, Option<u64>> =
            [("a".to_owned(), Some(now - 1_000)), ("b".to_owned(), None)].into();
        let groups = [
            GroupSeen {
                id: "g1".into(),
                queues: vec!["a".into(), "b".into()],
                first_seen: Some(now - 60_000),
                per_minute: Some(6.0),
            },
            GroupSeen {
                id: "g2".into(),
                queues: vec!["a".into()],
                first_seen: Some(now - 3_600_000),
                per_minute: Some(2.0),
            },
        ];
        let found = evaluate(
            &rules,
            &Observation {
                metrics: Some(&world),
                oldest_waiting: Some(&oldest),
                caught_up: Some(&caught),
                groups: Some(&groups),
                now,
                ..Default::default()
            },
        );
        let named: Vec<(&str, Option<&str>, f64, Option<&str>)> = found
            .iter()
            .map(|f| {
                (
                    rules[f.rule].name.as_str(),
                    f.queue.as_deref(),
                    f.value,
                    f.extra.get("failure_group").map(String::as_str),
                )
            })
            .collect();
        assert_eq!(
            named,
            [
                ("Old", Some("a"), 90.0, None),
                ("Behind", Some("b"), -1.0, None),
                ("New", Some("b"), 60.0, Some("g1")),
                ("Growing", Some("a"), 6.0, Some("g1")),
            ]
        );
    }

    #[test]
    fn labels_fingerprints_and_annotations() {
        let rules = rules(
            "[[rules]]\nname = \"Backlog\"\ncondition = { kind = \"backlog\", above = 1 }\nlabels = { team = \"mail\" }\nsummary = \"{queue} holds {value}\"\nchannels = [\"c\"]\n",
        );
        let a = labels(&rules[0], Some("mail"), "bull");
        assert_eq!(a["alertname"], "Backlog");
        assert_eq!(a["team"], "mail");
        assert_eq!(a["severity"], "warning");
        let b = labels(&rules[0], Some("video"), "bull");
        assert_eq!(fingerprint(&a), fingerprint(&a.clone()));
        assert_ne!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a).len(), 16);
        assert_eq!(
            annotations(&rules[0], Some("mail"), 12.0)["summary"],
            "mail holds 12"
        );
    }
}
