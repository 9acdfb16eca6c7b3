#!/usr/bin/env bash
# Stop, start or freeze one process of a cluster made by tests/cluster/up.sh, for fault
# tests such as "the API server down for 30 s during cleanup".
#
# Usage: tests/cluster/ctl.sh DIR ACTION NAME
#   NAME    etcd | kube-apiserver | kube-controller-manager | kube-scheduler | kwok
#   ACTION  stop     SIGTERM, SIGKILL after 10 s (connections are refused while stopped)
#           kill     SIGKILL at once
#           start    start it again with the command line up.sh used (same port, same
#                    files; the log is appended) and, for kube-apiserver, wait for /readyz
#           pause    SIGSTOP (connections hang instead of being refused)
#           resume   SIGCONT
#           status   print "running PID", "paused PID" or "stopped"
set -euo pipefail

log() { printf 'ctl.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $# -eq 3 ]] || die "usage: ctl.sh DIR stop|kill|start|pause|resume|status NAME"
DIR=$1 ACTION=$2 NAME=$3
[[ -f "$DIR/.phaedo-cluster" ]] || die "$DIR is not a cluster made by up.sh"
case "$NAME" in
etcd | kube-apiserver | kube-controller-manager | kube-scheduler | kwok) ;;
*) die "unknown process '$NAME'" ;;
esac
PIDFILE=$DIR/pids/$NAME.pid
CMDFILE=$DIR/pids/$NAME.cmd

# The pid from the pid file if it still runs the binary it was started as.
current_pid() {
    local pid exe
    [[ -f "$PIDFILE" ]] || return 1
    pid=$(cat "$PIDFILE")
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ "$(basename "${exe% (deleted)}")" == "$NAME" ]] || return 1
    echo "$pid"
}

case "$ACTION" in
stop | kill)
    pid=$(current_pid) || { log "$NAME is not running"; exit 0; }
    kill -CONT "$pid" 2>/dev/null || true
    if [[ $ACTION == stop ]]; then
        kill -TERM "$pid"
        for _ in $(seq 100); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
    fi
    [[ -e /proc/$pid ]] && kill -KILL "$pid"
    for _ in $(seq 50); do [[ -e /proc/$pid ]] || break; sleep 0.1; done
    log "$ACTION $NAME (pid $pid) done"
    ;;
start)
    if pid=$(current_pid); then die "$NAME already runs (pid $pid)"; fi
    [[ -f "$CMDFILE" ]] || die "no recorded command line for $NAME"
    mapfile -d '' -t cmd <"$CMDFILE"
    setsid "${cmd[@]}" </dev/null >>"$DIR/logs/$NAME.log" 2>&1 &
    echo $! >"$PIDFILE"
    log "started $NAME (pid $!)"
    if [[ $NAME == kube-apiserver ]]; then
        # shellcheck disable=SC1091
        . "$DIR/env"
        for _ in $(seq 600); do
            if curl -fsS --cacert "$PHAEDO_K8S_CA" -H "Authorization: Bearer $PHAEDO_K8S_ADMIN_TOKEN" \
                "$PHAEDO_K8S_API_URL/readyz" >/dev/null 2>&1; then
                log "kube-apiserver ready"
                exit 0
            fi
            [[ -e /proc/$(cat "$PIDFILE") ]] || die "kube-apiserver exited; see $DIR/logs/kube-apiserver.log"
            sleep 0.1
        done
        die "kube-apiserver not ready after 60 s"
    fi
    ;;
pause) pid=$(current_pid) || die "$NAME is not running"; kill -STOP "$pid" ;;
resume) pid=$(current_pid) || die "$NAME is not running"; kill -CONT "$pid" ;;
status)
    if pid=$(current_pid); then
        if [[ "$(awk '{ print $3 }' "/proc/$pid/stat")" == T ]]; then echo "paused $pid"; else echo "running $pid"; fi
    else
        echo stopped
    fi
    ;;
*) die "unknown action '$ACTION'" ;;
esac
