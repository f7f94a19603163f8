//! The explorer's list side: state tabs (a keyboard tablist, live counts), the search box with
//! its syntax help, a page of jobs (rows keyed by job, so a re-read keeps scroll position and
//! selection), paging by cursor, and the priority histogram of the Prioritized tab.

use super::location::{LocationHandle, Step};
use super::tablist::TabFocus;
use super::{state_label, tab_count, TABS};
use crate::api::{get_priorities, list_jobs};
use crate::components::format::{ago, date_time, duration, preview, progress_percent};
use crate::components::notice::ErrorNotice;
use crate::error::ApiError;
use crate::model::{JobListQuery, JobState, JobSummary, JobsAnswer, Priorities, StateCounts};
use leptos::prelude::*;

/// What one read of the list asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRequest {
    pub queue: String,
    pub state: JobState,
    pub search: Option<String>,
    /// The page's cursor (`None`: the first page).
    pub cursor: Option<String>,
}

impl ListRequest {
    /// The query the server function takes. A search covers every state of the queue (a
    /// `state:` term narrows it), so the tab does not restrict it.
    pub fn query(&self) -> JobListQuery {
        JobListQuery {
            state: self.search.is_none().then_some(self.state),
            cursor: self.cursor.clone(),
            search: self.search.clone(),
            ..Default::default()
        }
    }
}

/// The line above a page: which jobs these are, or what a search has looked at.
pub fn page_note(answer: &JobsAnswer, page_index: usize) -> String {
    match answer {
        JobsAnswer::Page(page) if page.jobs.is_empty() => format!("{} jobs", page.total),
        JobsAnswer::Page(page) => {
            // Pages before this one were full (a page is 50 jobs unless it is the last).
            let first = page_index as u64 * crate::model::jobs::DEFAULT_PAGE + 1;
            let last = first + page.jobs.len() as u64 - 1;
            format!("Jobs {first}–{last} of {}", page.total)
        }
        JobsAnswer::Search(search) => {
            let matches = match search.jobs.len() {
                1 => "1 match".to_owned(),
                n => format!("{n} matches"),
            };
            let reach = if search.complete {
                "the search reached the end"
            } else {
                "more jobs are left to scan"
            };
            format!(
                "{matches} in {} jobs scanned of {} · {reach}",
                search.scanned, search.total
            )
        }
    }
}

/// The state tabs. Arrow keys move between them (and open the tab), as in any tablist.
#[component]
pub fn StateTabs(
    queue: String,
    location: LocationHandle,
    counts: Signal<Option<StateCounts>>,
) -> impl IntoView {
    let tabs = TabFocus::new(TABS.len());
    let searching = move || location.with(|l| l.search.is_some());
    // A click is a history step (Back returns to it); arrow keys walking the tabs replace it.
    let open = move |index: usize, focus: bool| {
        let state = TABS[index].0;
        let step = if focus { Step::Replace } else { Step::Push };
        location.update(step, |l| {
            l.state = Some(state);
            l.search = None;
        });
        if focus {
            tabs.focus(index);
        }
    };
    let keydown = move |index: usize, ev: leptos::ev::KeyboardEvent| {
        if let Some(target) = tabs.target(index, &ev) {
            open(target, true);
        }
    };
    view! {
        <div class="state-tabs" role="tablist" aria-label=format!("Job states of {queue}")>
            {TABS.iter().enumerate().map(|(index, (state, label))| {
                let state = *state;
                let selected = move || !searching() && location.with(|l| l.tab()) == state;
                let count = move || counts.with(|c| c.as_ref().map(|c| tab_count(c, state)).unwrap_or_default());
                view! {
                    <button type="button" role="tab" id=format!("tab-{}", state.as_str())
                        data-tab=state.as_str()
                        node_ref=tabs.node(index)
                        aria-selected=move || selected().to_string()
                        aria-controls="job-list"
                        tabindex=move || if selected() { "0" } else { "-1" }
                        on:click=move |_| open(index, false)
                        on:keydown=move |ev| keydown(index, ev)>
                        {*label} " "
                        <span class="count" data-count=state.as_str()>{count}</span>
                    </button>
                }
            }).collect_view()}
        </div>
    }
    .into_any()
}

