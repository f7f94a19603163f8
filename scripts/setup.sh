#!/usr/bin/env bash
# Installs what building, the demo and the tests need, when it is missing; safe to run again.
# Everything comes from the package registries (rustup, crates.io, npm, Debian); nothing is
# downloaded at build time. Run with: scripts/setup.sh [--browser]
#   --browser   also install what the tests need: Debian's Chromium for the browser tests and
#               promtool (Debian's prometheus package) for the /metrics checks
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LEPTOS_VERSION=0.3.11
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
TOOLCHAIN=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
export PATH="$HOME/.cargo/bin:$PATH"

say() { printf '\033[1msetup:\033[0m %s\n' "$*"; }

apt_install() {
  if [ -z "${APT_UPDATED:-}" ]; then
    apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Rust toolchain pinned in rust-toolchain.toml, with the wasm target.
if ! rustup run "$TOOLCHAIN" rustc --version >/dev/null 2>&1 \
  || ! rustup target list --installed --toolchain "$TOOLCHAIN" | grep -q wasm32-unknown-unknown; then
  say "installing Rust $TOOLCHAIN with the wasm32 target"
  rustup toolchain install "$TOOLCHAIN" --profile minimal -c rustfmt -c clippy -t wasm32-unknown-unknown
fi

# cargo-leptos, pinned, without its download fallbacks (a missing tool fails clearly instead).
if [ "$(cargo leptos --version 2>/dev/null | awk '{print $2}')" != "$CARGO_LEPTOS_VERSION" ]; then
  say "installing cargo-leptos $CARGO_LEPTOS_VERSION (takes about 25 minutes on 2 cores)"
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
fi

# The wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock. (`--locked` fails for
# this crate on crates.io today: its lock file names a yanked dependency.)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# Redis tools (the tests clean up with redis-cli; the demo can start a local server).
if ! command -v redis-cli >/dev/null || ! command -v redis-server >/dev/null; then
  say "installing redis-server and redis-cli"
  apt_install redis-server
fi

# Node packages: real BullMQ v6 and v5, Playwright, and binaryen's wasm-opt for release builds.
if [ ! -d end2end/node_modules ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  say "installing end2end npm packages"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  say "installing Debian's chromium"
  apt_install chromium
fi

# promtool (Debian's prometheus package), which the tests run on the /metrics exposition.
if [ "${1:-}" = "--browser" ] && ! command -v promtool >/dev/null; then
  say "installing promtool (Debian's prometheus package)"
  apt_install prometheus
fi
