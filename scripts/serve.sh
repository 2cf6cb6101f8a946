#!/usr/bin/env bash
# Builds the web app with the shipped model and serves it on
# http://127.0.0.1:8080/ (PORT=... to change). Installs what it needs first.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$ROOT"
setup_web
log "trunk serve --release on port ${PORT:-8080}"
# No auto-reload: its injected inline script breaks the page's Content-Security-Policy.
exec trunk serve --release --no-autoreload --address 127.0.0.1 --port "${PORT:-8080}"
