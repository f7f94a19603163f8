//! The server's validated configuration: the shared [`Settings`] plus what only the HTTP side
//! needs (listen address, site files, allowed origins).

use app::ssr::auth::AuthSettings;
use app::ssr::config::Settings;
use std::net::SocketAddr;

/// Everything needed to build and run the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Redis, prefix, discovery and timeouts.
    pub settings: Settings,
    /// How tokens are verified.
    pub auth: AuthSettings,
    /// Where to listen; port 0 picks a free port.
    pub site_addr: SocketAddr,
    /// Directory with the built site (`pkg/`).
    pub site_root: String,
    /// The list of the site's file hashes (`hash.txt`); names are plain when it is missing.
    pub hash_file: std::path::PathBuf,
    /// Origins whose pages may call the API (`CORS_ORIGINS`).
    pub cors_origins: crate::security::AllowedOrigins,
}
