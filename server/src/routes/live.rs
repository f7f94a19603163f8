//! `GET /live` (all queues) and `GET /queue/{queueName}/live` (one queue with its active jobs):
//! Server-Sent Events fed by the process's [`LiveHub`]. Data events are plain unnamed messages
//! (so `EventSource.onmessage` gets them) with an `id:`; the first carries a `retry:` hint.
//! Named events: `status` (Redis unavailable / back, queue gone), `auth` (the token expired, or
//! its session signed out; the stream ends), `shutdown` (the server stops; the stream ends).
//! A keep-alive comment after 15 s without an event. Each stream takes a place under the
//! caller's stream limit (`limits::Limits::open_stream`) and gives it back when it ends.
//!
//! `GET /live?delta=true` sends a full snapshot first and then, as events named `delta`
//! (`model::MetricsDelta`), only what changed since the viewer's previous event; a full
//! snapshot again whenever the viewer missed a poll (a slow reader gets only the newest) and
//! every [`FULL_EVERY`] events. Without `delta`, every event is the whole snapshot.
//!
//! Operators (ADMIN and above, who may read `GET /operations`) also get `operations` events on
//! both streams: `{"operations": [...]}`, the bulk operations not yet ended with their counts,
//! whenever that changes (the runner's progress, see `app::ssr::bulk::runner`), and on connect
//! while any runs. An operation that ended shows its final state once, then leaves the list.

use crate::live::{data_line, Frame, LiveHub, Subscription, Topic};
use crate::routes::extract::{AppPath, AppQuery};
use app::ssr::auth::{Caller, Principal};
use app::ssr::error::AppError;
use app::ssr::limits::StreamPermit;
use app::ssr::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderName};
use axum::response::IntoResponse;
use axum::Extension;
use bytes::Bytes;
use futures::stream::{self, StreamExt};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a browser should wait before reconnecting.
const RETRY: Duration = Duration::from_secs(3);
/// Keep-alive comment interval (proxies drop idle connections).
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// A delta viewer gets a full snapshot at least every this many data events.
pub const FULL_EVERY: u32 = 150;

/// A stream's response: the events, and `X-Accel-Buffering: no` so that a reverse proxy or load
/// balancer in front of several instances (nginx and those modelled on it) passes each event on
/// at once instead of buffering the response.
type Streamed = axum::response::Response;

/// `GET /live` (MODERATOR).
#[utoipa::path(get, path = "/live", tag = "live", params(app::model::LiveQuery),
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "Server-Sent Events: each unnamed event's data is a `Metrics` snapshot; with `delta=true`, events named `delta` carry a `MetricsDelta`; `status`, `auth`, `shutdown` and (for operators) `operations` events as `x-events` lists")))]
pub async fn all_queues(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<LiveHub>>,
    AppQuery(query): AppQuery<app::model::LiveQuery>,
) -> Result<Streamed, AppError> {
    let permit = open(&state, &hub, &caller)?;
    let subscription = hub.subscribe(Topic::AllQueues, None);
    let deltas = query.delta.is_some_and(|d| d.0);
    Ok(respond(subscription, &state, &caller, permit, &hub, deltas))
}

/// `GET /queue/{queueName}/live` (MODERATOR). Unknown queue: 404 before the stream starts.
#[utoipa::path(get, path = "/queue/{queue_name}/live", tag = "live", params(crate::openapi::QueuePath),
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "Server-Sent Events: each unnamed event's data is a `QueueLive` snapshot; `status`, `auth`, `shutdown` and (for operators) `operations` events as `x-events` lists")))]
pub async fn one_queue(
    Caller(caller): Caller,
    State(state): State<AppState>,
    Extension(hub): Extension<Arc<LiveHub>>,
    AppPath(queue_name): AppPath<String>,
) -> Result<Streamed, AppError> {
    let queue = app::ssr::service::resolve_queue(&state, &queue_name).await?;
    let permit = open(&state, &hub, &caller)?;
    let subscription = hub.subscribe(Topic::Queue(queue.name.clone()), Some(queue));
    Ok(respond(subscription, &state, &caller, permit, &hub, false))
}

/// A place for one more stream of `caller`: refused for a session that signed out here, and
/// over the caller's stream limits.
fn open(state: &AppState, hub: &LiveHub, caller: &Principal) -> Result<StreamPermit, AppError> {
    if hub.signed_out(&caller.token_id) {
        return Err(AppError::Unauthorized(
            "this session signed out; sign in again".into(),
        ));
    }
    state.limits.open_stream(&caller.subject)
}

