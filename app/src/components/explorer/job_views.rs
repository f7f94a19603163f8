//! How the tabs of a job's panel show it: Data (and return value), Options, Error, Timeline,
//! and the Flow tree. Each is a function of what the server sent; the text they show is built
//! by plain functions tested on the host.

use super::state_label;
use crate::client::api_path;
use crate::components::format::{date_time, duration, path_segment, pretty};
use crate::model::{FlowNode, FlowTree, JobDetail, JobState};
use leptos::prelude::*;

/// The tabs of a job's panel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobTab {
    Data,
    Options,
    Logs,
    Error,
    Timeline,
    Flow,
}

impl JobTab {
    pub const ALL: [JobTab; 6] = [
        JobTab::Data,
        JobTab::Options,
        JobTab::Logs,
        JobTab::Error,
        JobTab::Timeline,
        JobTab::Flow,
    ];

    pub fn label(self) -> &'static str {
        match self {
            JobTab::Data => "Data",
            JobTab::Options => "Options",
            JobTab::Logs => "Logs",
            JobTab::Error => "Error",
            JobTab::Timeline => "Timeline",
            JobTab::Flow => "Flow",
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            JobTab::Data => "data",
            JobTab::Options => "options",
            JobTab::Logs => "logs",
            JobTab::Error => "error",
            JobTab::Timeline => "timeline",
            JobTab::Flow => "flow",
        }
    }

    /// The tab a job opens on: its failure when it failed, else its data.
    pub fn first_for(job: &JobDetail) -> JobTab {
        if job.failed_reason.is_some() || !job.stacktrace.is_empty() {
            JobTab::Error
        } else {
            JobTab::Data
        }
    }
}

/// The URL of a job's whole value (`data` or `returnvalue`), for values cut at 64 KiB.
pub fn whole_value_url(api_url: &str, job: &JobDetail, which: &str) -> String {
    api_path(
        api_url,
        &format!(
            "/api/v1/admin/jobs/queue/{}/jobs/{}/{which}",
            path_segment(&job.queue_name),
            path_segment(&job.id)
        ),
    )
}

/// A JSON value laid out, or a note when it was cut (with the link to all of it).
fn value_block(label: &'static str, text: String, cut: bool, whole: String) -> impl IntoView {
    view! {
        <figure class="value">
            <figcaption>{label}</figcaption>
            <pre class="json" tabindex="0">{text}</pre>
            {cut.then(|| view! {
                <p class="note">"Cut at 64 KiB. " <a href=whole target="_blank" rel="noopener">"Open the whole value"</a></p>
            })}
        </figure>
    }
}

/// The Data tab: the job's data and its return value.
pub fn data_view(job: &JobDetail, api_url: &str) -> AnyView {
    let returned = (!job.returnvalue.is_null()).then(|| {
        value_block(
            "Return value",
            pretty(&job.returnvalue),
            job.returnvalue_truncated,
            whole_value_url(api_url, job, "returnvalue"),
        )
    });
    view! {
        {value_block("Data", pretty(&job.data), job.data_truncated, whole_value_url(api_url, job, "data"))}
        {returned}
    }
    .into_any()
}

/// The facts of the Options tab, as `(label, value)` rows: what BullMQ was told when the job
/// was added, and what links it to others.
pub fn option_facts(job: &JobDetail) -> Vec<(&'static str, String)> {
    let mut facts = vec![("Priority", job.priority.to_string())];
    if let Some(delay) = job.delay.filter(|d| *d > 0) {
        facts.push(("Delay", duration(delay as u64)));
    }
    let mut text = |label, value: &Option<String>| {
        if let Some(value) = value {
            facts.push((label, value.clone()));
        }
    };
    text("Deduplication id", &job.deduplication_id);
    text("Scheduler / repeat key", &job.repeat_job_key);
    text("Parent", &job.parent_key);
    text("Processed by", &job.processed_by);
    facts
}

