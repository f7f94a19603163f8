//! `GET /live?delta=true`: between full snapshots, the stream sends only what changed. A delta
//! names the event it applies to (`base`, the previous event's `id`); the server sends one only
//! when this viewer got that event, so applying it to the viewer's last snapshot gives exactly
//! the next snapshot. A queue that changed travels as a [`QueuePatch`] (its name and the fields
//! that changed: typically one count, a few dozen bytes), a new one whole.

use super::{Metrics, QueueMetrics, Source, Totals};
use serde::{Deserialize, Serialize};

/// What changed in one queue: its name and the fields whose value changed (absent: unchanged).
/// Changes a patch cannot say (a version, a success rate becoming `null`) make the queue travel
/// whole instead.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct QueuePatch {
    pub queue_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delayed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prioritized: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_children: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_rate_sample: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u64>,
}

/// The counts' fields, as written in [`QueuePatch`] and `StateCounts` alike.
macro_rules! count_fields {
    ($apply:ident) => {
        $apply!(
            waiting,
            active,
            completed,
            failed,
            delayed,
            prioritized,
            waiting_children
        )
    };
}

impl QueuePatch {
    /// The patch from `old` to `new` (the same queue), `None` when the change needs the whole
    /// queue.
    fn between(old: &QueueMetrics, new: &QueueMetrics) -> Option<QueuePatch> {
        if old.summary.bullmq_version != new.summary.bullmq_version
            || (new.success_rate.is_none() && old.success_rate.is_some())
            || (new.workers.is_none() && old.workers.is_some())
        {
            return None;
        }
        let mut patch = QueuePatch {
            queue_name: new.summary.queue_name.clone(),
            ..QueuePatch::default()
        };
        let (o, n) = (&old.summary.counts, &new.summary.counts);
        macro_rules! diff {
            ($($field:ident),*) => { $( if o.$field != n.$field { patch.$field = Some(n.$field); } )* };
        }
        count_fields!(diff);
        patch.paused = (old.summary.paused != new.summary.paused).then_some(new.summary.paused);
        patch.success_rate = new
            .success_rate
            .filter(|_| old.success_rate != new.success_rate);
        patch.success_rate_sample =
            (old.success_rate_sample != new.success_rate_sample).then_some(new.success_rate_sample);
        patch.processing_rate =
            (old.processing_rate != new.processing_rate).then_some(new.processing_rate);
        patch.source = (old.source != new.source).then_some(new.source);
        patch.workers = new.workers.filter(|_| old.workers != new.workers);
        Some(patch)
    }

    /// `queue` with this patch applied.
    fn apply_to(&self, queue: &mut QueueMetrics) {
        let counts = &mut queue.summary.counts;
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(value) = self.$field { counts.$field = value; } )* };
        }
        count_fields!(set);
        if let Some(paused) = self.paused {
            queue.summary.paused = paused;
        }
        if let Some(rate) = self.success_rate {
            queue.success_rate = Some(rate);
        }
        if let Some(sample) = self.success_rate_sample {
            queue.success_rate_sample = sample;
        }
        if let Some(rate) = self.processing_rate {
            queue.processing_rate = rate;
        }
        if let Some(source) = self.source {
            queue.source = source;
        }
        if let Some(workers) = self.workers {
            queue.workers = Some(workers);
        }
    }
}

