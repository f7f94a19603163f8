//! The site's static files (`pkg/`: the wasm and its lazily loaded chunks, their JS glue, the
//! CSS), with cache lifetimes that let a second visit download nothing.
//!
//! `cargo leptos build` (with `hash-files = true`, see the workspace's `Cargo.toml`) puts a
//! content hash in every file name of `pkg/` and lists the hashes in `hash.txt` beside the
//! server binary; `--precompress` (release builds, `scripts/release.sh`) writes a brotli and a
//! gzip variant of each file. So, when the server finds that hash file:
//!
//! - pages link the hashed names (leptos's hydration script reads the hash file; the
//!   stylesheet link reads its `css:` line);
//! - `pkg/` files are served with `Cache-Control: public, max-age=31536000, immutable`: a new
//!   build has new names, so a cached file is never stale;
//! - the `.br` or `.gz` variant answers when the request accepts it (`Vary: Accept-Encoding`).
//!
//! Without a hash file (a build without hashing), names are plain and files are served
//! `no-cache` (revalidated by `Last-Modified`).

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// The hash file's default name, looked for beside the server binary (as leptos does).
pub const HASH_FILE: &str = "hash.txt";
/// How long a hashed file may be cached: a year, and it never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Plain names are revalidated on every use.
const REVALIDATE: &str = "no-cache";
/// How long the icon may be cached without asking again: a week (its name has no hash).
const ICON: &str = "public, max-age=604800";

/// Where the hash file is: `name` itself when absolute, else beside the running binary.
pub fn hash_file_path(name: &str) -> PathBuf {
    let path = PathBuf::from(name);
    if path.is_absolute() {
        return path;
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_default()
        .join(path)
}

/// The site's files as the server serves them.
#[derive(Clone, Debug, Default)]
pub struct Assets {
    site_root: PathBuf,
    /// The hash file, when the site's names are hashed.
    hash_file: Option<PathBuf>,
}

impl Assets {
    /// The site at `site_root`, hashed when `hash_file` exists.
    pub fn load(site_root: &str, hash_file: &Path) -> Assets {
        let hashed = hash_file.is_file();
        if !hashed {
            tracing::info!(
                hash_file = %hash_file.display(),
                "no hash file: the site's files keep plain names and are revalidated on every use"
            );
        }
        Assets {
            site_root: PathBuf::from(site_root),
            hash_file: hashed.then(|| hash_file.to_path_buf()),
        }
    }

    /// The hash file, when names are hashed.
    pub fn hash_file(&self) -> Option<&Path> {
        self.hash_file.as_deref()
    }

    /// The file behind a requested `pkg/` name: only the site's own kinds of file, never a
    /// path, a hidden file, a compressed variant or a type declaration.
    fn resolve(&self, requested: &str) -> Option<PathBuf> {
        let kinds = [".wasm", ".js", ".css", ".json"];
        let plain = !requested.is_empty()
            && !requested.starts_with('.')
            && !requested.contains(['/', '\\'])
            && !requested.ends_with(".d.ts")
            && kinds.iter().any(|ext| requested.ends_with(ext));
        plain.then(|| self.site_root.join("pkg").join(requested))
    }
}

/// Serves one file, adding `cache_control` to a success (and to a 304).
async fn serve_file(
    service: ServeFile,
    request: Request<Body>,
    cache_control: &'static str,
) -> Response {
    let mut response = match service.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// `GET /pkg/{file}`.
pub async fn serve(
    State(assets): State<Arc<Assets>>,
    UrlPath(file): UrlPath<String>,
    request: Request<Body>,
) -> Response {
    let Some(path) = assets.resolve(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cache_control = if assets.hash_file.is_some() {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    // The variants exist only where the build made them, from the same build.
    let service = ServeFile::new(path).precompressed_br().precompressed_gzip();
    serve_file(service, request, cache_control).await
}

/// `GET /favicon.svg`.
pub async fn serve_favicon(State(assets): State<Arc<Assets>>, request: Request<Body>) -> Response {
    let service = ServeFile::new(assets.site_root.join("favicon.svg"));
    serve_file(service, request, ICON).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_site_files_are_served() {
        let assets = Assets {
            site_root: PathBuf::from("/site"),
            hash_file: None,
        };
        assert_eq!(
            assets.resolve("monitor.0123.wasm"),
            Some(PathBuf::from("/site/pkg/monitor.0123.wasm"))
        );
        assert!(assets.resolve("__wasm_split_manifest.ab.json").is_some());
        for refused in [
            "monitor.wasm.br",
            "monitor.d.ts",
            "../secret.js",
            ".hidden.js",
            "hash.txt",
            "",
        ] {
            assert!(assets.resolve(refused).is_none(), "{refused}");
        }
    }

    #[test]
    fn a_relative_hash_file_sits_beside_the_binary() {
        assert_eq!(
            hash_file_path("/etc/monitor/hash.txt"),
            PathBuf::from("/etc/monitor/hash.txt")
        );
        let beside = hash_file_path("hash.txt");
        assert_eq!(
            beside.file_name().and_then(|n| n.to_str()),
            Some("hash.txt")
        );
        assert!(beside.is_absolute());
    }
}