/// The Options tab.
pub fn options_view(job: &JobDetail) -> AnyView {
    view! {
        <dl class="facts">
            {option_facts(job).into_iter().map(|(label, value)| view! {
                <div><dt>{label}</dt><dd>{value}</dd></div>
            }).collect_view()}
        </dl>
        <figure class="value">
            <figcaption>"Options (opts)"</figcaption>
            <pre class="json" tabindex="0">{pretty(&job.opts)}</pre>
        </figure>
    }
    .into_any()
}

/// The Error tab: the failure, each attempt's stack trace (newest first), and a failure BullMQ
/// deferred to the next pickup.
pub fn error_view(job: &JobDetail) -> AnyView {
    if job.failed_reason.is_none() && job.stacktrace.is_empty() && job.deferred_failure.is_none() {
        return view! { <p class="empty">"This job has not failed."</p> }.into_any();
    }
    let attempts = job.stacktrace.len();
    view! {
        {job.failed_reason.clone().map(|reason| view! {
            <p class="failure" data-field="failedReason"><strong>"Failed: "</strong>{reason}</p>
        })}
        {job.deferred_failure.clone().map(|failure| view! {
            <p class="failure"><strong>"Deferred failure: "</strong>{failure}</p>
        })}
        <ol class="stacktraces" aria-label="Stack traces, newest attempt first">
            {job.stacktrace.iter().enumerate().map(|(i, trace)| view! {
                <li>
                    <span class="attempt">{format!("Attempt {}", attempts - i)}</span>
                    <pre tabindex="0">{trace.clone()}</pre>
                </li>
            }).collect_view()}
        </ol>
    }
    .into_any()
}

/// The Timeline tab's steps: `(what, when)` in the order they happened, and the durations.
pub fn timeline_steps(job: &JobDetail) -> Vec<(&'static str, String)> {
    let t = &job.timeline;
    let mut steps = Vec::new();
    if let Some(at) = t.added {
        steps.push(("Added", date_time(at)));
    }
    if let Some(at) = t.delayed_until {
        steps.push(("Delayed until", date_time(at)));
    }
    if let Some(ms) = t.wait_ms {
        steps.push(("Waited", duration(ms.max(0) as u64)));
    }
    if let Some(at) = t.started {
        steps.push(("Started", date_time(at)));
    }
    if let Some(ms) = t.run_ms {
        let label = if t.finished.is_some() {
            "Ran"
        } else {
            "Running for"
        };
        steps.push((label, duration(ms.max(0) as u64)));
    }
    if let Some(at) = t.finished {
        let label = match job.state {
            JobState::Failed => "Failed",
            _ => "Finished",
        };
        steps.push((label, date_time(at)));
    }
    steps
}

/// The Timeline tab.
pub fn timeline_view(job: &JobDetail) -> AnyView {
    view! {
        <ol class="timeline">
            {timeline_steps(job).into_iter().map(|(what, when)| view! {
                <li><span class="what">{what}</span> " " <span class="when">{when}</span></li>
            }).collect_view()}
        </ol>
        <dl class="facts">
            <div><dt>"Attempts made"</dt><dd>{job.attempts_made}</dd></div>
            <div><dt>"Attempts started"</dt><dd>{job.attempts_started}</dd></div>
            <div><dt>"Stalled"</dt><dd>{job.stalled_counter}</dd></div>
            <div><dt>"Children pending / processed"</dt>
                <dd>{format!("{} / {}", job.pending_children, job.processed_children)}</dd></div>
        </dl>
    }
    .into_any()
}

/// What a flow node says about itself, in words.
pub fn node_label(node: &FlowNode) -> String {
    let mut text = format!(
        "{} #{} in {} · {}",
        node.name,
        node.id,
        node.queue_name,
        state_label(node.state).to_lowercase()
    );
    if node.children_count > 0 {
        text.push_str(&format!(" · {} children", node.children_count));
    }
    text
}

