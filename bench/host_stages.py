#!/usr/bin/env python3
"""Benchmark: each stage program of a trivial host-sandbox job, wall time and peak RSS.

Issue 2's targets: `phaedo-config` under 5 ms, run-stage overhead (the wall time
of `phaedo-run` minus the script's own) under 10 ms, peak RSS under 15 MB.

One *round* is one job through the installed programs, called as gitlab-runner
calls them (tests/protocol/runner_emulator.py: per-job temp dir as cwd and
TMPDIR, JOB_RESPONSE_FILE, the exit-code variables, job_env from the config
output, CUSTOM_ENV_* variables, stdin /dev/null, own process group):
phaedo-config, phaedo-prepare, phaedo-run with a runner-style script whose body
is `true`, phaedo-cleanup. In the same round, interleaved with the driver's run
(the order alternates each round), the *baseline* runs the very same script
file directly (`bash <script>`, same cwd and environment): the script's own wall
time, which the run-stage overhead subtracts. A third sample, `/bin/true`,
shows what any process start costs from this harness.

Wall time is from fork to reaping, measured here. Peak RSS comes from separate
rounds (not timed) in which every program runs under GNU time (`/usr/bin/time
-f %M`): the kernel's ru_maxrss of the program, which for phaedo-run also covers
the script it reaped (an upper bound for the driver itself). It is not taken from
this script's own wait4(): a child forked from Python starts with Python's
resident pages, and the kernel's high-water mark keeps them across exec. The profile is
runner-config/local.toml with its state, work and cache directories and its
cgroup (pids hierarchy) moved under a temp dir / a bench-owned cgroup, both
removed at the end.

Usage: bench/host_stages.py [--runs 101] [--bin DIR] [--json FILE]
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "protocol"))

import runner_emulator  # noqa: E402
from runner_emulator import Job, job_payload  # noqa: E402

TARGETS = {"config_ms": 5.0, "run_overhead_ms": 10.0, "peak_rss_mb": 15.0}
STAGES = ("config", "prepare", "run", "cleanup")

now = time.perf_counter


class Failed(RuntimeError):
    pass


def write_profile(root, cgroup_root):
    """local.toml, with every path this benchmark writes moved under `root`."""
    with open(os.path.join(ROOT, "runner-config", "local.toml")) as f:
        text = f.read()
    replacements = {
        'state_dir = "/var/lib/phaedo-executor"': f'state_dir = "{root}/state"',
        'log_file = "/var/log/phaedo-executor/local.log"': f'log_file = "{root}/admin.log"',
        'work_root = "/var/lib/phaedo-executor/work"': f'work_root = "{root}/work"',
        'cache_dir = "/var/cache/phaedo-executor"': f'cache_dir = "{root}/cache"',
        'cgroup_root = "/sys/fs/cgroup/pids/phaedo"': f'cgroup_root = "{cgroup_root}"',
    }
    for old, new in replacements.items():
        if old not in text:
            raise Failed(f"runner-config/local.toml no longer holds {old!r}: update bench/host_stages.py")
        text = text.replace(old, new)
    path = os.path.join(root, "profile.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


class ProfileRef:
    """What runner_emulator.Job needs of a profile: its path."""

    def __init__(self, path):
        self.path = path


GNU_TIME = "/usr/bin/time"


def timed(argv, cwd, env, out_path, rss):
    """Runs argv as the runner would (own process group, stdin /dev/null);
    returns (exit code, wall seconds, peak RSS in KiB or None). With `rss` the
    program runs under GNU time, which reports its peak RSS (wall time is then
    not representative)."""
    rss_file = out_path + ".rss"
    if rss:
        argv = [GNU_TIME, "-f", "%M", "-o", rss_file, *argv]
    with open(out_path, "wb") as out, open(out_path + ".err", "wb") as err:
        t0 = now()
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                             process_group=0)
        p.wait()
        wall = now() - t0
    peak = None
    if rss:
        with open(rss_file) as f:
            peak = int(f.read().split()[-1])
    return p.returncode, wall, peak


def stage(job, name, *args, rss=False):
    argv = [runner_emulator.program("phaedo-" + name), "--profile", job.profile.path, *args]
    out = os.path.join(job.tmp, f"{name}.out")
    rc, wall, peak = timed(argv, job.tmp, job.env(), out, rss)
    if rc != 0:
        with open(out + ".err", errors="replace") as f:
            raise Failed(f"phaedo-{name}: exit {rc}: {f.read().strip()[-400:]}")
    return wall, peak, out


def one_round(profile_path, job_id, driver_first, rss=False):
    """One job; returns {stage: (wall, rss)} plus the baseline samples."""
    job = Job(ProfileRef(profile_path), job_payload(job_id, runner_id="77"))
    sample = {}
    try:
        wall, peak, out = stage(job, "config", rss=rss)
        with open(out) as f:
            job.job_env = json.load(f).get("job_env", {})
        sample["config"] = (wall, peak)
        sample["prepare"] = stage(job, "prepare", rss=rss)[:2]
        script = job.write_script("true")
        order = ("driver", "direct") if driver_first else ("direct", "driver")
        for side in order:
            if side == "driver":
                sample["run"] = stage(job, "run", script, "build_script", rss=rss)[:2]
            else:
                rc, wall, peak = timed(["bash", script], job.tmp, job.env(), os.path.join(job.tmp, "direct.out"), rss)
                if rc != 0:
                    raise Failed(f"the script run directly: exit {rc}")
                sample["script"] = (wall, peak)
        rc, wall, peak = timed(["/bin/true"], job.tmp, job.env(), os.path.join(job.tmp, "true.out"), rss)
        sample["true"] = (wall, peak)
        sample["cleanup"] = stage(job, "cleanup", rss=rss)[:2]
    finally:
        job.remove()
    return sample


def ms(seconds):
    return seconds * 1000.0


def quantile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def summarize(rounds, rss_rounds):
    out = {}
    for key in (*STAGES, "script", "true"):
        walls = [r[key][0] for r in rounds]
        rss = [r[key][1] for r in rss_rounds]
        out[key] = {"wall_median_ms": ms(statistics.median(walls)), "wall_p90_ms": ms(quantile(walls, 0.9)),
                    "rss_median_mb": statistics.median(rss) / 1024.0, "rss_max_mb": max(rss) / 1024.0}
    overheads = [r["run"][0] - r["script"][0] for r in rounds]
    out["run_overhead"] = {"median_ms": ms(statistics.median(overheads)), "p90_ms": ms(quantile(overheads, 0.9)),
                           "of_medians_ms": out["run"]["wall_median_ms"] - out["script"]["wall_median_ms"]}
    return out


def print_report(result):
    s = result["summary"]
    print(f"\nhost-sandbox stage programs, {result['runs']} timed rounds + {result['rss_runs']} under GNU time "
          f"for RSS, {result['date']}, {result['machine']}, "
          f"load average {result['load_before']} -> {result['load_after']}")
    print("| program | wall median | wall p90 | peak RSS median | peak RSS max |")
    print("|---|---:|---:|---:|---:|")
    for key, label in (("config", "phaedo-config"), ("prepare", "phaedo-prepare"), ("run", "phaedo-run (`true`)"),
                       ("cleanup", "phaedo-cleanup"), ("script", "the script alone (`bash script`)"),
                       ("true", "`/bin/true` (process start)")):
        v = s[key]
        print(f"| {label} | {v['wall_median_ms']:.2f} ms | {v['wall_p90_ms']:.2f} ms | "
              f"{v['rss_median_mb']:.1f} MB | {v['rss_max_mb']:.1f} MB |")
    o = s["run_overhead"]
    print(f"\nrun-stage overhead (phaedo-run minus the script, paired per round): median {o['median_ms']:.2f} ms, "
          f"p90 {o['p90_ms']:.2f} ms (difference of medians {o['of_medians_ms']:.2f} ms)")
    peak = max(s[k]["rss_max_mb"] for k in STAGES)
    checks = [("phaedo-config median", s["config"]["wall_median_ms"], TARGETS["config_ms"], "ms"),
              ("run-stage overhead median", o["median_ms"], TARGETS["run_overhead_ms"], "ms"),
              ("peak RSS of any stage program", peak, TARGETS["peak_rss_mb"], "MB")]
    for label, value, target, unit in checks:
        print(f"{label}: {value:.2f} {unit} (target < {target:g} {unit}): {'met' if value < target else 'NOT met'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "101")),
                    help="rounds (jobs) to measure (default 101)")
    ap.add_argument("--warmup", type=int, default=5, help="rounds run first and not counted (default 5)")
    ap.add_argument("--rss-runs", type=int, default=21,
                    help="rounds under GNU time for peak RSS, after the timed ones (default 21)")
    ap.add_argument("--bin", default=os.environ.get("PHAEDO_BIN") or os.path.join(ROOT, "build", "install", "bin"),
                    help="directory of the installed phaedo-* programs (default build/install/bin or $PHAEDO_BIN)")
    ap.add_argument("--json", help="write all measurements to this file")
    args = ap.parse_args()

    runner_emulator.BIN = os.path.abspath(args.bin)
    runner_emulator.program("phaedo-run")  # fails early when not installed
    if not os.access(GNU_TIME, os.X_OK):
        raise Failed(f"{GNU_TIME} is missing (Debian package `time`; bench/run.sh host installs it)")

    root = tempfile.mkdtemp(prefix="phaedo-bench-host-")
    cgroup_root = f"/sys/fs/cgroup/pids/phaedo-bench-{os.getpid()}"
    profile = write_profile(root, cgroup_root)
    load_before = os.getloadavg()[0]
    rounds, rss_rounds = [], []
    try:
        for i in range(args.warmup + args.runs):
            sample = one_round(profile, 900000 + i, driver_first=(i % 2 == 0))
            if i >= args.warmup:
                rounds.append(sample)
            if (i + 1) % 20 == 0:
                print(f"round {i + 1}/{args.warmup + args.runs}", file=sys.stderr)
        for i in range(args.rss_runs):
            rss_rounds.append(one_round(profile, 950000 + i, driver_first=(i % 2 == 0), rss=True))
        leftovers = os.listdir(os.path.join(root, "work")) if os.path.isdir(os.path.join(root, "work")) else []
        if leftovers:
            raise Failed(f"cleanup left job directories: {leftovers}")
        result = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "machine": f"{os.cpu_count()} cores",
                  "runs": args.runs, "load_before": f"{load_before:.1f}", "load_after": f"{os.getloadavg()[0]:.1f}",
                  "rss_runs": args.rss_runs, "summary": summarize(rounds, rss_rounds)}
        print_report(result)
        if args.json:
            with open(args.json, "w") as fh:
                json.dump({**result, "rounds": rounds, "rss_rounds": rss_rounds}, fh, indent=1)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if os.path.isdir(cgroup_root):
            for entry in sorted(os.listdir(cgroup_root), reverse=True):
                path = os.path.join(cgroup_root, entry)
                if os.path.isdir(path):
                    try:
                        os.rmdir(path)
                    except OSError:
                        pass
            try:
                os.rmdir(cgroup_root)
            except OSError as e:
                print(f"could not remove {cgroup_root}: {e}", file=sys.stderr)


if __name__ == "__main__":
    try:
        main()
    except Failed as e:
        print(f"host_stages: {e}", file=sys.stderr)
        sys.exit(1)
