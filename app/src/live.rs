//! Live data for the dashboard: a stream first, polling when the stream keeps failing.
//!
//! The stream is one of the server's SSE routes read with `fetch` (so it can carry the
//! `Authorization` header when the embedding app gives a token; with our own cookie session the
//! browser sends the cookie). When it drops, it reconnects with exponential back-off; after
//! [`FALLBACK_AFTER_FAILURES`] failures in a row it polls the matching server function every
//! `refresh_interval` instead (not while the tab is hidden, and [`IDLE_SLOWDOWN`] times slower
//! while no job is active) and tries the stream again every [`POLLS_BEFORE_STREAM_RETRY`] polls.
//!
//! Everything here that decides (delays, states) is plain code tested on the host; the browser
//! part only does I/O. During server rendering nothing connects: the signals keep their initial
//! values and the page shows what its resources read.

use crate::error::ApiError;
use crate::model::{Metrics, MetricsDelta, Operation, OperationState, QueueLive};
use leptos::prelude::*;
use serde::de::DeserializeOwned;
use std::future::Future;

/// Consecutive stream failures after which the feed polls instead.
pub const FALLBACK_AFTER_FAILURES: u32 = 3;
/// While polling, how many polls before the stream is tried again.
pub const POLLS_BEFORE_STREAM_RETRY: u32 = 3;
/// Polling is this many times slower while no job is active.
pub const IDLE_SLOWDOWN: u32 = 3;
/// First reconnect delay; doubles per failure up to [`MAX_RECONNECT_DELAY_MS`].
pub const FIRST_RECONNECT_DELAY_MS: u32 = 500;
/// The longest wait between reconnects.
pub const MAX_RECONNECT_DELAY_MS: u32 = 30_000;
/// A stream silent this long is treated as dead (the server sends keep-alives every 15 s).
pub const STREAM_SILENCE_LIMIT_MS: u32 = 45_000;

/// A snapshot a live feed carries.
pub trait Snapshot: Clone + DeserializeOwned + Send + Sync + 'static {
    /// When it was read (RFC 3339 UTC with milliseconds, so strings compare in time order).
    fn timestamp(&self) -> &str;
    /// Whether any job is running; polling slows down when none is.
    fn busy(&self) -> bool;
    /// The next snapshot from a `delta` event sent on top of the event `base_id` (this
    /// snapshot's); `None` when the delta does not apply (then the stream is read afresh).
    fn apply(&self, _delta: &str, _base_id: Option<&str>) -> Option<Self> {
        None
    }
}

impl Snapshot for Metrics {
    fn timestamp(&self) -> &str {
        &self.timestamp
    }
    fn busy(&self) -> bool {
        self.totals.active > 0
    }
    fn apply(&self, delta: &str, base_id: Option<&str>) -> Option<Self> {
        let delta: MetricsDelta = crate::codec::decode(delta).ok()?;
        (base_id == Some(delta.base.to_string().as_str())).then(|| self.with(&delta))
    }
}

impl Snapshot for QueueLive {
    fn timestamp(&self) -> &str {
        &self.timestamp
    }
    fn busy(&self) -> bool {
        !self.active_jobs.is_empty()
    }
}

/// The bulk operations not yet ended, as the live stream's `operations` events tell them
/// (operators only), shared through the context by every feed under one `JobMonitor`.
/// `None` while no stream has told since it connected (or the feed is not live): readers then
/// ask `GET /operations` themselves. Kept as the event's JSON: only the panels that show
/// operations (wasm chunks loaded on demand) decode it, so the first paint's wasm carries no
/// decoder for it.
#[derive(Clone, Copy)]
pub struct LiveOperations(pub RwSignal<Option<String>>);

impl LiveOperations {
    /// Provides an empty one to the components below.
    pub fn provide() -> Self {
        let ops = LiveOperations(RwSignal::new(None));
        provide_context(ops);
        ops
    }

