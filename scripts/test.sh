#!/usr/bin/env bash
# The whole test suite: formatting, lints (server and wasm builds), unit tests, integration tests
# against the real Redis and real BullMQ, then the browser tests in headless Chromium.
# Run with: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --browser
export PATH="$HOME/.cargo/bin:$PWD/end2end/node_modules/.bin:$PATH"
# shellcheck source=scripts/redis.sh
. scripts/redis.sh
ensure_redis
trap '[ -n "$STARTED_REDIS_PID" ] && kill "$STARTED_REDIS_PID" 2>/dev/null || true' EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format"
cargo fmt --all --check
step "dependency audit (RustSec advisories, offline: audit/)"
python3 scripts/audit.py
step "clippy (server side)"
cargo clippy -p server -p app --features app/ssr --all-targets -- -D warnings
step "clippy (browser side, wasm32)"
cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings
step "unit tests (app, ssr)"
cargo test -p app --features ssr
step "server unit and integration tests (real Redis, real BullMQ)"
cargo test -p server
step "build the release site and server (scripts/release.sh: what users run, what the browser tests measure)"
scripts/release.sh
step "browser tests (Playwright, Debian Chromium, against the release server)"
(cd end2end && SERVER_BIN="$PWD/../target/release/server" npx playwright test)
