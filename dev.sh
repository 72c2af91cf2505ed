#!/usr/bin/env bash
# steadfast developer entry point (README "Quick start"):
#   ./dev.sh run     install what is missing, build (release), run steadfast in the foreground
#   ./dev.sh test    install what is missing, build, run every test suite
#   ./dev.sh build [PRESET]   build only (dev | release | asan)
#   ./dev.sh deps    install the Debian packages only
set -euo pipefail
cd "$(dirname "$0")"

# Build and test dependencies, all from Debian 12. The test tools are real servers and
# clients used by the integration suite: unbound (upstream), dig/kdig (client), promtool.
PACKAGES=(
  build-essential cmake ninja-build pkg-config
  libuv1-dev libldns-dev libunbound-dev libevent-dev libssl-dev libsystemd-dev
  libcurl4-openssl-dev prometheus-cpp-dev libcivetweb-dev libtomlplusplus-dev
  nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev
  python3 python3-dnspython dnsutils knot-dnsutils unbound prometheus
  publicsuffix
)

sudo_cmd() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_deps() {
  local missing=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "dev.sh: installing ${missing[*]}"
    sudo_cmd apt-get update -qq
    # Debian's unbound package would start a system resolver on port 53 where an init
    # system runs; policy-rc.d keeps package installs from starting any service.
    local rc_created=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' | sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
      sudo_cmd chmod +x /usr/sbin/policy-rc.d
      rc_created=1
    fi
    sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}"
    if [ $rc_created -eq 1 ]; then sudo_cmd rm -f /usr/sbin/policy-rc.d; fi
  fi
}

jobs() { nproc 2>/dev/null || echo 2; }

build() {
  local preset=$1
  cmake --preset "$preset" >/dev/null
  cmake --build --preset "$preset" -j "$(jobs)"
}

cmd=${1:-}
case "$cmd" in
  deps)
    install_deps
    ;;
  build)
    install_deps
    build "${2:-release}"
    ;;
  run)
    shift
    install_deps
    build release
    exec build/release/resolver/app/steadfast --dev "$@"
    ;;
  test)
    install_deps
    build release
    # ASan+UBSan over every suite: the unit tests, and the integration tests starting the
    # sanitizer build of the daemon (its data path runs only there), which must also stop
    # cleanly with no leak reported.
    build asan
    echo "== unit and integration tests under ASan+UBSan"
    ctest --test-dir build/asan --output-on-failure -j "$(jobs)"
    echo "== unit and integration tests (release build)"
    ctest --test-dir build/release --output-on-failure -j "$(jobs)"
    ;;
  *)
    echo "usage: ./dev.sh run|test|build [PRESET]|deps" >&2
    exit 2
    ;;
esac
