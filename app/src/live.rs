//! The dashboard's live connection: an `EventSource` on `/api/v1/admin/jobs/live` (authenticated
//! by the same-origin session cookie) turned into signals. It exists only in the browser; during
//! server rendering the signals keep their initial values and the page shows the first read.

use crate::model::Metrics;
use leptos::prelude::*;

/// What the dashboard knows about its live connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// Not connected yet (and always, during server rendering).
    Connecting,
    /// Receiving snapshots.
    Live,
    /// The connection dropped; the browser reconnects by itself.
    Reconnecting,
    /// Connected, but the server cannot read Redis; data resumes by itself.
    RedisDown,
    /// The session ended (the token expired); sign in again.
    Offline,
}

impl Connection {
    /// A stable name, for `data-connection` and styling.
    pub fn as_str(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting",
            Connection::RedisDown => "redis-down",
            Connection::Offline => "offline",
        }
    }

    /// What a person reads.
    pub fn label(self) -> &'static str {
        match self {
            Connection::Connecting => "connecting…",
            Connection::Live => "live",
            Connection::Reconnecting => "reconnecting…",
            Connection::RedisDown => "Redis unavailable",
            Connection::Offline => "offline: sign in again",
        }
    }
}

/// The latest live snapshot and the connection state. Connects once the page is hydrated.
pub fn use_live_metrics() -> (ReadSignal<Option<Metrics>>, ReadSignal<Connection>) {
    let (metrics, set_metrics) = signal(None::<Metrics>);
    let (connection, set_connection) = signal(Connection::Connecting);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        browser::connect(set_metrics, set_connection);
        #[cfg(not(feature = "hydrate"))]
        let _ = (set_metrics, set_connection);
    });
    (metrics, connection)
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::Connection;
    use crate::model::Metrics;
    use leptos::prelude::*;
    use wasm_bindgen::prelude::*;
    use wasm_bindgen::JsCast;
    use web_sys::{EventSource, MessageEvent};

    /// Opens the stream and wires its events to the signals. The page lives as long as the
    /// connection, so the callbacks are kept for the page's lifetime.
    pub fn connect(
        set_metrics: WriteSignal<Option<Metrics>>,
        set_connection: WriteSignal<Connection>,
    ) {
        let Ok(source) = EventSource::new("/api/v1/admin/jobs/live") else {
            set_connection.set(Connection::Offline);
            return;
        };
        let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let snapshot = event
                .data()
                .as_string()
                .and_then(|text| serde_json::from_str::<Metrics>(&text).ok());
            if let Some(snapshot) = snapshot {
                set_metrics.set(Some(snapshot));
                set_connection.set(Connection::Live);
            }
        });
        source.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        on_message.forget();

        let on_status = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let text = event.data().as_string().unwrap_or_default();
            if text.contains("redis_unavailable") {
                set_connection.set(Connection::RedisDown);
            }
        });
        let _ =
            source.add_event_listener_with_callback("status", on_status.as_ref().unchecked_ref());
        on_status.forget();

        let closing = source.clone();
        let on_auth = Closure::<dyn FnMut(MessageEvent)>::new(move |_: MessageEvent| {
            closing.close();
            set_connection.set(Connection::Offline);
        });
        let _ = source.add_event_listener_with_callback("auth", on_auth.as_ref().unchecked_ref());
        on_auth.forget();

        // The browser reconnects by itself (honouring the stream's `retry:` hint).
        let on_error = Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            // `try_update`: the page may be gone already, then there is nothing to update.
            let _ = set_connection.try_update(|state| {
                if *state != Connection::Offline {
                    *state = Connection::Reconnecting;
                }
            });
        });
        source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        on_error.forget();
    }
}
