//! The pages' Content Security Policy. Set on the response while the page renders, because only
//! then is the request's script nonce known (Leptos puts it on its hydration and resource
//! scripts). Scripts run only from this origin or with the nonce, the WASM may be compiled
//! (`'wasm-unsafe-eval'`), nothing else is loaded from elsewhere, and no other site may frame the
//! page. Style attributes stay allowed: the bars' widths are inline styles.

use leptos::prelude::use_context;

/// The policy for a page whose inline scripts carry `nonce`.
pub fn policy(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(nonce) => format!("'self' 'nonce-{nonce}' 'wasm-unsafe-eval'"),
        None => "'self' 'wasm-unsafe-eval'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors 'none'"
    )
}

/// Puts the policy on the response being rendered (a no-op outside a server render).
pub fn apply() {
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    let nonce = leptos::nonce::use_nonce();
    if let Ok(value) = http::HeaderValue::from_str(&policy(nonce.as_deref())) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_the_nonce_and_the_wasm_and_forbids_framing() {
        let with = policy(Some("abc123"));
        assert!(with.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(with.contains("frame-ancestors 'none'"));
        assert!(!with.contains("'unsafe-eval'") && !with.contains("script-src *"));
        assert!(policy(None).contains("script-src 'self' 'wasm-unsafe-eval';"));
    }
}
