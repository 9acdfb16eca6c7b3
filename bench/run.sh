#!/usr/bin/env bash
# Runs the docker-sandbox job benchmark (bench/docker_job.py) from a clean tree:
# installs what is missing, builds and installs into build/install (preset dev,
# the configuration README.md installs), then benchmarks the installed programs.
#
#   bench/run.sh                       # 15 runs each side, 10 sub-stages, breakdown
#   bench/run.sh --runs 31             # more runs
#   PHAEDO_BIN=/some/install/bin bench/run.sh   # benchmark programs installed elsewhere (no build)
#   bench/run.sh host                  # host-sandbox stage programs: wall time, peak RSS
#   bench/run.sh scoped                # scoped Docker API: cold-daemon rebuild, proxy cost
#
# Extra arguments go to docker_job.py (see bench/docker_job.py --help). Needs root
# (the Docker socket) and a Docker daemon; Debian 12.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/lib/common.sh"

# bench/run.sh scoped [args]: the scoped Docker API benchmarks instead (bench/scoped_run.sh:
# warm-cache rebuild vs a cold dockerd, and the proxy's cost).
if [ "${1:-}" = scoped ]; then
  shift
  exec "$PHAEDO_ROOT/bench/scoped_run.sh" "$@"
fi

# bench/run.sh host [args]: each stage program of a trivial host-sandbox job, wall
# time and peak RSS (bench/host_stages.py; no Docker needed).
if [ "${1:-}" = host ]; then
  shift
  ensure_packages time
  if [ -z "${PHAEDO_BIN:-}" ]; then
    build_and_install
    PHAEDO_BIN="$PHAEDO_ROOT/build/install/bin"
  fi
  log "benchmarking $PHAEDO_BIN (host sandbox stages)"
  exec python3 "$PHAEDO_ROOT/bench/host_stages.py" --bin "$PHAEDO_BIN" "$@"
fi

if [ -z "${PHAEDO_BIN:-}" ]; then
  ensure_packages strace
  ensure_docker
  build_and_install
  PHAEDO_BIN="$PHAEDO_ROOT/build/install/bin"
fi
export PHAEDO_BIN
log "benchmarking $PHAEDO_BIN"
exec python3 "$PHAEDO_ROOT/bench/docker_job.py" --bin "$PHAEDO_BIN" --breakdown "$@"
