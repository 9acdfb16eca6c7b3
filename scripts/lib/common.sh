# Shared by scripts/demo and scripts/test: install what is missing, build, install.
# Idempotent and quick when nothing changed. Run as root on Debian 12.

PHAEDO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PHAEDO_ROOT
export PHAEDO_PEER_CACHE=${PHAEDO_PEER_CACHE:-/var/cache/phaedo-peers}

# Go (for test peers only) lives in /usr/local/go on the build hosts; Debian's is too old.
case ":$PATH:" in *:/usr/local/go/bin:*) ;; *) PATH="$PATH:/usr/local/go/bin" ;; esac
export PATH

log() { printf '==> %s\n' "$*" >&2; }

# Debian packages the build and the test tiers need.
PHAEDO_PACKAGES=(
  cmake ninja-build g++ pkg-config python3
  libcurl4-openssl-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  libgtest-dev libgmock-dev libtomlplusplus-dev libcli11-dev libyaml-cpp-dev
  busybox-static ca-certificates curl git
  docker-registry apache2-utils
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

# The Docker tiers need a daemon; on a fresh machine install Debian's and start it.
ensure_docker() {
  if curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; then return 0; fi
  ensure_packages docker.io
  if ! curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1; then
    log "starting dockerd"
    (systemctl start docker 2>/dev/null) || (nohup dockerd >/var/log/phaedo-dockerd.log 2>&1 &)
    for _ in $(seq 1 60); do
      curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping >/dev/null 2>&1 && return 0
      sleep 1
    done
    log "dockerd did not come up (see /var/log/phaedo-dockerd.log)"
    return 1
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

# Builds (once per machine, cached under $PHAEDO_PEER_CACHE) the real gitlab-runner the
# tests and the demo drive, and exports its path as PHAEDO_GITLAB_RUNNER.
ensure_gitlab_runner() {
  if [ -n "${PHAEDO_GITLAB_RUNNER:-}" ] && [ -x "$PHAEDO_GITLAB_RUNNER" ]; then return 0; fi
  if ! command -v go >/dev/null; then
    log "no Go toolchain (expected /usr/local/go): gitlab-runner cannot be built"
    return 1
  fi
  log "building gitlab-runner from the Go module proxy (first time only, a few minutes)"
  local out
  out=$("$PHAEDO_ROOT/tests/peers/gitlab-runner/build.sh") || return 1
  PHAEDO_GITLAB_RUNNER=$(printf '%s\n' "$out" | tail -n 1)
  export PHAEDO_GITLAB_RUNNER
  log "gitlab-runner: $PHAEDO_GITLAB_RUNNER"
}

# Builds (once per machine) the Kubernetes control plane, etcd and kwok the lease tests run
# on, and exports the directory as PHAEDO_K8S_BIN. Cold: ~12 min of CPU on 2 cores.
ensure_kubernetes_peers() {
  if [ -n "${PHAEDO_K8S_BIN:-}" ] && [ -x "$PHAEDO_K8S_BIN/kube-apiserver" ]; then return 0; fi
  command -v go >/dev/null || { log "no Go toolchain: Kubernetes peers cannot be built"; return 1; }
  ensure_packages openssl
  log "building the Kubernetes test peers from the Go module proxy (first time only; long)"
  local out
  out=$("$PHAEDO_ROOT/tests/peers/kubernetes/build.sh") || return 1
  PHAEDO_K8S_BIN=$(printf '%s\n' "$out" | tail -n 1)
  export PHAEDO_K8S_BIN
  log "Kubernetes peers: $PHAEDO_K8S_BIN"
}
