//! The explorer's bulk actions: the jobs ticked in the list, or "all matching" (the open tab, or
//! the open search within it), retried, promoted or removed as one operation: a dry run first,
//! its number in the confirmation, then the operation's progress.

use crate::api::{get_operations, start_bulk};
use crate::components::failures::progress_text;
use crate::components::notice::ErrorNotice;
use crate::components::retry_form::RetryForm;
use crate::error::ApiError;
use crate::live::LiveOperations;
use crate::model::failures::{BulkAnswer, BulkTarget};
use crate::model::{BulkAction, BulkRequest, JobState, Operation, OperationState, RetryChanges};
use leptos::prelude::*;

/// The actions a state's jobs take.
pub fn actions_for(state: JobState) -> Vec<BulkAction> {
    let mut actions = Vec::new();
    if matches!(state, JobState::Failed | JobState::Completed) {
        actions.push(BulkAction::Retry);
    }
    if state == JobState::Delayed {
        actions.push(BulkAction::Promote);
    }
    actions.push(BulkAction::Remove);
    actions
}

/// A button's word for an action.
pub fn verb(action: BulkAction) -> &'static str {
    match action {
        BulkAction::Retry => "Retry",
        BulkAction::Remove => "Remove",
        BulkAction::Promote => "Promote",
        BulkAction::RetryWithChanges => "Retry with changes",
    }
}

/// The confirmation's question.
pub fn question(action: BulkAction, count: u64, all: bool) -> String {
    let jobs = if count == 1 { "job" } else { "jobs" };
    let which = if all { "matching " } else { "selected " };
    match action {
        BulkAction::RetryWithChanges => format!("Retry {count} {which}{jobs} with changes?"),
        _ => format!("{} {count} {which}{jobs}?", verb(action)),
    }
}

/// The confirming button's words.
pub fn confirm_label(action: BulkAction, count: u64) -> String {
    match action {
        BulkAction::RetryWithChanges => format!("Retry {count} with changes"),
        _ => format!("{} {count}", verb(action)),
    }
}

/// What a dry run found, waiting for the operator's yes.
#[derive(Clone, Debug, PartialEq)]
struct Asked {
    action: BulkAction,
    changes: Option<RetryChanges>,
    target: BulkTarget,
    count: u64,
    all: bool,
}

