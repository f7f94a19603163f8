#!/usr/bin/env bash
# Builds the release: target/release/server and the optimised site in target/site.
# Type-erased components (`--cfg erase_components`, on server and browser alike so they render
# the same markup) make the wasm about 65 KB (gzipped) smaller. Debug builds leave it off so
# `cargo test` and `cargo leptos build` share their build artefacts (see Cargo.toml).
# Then `server precompress` writes the brotli and gzip variants and the content hashes the server
# serves them by (see server/src/assets.rs), and this prints what a browser downloads.
# Run with: scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/end2end/node_modules/.bin:$PATH"
RUSTFLAGS="${RUSTFLAGS:-} --cfg erase_components" cargo leptos build --release
target/release/server precompress
wasm=target/site/pkg/monitor.wasm
printf 'release: %s is %s bytes, %s bytes brotli, %s bytes gzip\n' "$wasm" "$(wc -c <"$wasm")" \
  "$(wc -c <"$wasm.br")" "$(wc -c <"$wasm.gz")"
