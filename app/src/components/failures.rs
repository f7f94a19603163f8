//! The Failures panel: failed jobs grouped by cause (count in the last 24 h, a sparkline of
//! its hours, the normalised message with a real example, the queues), and for operators
//! "Retry N" / "Remove N" per queue: a dry run first, its number in the confirmation, then the
//! operation's progress with Cancel. Loaded in a wasm chunk of its own when opened.

use crate::api::{cancel_operation, get_failures, get_operations, start_bulk};
use crate::live::{ended_since, merged_operations, LiveOperations};
use crate::model::failures::{BulkAnswer, BulkTarget, FailureGroup, SPARK_HOURS};
use crate::model::{BulkAction, BulkRequest, FailuresQuery, Operation, OperationState};
use leptos::prelude::*;

/// The live updates between two re-reads of the groups (every 10 s at the default 2 s).
const REREAD_EVERY_UPDATES: u64 = 5;

/// The points of a sparkline of `hours` in a `width`×`height` box (highest hour at the top).
pub fn spark_points(hours: &[u64], width: f64, height: f64) -> String {
    let max = hours.iter().copied().max().unwrap_or(0).max(1) as f64;
    let step = if hours.len() > 1 {
        width / (hours.len() - 1) as f64
    } else {
        0.0
    };
    hours
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                height - (*n as f64 / max) * (height - 1.0)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The confirmation's question for a dry run's count.
pub fn confirm_text(action: BulkAction, count: u64, queue: &str) -> String {
    let jobs = if count == 1 { "job" } else { "jobs" };
    let verb = match action {
        BulkAction::Retry => "Retry",
        BulkAction::Remove => "Remove",
        BulkAction::Promote => "Promote",
        BulkAction::RetryWithChanges => "Retry with changes",
    };
    format!("{verb} {count} failed {jobs} of this cause in {queue}?")
}

/// An operation's progress as a sentence.
pub fn progress_text(op: &Operation) -> String {
    let state = match op.state {
        OperationState::Running => "running",
        OperationState::Done => "done",
        OperationState::Cancelled => "cancelled",
        OperationState::Failed => "failed",
    };
    let mut text = format!(
        "{} in {}: {} of {} {} ({state})",
        op.action.as_str(),
        op.queue_name,
        op.done,
        op.total,
        op.action.done()
    );
    if op.skipped > 0 {
        text.push_str(&format!(", {} skipped", op.skipped));
    }
    text
}

/// What an operator is about to confirm.
#[derive(Clone, Debug, PartialEq)]
struct Pending {
    action: BulkAction,
    queue: String,
    group: String,
    count: u64,
}

/// The panel.
#[component]
pub fn Failures(can_operate: Signal<bool>, updates: Signal<u64>) -> impl IntoView {
    let load = Action::new(|_: &()| get_failures(FailuresQuery::default()));
    let load_ops = Action::new(|_: &()| get_operations());
    load.dispatch(());
    if can_operate.get_untracked() {
        load_ops.dispatch(());
    }
    // Progress comes on the live stream while it is live; `GET /operations` gives the list
    // (with the recently ended) and the final counts of those the stream says ended.
    let live_ops = use_context::<LiveOperations>();
    let live_list = move || live_ops.and_then(LiveOperations::get);
    let read_list = move || {
        load_ops.value().with(|ops| {
            ops.as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|ops| ops.operations.clone())
                .unwrap_or_default()
        })
    };
    let shown = Memo::new(move |_| merged_operations(&read_list(), live_list().as_deref()));
    let running = Memo::new(move |_| {
        shown.with(|ops| ops.iter().any(|op| op.state == OperationState::Running))
    });
    Effect::new(move |previous: Option<u64>| {
        let now = updates.get();
        if previous.is_some_and(|p| p != now) {
            if now.is_multiple_of(REREAD_EVERY_UPDATES) || running.get_untracked() {
                load.dispatch(());
            }
            let told = live_ops.is_some_and(LiveOperations::told);
            if can_operate.get_untracked() && running.get_untracked() && !told {
                load_ops.dispatch(());
            }
        }
        now
    });
    Effect::new(move |_| {
        let Some(live) = live_list() else {
            return;
        };
        if can_operate.get_untracked() && ended_since(&untrack(read_list), &live) {
            load_ops.dispatch(());
            load.dispatch(());
        }
    });
    let pending = RwSignal::new(None::<Pending>);
    let message = RwSignal::new(None::<Result<String, crate::error::ApiError>>);
    let preview = Action::new(
        move |(action, queue, group): &(BulkAction, String, String)| {
            let (action, queue, group) = (*action, queue.clone(), group.clone());
            async move {
                let request = BulkRequest {
                    action,
                    target: BulkTarget::FailureGroup {
                        failure_group: group.clone(),
                    },
                    dry_run: Some(true),
                    expect: None,
                    changes: None,
                };
                match start_bulk(queue.clone(), request).await {
                    Ok(BulkAnswer::Preview(preview)) => {
                        pending.set(Some(Pending {
                            action,
                            queue,
                            group,
                            count: preview.count,
                        }));
                    }
                    Ok(BulkAnswer::Started(_)) => {}
                    Err(error) => message.set(Some(Err(error))),
                }
            }
        },
    );
    let run = Action::new(move |pending: &Pending| {
        let pending = pending.clone();
        async move {
            let request = BulkRequest {
                action: pending.action,
                target: BulkTarget::FailureGroup {
                    failure_group: pending.group.clone(),
                },
                dry_run: Some(false),
                expect: Some(pending.count),
                changes: None,
            };
            let result = start_bulk(pending.queue.clone(), request).await;
            message.set(Some(result.map(|answer| match answer {
                BulkAnswer::Started(started) => format!(
                    "Started: {} of {} jobs in {}",
                    pending.action.as_str(),
                    started.total,
                    pending.queue
                ),
                BulkAnswer::Preview(_) => String::new(),
            })));
            load_ops.dispatch(());
        }
    });
    let cancel = Action::new(move |id: &String| {
        let id = id.clone();
        async move {
            let result = cancel_operation(id).await;
            message.set(Some(result.map(|op| progress_text(&op))));
            load_ops.dispatch(());
        }
    });
    let groups = move || {
        load.value().with(|reply| match reply {
            Some(Ok(reply)) => reply.groups.clone(),
            _ => Vec::new(),
        })
    };
    let error = move || {
        load.value().with(|reply| match reply {
            Some(Err(error)) => Some(error.clone()),
            _ => None,
        })
    };
    let collecting = move || {
        load.value()
            .with(|reply| !matches!(reply, Some(Ok(reply)) if !reply.collecting))
    };
    let on_ask = Callback::new(move |ask: (BulkAction, String, String)| {
        message.set(None);
        preview.dispatch(ask);
    });
    view! {
        <section class="failures" aria-labelledby="failures-title">
            <h2 id="failures-title">"Failures by cause " <span class="count">{move || groups().len()}</span></h2>
            {move || error().map(|error| view! { <crate::components::notice::ErrorNotice error/> })}
            <Show when=move || !collecting()>
                <p class="note">"No history collector is running: the groups do not move."</p>
            </Show>
            <Show when=move || load.value().with(|r| matches!(r, Some(Ok(reply)) if reply.groups.is_empty()))>
                <p class="empty">"No failed job in the last 24 hours."</p>
            </Show>
            {move || message.get().map(|result| match result {
                Ok(text) => view! { <p class="outcome" role="status">{text}</p> }.into_any(),
                Err(error) => view! { <crate::components::notice::ErrorNotice error/> }.into_any(),
            })}
            {move || pending.get().map(|ask| {
                let text = confirm_text(ask.action, ask.count, &ask.queue);
                let label = format!("{} {}", match ask.action { BulkAction::Remove => "Remove", _ => "Retry" }, ask.count);
                let zero = ask.count == 0;
                let confirm = ask.clone();
                view! {
                    <div class="confirm" role="alertdialog" aria-label="Confirm the bulk action">
                        <p>{text}</p>
                        <button class="danger" disabled=zero on:click=move |_| {
                            pending.set(None);
                            run.dispatch(confirm.clone());
                        }>{label}</button>
                        <button on:click=move |_| pending.set(None)>"Cancel"</button>
                    </div>
                }
            })}
            <ul class="operations">
                <For
                    each=move || shown.with(|ops| ops.iter().take(5).cloned().collect::<Vec<_>>())
                    key=|op| (op.id.clone(), op.done, op.skipped, op.state)
                    let:op
                >
                    <OperationRow op on_cancel=Callback::new(move |id: String| { cancel.dispatch(id); })/>
                </For>
            </ul>
            <ul class="groups">
                <For each=groups key=|g| (g.id.clone(), g.count, g.retained) let:group>
                    <GroupRow group can_operate on_ask/>
                </For>
            </ul>
        </section>
    }
    .into_any()
}

