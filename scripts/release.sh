#!/usr/bin/env bash
# Builds the release: target/release/server and the optimised site in target/site.
# Type-erased components (`--cfg erase_components`, on server and browser alike so they render
# the same markup) make the wasm about 65 KB (gzipped) smaller. Debug builds leave it off so
# `cargo test` and `cargo leptos build` share their build artefacts (see Cargo.toml).
# Prints the size of the wasm the browser downloads. Run with: scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/end2end/node_modules/.bin:$PATH"
RUSTFLAGS="${RUSTFLAGS:-} --cfg erase_components" cargo leptos build --release
wasm=target/site/pkg/monitor.wasm
printf 'release: %s is %s bytes, %s bytes gzipped\n' "$wasm" "$(wc -c <"$wasm")" "$(gzip -9 -c "$wasm" | wc -c)"
