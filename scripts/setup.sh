# Sourced by the other scripts: installs what building and testing dermlens
# needs, from the package registries only, and skips whatever is present.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

log() { printf '\033[1m==> %s (%s)\033[0m\n' "$*" "$(date -u +%T)" >&2; }

# Stops a background job and everything it started.
kill_tree() {
  local child
  # /proc rather than pgrep, which a minimal Debian lacks.
  for child in $(cat /proc/"$1"/task/*/children 2>/dev/null); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}

# apt packages, when missing and we are allowed to install them.
need_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    log "cannot install ${missing[*]} (not root): tests needing them will skip"
    return 0
  fi
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  log "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Rust through rustup, on a machine without it: rustup-init comes from the
# Rust project's distribution server (where rustup fetches every toolchain
# from anyway), checked against its published SHA-256. The version is the
# one the project is built and linted with, so a new stable release's lints
# cannot turn a bare-machine run red.
RUST_VERSION=1.95.0
need_rust() {
  export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  command -v rustup >/dev/null && return 0
  # A C compiler and linker: rustc links through cc, and some crates build C.
  need_apt ca-certificates curl gcc libc6-dev
  log "installing rustup and Rust $RUST_VERSION with rustfmt and clippy"
  local dir url
  dir="$(mktemp -d)"
  url="https://static.rust-lang.org/rustup/dist/$(uname -m)-unknown-linux-gnu/rustup-init"
  curl -sSf "$url" -o "$dir/rustup-init"
  echo "$(curl -sSf "$url.sha256" | cut -d' ' -f1)  $dir/rustup-init" | sha256sum -c --quiet -
  chmod +x "$dir/rustup-init"
  "$dir/rustup-init" -y -q --no-modify-path --profile minimal \
    --default-toolchain "$RUST_VERSION" -c rustfmt -c clippy
  rm -rf "$dir"
}

need_rust_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$1" || { log "adding Rust target $1"; rustup target add "$1"; }
}

# Native tests: lavapipe gives wgpu a Vulkan adapter on machines without a GPU.
setup_native() {
  need_rust
  need_apt mesa-vulkan-drivers
}

setup_wasm() {
  need_rust
  need_rust_target wasm32-unknown-unknown
}

# The web app's tools, from crates.io only (trunk cannot download its own here).
TRUNK_VERSION=0.22.1
TRUNK_RUST=1.96.1 # trunk 0.22 needs a newer Rust than the project's
# Must equal the wasm-bindgen crate version pinned in app/Cargo.toml.
WASM_BINDGEN_VERSION=0.2.130

setup_web() {
  setup_wasm
  # The post-build hook strips the wasm's names with Python and precompresses
  # the site with Node's zlib.
  command -v python3 >/dev/null || need_apt python3
  command -v node >/dev/null || need_apt nodejs
  setup_web_tools
}

# trunk and wasm-bindgen-cli, each built by cargo in its own temporary target
# directory (so this may run beside a build of dermlens). --force: the wanted
# version is not on PATH, whatever cargo's records of installs say.
setup_web_tools() {
  need_rust
  if ! trunk --version 2>/dev/null | grep -qF "$TRUNK_VERSION"; then
    log "installing trunk $TRUNK_VERSION (about 2.5 minutes on 2 cores)"
    rustup toolchain list | grep -q "^$TRUNK_RUST" || rustup toolchain install "$TRUNK_RUST" --profile minimal
    # Unoptimised: trunk only directs cargo, wasm-bindgen and our hook, and so
    # builds the same site as fast (40 s either way), but it installs in 2.3
    # minutes instead of 6-7 (its own profile asks for fat LTO and one
    # codegen unit).
    env -u CARGO_TARGET_DIR CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_LTO=false \
      CARGO_PROFILE_RELEASE_CODEGEN_UNITS=256 \
      cargo "+$TRUNK_RUST" install trunk --version "$TRUNK_VERSION" --locked --force
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -qF "$WASM_BINDGEN_VERSION"; then
    log "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    # Optimised (unlike trunk): it rewrites the 7 MB wasm on every build, 8 s
    # slower per build when unoptimised. Not --locked: its lock file pins
    # crates that no longer build.
    env -u CARGO_TARGET_DIR cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
}

# The browser test: Debian's Chromium driven by npm's playwright-core (kept at
# 1.61, the last release that runs on Debian 12's Node 18).
setup_e2e() {
  need_apt chromium
  # Node may come from elsewhere than Debian (NodeSource's nodejs bundles npm
  # and conflicts with Debian's npm package): only install it when missing.
  command -v npm >/dev/null || need_apt nodejs npm
  (cd "$ROOT/tests/e2e" && npm ci --no-audit --no-fund --silent)
}
