# Sourced by the other scripts: installs what building and testing dermlens
# needs, from the package registries only, and skips whatever is present.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

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

need_rust_target() {
  rustup target list --installed 2>/dev/null | grep -qx "$1" || { log "adding Rust target $1"; rustup target add "$1"; }
}

# Native tests: lavapipe gives wgpu a Vulkan adapter on machines without a GPU.
setup_native() {
  need_apt mesa-vulkan-drivers
}

setup_wasm() {
  need_rust_target wasm32-unknown-unknown
}