#[component]
fn OperationRow(op: Operation, on_cancel: Callback<String>) -> impl IntoView {
    let finished = op.done + op.skipped;
    let running = op.state == OperationState::Running;
    let id = op.id.clone();
    view! {
        <li class="operation" data-state=op.state.as_str()>
            <span>{progress_text(&op)}</span>
            <progress max=op.total.max(1) value=finished></progress>
            {running.then(|| view! {
                <button on:click=move |_| on_cancel.run(id.clone())>"Cancel"</button>
            })}
        </li>
    }
}

#[component]
fn GroupRow(
    group: FailureGroup,
    can_operate: Signal<bool>,
    on_ask: Callback<(BulkAction, String, String)>,
) -> impl IntoView {
    let points = spark_points(&group.hourly, 96.0, 20.0);
    let title = format!("failures per hour over the last {SPARK_HOURS} hours");
    let queues = group
        .queues
        .iter()
        .map(|q| format!("{} ({})", q.queue_name, q.count))
        .collect::<Vec<_>>()
        .join(", ");
    let actions: Vec<(String, u64)> = group
        .queues
        .iter()
        .filter(|q| q.retained > 0)
        .map(|q| (q.queue_name.clone(), q.retained))
        .collect();
    let id = group.id.clone();
    view! {
        <li class="group" data-group=group.id.clone()>
            <svg class="spark" width="96" height="20" viewBox="0 0 96 20" role="img" aria-label=title>
                <polyline points=points fill="none" stroke="currentColor"/>
            </svg>
            <span class="count" title="failures in the last 24 hours">{group.count}</span>
            <span class="retained" title="failed jobs BullMQ still keeps">{format!("{} kept", group.retained)}</span>
            <div class="cause">
                <code class="message">{group.message.clone()}</code>
                <span class="name">{group.name.clone()}</span>
                <details>
                    <summary>"Example"</summary>
                    <pre>{group.example.clone()}</pre>
                    <p class="frame">{group.frame.clone()}</p>
                </details>
                <span class="queues">{queues}</span>
            </div>
            <Show when=move || can_operate.get()>
                <div class="group-actions">
                    {actions.iter().map(|(queue, retained)| {
                        let (retry_ask, remove_ask) = ((BulkAction::Retry, queue.clone(), id.clone()), (BulkAction::Remove, queue.clone(), id.clone()));
                        view! {
                            <button on:click=move |_| on_ask.run(retry_ask.clone())>{format!("Retry {retained} in {queue}")}</button>
                            <button class="danger" on:click=move |_| on_ask.run(remove_ask.clone())>{format!("Remove {retained} in {queue}")}</button>
                        }
                    }).collect_view()}
                </div>
            </Show>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines_scale_to_the_busiest_hour() {
        assert_eq!(
            spark_points(&[0, 5, 10], 96.0, 20.0),
            "0.0,20.0 48.0,10.5 96.0,1.0"
        );
        assert_eq!(spark_points(&[0, 0], 10.0, 20.0), "0.0,20.0 10.0,20.0");
    }

    #[test]
    fn confirmations_and_progress_read_as_sentences() {
        assert_eq!(
            confirm_text(BulkAction::Retry, 800, "mail"),
            "Retry 800 failed jobs of this cause in mail?"
        );
        let op = Operation {
            id: "0123456789abcdef".into(),
            queue_name: "mail".into(),
            action: BulkAction::Remove,
            state: OperationState::Running,
            total: 300,
            done: 120,
            skipped: 3,
            by: "ann".into(),
            created_at: String::new(),
            finished_at: None,
            error: None,
            changes: None,
        };
        assert_eq!(
            progress_text(&op),
            "remove in mail: 120 of 300 removed (running), 3 skipped"
        );
    }
}
