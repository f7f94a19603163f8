//! The header numbers: totals per state, success rate with its sample, processing rate. Each
//! value is its own reactive text, so a live update changes numbers, not the page structure.

use crate::components::format::percent;
use crate::model::{Metrics, Source};
use leptos::prelude::*;

/// What the success rate is based on, and where it comes from.
pub fn rate_note(metrics: &Metrics) -> String {
    let n = metrics.success_rate_sample;
    match metrics.source {
        Source::Collector => format!("of {n} recently finished (monitor history)"),
        Source::Jobs | Source::Mixed => format!("of the last {n} finished BullMQ kept"),
    }
}

/// Where the processing rate comes from.
pub fn processing_note(source: Source) -> &'static str {
    match source {
        Source::Collector => "finished, last 5 min (monitor history)",
        Source::Mixed => "finished, last 5 min (history and kept jobs)",
        Source::Jobs => "finished, last 5 min (jobs BullMQ kept)",
    }
}

/// Totals and rates across all queues.
#[component]
pub fn Summary(metrics: Memo<Option<Metrics>>) -> impl IntoView {
    let read = move |pick: fn(&Metrics) -> String| {
        move || metrics.with(|m| m.as_ref().map(pick).unwrap_or_default())
    };
    let stat = move |label: &'static str, key: &'static str, pick: fn(&Metrics) -> String| {
        view! {
            <div class="stat">
                <dt class="label">{label}</dt>
                <dd class="value" data-total=key>{read(pick)}</dd>
            </div>
        }
    };
    view! {
        <dl class="summary" aria-label="Totals across all queues">
            {stat("Waiting", "waiting", |m| m.totals.waiting.to_string())}
            {stat("Active", "active", |m| m.totals.active.to_string())}
            {stat("Delayed", "delayed", |m| m.totals.delayed.to_string())}
            {stat("Completed", "completed", |m| m.totals.completed.to_string())}
            {stat("Failed", "failed", |m| m.totals.failed.to_string())}
            <div class="stat">
                <dt class="label">"Success rate"</dt>
                <dd class="value" data-total="success-rate">{read(|m| percent(m.success_rate, 2))}</dd>
                <dd class="note" data-source=read(|m| m.source.as_str().to_owned())>{read(rate_note)}</dd>
            </div>
            <div class="stat">
                <dt class="label">"Processing"</dt>
                <dd class="value" data-total="processing-rate">{read(|m| format!("{:.1}/min", m.processing_rate))}</dd>
                <dd class="note">{read(|m| processing_note(m.source).to_owned())}</dd>
            </div>
        </dl>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_say_where_the_rates_come_from() {
        let metrics = Metrics {
            timestamp: String::new(),
            queues: vec![],
            totals: Default::default(),
            success_rate: Some(80.0),
            success_rate_sample: 150,
            processing_rate: 3.0,
            source: Source::Collector,
        };
        assert_eq!(
            rate_note(&metrics),
            "of 150 recently finished (monitor history)"
        );
        let jobs = Metrics {
            source: Source::Jobs,
            ..metrics
        };
        assert_eq!(rate_note(&jobs), "of the last 150 finished BullMQ kept");
        assert_eq!(
            processing_note(Source::Mixed),
            "finished, last 5 min (history and kept jobs)"
        );
    }
}
