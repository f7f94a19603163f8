//! Stuck jobs: active longer than the server's threshold, longest first, with severity (colour
//! and word), how long, name and id, a data preview and whether a worker still holds the lock.
//! Operators get a Retry… button that opens the retry form below the list; the form lives
//! outside the list so a refresh of the list never closes it or loses its outcome.

use crate::api::get_stuck_alerts;
use crate::components::format::{duration, preview};
use crate::components::notice::ErrorNotice;
use crate::components::retry_form::RetryForm;
use crate::model::{StuckJob, StuckReport};
use leptos::prelude::*;

/// Stuck jobs are re-read every this many live snapshots (every 20 s at the default 2 s).
const STUCK_EVERY_UPDATES: u64 = 10;

/// How many characters of a job's data the list shows.
const PREVIEW_CHARS: usize = 160;

fn key(job: &StuckJob) -> String {
    format!("{}\u{0}{}", job.queue_name, job.job_id)
}

/// What the list leaves out, in words: more stuck jobs than shown, and queues whose active
/// list is longer than one scan reads.
pub fn bounds_note(report: &StuckReport) -> Option<String> {
    let mut notes = Vec::new();
    if (report.jobs.len() as u64) < report.total {
        notes.push(format!(
            "Showing the {} longest stuck of {}.",
            report.jobs.len(),
            report.total
        ));
    }
    if !report.capped_queues.is_empty() {
        notes.push(format!(
            "Only the oldest {} active jobs of {} were checked.",
            report.scanned_per_queue,
            report.capped_queues.join(", ")
        ));
    }
    (!notes.is_empty()).then(|| notes.join(" "))
}

/// The retry form, in a wasm chunk of its own loaded when an operator first opens it.
#[lazy]
fn retry_form_view(queue_name: String, job_id: String, on_close: Callback<()>) -> AnyView {
    view! { <RetryForm queue_name job_id on_close/> }.into_any()
}

/// The stuck-jobs panel with its own readings: on mount, with every [`STUCK_EVERY_UPDATES`]
/// live updates and on every `refresh`. A failed read shows its error above the last report.
#[component]
pub fn StuckPanel(
    updates: Signal<u64>,
    refresh: RwSignal<u32>,
    can_operate: Signal<bool>,
) -> impl IntoView {
    let read = Action::new(|_: &()| get_stuck_alerts());
    Effect::new(move |previous: Option<(u64, u32)>| {
        let due = (updates.get() / STUCK_EVERY_UPDATES, refresh.get());
        if previous != Some(due) {
            read.dispatch(());
        }
        due
    });
    let last = RwSignal::new(None::<StuckReport>);
    Effect::new(move |_| {
        if let Some(Ok(report)) = read.value().get() {
            last.set(Some(report));
        }
    });
    let report = Memo::new(move |_| last.get().unwrap_or_default());
    let error = move || match read.value().get() {
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }),
        _ => None,
    };
    view! {
        {error}
        <Show
            when=move || last.with(Option::is_some)
            fallback=move || read.pending().get().then(StuckPlaceholder)
        >
            <StuckJobs report can_operate/>
        </Show>
    }
}

/// Where the stuck jobs will be: rendered by the server, and in the browser until their chunk
/// (`components::deferred`) and their first reading have arrived.
#[component]
pub fn StuckPlaceholder() -> impl IntoView {
    view! {
        <section class="stuck-placeholder" aria-busy="true">
            <h2>"Stuck jobs"</h2>
            <p class="loading">"Loading stuck jobs…"</p>
        </section>
    }
}

/// The stuck-jobs panel.
#[component]
pub fn StuckJobs(report: Memo<StuckReport>, can_operate: Signal<bool>) -> impl IntoView {
    let retrying = RwSignal::new(None::<StuckJob>);
    let count = move || report.with(|r| r.total);
    let note = move || report.with(bounds_note);
    view! {
        <section class="stuck" aria-labelledby="stuck-title">
            <h2 id="stuck-title">"Stuck jobs " <span class="count">{count}</span></h2>
            <Show when=move || count() == 0>
                <p class="empty">"No job has been active longer than the threshold."</p>
            </Show>
            {move || note().map(|note| view! { <p class="note stuck-bounds">{note}</p> })}
            <ul>
                <For each=move || report.with(|r| r.jobs.clone()) key=key let:job>
                    <StuckItem job can_operate on_retry=Callback::new(move |job| retrying.set(Some(job)))/>
                </For>
            </ul>
            {move || retrying.get().map(|job| {
                let on_close = Callback::new(move |()| retrying.set(None));
                view! {
                    <Suspense fallback=|| view! { <p class="loading">"Loading the form…"</p> }>
                        {Suspend::new(retry_form_view(job.queue_name.clone(), job.job_id.clone(), on_close))}
                    </Suspense>
                }
            })}
        </section>
    }
    .into_any()
}

#[component]
fn StuckItem(
    job: StuckJob,
    can_operate: Signal<bool>,
    on_retry: Callback<StuckJob>,
) -> impl IntoView {
    let severity = format!("{:?}", job.severity).to_lowercase();
    let severity_text = severity.clone();
    let data = preview(&job.data, PREVIEW_CHARS);
    let truncated = job.data_truncated || data.ends_with('…');
    let lock = if job.lock_held {
        "worker still holds the lock"
    } else {
        "no lock: the worker is gone"
    };
    let label = format!("Retry job {} of {}…", job.job_id, job.queue_name);
    let for_retry = job.clone();
    view! {
        <li class="stuck-job" data-severity=severity data-job=job.job_id.clone()>
            <span class="severity">{severity_text}</span>
            <div class="what">
                <strong>{job.job_name.clone()}</strong>
                " #" {job.job_id.clone()} " in " {job.queue_name.clone()}
                " · active for " <span class="duration">{duration(job.stuck_duration)}</span>
                " · " <span class="lock" data-lock=job.lock_held.to_string()>{lock}</span>
                <code class="data" title=if truncated { "preview, cut" } else { "data" }>{data}</code>
            </div>
            <Show when=move || can_operate.get()>
                <button type="button" class="control" aria-label=label.clone()
                    on:click={
                        let job = for_retry.clone();
                        move |_| on_retry.run(job.clone())
                    }>
                    "Retry…"
                </button>
            </Show>
        </li>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_says_what_the_list_leaves_out() {
        let mut report = StuckReport {
            total: 0,
            limit: 500,
            scanned_per_queue: 10_000,
            ..StuckReport::default()
        };
        assert_eq!(bounds_note(&report), None);
        report.total = 700;
        report.capped_queues = vec!["mails".into()];
        let note = bounds_note(&report).expect("a note");
        assert!(note.contains("of 700"), "{note}");
        assert!(note.contains("oldest 10000 active jobs of mails"), "{note}");
    }
}
