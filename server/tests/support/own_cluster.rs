//! A Redis Cluster of a test's own on loopback: three primaries with one replica each, made by
//! `redis-server --cluster-enabled yes` ×6 and `redis-cli --cluster create`, nothing on disk but
//! its node files in a temporary directory. Killed and cleaned up on drop. Needs its sibling
//! module `own_redis` (for `redis-cli`).

use super::own_redis::cli_on as cli;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct OwnCluster {
    /// Client port → its process (`None` once killed).
    nodes: BTreeMap<u16, Option<Child>>,
    dir: PathBuf,
}

/// One line of `CLUSTER NODES`.
#[derive(Clone, Debug)]
pub struct NodeLine {
    pub id: String,
    pub port: u16,
    pub primary: bool,
    pub failed: bool,
    /// The id of its primary, for a replica.
    pub primary_id: Option<String>,
    pub slots: Vec<(u16, u16)>,
}

impl OwnCluster {
    /// Starts six nodes, joins them as 3 primaries + 3 replicas and waits (with a deadline) until
    /// every node reports the cluster ok and every replica is in sync.
    ///
    /// Ports are picked free and then handed to the nodes, so another process may take one in
    /// between; a node must therefore prove it is ours (its `process_id`), and a start that lost
    /// a port is tried again on new ones.
    pub fn start() -> Result<OwnCluster, Box<dyn std::error::Error>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start() {
                Ok(cluster) => return Ok(cluster),
                Err(error) if attempt < 3 => eprintln!("own cluster: {error}; trying again"),
                Err(error) => return Err(error),
            }
        }
    }

    fn try_start() -> Result<OwnCluster, Box<dyn std::error::Error>> {
        // Hold every listener until all ports are chosen, so no two are the same.
        let listeners: Vec<TcpListener> = (0..12)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()?;
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()?;
        drop(listeners);
        let dir =
            std::env::temp_dir().join(format!("own-cluster-{}-{}", std::process::id(), ports[0]));
        std::fs::create_dir_all(&dir)?;
        let mut cluster = OwnCluster {
            nodes: BTreeMap::new(),
            dir,
        };
        for pair in ports.chunks(2) {
            let (port, bus) = (pair[0], pair[1]);
            let node_dir = cluster.dir.join(port.to_string());
            std::fs::create_dir_all(&node_dir)?;
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args([
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    &bus.to_string(),
                ])
                .args(["--cluster-config-file", "nodes.conf"])
                // Failure detection in seconds (not so fast that a loaded test machine looks
                // like a failed node), and a replica may always take over.
                .args(["--cluster-node-timeout", "3000"])
                .args(["--cluster-replica-validity-factor", "0"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(&node_dir)
                .stdout(Stdio::null())
                .spawn()?;
            cluster.nodes.insert(port, Some(child));
        }
        for (&port, child) in &cluster.nodes {
            let pid = child.as_ref().map(Child::id).unwrap_or_default();
            let ours = format!("process_id:{pid}");
            cluster.wait_for(Duration::from_secs(10), "a node of ours to answer", || {
                cli(port, &["INFO", "server"])
                    .lines()
                    .any(|line| line.trim() == ours)
            })?;
        }
        let addresses: Vec<String> = cluster
            .nodes
            .keys()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()?;
        if !created.status.success() {
            return Err(format!(
                "redis-cli --cluster create failed: {}",
                String::from_utf8_lossy(&created.stderr)
            )
            .into());
        }
        cluster.wait_until_healthy(Duration::from_secs(30))?;
        Ok(cluster)
    }

    /// The URL the monitor and BullMQ connect with: every primary as a seed.
    pub fn url(&self) -> String {
        let seeds: Vec<String> = self
            .nodes()
            .into_iter()
            .filter(|n| n.primary && !n.failed)
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis-cluster://{}", seeds.join(","))
    }

    /// `CLUSTER NODES` as seen by a live node.
    pub fn nodes(&self) -> Vec<NodeLine> {
        let Some(port) = self.live_ports().into_iter().next() else {
            return Vec::new();
        };
        cli(port, &["CLUSTER", "NODES"])
            .lines()
            .filter_map(parse_node_line)
            .collect()
    }

    /// The port of the primary serving `key`'s slot, and the port of its replica.
    pub fn primary_and_replica_for(&self, key: &str) -> (u16, Option<u16>) {
        let slot: u16 = cli(self.live_ports()[0], &["CLUSTER", "KEYSLOT", key])
            .parse()
            .expect("a slot number");
        let nodes = self.nodes();
        let primary = nodes
            .iter()
            .find(|n| {
                n.primary && !n.failed && n.slots.iter().any(|&(a, b)| a <= slot && slot <= b)
            })
            .expect("a primary serves every slot")
            .clone();
        let replica = nodes
            .iter()
            .find(|n| n.primary_id.as_deref() == Some(primary.id.as_str()) && !n.failed)
            .map(|n| n.port);
        (primary.port, replica)
    }

    /// Which primary (by port) serves the slot of `key`.
    pub fn primary_for(&self, key: &str) -> u16 {
        self.primary_and_replica_for(key).0
    }

    /// Kills one node as a crash would (SIGKILL) and waits until it is gone.
    pub fn kill(&mut self, port: u16) {
        if let Some(Some(mut child)) = self.nodes.insert(port, None) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Waits until every live node says `cluster_state:ok`, agrees on which nodes failed, and
    /// every live replica's link to its primary is up.
    pub fn wait_until_healthy(&self, deadline: Duration) -> Result<(), Box<dyn std::error::Error>> {
        self.wait_for(deadline, "the cluster to be healthy", || {
            self.live_ports().iter().all(|&port| {
                let info = cli(port, &["CLUSTER", "INFO"]);
                let replication = cli(port, &["INFO", "replication"]);
                info.contains("cluster_state:ok")
                    && (replication.contains("role:master")
                        || replication.contains("master_link_status:up"))
            }) && self
                .nodes()
                .iter()
                .filter(|n| n.primary && !n.failed)
                .count()
                == 3
        })
    }

    /// Waits until `replica` holds every write `primary` had when asked. Replication is
    /// asynchronous: a primary killed before its replica caught up loses its last writes (Redis's
    /// behaviour, not the monitor's), so a failover test first lets the replica catch up.
    pub fn wait_for_replica(
        &self,
        primary: u16,
        replica: u16,
        deadline: Duration,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let offset = |port: u16, field: &str| -> u64 {
            cli(port, &["INFO", "replication"])
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        let target = offset(primary, "master_repl_offset:");
        self.wait_for(deadline, "the replica to catch up", || {
            offset(replica, "slave_repl_offset:") >= target
        })
    }

    fn live_ports(&self) -> Vec<u16> {
        self.nodes
            .iter()
            .filter(|(_, child)| child.is_some())
            .map(|(port, _)| *port)
            .collect()
    }

    fn wait_for(
        &self,
        deadline: Duration,
        what: &str,
        mut check: impl FnMut() -> bool,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let until = Instant::now() + deadline;
        while !check() {
            if Instant::now() > until {
                return Err(format!("timed out after {deadline:?} waiting for {what}").into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let ports: Vec<u16> = self.nodes.keys().copied().collect();
        for port in ports {
            self.kill(port);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl OwnCluster {
    /// Runs one `redis-cli -c` command (following redirections) against a live node.
    pub fn cli_any(&self, args: &[&str]) -> String {
        let port = self.live_ports()[0];
        let mut with_redirects = vec!["-c"];
        with_redirects.extend_from_slice(args);
        cli(port, &with_redirects)
    }
}

/// `<id> <ip:port@bus> <flags> <primary-id|-> <ping> <pong> <epoch> <link> <slot ranges…>`
fn parse_node_line(line: &str) -> Option<NodeLine> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    if fields.len() < 8 {
        return None;
    }
    let port = fields[1]
        .split('@')
        .next()?
        .rsplit(':')
        .next()?
        .parse()
        .ok()?;
    let flags = fields[2];
    let slots = fields[8..]
        .iter()
        .filter(|range| !range.starts_with('['))
        .filter_map(|range| match range.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => range.parse().ok().map(|slot| (slot, slot)),
        })
        .collect();
    Some(NodeLine {
        id: fields[0].to_owned(),
        port,
        primary: flags.contains("master"),
        failed: flags.contains("fail") && !flags.contains("fail?"),
        primary_id: (fields[3] != "-").then(|| fields[3].to_owned()),
        slots,
    })
}
