//! The header numbers: totals per state, success rate with its sample, processing rate. Each
//! value is its own reactive text, so a live update changes numbers, not the page structure.

use crate::components::format::percent;
use crate::model::Metrics;
use leptos::prelude::*;

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
                <dd class="note">{read(|m| format!("of the last {} finished", m.success_rate_sample))}</dd>
            </div>
            <div class="stat">
                <dt class="label">"Processing"</dt>
                <dd class="value" data-total="processing-rate">{read(|m| format!("{:.1}/min", m.processing_rate))}</dd>
                <dd class="note">"finished, last 5 min"</dd>
            </div>
        </dl>
    }
    .into_any()
}
