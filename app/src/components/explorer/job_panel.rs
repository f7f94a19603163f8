//! One job, opened from the list (or a link): its state, the actions that state allows (retry,
//! promote, remove after a confirmation, retry with changes) for operators, and its tabs —
//! Data, Options, Logs, Error, Timeline, Flow. The detail follows the queue's live stream;
//! logs and the flow are read when their tab is opened.

use super::job_views::{data_view, error_view, flow_view, options_view, timeline_view, JobTab};
use super::location::{ExplorerLocation, LocationHandle, Step};
use super::state_label;
use super::tablist::TabFocus;
use crate::api::{act_on_job, get_job, get_job_flow, get_job_logs};
use crate::components::notice::ErrorNotice;
use crate::components::retry_form::RetryForm;
use crate::error::ApiError;
use crate::model::{
    queries::{LogCount, LogStart},
    FlowQuery, JobAction, JobActionReply, JobDetail, JobId, JobState, ListOrder, LogsQuery,
};
use leptos::prelude::*;

/// Log lines per page in the Logs tab.
const LOG_PAGE: u64 = 100;

/// The actions a job in `state` allows, as BullMQ allows them: retry a finished job, promote a
/// delayed one, remove any (the server refuses a locked active job with 409).
pub fn actions_for(state: JobState) -> Vec<JobAction> {
    let mut actions = Vec::new();
    match state {
        JobState::Failed | JobState::Completed => actions.push(JobAction::Retry),
        JobState::Delayed => actions.push(JobAction::Promote),
        _ => {}
    }
    if state != JobState::Unknown {
        actions.push(JobAction::Remove);
    }
    actions
}

/// Whether "Retry with changes" (a new job made from this one) makes sense for `state`.
pub fn retry_with_changes_for(state: JobState) -> bool {
    matches!(
        state,
        JobState::Failed | JobState::Completed | JobState::Active
    )
}

fn action_label(action: JobAction) -> &'static str {
    match action {
        JobAction::Retry => "Retry",
        JobAction::Promote => "Promote",
        JobAction::Remove => "Remove…",
    }
}

