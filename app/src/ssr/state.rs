//! `AppState`: everything a request handler or server function needs, created once at start-up.
//! The router hands it to axum handlers (`State`/`FromRef`) and `leptos_routes` provides it as
//! Leptos context to server functions and SSR; there are no globals.

use crate::error::ApiError;
use crate::ssr::auth::Authenticator;
use crate::ssr::bullmq::discovery::QueueRegistry;
use crate::ssr::config::Settings;
use crate::ssr::error::AppError;
use axum::extract::FromRef;
use fred::prelude::Pool;
use leptos::config::LeptosOptions;
use leptos::prelude::use_context;
use std::sync::Arc;

/// Shared, cheaply clonable application state.
#[derive(Clone, FromRef)]
pub struct AppState {
    /// Where the site lives and how it is served (Leptos' own settings).
    pub leptos_options: LeptosOptions,
    /// The monitor's validated settings.
    pub settings: Arc<Settings>,
    /// Token verification.
    pub auth: Arc<Authenticator>,
    /// The process's one Redis pool; reconnects by itself.
    pub redis: Pool,
    /// The cached list of BullMQ queues under the prefix.
    pub registry: QueueRegistry,
    /// Identical reads in flight at once share one Redis computation.
    pub reads: Arc<crate::ssr::shared_reads::SharedReads>,
    /// The request deadline, and 503 at once while Redis refuses connections.
    pub gate: crate::ssr::redis::RedisGate,
    /// Per-user limits (live streams, history reads).
    pub limits: Arc<crate::ssr::limits::Limits>,
    /// What the last snapshot read of each queue found (unchanged queues cost two commands).
    pub snapshots: Arc<crate::ssr::bullmq::snapshot::SnapshotCache>,
    /// This instance's bulk operations: it starts them holding their lease with its token,
    /// and its runner goes on with them under the same token.
    pub operations: crate::ssr::bulk::runner::Operations,
    /// Alerting, when a rules file is configured (`ALERTS_FILE`).
    pub alerting: Option<crate::ssr::alerts::Alerting>,
}

impl AppState {
    /// The state for `settings` over a pool: registry, shared reads (shared with other
    /// instances through Redis), gate and limits. Nothing is read from Redis yet.
    pub fn new(
        leptos_options: LeptosOptions,
        settings: Settings,
        auth: Arc<Authenticator>,
        redis: Pool,
    ) -> Self {
        use crate::ssr::shared_reads::{RedisTier, SharedReads};
        let registry = QueueRegistry::new(redis.clone(), &settings);
        let reads = Arc::new(SharedReads::with_redis(
            settings.reads_shared_for,
            RedisTier::new(redis.clone(), &settings),
        ));
        let gate = crate::ssr::redis::RedisGate::new(
            redis.clone(),
            crate::ssr::redis::probe_servers(&settings),
            settings.redis_timeout,
        );
        let limits = crate::ssr::limits::Limits::new(settings.limits);
        let snapshots = Arc::new(crate::ssr::bullmq::snapshot::SnapshotCache::new(
            settings.snapshot_recount,
        ));
        let (redis_for_ops, settings_for_ops) = (redis.clone(), settings.clone());
        let alerting = settings
            .alerts
            .clone()
            .map(|rules| crate::ssr::alerts::Alerting::new(redis.clone(), &settings, rules));
        Self {
            leptos_options,
            settings: Arc::new(settings),
            auth,
            redis,
            registry,
            reads,
            gate,
            limits,
            snapshots,
            operations: crate::ssr::bulk::runner::Operations::new(redis_for_ops, &settings_for_ops),
            alerting,
        }
    }

    /// Runs a request's Redis work under the request deadline; 503 at once while Redis is
    /// known to be unreachable.
    pub async fn within<T>(
        &self,
        operation: impl std::future::Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        self.gate.run(operation).await
    }

    /// The state as provided to server functions and SSR by `leptos_routes`.
    pub fn from_context() -> Result<Self, AppError> {
        use_context::<AppState>()
            .ok_or_else(|| AppError::Internal("AppState is missing from the Leptos context".into()))
    }
}

/// Turns an error into the server function's reply: sets the HTTP status (server functions
/// otherwise answer every error with 500) and `Retry-After` when the error has one, and
/// returns the wire form.
pub fn respond_with_error(error: AppError) -> ApiError {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(error.status());
        if let Some(seconds) = error.retry_after_secs() {
            response.insert_header(axum::http::header::RETRY_AFTER, seconds.into());
        }
    }
    error.into()
}
