#!/usr/bin/env bash
# Builds the release: target/release/server and the optimised site in target/site.
# Type-erased components (`--cfg erase_components`, on server and browser alike so they render
# the same markup) make the wasm about 65 KB (gzipped) smaller. Debug builds leave it off so
# `cargo test` and `cargo leptos build` share their build artefacts (see Cargo.toml).
# `--split` puts the panels loaded on demand (`#[lazy]`) in wasm files of their own; the
# `hash-files` setting (Cargo.toml) puts content hashes in the file names and lists them in
# target/release/hash.txt, beside the server binary; `--precompress` writes brotli and gzip
# variants of every file (see server/src/assets.rs). Prints what a browser downloads.
# Run with: scripts/release.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/end2end/node_modules/.bin:$PATH"
RUSTFLAGS="${RUSTFLAGS:-} --cfg erase_components" cargo leptos build --release --split --precompress
hash=$(sed -n 's/^wasm: *//p' target/release/hash.txt)
main="target/site/pkg/monitor.$hash.wasm"
size() { printf '%s bytes (%s brotli, %s gzip)' "$(wc -c <"$1")" "$(wc -c <"$1.br")" "$(wc -c <"$1.gz")"; }
printf 'release: first paint: %s is %s\n' "$main" "$(size "$main")"
for chunk in target/site/pkg/*.wasm; do
  [ "$chunk" = "$main" ] || printf 'release: on demand: %s is %s\n' "$chunk" "$(size "$chunk")"
done
