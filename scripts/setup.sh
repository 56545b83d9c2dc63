#!/usr/bin/env bash
# Brings a fresh Debian 12 + Node 20 machine up to what CXR needs, idempotently:
# pnpm, node modules, a WebGPU adapter (Mesa 25 lavapipe when none exists), with
# --with-torch the PyTorch reference used by the parity tests, and with --with-browser
# Debian's Chromium for the viewer's browser tests (driven headless by playwright-core).
set -euo pipefail
cd "$(dirname "$0")/.."
PNPM_VERSION=12.4.2
want_torch=0
want_browser=0
for arg in "$@"; do
  [ "$arg" = "--with-torch" ] && want_torch=1
  [ "$arg" = "--with-browser" ] && want_browser=1
done
is_root() { [ "$(id -u)" = 0 ]; }
log() { echo "[setup] $*" >&2; }

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  log "installing pnpm@$PNPM_VERSION"
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1 || {
    echo "could not install pnpm@$PNPM_VERSION with npm; install it yourself: npm install -g pnpm@$PNPM_VERSION" >&2; exit 1; }
fi

pnpm install --frozen-lockfile --reporter=silent >&2

apt_update_done=0
apt_install() {
  if [ $apt_update_done = 0 ]; then apt-get update -qq >&2; apt_update_done=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

if ! node packages/tensor/scripts/check-adapter.mjs >/dev/null 2>&1; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    log "no WebGPU adapter: installing Mesa's lavapipe (CPU Vulkan driver)"
    . /etc/os-release
    if [ "${VERSION_CODENAME:-}" = bookworm ]; then
      if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        # Reuse the machine's own Debian mirror rather than naming one.
        uri=$(grep -hs '^URIs:' /etc/apt/sources.list.d/debian.sources | head -1 | awk '{print $2}')
        [ -n "$uri" ] || uri=$(grep -hs '^deb ' /etc/apt/sources.list | grep -v security | head -1 | awk '{print $2}')
        printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$uri" \
          > /etc/apt/sources.list.d/bookworm-backports.sources
      fi
      apt_install libvulkan1 mesa-vulkan-drivers/bookworm-backports
    else
      apt_install libvulkan1 mesa-vulkan-drivers
    fi
  fi
  node packages/tensor/scripts/check-adapter.mjs >&2 || {
    cat >&2 <<'MSG'
No WebGPU adapter found. Install a Vulkan driver, as root:
  Debian 12: add a deb822 source for suite bookworm-backports, then
             apt-get install libvulkan1 mesa-vulkan-drivers/bookworm-backports
             (Debian 12's own Mesa 22.3 is rejected by Dawn)
  Debian 13+/Ubuntu 24.04+: apt-get install libvulkan1 mesa-vulkan-drivers
MSG
    exit 1; }
fi

if [ $want_torch = 1 ] && ! /usr/bin/python3 -c 'import torch, torchvision, PIL' >/dev/null 2>&1; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    log "installing PyTorch (Debian's python3-torch) for the parity tests"
    apt_install python3-torch python3-torchvision python3-pil python3-numpy
  else
    log "PyTorch missing: the parity tests will skip. As root: apt-get install python3-torch python3-torchvision python3-pil"
  fi
fi
# libtorch recommends OpenBLAS, which --no-install-recommends leaves out: PyTorch then runs its
# matmuls and float64 convolutions (the parity references) on the reference BLAS
# (VGG16's float64 parity step: 3 min against 46 s on a 2-vCPU EPYC), and benchmarks would
# compare against a PyTorch no Debian user gets by default.
if [ $want_torch = 1 ] && [ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ] && [ ! -e /usr/lib/aarch64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    log "installing OpenBLAS (libtorch's recommended BLAS) for PyTorch's references"
    apt_install libopenblas0-pthread
  else
    log "PyTorch runs on the reference BLAS: the parity tests take minutes longer. As root: apt-get install libopenblas0-pthread"
  fi
fi
if [ $want_browser = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if is_root && command -v apt-get >/dev/null 2>&1; then
    log "installing Debian's chromium for the browser tests (WebGPU, headless)"
    apt_install chromium
  else
    log "chromium missing: the browser tests will skip. As root: apt-get install chromium"
  fi
fi
exit 0
