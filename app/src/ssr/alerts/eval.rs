//! Judging the rules against what the live view already read (plain code): the snapshot every
//! viewer gets (counts, paused, success and processing rates) and, only when a rule asks for
//! stuck jobs, the stuck report. A rule costs Redis nothing of its own beyond that.

use super::rules::{Condition, Rule};
use crate::model::alerts::AlertSeverity;
use crate::model::{Metrics, StuckReport};
use std::collections::BTreeMap;

/// What one evaluation looks at.
pub struct Observation<'a> {
    /// `None`: Redis did not answer.
    pub metrics: Option<&'a Metrics>,
    /// Read only when a rule watches stuck jobs.
    pub stuck: Option<&'a StuckReport>,
}

/// A condition that holds now: the rule (its index), the queue (per-queue rules) and the
/// number it looked at.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub rule: usize,
    pub queue: Option<String>,
    pub value: f64,
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
                });
            }
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
                } => queue
                    .success_rate
                    .filter(|_| queue.success_rate_sample >= *min_finished)
                    .map(|rate| round2(100.0 - rate))
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
                Condition::RedisUnreachable => None,
            };
            if let Some(value) = value {
                found.push(Finding {
                    rule: index,
                    queue: Some(name.clone()),
                    value,
                });
            }
        }
    }
    found
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

/// The labels of a finding's alert: the rule's, then `alertname`, `severity`, `prefix` and
/// `queue` (the monitor's win).
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
                stuck: None,
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
        let down = evaluate(
            &rules,
            &Observation {
                metrics: None,
                stuck: None,
            },
        );
        assert_eq!(down.len(), 1);
        assert_eq!(rules[down[0].rule].name, "Down");
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
