//! What the dashboard loads once it is hydrated: the live feed's machinery, the firing alerts'
//! count, the stuck jobs, trends and the history chart. None of it is needed to paint or
//! hydrate the first reading (the queue table and totals), so it stays out of the first
//! paint's wasm: the server renders placeholders (`StuckPlaceholder`, `TrendsPlaceholder`),
//! the browser hydrates the same, then loads [`Deferred`] and each part takes its
//! placeholder's place.
//!
//! One `#[lazy]` function for all of it, not one each: the splitter puts code shared by several
//! lazy functions in a file per combination of them, so one each cost 66 requests after
//! hydration (measured) where one costs 28.

use crate::api::get_metrics;
use crate::components::alerts::FiringButton;
use crate::components::stuck::StuckPanel;
use crate::components::trends::Trends;
use crate::live::FeedTask;
use crate::model::Metrics;
use leptos::prelude::*;
use std::future::Future;
use std::pin::Pin;

/// A running feed (it ends when the feed's component is disposed).
pub type FeedRun = Pin<Box<dyn Future<Output = ()>>>;

/// The deferred parts, as plain functions living in their own wasm chunk.
#[derive(Clone, Copy)]
pub struct Deferred {
    /// Runs the dashboard's live feed (stream reader, SSE parser, deltas, polling).
    pub feed: fn(FeedTask<Metrics>) -> FeedRun,
    /// The firing alerts' count in the bar, given the live updates and the panel's switch.
    pub firing: fn(Signal<u64>, RwSignal<bool>) -> AnyView,
    /// The stuck jobs, given the live updates, the Refresh count and whether one may operate.
    pub stuck: fn(Signal<u64>, RwSignal<u32>, Signal<bool>) -> AnyView,
    /// Trends and the history chart, given their refresh count and the queues' names.
    pub trends: fn(RwSignal<u32>, Memo<Vec<String>>) -> AnyView,
}

/// Loads the deferred chunk (once; later calls answer at once).
#[lazy]
pub fn load_deferred() -> Deferred {
    Deferred {
        feed: |task| Box::pin(task.run(get_metrics)),
        firing: |updates, show_alerts| view! { <FiringButton updates show_alerts/> }.into_any(),
        stuck: |updates, refresh, can_operate| {
            view! { <StuckPanel updates refresh can_operate/> }.into_any()
        },
        trends: |refresh, queue_names| view! { <Trends refresh queue_names/> }.into_any(),
    }
}

/// The deferred parts once loaded: `None` on the server and until the chunk has arrived.
/// Starts the load when the page is hydrated (effects run only in the browser).
pub fn use_deferred() -> ReadSignal<Option<Deferred>> {
    let (loaded, set_loaded) = signal(None::<Deferred>);
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            let _ = set_loaded.try_set(Some(load_deferred().await));
        });
    });
    loaded
}
