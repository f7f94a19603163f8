//! The dashboard (`/`): who is signed in and every queue with its counts. Rendered on the server
//! with real numbers (the route waits for its data), then hydrated; "Refresh" re-reads through the
//! server function.

use crate::api::{get_overview, get_viewer};
use crate::error::ApiError;
use crate::model::{Overview, QueueSummary, Viewer};
use leptos::prelude::*;

/// `/`.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let viewer = Resource::new(|| (), |_| get_viewer());
    let refresh = RwSignal::new(0_u32);
    let overview = Resource::new(move || refresh.get(), |_| get_overview());
    view! {
        <header class="topbar">
            <h1>"BullMQ monitor"</h1>
            <Suspense fallback=|| ()>
                {move || viewer.get().map(|result| match result {
                    Ok(viewer) => view! { <ViewerBadge viewer/> }.into_any(),
                    Err(_) => view! { <a href="/login">"Sign in"</a> }.into_any(),
                })}
            </Suspense>
        </header>
        <main class="dashboard">
            <div class="toolbar">
                <button
                    class="refresh"
                    on:click=move |_| refresh.update(|n| *n += 1)
                >
                    "Refresh"
                </button>
            </div>
            <Suspense fallback=|| view! { <p class="loading">"Loading queues…"</p> }>
                {move || overview.get().map(|result| match result {
                    Ok(overview) => view! { <QueueTable overview/> }.into_any(),
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

/// Every queue with its counts.
#[component]
fn QueueTable(overview: Overview) -> impl IntoView {
    let empty = overview.queues.is_empty();
    let prefix = overview.prefix.clone();
    view! {
        <p class="updated">
            "Prefix " <code>{overview.prefix.clone()}</code>
            " · last updated " <time class="timestamp">{overview.timestamp.clone()}</time>
        </p>
        {empty.then(|| view! {
            <p class="empty">"No BullMQ queues found under prefix " <code>{prefix.clone()}</code> "."</p>
        })}
        <table class="queues" class:hidden=empty>
            <thead>
                <tr>
                    <th>"Queue"</th>
                    <th>"Waiting"</th>
                    <th>"Active"</th>
                    <th>"Delayed"</th>
                    <th>"Completed"</th>
                    <th>"Failed"</th>
                    <th>"Status"</th>
                </tr>
            </thead>
            <tbody>
                {overview.queues.into_iter().map(|queue| view! { <QueueRow queue/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn QueueRow(queue: QueueSummary) -> impl IntoView {
    let counts = queue.counts;
    view! {
        <tr class="queue" data-queue=queue.queue_name.clone()>
            <th scope="row">
                {queue.queue_name.clone()}
                <small class="version">{queue.bullmq_version.unwrap_or_default()}</small>
            </th>
            <td data-state="waiting">{counts.waiting}</td>
            <td data-state="active">{counts.active}</td>
            <td data-state="delayed">{counts.delayed}</td>
            <td data-state="completed">{counts.completed}</td>
            <td data-state="failed">{counts.failed}</td>
            <td>
                {if queue.paused {
                    view! { <span class="badge paused">"paused"</span> }.into_any()
                } else {
                    view! { <span class="badge running">"running"</span> }.into_any()
                }}
            </td>
        </tr>
    }
}
