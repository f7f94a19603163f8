//! The dashboard (`/`): who is signed in, totals, success and processing rates, and every queue
//! with its counts. Rendered on the server with real numbers (the route waits for its data), then
//! hydrated; after that it follows the live stream, and "Refresh" re-reads through the server
//! function.

use crate::api::{get_metrics, get_stuck_alerts, get_viewer, set_queue_paused};
use crate::error::ApiError;
use crate::live::use_live_metrics;
use crate::model::{Metrics, QueueMetrics, StuckJob, Viewer};
use leptos::prelude::*;

/// `/`.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let viewer = Resource::new(|| (), |_| get_viewer());
    let refresh = RwSignal::new(0_u32);
    let fetched = Resource::new(move || refresh.get(), |_| get_metrics());
    let (live, connection) = use_live_metrics();
    let stuck = Resource::new(move || refresh.get(), |_| get_stuck_alerts());
    let can_operate = move || {
        viewer
            .get()
            .and_then(Result::ok)
            .is_some_and(|viewer| viewer.role.can_operate())
    };
    // Pause/resume, reported in place; a success re-reads at once (the live stream follows too).
    let toggle =
        Action::new(|(queue, pause): &(String, bool)| set_queue_paused(queue.clone(), *pause));
    Effect::new(move |_| {
        if let Some(Ok(_)) = toggle.value().get() {
            refresh.update(|n| *n += 1);
        }
    });
    let on_toggle = Callback::new(move |request: (String, bool)| {
        toggle.dispatch(request);
    });
    // The newest of the live snapshot and the last fetch (by timestamp; both are RFC 3339 UTC).
    let current = move || {
        let fetched = fetched.get();
        match (live.get(), fetched) {
            (Some(live), Some(Ok(fetched))) if fetched.timestamp > live.timestamp => {
                Some(Ok(fetched))
            }
            (Some(live), _) => Some(Ok(live)),
            (None, fetched) => fetched,
        }
    };
    view! {
        <header class="topbar">
            <h1>"BullMQ monitor"</h1>
            <span class="connection" data-connection=move || connection.get().as_str()>
                {move || connection.get().label()}
            </span>
            <Suspense fallback=|| ()>
                {move || viewer.get().map(|result| match result {
                    Ok(viewer) => view! { <ViewerBadge viewer/> }.into_any(),
                    Err(_) => view! { <a href="/login">"Sign in"</a> }.into_any(),
                })}
            </Suspense>
        </header>
        <main class="dashboard">
            <div class="toolbar">
                <button class="refresh" on:click=move |_| refresh.update(|n| *n += 1)>
                    "Refresh"
                </button>
            </div>
            {move || toggle.value().get().map(|result| match result {
                Ok(reply) => view! {
                    <p class="outcome" role="status">
                        {if reply.paused { "Paused " } else { "Resumed " }}
                        {reply.queue_name}
                        {(!reply.changed).then_some(" (it already was)")}
                    </p>
                }.into_any(),
                Err(error) => view! { <ErrorNotice error/> }.into_any(),
            })}
            <Suspense fallback=|| view! { <p class="loading">"Loading queues…"</p> }>
                {move || current().map(|result| match result {
                    Ok(metrics) => view! {
                        <Summary metrics=metrics.clone()/>
                        <QueueTable metrics can_operate=can_operate() on_toggle/>
                    }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                })}
            </Suspense>
            <Suspense fallback=|| ()>
                {move || stuck.get().map(|result| match result {
                    Ok(jobs) => view! { <StuckJobs jobs/> }.into_any(),
                    Err(error) => view! { <ErrorNotice error/> }.into_any(),
                })}
            </Suspense>
        </main>
    }
}

/// The signed-in user and a sign-out button.
#[component]
fn ViewerBadge(viewer: Viewer) -> impl IntoView {
    view! {
        <div class="viewer">
            <span class="subject">{viewer.subject}</span>
            <span class="role" data-role=viewer.role.as_str()>{viewer.role.as_str()}</span>
            <form method="post" action="/auth/logout">
                <button type="submit" class="link">"Sign out"</button>
            </form>
        </div>
    }
}

/// An API error, in place. Unauthorized errors offer the sign-in page.
#[component]
fn ErrorNotice(error: ApiError) -> impl IntoView {
    let sign_in = error.is_unauthorized();
    view! {
        <div class="error" role="alert">
            <strong>{error.error.clone()}</strong>
            ": "
            {error.message.clone()}
            {sign_in.then(|| view! { " " <a href="/login">"Sign in again"</a> })}
        </div>
    }
}