    /// What the stream told last, decoded (tracked).
    pub fn get(self) -> Option<Vec<Operation>> {
        self.0.with(|json| {
            json.as_deref()
                .and_then(|json| crate::codec::decode::<crate::model::Operations>(json).ok())
                .map(|ops| ops.operations)
        })
    }

    /// Whether the stream has told (untracked).
    pub fn told(self) -> bool {
        self.0.with_untracked(Option::is_some)
    }
}

/// The operations to show: `live` ones (newest counts) first, then those of `read` (the last
/// `GET /operations`, which also holds the recently ended) that `live` does not hold.
pub fn merged_operations(read: &[Operation], live: Option<&[Operation]>) -> Vec<Operation> {
    let live = live.unwrap_or_default();
    let mut out: Vec<Operation> = live.to_vec();
    out.extend(
        read.iter()
            .filter(|op| !live.iter().any(|l| l.id == op.id))
            .cloned(),
    );
    out
}

/// Whether `read` is behind `live`: an operation it holds as running that the stream says
/// ended (or no longer lists), so its final counts are read again.
pub fn ended_since(read: &[Operation], live: &[Operation]) -> bool {
    let ended = |op: &Operation| {
        live.iter()
            .find(|l| l.id == op.id)
            .is_none_or(|l| l.state != OperationState::Running)
    };
    read.iter()
        .filter(|op| op.state == OperationState::Running)
        .any(ended)
        || live.iter().any(|l| {
            l.state != OperationState::Running
                && !read.iter().any(|op| op.id == l.id && op.state == l.state)
        })
}

/// The newer of two readings (by timestamp); ties go to `a`.
pub fn newest<T: Snapshot>(a: Option<T>, b: Option<T>) -> Option<T> {
    match (a, b) {
        (Some(a), Some(b)) if b.timestamp() > a.timestamp() => Some(b),
        (Some(a), _) => Some(a),
        (None, b) => b,
    }
}

/// What a feed knows about its connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// Not connected yet (and always, during server rendering).
    Connecting,
    /// Receiving snapshots from the stream.
    Live,
    /// The stream dropped; reconnecting after a back-off delay.
    Reconnecting,
    /// The stream keeps failing; reading every `refresh_interval` instead.
    Polling,
    /// Connected, but the server cannot read Redis; data resumes by itself.
    RedisDown,
    /// The session is over (401): sign in again.
    Offline,
    /// Auto-refresh is off: numbers change on "Refresh" only.
    Manual,
}

impl Connection {
    /// A stable name, for `data-connection` and styling.
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting",
            Connection::Polling => "polling",
            Connection::RedisDown => "redis-down",
            Connection::Offline => "offline",
            Connection::Manual => "manual",
        }
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting…",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting…",
            Connection::Polling => "polling",
            Connection::RedisDown => "Redis unavailable",
            Connection::Offline => "offline: sign in again",
            Connection::Manual => "auto-refresh off",
        }
    }
}

/// How long to wait before reconnect number `failures` (1-based): 0.5 s, 1 s, 2 s, … 30 s.
pub fn reconnect_delay_ms(failures: u32) -> u32 {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_RECONNECT_DELAY_MS
        .saturating_mul(1 << doublings)
        .min(MAX_RECONNECT_DELAY_MS)
}

/// How long to wait before the next poll.
pub fn poll_delay_ms(refresh_interval_ms: u32, busy: bool) -> u32 {
    let interval = refresh_interval_ms.max(250);
    if busy {
        interval
    } else {
        interval.saturating_mul(IDLE_SLOWDOWN)
    }
}

/// Where a feed reads from and how often.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedConfig {
    /// The SSE route's URL (already joined with the API base URL).
    pub stream_url: String,
    /// `false`: no stream and no polling (state [`Connection::Manual`]).
    pub auto_refresh: bool,
    /// The polling interval in ms.
    pub refresh_interval_ms: u32,
}

