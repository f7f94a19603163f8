//! The page's own URL, read alike on the server (the request being rendered) and in the
//! browser (`window.location`), so both render the same page and hydration matches.
//!
//! The app has no client-side router: its three pages are whole documents and every link
//! between them is a plain navigation, so the first paint's wasm carries no route matching,
//! no link interception and no navigation machinery (about 100 KB of code before
//! compression). The explorer records its position in the query string through the history
//! API itself (see `components::explorer::location`).

/// The pages, by path. The server registers exactly these (see the server's `router`); any
/// other path renders [`Page::NotFound`] with status 404.
pub const PAGES: [&str; 3] = ["/", "/login", "/embed"];

/// Which page a path shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    Dashboard,
    Login,
    Embed,
    NotFound,
}

impl Page {
    /// The page at `path`, exactly: the server registers (and its page guard protects)
    /// exactly these paths, so no other spelling may render a page.
    pub fn at(path: &str) -> Page {
        match path {
            "/" => Page::Dashboard,
            "/login" => Page::Login,
            "/embed" => Page::Embed,
            _ => Page::NotFound,
        }
    }
}

/// The path of the page being rendered ("/" when unknown).
pub fn path() -> String {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .map(|parts| parts.uri.path().to_owned())
            .unwrap_or_else(|| "/".to_owned())
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        web_sys::window()
            .and_then(|window| window.location().pathname().ok())
            .unwrap_or_else(|| "/".to_owned())
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        "/".to_owned()
    }
}

/// The page's query string, without its `?` (empty when none).
pub fn query() -> String {
    #[cfg(feature = "ssr")]
    {
        leptos::prelude::use_context::<http::request::Parts>()
            .and_then(|parts| parts.uri.query().map(str::to_owned))
            .unwrap_or_default()
    }
    #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
    {
        web_sys::window()
            .and_then(|window| window.location().search().ok())
            .map(|search| search.trim_start_matches('?').to_owned())
            .unwrap_or_default()
    }
    #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
    {
        String::new()
    }
}

/// The decoded value of `name` in a query string (`a=1&b=x%20y`; `+` is a space), the first
/// when it repeats.
pub fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(value))
    })
}

/// Percent-decoding (with `+` as a space); a malformed escape stays as written and invalid
/// UTF-8 becomes U+FFFD, so no URL can make this fail.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|pair| std::str::from_utf8(pair).ok())
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_their_pages() {
        assert_eq!(Page::at("/"), Page::Dashboard);
        assert_eq!(Page::at("/login"), Page::Login);
        assert_eq!(Page::at("/login/"), Page::NotFound);
        assert_eq!(Page::at("/embed"), Page::Embed);
        assert_eq!(Page::at("/embedded"), Page::NotFound);
        assert_eq!(Page::at("//"), Page::NotFound);
        assert_eq!(Page::at(""), Page::NotFound);
        for page in PAGES {
            assert_ne!(Page::at(page), Page::NotFound, "{page}");
        }
    }

    #[test]
    fn query_values_are_decoded() {
        let query = "queue=mails%20v2&q=data.to%3A%22a+b%22&empty=&flag&queue=second";
        assert_eq!(param(query, "queue").as_deref(), Some("mails v2"));
        assert_eq!(param(query, "q").as_deref(), Some("data.to:\"a b\""));
        assert_eq!(param(query, "empty").as_deref(), Some(""));
        assert_eq!(param(query, "flag").as_deref(), Some(""));
        assert_eq!(param(query, "missing"), None);
        assert_eq!(param("", "queue"), None);
        // Malformed escapes and invalid UTF-8 never fail.
        assert_eq!(param("a=%zz%4", "a").as_deref(), Some("%zz%4"));
        assert_eq!(param("a=%ff", "a").as_deref(), Some("\u{fffd}"));
        assert_eq!(param("a=%C3%A9", "a").as_deref(), Some("é"));
    }
}
