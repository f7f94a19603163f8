//! `GET /metrics` at the root, where Prometheus looks by default: the queues in the Prometheus
//! text format, or OpenMetrics when the scraper asks for it.
//!
//! A scrape reads no queue itself. It joins the live hub's all-queues poller (the one the
//! dashboards watch) and keeps it running for [`HOLD`] after the last scrape, so scrapes every
//! 15–60 s keep one poller alive instead of starting one each. What the snapshot lacks (the
//! workers from `CLIENT LIST`, the collector's lifetime counters) is read once per snapshot,
//! by whichever scrape comes first, and the text is rendered once per snapshot and format;
//! ten scrapers cost what one does.
//!
//! Off unless `METRICS_TOKEN` is set; scrapers send it as a bearer token (a Prometheus
//! `authorization` block). The REST API's JSON metrics stay at `/api/v1/admin/jobs/metrics`.

pub mod render;

use crate::live::{Frame, LiveHub, Subscription, Topic};
use app::error::ApiError;
use app::model::Metrics;
use app::ssr::bullmq::keys::QueueName;
use app::ssr::clock::now_ms;
use app::ssr::error::AppError;
use app::ssr::history::keys::HistoryKeys;
use app::ssr::service::workers::worker_counts;
use app::ssr::state::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use bytes::Bytes;
use fred::prelude::*;
use render::{Exposition, Extras, Format};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long the all-queues poller keeps running after the last scrape: longer than any usual
/// scrape interval, so a scraped monitor never restarts it.
pub const HOLD: Duration = Duration::from_secs(300);

/// How long a scrape waits for the poller's first snapshot.
const FIRST_SNAPSHOT: Duration = Duration::from_secs(10);

/// Where the exposition is served.
pub const PATH: &str = "/metrics";

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
            let extras = match &metrics {
                Some(metrics) => read_extras(state, &self.hub, metrics).await,
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

/// What the snapshot lacks: workers per queue (one `CLIENT LIST` per Redis), with alert rules
/// the firing alerts (one `HGETALL`) and with the collector the lifetime counters (one
/// `HGETALL`). A read that fails leaves its series out
/// (and says so in the log) rather than reporting zeros.
async fn read_extras(state: &AppState, hub: &LiveHub, metrics: &Metrics) -> Extras {
    let mut extras = Extras::unavailable(hub, state);
    extras.snapshot_ok = true;
    // The snapshot's own queues: the series of one scrape always name the same queues.
    let names: Vec<QueueName> = metrics
        .queues
        .iter()
        .filter_map(|queue| QueueName::parse(&queue.summary.queue_name).ok())
        .collect();
    match worker_counts(state, &names).await {
        Ok(counts) => {
            extras.workers = Some(
                counts
                    .into_iter()
                    .map(|(queue, count)| (queue.as_str().to_owned(), count))
                    .collect(),
            );
        }
        Err(error) => {
            tracing::warn!(error.message = %error, "cannot read CLIENT LIST for /metrics")
        }
    }
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
            Ok(fields) => extras.totals = Some(render::lifetime_totals(&fields)),
            Err(error) => {
                tracing::warn!(error.message = %error, "cannot read the collector's totals for /metrics")
            }
        }
    }
    extras
}

/// `GET /metrics` (see the module's documentation); the [`Exporter`] comes as an extension.
pub fn router() -> Router<AppState> {
    Router::new().route(PATH, axum::routing::get(serve))
}

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
