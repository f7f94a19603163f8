//! `GET /metrics` at the root, where Prometheus looks by default: the queues in the Prometheus
//! text format, or OpenMetrics when the scraper asks for it.
//!
//! A scrape reads no queue itself. It joins the live hub's all-queues poller (the one the
//! dashboards watch) and keeps it running for [`HOLD`] after the last scrape, so scrapes every
//! 15–60 s keep one poller alive instead of starting one each (the snapshot carries the workers
//! per queue). What it lacks (a `PING`, the firing alerts, the collector's lifetime counters
//! and histograms) is read once per snapshot, by whichever scrape comes first, what costs a
//! read per queue (oldest waiting job, stuck jobs, collector lag) at most every
//! [`QUEUE_EXTRAS_EVERY`], and the text is rendered once per snapshot and format; ten scrapers
//! cost what one does.
//!
//! Off unless `METRICS_TOKEN` is set; scrapers send it as a bearer token (a Prometheus
//! `authorization` block). The REST API's JSON metrics stay at `/api/v1/admin/jobs/metrics`.

pub mod render;

use crate::live::{Frame, LiveHub, Subscription, Topic};
use app::error::ApiError;
use app::model::Metrics;
use app::ssr::alerts::inputs;
use app::ssr::clock::now_ms;
use app::ssr::error::AppError;
use app::ssr::history::keys::HistoryKeys;
use app::ssr::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use bytes::Bytes;
use fred::prelude::*;
use render::{Exposition, Extras, Format, QueueExtras};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the all-queues poller keeps running after the last scrape: longer than any usual
/// scrape interval, so a scraped monitor never restarts it.
pub const HOLD: Duration = Duration::from_secs(300);

/// How long a scrape waits for the poller's first snapshot.
const FIRST_SNAPSHOT: Duration = Duration::from_secs(10);

/// Where the exposition is served.
pub const PATH: &str = "/metrics";

/// How long the per-queue reads (oldest waiting, stuck, collector lag) serve: Prometheus'
/// default scrape interval, so scrapers every 15 s or slower see fresh values and faster ones
/// cost Redis no more.
pub const QUEUE_EXTRAS_EVERY: Duration = Duration::from_secs(15);

/// How many stuck jobs the stuck series count at most (the longest stuck first).
const STUCK_COUNTED: u64 = 5_000;

/// The scrape token, when the endpoint is on.
#[derive(Clone)]
pub struct MetricsToken(Arc<str>);

impl MetricsToken {
    /// `None` for an unset or blank `METRICS_TOKEN` (the endpoint is off).
    pub fn new(token: Option<&str>) -> Option<Self> {
        token
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(|token| Self(token.into()))
    }

    /// Whether `headers` carry this token as `Authorization: Bearer …`, compared in constant
    /// time.
    fn admits(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| {
                value
                    .split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, token)| token.trim())
            })
        else {
            return false;
        };
        let (given, wanted) = (given.as_bytes(), self.0.as_bytes());
        given.len() == wanted.len()
            && given
                .iter()
                .zip(wanted)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(***)")
    }
}

/// The exporter: the held subscription and what was rendered from the newest snapshot.
pub struct Exporter {
    hub: Arc<LiveHub>,
    token: Option<MetricsToken>,
    held: Mutex<Option<Held>>,
    /// The newest snapshot's extras and texts, by the frame's sequence number. A tokio mutex:
    /// concurrent scrapes of a new snapshot wait for the first one's reads instead of repeating
    /// them.
    rendered: tokio::sync::Mutex<Option<Rendered>>,
}

struct Held {
    subscription: Subscription,
    last_scrape: Instant,
}

struct Rendered {
    seq: u64,
    extras: Extras,
    /// Shared buffers: every scrape of a snapshot sends the same bytes without a copy.
    texts: HashMap<Format, Bytes>,
}

impl Exporter {
    pub fn new(hub: Arc<LiveHub>, token: Option<MetricsToken>) -> Arc<Self> {
        Arc::new(Self {
            hub,
            token,
            held: Mutex::new(None),
            rendered: tokio::sync::Mutex::new(None),
        })
    }

