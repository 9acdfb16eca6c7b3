#!/usr/bin/env python3
"""Benchmark (issue 5): rebuilding the same multi-layer image in a NEW job, through the job's
scoped Docker API in front of the host daemon's warm layer cache, against a cold daemon (what
docker-in-docker gives every job).

Warm run = one job through the installed stage programs (tests/protocol/runner_emulator.py,
a docker-sandbox profile with docker_api = "scoped", the offline docker-CLI job image):
phaedo-config, phaedo-prepare, one phaedo-run whose script writes the Dockerfile and runs
`docker build` with the docker CLI inside the job container, phaedo-cleanup (which removes the
image the job built and keeps the layers). The build is timed from the lines the script prints
around it (phaedo-run streams output as it arrives); the whole job is timed too.

Cold run = a second dockerd started for the run with an empty --data-root, its own --exec-root,
--pidfile and unix socket under /tmp, `--bridge=none --iptables=false --ip-masq=false`, the host
daemon's storage driver and its own containerd namespace; then, with the docker CLI against it,
`docker login` + `docker pull` of the base image from the local registry (how a dind job gets
it) and the same `docker build`. Timed: daemon start (to /_ping), pull, build. The daemon is
stopped and its data root removed after each run.

Both sides build the same Dockerfile with the legacy builder (DOCKER_BUILDKIT=0): FROM a base
image (busybox plus a 200 MiB "toolchain" layer) pushed to a local Debian docker-registry on
127.0.0.1 with htpasswd, a builder stage with three RUN layers (64 MiB of "dependencies", a
CPU-bound "compile", the binary), a final stage copying the binary. Runs interleave (order
alternates each round), one warm-up job first (not counted). Medians, ratio of medians.

Usage: bench/scoped_build.py --bin DIR [--runs 5] [--json FILE]
Everything it creates is named phaedo-bench-* / labelled phaedo.io/runner=<bench id>, and removed.
"""

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "dockerscope"))
sys.path.insert(0, os.path.join(REPO, "tests", "dockersandbox"))
sys.path.insert(0, os.path.join(REPO, "tests", "protocol"))

BENCH_ID = f"pbench{os.getpid()}"


def sh(*args, env=None, check=True, timeout=900, input=None):
    r = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout, input=input)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()[-2000:]}")
    return r


def dockerfile(base):
    return (f"FROM {base} AS builder\n"
            "RUN mkdir -p /src && dd if=/dev/urandom of=/src/vendor.bin bs=1M count=64 2>/dev/null\n"
            "RUN for i in 1 2 3 4 5 6 7 8; do sha256sum /src/vendor.bin; md5sum /src/vendor.bin; done > /src/objects\n"
            "RUN printf '#!/bin/sh\\necho device plugin %s\\n' \"$(head -c 12 /src/objects)\" > /src/plugin"
            " && chmod 755 /src/plugin\n"
            f"FROM {base}\n"
            "COPY --from=builder /src/plugin /usr/bin/plugin\n"
            'CMD ["/usr/bin/plugin"]\n')


