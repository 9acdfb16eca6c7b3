# Shared by scripts/demo and scripts/test: install what is missing, build, install.
# Idempotent and quick when nothing changed. Run as root on Debian 12.

PHAEDO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PHAEDO_ROOT
export PHAEDO_PEER_CACHE=${PHAEDO_PEER_CACHE:-/var/cache/phaedo-peers}

log() { printf '==> %s\n' "$*" >&2; }

# Debian packages the build and the test tiers need.
PHAEDO_PACKAGES=(
  cmake ninja-build g++ pkg-config python3
  libcurl4-openssl-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libtomlplusplus-dev libcli11-dev
  busybox-static ca-certificates curl git
)

ensure_packages() {
  local missing=()
  for p in "${PHAEDO_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

build_and_install() {
  cd "$PHAEDO_ROOT"
  if [ ! -f build/build.ninja ]; then
    log "configuring (preset dev)"
    cmake --preset dev >/dev/null
  fi
  log "building"
  cmake --build build
  cmake --install build --prefix build/install >/dev/null
}
