#!/usr/bin/env bash
# Times a cold `.ci/run` from a bare machine: a minimal Debian 12 system
# (debootstrap's minbase: no compiler, curl, Rust, Node, Chromium or caches)
# as a chroot, a fresh clone of BRANCH from REPO with ../shared beside it
# (bind-mounted read-only), then `time bash .ci/run` inside. Needs root and
# debootstrap; takes the machine's whole CPU for about 40 minutes.
#
#   sudo bash .ci/bare-machine.sh [REPO] [BRANCH] [ROOTFS]
#
# ROOTFS is emptied first; it is left behind afterwards, unmounted.
#
# The machine's own extra CA certificates (a TLS-inspecting proxy's) are
# copied in, as a CI machine behind that proxy would trust them too.
set -euo pipefail
REPO="$(cd "${1:-$(dirname "$0")/..}" && pwd)"
BRANCH="${2:-main}"
# The system goes in a fresh temporary folder unless ROOTFS is given.
R="${3:-$(mktemp -d -t dermlens-bare.XXXXXX)}"
SHARED="$REPO/../shared"

unmount() {
  for m in ci/shared dev sys proc; do
    if mountpoint -q "$R/$m" 2>/dev/null; then umount -R "$R/$m"; fi
  done
}
unmount
if grep -q " $R/" /proc/mounts; then echo "still mounted under $R" >&2; exit 1; fi
rm -rf --one-file-system "$R"
debootstrap --variant=minbase bookworm "$R" http://deb.debian.org/debian >/dev/null
trap unmount EXIT
cat > "$R/etc/apt/sources.list" <<SRC
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SRC
cp /etc/resolv.conf "$R/etc/resolv.conf"
mkdir -p "$R/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$R/usr/local/share/ca-certificates/" 2>/dev/null || true

mkdir -p "$R/ci/shared"
git clone -q -b "$BRANCH" "$REPO" "$R/ci/main"
mount -t proc proc "$R/proc"
mount --rbind /sys "$R/sys"
mount --rbind /dev "$R/dev"
if [ -d "$SHARED" ]; then mount --bind -o ro "$SHARED" "$R/ci/shared"; fi

certs=/etc/ssl/certs/ca-certificates.crt
chroot "$R" env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
  SSL_CERT_FILE=$certs CURL_CA_BUNDLE=$certs NODE_EXTRA_CA_CERTS=$certs GIT_SSL_CAINFO=$certs \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c 'cd /ci/main && git log --oneline -1 2>/dev/null; time bash .ci/run'
