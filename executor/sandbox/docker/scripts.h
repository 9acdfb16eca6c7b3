// The small POSIX sh programs the docker sandbox runs inside job containers.
//
// Every job container is dedicated to one job. Its PID 1 is kInitScript: a shell
// that only sleeps and reaps orphans, in process group 1. Every `docker exec`
// starts its process as a new session leader, so "job processes" are exactly the
// processes outside process group 1 — including ones that called setsid or
// double-forked. The sweep function signals each of them except the calling
// shell; it needs only sh builtins and /proc, so it works in any image with sh.
#pragma once

namespace phaedo::sandbox::docker::scripts {

// PID 1 of the job container: sleeps, reaps orphans, exits on TERM.
inline constexpr const char* kInitScript = "trap 'exit 0' TERM; while :; do sleep 3600 & wait; done";

// phaedo_sweep: sends $sig_ (TERM, KILL, or 0 to probe) to every live process
// outside process group 1 except this shell and the stopper named in the file
// $stopfile_ (re-read on every sweep); true when there was one.
//
// Two shells sweep: the run script after its script exits (leftovers would hold
// the exec's output stream open) and, on cancel, the stop script. The stop script
// writes its pid to "<dir>.stop" before it sweeps and ignores TERM, so the run
// script's sweep neither kills it nor waits for it; the stop script's own sweep
// stops the run script along with everything else.
//
// phaedo_stop GRACE: TERM, up to GRACE tenths of a second for them to exit, then
// KILL until nothing is left (bounded: a process forked during a sweep is caught
// by the next one).
#define PHAEDO_SWEEP_FUNCTION                                          \
  "phaedo_sweep() {\n"                                                 \
  "  n=0; skip_=\n"                                                    \
  "  if [ -f \"$stopfile_\" ]; then read -r skip_ < \"$stopfile_\"; fi\n" \
  "  for e in /proc/[0-9]*; do\n"                                      \
  "    p=${e#/proc/}\n"                                                \
  "    if [ \"$p\" = 1 ] || [ \"$p\" = \"$$\" ] || [ \"$p\" = \"$skip_\" ]; then continue; fi\n" \
  "    l=\n"                                                           \
  "    read -r l < \"$e/stat\" 2>/dev/null || [ -n \"$l\" ] || continue\n" \
  "    set -- ${l##*)}\n"                                              \
  "    if [ \"$1\" = Z ] || [ \"$3\" = 1 ]; then continue; fi\n"       \
  "    kill -$sig_ \"$p\" 2>/dev/null && n=$((n+1))\n"                 \
  "  done\n"                                                           \
  "  [ \"$n\" -gt 0 ]\n"                                               \
  "}\n"                                                                \
  "phaedo_stop() {\n"                                                  \
  "  sig_=TERM; phaedo_sweep || return 0\n"                            \
  "  i=0; sig_=0\n"                                                    \
  "  while [ \"$i\" -lt \"$1\" ] && phaedo_sweep; do sleep 0.1; i=$((i+1)); done\n" \
  "  i=0; sig_=KILL\n"                                                 \
  "  while [ \"$i\" -lt 30 ] && phaedo_sweep; do sleep 0.1; i=$((i+1)); done\n" \
  "  return 0\n"                                                       \
  "}\n"

// Where docker.runner_binary is bound in job containers.
inline constexpr const char* kRunnerBinaryDir = "/usr/local/bin";
inline constexpr const char* kRunnerBinaryPath = "/usr/local/bin/gitlab-runner";

// Runs one sub-stage script:
//   sh -c kRunScript phaedo <shell> <script> <dir> <grace tenths> [<PATH dir>]
// Appends <PATH dir> to PATH when the image's PATH lacks it (so the runner's
// artifact and cache helpers find gitlab-runner in any image). Exits with the
// script's status after removing the script's directory (it holds the job's
// variables) and stopping whatever the script left running (leftovers would keep
// the exec's output stream, and so the stage, open).
inline constexpr const char* kRunScript =
    "if [ -n \"$5\" ]; then case \":$PATH:\" in *\":$5:\"*) ;; *) PATH=\"$PATH:$5\"; export PATH;; esac; fi\n"
    "\"$1\" \"$2\"; rc=$?; d=$3; g=$4; stopfile_=\"$d.stop\"\n"
    "rm -rf \"$d\"\n" PHAEDO_SWEEP_FUNCTION
    "phaedo_stop \"$g\"\n"
    "exit $rc\n";

// Stops a cancelled sub-stage: sh -c kStopScript phaedo <dir> <grace tenths>.
// Announces itself in "<dir>.stop" (see phaedo_sweep), then TERM to every job
// process including the run script, up to the grace for them to exit, then KILL.
inline constexpr const char* kStopScript =
    "trap '' TERM; d=$1; g=$2; stopfile_=\"$d.stop\"\n"
    "echo $$ > \"$stopfile_\" 2>/dev/null\n" PHAEDO_SWEEP_FUNCTION
    "phaedo_stop \"$g\"\n"
    "rm -rf \"$d\" \"$stopfile_\"\n"
    "exit 0\n";

#undef PHAEDO_SWEEP_FUNCTION

// Prints the memory cgroup's OOM-kill counter line ("oom_kill N"), v1 or v2.
inline constexpr const char* kOomScript =
    "cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null || cat /sys/fs/cgroup/memory.events 2>/dev/null";

}  // namespace phaedo::sandbox::docker::scripts