/// The search box. The query lives in the URL; the box follows it (Back restores it).
#[component]
pub fn SearchBox(queue: String, location: LocationHandle) -> impl IntoView {
    let text = RwSignal::new(String::new());
    // Only a new search replaces what is typed (opening a job leaves an unsent query alone).
    let asked = Memo::new(move |_| location.with(|l| l.search.clone()));
    Effect::new(move |_| text.set(asked.get().unwrap_or_default()));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let query = text.get_untracked().trim().to_owned();
        location.update(Step::Push, |l| {
            l.search = (!query.is_empty()).then_some(query);
        });
    };
    let clear = move |_| location.update(Step::Push, |l| l.search = None);
    view! {
        <form class="job-search" role="search" on:submit=submit>
            <label for="job-search-input">{format!("Search jobs in {queue}")}</label>
            <div class="search-row">
                <input id="job-search-input" type="search" name="q" spellcheck="false"
                    placeholder="failed:\"timeout\" data.user.id:42 name:send*"
                    aria-describedby="search-help"
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                    // Escape clears the field (the browser's own), not the whole panel.
                    on:keydown=move |ev| if ev.key() == "Escape" { ev.stop_propagation() }/>
                <button type="submit">"Search"</button>
                <Show when=move || location.with(|l| l.search.is_some())>
                    <button type="button" on:click=clear>"Clear search"</button>
                </Show>
            </div>
            <details class="search-help" id="search-help">
                <summary>"Search syntax"</summary>
                <p>"All terms must match. Quote values with spaces. Newest jobs are searched first, at most 10,000 per request."</p>
                <dl>
                    <dt><code>"id:42"</code></dt><dd>"that job"</dd>
                    <dt><code>"name:send*"</code></dt><dd>"the job's name (any case, * for any text)"</dd>
                    <dt><code>"state:failed"</code></dt><dd>"only jobs in that state"</dd>
                    <dt><code>"data.user.email:ann@example.com"</code></dt><dd>"a value in the job's data"</dd>
                    <dt><code>"failed:\"connection refused\""</code></dt><dd>"in the failure reason or stack trace"</dd>
                    <dt><code>"returned:ok"</code></dt><dd>"in the return value"</dd>
                    <dt><code>"anything else"</code></dt><dd>"in the id, name, failure or data"</dd>
                </dl>
            </details>
        </form>
    }
    .into_any()
}