    /// The all-queues frames, keeping the poller alive for [`HOLD`] from now.
    fn frames(self: &Arc<Self>) -> tokio::sync::watch::Receiver<Frame> {
        let mut held = self
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(held) = held.as_mut() {
            held.last_scrape = Instant::now();
            return held.subscription.frames.clone();
        }
        let subscription = self.hub.subscribe(Topic::AllQueues, None);
        let frames = subscription.frames.clone();
        *held = Some(Held {
            subscription,
            last_scrape: Instant::now(),
        });
        drop(held);
        // Lets the poller go once nobody scraped for HOLD.
        let exporter = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HOLD / 10).await;
                let Some(exporter) = exporter.upgrade() else {
                    return;
                };
                let mut held = exporter
                    .held
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                if held
                    .as_ref()
                    .is_none_or(|held| held.last_scrape.elapsed() >= HOLD)
                {
                    *held = None;
                    return;
                }
            }
        });
        frames
    }

    /// The exposition of the newest snapshot in `format`.
    async fn scrape(self: &Arc<Self>, state: &AppState, format: Format) -> Bytes {
        let mut frames = self.frames();
        let frame = match wait_for_data(&mut frames).await {
            Some(frame) => frame,
            None => frames.borrow().clone(),
        };
        let (seq, metrics) = match &frame {
            Frame::Data { seq, metrics, .. } => (*seq, metrics.clone()),
            Frame::Unavailable { seq, .. } | Frame::Gone { seq } => (*seq, None),
            Frame::Pending => (0, None),
        };
        let mut rendered = self.rendered.lock().await;
        if rendered.as_ref().is_none_or(|r| r.seq != seq) {
            let previous = rendered.as_ref().map(|r| &r.extras.queues);
            let extras = match &metrics {
                Some(metrics) => read_extras(state, &self.hub, metrics, previous).await,
                None => Extras::unavailable(&self.hub, state),
            };
            *rendered = Some(Rendered {
                seq,
                extras,
                texts: HashMap::new(),
            });
        }
        let Some(rendered) = rendered.as_mut() else {
            return Bytes::new();
        };
        if let Some(text) = rendered.texts.get(&format) {
            return text.clone();
        }
        let text = Bytes::from(
            Exposition {
                prefix: &state.settings.prefix,
                metrics: metrics.as_deref(),
                extras: &rendered.extras,
                now_ms: now_ms(),
            }
            .render(format),
        );
        rendered.texts.insert(format, text.clone());
        text
    }
}

/// The newest frame once it holds data or the poller gave up on a poll; `None` if neither came
/// within [`FIRST_SNAPSHOT`].
async fn wait_for_data(frames: &mut tokio::sync::watch::Receiver<Frame>) -> Option<Frame> {
    let deadline = tokio::time::Instant::now() + FIRST_SNAPSHOT;
    loop {
        let frame = frames.borrow_and_update().clone();
        if !matches!(frame, Frame::Pending) {
            return Some(frame);
        }
        match tokio::time::timeout_at(deadline, frames.changed()).await {
            Ok(Ok(())) => continue,
            _ => return None,
        }
    }
}

/// What the snapshot lacks: a `PING`'s round trip, with alert rules the firing alerts (one
/// `HGETALL`) and with the collector the lifetime counters (one `HGETALL`); the workers come
/// with the snapshot. The reads that cost a command per queue (oldest waiting job, stuck jobs,
/// the collector's lag) are taken from `previous` while it is younger than
/// [`QUEUE_EXTRAS_EVERY`]. A read that fails leaves its series out
/// (and says so in the log) rather than reporting zeros.
async fn read_extras(
    state: &AppState,
    hub: &LiveHub,
    metrics: &Metrics,
    previous: Option<&QueueExtras>,
) -> Extras {
    let mut extras = Extras::unavailable(hub, state);
    extras.snapshot_ok = true;
    let started = Instant::now();
    if app::ssr::redis::ping(&state.redis, state.settings.redis_timeout)
        .await
        .is_ok()
    {
        extras.redis_rtt = Some(started.elapsed().as_secs_f64());
    }
    extras.queues = match previous {
        Some(previous)
            if previous
                .read_at
                .is_some_and(|at| at.elapsed() < QUEUE_EXTRAS_EVERY) =>
        {
            previous.clone()
        }
        _ => read_queue_extras(state).await,
    };
    // The snapshot carries the workers (its one `CLIENT LIST`); unknown when Redis refused it.
    extras.workers = metrics
        .queues
        .iter()
        .map(|queue| {
            queue
                .workers
                .map(|count| (queue.summary.queue_name.clone(), count as usize))
        })
        .collect();
    match app::ssr::service::alerts::firing_by_severity(state).await {
        Ok(firing) => extras.firing = firing,
        Err(error) => {
            tracing::warn!(error.message = %error, "cannot read the firing alerts for /metrics")
        }
    }
    if state.settings.collector {
        let keys = HistoryKeys::new(&state.settings.monitor_prefix, &state.settings.prefix);
        let read: Result<HashMap<String, u64>, AppError> = state
            .within(async {
                Ok(state
                    .redis
                    .next()
                    .hgetall::<HashMap<String, u64>, _>(keys.recent_counts())
                    .await?)
            })
            .await;
        match read {
            Ok(fields) => {
                extras.totals = Some(render::lifetime_totals(&fields));
                extras.timings = Some(render::lifetime_histograms(&fields));
            }
            Err(error) => {
                tracing::warn!(error.message = %error, "cannot read the collector's totals for /metrics")
            }
        }
    }
    extras
}

