//! Live streams: one poller per server process and per topic (all queues, or one queue) reads
//! Redis every `LIVE_INTERVAL_MS` and publishes the snapshot on a `watch` channel that every
//! viewer of the topic reads. Redis load therefore does not grow with the number of viewers; a
//! slow viewer only ever sees the newest snapshot (a `watch` holds one value), so it can neither
//! slow the others nor make memory grow; a topic nobody watches is not polled (its poller stops
//! when the last subscription is dropped).

use app::model::{Metrics, MetricsDelta};
use app::ssr::bullmq::discovery::QueueInfo;
use app::ssr::bullmq::keys::QueueName;
use app::ssr::error::AppError;
use app::ssr::service::reads;
use app::ssr::state::AppState;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a stream is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// The same data as `GET /metrics`.
    AllQueues,
    /// One queue with its active jobs.
    Queue(QueueName),
}

/// The latest result of a topic's poller.
#[derive(Clone, Debug)]
pub enum Frame {
    /// Nothing read yet.
    Pending,
    /// A snapshot, already serialised once for every viewer: as the `data:` line of an SSE
    /// event, in a shared buffer that every viewer's connection writes as it is (no copy per
    /// viewer: with 1,000 viewers of a 26 KB snapshot, copies were 26 MB per poll).
    Data {
        /// Increases with every poll; used as the SSE event id.
        seq: u64,
        /// `data: <the snapshot as JSON>\n\n`.
        json: Bytes,
        /// The change from frame `seq - 1` (all-queues topic only, when that frame was data
        /// too), as a `data:` line: what `?delta=true` viewers get instead of `json`.
        delta: Option<Bytes>,
        /// The snapshot itself (all-queues topic only), for the Prometheus exposition.
        metrics: Option<Arc<Metrics>>,
    },
    /// The last poll could not read Redis.
    Unavailable {
        /// Increases with every poll.
        seq: u64,
        /// Why, for people.
        message: Arc<str>,
    },
    /// The queue of a per-queue topic no longer exists.
    Gone {
        /// Increases with every poll.
        seq: u64,
    },
}

/// A running poller. Dropping the last reference stops it.
struct Poller {
    frames: watch::Receiver<Frame>,
    task: JoinHandle<()>,
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A viewer's handle on a topic: the frames, and a share in keeping the poller alive.
pub struct Subscription {
    /// The topic's frames; always holds the newest.
    pub frames: watch::Receiver<Frame>,
    _poller: Arc<Poller>,
}

/// The process's pollers, by topic.
pub struct LiveHub {
    state: AppState,
    topics: Mutex<HashMap<Topic, Weak<Poller>>>,
    polls: Arc<AtomicU64>,
    shutdown: watch::Receiver<bool>,
    /// Sessions that signed out here (token id → the token's expiry, after which it is
    /// forgotten: the token cannot open anything then anyway).
    signed_out: Mutex<HashMap<String, i64>>,
    /// Bumped on every sign-out, so open streams check whether theirs was one.
    sign_outs: watch::Sender<u64>,
}

impl LiveHub {
    /// A hub reading through `state`; streams end when `shutdown` turns true.
    pub fn new(state: AppState, shutdown: watch::Receiver<bool>) -> Arc<Self> {
        Arc::new(Self {
            state,
            topics: Mutex::new(HashMap::new()),
            polls: Arc::new(AtomicU64::new(0)),
            shutdown,
            signed_out: Mutex::new(HashMap::new()),
            sign_outs: watch::Sender::new(0),
        })
    }

    /// Ends the streams of a session (by its token id) in this instance: they get a final
    /// `auth` event.
    pub fn end_session(&self, token_id: &str, expires_at: i64) {
        let now = chrono::Utc::now().timestamp();
        let mut ended = self
            .signed_out
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        ended.retain(|_, expiry| *expiry > now);
        ended.insert(token_id.to_owned(), expires_at);
        drop(ended);
        self.sign_outs.send_modify(|n| *n += 1);
    }

    /// Whether the session with this token id signed out here.
    pub fn signed_out(&self, token_id: &str) -> bool {
        self.signed_out
            .lock()
            .map(|ended| ended.contains_key(token_id))
            .unwrap_or(false)
    }

    /// News of sign-outs (its value changes at each).
    pub fn sign_outs(&self) -> watch::Receiver<u64> {
        self.sign_outs.subscribe()
    }