/// The page of jobs: one read per request (the same page again when the list moves), the
/// table, and paging.
#[component]
pub fn JobList(
    queue: String,
    location: LocationHandle,
    counts: Signal<Option<StateCounts>>,
    /// Counts up with every live snapshot of the queue.
    updates: Signal<u64>,
    /// Counts up when something was done to a job (re-read at once).
    changed: Signal<u32>,
    /// Operators tick jobs and act on them (or on all matching) in bulk.
    can_operate: Signal<bool>,
    /// After a bulk operation ended.
    on_bulk_done: Callback<()>,
) -> impl IntoView {
    // The list shown (tab or search) and where in it.
    let list = Memo::new(move |_| location.with(|l| (l.tab(), l.search.clone())));
    let paging = RwSignal::new(Paging::default());
    let request = {
        let queue = queue.clone();
        Memo::new(move |_| {
            let (state, search) = list.get();
            let cursor = paging.with(|p| p.cursor_of(&(state, search.clone())));
            ListRequest {
                queue: queue.clone(),
                state,
                search,
                cursor,
            }
        })
    };
    let fetch = Action::new(|request: &ListRequest| {
        let request = request.clone();
        async move {
            let answer = list_jobs(request.queue.clone(), request.query()).await;
            (request, answer)
        }
    });
    // Re-read when the open state's count moves, every few snapshots for moves that keep a
    // count (one job finishing as another starts), and after an action. Searches are re-run
    // only on request: they cost a scan.
    let live_tick = Memo::new(move |_| {
        let state = location.with(|l| l.tab());
        let count = counts.with(|c| c.as_ref().map(|c| tab_count(c, state)));
        (count, updates.get() / REREAD_EVERY_UPDATES)
    });
    Effect::new(move |_| {
        let request = request.get();
        changed.track();
        if request.search.is_none() {
            live_tick.track();
        }
        fetch.dispatch(request);
    });
    let now = RwSignal::new(None::<i64>);
    let answer = RwSignal::new(None::<Result<JobsAnswer, ApiError>>);
    // Only the answer to what is asked now is shown (an older read may finish later).
    Effect::new(move |_| {
        if let Some((asked, result)) = fetch.value().get() {
            if asked == request.get_untracked() {
                now.set(crate::components::format::now_ms());
                answer.set(Some(result));
            }
        }
    });
    let loading = fetch.pending();
    let next = move || {
        answer.with(|a| match a {
            Some(Ok(JobsAnswer::Page(page))) => page.next_cursor.clone(),
            Some(Ok(JobsAnswer::Search(search))) => search.next_cursor.clone(),
            _ => None,
        })
    };
    let go_next = move |_| {
        if let Some(cursor) = next() {
            paging.update(|p| p.next(list.get_untracked(), cursor));
        }
    };
    let go_previous = move |_| paging.update(|p| p.previous(&list.get_untracked()));
    let go_first = move |_| paging.set(Paging::default());
    let page_index = move || paging.with(|p| p.index_of(&list.get()));
    let searching = move || location.with(|l| l.search.is_some());
    let heading = move || {
        location.with(|l| match &l.search {
            Some(search) => format!("Search results for {search}"),
            None => format!("{} jobs", state_label(l.tab())),
        })
    };
    let jobs = move || {
        answer.with(|a| match a {
            Some(Ok(JobsAnswer::Page(page))) => page.jobs.clone(),
            Some(Ok(JobsAnswer::Search(search))) => search.jobs.clone(),
            _ => Vec::new(),
        })
    };
    let note = move || {
        answer.with(|a| match a {
            Some(Ok(answer)) => Some(page_note(answer, page_index())),
            _ => None,
        })
    };
    let error = move || match answer.get() {
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }),
        _ => None,
    };
    let empty = move || answer.with(|a| matches!(a, Some(Ok(_)))) && jobs().is_empty();
    let selected = Memo::new(move |_| location.with(|l| l.job.clone()));
    // The ticked jobs belong to one list: another tab or search starts with none.
    let picked = RwSignal::new(Vec::<String>::new());
    let all = RwSignal::new(false);
    Effect::new(move |_| {
        list.track();
        picked.set(Vec::new());
        all.set(false);
    });
    let total = Signal::derive(move || {
        answer.with(|a| match a {
            Some(Ok(JobsAnswer::Page(page))) => Some(page.total),
            _ => None,
        })
    });
    let page_ids = move || jobs().into_iter().map(|j| j.id).collect::<Vec<_>>();
    let page_picked = move || {
        let ids = page_ids();
        !ids.is_empty() && picked.with(|p| ids.iter().all(|id| p.contains(id)))
    };
    let pick_page = move |on: bool| {
        let ids = page_ids();
        picked.update(|p| {
            if on {
                for id in ids {
                    if !p.contains(&id) {
                        p.push(id);
                    }
                }
            } else {
                p.retain(|id| !ids.contains(id));
            }
        });
        if !on {
            all.set(false);
        }
    };
    let bulk_queue = queue.clone();
    let open = Callback::new(move |id: String| {
        location.update(Step::Push, |l| l.job = Some(id));
    });
    view! {
        <div id="job-list" class="job-list" role="tabpanel" aria-labelledby=move || {
            location.with(|l| format!("tab-{}", l.tab().as_str()))
        } aria-busy=move || loading.get().to_string()>
            <Show when=move || !searching() && location.with(|l| l.tab()) == JobState::Prioritized>
                <PriorityBars queue=queue.clone() changed=Signal::derive(move || live_tick.get().0)/>
            </Show>
            <div class="list-head">
                <h3>{heading}</h3>
                <span class="page-note" aria-live="polite">{note}</span>
            </div>
            {error}
            <Show when=move || can_operate.get()>
                <super::bulk_bar::BulkBar queue=bulk_queue.clone() list picked all total updates
                    on_done=on_bulk_done/>
            </Show>
            <Show when=empty>
                <p class="empty">{move || if searching() { "No job matches in the jobs scanned." } else { "No job in this state." }}</p>
            </Show>
            <Show when=move || !jobs().is_empty()>
                <div class="table-scroll">
                    <table class="jobs">
                        <caption class="visually-hidden">{heading}</caption>
                        <thead>
                            <tr>
                                <Show when=move || can_operate.get()>
                                    <th scope="col" class="pick">
                                        <input type="checkbox" aria-label="Select the jobs of this page"
                                            prop:checked=page_picked
                                            on:change=move |ev| pick_page(event_target_checked(&ev))/>
                                    </th>
                                </Show>
                                <th scope="col">"Job"</th>
                                <th scope="col">"State"</th>
                                <th scope="col">"When"</th>
                                <th scope="col">"Attempts"</th>
                                <th scope="col">"Details"</th>
                            </tr>
                        </thead>
                        <tbody>
                            <For each=jobs key=row_key let:job>
                                <JobRow job now selected open picked all can_operate/>
                            </For>
                        </tbody>
                    </table>
                </div>
            </Show>
            <nav class="pager" aria-label="Pages">
                <button type="button" disabled=move || page_index() == 0 on:click=go_first>"First"</button>
                <button type="button" disabled=move || page_index() == 0 on:click=go_previous>"Previous"</button>
                <button type="button" disabled=move || next().is_none() on:click=go_next>
                    {move || if searching() { "Scan further" } else { "Next" }}
                </button>
            </nav>
        </div>
    }
    .into_any()
}

