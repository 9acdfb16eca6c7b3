#!/usr/bin/env bash
# Build the Kubernetes test peers once per machine and print the directory holding them.
#
# Usage: tests/peers/kubernetes/build.sh [--check]
#   --check                 build nothing: print the directory and exit 0 if it is complete,
#                           exit 1 if a build is needed (lets tests skip instead of building)
#   env PHAEDO_PEER_CACHE   cache root (default /var/cache/phaedo-peers; falls back to
#                           ~/.cache/phaedo-peers when that is not writable)
#
# Binaries, all from the Go module proxy through the wrapper modules next to this script:
#   k8s/   k8s.io/kubernetes (one `replace` per staging module k8s.io/* => v0.X.Y, generated
#          from k/k's own go.mod) -> kube-apiserver, kube-controller-manager,
#          kube-scheduler, kubectl (upstream's own mains, named by `tool` lines in go.mod)
#   etcd/  go.etcd.io/etcd/server/v3 + upstream's three-line main -> etcd
#   kwok/  sigs.k8s.io/kwok (`tool` line) -> kwok
#
# They go to $PHAEDO_PEER_CACHE/kubernetes/<k8s>_etcd-<v>_kwok-<v>-<hash>/, where <hash>
# covers every input in this directory (go.mod, go.sum, main.go, this script), so an edit
# yields new binaries and never stale ones. An existing, complete directory is reused.
# Nothing is written to the source tree. Logs go to stderr; the last line on stdout is the
# directory. build-info.txt in it records versions, build times and sizes.
#
# Cost on a 2-core host, cold: see build-info.txt and tests/peers/kubernetes/README.md.
set -euo pipefail

SRC_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SRC_DIR
readonly BINARIES=(etcd kwok kube-apiserver kube-controller-manager kube-scheduler kubectl)