/// A live feed's signals.
#[derive(Clone, Copy)]
pub struct LiveFeed<T: Send + Sync + 'static> {
    /// The newest snapshot from the stream or a poll (`None` until the first arrives).
    pub latest: ReadSignal<Option<T>>,
    pub connection: ReadSignal<Connection>,
    /// How many snapshots arrived; other readings (stuck jobs) refresh on its changes.
    pub updates: ReadSignal<u64>,
}

/// A feed ready to run in the browser: what [`use_live_feed`] hands its `start`.
pub struct FeedTask<T: Send + Sync + 'static> {
    #[cfg(feature = "hydrate")]
    config: FeedConfig,
    #[cfg(feature = "hydrate")]
    sink: browser::Sink<T>,
    #[cfg(feature = "hydrate")]
    stop: browser::Stop,
    _snapshot: std::marker::PhantomData<T>,
}

impl<T: Snapshot> FeedTask<T> {
    /// Streams, reconnects, falls back to `poll` (one snapshot through a server function),
    /// until the feed's component is disposed.
    pub async fn run<F, Fut>(self, poll: F)
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        #[cfg(feature = "hydrate")]
        browser::run(self.config, poll, self.sink, self.stop).await;
        #[cfg(not(feature = "hydrate"))]
        let _ = (self, poll);
    }
}