/// Which list a page belongs to: a state tab, or a search.
type ListKey = (JobState, Option<String>);

/// Where the operator is in a list: the cursors of the pages before, and this page's. Paging
/// belongs to one list; another tab or search starts at its first page.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paging {
    list: Option<ListKey>,
    before: Vec<Option<String>>,
    cursor: Option<String>,
}

impl Paging {
    /// This page's cursor in `list` (`None`: its first page).
    pub fn cursor_of(&self, list: &ListKey) -> Option<String> {
        self.same(list).then(|| self.cursor.clone()).flatten()
    }

    /// How many pages come before this one in `list`.
    pub fn index_of(&self, list: &ListKey) -> usize {
        if self.same(list) {
            self.before.len()
        } else {
            0
        }
    }

    /// On to the page at `cursor`.
    pub fn next(&mut self, list: ListKey, cursor: String) {
        if !self.same(&list) {
            *self = Paging {
                list: Some(list),
                ..Paging::default()
            };
        }
        let this = self.cursor.replace(cursor);
        self.before.push(this);
    }

    /// Back one page.
    pub fn previous(&mut self, list: &ListKey) {
        if self.same(list) {
            if let Some(cursor) = self.before.pop() {
                self.cursor = cursor;
            }
        }
    }

    fn same(&self, list: &ListKey) -> bool {
        self.list.as_ref() == Some(list)
    }
}

/// The list re-reads its page every this many live snapshots even when no count moved.
const REREAD_EVERY_UPDATES: u64 = 5;

/// A row's identity: the job, plus what a row shows that changes as the job moves (so a moved
/// job's row is drawn again while the others stay in place).
fn row_key(job: &JobSummary) -> (String, JobState, u64, Option<i64>, Option<i64>, String) {
    (
        job.id.clone(),
        job.state,
        job.attempts_made,
        job.processed_on,
        job.finished_on,
        job.progress.to_string(),
    )
}

/// When a job did what its state is about, for the When column.
pub fn when(job: &JobSummary) -> Option<(&'static str, i64)> {
    match job.state {
        JobState::Delayed => job.delay_until.map(|t| ("due", t)),
        JobState::Active => job.processed_on.map(|t| ("started", t)),
        JobState::Completed | JobState::Failed => job.finished_on.map(|t| ("finished", t)),
        _ => job.timestamp.map(|t| ("added", t)),
    }
}

