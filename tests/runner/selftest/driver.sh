#!/usr/bin/env bash
# Throw-away custom-executor driver for checking the fake GitLab against the real runner.
# It runs job scripts on the host with bash. Usage (one program for all four stages):
#   driver.sh config|prepare|run <script> <stage>|cleanup
# If PHAEDO_SELFTEST_LOG is set, one line per call is appended to it:
#   <stage> [<sub-stage>] job=<CUSTOM_ENV_CI_JOB_ID>
set -u

log_call() {
    [[ -n "${PHAEDO_SELFTEST_LOG:-}" ]] || return 0
    echo "$* job=${CUSTOM_ENV_CI_JOB_ID:-}" >>"$PHAEDO_SELFTEST_LOG"
}

# Run the generated script; map a failure to the build-failure exit code and report the
# real code through BUILD_EXIT_CODE_FILE (runner 17.9+).
run_stage() {
    local script=$1 stage=$2 rc
    log_call run "$stage"
    # The runner sends SIGTERM to our whole process group. Trap it (never ignore it: an
    # ignored signal stays ignored in the child, whose own `trap 'exit 1' TERM` must
    # work). With the script in the foreground, bash runs the trap once it has exited.
    trap 'log_call sigterm "$stage"' TERM
    bash "$script"
    rc=$?
    if [[ $rc -eq 0 ]]; then
        exit 0
    fi
    if [[ -n "${BUILD_EXIT_CODE_FILE:-}" ]]; then
        echo "$rc" >"$BUILD_EXIT_CODE_FILE"
    fi
    exit "${BUILD_FAILURE_EXIT_CODE:-1}"
}

case "${1:-}" in
config)
    log_call config
    # Stdout must be exactly one JSON object (or empty).
    echo '{"driver":{"name":"phaedo-selftest","version":"0"}}'
    ;;
prepare) log_call prepare ;;
run) run_stage "$2" "$3" ;;
cleanup) log_call cleanup ;;
*)
    echo "driver.sh: unknown stage '${1:-}'" >&2
    exit "${SYSTEM_FAILURE_EXIT_CODE:-2}"
    ;;
esac
