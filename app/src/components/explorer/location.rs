//! Where the explorer is — queue, state, job, search — kept in the page's URL
//! (`?queue=&state=&job=&q=`) so a link to it can be shared, and in a plain signal when the
//! monitor is embedded in another app (whose URL is its own).
//!
//! The URL is read only in the browser, after hydration (an effect copies it in), so the server
//! and the first client render agree: the explorer opens right after the page comes alive.
//! Moves are recorded with the history API (`pushState`/`replaceState`) and Back/Forward
//! (`popstate`) read the URL again; there is no router (see `crate::page_url`).

use crate::model::JobState;
use leptos::prelude::*;

/// The explorer's position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExplorerLocation {
    /// The queue whose detail is open.
    pub queue: Option<String>,
    /// The state tab (absent: waiting).
    pub state: Option<JobState>,
    /// The job whose panel is open.
    pub job: Option<String>,
    /// The search in the queue (absent or empty: the state's list).
    pub search: Option<String>,
}

impl ExplorerLocation {
    /// Reads a location from query parameters (`get` returns a parameter's value); unknown
    /// states and empty values are ignored rather than refused, since a link may be old.
    pub fn from_params(get: impl Fn(&str) -> Option<String>) -> Self {
        let text = |name: &str| get(name).filter(|value| !value.trim().is_empty());
        let queue = text("queue");
        // Without a queue, nothing else has a meaning.
        let within = |value: Option<String>| value.filter(|_| queue.is_some());
        ExplorerLocation {
            state: within(text("state")).and_then(|s| JobState::parse(&s)),
            job: within(text("job")),
            search: within(text("q")),
            queue,
        }
    }

    /// The query string for this location (`?queue=…`), or `""` when nothing is open.
    pub fn to_query(&self) -> String {
        let mut pairs = Vec::new();
        if let Some(queue) = &self.queue {
            pairs.push(format!("queue={}", encode(queue)));
            if let Some(state) = self.state {
                pairs.push(format!("state={}", state.as_str()));
            }
            if let Some(job) = &self.job {
                pairs.push(format!("job={}", encode(job)));
            }
            if let Some(search) = self.search.as_deref().filter(|s| !s.is_empty()) {
                pairs.push(format!("q={}", encode(search)));
            }
        }
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }

    /// The state tab shown.
    pub fn tab(&self) -> JobState {
        self.state.unwrap_or(JobState::Waiting)
    }

    /// Another queue (or none): a fresh position.
    pub fn with_queue(queue: Option<String>) -> Self {
        ExplorerLocation {
            queue,
            ..Default::default()
        }
    }
}

/// A query value percent-encoded (form style is not needed: `+` is encoded too).
fn encode(text: &str) -> String {
    crate::components::format::path_segment(text)
}

/// How a move is recorded in the browser's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// A new entry: Back returns to where the operator was (opening a queue, a job, a tab).
    Push,
    /// The same entry (typing a search, paging).
    Replace,
}

/// Provided by our own pages ([`crate::App`]): the explorer may keep its position in the URL.
/// Without it (the monitor embedded in another app) the position lives in a signal only.
#[derive(Clone, Copy, Debug)]
pub struct UrlSync;

/// The explorer's location, read and changed through one handle.
#[derive(Clone, Copy)]
pub struct LocationHandle {
    current: RwSignal<ExplorerLocation>,
    /// Records a move in the URL (query string and step), when [`UrlSync`] allows it.
    navigate: Option<Callback<(String, Step)>>,
}

impl LocationHandle {
    /// Follows the page's URL on our own pages ([`UrlSync`]), else a signal.
    pub fn new() -> Self {
        let current = RwSignal::new(ExplorerLocation::default());
        let navigate = use_context::<UrlSync>().and_then(|_| browser_url(current));
        LocationHandle { current, navigate }
    }

