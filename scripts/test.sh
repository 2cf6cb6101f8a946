#!/usr/bin/env bash
# Runs every dermlens test: the workspace's unit and integration tests
# (including the golden logits on the CPU and, via lavapipe, on wgpu), the
# wasm build of the model crate, the page's own tests in Node, and the web
# app built by trunk and driven end to end in headless Chromium on WebGPU
# and on the CPU (its answers compared with `dermlens predict`). Installs what it
# needs first.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"

setup_native
setup_wasm

# Mesa's Vulkan driver (wgpu's tests on lavapipe) warns once per device when
# XDG_RUNTIME_DIR is unset or not this user's, as in a bare CI shell.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ] || [ ! -O "$XDG_RUNTIME_DIR" ]; then
  XDG_RUNTIME_DIR="$(mktemp -d)"
  chmod 700 "$XDG_RUNTIME_DIR"
  export XDG_RUNTIME_DIR
fi

log "style: cargo fmt --check and cargo clippy -D warnings"
cargo fmt --all --check
cargo clippy --workspace --all-targets --release -- -D warnings
# The page and the worker only build for the browser: linted for wasm32
# (the function-length gate of clippy.toml included).
cargo clippy -p app -p worker --target wasm32-unknown-unknown --all-targets --release -- -D warnings

log "cargo test --workspace --release: the build"
cargo test --workspace --release --no-run

# Running, the tests leave most of a core idle for minutes (the wgpu tests on
# lavapipe): missing web tools install meanwhile. Cargo holds no lock while
# tests run, and the tools build in their own target directories.
tools_log="$(mktemp)"
setup_web_tools >"$tools_log" 2>&1 &
tools=$!
trap 'kill_tree "$tools"; rm -f "$tools_log"' EXIT
log "cargo test --workspace --release"
cargo test --workspace --release
tools_status=0
wait "$tools" || tools_status=$?
trap - EXIT
cat "$tools_log" >&2
rm -f "$tools_log"
[ "$tools_status" -eq 0 ] || { log "installing the web tools failed (above)"; exit 1; }

log "benchmarks compile (run them with: cargo bench -p train-cli)"
cargo bench --no-run -p train-cli

# The worker (the model crate with burn's CPU and WebGPU backends, no
# autodiff: it only infers) and the page (the model crate without burn) for
# wasm32, one invocation each as trunk builds them, so that trunk's build
# below reuses both (in one invocation their features would unify).
log "the worker and the page for wasm32-unknown-unknown"
cargo build -p worker --target wasm32-unknown-unknown --release
cargo build -p app --target wasm32-unknown-unknown --release

setup_web
setup_e2e

# The page's own tests (its state transitions, the history file) run in
# Node, by the test runner wasm-bindgen-cli installs.
log "the page's tests, in Node (wasm32)"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p app --target wasm32-unknown-unknown --release
log "the site: trunk build --release"
trunk build --release

log "end-to-end test in headless Chromium"
node tests/e2e/run.mjs --dist dist --out "${CARGO_TARGET_DIR:-target}/e2e" \
  --cli "${CARGO_TARGET_DIR:-target}/release/dermlens"
