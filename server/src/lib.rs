//! The BullMQ monitor's server: an Axum application that serves the REST API, sign-in, health
//! checks and the server-rendered Leptos dashboard over one shared [`AppState`].
//!
//! Layout:
//! - [`cli`] — flags and environment → [`config::ServerConfig`]; `server token`.
//! - [`assets`] — the site's static files: hashed names, precompressed variants, cache lifetimes.
//! - [`Application`] — builds the state, binds the listener (port 0 works), runs until shutdown.
//! - [`router`] — every route, in one place.
//! - [`routes`] — handlers, one module per resource.
//! - [`live`] — the live-stream hub: one Redis poller per topic, fanned out to every viewer.
//! - [`openapi`] — `/api/v1/openapi.json`: the OpenAPI 3.1 document, generated from the handlers.
//! - [`prometheus`] — `/metrics` at the root: the exposition, from the live hub's snapshot.
//! - [`security`] — security headers, CORS allow-list, cross-site request guard.
//! - [`telemetry`] — logging setup.

pub mod assets;
pub mod cli;
pub mod config;
pub mod live;
pub mod openapi;
pub mod prometheus;
pub mod routes;
pub mod security;
pub mod telemetry;

use crate::config::ServerConfig;
use app::ssr::auth::Authenticator;
use app::ssr::state::AppState;
use app::{shell, OUTPUT_NAME};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos_axum::{AxumRouteListing, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

/// Extra per-process settings the HTTP layer reads from state.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    /// Origins whose pages may call the API (CORS) and send it state-changing requests.
    pub cors_origins: security::AllowedOrigins,
    /// The site's `pkg/` files.
    pub assets: Arc<assets::Assets>,
}

impl HttpSettings {
    pub fn new(config: &ServerConfig) -> Self {
        HttpSettings {
            cors_origins: config.cors_origins.clone(),
            assets: Arc::new(assets::Assets::load(&config.site_root, &config.hash_file)),
        }
    }
}

/// A server ready to run: state built, listener bound.
pub struct Application {
    listener: TcpListener,
    state: AppState,
    http: HttpSettings,
    hub: Arc<live::LiveHub>,
    stopping: tokio::sync::watch::Sender<bool>,
}

