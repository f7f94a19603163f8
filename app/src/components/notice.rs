//! How outcomes and API errors are shown: in place, announced to screen readers, with the API's
//! own message.

use crate::error::ApiError;
use leptos::prelude::*;

/// An API error. Unauthorized errors offer the sign-in page.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    let sign_in = error.is_unauthorized();
    view! {
        <div class="error" role="alert">
            <strong>{error.error.clone()}</strong>
            ": "
            {error.message.clone()}
            {sign_in.then(|| view! { " " <a href="/login">"Sign in again"</a> })}
        </div>
    }
    .into_any()
}

/// The monitor's one status line for control actions (pause, resume, clear): the latest
/// outcome, success or failure.
#[component]
pub fn Outcome(outcome: ReadSignal<Option<Result<String, ApiError>>>) -> impl IntoView {
    view! {
        {move || outcome.get().map(|result| match result {
            Ok(text) => view! { <p class="outcome" role="status">{text}</p> }.into_any(),
            Err(error) => view! { <ErrorNotice error/> }.into_any(),
        })}
    }
    .into_any()
}