    /// The location (reactive).
    pub fn get(&self) -> ExplorerLocation {
        self.current.get()
    }

    /// Reads part of the location (reactive).
    pub fn with<T>(&self, f: impl FnOnce(&ExplorerLocation) -> T) -> T {
        self.current.with(f)
    }

    /// Moves the explorer: the view follows at once; the URL records it.
    pub fn go(&self, to: ExplorerLocation, step: Step) {
        if self.current.with_untracked(|c| *c == to) {
            return;
        }
        let query = to.to_query();
        self.current.set(to);
        if let Some(navigate) = self.navigate {
            navigate.run((query, step));
        }
    }

    /// Changes part of the location.
    pub fn update(&self, step: Step, change: impl FnOnce(&mut ExplorerLocation)) {
        let mut to = self.current.get_untracked();
        change(&mut to);
        self.go(to, step);
    }
}

/// Keeps `current` in step with the page's URL (after hydration, and on Back/Forward) and
/// returns how a move is recorded in it. Nothing during server rendering.
fn browser_url(current: RwSignal<ExplorerLocation>) -> Option<Callback<(String, Step)>> {
    #[cfg(feature = "hydrate")]
    {
        let read = move || {
            let query = crate::page_url::query();
            let read = ExplorerLocation::from_params(|name| crate::page_url::param(&query, name));
            if current.with_untracked(|c| *c != read) {
                current.set(read);
            }
        };
        // Effects run only in the browser: the URL reaches the view after hydration.
        Effect::new(move |_| read());
        let listener = window_event_listener(leptos::ev::popstate, move |_| read());
        on_cleanup(move || listener.remove());
        Some(Callback::new(move |(query, step): (String, Step)| {
            let Some(window) = web_sys::window() else {
                return;
            };
            let url = format!("{}{query}", crate::page_url::path());
            if let Ok(history) = window.history() {
                let state = wasm_bindgen::JsValue::NULL;
                let _ = match step {
                    Step::Push => history.push_state_with_url(&state, "", Some(&url)),
                    Step::Replace => history.replace_state_with_url(&state, "", Some(&url)),
                };
            }
        }))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = current;
        None
    }
}

impl Default for LocationHandle {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> ExplorerLocation {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ExplorerLocation::from_params(|name| map.get(name).cloned())
    }

    #[test]
    fn a_location_survives_the_url() {
        let location = ExplorerLocation {
            queue: Some("mails v2".into()),
            state: Some(JobState::Failed),
            job: Some("a/b".into()),
            search: Some("data.to:\"a b\"".into()),
        };
        let query = location.to_query();
        assert_eq!(
            query,
            "?queue=mails%20v2&state=failed&job=a%2Fb&q=data.to%3A%22a%20b%22"
        );
        // Read back from the URL, the values come back decoded.
        let decoded = read(&[
            ("queue", "mails v2"),
            ("state", "failed"),
            ("job", "a/b"),
            ("q", "data.to:\"a b\""),
        ]);
        assert_eq!(decoded, location);
        let query = query.trim_start_matches('?');
        let from_url = ExplorerLocation::from_params(|name| crate::page_url::param(query, name));
        assert_eq!(from_url, location);
    }

    #[test]
    fn old_or_partial_links_open_what_they_can() {
        assert_eq!(read(&[]), ExplorerLocation::default());
        assert_eq!(ExplorerLocation::default().to_query(), "");
        // No queue: the rest means nothing.
        assert_eq!(
            read(&[("job", "5"), ("state", "failed")]),
            ExplorerLocation::default()
        );
        // An unknown state falls back to the default tab; blanks are absent.
        let location = read(&[("queue", "mails"), ("state", "sleeping"), ("q", " ")]);
        assert_eq!(location, ExplorerLocation::with_queue(Some("mails".into())));
        assert_eq!(location.tab(), JobState::Waiting);
        assert_eq!(location.to_query(), "?queue=mails");
    }
}