/// Totals and rates across all queues.
#[component]
fn Summary(metrics: Metrics) -> impl IntoView {
    let totals = metrics.totals;
    let success = match metrics.success_rate {
        Some(rate) => format!("{rate:.2} %"),
        None => "–".to_owned(),
    };
    view! {
        <section class="summary" aria-label="Totals">
            <div class="stat"><span class="label">"Waiting"</span><span class="value" data-total="waiting">{totals.waiting}</span></div>
            <div class="stat"><span class="label">"Active"</span><span class="value" data-total="active">{totals.active}</span></div>
            <div class="stat"><span class="label">"Delayed"</span><span class="value" data-total="delayed">{totals.delayed}</span></div>
            <div class="stat"><span class="label">"Completed"</span><span class="value" data-total="completed">{totals.completed}</span></div>
            <div class="stat"><span class="label">"Failed"</span><span class="value" data-total="failed">{totals.failed}</span></div>
            <div class="stat">
                <span class="label">"Success rate"</span>
                <span class="value" data-total="success-rate">{success}</span>
                <small>{format!("last {} finished", metrics.success_rate_sample)}</small>
            </div>
            <div class="stat">
                <span class="label">"Processing"</span>
                <span class="value" data-total="processing-rate">{format!("{:.1}/min", metrics.processing_rate)}</span>
            </div>
        </section>
    }
}

/// Every queue with its counts; pause/resume buttons for roles that may operate.
#[component]
fn QueueTable(
    metrics: Metrics,
    can_operate: bool,
    on_toggle: Callback<(String, bool)>,
) -> impl IntoView {
    let empty = metrics.queues.is_empty();
    view! {
        <p class="updated">
            "Last updated " <time class="timestamp">{metrics.timestamp.clone()}</time>
        </p>
        {empty.then(|| view! { <p class="empty">"No BullMQ queues found under this prefix."</p> })}
        <table class="queues" class:hidden=empty>
            <thead>
                <tr>
                    <th>"Queue"</th>
                    <th>"Waiting"</th>
                    <th>"Active"</th>
                    <th>"Delayed"</th>
                    <th>"Completed"</th>
                    <th>"Failed"</th>
                    <th>"Success"</th>
                    <th>"Status"</th>
                    {can_operate.then(|| view! { <th>"Control"</th> })}
                </tr>
            </thead>
            <tbody>
                {metrics
                    .queues
                    .into_iter()
                    .map(|queue| view! { <QueueRow queue can_operate on_toggle/> })
                    .collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn QueueRow(
    queue: QueueMetrics,
    can_operate: bool,
    on_toggle: Callback<(String, bool)>,
) -> impl IntoView {
    let summary = queue.summary;
    let name = summary.queue_name.clone();
    let paused = summary.paused;
    let counts = summary.counts;
    let success = queue
        .success_rate
        .map(|rate| format!("{rate:.1} %"))
        .unwrap_or_else(|| "–".to_owned());
    view! {
        <tr class="queue" data-queue=summary.queue_name.clone()>
            <th scope="row">
                {summary.queue_name.clone()}
                <small class="version">{summary.bullmq_version.unwrap_or_default()}</small>
            </th>
            <td data-state="waiting">{counts.waiting}</td>
            <td data-state="active">{counts.active}</td>
            <td data-state="delayed">{counts.delayed}</td>
            <td data-state="completed">{counts.completed}</td>
            <td data-state="failed">{counts.failed}</td>
            <td data-state="success-rate">{success}</td>
            <td>
                {if summary.paused {
                    view! { <span class="badge paused">"paused"</span> }.into_any()
                } else {
                    view! { <span class="badge running">"running"</span> }.into_any()
                }}
            </td>
            {can_operate.then(|| view! {
                <td>
                    <button
                        class="control"
                        on:click=move |_| on_toggle.run((name.clone(), !paused))
                    >
                        {if paused { "Resume" } else { "Pause" }}
                    </button>
                </td>
            })}
        </tr>
    }
}

/// Active jobs running longer than the stuck threshold, longest first.
#[component]
fn StuckJobs(jobs: Vec<StuckJob>) -> impl IntoView {
    let count = jobs.len();
    view! {
        <section class="stuck" aria-label="Stuck jobs">
            <h2>"Stuck jobs " <span class="count">{count}</span></h2>
            {(count == 0).then(|| view! { <p class="empty">"No job has been active longer than the threshold."</p> })}
            <ul>
                {jobs
                    .into_iter()
                    .map(|job| {
                        let minutes = job.stuck_duration / 60_000;
                        let seconds = (job.stuck_duration / 1000) % 60;
                        let severity = format!("{:?}", job.severity).to_lowercase();
                        let label = severity.clone();
                        view! {
                            <li class="stuck-job" data-severity=severity>
                                <span class="severity">{label}</span>
                                <strong>{job.job_name}</strong>
                                " #" {job.job_id} " in " {job.queue_name}
                                " · " {format!("{minutes} min {seconds} s")}
                                " · "
                                {if job.lock_held { "worker still holds the lock" } else { "no lock: the worker is gone" }}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}
