#!/usr/bin/env bash
# Installs everything ntsd's build and tests need on Debian 12. Idempotent and
# non-interactive; quick when everything is present. Run as root (or with sudo).
#
#   deploy/setup-dev.sh          install what is missing
#
# chrony conflicts with ntpsec as a Debian package, so chronyd (the strict NTS
# client oracle of the interop tests) is unpacked, not installed, into
# $NTSD_PEERS_DIR (default /var/cache/ntsd-peers): .../chrony/usr/sbin/chronyd.
set -euo pipefail

PACKAGES=(
  # build
  bazel-bootstrap g++ clang lld libclang-rt-14-dev
  # libraries (wrapped in third_party/BUILD.bazel)
  liburing-dev libssl-dev libboost-dev libjemalloc-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev libcap-dev libseccomp-dev
  prometheus-cpp-dev nlohmann-json3-dev libsystemd-dev
  # interop peers and test tools
  ntpsec ntpsec-ntpdig gnutls-bin openssl iproute2 procps ca-certificates jq
  prometheus
  # packaging and deployment checks (deploy/deb/test-deb.sh, deploy/kubernetes/validate.sh)
  dpkg-dev lintian systemd
)
PEERS_DIR="${NTSD_PEERS_DIR:-/var/cache/ntsd-peers}"

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup-dev: run as root (no sudo found)" >&2; exit 1; }
  SUDO="sudo"
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

apt_updated=0
apt_update_once() {
  if [[ $apt_updated -eq 0 ]]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
}

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup-dev: installing ${missing[*]}"
  apt_update_once
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# npm for the Kubernetes manifests' validator (deploy/kubernetes/validate.sh).
# A node.js from elsewhere that brings its own npm is used as it is: Debian's
# npm package would conflict with it.
if ! command -v npm >/dev/null; then
  echo "setup-dev: installing npm"
  apt_update_once
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm >/dev/null
fi

# ntpsec's package enables and starts its own ntpd (which would bind UDP 123
# and touch the clock). The tests start their own, unprivileged instances.
if command -v systemctl >/dev/null && systemctl is-active --quiet ntpsec 2>/dev/null; then
  $SUDO systemctl disable --now ntpsec >/dev/null 2>&1 || true
fi
pkill -x ntpd 2>/dev/null && echo "setup-dev: stopped the packaged ntpd" || true
# Likewise the packaged Prometheus server: the metrics test runs its own on
# loopback with a private storage directory.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  $SUDO systemctl disable --now prometheus >/dev/null 2>&1 || true
fi

CHRONYD="$PEERS_DIR/chrony/usr/sbin/chronyd"
if [[ ! -x "$CHRONYD" ]]; then
  echo "setup-dev: unpacking chrony into $PEERS_DIR/chrony"
  $SUDO mkdir -p "$PEERS_DIR"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  chmod 755 "$scratch"
  if ! (cd "$scratch" && apt-get download chrony >/dev/null 2>&1); then
    apt_update_once
    (cd "$scratch" && apt-get download chrony >/dev/null 2>&1)
  fi
  $SUDO rm -rf "$PEERS_DIR/chrony"
  $SUDO dpkg -x "$scratch"/chrony_*.deb "$PEERS_DIR/chrony"
fi
"$CHRONYD" -v >/dev/null 2>&1 || { echo "setup-dev: $CHRONYD does not run" >&2; exit 1; }

echo "setup-dev: ready (bazel $(dpkg-query -W -f='${Version}' bazel-bootstrap), chronyd at $CHRONYD)"