/// The panel of one job.
#[component]
pub fn JobPanel(
    queue: String,
    job_id: String,
    api_url: String,
    location: LocationHandle,
    can_operate: Signal<bool>,
    /// Counts up with the queue's live snapshots (the detail is re-read every few).
    live: Signal<u64>,
    /// Bumped here after an action, so the list re-reads too.
    changed: RwSignal<u32>,
) -> impl IntoView {
    let id = JobId::parse(&job_id);
    let fetch = Action::new(|(queue, id): &(String, JobId)| get_job(queue.clone(), id.clone()));
    let removed = RwSignal::new(false);
    {
        let queue = queue.clone();
        let id = id.clone();
        Effect::new(move |_| {
            live.track();
            changed.track();
            if let (Ok(id), false) = (&id, removed.get_untracked()) {
                fetch.dispatch((queue.clone(), id.clone()));
            }
        });
    }
    let detail = Memo::new(move |_| fetch.value().get().and_then(Result::ok));
    let parsed = id.clone();
    let error = move || match (&parsed, fetch.value().get()) {
        (Err(message), _) => Some(
            view! {
                <ErrorNotice error=ApiError::new(crate::error::code::BAD_REQUEST, message.clone())/>
            }
            .into_any(),
        ),
        (_, Some(Err(error))) if !removed.get() => Some(view! { <ErrorNotice error/> }.into_any()),
        _ => None,
    };
    let tab = RwSignal::new(None::<JobTab>);
    Effect::new(move |_| {
        if tab.get_untracked().is_none() {
            if let Some(job) = detail.get() {
                tab.set(Some(JobTab::first_for(&job)));
            }
        }
    });
    let close = move || location.update(Step::Push, |l| l.job = None);
    let heading = NodeRef::<leptos::html::H3>::new();
    Effect::new(move |_| {
        if let Some(heading) = heading.get() {
            let _ = heading.focus();
        }
    });

    // Actions: one at a time; the outcome stays until the next.
    let outcome = RwSignal::new(None::<Result<JobActionReply, ApiError>>);
    let act = {
        let queue = queue.clone();
        let id = id.clone();
        Action::new(move |action: &JobAction| {
            let (queue, id, action) = (queue.clone(), id.clone(), *action);
            async move {
                let Ok(id) = id else { return };
                let result = act_on_job(queue, id, action).await;
                if let Ok(reply) = &result {
                    if reply.action == JobAction::Remove {
                        removed.set(true);
                    }
                }
                outcome.set(Some(result));
                changed.update(|n| *n += 1);
            }
        })
    };
    let acting = act.pending();
    let confirming = RwSignal::new(false);
    let retrying = RwSignal::new(false);
    let run = move |action: JobAction| {
        if action == JobAction::Remove {
            confirming.set(true);
        } else {
            act.dispatch(action);
        }
    };
    let action_buttons = move || {
        let state = detail.with(|d| d.as_ref().map(|d| d.state))?;
        if !can_operate.get() || removed.get() {
            return None;
        }
        Some(view! {
            <div class="job-actions" role="group" aria-label="Actions on this job">
                {actions_for(state).into_iter().map(|action| view! {
                    <button type="button" class=if action == JobAction::Remove { "danger" } else { "control" }
                        data-action=action.as_str() disabled=move || acting.get()
                        on:click=move |_| run(action)>
                        {action_label(action)}
                    </button>
                }).collect_view()}
                {retry_with_changes_for(state).then(|| view! {
                    <button type="button" class="control" on:click=move |_| retrying.set(true)>
                        "Retry with changes…"
                    </button>
                })}
            </div>
        })
    };
    let outcome_view = move || {
        outcome.get().map(|result| match result {
            Ok(reply) => view! { <p class="outcome" role="status">{reply.message}</p> }.into_any(),
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })
    };
    let title = {
        let job_id = job_id.clone();
        move || match detail.get() {
            Some(job) => format!("{} #{}", job.name, job.id),
            None => format!("Job #{job_id}"),
        }
    };
    let state_badge = move || {
        detail.with(|d| {
            d.as_ref().map(|d| {
                let state = if removed.get() {
                    JobState::Unknown
                } else {
                    d.state
                };
                view! {
                    <span class="state-badge" data-state=state.as_str()>
                        {if removed.get() { "Removed" } else { state_label(state) }}
                    </span>
                }
            })
        })
    };
    let retry_queue = queue.clone();
    let retry_job_id = job_id.clone();
    let confirm_queue = queue.clone();
    let confirm_job = job_id.clone();
    let body_queue = queue.clone();
    let body_job = job_id.clone();
    view! {
        <section class="job-panel" aria-labelledby="job-title" data-job-panel=job_id.clone()
            on:keydown=move |ev| if ev.key() == "Escape" {
                ev.stop_propagation();
                close();
            }>
            <div class="section-head">
                <h3 id="job-title" tabindex="-1" node_ref=heading>{title}</h3>
                {state_badge}
                <button type="button" on:click=move |_| close()>"Close job"</button>
            </div>
            {error}
            {action_buttons}
            {outcome_view}
            {move || confirming.get().then(|| view! {
                <RemoveDialog queue=confirm_queue.clone() job_id=confirm_job.clone()
                    on_confirm=Callback::new(move |()| {
                        confirming.set(false);
                        act.dispatch(JobAction::Remove);
                    })
                    on_cancel=Callback::new(move |()| confirming.set(false))/>
            })}
            {move || retrying.get().then(|| view! {
                <RetryForm queue_name=retry_queue.clone() job_id=retry_job_id.clone()
                    on_close=Callback::new(move |()| retrying.set(false))/>
            })}
            <Show when=move || detail.with(Option::is_some) && !removed.get()>
                <JobTabs tab queue=body_queue.clone() job_id=body_job.clone() api_url=api_url.clone()
                    detail location/>
            </Show>
        </section>
    }
    .into_any()
}

