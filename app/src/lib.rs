//! The BullMQ monitor's shared crate.
//!
//! Layout:
//! - [`shell`] and [`App`] — the HTML document and the router (server-rendered, then hydrated).
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
pub mod pages;
pub mod role;
pub mod sse;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

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
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <link rel="stylesheet" id="leptos" href=stylesheet_href(&options)/>
                <HydrationScripts options/>
                <MetaTags/>
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

/// The application: routes plus a `data-hydrated` marker that turns `true` once the WASM has
/// taken over, so browser tests (and people debugging) can tell a live page from a static one.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let hydrated = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| hydrated.set(true));
    view! {
        <Title text="BullMQ monitor"/>
        <Router>
            <div class="app" data-hydrated=move || hydrated.get().to_string()>
                <Routes fallback=|| view! { <p class="not-found">"Page not found."</p> }>
                    <Route path=path!("/") view=pages::dashboard::DashboardPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=pages::login::LoginPage/>
                    <Route path=path!("/embed") view=pages::embed::EmbedPage/>
                </Routes>
            </div>
        </Router>
    }
}
