#!/usr/bin/env bash
# Trunk's post-build hook (Trunk.toml), in order: the wasm files lose their
# debug names, then every text, wasm and weight file gets precompressed copies.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
python3 scripts/strip-wasm-names.py
node scripts/precompress.mjs
