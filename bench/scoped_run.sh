#!/usr/bin/env bash
# The scoped Docker API benchmarks (issue 5), on the installed programs:
#   1. bench/scoped_build.py: rebuild of a multi-layer image in a new job through the
#      scoped API (host daemon's warm cache) vs a cold second dockerd (docker-in-docker);
#   2. tests/dockerscope/bench_proxy.py: proxy cost (docker ps round trip, 1 GiB build
#      context) against the host socket directly.
#
#   bench/scoped_run.sh                      # builds + installs into build/install first
#   PHAEDO_BIN=/some/install/bin bench/scoped_run.sh [--runs 7]
#
# Extra arguments go to scoped_build.py. SCOPED_PROXY_MIB (1024) and SCOPED_PROXY_RUNS (5)
# size the proxy benchmark. Needs root, a Docker daemon, docker-registry and htpasswd.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/scripts/lib/common.sh"

if [ -z "${PHAEDO_BIN:-}" ]; then
  ensure_docker
  build_and_install
  PHAEDO_BIN="$PHAEDO_ROOT/build/install/bin"
fi
export PHAEDO_BIN
log "scoped build benchmark on $PHAEDO_BIN"
python3 "$PHAEDO_ROOT/bench/scoped_build.py" --bin "$PHAEDO_BIN" "$@"
log "proxy cost benchmark"
cd "$PHAEDO_ROOT/tests/dockerscope"
PHAEDO_DOCKERSCOPE="$PHAEDO_BIN/phaedo-dockerscope" PYTHONDONTWRITEBYTECODE=1 \
  python3 bench_proxy.py "${SCOPED_PROXY_MIB:-1024}" "${SCOPED_PROXY_RUNS:-5}"
