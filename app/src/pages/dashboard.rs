//! The dashboard (`/`): who is signed in, and the [`JobMonitor`] on the same origin (the session
//! cookie authenticates; the page guard has already sent signed-out visitors to `/login`).

use crate::components::job_monitor::{use_viewer, JobMonitor};
use crate::model::Viewer;
use leptos::prelude::*;

/// `/`.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let viewer = use_viewer();
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
            <JobMonitor/>
        </main>
    }
    .into_any()
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
    .into_any()
}
