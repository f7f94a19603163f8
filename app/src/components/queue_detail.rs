//! One queue up close: the job explorer (state tabs with live counts, search, lists, the open
//! job), its workers, schedulers and limits (`queue_setup`), and its longest-running active jobs (progress, running time, attempts, data), following
//! the queue's own live stream (polling its server function as the fallback).

use crate::api::get_queue_live;
use crate::client::api_path;
use crate::components::explorer::location::{ExplorerLocation, LocationHandle, Step};
use crate::components::explorer::JobExplorer;
use crate::components::format::{clock, duration, path_segment, preview, progress_percent};
use crate::components::notice::ErrorNotice;
use crate::components::queue_setup::QueueSetupPanel;
use crate::live::{newest, use_live_feed, FeedConfig};
use crate::model::ActiveJobView;
use leptos::prelude::*;

/// The detail panel of `name`. Recreated (with a new stream) when another queue is chosen.
#[component]
pub fn QueueDetail(
    name: String,
    api_url: String,
    auto_refresh: bool,
    refresh_interval: u32,
    location: LocationHandle,
    can_operate: Signal<bool>,
) -> impl IntoView {
    // The panel only ever appears in the browser (after a click), so its first reading is an
    // action dispatched at once rather than a resource the server would render.
    let first = {
        let name = name.clone();
        Action::new(move |_: &()| get_queue_live(name.clone()))
    };
    first.dispatch(());
    let config = FeedConfig {
        stream_url: api_path(
            &api_url,
            &format!("/api/v1/admin/jobs/queue/{}/live", path_segment(&name)),
        ),
        auto_refresh,
        refresh_interval_ms: refresh_interval,
    };
    let poll_name = name.clone();
    let feed = use_live_feed(config, move |task| {
        task.run(move || get_queue_live(poll_name.clone()))
    });
    let current = Memo::new(move |_| {
        let fetched = first.value().get().and_then(Result::ok);
        newest(feed.latest.get(), fetched)
    });
    let error = move || match (current.with(Option::is_some), first.value().get()) {
        (false, Some(Err(error))) => Some(view! { <ErrorNotice error/> }),
        _ => None,
    };
    let counts =
        Signal::derive(move || current.with(|c| c.as_ref().map(|c| c.queue.counts.clone())));
    let close = Callback::new(move |()| location.go(ExplorerLocation::default(), Step::Push));
    view! {
        <section class="queue-detail" aria-labelledby="detail-title" data-detail=name.clone()
            on:keydown=move |ev| if ev.key() == "Escape" { close.run(()) }>
            <div class="section-head">
                <h2 id="detail-title">{format!("Queue {name}")}</h2>
                <span class="connection" data-connection=move || feed.connection.get().as_str()>
                    {move || feed.connection.get().label()}
                </span>
                <button type="button" on:click=move |_| close.run(())>"Close"</button>
            </div>
            {error}
            <p class="updated">
                {move || current.with(|c| c.as_ref().map(|c| {
                    let paused = if c.queue.paused { "paused · " } else { "" };
                    format!("{paused}updated {}", clock(&c.timestamp))
                }))}
            </p>
            <JobExplorer queue=name.clone() api_url=api_url.clone() location counts
                updates=feed.updates.into() can_operate/>
            <QueueSetupPanel name=name.clone() counts can_operate/>
            <h3>"Longest-running active jobs"</h3>
            {move || current.with(|c| c.as_ref().map(|c| active_jobs(&c.active_jobs, c.active_jobs_truncated)))}
        </section>
    }
    .into_any()
}

fn active_jobs(jobs: &[ActiveJobView], truncated: bool) -> AnyView {
    if jobs.is_empty() {
        return view! { <p class="empty">"No job is active."</p> }.into_any();
    }
    view! {
        <div class="table-scroll">
            <table class="active-jobs">
                <thead>
                    <tr>
                        <th scope="col">"Job"</th>
                        <th scope="col">"Progress"</th>
                        <th scope="col">"Running for"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col">"Data"</th>
                    </tr>
                </thead>
                <tbody>
                    {jobs.iter().map(|job| {
                        let progress = match progress_percent(&job.progress) {
                            Some(p) => view! {
                                <progress max="100" value=p.to_string() aria-label=format!("{p:.0} %")></progress>
                                <span>{format!(" {p:.0} %")}</span>
                            }.into_any(),
                            None => view! { <span>{preview(&job.progress, 40)}</span> }.into_any(),
                        };
                        view! {
                            <tr data-job=job.job_id.clone()>
                                <th scope="row">{job.job_name.clone()} <small>{format!(" #{}", job.job_id)}</small></th>
                                <td>{progress}</td>
                                <td data-field="running-for">{duration(job.running_for)}</td>
                                <td>{job.attempts_made}</td>
                                <td><code class="data">{preview(&job.data, 120)}</code></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
        {truncated.then(|| view! { <p class="note">"Showing the 100 longest-running jobs."</p> })}
    }
    .into_any()
}