/// The Details column: why it failed, how far it got, or what it carries.
pub fn details(job: &JobSummary) -> String {
    if let Some(reason) = &job.failed_reason {
        return reason.clone();
    }
    if job.state == JobState::Active {
        if let Some(p) = progress_percent(&job.progress) {
            return format!("{p:.0} % · {}", preview(&job.data, 80));
        }
    }
    if job.state == JobState::Completed {
        if let (Some(start), Some(end)) = (job.processed_on, job.finished_on) {
            return format!(
                "took {} · {}",
                duration(end.saturating_sub(start).max(0) as u64),
                preview(&job.data, 80)
            );
        }
    }
    let cut = if job.data_truncated { " (cut)" } else { "" };
    format!("{}{cut}", preview(&job.data, 120))
}

#[component]
fn JobRow(
    job: JobSummary,
    now: RwSignal<Option<i64>>,
    selected: Memo<Option<String>>,
    open: Callback<String>,
    picked: RwSignal<Vec<String>>,
    all: RwSignal<bool>,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let id = job.id.clone();
    let pick_label = format!("Select job {}", job.id);
    let (pick_id, check_id) = (id.clone(), id.clone());
    let is_selected = {
        let id = id.clone();
        move || selected.with(|s| s.as_deref() == Some(id.as_str()))
    };
    let label = format!("Open job {} ({})", job.id, job.name);
    let time = when(&job).map(|(what, at)| {
        view! {
            <time datetime=at.to_string() title=date_time(at)>
                {what} " " {move || ago(at, now.get())}
            </time>
        }
    });
    let priority = (job.priority > 0).then(|| format!(" · priority {}", job.priority));
    let attempts = format!("{} of {} started", job.attempts_made, job.attempts_started);
    let details_text = details(&job);
    let failed = job.failed_reason.is_some();
    let open_id = id.clone();
    view! {
        <tr data-job=id.clone() class:selected=is_selected.clone()
            aria-current=move || is_selected().then_some("true")>
            <Show when=move || can_operate.get()>
                <td class="pick">
                    <input type="checkbox" aria-label=pick_label.clone()
                        prop:checked={
                            let id = check_id.clone();
                            move || all.get() || picked.with(|p| p.contains(&id))
                        }
                        on:change={
                            let id = pick_id.clone();
                            move |ev| {
                                let on = event_target_checked(&ev);
                                picked.update(|p| {
                                    if on && !p.contains(&id) {
                                        p.push(id.clone());
                                    } else if !on {
                                        p.retain(|x| x != &id);
                                    }
                                });
                                if !on {
                                    all.set(false);
                                }
                            }
                        }/>
                </td>
            </Show>
            <th scope="row">
                <button type="button" class="link job-open" aria-label=label
                    on:click=move |_| open.run(open_id.clone())>
                    {job.name.clone()} <small>{format!(" #{}", job.id)}</small>
                </button>
            </th>
            <td><span class="state-badge" data-state=job.state.as_str()>{state_label(job.state)}</span>{priority}</td>
            <td>{time}</td>
            <td title=attempts>{job.attempts_made}</td>
            <td><code class=if failed { "data failure" } else { "data" }>{details_text}</code></td>
        </tr>
    }
    .into_any()
}

/// The prioritized jobs per priority, as bars (the lowest number runs first).
#[component]
fn PriorityBars(queue: String, changed: Signal<Option<u64>>) -> impl IntoView {
    let fetch = Action::new(|queue: &String| get_priorities(queue.clone()));
    Effect::new(move |_| {
        changed.track();
        fetch.dispatch(queue.clone());
    });
    let body = move || {
        fetch.value().get().map(|result| match result {
            Ok(priorities) => priority_table(&priorities),
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })
    };
    view! { <div class="priorities">{body}</div> }.into_any()
}

