//! Server-only code: configuration, authentication, application state, errors with their HTTP
//! mapping, and the Redis/BullMQ service layer. Compiled only with the `ssr` feature, so nothing
//! here (nor `fred`, `axum` or `jsonwebtoken`) reaches the wasm build.
//!
//! It lives in `app` rather than in `server` because server functions (defined in `app`) and the
//! REST handlers (in `server`) must call the very same service code; `server` depends on `app`,
//! never the other way round.

pub mod alerts;
pub mod audit;
pub mod auth;
pub mod bulk;
pub mod bullmq;
pub mod clock;
pub mod config;
pub mod error;
pub mod failures;
pub mod history;
pub mod limits;
pub mod page_policy;
pub mod redact;
pub mod redis;
pub mod service;
pub mod shared_reads;
pub mod slots;
pub mod state;

/// Architecture invariants (ARCHITECTURE.md) that code can check, rust-analyzer's "tidy" way.
#[cfg(test)]
mod tidy {
    use std::path::{Path, PathBuf};

    fn sources(dir: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)
            .expect("readable source dir")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                files.extend(sources(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

    fn ssr(dir: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/ssr")
            .join(dir)
    }

    /// The lower layers (BullMQ access, the history, Redis plumbing, the clock) never reach up
    /// into the service layer, the server functions or the components: no import circles.
    #[test]
    fn lower_layers_do_not_import_upwards() {
        let mut files = Vec::new();
        for dir in ["bullmq", "history", "redis", "failures", "bulk"] {
            files.extend(sources(&ssr(dir)));
        }
        files.push(ssr("clock.rs"));
        files.push(ssr("slots.rs"));
        files.push(ssr("limits.rs"));
        for file in files {
            let text = std::fs::read_to_string(&file).expect("readable");
            for upward in [
                "ssr::service",
                "crate::api",
                "crate::components",
                "ssr::state",
            ] {
                assert!(
                    !text.contains(upward),
                    "{} imports `{upward}`",
                    file.display()
                );
            }
        }
    }

    /// Code the browser runs reads JSON by bytes only (`codec`): a `from_str` or a resource with
    /// Leptos's default codec would compile a second decoder for each type it reads.
    #[test]
    fn the_browser_decodes_json_through_the_codec() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for file in sources(&root) {
            if file.starts_with(root.join("ssr")) {
                continue;
            }
            let text = std::fs::read_to_string(&file).expect("readable");
            // Unit tests run on the server only.
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for banned in ["serde_json::from_str", "Resource::new("] {
                assert!(
                    !code.contains(banned),
                    "{} calls `{banned}`: use `crate::codec`",
                    file.display()
                );
            }
        }
    }

    /// Every module says what it is in a `//!` paragraph.
    #[test]
    fn every_module_opens_with_its_doc() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        for file in sources(&root) {
            let text = std::fs::read_to_string(&file).expect("readable");
            assert!(
                text.starts_with("//!"),
                "{} has no `//!` doc",
                file.display()
            );
        }
    }
}
