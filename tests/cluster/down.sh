#!/usr/bin/env bash
# Stop a cluster started by tests/cluster/up.sh and remove its directory.
#
# Usage: tests/cluster/down.sh [DIR | DIR/env]
#   default: $PHAEDO_CLUSTER_DIR
#   env PHAEDO_CLUSTER_KEEP_DIR=1   stop the processes but keep DIR (logs, pki)
#
# Stops the processes recorded in DIR/pids in reverse start order (SIGTERM, then SIGKILL
# after 10 s), only if the pid still runs the binary it was started as (no recycled pid is
# ever signalled), removes the tmpfs etcd data and, unless asked to keep it, DIR. It only
# removes directories carrying up.sh's marker file. Idempotent: running it twice is fine.
set -euo pipefail

log() { printf 'down.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

DIR=${1:-${PHAEDO_CLUSTER_DIR:-}}
[[ -n "$DIR" ]] || die "usage: down.sh DIR (or set PHAEDO_CLUSTER_DIR)"
[[ -f "$DIR" && "$(basename "$DIR")" == env ]] && DIR="$(dirname "$DIR")"
if [[ ! -d "$DIR" ]]; then
    log "$DIR does not exist; nothing to do"
    exit 0
fi
[[ -f "$DIR/.phaedo-cluster" ]] || die "$DIR was not made by up.sh (no .phaedo-cluster marker); refusing"

# The executable a pid runs, or nothing if it is gone.
exe_of() { readlink "/proc/$1/exe" 2>/dev/null || true; }

stop() { # name
    local name=$1 pidfile="$DIR/pids/$1.pid" pid exe
    [[ -f "$pidfile" ]] || return 0
    pid=$(cat "$pidfile")
    exe=$(exe_of "$pid")
    # up.sh started "$BIN/<name>"; a pid now running something else was recycled.
    if [[ -z "$exe" || "$(basename "${exe% (deleted)}")" != "$name" ]]; then
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        [[ -n "$(exe_of "$pid")" ]] || break
        sleep 0.1
    done
    if [[ -n "$(exe_of "$pid")" ]]; then
        log "$name (pid $pid) ignored SIGTERM for 10 s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    log "stopped $name (pid $pid)"
    rm -f "$pidfile"
}

if [[ -f "$DIR/pids/order" ]]; then
    # Reverse start order: kwok and the controllers before the apiserver, etcd last.
    tac "$DIR/pids/order" | while read -r name; do stop "$name"; done
fi

if [[ -f "$DIR/etcd-data-dir" ]]; then
    data=$(cat "$DIR/etcd-data-dir")
    case "$data" in
    /dev/shm/phaedo-etcd.* | "$DIR"/etcd-data) rm -rf -- "$data" ;;
    *) log "not removing unexpected etcd data dir '$data'" ;;
    esac
    rm -f "$DIR/etcd-data-dir"
fi

if [[ "${PHAEDO_CLUSTER_KEEP_DIR:-0}" == 1 ]]; then
    log "kept $DIR"
else
    rm -rf -- "$DIR"
    log "removed $DIR"
fi
