//! The browser entry point. It holds nothing but `hydrate()`: all components live in `app`.

/// Called by the generated JS once the WASM is loaded: takes over the server-rendered page.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
}