    /// Joins the topic's poller, starting it if nobody watches the topic yet. `queue` is the
    /// discovered queue of a per-queue topic.
    pub fn subscribe(&self, topic: Topic, queue: Option<QueueInfo>) -> Subscription {
        let mut topics = self
            .topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        topics.retain(|_, poller| poller.strong_count() > 0);
        if let Some(poller) = topics.get(&topic).and_then(Weak::upgrade) {
            return Subscription {
                frames: poller.frames.clone(),
                _poller: poller,
            };
        }
        let (sender, frames) = watch::channel(Frame::Pending);
        let task = tokio::spawn(poll(
            self.state.clone(),
            topic.clone(),
            queue,
            sender,
            self.polls.clone(),
        ));
        let poller = Arc::new(Poller {
            frames: frames.clone(),
            task,
        });
        topics.insert(topic, Arc::downgrade(&poller));
        Subscription {
            frames,
            _poller: poller,
        }
    }

    /// How many topics are being polled right now.
    pub fn active_topics(&self) -> usize {
        self.topics
            .lock()
            .map(|topics| topics.values().filter(|p| p.strong_count() > 0).count())
            .unwrap_or(0)
    }

    /// How many polls all pollers have made since start (each poll is one snapshot read).
    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// Turns true when the server shuts down.
    pub fn shutdown(&self) -> watch::Receiver<bool> {
        self.shutdown.clone()
    }
}

/// Reads the topic every interval and publishes the result until aborted.
async fn poll(
    state: AppState,
    topic: Topic,
    queue: Option<QueueInfo>,
    sender: watch::Sender<Frame>,
    polls: Arc<AtomicU64>,
) {
    let mut ticker = tokio::time::interval(state.settings.live_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut seq = 0;
    // The last snapshot sent (all-queues topic), for deltas.
    let mut previous: Option<(u64, Arc<Metrics>)> = None;
    loop {
        ticker.tick().await;
        seq += 1;
        polls.fetch_add(1, Ordering::Relaxed);
        let frame = match (&topic, &queue) {
            (Topic::AllQueues, _) => {
                let read = reads::metrics(&state).await.map(Arc::new);
                let delta = match (&read, &previous) {
                    (Ok(metrics), Some((base, old))) if *base + 1 == seq => {
                        serde_json::to_string(&MetricsDelta::between(*base, old, metrics))
                            .ok()
                            .map(|json| data_line(&json))
                    }
                    _ => None,
                };
                let snapshot = read.as_ref().ok().cloned();
                previous = snapshot.clone().map(|metrics| (seq, metrics));
                let frame = match read {
                    Ok(metrics) => as_frame(seq, Ok(Some(metrics.as_ref()))),
                    Err(error) => as_frame::<&Metrics>(seq, Err(error)),
                };
                with_delta(frame, delta, snapshot)
            }
            (Topic::Queue(_), Some(queue)) => as_frame(seq, reads::queue_live(&state, queue).await),
            (Topic::Queue(_), None) => Frame::Gone { seq },
        };
        if sender.send(frame).is_err() {
            break;
        }
    }
}

/// `frame` carrying `delta` and the snapshot, when it is data.
fn with_delta(frame: Frame, delta: Option<Bytes>, metrics: Option<Arc<Metrics>>) -> Frame {
    match frame {
        Frame::Data { seq, json, .. } => Frame::Data {
            seq,
            json,
            delta,
            metrics,
        },
        other => other,
    }
}

/// `json` as an SSE `data:` line ending the event. Compact JSON holds no line break (one inside
/// a string is escaped), so one line carries it whole.
pub fn data_line(json: &str) -> Bytes {
    let mut line = Vec::with_capacity(json.len() + 8);
    line.extend_from_slice(b"data: ");
    line.extend_from_slice(json.as_bytes());
    line.extend_from_slice(b"\n\n");
    Bytes::from(line)
}

fn as_frame<T: serde::Serialize>(seq: u64, result: Result<Option<T>, AppError>) -> Frame {
    match result {
        Ok(Some(snapshot)) => match serde_json::to_string(&snapshot) {
            Ok(json) => Frame::Data {
                seq,
                json: data_line(&json),
                delta: None,
                metrics: None,
            },
            Err(error) => Frame::Unavailable {
                seq,
                message: format!("could not encode the snapshot: {error}").into(),
            },
        },
        Ok(None) => Frame::Gone { seq },
        Err(error) => {
            if !matches!(error, AppError::RedisUnavailable(_)) {
                tracing::error!(error.message = %error, "live poll failed");
            }
            Frame::Unavailable {
                seq,
                message: error.to_api_error().message.into(),
            }
        }
    }
}
