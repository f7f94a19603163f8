//! The queue table: one row per queue with its counts, success rate and paused badge; for roles
//! that may operate, Pause/Resume and Clear (which asks first, stating how many jobs will go).
//! Rows are keyed by queue name and their cells are reactive, so live updates never rebuild a
//! row under the keyboard focus.

use crate::components::format::percent;
use crate::model::{ClearKind, Metrics, QueueMetrics, StateCounts};
use leptos::prelude::*;

/// What a row's buttons ask the monitor to do.
#[derive(Clone, Copy)]
pub struct RowActions {
    /// `(queue, pause)`.
    pub toggle: Callback<(String, bool)>,
    /// Open the Clear confirmation for a queue.
    pub clear: Callback<String>,
    /// Show a queue's detail.
    pub details: Callback<String>,
}

/// Every queue. `can_operate` shows the control column.
#[component]
pub fn QueueTable(
    metrics: Memo<Option<Metrics>>,
    can_operate: Signal<bool>,
    actions: RowActions,
) -> impl IntoView {
    let names = move || {
        metrics.with(|m| {
            m.as_ref()
                .map(|m| {
                    m.queues
                        .iter()
                        .map(|q| q.summary.queue_name.clone())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        })
    };
    let empty = move || metrics.with(|m| m.as_ref().is_some_and(|m| m.queues.is_empty()));
    view! {
        <Show when=empty>
            <p class="empty">"No BullMQ queues found under this prefix."</p>
        </Show>
        <div class="table-scroll" class:hidden=empty>
            <table class="queues">
                <caption class="visually-hidden">"Queues and their jobs per state"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Queue"</th>
                        <th scope="col">"Waiting"</th>
                        <th scope="col">"Active"</th>
                        <th scope="col">"Workers"</th>
                        <th scope="col">"Delayed"</th>
                        <th scope="col">"Completed"</th>
                        <th scope="col">"Failed"</th>
                        <th scope="col">"Success"</th>
                        <th scope="col">"Status"</th>
                        <Show when=move || can_operate.get()>
                            <th scope="col">"Control"</th>
                        </Show>
                    </tr>
                </thead>
                <tbody>
                    <For each=names key=|name| name.clone() let:name>
                        <QueueRow name=name metrics can_operate actions/>
                    </For>
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

#[component]
fn QueueRow(
    name: String,
    metrics: Memo<Option<Metrics>>,
    can_operate: Signal<bool>,
    actions: RowActions,
) -> impl IntoView {
    let key = name.clone();
    let queue = Memo::new(move |_| {
        metrics.with(|m| {
            m.as_ref()
                .and_then(|m| m.queues.iter().find(|q| q.summary.queue_name == key))
                .cloned()
        })
    });
    let cell = move |pick: fn(&QueueMetrics) -> String| {
        move || queue.with(|q| q.as_ref().map(pick).unwrap_or_default())
    };
    let paused = move || queue.with(|q| q.as_ref().is_some_and(|q| q.summary.paused));
    let unattended = move || queue.with(|q| q.as_ref().is_some_and(QueueMetrics::unattended));
    let version = cell(|q| q.summary.bullmq_version.clone().unwrap_or_default());
    let detail_name = name.clone();
    let control_name = name.clone();
    let label = format!("Show details of {name}");
    view! {
        <tr class="queue" data-queue=name.clone()>
            <th scope="row">
                <button type="button" class="link queue-name"
                    aria-label=label
                    on:click=move |_| actions.details.run(detail_name.clone())>
                    {name.clone()}
                </button>
                <small class="version">{version}</small>
            </th>
            <td data-state="waiting">{cell(|q| q.summary.counts.waiting.to_string())}</td>
            <td data-state="active">{cell(|q| q.summary.counts.active.to_string())}</td>
            <td data-state="workers" class:finding=unattended title=move || unattended().then_some(UNATTENDED)>
                {cell(workers_text)}
            </td>
            <td data-state="delayed">{cell(|q| q.summary.counts.delayed.to_string())}</td>
            <td data-state="completed">{cell(|q| q.summary.counts.completed.to_string())}</td>
            <td data-state="failed">{cell(|q| q.summary.counts.failed.to_string())}</td>
            <td data-state="success-rate">{cell(|q| percent(q.success_rate, 1))}</td>
            <td>
                <span class="badge" class:paused=paused class:running=move || !paused()>
                    {move || if paused() { "paused" } else { "running" }}
                </span>
            </td>
            <Show when=move || can_operate.get()>
                <RowControls name=control_name.clone() paused=Signal::derive(paused) actions/>
            </Show>
        </tr>
    }
    .into_any()
}

/// What the workers cell says when jobs wait and no worker is connected.
const UNATTENDED: &str = "No worker is connected: the waiting jobs will not run";

/// The workers cell: the count, `0 ⚠` when jobs wait unattended, `?` when Redis refused
/// `CLIENT LIST`.
pub fn workers_text(queue: &QueueMetrics) -> String {
    match queue.workers {
        None => "?".into(),
        Some(count) if queue.unattended() => format!("{count} ⚠"),
        Some(count) => count.to_string(),
    }
}

/// Pause/Resume and Clear… for one queue.
#[component]
fn RowControls(name: String, paused: Signal<bool>, actions: RowActions) -> impl IntoView {
    let toggle_label = {
        let name = name.clone();
        move || format!("{} {name}", if paused.get() { "Resume" } else { "Pause" })
    };
    let toggle_name = name.clone();
    let clear_name = name.clone();
    view! {
        <td class="controls">
            <button type="button" class="control" aria-label=toggle_label
                on:click=move |_| actions.toggle.run((toggle_name.clone(), !paused.get_untracked()))>
                {move || if paused.get() { "Resume" } else { "Pause" }}
            </button>
            <button type="button" class="control danger" aria-haspopup="dialog"
                aria-label=format!("Clear {name}…")
                on:click=move |_| actions.clear.run(clear_name.clone())>
                "Clear…"
            </button>
        </td>
    }
    .into_any()
}

/// How many jobs a clear of `kind` would remove from a queue with `counts`.
pub fn clear_count(kind: ClearKind, counts: &StateCounts) -> u64 {
    match kind {
        ClearKind::Completed => counts.completed,
        ClearKind::Failed => counts.failed,
        ClearKind::All => counts.completed + counts.failed,
    }
}

/// The confirmation question of a clear of `kind`.
pub fn clear_question(kind: ClearKind, queue: &str, counts: &StateCounts) -> String {
    let n = clear_count(kind, counts);
    let jobs = if n == 1 { "job" } else { "jobs" };
    let what = match kind {
        ClearKind::Completed => format!("{n} completed {jobs}"),
        ClearKind::Failed => format!("{n} failed {jobs}"),
        ClearKind::All => format!("{n} finished {jobs} (completed and failed)"),
    };
    format!("Remove {what} from {queue}? This cannot be undone. Waiting, delayed and active jobs are not touched.")
}

/// The Clear confirmation for `queue`: choose what, read how many, confirm or cancel. Escape
/// cancels; the first choice has the focus when it opens.
#[component]
pub fn ClearDialog(
    queue: String,
    metrics: Memo<Option<Metrics>>,
    on_confirm: Callback<(String, ClearKind)>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let kind = RwSignal::new(ClearKind::Completed);
    let key = queue.clone();
    let counts = Memo::new(move |_| {
        metrics.with(|m| {
            m.as_ref()
                .and_then(|m| m.queues.iter().find(|q| q.summary.queue_name == key))
                .map(|q| q.summary.counts.clone())
                .unwrap_or_default()
        })
    });
    let first = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(input) = first.get() {
            // On the next frame: the dialog arrives in a lazily loaded chunk, inside a
            // `Suspense` that attaches it to the document only after this runs.
            request_animation_frame(move || {
                let _ = input.focus();
            });
        }
    });
    let name = queue.clone();
    let question = move || counts.with(|c| clear_question(kind.get(), &name, c));
    let confirm_name = queue.clone();
    view! {
        <div class="dialog" role="alertdialog" aria-modal="false"
            aria-labelledby="clear-title" aria-describedby="clear-question"
            on:keydown=move |ev| if ev.key() == "Escape" { on_cancel.run(()) }>
            <h3 id="clear-title">{format!("Clear {queue}")}</h3>
            <fieldset>
                <legend>"Remove"</legend>
                {ClearKind::ALL.iter().copied().enumerate().map(|(i, choice)| {
                    let label = move || format!("{} ({})", choice.as_str(), counts.with(|c| clear_count(choice, c)));
                    view! {
                        <label class="choice">
                            <input type="radio" name="clear-kind" value=choice.as_str()
                                node_ref=if i == 0 { first } else { NodeRef::new() }
                                prop:checked=move || kind.get() == choice
                                on:change=move |_| kind.set(choice)/>
                            {label}
                        </label>
                    }
                }).collect_view()}
            </fieldset>
            <p id="clear-question" class="question">{question}</p>
            <div class="actions">
                <button type="button" class="danger"
                    on:click=move |_| on_confirm.run((confirm_name.clone(), kind.get_untracked()))>
                    {move || {
                        let n = counts.with(|c| clear_count(kind.get(), c));
                        format!("Remove {n} {}", if n == 1 { "job" } else { "jobs" })
                    }}
                </button>
                <button type="button" on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{QueueSummary, Source};

    #[test]
    fn the_workers_cell_marks_waiting_jobs_nobody_will_run() {
        let mut queue = QueueMetrics {
            summary: QueueSummary {
                queue_name: "mails".into(),
                counts: StateCounts {
                    waiting: 3,
                    ..Default::default()
                },
                paused: false,
                bullmq_version: None,
            },
            success_rate: None,
            success_rate_sample: 0,
            processing_rate: 0.0,
            source: Source::Jobs,
            workers: Some(0),
        };
        assert_eq!(workers_text(&queue), "0 ⚠");
        queue.summary.paused = true;
        assert_eq!(
            workers_text(&queue),
            "0",
            "a paused queue is meant to hold its jobs"
        );
        queue.summary.paused = false;
        queue.summary.counts.waiting = 0;
        assert_eq!(workers_text(&queue), "0", "nothing waits");
        queue.summary.counts.waiting = 3;
        queue.workers = Some(2);
        assert_eq!(workers_text(&queue), "2");
        queue.workers = None;
        assert_eq!(workers_text(&queue), "?", "Redis refused CLIENT LIST");
    }

    #[test]
    fn the_question_states_how_many_jobs_go() {
        let counts = StateCounts {
            completed: 4,
            failed: 1,
            waiting: 9,
            ..Default::default()
        };
        assert_eq!(clear_count(ClearKind::All, &counts), 5);
        assert!(clear_question(ClearKind::Completed, "mails", &counts)
            .starts_with("Remove 4 completed jobs from mails?"));
        assert!(clear_question(ClearKind::Failed, "mails", &counts)
            .starts_with("Remove 1 failed job from mails?"));
        assert!(clear_question(ClearKind::All, "mails", &counts).contains("5 finished jobs"));
    }
}
