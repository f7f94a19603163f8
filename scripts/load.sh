#!/usr/bin/env bash
# The load command (issue 8): 1,000 live streams plus 200 REST requests/s for 60 s against a world
# of 100 queues and 1,000,000 jobs in a redis-server of its own; prints errors (must be 0),
# latency p50/p99, server CPU and peak memory, Redis commands/s. Settings (environment):
# LOAD_QUEUES, LOAD_JOBS, LOAD_SSE, LOAD_RPS, LOAD_SECS (600 for the 10-minute soak),
# LOAD_SAMPLE_SECS, LOAD_CLUSTER=1 (a 3-primary Redis Cluster instead of one server),
# LOAD_INSTANCES=N (N servers on the same Redis, load dealt round-robin). Only the API is loaded, so the server is built with plain cargo (no site).
# Run with: scripts/load.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p server --bin server --example load
# 1,000 streams need more than the usual 1,024 open files, in the server and in the client.
ulimit -n "$(ulimit -Hn)"
SERVER_BIN="${SERVER_BIN:-target/release/server}" exec target/release/examples/load