/// The reads that cost a command per queue: the oldest waiting job of each queue (one script
/// call each, pipelined), the stuck jobs (the stuck report, shared with `/alerts/stuck`) and,
/// with the collector, its caught-up marks (one `HMGET`). A read that fails leaves its series
/// out; all are tried again after [`QUEUE_EXTRAS_EVERY`].
async fn read_queue_extras(state: &AppState) -> QueueExtras {
    let mut extras = QueueExtras {
        read_at: Some(Instant::now()),
        ..QueueExtras::default()
    };
    let queues = match state.within(state.registry.queues()).await {
        Ok(queues) => queues,
        Err(error) => {
            tracing::warn!(error.message = %error, "cannot list the queues for /metrics");
            return extras;
        }
    };
    let prefix = &state.settings.prefix;
    match state
        .within(inputs::oldest_waiting(&state.redis, prefix, &queues))
        .await
    {
        Ok(oldest) => extras.oldest_waiting = Some(oldest),
        Err(error) => {
            tracing::warn!(error.message = %error, "cannot read the oldest waiting jobs for /metrics")
        }
    }
    match app::ssr::service::reads::stuck_alerts(state, Some(STUCK_COUNTED)).await {
        Ok(report) => {
            let mut stuck = BTreeMap::new();
            for job in report.jobs {
                *stuck.entry((job.queue_name, job.severity)).or_insert(0) += 1;
            }
            extras.stuck = Some(stuck);
        }
        Err(error) => {
            tracing::warn!(error.message = %error, "cannot read the stuck jobs for /metrics")
        }
    }
    if state.settings.collector {
        let keys = HistoryKeys::new(&state.settings.monitor_prefix, prefix);
        match state
            .within(inputs::caught_up(&state.redis, &keys.caught_up(), &queues))
            .await
        {
            Ok(marks) => extras.caught_up = Some(marks),
            Err(error) => {
                tracing::warn!(error.message = %error, "cannot read the collector's marks for /metrics")
            }
        }
    }
    extras
}

/// `GET /metrics` (see the module's documentation); the [`Exporter`] comes as an extension.
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, axum::routing::get(serve))
}

/// `GET /metrics`: the queues in the Prometheus text format (or OpenMetrics on `Accept`), for
/// scrapers sending `METRICS_TOKEN` as a bearer token.
#[utoipa::path(get, path = "/metrics", tag = "service", security(("metrics_token" = [])),
    responses(
        (status = 200, description = "The Prometheus text exposition (0.0.4), or OpenMetrics 1.0 when `Accept` names it", content_type = "text/plain; version=0.0.4", body = String),
        (status = 401, description = "No or a wrong `METRICS_TOKEN`", body = ApiError),
        (status = 404, description = "Off: `METRICS_TOKEN` is not set", body = ApiError)))]
pub(crate) async fn serve(
    State(state): State<AppState>,
    Extension(exporter): Extension<Arc<Exporter>>,
    headers: HeaderMap,
) -> Response {
    let Some(token) = &exporter.token else {
        return AppError::NotFound(
            "the Prometheus endpoint is off: set METRICS_TOKEN to turn it on".into(),
        )
        .into_response();
    };
    if !token.admits(&headers) {
        let mut response =
            AppError::Unauthorized("send METRICS_TOKEN as `Authorization: Bearer <token>`".into())
                .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"metrics\""),
        );
        return response;
    }
    let format = Format::negotiate(
        headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok()),
    );
    let text = exporter.scrape(&state, format).await;
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, format.content_type()),
            (header::CACHE_CONTROL, "no-store"),
        ],
        text,
    )
        .into_response()
}
