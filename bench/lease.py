#!/usr/bin/env python3
"""Benchmark: the kubernetes-node lease on the real loopback cluster (tests/cluster).

Everything goes through the installed stage programs, called as gitlab-runner calls
them (tests/protocol/runner_emulator.py), as the least-privilege driver identity:

  acquire   phaedo-prepare with a free node, against the baseline of the same
            prepare without a lease (host sandbox only), interleaved; the lease's
            share is the difference of the medians. Also the Lease object's own
            acquireTime minus the moment prepare started (the wait-free acquire).
  handoff   one node, job A holds it, job B waits in prepare; A's cleanup releases
            the node. Gap = B's acquire seen on a lease watch minus A's release seen
            on the same watch.
  teardown  phaedo-cleanup of a job that holds a node (namespace, identity, taint).
  churn     C contenders (threads) run prepare → cleanup cycles on the two GPU nodes
            until N cycles are done; a watch of leases and node taints counts double
            holds (a lease going from one holder straight to another, or two job
            taints on one node). Must be 0.

Usage: bench/lease.py [--runs 15] [--cycles 100] [--contenders 8] [--bin DIR]
                      [--cluster-env FILE] [--json FILE]
Starts its own cluster unless --cluster-env names the env file of a running one.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "protocol"))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
sys.path.insert(0, os.path.join(ROOT, "tests", "runner"))

import runner_emulator  # noqa: E402
from cluster_watch import ClusterWatch, holders_over_time  # noqa: E402
from runner_emulator import Job, Profile, job_payload  # noqa: E402
from smoke_test import DOWN_SH, UP_SH, find_binaries, parse_env_file  # noqa: E402

TAINT_KEY = "phaedo.dev/lease"


class Bench:
    def __init__(self, cluster, root):
        self.cluster, self.root = cluster, root
        self.next_id = 70000
        self.lock = threading.Lock()

    def profile(self, name, lease=True, selector="nvidia.com/gpu.present=true"):
        kube = (f'[kubernetes]\nkubeconfig = "{self.cluster["PHAEDO_K8S_DRIVER_KUBECONFIG"]}"\n'
                f'node_selector = ["{selector}"]\nlease_duration_s = 15\nwait_timeout_s = 600\n'
                f'lease_namespace = "{self.cluster["PHAEDO_K8S_LEASE_NAMESPACE"]}"\n')
        os.makedirs(os.path.join(self.root, name), exist_ok=True)
        return Profile(os.path.join(self.root, name), extra='lease = "kubernetes-node"' if lease else "",
                       host_extra=kube if lease else "")

    def job(self, profile):
        with self.lock:
            self.next_id += 1
            job_id = self.next_id
        job = Job(profile, job_payload(job_id, runner_id="77"))
        rc, _, err = job.config()
        if rc != 0:
            raise RuntimeError(f"config: {err}")
        return job

    @staticmethod
    def timed(call):
        """Runs one stage of a job (job.prepare or job.cleanup) as the runner would:
        it may wait for a node for a long time, and is never abandoned while running."""
        t0 = time.perf_counter()
        rc, _, err = call.__self__.call("phaedo-" + call.__name__, timeout=900)
        elapsed = time.perf_counter() - t0
        if rc != 0:
            raise RuntimeError(err[-2000:])
        return elapsed

    def lease_object(self, node):
        out = subprocess.run([os.path.join(self.cluster["PHAEDO_K8S_BIN"], "kubectl"), "get", "lease", node, "-n",
                              self.cluster["PHAEDO_K8S_LEASE_NAMESPACE"], "-o", "json"],
                             env=dict(os.environ, KUBECONFIG=self.cluster["PHAEDO_K8S_ADMIN_KUBECONFIG"]),
                             capture_output=True, text=True, check=True).stdout
        return json.loads(out)

    def watch(self):
        ns = self.cluster["PHAEDO_K8S_LEASE_NAMESPACE"]
        return ClusterWatch(self.cluster["PHAEDO_K8S_API_URL"], self.cluster["PHAEDO_K8S_CA"],
                            self.cluster["PHAEDO_K8S_ADMIN_TOKEN"],
                            [f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", "/api/v1/nodes"])

    # -- acquire and teardown ----------------------------------------------------------

    def acquire_and_teardown(self, runs):
        leased, plain = self.profile("acquire"), self.profile("plain", lease=False)
        prepare_lease, prepare_plain, cleanup_lease, cleanup_plain, create = [], [], [], [], []
        for i in range(runs):
            order = [True, False] if i % 2 == 0 else [False, True]
            for with_lease in order:
                job = self.job(leased if with_lease else plain)
                wall_start = time.time()
                p = self.timed(job.prepare)
                if with_lease:
                    held = [n for n in self.cluster["PHAEDO_K8S_GPU_NODES"].split(",")
                            if self.lease_object(n)["spec"].get("holderIdentity") == job.key]
                    acquired = self.lease_object(held[0])["spec"]["acquireTime"]
                    at = datetime.fromisoformat(acquired.replace("Z", "+00:00")).timestamp()
                    create.append(at - wall_start)
                c = self.timed(job.cleanup)
                (prepare_lease if with_lease else prepare_plain).append(p)
                (cleanup_lease if with_lease else cleanup_plain).append(c)
        return {"prepare_with_lease_s": prepare_lease, "prepare_without_lease_s": prepare_plain,
                "cleanup_with_lease_s": cleanup_lease, "cleanup_without_lease_s": cleanup_plain,
                "lease_acquire_time_after_start_s": create}

    # -- handoff -----------------------------------------------------------------------

    def handoff(self, runs):
        one = self.profile("handoff", selector="kubernetes.io/hostname=gpu-node-1")
        gaps = []
        for _ in range(runs):
            with self.watch() as watch:
                a = self.job(one)
                self.timed(a.prepare)
                b = self.job(one)
                waiting = threading.Thread(target=lambda: self.timed(b.prepare))
                waiting.start()
                time.sleep(3)  # B is waiting in prepare
                self.timed(a.cleanup)
                waiting.join(timeout=120)
                time.sleep(0.5)
                holders, _ = holders_over_time(watch.snapshot(), TAINT_KEY)
            timeline = holders["gpu-node-1"]
            released = [t for (t, h), (_, prev) in zip(timeline[1:], timeline) if prev == a.key and h is None]
            acquired = [t for t, h in timeline if h == b.key]
            gaps.append(acquired[0] - released[-1])
            self.timed(b.cleanup)
            print(f"lease.py: handoff {len(gaps)}: gap {gaps[-1] * 1000:.0f} ms", file=sys.stderr)
        return {"handoff_gap_s": gaps}

    # -- churn -------------------------------------------------------------------------

    def churn(self, cycles, contenders):
        profile = self.profile("churn")
        done, errors = [0], []

        def contender():
            while True:
                with self.lock:
                    if done[0] >= cycles:
                        return
                    done[0] += 1
                job = None
                try:
                    job = self.job(profile)
                    self.timed(job.prepare)
                except Exception as e:  # noqa: BLE001 - reported
                    errors.append(str(e)[-500:])
                finally:
                    if job is not None:  # the runner cleans up after every prepare attempt
                        try:
                            self.timed(job.cleanup)
                        except Exception as e:  # noqa: BLE001 - reported
                            errors.append(str(e)[-500:])

        with self.watch() as watch:
            t0 = time.perf_counter()
            threads = [threading.Thread(target=contender) for _ in range(contenders)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - t0
            time.sleep(0.5)
            holders, double_taints = holders_over_time(watch.snapshot(), TAINT_KEY)
        direct = sum(1 for timeline in holders.values()
                     for (_, a), (_, b) in zip(timeline, timeline[1:]) if a and b)
        acquisitions = sum(1 for timeline in holders.values() for _, h in timeline if h)
        return {"cycles": cycles, "contenders": contenders, "seconds": elapsed, "errors": errors,
                "acquisitions_seen": acquisitions, "double_holds": direct + len(double_taints),
                "watch_errors": watch.errors}


def median_ms(values):
    return f"{statistics.median(values) * 1000:.0f} ms" if values else "n/a"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--handoffs", type=int, default=10)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--contenders", type=int, default=8)
    parser.add_argument("--bin", default=os.environ.get("PHAEDO_BIN", os.path.join(ROOT, "build", "install", "bin")))
    parser.add_argument("--cluster-env")
    parser.add_argument("--json")
    args = parser.parse_args()
    os.environ["PHAEDO_BIN"] = args.bin
    runner_emulator.BIN = args.bin

    started = None
    if args.cluster_env:
        cluster = parse_env_file(args.cluster_env)
    else:
        env = dict(os.environ, PHAEDO_K8S_BIN=find_binaries())
        out = subprocess.run([UP_SH], env=env, capture_output=True, text=True, check=True).stdout
        cluster = parse_env_file(out.strip().splitlines()[-1])
        started = cluster["PHAEDO_CLUSTER_DIR"]
    root = tempfile.mkdtemp(prefix="phaedo-lease-bench-")
    try:
        bench = Bench(cluster, root)
        results = {}
        for phase, call in (("acquire/teardown", lambda: results.update(bench.acquire_and_teardown(args.runs))),
                            ("handoff", lambda: results.update(bench.handoff(args.handoffs))),
                            ("churn", lambda: results.update(churn=bench.churn(args.cycles, args.contenders)))):
            t0 = time.perf_counter()
            call()
            print(f"lease.py: {phase} measured in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if started:
            subprocess.run([DOWN_SH, started], capture_output=True, check=False)

    pl, pp = statistics.median(results["prepare_with_lease_s"]), statistics.median(results["prepare_without_lease_s"])
    cl, cp = statistics.median(results["cleanup_with_lease_s"]), statistics.median(results["cleanup_without_lease_s"])
    churn = results["churn"]
    print(f"acquire: prepare with lease {median_ms(results['prepare_with_lease_s'])}, without "
          f"{median_ms(results['prepare_without_lease_s'])} (lease share {(pl - pp) * 1000:.0f} ms, "
          f"ratio {pl / pp:.2f}); Lease acquireTime {median_ms(results['lease_acquire_time_after_start_s'])} "
          f"after prepare started  [medians of {args.runs}]")
    print(f"handoff gap: median {median_ms(results['handoff_gap_s'])}, max "
          f"{max(results['handoff_gap_s']) * 1000:.0f} ms  [{args.handoffs} handoffs]")
    print(f"teardown: cleanup with lease {median_ms(results['cleanup_with_lease_s'])}, without "
          f"{median_ms(results['cleanup_without_lease_s'])}  [medians of {args.runs}]")
    print(f"churn: {churn['cycles']} prepare/cleanup cycles, {churn['contenders']} contenders, 2 nodes: "
          f"{churn['seconds']:.1f} s, {churn['acquisitions_seen']} acquisitions seen on the watch, "
          f"double holds {churn['double_holds']}, errors {len(churn['errors'])}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0 if churn["double_holds"] == 0 and not churn["errors"] else 1


if __name__ == "__main__":
    sys.exit(main())
