//! The process's Redis connection pool. Created once at start-up; it connects in the background
//! and reconnects forever with capped exponential back-off, so the server starts (and `/readyz`
//! says 503) even while Redis is down, and recovers without a restart.
//!
//! A Redis Cluster is named by a `redis-cluster://` URL or by
//! `REDIS_CLUSTER=true` with a plain one; either may list several seed nodes, comma-separated
//! (`redis-cluster://h1:7000,h2:7001`). fred follows the cluster's topology from there.
//!
//! - [`pipeline`] — many commands in one round trip, with one error for a lost connection.
//! - [`gate`] — the request deadline, and the fail-fast check in front of it.

pub mod gate;
pub mod pipeline;

pub use gate::{within, RedisGate};
pub use pipeline::run_pipeline;

use crate::ssr::config::Settings;
use fred::prelude::*;
use fred::types::config::ClusterDiscoveryPolicy;
use std::time::Duration;

/// How many connections the pool keeps. fred pipelines concurrent commands on each connection,
/// so a few connections serve many concurrent requests.
const POOL_SIZE: usize = 4;

/// Builds the pool and starts connecting. Fails only when the URL is unusable.
pub fn connect(settings: &Settings) -> Result<Pool, String> {
    let mut config = parse_config(&settings.redis_url, settings.redis_cluster)?;
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
        // Reconnect attempts at most every 500 ms: a refused connection costs nothing, and a
        // Redis that comes back is used again within half a second (see `gate`).
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 500, 2))
        .build_pool(POOL_SIZE)
        .map_err(|e| format!("could not create the Redis pool: {e}"))?;
    let _connection_task = pool.connect();
    Ok(pool)
}

/// The fred configuration of `url`; `cluster` forces a cluster connection for a `redis://` URL.
/// Seed nodes may be listed comma-separated in the authority (`h1:7000,h2:7001`), which fred
/// itself only takes as `?node=` parameters.
pub fn parse_config(url: &str, cluster: bool) -> Result<Config, String> {
    let invalid = |reason: String| {
        format!(
            "REDIS_URL is invalid ({}): {reason}",
            crate::ssr::config::redact_url(url)
        )
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(invalid("expected scheme://host:port".into()));
    };
    if matches!(
        scheme,
        "rediss" | "valkeys" | "rediss-cluster" | "valkeys-cluster"
    ) {
        // This build has no TLS (fred would warn and speak plaintext to a TLS port forever).
        return Err(invalid(
            "TLS (rediss://) is not built into this server; use redis:// on a trusted network \
             or a TLS tunnel"
                .into(),
        ));
    }
    let clustered_scheme = match scheme {
        "redis" | "valkey" if cluster => format!("{scheme}-cluster"),
        _ => scheme.to_owned(),
    };
    let is_cluster = clustered_scheme.ends_with("-cluster");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (user_info, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let mut seeds = hosts.split(',');
    let first = seeds.next().unwrap_or_default();
    let others: Vec<&str> = seeds.collect();
    if !others.is_empty() && !is_cluster {
        return Err(invalid(
            "several hosts are only allowed for a cluster (redis-cluster:// or REDIS_CLUSTER=true)"
                .into(),
        ));
    }
    if others.iter().any(|host| host.is_empty()) || first.is_empty() {
        return Err(invalid("a host is empty".into()));
    }
    let mut rebuilt = format!("{clustered_scheme}://{user_info}{first}{tail}");
    for (index, node) in others.iter().enumerate() {
        let separator = if index == 0 && !tail.contains('?') {
            '?'
        } else {
            '&'
        };
        rebuilt.push_str(&format!("{separator}node={node}"));
    }
    if is_cluster {
        let database = tail.split('?').next().unwrap_or("").trim_matches('/');
        if !database.is_empty() && database != "0" {
            return Err(invalid("a Redis Cluster has only database 0".into()));
        }
    }
    let mut config = Config::from_url(&rebuilt).map_err(|e| invalid(e.to_string()))?;
    if let ServerConfig::Clustered { policy, .. } = &mut config.server {
        // After a failover the seed node may be the one that died: look for the cluster through
        // every node it last knew of, not only through the seeds.
        *policy = ClusterDiscoveryPolicy::UseCache;
    }
    Ok(config)
}

/// Whether Redis answers a PING within `deadline`.
pub async fn ping(pool: &Pool, deadline: Duration) -> Result<(), String> {
    match tokio::time::timeout(deadline, pool.ping::<String>(None)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} ms", deadline.as_millis())),
    }
}

/// The servers the gate probes when the pool is not connected: the URL's server, or a
/// cluster's seed nodes.
pub fn probe_servers(settings: &Settings) -> Vec<(String, u16)> {
    parse_config(&settings.redis_url, settings.redis_cluster)
        .map(|config| {
            config
                .server
                .hosts()
                .into_iter()
                .map(|server| (server.host.to_string(), server.port))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use fred::types::config::Server;

    fn hosts(config: &Config) -> Vec<String> {
        let mut hosts: Vec<String> = config
            .server
            .hosts()
            .into_iter()
            .map(|Server { host, port, .. }| format!("{host}:{port}"))
            .collect();
        hosts.sort();
        hosts
    }

    #[test]
    fn a_plain_url_is_one_server() {
        let config = parse_config("redis://:pw@10.0.0.1:6380/2", false).expect("valid");
        assert!(!config.server.is_clustered());
        assert_eq!(hosts(&config), ["10.0.0.1:6380"]);
        assert_eq!(config.database, Some(2));
        assert_eq!(config.password.as_deref(), Some("pw"));
    }

    #[test]
    fn cluster_urls_take_comma_separated_seeds() {
        let config =
            parse_config("redis-cluster://u:pw@h1:7000,h2:7001,h3:7002", false).expect("valid");
        assert!(config.server.is_clustered());
        assert_eq!(hosts(&config), ["h1:7000", "h2:7001", "h3:7002"]);
        assert_eq!(config.username.as_deref(), Some("u"));
        assert_eq!(config.password.as_deref(), Some("pw"));
        assert!(matches!(
            config.server,
            ServerConfig::Clustered {
                policy: ClusterDiscoveryPolicy::UseCache,
                ..
            }
        ));
        // fred's own spelling still works.
        let config = parse_config("redis-cluster://h1:7000?node=h2:7001", false).expect("valid");
        assert_eq!(hosts(&config), ["h1:7000", "h2:7001"]);
    }

    #[test]
    fn the_switch_makes_a_plain_url_a_cluster() {
        let config = parse_config("redis://h1:7000,h2:7001", true).expect("valid");
        assert!(config.server.is_clustered());
        assert_eq!(hosts(&config), ["h1:7000", "h2:7001"]);
    }

    #[test]
    fn bad_urls_say_why_without_the_password() {
        for (url, cluster, expected) in [
            ("redis://h1:1,h2:2", false, "several hosts"),
            (
                "redis-cluster://:secret@h1:1,,h2:2",
                false,
                "a host is empty",
            ),
            ("redis-cluster://:secret@h1:1/3", false, "only database 0"),
            ("h1:6379", false, "scheme://"),
            ("rediss://:secret@h1:6380", false, "TLS"),
            ("rediss-cluster://:secret@h1:1,h2:2", false, "TLS"),
        ] {
            let error = parse_config(url, cluster).expect_err(url);
            assert!(error.contains(expected), "{url}: {error}");
            assert!(!error.contains("secret"), "{error}");
        }
    }
}
