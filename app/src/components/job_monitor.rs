//! `JobMonitor`: the whole dashboard as one component, with the props of the React original so
//! it can be embedded in another Leptos app pointing at a remote API.
//!
//! Reads and actions go through server functions (the same service code as the REST API); live
//! numbers come from the `/live` stream with polling as the fallback (see [`crate::live`]).
//! Rendered on the server with real numbers: the first readings are awaited inside a
//! `Transition`, so the server waits for them and the browser hydrates from the same values;
//! after that, everything arrives through signals, so live updates change numbers in place.

use crate::api::{clear_queue, get_metrics, get_viewer, set_queue_paused};
use crate::client::api_path;
use crate::components::deferred::{load_deferred, use_deferred};
use crate::components::explorer::location::{ExplorerLocation, LocationHandle, Step};
use crate::components::format::{clock, epoch_ms};
use crate::components::notice::{ErrorNotice, Outcome};
use crate::components::queue_detail::QueueDetail;
use crate::components::queues::{ClearDialog, QueueTable, RowActions};
use crate::components::stuck::StuckPlaceholder;
use crate::components::summary::Summary;
use crate::components::trends::{RefreshCadence, TrendsPlaceholder};
use crate::error::ApiError;
use crate::live::{newest, use_live_feed, FeedConfig};
use crate::model::{ClearKind, ClearReply, PauseReply};
use leptos::prelude::*;

/// What a pause or resume did, in words.
pub fn describe_pause(reply: &PauseReply) -> String {
    let verb = if reply.paused { "Paused" } else { "Resumed" };
    let already = if reply.changed {
        ""
    } else {
        " (it already was)"
    };
    format!("{verb} {}{already}", reply.queue_name)
}

/// What a clear did, in words.
pub fn describe_clear(reply: &ClearReply) -> String {
    let jobs = if reply.removed == 1 { "job" } else { "jobs" };
    format!(
        "Removed {} {jobs} from {} ({} completed, {} failed)",
        reply.removed, reply.queue_name, reply.completed, reply.failed
    )
}

/// The clear dialog, in a wasm chunk of its own loaded when an operator first opens it.
#[lazy]
fn clear_dialog_view(
    queue: String,
    metrics: Memo<Option<crate::model::Metrics>>,
    on_confirm: Callback<(String, ClearKind)>,
    on_cancel: Callback<()>,
) -> AnyView {
    view! { <ClearDialog queue metrics on_confirm on_cancel/> }.into_any()
}

/// The failure groups and bulk operations, in a wasm chunk of their own loaded after hydration.
#[lazy]
fn failures_view(can_operate: Signal<bool>, updates: Signal<u64>) -> AnyView {
    view! { <crate::components::failures::Failures can_operate updates/> }.into_any()
}

/// The alerts panel, in a wasm chunk of its own loaded when it is opened.
#[lazy]
fn alerts_view(updates: Signal<u64>, can_operate: Signal<bool>) -> AnyView {
    view! { <crate::components::alerts::Alerts updates can_operate/> }.into_any()
}

/// The queue detail and its job explorer, in a wasm chunk of their own loaded on first use.
#[lazy]
fn queue_detail_view(
    name: String,
    api_url: String,
    auto_refresh: bool,
    refresh_interval: u32,
    location: LocationHandle,
    can_operate: Signal<bool>,
) -> AnyView {
    view! {
        <QueueDetail name api_url auto_refresh refresh_interval location can_operate/>
    }
    .into_any()
}

/// Pauses or resumes a queue, in words for the status line: a wasm chunk of its own, loaded on
/// the first click. Not a part of `deferred`: measured there, the first paint grew from 177 to
/// 196 KB brotli (probably the splitter's rule that whatever calls wasm-bindgen's type
/// descriptors, and everything it calls, stays in the main file).
#[lazy]
async fn pause_queue(queue: String, pause: bool) -> Result<String, ApiError> {
    set_queue_paused(queue, pause)
        .await
        .map(|reply| describe_pause(&reply))
}

