//! The sign-in page: paste a token issued by your auth system. The form posts to `/auth/session`,
//! which checks the token and keeps it in an HttpOnly cookie; it works without JavaScript.

use leptos::prelude::*;

/// What to tell the user for each error code `/auth/session` redirects back with. Only known
/// codes are shown, so the URL cannot inject text into the page.
fn error_text(code: &str) -> Option<&'static str> {
    match code {
        "invalid_token" => Some(
            "That token was not accepted: it is malformed, expired, or signed with another key.",
        ),
        "no_role" => Some(
            "That token is valid but carries no monitor role (MODERATOR, ADMIN or SUPER_ADMIN).",
        ),
        "missing_token" => Some("Paste a token first."),
        "signed_out" => Some("You are signed out."),
        "session_expired" => Some("Your session has expired; sign in again."),
        _ => None,
    }
}

/// `/login`.
#[component]
pub fn LoginPage() -> impl IntoView {
    // A page of its own (see `page_url`): the query is read once, alike on server and browser.
    let message = crate::page_url::param(&crate::page_url::query(), "error")
        .and_then(|code| error_text(&code));
    view! {
        <section class="login">
            <h1>"BullMQ monitor"</h1>
            <p>"Sign in with a JWT issued by your auth system (role MODERATOR, ADMIN or SUPER_ADMIN)."</p>
            {message.map(|text| view! { <p class="notice" role="alert">{text}</p> })}
            <form method="post" action="/auth/session">
                <label for="token">"Token"</label>
                <textarea id="token" name="token" rows="6" required autocomplete="off" spellcheck="false"></textarea>
                <button type="submit">"Sign in"</button>
            </form>
        </section>
    }
}