fn priority_table(priorities: &Priorities) -> AnyView {
    if priorities.priorities.is_empty() {
        return view! { <p class="empty">"No prioritized job."</p> }.into_any();
    }
    let most = priorities
        .priorities
        .iter()
        .map(|p| p.count)
        .max()
        .unwrap_or(1)
        .max(1);
    view! {
        <table class="priority-bars">
            <caption>"Ready jobs by priority (jobs without one run first, then the lowest number)"</caption>
            <thead><tr><th scope="col">"Priority"</th><th scope="col">"Jobs"</th></tr></thead>
            <tbody>
                {priorities.priorities.iter().map(|p| {
                    let width = format!("width: {:.1}%", p.count as f64 * 100.0 / most as f64);
                    view! {
                        <tr data-priority=p.priority.to_string()>
                            <th scope="row">{if p.priority == 0 { "0 (none)".to_owned() } else { p.priority.to_string() }}</th>
                            <td><span class="bar" style=width aria-hidden="true"></span>
                                <span class="bar-count">{p.count}</span></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {priorities.truncated.then(|| view! { <p class="note">"More priorities exist than shown."</p> })}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{JobPage, SearchPage};
    use serde_json::json;

    fn job(state: JobState) -> JobSummary {
        JobSummary {
            id: "7".into(),
            name: "send".into(),
            state,
            timestamp: Some(1_000),
            processed_on: Some(2_000),
            finished_on: Some(5_000),
            delay_until: Some(9_000),
            data: json!({"to": "a@b.c"}),
            ..Default::default()
        }
    }

    #[test]
    fn a_search_covers_every_state_and_a_page_one() {
        let mut request = ListRequest {
            queue: "mails".into(),
            state: JobState::Failed,
            search: None,
            cursor: Some("c1".into()),
        };
        assert_eq!(request.query().state, Some(JobState::Failed));
        assert_eq!(request.query().cursor.as_deref(), Some("c1"));
        request.search = Some("name:send".into());
        assert_eq!(request.query().state, None);
        assert_eq!(request.query().search.as_deref(), Some("name:send"));
    }

    #[test]
    fn paging_belongs_to_one_list() {
        let failed: ListKey = (JobState::Failed, None);
        let waiting: ListKey = (JobState::Waiting, None);
        let mut paging = Paging::default();
        assert_eq!(paging.cursor_of(&failed), None);
        paging.next(failed.clone(), "c1".into());
        paging.next(failed.clone(), "c2".into());
        assert_eq!(paging.cursor_of(&failed).as_deref(), Some("c2"));
        assert_eq!(paging.index_of(&failed), 2);
        // Another tab starts at its first page; coming back keeps nothing stale either way.
        assert_eq!(paging.cursor_of(&waiting), None);
        assert_eq!(paging.index_of(&waiting), 0);
        paging.previous(&failed);
        assert_eq!(paging.cursor_of(&failed).as_deref(), Some("c1"));
        paging.previous(&failed);
        paging.previous(&failed);
        assert_eq!(
            (paging.cursor_of(&failed), paging.index_of(&failed)),
            (None, 0)
        );
        paging.next(waiting.clone(), "w1".into());
        assert_eq!(paging.cursor_of(&failed), None);
        assert_eq!(paging.index_of(&waiting), 1);
    }

    #[test]
    fn notes_say_which_jobs_and_what_a_search_covered() {
        let page = JobsAnswer::Page(JobPage {
            jobs: vec![job(JobState::Waiting); 50],
            total: 120,
            next_cursor: Some("c".into()),
        });
        assert_eq!(page_note(&page, 1), "Jobs 51–100 of 120");
        let search = JobsAnswer::Search(SearchPage {
            jobs: vec![job(JobState::Failed)],
            scanned: 10_000,
            total: 25_000,
            complete: false,
            next_cursor: Some("s".into()),
        });
        assert_eq!(
            page_note(&search, 0),
            "1 match in 10000 jobs scanned of 25000 · more jobs are left to scan"
        );
    }

    #[test]
    fn rows_say_when_and_what_fits_the_state() {
        assert_eq!(when(&job(JobState::Delayed)), Some(("due", 9_000)));
        assert_eq!(when(&job(JobState::Active)), Some(("started", 2_000)));
        assert_eq!(when(&job(JobState::Failed)), Some(("finished", 5_000)));
        assert_eq!(when(&job(JobState::Waiting)), Some(("added", 1_000)));
        let mut failed = job(JobState::Failed);
        failed.failed_reason = Some("boom".into());
        assert_eq!(details(&failed), "boom");
        assert_eq!(
            details(&job(JobState::Completed)),
            "took 3 s · {\"to\":\"a@b.c\"}"
        );
        let mut big = job(JobState::Waiting);
        big.data_truncated = true;
        big.data = json!("{\"blob\": \"xxxx");
        assert_eq!(details(&big), "{\"blob\": \"xxxx (cut)");
    }
}