/// Clears a queue's finished jobs, in words for the status line (chunk: see [`pause_queue`]).
#[lazy]
async fn clear_finished(queue: String, kind: ClearKind) -> Result<String, ApiError> {
    clear_queue(queue, kind)
        .await
        .map(|reply| describe_clear(&reply))
}

/// Who is signed in, as one reading per page: the page's header and the monitor share it (one
/// read on the server, one value in the HTML, one decoder in the wasm).
#[derive(Clone, Copy)]
struct ViewerReading(Resource<Result<crate::model::Viewer, ApiError>, crate::codec::JsonBytes>);

/// The page's [`ViewerReading`], created (and provided to the components below) by the first
/// caller.
pub fn use_viewer() -> Resource<Result<crate::model::Viewer, ApiError>, crate::codec::JsonBytes> {
    if let Some(ViewerReading(viewer)) = use_context() {
        return viewer;
    }
    let viewer = crate::codec::resource(|| (), |_| get_viewer());
    provide_context(ViewerReading(viewer));
    viewer
}

/// The BullMQ job monitor.
#[component]
pub fn JobMonitor(
    /// Base URL of the API (e.g. `https://ops.example.com`); empty for the page's own origin.
    #[prop(optional, into)]
    api_url: String,
    /// Yields the bearer token for every request and stream (`Authorization` header). Without
    /// it, or when it yields `None`, the same-origin session cookie authenticates.
    #[prop(optional, into)]
    get_auth_token: Option<Callback<(), Option<String>>>,
    /// Follow live data (stream, else polling). Off: numbers change on "Refresh" only.
    #[prop(default = true)]
    auto_refresh: bool,
    /// The polling interval in ms, when the stream is unavailable.
    #[prop(default = 5000)]
    refresh_interval: u32,
) -> impl IntoView {
    #[cfg(feature = "hydrate")]
    {
        crate::client::set_api_url(&api_url);
        crate::client::set_token_source(get_auth_token);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = get_auth_token;

    // The first reading, for the first paint: read once, here, and awaited inside the
    // Transition so the server waits for it and the browser hydrates from the same values.
    // Everything after that arrives through signals (stream, polls, re-reads).
    let viewer = use_viewer();
    let metrics = crate::codec::resource(|| (), |_| get_metrics());
    let settings = Settings {
        api_url,
        auto_refresh,
        refresh_interval,
    };
    view! {
        <section class="job-monitor" aria-label="BullMQ job monitor">
            <Transition fallback=|| view! { <p class="loading">"Loading queues…"</p> }>
                {
                    let settings = settings.clone();
                    move || {
                        let settings = settings.clone();
                        Suspend::new(async move {
                            let first = First {
                                viewer: viewer.await,
                                metrics: metrics.await,
                            };
                            view! { <MonitorBody first settings/> }
                        })
                    }
                }
            </Transition>
        </section>
    }
    .into_any()
}

/// The component's props that the body needs.
#[derive(Clone)]
struct Settings {
    api_url: String,
    auto_refresh: bool,
    refresh_interval: u32,
}

/// The first readings.
struct First {
    viewer: Result<crate::model::Viewer, ApiError>,
    metrics: Result<crate::model::Metrics, ApiError>,
}

/// The monitor once its first readings are in.
#[component]
fn MonitorBody(first: First, settings: Settings) -> impl IntoView {
    let Settings {
        api_url,
        auto_refresh,
        refresh_interval,
    } = settings;
    let can_operate = Signal::stored(
        first
            .viewer
            .as_ref()
            .is_ok_and(|viewer| viewer.role.can_operate()),
    );
    // The bulk operations' progress, told by this feed and the queue page's.
    crate::live::LiveOperations::provide();
    let feed = use_live_feed(
        FeedConfig {
            // Deltas: between full snapshots, only the queues that changed.
            stream_url: api_path(&api_url, "/api/v1/admin/jobs/live?delta=true"),
            auto_refresh,
            refresh_interval_ms: refresh_interval,
        },
        |task| async move { (load_deferred().await.feed)(task).await },
    );
    // Explicit re-reads (Refresh, after an action) through the server functions.
    let reread = Action::new(|_: &()| get_metrics());
    let first_error = first.metrics.as_ref().err().cloned();
    let first_metrics = first.metrics.ok();
    let current = Memo::new(move |_| {
        let newer = newest(first_metrics.clone(), feed.latest.get());
        newest(newer, reread.value().get().and_then(Result::ok))
    });
    // The failures panel opens on request: its code is a chunk of its own, loaded then (the
    // first paint needs none of it), and it re-reads with the live feed.
    let show_failures = RwSignal::new(false);
    let failure_updates = Signal::derive(move || feed.updates.get());
    // The alerts: their count in the bar, the panel on request (each its own chunk).
    let show_alerts = RwSignal::new(false);
    // The firing count and the panels below the queue table load once the page is hydrated
    // (see `deferred`). Stuck jobs re-read on Refresh and, slower, with the live feed.
    let deferred = use_deferred();
    let stuck_refresh = RwSignal::new(0_u32);
    // Trends and the history chart follow the live totals (a bounded pace, see
    // `RefreshCadence`), so they never show older numbers than the queue table beside them.
    let trends_refresh = RwSignal::new(0_u32);
    let cadence = StoredValue::new(RefreshCadence::default());
    Effect::new(move |_| {
        let snapshot = current.with(|m| {
            m.as_ref()
                .map(|m| (m.timestamp.clone(), (m.totals.completed, m.totals.failed)))
        });
        let Some((stamp, finished)) = snapshot else {
            return;
        };
        let Some(at) = epoch_ms(&stamp) else {
            return;
        };
        let mut due = false;
        cadence.update_value(|c| due = c.due(at, finished));
        if due {
            trends_refresh.update(|n| *n += 1);
        }
    });
    // The history chart's queue picker; changes only when the set of queues does.
    let queue_names = Memo::new(move |_| {
        current.with(|c| {
            c.as_ref()
                .map(|m| {
                    m.queues
                        .iter()
                        .map(|q| q.summary.queue_name.clone())
                        .collect()
                })
                .unwrap_or_default()
        })
    });
    let refresh_all = move || {
        reread.dispatch(());
        stuck_refresh.update(|n| *n += 1);
        trends_refresh.update(|n| *n += 1);
    };

    // Control actions report in one status line; a success re-reads at once.
    let (outcome, set_outcome) = signal(None::<Result<String, ApiError>>);
    let report = move |result: Result<String, ApiError>| {
        let ok = result.is_ok();
        set_outcome.set(Some(result));
        if ok {
            reread.dispatch(());
        }
    };
    let toggle = Action::new(move |(queue, pause): &(String, bool)| {
        let (queue, pause) = (queue.clone(), *pause);
        async move { report(pause_queue(queue, pause).await) }
    });
    let clear = Action::new(move |(queue, kind): &(String, ClearKind)| {
        let (queue, kind) = (queue.clone(), *kind);
        async move { report(clear_finished(queue, kind).await) }
    });
    let clearing = RwSignal::new(None::<String>);
    // The open queue (and in it, the explorer's state, job and search) lives in the URL.
    let location = LocationHandle::new();
    let selected = Memo::new(move |_| location.with(|l| l.queue.clone()));
    let actions = RowActions {
        toggle: Callback::new(move |request| {
            toggle.dispatch(request);
        }),
        clear: Callback::new(move |queue| clearing.set(Some(queue))),
        details: Callback::new(move |queue| {
            location.go(ExplorerLocation::with_queue(Some(queue)), Step::Push)
        }),
    };
    let confirm_clear = Callback::new(move |request: (String, ClearKind)| {
        clearing.set(None);
        clear.dispatch(request);
    });
    let updated = move || {
        current.with(|c| {
            c.as_ref()
                .map(|c| (c.timestamp.clone(), clock(&c.timestamp)))
        })
    };
    let reread_error = move || match reread.value().get() {
        Some(Err(error)) => Some(view! { <ErrorNotice error/> }),
        _ => None,
    };
    view! {
        <div class="monitor-bar">
            <span class="connection" aria-live="polite" data-connection=move || feed.connection.get().as_str()>
                {move || feed.connection.get().label()}
            </span>
            <span class="updated">
                {move || updated().map(|(full, short)| view! {
                    "updated " <time class="timestamp" datetime=full.clone() title=full>{short}</time>
                })}
            </span>
            <button type="button" class="refresh" on:click=move |_| refresh_all()>
                "Refresh"
            </button>
            {move || deferred.get().map(|d| (d.firing)(failure_updates, show_alerts))}
        </div>
        {move || show_alerts.get().then(|| view! {
            <Suspense fallback=|| ()>
                {Suspend::new(alerts_view(failure_updates, can_operate))}
            </Suspense>
        })}
        <Outcome outcome/>
        {reread_error}
        // The first reading's error stays only until data arrives some other way.
        {move || {
            current
                .with(Option::is_none)
                .then(|| first_error.clone().map(|error| view! { <ErrorNotice error/> }))
        }}
        <Summary metrics=current/>
        <QueueTable metrics=current can_operate actions/>
        {move || clearing.get().map(|queue| {
            let on_cancel = Callback::new(move |()| clearing.set(None));
            view! {
                <Suspense fallback=|| ()>
                    {Suspend::new(clear_dialog_view(queue.clone(), current, confirm_clear, on_cancel))}
                </Suspense>
            }
        })}
        {
            let api_url = api_url.clone();
            move || selected.get().map(|name| {
                let api_url = api_url.clone();
                view! {
                    <Suspense fallback=|| view! { <p class="loading">"Loading the queue…"</p> }>
                        {Suspend::new({
                            let (name, api_url) = (name.clone(), api_url.clone());
                            async move {
                                queue_detail_view(name, api_url, auto_refresh, refresh_interval, location, can_operate).await
                            }
                        })}
                    </Suspense>
                }
            })
        }
        {move || match deferred.get() {
            Some(d) => (d.stuck)(failure_updates, stuck_refresh, can_operate),
            None => view! { <StuckPlaceholder/> }.into_any(),
        }}
        <p class="failures-toggle">
            <button
                aria-expanded=move || show_failures.get().to_string()
                on:click=move |_| show_failures.update(|open| *open = !*open)
            >
                {move || if show_failures.get() { "Hide failures by cause" } else { "Show failures by cause" }}
            </button>
        </p>
        {move || show_failures.get().then(|| view! {
            <Suspense fallback=|| ()>
                {Suspend::new(failures_view(can_operate, failure_updates))}
            </Suspense>
        })}
        {move || match deferred.get() {
            Some(d) => (d.trends)(trends_refresh, queue_names),
            None => view! { <TrendsPlaceholder/> }.into_any(),
        }}
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_as_sentences() {
        let pause = PauseReply {
            success: true,
            queue_name: "mails".into(),
            paused: true,
            changed: true,
        };
        assert_eq!(describe_pause(&pause), "Paused mails");
        let resume = PauseReply {
            paused: false,
            changed: false,
            ..pause
        };
        assert_eq!(describe_pause(&resume), "Resumed mails (it already was)");
        let clear = ClearReply {
            success: true,
            queue_name: "mails".into(),
            kind: "all".into(),
            removed: 5,
            completed: 4,
            failed: 1,
        };
        assert_eq!(
            describe_clear(&clear),
            "Removed 5 jobs from mails (4 completed, 1 failed)"
        );
    }
}