/// What the previous event told the viewer, so status changes are sent once, not every poll.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Told {
    Nothing,
    Data,
    Unavailable,
    Gone,
}

/// Why a waiting viewer woke up.
enum Wake {
    /// A new frame (`false`: the poller is gone).
    Frame(bool),
    /// The token expired.
    Expired,
    /// Some session signed out (perhaps this one).
    SignOut,
    /// The bulk operations' progress changed.
    Operations(bool),
    /// Nothing was sent for [`KEEP_ALIVE`].
    Quiet,
    /// The server is stopping.
    Shutdown,
}

struct Viewer {
    subscription: Subscription,
    expires: Instant,
    shutdown: watch::Receiver<bool>,
    /// Which session opened the stream, and news of sign-outs.
    token_id: String,
    sign_outs: watch::Receiver<u64>,
    hub: Arc<LiveHub>,
    /// The stream's place under the caller's limit, given back when the stream ends.
    _permit: StreamPermit,
    told: Told,
    first: bool,
    ended: bool,
    /// Whether this viewer asked for deltas.
    deltas: bool,
    /// The id of the last data event sent, and how many deltas followed its full snapshot.
    last_data: Option<u64>,
    deltas_since_full: u32,
    /// The bulk operations' progress, for operators.
    operations: Option<watch::Receiver<Bytes>>,
}

fn respond(
    subscription: Subscription,
    state: &AppState,
    caller: &Principal,
    permit: StreamPermit,
    hub: &Arc<LiveHub>,
    deltas: bool,
) -> Streamed {
    let remaining = (caller.expires_at - chrono::Utc::now().timestamp()).max(0) as u64;
    let viewer = Viewer {
        subscription,
        expires: Instant::now() + Duration::from_secs(remaining),
        shutdown: hub.shutdown(),
        token_id: caller.token_id.clone(),
        sign_outs: hub.sign_outs(),
        hub: hub.clone(),
        _permit: permit,
        told: Told::Nothing,
        first: true,
        ended: false,
        deltas,
        last_data: None,
        deltas_since_full: 0,
        operations: caller
            .role
            .can_operate()
            .then(|| state.operations.progress()),
    };
    // The events are written as they are, not through axum's `Sse`, which copies each event's
    // data into a buffer of its own: here a snapshot's `data:` line is one buffer shared by all
    // viewers (see `Frame::Data`).
    let events = stream::unfold(viewer, next_events)
        .flat_map(|events| stream::iter(events.into_iter().map(Ok::<Bytes, Infallible>)));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            (HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(events),
    )
        .into_response()
}

/// An event's fields before its data: `event:` (unnamed when `None`), `id:` and `retry:`.
fn event_head(name: Option<&str>, id: Option<u64>, retry: Option<Duration>) -> Bytes {
    let mut head = String::new();
    if let Some(name) = name {
        head.push_str("event: ");
        head.push_str(name);
        head.push('\n');
    }
    if let Some(id) = id {
        head.push_str(&format!("id: {id}\n"));
    }
    if let Some(retry) = retry {
        head.push_str(&format!("retry: {}\n", retry.as_millis()));
    }
    Bytes::from(head)
}

/// A whole small event (status, auth, shutdown) with `data` as its JSON.
fn small_event(name: &str, id: Option<u64>, data: &serde_json::Value) -> [Bytes; 2] {
    [
        event_head(Some(name), id, None),
        data_line(&data.to_string()),
    ]
}

