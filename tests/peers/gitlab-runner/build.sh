#!/usr/bin/env bash
# Build the test peer gitlab-runner once per machine and print its absolute path.
#
# Usage: tests/peers/gitlab-runner/build.sh
#   env PHAEDO_PEER_CACHE   cache root (default /var/cache/phaedo-peers; falls back to
#                           ~/.cache/phaedo-peers when that is not writable)
#
# The binary goes to $PHAEDO_PEER_CACHE/gitlab-runner/<version>/gitlab-runner, where
# <version> is the runner's pinned pseudo-version plus a hash of this directory's inputs
# (go.mod, go.sum, main.go, stubs/), so editing a stub yields a new binary and never a
# stale one. A binary that already exists is reused. Nothing is written to the source
# tree. Logs go to stderr; the last line on stdout is the binary's path.
set -euo pipefail

readonly RUNNER_MODULE=gitlab.com/gitlab-org/gitlab-runner
SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SRC_DIR

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# GOTOOLCHAIN=local: a too-old go must fail loudly, never download a toolchain (CI hosts
# only reach the module proxy). -mod=readonly: go.mod/go.sum are the pinned truth.
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0 # as upstream's Makefile: a static binary

cache_root() {
    if [[ -n "${PHAEDO_PEER_CACHE:-}" ]]; then
        echo "$PHAEDO_PEER_CACHE"
    elif mkdir -p /var/cache/phaedo-peers 2>/dev/null && [[ -w /var/cache/phaedo-peers ]]; then
        echo /var/cache/phaedo-peers
    else
        echo "${XDG_CACHE_HOME:-$HOME/.cache}/phaedo-peers"
    fi
}

# The pseudo-version go.mod pins, e.g. v1.11.1-0.20260903214710-fc1f1862bd91.
runner_pseudo_version() {
    awk -v m="$RUNNER_MODULE" '$1 == m && $2 ~ /^v/ { print $2; exit }' "$SRC_DIR/go.mod"
}

# Hash of everything that goes into the binary from this directory.
inputs_hash() {
    (cd "$SRC_DIR" && find go.mod go.sum main.go stubs -type f -print0 | LC_ALL=C sort -z |
        xargs -0 sha256sum | sha256sum | cut -c1-10)
}

# -ldflags as upstream's Makefile sets them (common.NAME/VERSION/REVISION/BRANCH/BUILT).
# Upstream's VERSION is "<VERSION file>~pre.<commits since tag>.g<rev>" for untagged
# commits; the commit count needs git history the module zip lacks, so it is left out.
ldflags() {
    local module_dir=$1 revision=$2
    local pkg="$RUNNER_MODULE/common"
    local version
    version="$(tr -d '[:space:]' <"$module_dir/VERSION")~pre.g${revision}"
    printf '%s ' \
        "-X $pkg.NAME=gitlab-runner" \
        "-X $pkg.VERSION=$version" \
        "-X $pkg.REVISION=$revision" \
        "-X $pkg.BRANCH=main" \
        "-X $pkg.BUILT=$(date -u +%Y-%m-%dT%H:%M:%S%z)" \
        "-w"
}

build() {
    local out=$1 pseudo=$2
    local module_dir revision tmp start
    revision="${pseudo##*-}"
    revision="${revision:0:8}"

    log "downloading modules (first run: ~150 modules, ~900 MB of module cache)"
    (cd "$SRC_DIR" && go mod download) >&2
    module_dir="$(cd "$SRC_DIR" && go list -m -f '{{.Dir}}' "$RUNNER_MODULE")"

    log "building $RUNNER_MODULE@$pseudo -> $out"
    tmp="$out.tmp.$$"
    start=$SECONDS
    # -trimpath as upstream's release builds; the build cache keeps rebuilds cheap.
    (cd "$SRC_DIR" && go build -trimpath -ldflags "$(ldflags "$module_dir" "$revision")" -o "$tmp" .) >&2 ||
        { rm -f "$tmp"; die "go build failed"; }
    "$tmp" --version >&2 || { rm -f "$tmp"; die "built binary does not run"; }
    mv -f "$tmp" "$out" # atomic: readers never see a half-written binary
    log "built in $((SECONDS - start))s, $(du -h "$out" | cut -f1)"
}

main() {
    command -v go >/dev/null || die "go not found on PATH (need go >= $(awk '$1 == "go" { print $2 }' "$SRC_DIR/go.mod"))"
    local pseudo dir out
    pseudo="$(runner_pseudo_version)"
    [[ -n "$pseudo" ]] || die "no $RUNNER_MODULE requirement in $SRC_DIR/go.mod"
    dir="$(cache_root)/gitlab-runner/${pseudo}-$(inputs_hash)"
    out="$dir/gitlab-runner"

    if [[ ! -x "$out" ]]; then
        mkdir -p "$dir"
        # One build per machine even when several test processes start at once.
        exec 9>"$dir/.lock"
        flock 9
        if [[ ! -x "$out" ]]; then
            build "$out" "$pseudo"
        fi
        flock -u 9
    else
        log "reusing $out"
    fi
    echo "$out"
}

main "$@"