/// The bar above the list: how many are ticked, "select all matching", the actions.
#[component]
pub fn BulkBar(
    queue: String,
    /// The open tab's state and search.
    list: Memo<(JobState, Option<String>)>,
    /// The ticked job ids.
    picked: RwSignal<Vec<String>>,
    /// "All matching" instead of the ticked ones.
    all: RwSignal<bool>,
    /// How many jobs the open tab holds (for the "select all" label; none for a search).
    total: Signal<Option<u64>>,
    /// Counts up with the queue's live snapshots (progress re-reads).
    updates: Signal<u64>,
    /// After an operation ended: the list reads again.
    on_done: Callback<()>,
) -> impl IntoView {
    let asked = RwSignal::new(None::<Asked>);
    // The retry form is open (for a retry-with-changes of the selection).
    let changing = RwSignal::new(false);
    let form_queue = queue.clone();
    let outcome = RwSignal::new(None::<Result<String, ApiError>>);
    let watching = RwSignal::new(None::<String>);
    let target = move || {
        if all.get_untracked() {
            let (state, search) = list.get_untracked();
            BulkTarget::State {
                state: state.as_str().to_owned(),
                search,
            }
        } else {
            BulkTarget::Ids {
                ids: picked.get_untracked(),
            }
        }
    };
    let dry_run = {
        let queue = queue.clone();
        Action::new(
            move |(action, changes): &(BulkAction, Option<RetryChanges>)| {
                let (queue, action, changes, target, all) = (
                    queue.clone(),
                    *action,
                    changes.clone(),
                    target(),
                    all.get_untracked(),
                );
                async move {
                    let request = BulkRequest {
                        action,
                        target: target.clone(),
                        dry_run: Some(true),
                        expect: None,
                        changes: changes.clone(),
                    };
                    match start_bulk(queue, request).await {
                        Ok(BulkAnswer::Preview(preview)) => asked.set(Some(Asked {
                            action,
                            changes,
                            target,
                            count: preview.count,
                            all,
                        })),
                        Ok(BulkAnswer::Started(_)) => {}
                        Err(error) => outcome.set(Some(Err(error))),
                    }
                }
            },
        )
    };
    let run = {
        let queue = queue.clone();
        Action::new(move |asked: &Asked| {
            let (queue, asked) = (queue.clone(), asked.clone());
            async move {
                let request = BulkRequest {
                    action: asked.action,
                    target: asked.target,
                    dry_run: Some(false),
                    expect: Some(asked.count),
                    changes: asked.changes,
                };
                match start_bulk(queue, request).await {
                    Ok(BulkAnswer::Started(started)) => {
                        outcome.set(Some(Ok(format!(
                            "{}: {} jobs, started",
                            verb(asked.action),
                            started.total
                        ))));
                        watching.set(Some(started.operation_id));
                        picked.set(Vec::new());
                        all.set(false);
                    }
                    Ok(BulkAnswer::Preview(_)) => {}
                    Err(error) => outcome.set(Some(Err(error))),
                }
            }
        })
    };
    // The operation's progress: from the live stream's `operations` events while it is live,
    // else re-read with the queue's live snapshots until it ends.
    let progress = Action::new(|_: &()| get_operations());
    let live_ops = use_context::<LiveOperations>();
    Effect::new(move |_| {
        updates.track();
        if watching.with(Option::is_some) && !live_ops.is_some_and(LiveOperations::told) {
            progress.dispatch(());
        }
    });
    let show = move |op: &Operation| {
        outcome.set(Some(Ok(progress_text(op))));
        if op.state != OperationState::Running {
            watching.set(None);
            on_done.run(());
        }
    };
    Effect::new(move |_| {
        let Some(id) = watching.get() else {
            return;
        };
        if let Some(Ok(ops)) = progress.value().get() {
            if let Some(op) = ops.operations.iter().find(|op| op.id == id) {
                show(op);
            }
        }
    });
    Effect::new(move |_| {
        let Some(live) = live_ops.and_then(LiveOperations::get) else {
            return;
        };
        let Some(id) = watching.get_untracked() else {
            return;
        };
        match live.iter().find(|op| op.id == id) {
            Some(op) => show(op),
            // Not listed yet (it started after this list) or already gone (its end missed):
            // the operations' list says which.
            None => {
                progress.dispatch(());
            }
        }
    });
    let count = move || {
        if all.get() {
            match total.get() {
                Some(total) if list.with(|l| l.1.is_none()) => format!("all {total} selected"),
                _ => "all matching selected".to_owned(),
            }
        } else {
            format!("{} selected", picked.with(Vec::len))
        }
    };
    let nothing = move || !all.get() && picked.with(Vec::is_empty);
    view! {
        <div class="bulk-bar" role="group" aria-label="Bulk actions">
            <span class="picked" aria-live="polite">{count}</span>
            <button type="button" class="link" disabled=move || all.get() on:click=move |_| all.set(true)>
                {move || match total.get() {
                    Some(total) if list.with(|l| l.1.is_none()) => format!("Select all {total}"),
                    _ => "Select all matching".to_owned(),
                }}
            </button>
            <button type="button" class="link" disabled=nothing on:click=move |_| {
                picked.set(Vec::new());
                all.set(false);
            }>"Clear"</button>
            {move || actions_for(list.get().0).into_iter().map(|action| view! {
                <button type="button" class:danger=action == BulkAction::Remove disabled=nothing
                    on:click=move |_| {
                        outcome.set(None);
                        dry_run.dispatch((action, None));
                    }>{verb(action)}</button>
            }).collect_view()}
            <Show when=move || matches!(list.get().0, JobState::Failed | JobState::Completed)>
                <button type="button" disabled=nothing on:click=move |_| {
                    outcome.set(None);
                    changing.set(true);
                }>"Retry with changes…"</button>
            </Show>
        </div>
        <Show when=move || changing.get()>
            <RetryForm queue_name=form_queue.clone() job_id="selected".to_owned()
                on_close=Callback::new(move |_| changing.set(false))
                on_changes=Callback::new(move |changes: RetryChanges| {
                    changing.set(false);
                    dry_run.dispatch((BulkAction::RetryWithChanges, Some(changes)));
                })/>
        </Show>
        {move || asked.get().map(|ask| {
            let label = confirm_label(ask.action, ask.count);
            let text = question(ask.action, ask.count, ask.all);
            let zero = ask.count == 0;
            let confirm = ask.clone();
            view! {
                <div class="confirm" role="alertdialog" aria-label="Confirm the bulk action">
                    <p>{text}</p>
                    <button type="button" class="danger" disabled=zero on:click=move |_| {
                        asked.set(None);
                        run.dispatch(confirm.clone());
                    }>{label}</button>
                    <button type="button" on:click=move |_| asked.set(None)>"Cancel"</button>
                </div>
            }
        })}
        {move || outcome.get().map(|result| match result {
            Ok(text) => view! { <p class="outcome bulk-outcome" role="status">{text}</p> }.into_any(),
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_offers_the_actions_bullmq_takes() {
        assert_eq!(
            actions_for(JobState::Failed),
            [BulkAction::Retry, BulkAction::Remove]
        );
        assert_eq!(
            actions_for(JobState::Delayed),
            [BulkAction::Promote, BulkAction::Remove]
        );
        assert_eq!(actions_for(JobState::Waiting), [BulkAction::Remove]);
        assert_eq!(
            question(BulkAction::Retry, 2, false),
            "Retry 2 selected jobs?"
        );
        assert_eq!(
            question(BulkAction::RetryWithChanges, 3, true),
            "Retry 3 matching jobs with changes?"
        );
        assert_eq!(
            confirm_label(BulkAction::RetryWithChanges, 3),
            "Retry 3 with changes"
        );
        assert_eq!(confirm_label(BulkAction::Remove, 1), "Remove 1");
        assert_eq!(
            question(BulkAction::Remove, 1, true),
            "Remove 1 matching job?"
        );
    }
}