class ColdDaemon:
    """A second dockerd with an empty data root: what docker-in-docker gives each job."""

    def __init__(self, n, driver):
        self.dir = tempfile.mkdtemp(prefix=f"phaedo-bench-cold{n}-", dir="/var/tmp")
        self.run = tempfile.mkdtemp(prefix=f"pbc{n}-", dir="/tmp")  # short: socket paths
        self.socket = os.path.join(self.run, "docker.sock")
        self.driver = driver
        self.proc = None

    def start(self):
        t0 = time.monotonic()
        self.log = open(os.path.join(self.dir, "dockerd.log"), "wb")
        config = os.path.join(self.dir, "daemon.json")  # not the host daemon's /etc/docker/daemon.json
        with open(config, "w") as f:
            f.write("{}\n")
        self.proc = subprocess.Popen(
            ["dockerd", "--config-file", config, "--data-root", os.path.join(self.dir, "data"), "--exec-root", os.path.join(self.run, "x"),
             "--pidfile", os.path.join(self.run, "dockerd.pid"), "-H", "unix://" + self.socket,
             "--bridge=none", "--iptables=false", "--ip-masq=false", "--storage-driver", self.driver,
             "--containerd-namespace", BENCH_ID + "-cold", "--containerd-plugins-namespace", BENCH_ID + "-coldp"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        while True:
            r = subprocess.run(["curl", "-sf", "--unix-socket", self.socket, "http://d/_ping"], capture_output=True)
            if r.returncode == 0:
                return time.monotonic() - t0
            if self.proc.poll() is not None or time.monotonic() - t0 > 60:
                raise RuntimeError("cold dockerd did not start: " + open(self.log.name).read()[-2000:])
            time.sleep(0.05)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        # Mounts a killed daemon may have left under its roots.
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for m in sorted(mounts, key=len, reverse=True):
            if m.startswith(self.dir) or m.startswith(self.run):
                subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.run, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.environ.get("PHAEDO_BIN", os.path.join(REPO, "build", "install", "bin")))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    os.environ["PHAEDO_BIN"] = args.bin

    import runner_emulator
    runner_emulator.BIN = args.bin
    import docker_env
    import registry_env
    import scoped_env
    from runner_emulator import Job, job_payload

    why = scoped_env.problem() or registry_env.problem()
    if why:
        sys.exit(f"scoped_build: missing peer: {why}")
    driver = sh("docker", "info", "--format", "{{.Driver}}").stdout.strip()
    registry = registry_env.Registry().start()
    root = tempfile.mkdtemp(prefix="pbs-")
    client_cfg = os.path.join(registry.root, "client")
    base = f"{registry.host}/phaedo/bench-base:1"
    results = {"warm_build": [], "warm_job": [], "cold_start": [], "cold_pull": [], "cold_build": []}
    try:
        # The base image: a toolchain-sized layer on busybox, in the registry and (as on any
        # host that ran such jobs before) in the host daemon.
        with tempfile.TemporaryDirectory() as ctx:
            with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                f.write(f"FROM {docker_env.IMAGE}\nRUN dd if=/dev/urandom of=/opt-toolchain bs=1M count=200 2>/dev/null\n"
                        f"LABEL phaedo.io/runner={BENCH_ID}\n")
            sh("docker", "build", "-q", "--network", "none", "-t", base, ctx, env=dict(os.environ, DOCKER_BUILDKIT="0"))
        registry.docker_cli("push", base)
        profile = scoped_env.ScopedProfile(root, memory="1g", runner_id=BENCH_ID)
        script = ("mkdir -p /builds/ctx && cat > /builds/ctx/Dockerfile <<'PHAEDO_EOF'\n" + dockerfile(base) +
                  "PHAEDO_EOF\n" + f"echo '{registry_env.PASSWORD}' | docker login {registry.host} -u "
                  f"{registry_env.USER} --password-stdin >/dev/null 2>&1\n"
                  "echo BUILD-START\ndocker build -t phaedo-bench/plugin:1 /builds/ctx\necho BUILD-END\n")
        job_no = [int(time.time()) % 100000 * 10]

        def warm():
            job_no[0] += 1
            payload = job_payload(job_no[0], runner_id=BENCH_ID)
            payload["image"] = {"name": scoped_env.CLI_IMAGE}
            job = Job(profile, payload)
            t0 = time.monotonic()
            rc, _, err = job.config()
            assert rc == 0, err
            rc, _, err = job.prepare()
            assert rc == 0, err
            p = job.start_run(script)
            start = end = None
            out = []
            for raw in p.stdout:
                line = raw.decode(errors="replace")
                out.append(line)
                if line == "BUILD-START\n":
                    start = time.monotonic()
                elif line == "BUILD-END\n":
                    end = time.monotonic()
            p.wait()
            err = p.stderr.read().decode()
            p.stdout.close()
            p.stderr.close()
            assert p.returncode == 0 and start and end, "".join(out) + err
            rc, out2, err = job.cleanup()
            assert rc == 0, out2 + err
            total = time.monotonic() - t0
            job.remove()
            assert scoped_env.leftovers(profile, job.key) == {}, scoped_env.leftovers(profile, job.key)
            hits = "".join(out).count("Using cache")
            return end - start, total, hits

        def cold(n):
            d = ColdDaemon(n, driver)
            try:
                started = d.start()
                env = dict(os.environ, DOCKER_HOST="unix://" + d.socket, DOCKER_CONFIG=client_cfg, DOCKER_BUILDKIT="0")
                t0 = time.monotonic()
                sh("docker", "pull", "-q", base, env=env)
                pulled = time.monotonic() - t0
                with tempfile.TemporaryDirectory() as ctx:
                    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
                        f.write(dockerfile(base))
                    t0 = time.monotonic()
                    r = sh("docker", "build", "--network", "none", "-t", "phaedo-bench/plugin:1", ctx, env=env)
                    built = time.monotonic() - t0
                assert "Using cache" not in r.stdout
                return started, pulled, built
            finally:
                d.stop()

        b, t, hits = warm()  # warm-up: the host builds it once, as earlier jobs would have
        print(f"warm-up job: build {b:.2f} s, job {t:.2f} s, {hits} cache hits", flush=True)
        for i in range(args.runs):
            order = ("warm", "cold") if i % 2 == 0 else ("cold", "warm")
            for side in order:
                if side == "warm":
                    b, t, hits = warm()
                    results["warm_build"].append(b)
                    results["warm_job"].append(t)
                    print(f"run {i + 1} warm: build {b:.2f} s ({hits} cache hits), whole job {t:.2f} s", flush=True)
                else:
                    s, p, b = cold(i)
                    results["cold_start"].append(s)
                    results["cold_pull"].append(p)
                    results["cold_build"].append(b)
                    print(f"run {i + 1} cold: dockerd start {s:.2f} s, pull {p:.2f} s, build {b:.2f} s", flush=True)
        med = {k: statistics.median(v) for k, v in results.items()}
        cold_pb = statistics.median([p + b for p, b in zip(results["cold_pull"], results["cold_build"])])
        cold_all = statistics.median([s + p + b for s, p, b in
                                      zip(results["cold_start"], results["cold_pull"], results["cold_build"])])
        summary = {
            "runs": args.runs, "storage_driver": driver, "medians_s": med,
            "cold_pull_plus_build_s": cold_pb, "cold_start_pull_build_s": cold_all,
            "ratio_pull_build_vs_warm_build": cold_pb / med["warm_build"],
            "ratio_with_daemon_start": cold_all / med["warm_build"],
            "ratio_vs_whole_warm_job": cold_pb / med["warm_job"],
            "raw_s": results,
        }
        print(json.dumps({k: v for k, v in summary.items() if k != "raw_s"}, indent=2))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(summary, f, indent=2)
    finally:
        docker_env.remove_run_leftovers(BENCH_ID)
        sh("docker", "rmi", base, check=False)
        sh("docker", "rmi", "phaedo-bench/plugin:1", check=False)
        registry.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
