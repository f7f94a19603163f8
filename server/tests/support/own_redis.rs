//! A redis-server of a test's or benchmark's own, on a free loopback port, without persistence:
//! for figures not mixed with other clients' commands, and for faults (stop, restart, `DEBUG
//! SLEEP`) that must not hit the shared Redis. Stopped and cleaned up on drop. Shared by the
//! integration tests and the benchmarks (`#[path]`).

use std::time::{Duration, Instant};

pub struct OwnRedis {
    port: u16,
    process: Option<std::process::Child>,
    dir: std::path::PathBuf,
}

impl OwnRedis {
    /// Starts it and waits (with a deadline) until it accepts connections.
    pub fn start() -> Result<OwnRedis, Box<dyn std::error::Error>> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let dir = std::env::temp_dir().join(format!("own-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let mut redis = OwnRedis {
            port,
            process: None,
            dir,
        };
        redis.restart()?;
        Ok(redis)
    }

    /// Starts the server again on the same port (empty: it keeps nothing), after [`Self::stop`].
    pub fn restart(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        let process = std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--enable-debug-command",
                "local",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()?;
        self.process = Some(process);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.cli(&["PING"]).trim() != "PONG" {
            if Instant::now() > deadline {
                return Err("redis-server did not start".into());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(())
    }

    /// Kills the server (as a crash would) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }

    /// Its URL.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs one `redis-cli` command against it; its output (errors included), trimmed.
    pub fn cli(&self, args: &[&str]) -> String {
        cli_on(self.port, args)
    }
}

/// Runs one `redis-cli` command against the server on a loopback `port`; its output (errors
/// included), trimmed.
pub fn cli_on(port: u16, args: &[&str]) -> String {
    std::process::Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
                + String::from_utf8_lossy(&o.stderr).trim()
        })
        .unwrap_or_default()
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
