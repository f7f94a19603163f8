//! The site's static files (`pkg/`: the wasm, its JS glue, the CSS): content-hashed names that
//! browsers may cache forever, brotli and gzip variants made once at build time, and content
//! negotiation between them.
//!
//! `server precompress` (run after `cargo leptos build` by `scripts/release.sh` and
//! `scripts/test.sh`) writes, for every file of `pkg/`, `<file>.br` (brotli, quality 11) and
//! `<file>.gz` (gzip, level 9), and the manifest `pkg/assets.json`: each file's content hash,
//! size and modification time. With a manifest that matches the files, the server
//!
//! - serves `pkg/monitor.<hash>.wasm` (and `.js`, `.css`) with `Cache-Control: public,
//!   max-age=31536000, immutable`: a new build has new names, so a cached file is never stale;
//! - writes leptos's `hash.txt` beside the manifest, so the page's hydration script asks for the
//!   hashed names;
//! - answers with the `.br` or `.gz` variant when the request accepts it (`Vary:
//!   Accept-Encoding`).
//!
//! Files asked for by their plain names, and every file when there is no manifest or it does not
//! match (the site was rebuilt without `server precompress`: a stale hash must never be served
//! as immutable), are served `no-cache` (revalidated by `Last-Modified`), uncompressed.

use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::UNIX_EPOCH;
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// The manifest's file name, in `pkg/`.
pub const MANIFEST: &str = "assets.json";
/// Leptos's list of hashes (`js: …`, `wasm: …`, `css: …`), in `pkg/`.
pub const HASH_FILE: &str = "hash.txt";
/// How long a hashed file may be cached: a year, and it never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Plain names are revalidated on every use.
const REVALIDATE: &str = "no-cache";

/// One file of `pkg/` as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The first 16 hex digits of the content's SHA-256.
    pub hash: String,
    pub size: u64,
    /// Modification time, ns since the epoch: with `size`, how a rebuilt file is noticed.
    pub modified: u128,
}

/// `pkg/assets.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// By file name (`monitor.wasm`).
    pub files: BTreeMap<String, Entry>,
}

/// Whether a file of `pkg/` is one the site serves (not a variant, a manifest or a type file).
fn served(name: &str) -> bool {
    let kept = [".wasm", ".js", ".css", ".json"];
    kept.iter().any(|ext| name.ends_with(ext))
        && name != MANIFEST
        && !name.ends_with(".d.ts")
        && !name.contains(".br")
        && !name.contains(".gz")
}

