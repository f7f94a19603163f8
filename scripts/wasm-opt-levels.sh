#!/usr/bin/env bash
# Compares wasm-opt's optimisation levels by what a browser downloads: for each level, the size
# of the optimised program and of its brotli (quality 11, as `--precompress` writes it).
# Reads the whole program as rustc leaves it (run `scripts/release.sh` first), without its
# custom sections (names, relocations, wasm-bindgen's data), so only code and data count.
# Why it exists: `-Oz`, cargo-leptos's default, gives the smallest file but not the smallest
# brotli; Cargo.toml's `wasm-opt-features` picks the level from these figures (README).
# Run with: scripts/wasm-opt-levels.sh [levels…]   (default: -Oz -Os -O2 -O1; ~1 min each)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/end2end/node_modules/.bin:$PATH"
input=target/front/wasm32-unknown-unknown/wasm-release/frontend.wasm
[ -f "$input" ] || { echo "error: $input is missing: run scripts/release.sh first" >&2; exit 2; }
command -v wasm-opt >/dev/null || { echo "error: wasm-opt is missing: run scripts/setup.sh" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The node script strips custom sections (id 0) and reports sizes with brotli at quality 11.
node - "$input" "$work/plain.wasm" <<'JS'
const fs = require('fs');
const [input, output] = process.argv.slice(2);
const bytes = fs.readFileSync(input);
const leb = (at) => { let value = 0, shift = 0, byte; do { byte = bytes[at++]; value += (byte & 0x7f) * 2 ** shift; shift += 7; } while (byte & 0x80); return [value, at]; };
const kept = [bytes.subarray(0, 8)];
for (let at = 8; at < bytes.length;) {
  const start = at, id = bytes[at];
  const [size, body] = leb(at + 1);
  at = body + size;
  if (id !== 0) kept.push(bytes.subarray(start, at));
}
fs.writeFileSync(output, Buffer.concat(kept));
JS
# Stripping drops rustc's `target_features` section, so the features it names are given here.
features=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext
  --enable-mutable-globals --enable-reference-types --enable-multivalue)
report() {
  node -e '
    const fs = require("fs"), zlib = require("zlib");
    const [label, file] = process.argv.slice(1);
    const data = fs.readFileSync(file);
    const br = zlib.brotliCompressSync(data, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } });
    console.log(`wasm-opt-levels: ${label.padEnd(5)} ${data.length} bytes, ${br.length} brotli`);
  ' -- "$1" "$2"
}
levels=("$@")
[ ${#levels[@]} -gt 0 ] || levels=(-Oz -Os -O2 -O1)
report none "$work/plain.wasm"
for level in "${levels[@]}"; do
  wasm-opt "$level" "${features[@]}" "$work/plain.wasm" -o "$work/out.wasm"
  report "$level" "$work/out.wasm"
done