/// The tab strip and the open tab.
#[component]
fn JobTabs(
    tab: RwSignal<Option<JobTab>>,
    queue: String,
    job_id: String,
    api_url: String,
    detail: Memo<Option<JobDetail>>,
    location: LocationHandle,
) -> impl IntoView {
    let tabs = TabFocus::new(JobTab::ALL.len());
    let select = move |index: usize, focus: bool| {
        tab.set(Some(JobTab::ALL[index]));
        if focus {
            tabs.focus(index);
        }
    };
    let keydown = move |index: usize, ev: leptos::ev::KeyboardEvent| {
        if let Some(target) = tabs.target(index, &ev) {
            select(target, true);
        }
    };
    let open = Callback::new(move |(queue_name, id): (String, String)| {
        location.update(Step::Push, |l| {
            if l.queue.as_deref() != Some(queue_name.as_str()) {
                *l = ExplorerLocation::with_queue(Some(queue_name));
            }
            l.job = Some(id);
        });
    });
    let logs_count = move || detail.with(|d| d.as_ref().map(|d| d.logs_count).unwrap_or_default());
    let body = move || {
        let current = tab.get()?;
        Some(match current {
            JobTab::Logs => view! {
                <LogsView queue=queue.clone() job_id=job_id.clone() total=Signal::derive(logs_count)/>
            }
            .into_any(),
            JobTab::Flow => view! { <FlowView queue=queue.clone() job_id=job_id.clone() open/> }.into_any(),
            other => detail.with(|d| {
                let Some(job) = d.as_ref() else {
                    return ().into_any();
                };
                match other {
                    JobTab::Data => data_view(job, &api_url),
                    JobTab::Options => options_view(job),
                    JobTab::Error => error_view(job),
                    _ => timeline_view(job),
                }
            }),
        })
    };
    view! {
        <div class="job-tabs" role="tablist" aria-label="Job details">
            {JobTab::ALL.iter().enumerate().map(|(index, which)| {
                let which = *which;
                let selected = move || tab.get() == Some(which);
                let label = move || match which {
                    JobTab::Logs => format!("Logs ({})", logs_count()),
                    other => other.label().to_owned(),
                };
                view! {
                    <button type="button" role="tab" id=format!("job-tab-{}", which.id())
                        data-job-tab=which.id()
                        node_ref=tabs.node(index)
                        aria-selected=move || selected().to_string()
                        aria-controls="job-tab-panel"
                        tabindex=move || if selected() { "0" } else { "-1" }
                        on:click=move |_| select(index, false)
                        on:keydown=move |ev| keydown(index, ev)>
                        {label}
                    </button>
                }
            }).collect_view()}
        </div>
        <div id="job-tab-panel" class="job-tab-panel" role="tabpanel"
            aria-labelledby=move || tab.get().map(|t| format!("job-tab-{}", t.id()))>
            {body}
        </div>
    }
    .into_any()
}