log() { printf 'build.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# GOTOOLCHAIN=local: a too-old go must fail loudly, never download a toolchain (CI hosts
# only reach the module proxy). -mod=readonly: go.mod/go.sum are the pinned truth.
export GOTOOLCHAIN=local
export GOFLAGS="-mod=readonly -buildvcs=false"
export CGO_ENABLED=0 # static binaries, as upstream builds these components

cache_root() {
    if [[ -n "${PHAEDO_PEER_CACHE:-}" ]]; then
        echo "$PHAEDO_PEER_CACHE"
    elif mkdir -p /var/cache/phaedo-peers 2>/dev/null && [[ -w /var/cache/phaedo-peers ]]; then
        echo /var/cache/phaedo-peers
    else
        echo "${XDG_CACHE_HOME:-$HOME/.cache}/phaedo-peers"
    fi
}

# Version of module $2 required by wrapper module $1.
required_version() {
    awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { v = ($1 == m) ? $2 : $3; print v; exit }' \
        "$SRC_DIR/$1/go.mod"
}

inputs_hash() {
    (cd "$SRC_DIR" && find build.sh k8s etcd kwok -type f \( -name 'go.mod' -o -name 'go.sum' -o -name '*.go' -o -name '*.sh' \) -print0 |
        LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-10)
}

K8S_VERSION="$(required_version k8s k8s.io/kubernetes)"
ETCD_VERSION="$(required_version etcd go.etcd.io/etcd/server/v3)"
KWOK_VERSION="$(required_version kwok sigs.k8s.io/kwok)"
[[ -n "$K8S_VERSION" && -n "$ETCD_VERSION" && -n "$KWOK_VERSION" ]] || die "cannot read pinned versions from the go.mod files"

# hack/lib/version.sh's ldflags (client-go and component-base version variables). The
# module zip carries no git metadata, so gitCommit stays empty and the tree is "clean".
k8s_ldflags() {
    local v=${K8S_VERSION#v} key val
    local major=${v%%.*} rest=${v#*.}
    local minor=${rest%%.*}
    local -a out=(-s -w)
    for kv in "gitVersion=$K8S_VERSION" "gitMajor=$major" "gitMinor=$minor" "gitTreeState=clean" \
        "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
        key=${kv%%=*} val=${kv#*=}
        out+=("-X" "k8s.io/client-go/pkg/version.$key=$val" "-X" "k8s.io/component-base/version.$key=$val")
    done
    echo "${out[*]}"
}

# Runs "$@" in wrapper module $1 and appends "<what> <seconds>" to the timing log.
timed() {
    local what=$1 mod=$2
    shift 2
    local start=$SECONDS
    log "$what: $* (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    (cd "$SRC_DIR/$mod" && "$@") >&2 || die "$what failed"
    printf '%-32s %5ss  (load after: %s)\n' "$what" "$((SECONDS - start))" "$(cut -d' ' -f1-3 /proc/loadavg)" >>"$TIMES"
}

build() {
    local dir=$1 tmp=$1/.tmp.$$
    rm -rf "$tmp" && mkdir -p "$tmp"
    TIMES=$tmp/times.txt
    : >"$TIMES"

    timed "download k8s modules" k8s go mod download
    timed "download etcd modules" etcd go mod download
    timed "download kwok modules" kwok go mod download

    timed "build etcd $ETCD_VERSION" etcd \
        go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" .
    timed "build kwok $KWOK_VERSION" kwok \
        go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" \
        -o "$tmp/" sigs.k8s.io/kwok/cmd/kwok
    # One go invocation for the four Kubernetes mains: they share most packages. Tags and
    # flags as hack/lib/golang.sh for a non-debug build.
    timed "build kubernetes $K8S_VERSION (4 binaries)" k8s \
        go build -trimpath -tags selinux,notest,grpcnotrace -ldflags "$(k8s_ldflags)" -o "$tmp/" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl

    "$tmp/etcd" --version >&2 || die "etcd does not run"
    "$tmp/kube-apiserver" --version >&2 || die "kube-apiserver does not run"
    "$tmp/kubectl" version --client >&2 || die "kubectl does not run"
    "$tmp/kwok" --version >&2 || die "kwok does not run"

    {
        echo "kubernetes $K8S_VERSION (k8s.io/kubernetes, staging modules ${K8S_VERSION/v1./v0.})"
        echo "etcd       $ETCD_VERSION (go.etcd.io/etcd/server/v3)"
        echo "kwok       $KWOK_VERSION (sigs.k8s.io/kwok)"
        echo "go         $(go env GOVERSION), $(nproc) cores, built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo
        cat "$TIMES"
        echo
        (cd "$tmp" && ls -l "${BINARIES[@]}" | awk '{ printf "%-26s %6.1f MB\n", $9, $5 / 1048576 }')
    } >"$tmp/build-info.txt"
    rm -f "$TIMES"
    cat "$tmp/build-info.txt" >&2
    # Publish binary by binary (atomic renames); build-info.txt last marks completeness.
    for b in "${BINARIES[@]}"; do mv -f "$tmp/$b" "$dir/$b"; done
    mv -f "$tmp/build-info.txt" "$dir/build-info.txt"
    rmdir "$tmp"
}

complete() {
    local dir=$1 b
    [[ -f "$dir/build-info.txt" ]] || return 1
    for b in "${BINARIES[@]}"; do [[ -x "$dir/$b" ]] || return 1; done
}

main() {
    command -v go >/dev/null || die "go not found on PATH (need go >= $(awk '$1 == "go" { print $2 }' "$SRC_DIR/k8s/go.mod"))"
    local dir
    dir="$(cache_root)/kubernetes/${K8S_VERSION}_etcd-${ETCD_VERSION}_kwok-${KWOK_VERSION}-$(inputs_hash)"
    if [[ "${1:-}" == --check ]]; then
        echo "$dir"
        complete "$dir"
        return
    fi
    if ! complete "$dir"; then
        mkdir -p "$dir"
        # One build per machine even when several test processes start at once.
        exec 9>"$dir/.lock"
        flock 9
        if ! complete "$dir"; then
            build "$dir"
        fi
        flock -u 9
    else
        log "reusing $dir"
    fi
    echo "$dir"
}

main "$@"
