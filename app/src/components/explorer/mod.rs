//! The job explorer inside a queue's detail: state tabs with their live counts, a search box,
//! the job list with paging, and the panel of the job that is open.
//!
//! - [`location`] — queue, state, job and search, kept in the URL so a link can be shared;
//! - [`list`] — the state tabs, the search box and a page of jobs (with checkboxes for
//!   operators);
//! - [`bulk_bar`] — the ticked jobs or all matching retried, promoted or removed as one bulk
//!   operation (dry run, confirmation with its number, progress);
//! - [`job_panel`] — one job: its tabs (Data, Options, Logs, Error, Timeline, Flow) and the
//!   actions its state allows;
//! - [`job_views`] — how each of those tabs renders a job, plain functions of the job;
//! - [`tablist`] — the keyboard of both tablists.
//!
//! The list follows the queue's live stream: when the open state's count changes (or every few
//! snapshots, for moves that leave a count as it was) the same page is read again by its
//! cursor, and rows are keyed by job, so scroll position and selection stay where they were.

pub mod bulk_bar;
pub mod job_panel;
pub mod job_views;
pub mod list;
pub mod location;
pub mod tablist;

use crate::model::{JobState, StateCounts};
use job_panel::JobPanel;
use leptos::prelude::*;
use list::{JobList, SearchBox, StateTabs};
use location::LocationHandle;

/// The open job's detail is re-read every this many live snapshots of its queue.
const DETAIL_EVERY_UPDATES: u64 = 3;

/// The explorer of one queue.
#[component]
pub fn JobExplorer(
    queue: String,
    api_url: String,
    location: LocationHandle,
    /// The queue's live counts.
    counts: Signal<Option<StateCounts>>,
    /// Counts up with every live snapshot of the queue.
    updates: Signal<u64>,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let changed = RwSignal::new(0_u32);
    let job = Memo::new(move |_| location.with(|l| l.job.clone()));
    let live = Memo::new(move |_| updates.get() / DETAIL_EVERY_UPDATES);
    let panel_queue = queue.clone();
    view! {
        <div class="explorer">
            <StateTabs queue=queue.clone() location counts/>
            <SearchBox queue=queue.clone() location/>
            <div class="explorer-body" class:with-job=move || job.with(Option::is_some)>
                <JobList queue location counts updates changed=changed.into() can_operate
                    on_bulk_done=Callback::new(move |()| changed.update(|c| *c += 1))/>
                {move || job.get().map(|job_id| view! {
                    <JobPanel queue=panel_queue.clone() job_id api_url=api_url.clone() location
                        can_operate live=live.into() changed/>
                })}
            </div>
        </div>
    }
    .into_any()
}

/// The state tabs, in the order a job usually goes through them, with their labels.
pub const TABS: [(JobState, &str); 7] = [
    (JobState::Waiting, "Waiting"),
    (JobState::Prioritized, "Prioritized"),
    (JobState::Delayed, "Delayed"),
    (JobState::Active, "Active"),
    (JobState::WaitingChildren, "Waiting children"),
    (JobState::Completed, "Completed"),
    (JobState::Failed, "Failed"),
];

/// How many jobs a tab holds, from the queue's live counts. `waiting` in the counts includes
/// the prioritized jobs (and BullMQ 5's `paused` list); the Waiting tab is the rest, which is
/// exactly what its list reads.
pub fn tab_count(counts: &StateCounts, state: JobState) -> u64 {
    match state {
        JobState::Waiting | JobState::Paused => counts.waiting.saturating_sub(counts.prioritized),
        JobState::Prioritized => counts.prioritized,
        JobState::Active => counts.active,
        JobState::Delayed => counts.delayed,
        JobState::Completed => counts.completed,
        JobState::Failed => counts.failed,
        JobState::WaitingChildren => counts.waiting_children,
        JobState::Unknown => 0,
    }
}

/// The label of a state, as the tabs name it.
pub fn state_label(state: JobState) -> &'static str {
    TABS.iter()
        .find(|(s, _)| *s == state)
        .map(|(_, label)| *label)
        .unwrap_or(match state {
            JobState::Paused => "Paused",
            _ => "Unknown",
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waiting_tab_counts_what_its_list_reads() {
        let counts = StateCounts {
            waiting: 10,
            prioritized: 4,
            active: 1,
            completed: 7,
            failed: 2,
            delayed: 3,
            waiting_children: 5,
        };
        let shown: Vec<u64> = TABS.iter().map(|(s, _)| tab_count(&counts, *s)).collect();
        assert_eq!(shown, vec![6, 4, 3, 1, 5, 7, 2]);
        assert_eq!(state_label(JobState::WaitingChildren), "Waiting children");
        assert_eq!(state_label(JobState::Paused), "Paused");
    }
}