/// The Logs tab: pages of [`LOG_PAGE`] lines, oldest first (as BullMQ's `getJobLogs`).
#[component]
fn LogsView(queue: String, job_id: String, total: Signal<u64>) -> impl IntoView {
    let start = RwSignal::new(0_u64);
    let fetch = Action::new(move |start: &u64| {
        let (queue, job_id, start) = (queue.clone(), job_id.clone(), *start);
        async move {
            let id = JobId::parse(&job_id)
                .map_err(|m| ApiError::new(crate::error::code::BAD_REQUEST, m))?;
            let query = LogsQuery {
                start: Some(LogStart(start)),
                count: Some(LogCount(LOG_PAGE)),
                order: Some(ListOrder::Asc),
            };
            get_job_logs(queue, id, query).await
        }
    });
    Effect::new(move |_| {
        total.track();
        fetch.dispatch(start.get());
    });
    let body = move || {
        fetch.value().get().map(|result| match result {
            Ok(logs) if logs.logs.is_empty() => {
                view! { <p class="empty">"No log lines."</p> }.into_any()
            }
            Ok(logs) => {
                let first = start.get_untracked() + 1;
                let last = start.get_untracked() + logs.logs.len() as u64;
                view! {
                    <p class="page-note">{format!("Lines {first}–{last} of {}", logs.count)}</p>
                    <ol class="logs" start=first.to_string() tabindex="0" aria-label="Log lines">
                        {logs.logs.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}
                    </ol>
                }
                .into_any()
            }
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })
    };
    let at_end = move || {
        let count = fetch
            .value()
            .with(|v| v.as_ref().and_then(|r| r.as_ref().ok()).map(|l| l.count))
            .unwrap_or_default();
        start.get() + LOG_PAGE >= count
    };
    view! {
        {body}
        <nav class="pager" aria-label="Log pages">
            <button type="button" disabled=move || start.get() == 0
                on:click=move |_| start.update(|s| *s = s.saturating_sub(LOG_PAGE))>"Earlier lines"</button>
            <button type="button" disabled=at_end
                on:click=move |_| start.update(|s| *s += LOG_PAGE)>"Later lines"</button>
        </nav>
    }
    .into_any()
}

/// The Flow tab: the tree the job belongs to, read when the tab opens.
#[component]
fn FlowView(queue: String, job_id: String, open: Callback<(String, String)>) -> impl IntoView {
    let fetch = Action::new(move |_: &()| {
        let (queue, job_id) = (queue.clone(), job_id.clone());
        async move {
            let id = JobId::parse(&job_id)
                .map_err(|m| ApiError::new(crate::error::code::BAD_REQUEST, m))?;
            get_job_flow(queue, id, FlowQuery::default()).await
        }
    });
    fetch.dispatch(());
    move || {
        fetch.value().get().map(|result| match result {
            Ok(tree) if tree.nodes <= 1 && tree.root.children_count == 0 => {
                view! { <p class="empty">"This job is not part of a flow."</p> }.into_any()
            }
            Ok(tree) => flow_view(&tree, open),
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })
    }
}

/// Asks before a job is removed; Cancel has the focus, Escape cancels.
#[component]
fn RemoveDialog(
    queue: String,
    job_id: String,
    on_confirm: Callback<()>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let cancel = NodeRef::<leptos::html::Button>::new();
    Effect::new(move |_| {
        if let Some(button) = cancel.get() {
            let _ = button.focus();
        }
    });
    view! {
        <div class="dialog" role="alertdialog" aria-modal="false"
            aria-labelledby="remove-title" aria-describedby="remove-question"
            on:keydown=move |ev| if ev.key() == "Escape" {
                ev.stop_propagation();
                on_cancel.run(());
            }>
            <h4 id="remove-title">{format!("Remove job {job_id}")}</h4>
            <p id="remove-question" class="question">
                {format!("Remove job {job_id} from {queue}? Its logs and children go with it; a parent waiting only for it moves on. This cannot be undone.")}
            </p>
            <div class="actions">
                <button type="button" class="danger" on:click=move |_| on_confirm.run(())>"Remove job"</button>
                <button type="button" node_ref=cancel on:click=move |_| on_cancel.run(())>"Cancel"</button>
            </div>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_state_offers_what_bullmq_allows() {
        use JobAction::*;
        assert_eq!(actions_for(JobState::Failed), vec![Retry, Remove]);
        assert_eq!(actions_for(JobState::Completed), vec![Retry, Remove]);
        assert_eq!(actions_for(JobState::Delayed), vec![Promote, Remove]);
        assert_eq!(actions_for(JobState::Waiting), vec![Remove]);
        assert_eq!(actions_for(JobState::Active), vec![Remove]);
        assert!(actions_for(JobState::Unknown).is_empty());
        assert!(retry_with_changes_for(JobState::Active));
        assert!(!retry_with_changes_for(JobState::Waiting));
    }
}
