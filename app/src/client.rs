//! Where the monitor's browser code sends its requests, and with which credentials.
//!
//! [`JobMonitor`](crate::components::job_monitor::JobMonitor) can be embedded in another app
//! pointing at a remote API and authenticated by a token the host app holds. Server functions
//! and the live streams must then carry that token in the `Authorization` header; with our own
//! same-origin cookie session no header is needed. This module holds the one place that decides:
//! the token source the component registers, and [`MonitorClient`], the server-function client
//! that adds the header to every call.

use leptos::prelude::*;
use leptos::server_fn::client::browser::BrowserClient;
use leptos::server_fn::client::Client;
use leptos::server_fn::error::FromServerFnError;
use std::cell::RefCell;
use std::future::Future;

thread_local! {
    /// The embedding app's token callback. The browser runs one thread; on the server it stays
    /// empty (server functions called during rendering run in-process and see the cookie).
    static TOKEN_SOURCE: RefCell<Option<Callback<(), Option<String>>>> = const { RefCell::new(None) };
}

/// Registers the callback that yields the bearer token (`None`: rely on the session cookie).
pub fn set_token_source(source: Option<Callback<(), Option<String>>>) {
    TOKEN_SOURCE.with(|slot| *slot.borrow_mut() = source);
}

/// The token to send now, asked from the callback on every request so a refreshed token is
/// picked up without reconnecting by hand.
pub fn current_token() -> Option<String> {
    TOKEN_SOURCE
        .with(|slot| slot.borrow().as_ref().map(|source| source.run(())))
        .flatten()
        .filter(|token| !token.is_empty())
}

/// The base URL server functions are sent to. Set once per page (the underlying setting is a
/// process-wide `OnceLock`); an empty URL means the page's own origin.
pub fn set_api_url(api_url: &str) {
    if api_url.is_empty() {
        return;
    }
    let leaked: &'static str = Box::leak(api_url.trim_end_matches('/').to_owned().into_boxed_str());
    // A second monitor on the same page with another URL cannot change it; the first one wins.
    let _ = leptos::server_fn::client::try_set_server_url(leaked);
}

/// `path` on the API (`/api/v1/...`), under the configured base URL.
pub fn api_path(api_url: &str, path: &str) -> String {
    format!("{}{path}", api_url.trim_end_matches('/'))
}

/// The server-function client: the browser's `fetch`, plus `Authorization: Bearer …` when the
/// token source yields a token.
pub struct MonitorClient;

impl<E, IS, OS> Client<E, IS, OS> for MonitorClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = <BrowserClient as Client<E, IS, OS>>::Request;
    type Response = <BrowserClient as Client<E, IS, OS>>::Response;

    fn send(request: Self::Request) -> impl Future<Output = Result<Self::Response, E>> + Send {
        if let Some(token) = current_token() {
            request
                .headers()
                .set("Authorization", &format!("Bearer {token}"));
        }
        <BrowserClient as Client<E, IS, OS>>::send(request)
    }

    #[allow(clippy::manual_async_fn)]
    fn open_websocket(
        path: &str,
    ) -> impl Future<
        Output = Result<
            (
                impl futures::Stream<Item = Result<bytes::Bytes, bytes::Bytes>> + Send + 'static,
                impl futures::Sink<bytes::Bytes> + Send + 'static,
            ),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_join_without_double_slashes() {
        assert_eq!(
            api_path("", "/api/v1/admin/jobs/live"),
            "/api/v1/admin/jobs/live"
        );
        assert_eq!(
            api_path("https://ops.example.com/", "/api/v1/admin/jobs/live"),
            "https://ops.example.com/api/v1/admin/jobs/live"
        );
    }

    #[test]
    fn an_empty_token_counts_as_none() {
        // Callbacks live in the reactive arena, which needs an owner.
        let owner = Owner::new();
        owner.set();
        set_token_source(Some(Callback::new(|()| Some(String::new()))));
        assert_eq!(current_token(), None);
        set_token_source(Some(Callback::new(|()| Some("abc".to_owned()))));
        assert_eq!(current_token().as_deref(), Some("abc"));
        set_token_source(None);
        assert_eq!(current_token(), None);
    }
}