/// The change from one [`Metrics`] snapshot to the next (SSE event `delta`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct MetricsDelta {
    /// The `id` of the event this one applies to.
    pub base: u64,
    pub timestamp: String,
    /// Queues that are new (or changed in a way a patch cannot say), whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queues: Vec<QueueMetrics>,
    /// Queues that changed: only the fields that did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<QueuePatch>,
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
        let mut queues = Vec::new();
        let mut changed = Vec::new();
        for queue in &new.queues {
            let before = old
                .queues
                .binary_search_by(|o| o.summary.queue_name.cmp(&queue.summary.queue_name))
                .ok()
                .map(|at| &old.queues[at]);
            match before {
                Some(before) if before == queue => {}
                Some(before) => match QueuePatch::between(before, queue) {
                    Some(patch) => changed.push(patch),
                    None => queues.push(queue.clone()),
                },
                None => queues.push(queue.clone()),
            }
        }
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
            changed,
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
        for patch in &delta.changed {
            if let Ok(at) =
                queues.binary_search_by(|q| q.summary.queue_name.as_str().cmp(&patch.queue_name))
            {
                patch.apply_to(&mut queues[at]);
            }
        }
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
            workers: None,
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
        let whole: Vec<&str> = delta
            .queues
            .iter()
            .map(|q| q.summary.queue_name.as_str())
            .collect();
        assert_eq!(whole, ["d"], "a new queue travels whole");
        assert_eq!(
            delta.changed,
            [QueuePatch {
                queue_name: "b".into(),
                waiting: Some(5),
                ..QueuePatch::default()
            }],
            "a changed one as the fields that changed"
        );
        assert_eq!(
            serde_json::to_string(&delta.changed).expect("JSON"),
            r#"[{"queueName":"b","waiting":5}]"#
        );
        assert_eq!(delta.removed, ["c"]);
        assert_eq!(old.with(&delta), new);
        // Nothing changed: only the header travels.
        let same = MetricsDelta::between(8, &new, &snapshot("t3", new.queues.clone()));
        assert!(same.queues.is_empty() && same.changed.is_empty() && same.removed.is_empty());
        let text = serde_json::to_string(&same).expect("JSON");
        assert!(
            !text.contains("queues") && !text.contains("removed"),
            "{text}"
        );
        assert!(text.len() < 250, "{text}");
    }
}

#[cfg(test)]
mod patch_tests {
    use super::*;
    use crate::model::{QueueSummary, StateCounts};

    fn queue() -> QueueMetrics {
        QueueMetrics {
            summary: QueueSummary {
                queue_name: "q".into(),
                counts: StateCounts {
                    waiting: 3,
                    failed: 1,
                    ..Default::default()
                },
                paused: false,
                bullmq_version: Some("bullmq:6.7.0".into()),
            },
            success_rate: Some(50.0),
            success_rate_sample: 2,
            processing_rate: 1.0,
            source: Source::Jobs,
            workers: Some(2),
        }
    }

    fn snapshot(queue: QueueMetrics) -> Metrics {
        Metrics {
            timestamp: "t".into(),
            totals: queue.summary.counts.clone(),
            queues: vec![queue],
            success_rate: Some(50.0),
            success_rate_sample: 2,
            processing_rate: 1.0,
            source: Source::Jobs,
        }
    }

    /// Every field a queue has changes through a delta, each on its own and all at once.
    #[test]
    fn every_field_of_a_queue_survives_a_delta() {
        let edits: Vec<fn(&mut QueueMetrics)> = vec![
            |q| q.summary.counts.waiting = 9,
            |q| q.summary.counts.active = 9,
            |q| q.summary.counts.completed = 9,
            |q| q.summary.counts.failed = 9,
            |q| q.summary.counts.delayed = 9,
            |q| q.summary.counts.prioritized = 9,
            |q| q.summary.counts.waiting_children = 9,
            |q| q.summary.paused = true,
            |q| q.summary.bullmq_version = Some("bullmq:5.1.0".into()),
            |q| q.summary.bullmq_version = None,
            |q| q.success_rate = Some(75.0),
            |q| q.success_rate = None,
            |q| q.success_rate_sample = 9,
            |q| q.processing_rate = 2.5,
            |q| q.source = Source::Collector,
            |q| q.workers = Some(0),
            |q| q.workers = None,
        ];
        let old = snapshot(queue());
        let mut all = queue();
        for edit in &edits {
            let mut changed = queue();
            edit(&mut changed);
            edit(&mut all);
            let new = snapshot(changed);
            assert_eq!(old.with(&MetricsDelta::between(1, &old, &new)), new);
        }
        let new = snapshot(all);
        assert_eq!(old.with(&MetricsDelta::between(1, &old, &new)), new);
        // A rate appearing again travels as a patch.
        let mut unrated = queue();
        unrated.success_rate = None;
        let unrated = snapshot(unrated);
        let delta = MetricsDelta::between(2, &unrated, &old);
        assert_eq!(delta.changed.len(), 1, "{delta:?}");
        assert_eq!(unrated.with(&delta), old);
    }
}
