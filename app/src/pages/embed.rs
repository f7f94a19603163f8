//! `/embed`: the [`JobMonitor`] as another app would embed it, authenticated by a bearer token
//! the host page holds (here: `sessionStorage["monitor-token"]`) instead of our session cookie.
//! It shows, and the browser tests prove, that every request and the live stream then carry
//! the `Authorization` header. The page itself holds no data: the monitor mounts only in the
//! browser, where the token is.

use crate::components::job_monitor::JobMonitor;
use leptos::prelude::*;

/// Where the example host page keeps its token.
pub const TOKEN_KEY: &str = "monitor-token";

/// The host page's token, from `sessionStorage`.
fn stored_token() -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|window| window.session_storage().ok().flatten())
            .and_then(|storage| storage.get_item(TOKEN_KEY).ok().flatten())
    }
    #[cfg(not(feature = "hydrate"))]
    None
}

/// `/embed`.
#[component]
pub fn EmbedPage() -> impl IntoView {
    let in_browser = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| in_browser.set(true));
    let has_token = move || in_browser.get() && stored_token().is_some();
    view! {
        <header class="topbar">
            <h1>"BullMQ monitor (embedded)"</h1>
        </header>
        <main class="dashboard">
            <Show when=move || in_browser.get() && !has_token()>
                <p class="notice">
                    "This page shows the monitor as another app embeds it, with a bearer token. Put a token in "
                    <code>{format!("sessionStorage[\"{TOKEN_KEY}\"]")}</code> " and reload."
                </p>
            </Show>
            <Show when=has_token>
                <JobMonitor get_auth_token=Callback::new(|()| stored_token()) refresh_interval=2000/>
            </Show>
        </main>
    }
    .into_any()
}