/// The Flow tab: the tree from its root, the job itself marked; a node opens its job.
pub fn flow_view(tree: &FlowTree, open: Callback<(String, String)>) -> AnyView {
    view! {
        {tree.root_cut.then(|| view! { <p class="note">"The walk up stopped before the root (a parent is gone, or the flow is deeper than shown)."</p> })}
        <ul class="flow" role="tree" aria-label="Flow">
            {flow_node(&tree.root, open)}
        </ul>
        <p class="note">{format!("{} jobs shown{}", tree.nodes, if tree.truncated { "; some were left out" } else { "" })}</p>
    }
    .into_any()
}

fn flow_node(node: &FlowNode, open: Callback<(String, String)>) -> AnyView {
    let target = (node.queue_name.clone(), node.id.clone());
    let label = node_label(node);
    let expanded = (!node.children.is_empty()).then_some("true");
    let cut = (node.children_cut > 0).then(|| {
        view! { <li class="note" role="none">{format!("{} more not shown", node.children_cut)}</li> }
    });
    let children = (!node.children.is_empty() || node.children_cut > 0).then(|| {
        view! {
            <ul role="group">
                {node.children.iter().map(|child| flow_node(child, open)).collect_view()}
                {cut}
            </ul>
        }
    });
    view! {
        <li role="treeitem" aria-expanded=expanded aria-current=node.focus.then_some("true")
            class:focus=node.focus data-node=node.id.clone()>
            <button type="button" class="link" on:click=move |_| open.run(target.clone())>
                <span class="state-badge" data-state=node.state.as_str()>{state_label(node.state)}</span>
                " " {label}
            </button>
            {children}
        </li>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timeline;
    use serde_json::json;

    fn job() -> JobDetail {
        JobDetail {
            id: "7".into(),
            queue_name: "mails v2".into(),
            name: "send".into(),
            state: JobState::Failed,
            data: json!({"to": "a@b.c"}),
            priority: 3,
            delay: Some(5_000),
            parent_key: Some("bull:parent:1".into()),
            timeline: Timeline {
                added: Some(0),
                delayed_until: Some(5_000),
                started: Some(6_000),
                finished: Some(9_000),
                wait_ms: Some(1_000),
                run_ms: Some(3_000),
            },
            ..Default::default()
        }
    }

    #[test]
    fn a_failed_job_opens_on_its_error() {
        let mut failed = job();
        assert_eq!(JobTab::first_for(&failed), JobTab::Data);
        failed.failed_reason = Some("boom".into());
        assert_eq!(JobTab::first_for(&failed), JobTab::Error);
    }

    #[test]
    fn the_timeline_reads_in_order() {
        let steps = timeline_steps(&job());
        let what: Vec<&str> = steps.iter().map(|(w, _)| *w).collect();
        assert_eq!(
            what,
            [
                "Added",
                "Delayed until",
                "Waited",
                "Started",
                "Ran",
                "Failed"
            ]
        );
        assert_eq!(steps[2].1, "1 s");
        assert_eq!(steps[5].1, "1970-01-01 00:00:09 UTC");
    }

    #[test]
    fn options_and_links_name_what_they_are() {
        let facts = option_facts(&job());
        assert_eq!(
            facts,
            vec![
                ("Priority", "3".to_owned()),
                ("Delay", "5 s".to_owned()),
                ("Parent", "bull:parent:1".to_owned())
            ]
        );
        assert_eq!(
            whole_value_url("", &job(), "data"),
            "/api/v1/admin/jobs/queue/mails%20v2/jobs/7/data"
        );
    }

    #[test]
    fn flow_nodes_say_where_they_are() {
        let node = FlowNode {
            queue_name: "render".into(),
            id: "p1".into(),
            name: "report".into(),
            state: JobState::WaitingChildren,
            children_count: 2,
            ..Default::default()
        };
        assert_eq!(
            node_label(&node),
            "report #p1 in render · waiting children · 2 children"
        );
    }
}