fn modified(metadata: &std::fs::Metadata) -> u128 {
    metadata
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

fn hash_of(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// `name` with `hash` before its extension: `monitor.wasm` → `monitor.<hash>.wasm`.
pub fn hashed_name(name: &str, hash: &str) -> String {
    match name.rsplit_once('.') {
        Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
        None => format!("{name}.{hash}"),
    }
}

/// What `server precompress` did, per file: `(name, bytes, brotli bytes, gzip bytes)`.
pub type Report = Vec<(String, u64, u64, u64)>;

/// Writes the brotli and gzip variants of every served file of `<site_root>/pkg`, the
/// manifest, and leptos's `hash.txt`.
pub fn precompress(site_root: &Path) -> Result<Report, String> {
    let pkg = site_root.join("pkg");
    let entries = std::fs::read_dir(&pkg)
        .map_err(|e| format!("cannot read {} (build the site first): {e}", pkg.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| served(name))
        .collect();
    names.sort();
    let mut manifest = Manifest::default();
    let mut report = Report::new();
    for name in names {
        let path = pkg.join(&name);
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let brotli = brotli_of(&bytes);
        let gzip = gzip_of(&bytes).map_err(|e| format!("{name}: {e}"))?;
        write(&pkg.join(format!("{name}.br")), &brotli)?;
        write(&pkg.join(format!("{name}.gz")), &gzip)?;
        let metadata = std::fs::metadata(&path).map_err(|e| format!("{name}: {e}"))?;
        report.push((
            name.clone(),
            bytes.len() as u64,
            brotli.len() as u64,
            gzip.len() as u64,
        ));
        manifest.files.insert(
            name,
            Entry {
                hash: hash_of(&bytes),
                size: metadata.len(),
                modified: modified(&metadata),
            },
        );
    }
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())?;
    write(&pkg.join(MANIFEST), text.as_bytes())?;
    write(&pkg.join(HASH_FILE), hash_lines(&manifest).as_bytes())?;
    Ok(report)
}

/// Leptos's `hash.txt` for the site's own files: `js: <hash>`, `wasm: <hash>`, `css: <hash>`.
fn hash_lines(manifest: &Manifest) -> String {
    let output = app::OUTPUT_NAME;
    ["js", "wasm", "css"]
        .iter()
        .filter_map(|kind| {
            let entry = manifest.files.get(&format!("{output}.{kind}"))?;
            Some(format!("{kind}: {}\n", entry.hash))
        })
        .collect()
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn brotli_of(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() / 3);
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 24,
        ..Default::default()
    };
    // Writing into a Vec cannot fail.
    let _ = brotli::BrotliCompress(&mut &bytes[..], &mut out, &params);
    out
}

fn gzip_of(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// The site's `pkg/` as the server serves it.
#[derive(Clone, Debug, Default)]
pub struct Assets {
    site_root: PathBuf,
    pkg: PathBuf,
    /// Hashed name → file name, for the files the manifest vouches for.
    hashed: BTreeMap<String, String>,
    /// Leptos's `hash.txt` (absolute), when names are hashed.
    hash_file: Option<PathBuf>,
}

impl Assets {
    /// Reads `<site_root>/pkg/assets.json`. Hashed names are used only when every file it lists
    /// is still the one it describes; otherwise (or without a manifest) plain names, and a
    /// warning saying why.
    pub fn load(site_root: &str) -> Assets {
        let pkg = PathBuf::from(site_root).join("pkg");
        let plain = Assets {
            site_root: PathBuf::from(site_root),
            pkg: pkg.clone(),
            ..Assets::default()
        };
        let Ok(text) = std::fs::read_to_string(pkg.join(MANIFEST)) else {
            return plain;
        };
        let manifest: Manifest = match serde_json::from_str(&text) {
            Ok(manifest) => manifest,
            Err(error) => {
                tracing::warn!(%error, "pkg/{MANIFEST} is unreadable; serving plain file names");
                return plain;
            }
        };
        for (name, entry) in &manifest.files {
            let current = std::fs::metadata(pkg.join(name));
            let same = current
                .as_ref()
                .is_ok_and(|m| m.len() == entry.size && modified(m) == entry.modified);
            if !same {
                tracing::warn!(
                    file = %name,
                    "pkg/{MANIFEST} does not match the built files (run `server precompress` after building); serving plain file names"
                );
                return plain;
            }
        }
        let hash_file = pkg.join(HASH_FILE);
        if !hash_file.is_file() {
            tracing::warn!(
                "pkg/{HASH_FILE} is missing (run `server precompress`); serving plain file names"
            );
            return plain;
        }
        let absolute = std::fs::canonicalize(&hash_file).unwrap_or(hash_file);
        Assets {
            hashed: manifest
                .files
                .iter()
                .map(|(name, entry)| (hashed_name(name, &entry.hash), name.clone()))
                .collect(),
            hash_file: Some(absolute),
            site_root: PathBuf::from(site_root),
            pkg,
        }
    }

    /// Leptos's `hash.txt`, when file names are hashed.
    pub fn hash_file(&self) -> Option<&Path> {
        self.hash_file.as_deref()
    }

    /// The file behind a requested name, and whether it may be cached forever.
    fn resolve(&self, requested: &str) -> Option<(PathBuf, bool)> {
        if let Some(file) = self.hashed.get(requested) {
            return Some((self.pkg.join(file), true));
        }
        let plain = !requested.is_empty()
            && !requested.starts_with('.')
            && !requested.contains(['/', '\\'])
            && served(requested);
        plain.then(|| (self.pkg.join(requested), false))
    }
}

/// `GET /pkg/{file}`.
pub async fn serve(
    State(assets): State<Arc<Assets>>,
    UrlPath(file): UrlPath<String>,
    request: Request<Body>,
) -> Response {
    let Some((path, immutable)) = assets.resolve(&file) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    // Variants exist only for files the manifest vouches for.
    let service = if immutable {
        ServeFile::new(path).precompressed_br().precompressed_gzip()
    } else {
        ServeFile::new(path)
    };
    let mut response = match service.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if immutable { IMMUTABLE } else { REVALIDATE }),
        );
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// How long the icon may be cached without asking again: a week (its name has no hash).
const ICON: &str = "public, max-age=604800";

/// `GET /favicon.svg`.
pub async fn serve_favicon(State(assets): State<Arc<Assets>>, request: Request<Body>) -> Response {
    let service = ServeFile::new(assets.site_root.join("favicon.svg"));
    let mut response = match service.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(never) => match never {},
    };
    if response.status().is_success() {
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static(ICON));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_names_keep_the_extension_last() {
        assert_eq!(
            hashed_name("monitor.wasm", "0123abcd"),
            "monitor.0123abcd.wasm"
        );
        assert_eq!(hashed_name("LICENSE", "ff"), "LICENSE.ff");
    }

    #[test]
    fn only_site_files_are_served_by_plain_name() {
        let assets = Assets {
            pkg: PathBuf::from("/site/pkg"),
            ..Assets::default()
        };
        assert!(assets.resolve("monitor.wasm").is_some());
        assert!(assets.resolve("monitor.css").is_some());
        for refused in [
            "assets.json",
            "monitor.wasm.br",
            "monitor.d.ts",
            "../secret.js",
            ".hidden.js",
            "",
        ] {
            assert!(assets.resolve(refused).is_none(), "{refused}");
        }
    }
}