/// Starts a feed once the page is hydrated; it stops when the calling component is disposed.
/// `start` runs the task, mostly as `|task| task.run(poll)`. It is a function so that a caller
/// can put the feed's machinery (stream reader, SSE parser, deltas, polling) in a wasm chunk of
/// its own with `#[lazy]`: nothing of it is needed to paint or hydrate the first reading.
pub fn use_live_feed<T, S, Fut>(config: FeedConfig, start: S) -> LiveFeed<T>
where
    T: Snapshot,
    S: FnOnce(FeedTask<T>) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let (latest, set_latest) = signal(None::<T>);
    let initial = if config.auto_refresh {
        Connection::Connecting
    } else {
        Connection::Manual
    };
    let (connection, set_connection) = signal(initial);
    let (updates, set_updates) = signal(0_u64);
    #[cfg(feature = "hydrate")]
    if config.auto_refresh {
        let sink = browser::Sink {
            latest: set_latest,
            connection: set_connection,
            updates: set_updates,
            operations: use_context::<LiveOperations>(),
        };
        let stop = browser::Stop::default();
        let stopper = send_wrapper::SendWrapper::new(stop.clone());
        on_cleanup(move || stopper.stop());
        // Effects run only in the browser, after hydration; this one has no dependencies, so
        // it runs once.
        let task = FeedTask {
            config,
            sink,
            stop,
            _snapshot: std::marker::PhantomData,
        };
        let mut pending = Some((start, task));
        Effect::new(move |_| {
            if let Some((start, task)) = pending.take() {
                leptos::task::spawn_local(start(task));
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (config, start, set_latest, set_connection, set_updates);
    LiveFeed {
        latest,
        connection,
        updates,
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use crate::client::current_token;
    use crate::sse::SseParser;
    use futures::future::{select, Either};
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, RequestInit, Response};

    /// Where a feed publishes.
    pub struct Sink<T: Send + Sync + 'static> {
        pub latest: WriteSignal<Option<T>>,
        pub connection: WriteSignal<Connection>,
        pub updates: WriteSignal<u64>,
        pub operations: Option<LiveOperations>,
    }

    impl<T: Snapshot> Sink<T> {
        fn publish(&self, snapshot: T) {
            let _ = self.latest.try_set(Some(snapshot));
            let _ = self.updates.try_update(|n| *n += 1);
        }
        fn state(&self, state: Connection) {
            let _ = self.connection.try_set(state);
            // What the stream told is stale once it is not live.
            if state != Connection::Live {
                self.operations(None);
            }
        }
        fn operations(&self, ops: Option<String>) {
            if let Some(LiveOperations(signal)) = self.operations {
                if ops.is_some() || signal.try_with_untracked(Option::is_some) == Some(true) {
                    let _ = signal.try_set(ops);
                }
            }
        }
    }

    /// Stops a feed: no new request starts, and the open stream is aborted.
    #[derive(Clone, Default)]
    pub struct Stop {
        stopped: Rc<Cell<bool>>,
        current: Rc<RefCell<Option<AbortController>>>,
    }

    impl Stop {
        pub fn stop(&self) {
            self.stopped.set(true);
            if let Some(controller) = self.current.borrow_mut().take() {
                controller.abort();
            }
        }
        fn stopped(&self) -> bool {
            self.stopped.get()
        }
    }

    /// How one stream connection ended.
    enum End {
        /// 401: the session is over.
        Unauthorized,
        /// It failed or ended; `received` tells whether any snapshot came first.
        Dropped { received: bool },
    }

    /// The feed's whole life: stream, back off, fall back to polling, try the stream again.
    pub async fn run<T, F, Fut>(config: FeedConfig, poll: F, sink: Sink<T>, stop: Stop)
    where
        T: Snapshot,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut failures = 0_u32;
        let mut busy = true;
        while !stop.stopped() {
            match stream(&config.stream_url, &sink, &stop).await {
                End::Unauthorized => return sink.state(Connection::Offline),
                End::Dropped { received } => {
                    failures = if received { 1 } else { failures + 1 };
                }
            }
            if stop.stopped() {
                return;
            }
            if failures < FALLBACK_AFTER_FAILURES {
                sink.state(Connection::Reconnecting);
                sleep(reconnect_delay_ms(failures)).await;
                continue;
            }
            sink.state(Connection::Polling);
            for _ in 0..POLLS_BEFORE_STREAM_RETRY {
                wait_until_visible(&stop).await;
                if stop.stopped() {
                    return;
                }
                match poll().await {
                    Ok(snapshot) => {
                        busy = snapshot.busy();
                        sink.publish(snapshot);
                        sink.state(Connection::Polling);
                    }
                    Err(error) if error.is_unauthorized() => {
                        return sink.state(Connection::Offline)
                    }
                    // Unreachable server or Redis down: keep polling; the state says polling.
                    Err(_) => {}
                }
                sleep(poll_delay_ms(config.refresh_interval_ms, busy)).await;
            }
        }
    }

    /// One stream connection, until it fails, ends, or the feed stops.
    async fn stream<T: Snapshot>(url: &str, sink: &Sink<T>, stop: &Stop) -> End {
        let dropped = End::Dropped { received: false };
        let Some(window) = web_sys::window() else {
            return dropped;
        };
        let Ok(controller) = AbortController::new() else {
            return dropped;
        };
        let init = RequestInit::new();
        init.set_method("GET");
        init.set_signal(Some(&controller.signal()));
        if let Ok(headers) = Headers::new() {
            let _ = headers.set("Accept", "text/event-stream");
            if let Some(token) = current_token() {
                let _ = headers.set("Authorization", &format!("Bearer {token}"));
            }
            init.set_headers(&headers);
        }
        *stop.current.borrow_mut() = Some(controller.clone());
        let end = read_stream(&window, url, &init, sink, stop).await;
        controller.abort();
        stop.current.borrow_mut().take();
        end
    }

    async fn read_stream<T: Snapshot>(
        window: &web_sys::Window,
        url: &str,
        init: &RequestInit,
        sink: &Sink<T>,
        stop: &Stop,
    ) -> End {
        let mut received = false;
        let Ok(response) = JsFuture::from(window.fetch_with_str_and_init(url, init)).await else {
            return End::Dropped { received };
        };
        let Ok(response) = response.dyn_into::<Response>() else {
            return End::Dropped { received };
        };
        if response.status() == 401 {
            return End::Unauthorized;
        }
        let reader = response.body().filter(|_| response.ok()).and_then(|body| {
            body.get_reader()
                .dyn_into::<ReadableStreamDefaultReader>()
                .ok()
        });
        let Some(reader) = reader else {
            return End::Dropped { received };
        };
        let mut parser = SseParser::default();
        // The last snapshot of this stream and its event id, for deltas.
        let mut current: Option<(T, Option<String>)> = None;
        while !stop.stopped() {
            let read = JsFuture::from(reader.read());
            let chunk = match select(Box::pin(read), Box::pin(sleep(STREAM_SILENCE_LIMIT_MS))).await
            {
                Either::Left((Ok(chunk), _)) => chunk,
                // An error, or silence past the keep-alive interval: reconnect.
                _ => break,
            };
            if field(&chunk, "done").as_bool().unwrap_or(true) {
                break;
            }
            let Ok(bytes) = field(&chunk, "value").dyn_into::<js_sys::Uint8Array>() else {
                break;
            };
            for event in parser.push(&bytes.to_vec()) {
                match event.name.as_str() {
                    "message" => {
                        if let Ok(snapshot) = crate::codec::decode::<T>(&event.data) {
                            received = true;
                            current = Some((snapshot.clone(), event.id));
                            sink.publish(snapshot);
                            sink.state(Connection::Live);
                        }
                    }
                    // Only on top of the event it was made from; otherwise start over, and the
                    // server's first event is a full snapshot again.
                    "delta" => {
                        let next = current
                            .as_ref()
                            .and_then(|(snapshot, id)| snapshot.apply(&event.data, id.as_deref()));
                        let Some(snapshot) = next else {
                            return End::Dropped { received };
                        };
                        current = Some((snapshot.clone(), event.id));
                        sink.publish(snapshot);
                        sink.state(Connection::Live);
                    }
                    "status" if event.data.contains("redis_unavailable") => {
                        sink.state(Connection::RedisDown)
                    }
                    "operations" => sink.operations(Some(event.data)),
                    // The token expired: the next connection asks for a fresh one (a cookie
                    // session then gets 401 and goes offline).
                    "auth" => return End::Dropped { received },
                    _ => {}
                }
            }
        }
        End::Dropped { received }
    }

    fn field(object: &JsValue, name: &str) -> JsValue {
        js_sys::Reflect::get(object, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
    }

    /// Resolves after `ms` milliseconds. Dropped early (a stream read won the race), it clears
    /// its timer, so a long watchdog per chunk leaves no timers behind.
    pub fn sleep(ms: u32) -> impl Future<Output = ()> {
        struct ClearOnDrop(Option<i32>);
        impl Drop for ClearOnDrop {
            fn drop(&mut self) {
                if let (Some(handle), Some(window)) = (self.0, web_sys::window()) {
                    window.clear_timeout_with_handle(handle);
                }
            }
        }
        let mut handle = None;
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            handle = web_sys::window().and_then(|window| {
                window
                    .set_timeout_with_callback_and_timeout_and_arguments_0(
                        &resolve,
                        i32::try_from(ms).unwrap_or(i32::MAX),
                    )
                    .ok()
            });
        });
        let guard = ClearOnDrop(handle);
        async move {
            let _guard = guard;
            let _ = JsFuture::from(promise).await;
        }
    }

    /// Waits while the tab is hidden (nobody is looking, so nothing is read).
    async fn wait_until_visible(stop: &Stop) {
        let hidden = || {
            web_sys::window()
                .and_then(|window| window.document())
                .is_some_and(|document| {
                    document.visibility_state() == web_sys::VisibilityState::Hidden
                })
        };
        while hidden() && !stop.stopped() {
            sleep(500).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_delta_applies_only_on_top_of_its_base() {
        let old = Metrics {
            timestamp: "2026-12-01T10:00:00.000Z".into(),
            queues: Vec::new(),
            totals: Default::default(),
            success_rate: None,
            success_rate_sample: 0,
            processing_rate: 0.0,
            source: crate::model::Source::Jobs,
        };
        let mut new = old.clone();
        new.timestamp = "2026-12-01T10:00:02.000Z".into();
        new.totals.waiting = 3;
        let delta = serde_json::to_string(&MetricsDelta::between(41, &old, &new)).expect("JSON");
        assert_eq!(old.apply(&delta, Some("41")), Some(new));
        assert_eq!(old.apply(&delta, Some("40")), None);
        assert_eq!(old.apply(&delta, None), None);
        assert_eq!(old.apply("{not json", Some("41")), None);
    }

    use super::*;

    #[test]
    fn reconnect_delays_double_up_to_the_cap() {
        let delays: Vec<u32> = (1..=9).map(reconnect_delay_ms).collect();
        assert_eq!(
            delays,
            vec![500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(reconnect_delay_ms(u32::MAX), MAX_RECONNECT_DELAY_MS);
    }

    #[test]
    fn polling_slows_down_when_nothing_runs() {
        assert_eq!(poll_delay_ms(5000, true), 5000);
        assert_eq!(poll_delay_ms(5000, false), 15000);
        assert_eq!(
            poll_delay_ms(0, true),
            250,
            "a zero interval cannot hammer the server"
        );
    }

    fn metrics(timestamp: &str, active: u64) -> Metrics {
        Metrics {
            timestamp: timestamp.to_owned(),
            queues: vec![],
            totals: crate::model::Totals {
                active,
                ..Default::default()
            },
            success_rate: None,
            success_rate_sample: 0,
            processing_rate: 0.0,
            source: crate::model::Source::Jobs,
        }
    }

    #[test]
    fn the_newest_reading_wins() {
        let old = metrics("2026-11-28T10:00:00.000Z", 0);
        let new = metrics("2026-11-28T10:00:01.000Z", 1);
        assert_eq!(
            newest(Some(old.clone()), Some(new.clone())),
            Some(new.clone())
        );
        assert_eq!(
            newest(Some(new.clone()), Some(old.clone())),
            Some(new.clone())
        );
        assert_eq!(newest(None, Some(old.clone())), Some(old.clone()));
        assert_eq!(newest::<Metrics>(None, None), None);
        assert!(new.busy() && !old.busy());
    }

    fn op(id: &str, state: OperationState, done: u64) -> Operation {
        Operation {
            id: id.into(),
            queue_name: "mail".into(),
            action: crate::model::BulkAction::Retry,
            state,
            total: 10,
            done,
            skipped: 0,
            by: "ann".into(),
            created_at: String::new(),
            finished_at: None,
            error: None,
            changes: None,
        }
    }

    #[test]
    fn live_operations_override_the_read_ones_and_tell_when_to_read_again() {
        use OperationState::{Done, Running};
        let read = vec![op("a", Running, 2), op("old", Done, 10)];
        // Nothing told yet: the read list as it is.
        assert_eq!(merged_operations(&read, None), read);
        // The stream's newer counts win; the ended ones the stream no longer lists stay.
        let live = vec![op("a", Running, 7)];
        assert_eq!(
            merged_operations(&read, Some(&live)),
            vec![op("a", Running, 7), op("old", Done, 10)]
        );
        assert!(!ended_since(&read, &live));
        // `a` ended: its final state on the stream, or gone from it, reads the list again.
        assert!(ended_since(&read, &[op("a", Done, 10)]));
        assert!(ended_since(&read, &[]));
        // Once the read list holds that final state, nothing more to read.
        let reread = vec![op("a", Done, 10), op("old", Done, 10)];
        assert!(!ended_since(&reread, &[op("a", Done, 10)]));
        assert!(!ended_since(&reread, &[]));
        // A new operation another operator started, still running: shown, no read needed.
        assert!(!ended_since(&reread, &[op("b", Running, 0)]));
    }
}
