//! The process's Redis connection pool. Created once at start-up; it connects in the background
//! and reconnects forever with capped exponential back-off, so the server starts (and `/readyz`
//! says 503) even while Redis is down, and recovers without a restart.

use crate::ssr::config::Settings;
use fred::prelude::*;
use std::time::Duration;

/// How many connections the pool keeps. fred pipelines concurrent commands on each connection,
/// so a few connections serve many concurrent requests.
const POOL_SIZE: usize = 4;

/// Builds the pool and starts connecting. Fails only when the URL is unusable.
pub fn connect(settings: &Settings) -> Result<Pool, String> {
    let mut config = Config::from_url(&settings.redis_url).map_err(|e| {
        format!(
            "REDIS_URL is invalid ({}): {e}",
            crate::ssr::config::redact_url(&settings.redis_url)
        )
    })?;
    // Keep retrying the first connection too: the monitor must come up before Redis does.
    config.fail_fast = false;
    let timeout = settings.redis_timeout;
    let pool = Builder::from_config(config)
        .with_connection_config(|connection| {
            connection.connection_timeout = Duration::from_secs(3);
            connection.internal_command_timeout = timeout;
            connection.max_command_attempts = 2;
        })
        .with_performance_config(|performance| {
            performance.default_command_timeout = timeout;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
        .build_pool(POOL_SIZE)
        .map_err(|e| format!("could not create the Redis pool: {e}"))?;
    let _connection_task = pool.connect();
    Ok(pool)
}

/// Whether Redis answers a PING within `deadline`.
pub async fn ping(pool: &Pool, deadline: Duration) -> Result<(), String> {
    match tokio::time::timeout(deadline, pool.ping::<String>(None)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} ms", deadline.as_millis())),
    }
}

/// Runs a Redis operation under a deadline; running out of time is "Redis unavailable" (503).
/// fred's per-command timeout does not cover everything (a SCAN walk waiting for a reconnect, a
/// multi-step read), so every request-path operation also gets one overall deadline.
pub async fn within<T>(
    deadline: Duration,
    operation: impl std::future::Future<Output = Result<T, crate::ssr::error::AppError>>,
) -> Result<T, crate::ssr::error::AppError> {
    match tokio::time::timeout(deadline, operation).await {
        Ok(result) => result,
        Err(_) => Err(crate::ssr::error::AppError::RedisUnavailable(
            fred::error::Error::new(
                fred::error::ErrorKind::Timeout,
                format!("no answer from Redis within {} ms", deadline.as_millis()),
            ),
        )),
    }
}
