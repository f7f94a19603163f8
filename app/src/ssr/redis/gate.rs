//! Deadlines and the fail-fast gate in front of every request-path Redis operation.
//!
//! A deadline ([`within`]) bounds how long an operation may take: Redis slow or hanging means a
//! 503 after `REDIS_TIMEOUT`, never a hung request. But when Redis is simply gone (stopped, its
//! port refusing connections), waiting out the deadline tells the caller nothing it could not
//! know at once. So the [`RedisGate`] first asks whether the pool is connected; when it is not,
//! it tries a plain TCP connection to the configured servers (one probe at a time; requests that
//! arrive while one runs take its verdict): refused or silent means 503 within a fraction of a
//! second; accepted means Redis is back, and the request goes ahead (fred reconnects within its
//! back-off, at most half a second), so the first request after Redis returns succeeds.

use crate::ssr::error::AppError;
use fred::prelude::*;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one TCP probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);

/// Runs a Redis operation under a deadline; running out of time is "Redis unavailable" (503).
/// fred's per-command timeout does not cover everything (a SCAN walk waiting for a reconnect, a
/// multi-step read), so every request-path operation also gets one overall deadline.
pub async fn within<T>(
    deadline: Duration,
    operation: impl Future<Output = Result<T, AppError>>,
) -> Result<T, AppError> {
    match tokio::time::timeout(deadline, operation).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(deadline)),
    }
}

/// The error of an operation that ran out of time.
pub fn timed_out(deadline: Duration) -> AppError {
    AppError::RedisUnavailable(fred::error::Error::new(
        fred::error::ErrorKind::Timeout,
        format!("no answer from Redis within {} ms", deadline.as_millis()),
    ))
}

/// The last probe's verdict.
struct Probe {
    at: Instant,
    reachable: bool,
}

/// Says at once when Redis is known to be unreachable (see the module docs).
#[derive(Clone)]
pub struct RedisGate {
    pool: Pool,
    /// The servers to probe (`host`, `port`): the URL's server, or a cluster's seeds.
    servers: Arc<[(String, u16)]>,
    /// The request deadline (`REDIS_TIMEOUT`).
    deadline: Duration,
    last: Arc<tokio::sync::Mutex<Option<Probe>>>,
}

impl RedisGate {
    /// A gate for `pool`, probing `servers` when the pool is not connected.
    pub fn new(pool: Pool, servers: Vec<(String, u16)>, deadline: Duration) -> Self {
        Self {
            pool,
            servers: servers.into(),
            deadline,
            last: Arc::default(),
        }
    }

    /// The request deadline.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Runs `operation` under the request deadline, unless Redis is known to be unreachable
    /// (then 503 at once).
    pub async fn run<T>(
        &self,
        operation: impl Future<Output = Result<T, AppError>>,
    ) -> Result<T, AppError> {
        self.check().await?;
        within(self.deadline, operation).await
    }

    /// `Ok` unless the pool is disconnected and no configured server accepts a connection.
    pub async fn check(&self) -> Result<(), AppError> {
        if self
            .pool
            .clients()
            .iter()
            .any(|client| client.is_connected())
        {
            return Ok(());
        }
        if self.servers.is_empty() {
            return Ok(());
        }
        let asked_at = Instant::now();
        let mut last = self.last.lock().await;
        let reachable = match last.as_ref() {
            // Probed while this request waited for its turn: as fresh as a probe of its own.
            Some(probe) if probe.at >= asked_at => probe.reachable,
            _ => {
                let reachable = self.probe().await;
                *last = Some(Probe {
                    at: Instant::now(),
                    reachable,
                });
                reachable
            }
        };
        if reachable {
            Ok(())
        } else {
            Err(AppError::RedisUnavailable(fred::error::Error::new(
                fred::error::ErrorKind::IO,
                "Redis refuses connections (or does not answer them)",
            )))
        }
    }

    /// Whether any configured server accepts a TCP connection now.
    async fn probe(&self) -> bool {
        let attempts = self.servers.iter().map(|(host, port)| async move {
            matches!(
                tokio::time::timeout(
                    PROBE_TIMEOUT,
                    tokio::net::TcpStream::connect((host.as_str(), *port))
                )
                .await,
                Ok(Ok(_))
            )
        });
        futures::future::join_all(attempts)
            .await
            .into_iter()
            .any(|accepted| accepted)
    }
}