/// Waits for the next thing worth telling the viewer and returns its events; `None` ends the
/// stream.
async fn next_events(mut viewer: Viewer) -> Option<(Vec<Bytes>, Viewer)> {
    if viewer.ended {
        return None;
    }
    loop {
        let frame = if viewer.first {
            viewer.first = false;
            viewer.subscription.frames.borrow_and_update().clone()
        } else {
            let wake = tokio::select! {
                changed = viewer.subscription.frames.changed() => Wake::Frame(changed.is_ok()),
                _ = tokio::time::sleep_until(viewer.expires) => Wake::Expired,
                _ = viewer.sign_outs.changed() => Wake::SignOut,
                _ = viewer.shutdown.wait_for(|stopping| *stopping) => Wake::Shutdown,
                changed = operations_changed(&mut viewer.operations) => Wake::Operations(changed),
                _ = tokio::time::sleep(KEEP_ALIVE) => Wake::Quiet,
            };
            match wake {
                Wake::Frame(true) => viewer.subscription.frames.borrow_and_update().clone(),
                Wake::Frame(false) => return None,
                Wake::Expired => {
                    return Some(end_for_auth(viewer, "the token has expired; sign in again"))
                }
                Wake::SignOut if viewer.hub.signed_out(&viewer.token_id) => {
                    return Some(end_for_auth(viewer, "this session signed out"))
                }
                Wake::SignOut => continue,
                Wake::Operations(true) => match operations_event(&mut viewer, false) {
                    Some(event) => return Some((event.to_vec(), viewer)),
                    None => continue,
                },
                // The runner is gone (the server stops): nothing more to tell.
                Wake::Operations(false) => {
                    viewer.operations = None;
                    continue;
                }
                // A comment line: proxies see traffic, clients ignore it.
                Wake::Quiet => return Some((vec![Bytes::from_static(b":\n\n")], viewer)),
                Wake::Shutdown => {
                    viewer.ended = true;
                    let event = small_event(
                        "shutdown",
                        None,
                        &json!({"message": "the server is shutting down"}),
                    );
                    return Some((event.to_vec(), viewer));
                }
            }
        };
        let mut events = Vec::new();
        match frame {
            Frame::Pending => continue,
            Frame::Data {
                seq, json, delta, ..
            } => {
                if matches!(viewer.told, Told::Unavailable | Told::Gone) {
                    events.extend(status_event(seq, "ok", "Redis answers again"));
                }
                // A delta only on top of the very event it was computed from.
                let follows = viewer.last_data.is_some_and(|last| last + 1 == seq);
                let delta = delta
                    .filter(|_| viewer.deltas && follows && viewer.deltas_since_full < FULL_EVERY);
                let retry = (viewer.told == Told::Nothing).then_some(RETRY);
                let (name, data) = match delta {
                    Some(delta) => {
                        viewer.deltas_since_full += 1;
                        (Some("delta"), delta)
                    }
                    None => {
                        viewer.deltas_since_full = 0;
                        (None, json)
                    }
                };
                events.push(event_head(name, Some(seq), retry));
                events.push(data);
                if viewer.told == Told::Nothing {
                    // On connect, the operations running now (if any).
                    events.extend(operations_event(&mut viewer, true).into_iter().flatten());
                }
                viewer.told = Told::Data;
                viewer.last_data = Some(seq);
            }
            Frame::Unavailable { seq, message } => {
                if viewer.told == Told::Unavailable {
                    continue;
                }
                events.extend(status_event(seq, "redis_unavailable", &message));
                viewer.told = Told::Unavailable;
            }
            Frame::Gone { seq } => {
                if viewer.told == Told::Gone {
                    continue;
                }
                events.extend(status_event(
                    seq,
                    "queue_gone",
                    "the queue no longer exists",
                ));
                viewer.told = Told::Gone;
            }
        }
        return Some((events, viewer));
    }
}

/// Resolves when the operations' progress changes (`false`: it never will again); never for
/// a viewer who gets no operations.
async fn operations_changed(operations: &mut Option<watch::Receiver<Bytes>>) -> bool {
    match operations {
        Some(progress) => progress.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// The `operations` event with the newest progress, marked seen. On connect (`first`) only
/// when some operation runs: a viewer who has seen none needs no empty list.
fn operations_event(viewer: &mut Viewer, first: bool) -> Option<[Bytes; 2]> {
    let data = viewer.operations.as_mut()?.borrow_and_update().clone();
    if first && data.as_ref() == NO_OPERATIONS {
        return None;
    }
    Some([event_head(Some("operations"), None, None), data])
}

/// The progress while no operation runs.
const NO_OPERATIONS: &[u8] = b"data: {\"operations\":[]}\n\n";

/// The stream's last event when its credentials no longer hold.
fn end_for_auth(mut viewer: Viewer, message: &str) -> (Vec<Bytes>, Viewer) {
    viewer.ended = true;
    let event = small_event(
        "auth",
        None,
        &json!({"error": "unauthorized", "message": message}),
    );
    (event.to_vec(), viewer)
}

fn status_event(seq: u64, status: &str, message: &str) -> [Bytes; 2] {
    small_event(
        "status",
        Some(seq),
        &json!({"status": status, "message": message}),
    )
}
