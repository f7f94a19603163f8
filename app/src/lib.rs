//! The BullMQ monitor's shared crate.
//!
//! Layout:
//! - [`shell`] and [`App`] — the HTML document and the page its URL names ([`page_url`]),
//!   server-rendered, then hydrated.
//! - [`pages`] — one module per page: the dashboard, sign-in, and an embedding example.
//! - [`components`] — the embeddable `JobMonitor` and its parts.
//! - [`live`] — live data: the SSE stream read with `fetch`, back-off, polling fallback;
//!   [`sse`] parses the stream.
//! - [`api`] — server functions, thin wrappers around auth and [`ssr::service`]; [`client`]
//!   sends them from the browser (base URL, `Authorization` header).
//! - [`model`], [`error`], [`role`] — types shared by server and browser.
//! - [`ssr`] (feature `ssr` only): configuration, auth, state and the Redis/BullMQ layer.

// The explorer's job list is one deeply nested view type (tabs, bulk bar, table, pager); a
// debug build computing its layout needs more than the default 128 levels.
#![recursion_limit = "256"]

pub mod api;
pub mod client;
pub mod codec;
pub mod components;
pub mod error;
pub mod live;
pub mod model;
pub mod page_url;
pub mod pages;
pub mod role;
pub mod sse;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use page_url::Page;

/// The name cargo-leptos gives the site's JS/WASM/CSS files (`/pkg/monitor.*`).
pub const OUTPUT_NAME: &str = "monitor";

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::page_policy::apply();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // Every page has this title: a static tag costs the wasm nothing (a reactive
                // `<Title>` would bring leptos_meta into it).
                <title>"BullMQ monitor"</title>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <link rel="stylesheet" id="leptos" href=stylesheet_href(&options)/>
                <HydrationScripts options/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The stylesheet's URL: its content-hashed name when the server serves hashed names (the
/// `css:` line of leptos's hash file, see the server's `assets`), else the plain one. Linked
/// from the document's head, which only the server renders.
fn stylesheet_href(options: &LeptosOptions) -> String {
    let pkg = &options.site_pkg_dir;
    #[cfg(feature = "ssr")]
    if options.hash_files {
        let hashes = std::fs::read_to_string(options.hash_file.as_ref()).unwrap_or_default();
        let hash = hashes
            .lines()
            .find_map(|line| line.trim().strip_prefix("css:"))
            .map(str::trim);
        if let Some(hash) = hash {
            return format!("/{pkg}/{OUTPUT_NAME}.{hash}.css");
        }
    }
    format!("/{pkg}/{OUTPUT_NAME}.css")
}

/// The application: the page its URL names plus a `data-hydrated` marker that turns `true`
/// once the WASM has taken over, so browser tests (and people debugging) can tell a live page
/// from a static one. Pages are whole documents (no client-side router, see [`page_url`]);
/// the explorer keeps its position in the URL itself, which
/// [`components::explorer::location::UrlSync`] allows.
#[component]
pub fn App() -> impl IntoView {
    provide_context(components::explorer::location::UrlSync);
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| hydrated.set(true));
    let page = match Page::at(&page_url::path()) {
        Page::Dashboard => view! { <pages::dashboard::DashboardPage/> }.into_any(),
        Page::Login => view! { <pages::login::LoginPage/> }.into_any(),
        Page::Embed => view! { <pages::embed::EmbedPage/> }.into_any(),
        Page::NotFound => {
            #[cfg(feature = "ssr")]
            if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
                response.set_status(http::StatusCode::NOT_FOUND);
            }
            view! { <p class="not-found">"Page not found."</p> }.into_any()
        }
    };
    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>{page}</div>
    }
}