impl Application {
    /// Builds the state (Redis pool, authenticator, queue registry) and binds the listener.
    /// Fails with a one-line reason.
    pub async fn build(config: ServerConfig) -> Result<Self, String> {
        let listener = TcpListener::bind(config.site_addr)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", config.site_addr))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| format!("cannot read the listen address: {e}"))?;
        let http = HttpSettings::new(&config);
        let state = build_state(&config, local_addr, &http)?;
        let (stopping, stop_signal) = tokio::sync::watch::channel(false);
        let hub = live::LiveHub::new(state.clone(), stop_signal);
        Ok(Self {
            listener,
            state,
            http,
            hub,
            stopping,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or(self.state.leptos_options.site_addr)
    }

    /// The shared state (tests use its Redis pool).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The live-stream hub (tests read its poll counters).
    pub fn live_hub(&self) -> Arc<live::LiveHub> {
        self.hub.clone()
    }

    /// Serves until `shutdown` completes, then ends the live streams and finishes in-flight
    /// requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), String> {
        let refresher = self
            .state
            .registry
            .spawn_refresher(self.state.settings.discovery_interval);
        let collector = self.state.settings.collector.then(|| {
            app::ssr::history::collector::Collector::new(
                self.state.redis.clone(),
                self.state.registry.clone(),
                &self.state.settings,
            )
            .spawn(self.state.settings.collector_interval)
        });
        let operations = self.state.operations.clone().spawn(
            self.state.registry.clone(),
            self.state.settings.bulk_interval,
        );
        let alerting = self
            .state
            .alerting
            .clone()
            .map(|alerting| alerting.spawn(self.state.clone()));
        let exporter = prometheus::Exporter::new(
            self.hub.clone(),
            prometheus::MetricsToken::new(self.state.settings.metrics_token.as_deref()),
        );
        let router = router(self.state, self.http)
            .layer(axum::Extension(self.hub))
            .layer(axum::Extension(exporter));
        let stopping = self.stopping;
        // A stopping instance stops collecting at once, not after its connections drained.
        // Not releasing the lease on purpose: a stand-by takes over when it expires, which is
        // also what happens when an instance is killed.
        let collecting = collector.as_ref().map(|task| task.abort_handle());
        // Bulk operations likewise: a stopping instance leaves its operation to the others
        // (each batch is atomic; the lease lets a stand-by continue after it expires).
        let operating = operations.abort_handle();
        let alerting_handle = alerting.as_ref().map(|task| task.abort_handle());
        // `into_make_service`: each connection shares the router (an `Arc`). Served as a plain
        // `Router`, axum turns it into a per-connection copy of every route's service stack
        // (`Router::with_state(())` on a shared router clones its table): about 300 KB per open
        // connection, 300 MB for 1,000 live streams (found with heaptrack under the load command).
        let result = axum::serve(self.listener, router.into_make_service())
            .with_graceful_shutdown(async move {
                shutdown.await;
                if let Some(collecting) = collecting {
                    collecting.abort();
                }
                operating.abort();
                if let Some(alerting) = &alerting_handle {
                    alerting.abort();
                }
                // Live streams never end by themselves; tell them to, so shutdown can finish.
                let _ = stopping.send(true);
            })
            .await
            .map_err(|e| format!("server error: {e}"));
        refresher.abort();
        operations.abort();
        if let Some(alerting) = alerting {
            alerting.abort();
        }
        if let Some(collector) = collector {
            collector.abort();
        }
        result
    }
}

/// Creates the shared state. The Redis pool connects in the background.
pub fn build_state(
    config: &ServerConfig,
    site_addr: SocketAddr,
    http: &HttpSettings,
) -> Result<AppState, String> {
    let auth = Arc::new(Authenticator::new(&config.auth)?);
    let redis = app::ssr::redis::connect(&config.settings)?;
    // With a manifest that matches the built files, pages link the hashed names.
    let hash_file = http.assets.hash_file();
    let leptos_options = LeptosOptions::builder()
        .output_name(OUTPUT_NAME)
        .site_root(config.site_root.as_str())
        .site_pkg_dir("pkg")
        .site_addr(site_addr)
        .hash_files(hash_file.is_some())
        .hash_file(
            hash_file
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or_else(|| assets::HASH_FILE.to_owned())
                .into(),
        )
        .build();
    Ok(AppState::new(
        leptos_options,
        config.settings.clone(),
        auth,
        redis,
    ))
}

/// Every route of the monitor.
pub fn router(state: AppState, http: HttpSettings) -> Router {
    // The app's pages (no client-side router: `app::page_url`), all rendered async so the
    // dashboard's first readings are in the HTML.
    let leptos_routes = app::page_url::PAGES
        .iter()
        .map(|path| {
            AxumRouteListing::new(
                (*path).to_owned(),
                leptos_router::SsrMode::Async,
                [leptos_router::Method::Get],
                Vec::new(),
            )
        })
        .collect();
    let options = state.leptos_options.clone();
    let static_files = Router::new()
        .route("/pkg/{file}", axum::routing::get(assets::serve))
        .route("/favicon.svg", axum::routing::get(assets::serve_favicon))
        .with_state(http.assets.clone());
    let router = Router::new()
        .merge(static_files)
        .merge(routes::health::router())
        .merge(prometheus::router())
        .merge(openapi::router())
        .merge(routes::session::router())
        .nest(routes::jobs::BASE, routes::jobs::router(&state))
        .leptos_routes(&state, leptos_routes, move || shell(options.clone()))
        // Unknown paths of the API and of the sign-in answer JSON, not the site's HTML 404.
        .route("/api", axum::routing::any(routes::api_not_found))
        .route("/api/", axum::routing::any(routes::api_not_found))
        .route("/api/{*rest}", axum::routing::any(routes::api_not_found))
        .route("/auth/{*rest}", axum::routing::any(routes::api_not_found))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            routes::server_fn_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            routes::session::page_guard,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(routes::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(routes::json_errors))
        .layer(axum::middleware::from_fn_with_state(
            http.cors_origins.clone(),
            security::cross_site_guard,
        ));
    security::with_headers(router)
        .layer(compression())
        .layer(security::cors(&http.cors_origins))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Brotli or gzip, as the request accepts, for pages, API answers and server functions. Not for
/// what is already encoded (the precompressed static files), nor for the wasm when it has no
/// precompressed variant (a development build: tens of MB compressed on every request), nor
/// for live streams (`live` compresses those itself, flushing each event).
fn compression(
) -> tower_http::compression::CompressionLayer<impl tower_http::compression::Predicate> {
    use tower_http::compression::predicate::{NotForContentType, Predicate};
    use tower_http::compression::{CompressionLayer, DefaultPredicate};
    CompressionLayer::new()
        .br(true)
        .gzip(true)
        .quality(tower_http::CompressionLevel::Precise(4))
        .compress_when(
            DefaultPredicate::new().and(NotForContentType::const_new("application/wasm")),
        )
}

/// Runs the server with `config` until SIGINT or SIGTERM.
pub async fn run(config: ServerConfig) -> Result<(), String> {
    tracing::info!(settings = ?config.settings, auth = ?config.auth, "starting");
    let application = Application::build(config).await?;
    tracing::info!("listening on http://{}", application.local_addr());
    let pool = application.state().redis.clone();
    tokio::spawn(async move {
        match app::ssr::redis::ping(&pool, Duration::from_secs(3)).await {
            Ok(()) => tracing::info!("Redis answers"),
            Err(error) => {
                tracing::warn!(error.message = %error, "Redis does not answer yet; /readyz says 503 until it does")
            }
        }
    });
    application.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received");
}
