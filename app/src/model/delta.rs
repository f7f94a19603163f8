//! `GET /live?delta=true`: between full snapshots, the stream sends only what changed. A delta
//! names the event it applies to (`base`, the previous event's `id`); the server sends one only
//! when this viewer got that event, so applying it to the viewer's last snapshot gives exactly
//! the next snapshot.

use super::{Metrics, QueueMetrics, Source, Totals};
use serde::{Deserialize, Serialize};

/// The change from one [`Metrics`] snapshot to the next (SSE event `delta`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricsDelta {
    /// The `id` of the event this one applies to.
    pub base: u64,
    pub timestamp: String,
    /// Queues that are new or changed, whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueMetrics>,
    /// Names of queues that are gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
    pub totals: Totals,
    pub success_rate: Option<f64>,
    pub success_rate_sample: u64,
    pub processing_rate: f64,
    pub source: Source,
}

impl MetricsDelta {
    /// What turns `old` into `new` (both sorted by queue name, as snapshots are).
    pub fn between(base: u64, old: &Metrics, new: &Metrics) -> MetricsDelta {
        let queues = new
            .queues
            .iter()
            .filter(|queue| {
                old.queues
                    .binary_search_by(|o| o.summary.queue_name.cmp(&queue.summary.queue_name))
                    .map_or(true, |at| old.queues[at] != **queue)
            })
            .cloned()
            .collect();
        let removed = old
            .queues
            .iter()
            .filter(|queue| {
                new.queues
                    .binary_search_by(|n| n.summary.queue_name.cmp(&queue.summary.queue_name))
                    .is_err()
            })
            .map(|queue| queue.summary.queue_name.clone())
            .collect();
        MetricsDelta {
            base,
            timestamp: new.timestamp.clone(),
            queues,
            removed,
            totals: new.totals.clone(),
            success_rate: new.success_rate,
            success_rate_sample: new.success_rate_sample,
            processing_rate: new.processing_rate,
            source: new.source,
        }
    }
}

impl Metrics {
    /// This snapshot with `delta` applied (queues stay sorted by name).
    pub fn with(&self, delta: &MetricsDelta) -> Metrics {
        let mut queues: Vec<QueueMetrics> = self
            .queues
            .iter()
            .filter(|queue| !delta.removed.contains(&queue.summary.queue_name))
            .cloned()
            .collect();
        for changed in &delta.queues {
            match queues.binary_search_by(|q| q.summary.queue_name.cmp(&changed.summary.queue_name))
            {
                Ok(at) => queues[at] = changed.clone(),
                Err(at) => queues.insert(at, changed.clone()),
            }
        }
        Metrics {
            timestamp: delta.timestamp.clone(),
            queues,
            totals: delta.totals.clone(),
            success_rate: delta.success_rate,
            success_rate_sample: delta.success_rate_sample,
            processing_rate: delta.processing_rate,
            source: delta.source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{QueueSummary, StateCounts};

    fn queue(name: &str, waiting: u64) -> QueueMetrics {
        QueueMetrics {
            summary: QueueSummary {
                queue_name: name.into(),
                counts: StateCounts {
                    waiting,
                    ..Default::default()
                },
                paused: false,
                bullmq_version: Some("bullmq:6.7.0".into()),
            },
            success_rate: None,
            success_rate_sample: 0,
            processing_rate: 0.0,
            source: Source::Jobs,
        }
    }

    fn snapshot(at: &str, queues: Vec<QueueMetrics>) -> Metrics {
        let mut totals = Totals::default();
        for q in &queues {
            totals.add(&q.summary.counts);
        }
        Metrics {
            timestamp: at.into(),
            queues,
            totals,
            success_rate: Some(50.0),
            success_rate_sample: 2,
            processing_rate: 1.5,
            source: Source::Jobs,
        }
    }

    #[test]
    fn a_delta_carries_only_what_changed_and_rebuilds_the_next_snapshot() {
        let old = snapshot("t1", vec![queue("a", 1), queue("b", 2), queue("c", 3)]);
        let new = snapshot("t2", vec![queue("a", 1), queue("b", 5), queue("d", 0)]);
        let delta = MetricsDelta::between(7, &old, &new);
        assert_eq!(delta.base, 7);
        let changed: Vec<&str> = delta
            .queues
            .iter()
            .map(|q| q.summary.queue_name.as_str())
            .collect();
        assert_eq!(changed, ["b", "d"]);
        assert_eq!(delta.removed, ["c"]);
        assert_eq!(old.with(&delta), new);
        // Nothing changed: only the header travels.
        let same = MetricsDelta::between(8, &new, &snapshot("t3", new.queues.clone()));
        assert!(same.queues.is_empty() && same.removed.is_empty());
        let text = serde_json::to_string(&same).expect("JSON");
        assert!(
            !text.contains("queues") && !text.contains("removed"),
            "{text}"
        );
        assert!(text.len() < 250, "{text}");
    }
}
