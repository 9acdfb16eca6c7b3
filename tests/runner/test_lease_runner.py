"""lease = "kubernetes-node" driven by the real gitlab-runner, on the real loopback cluster.

The stage programs run with the [runners.custom] settings of the phaedo-cnl-server entry
of runner-config/config.toml.example (paths rewritten to the test install and a test
profile that points at the cluster as the least-privilege driver identity).

EndToEnd: the Phaedo GPU test stage (tests/runner/jobs/phaedo_gpu_test.sh) succeeds
          and the cluster is as before.
SixJobs:  six concurrent jobs, two GPU nodes: every job completes, and a watch of the
          leases and node taints shows no node with two holders, ever.
Crash:    the runner and the driver are killed with SIGKILL mid-job; reap leaves the
          live lease alone, and once it has expired `phaedo-admin reap` — or the next
          job's prepare — restores the node.

Environment: PHAEDO_BIN, PHAEDO_CLUSTER_ENV or PHAEDO_K8S_BIN (see tests/lease);
CI=true turns a missing peer into a failure.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import harness
from cluster_watch import ClusterWatch, holders_over_time
from fake_gitlab import FakeGitLab

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lease"))
import test_stage_lease as lease_env  # noqa: E402  (cluster start/stop, kubectl, cluster_state)
from test_stage_lease import CLUSTER, cluster_state, kubectl, lease, renewer_pids  # noqa: E402
from runner_emulator import process_files  # noqa: E402

setUpModule = lease_env.setUpModule
tearDownModule = lease_env.tearDownModule

GPU_TEST = REPO / "tests" / "runner" / "jobs" / "phaedo_gpu_test.sh"
TAINT_KEY = "phaedo.dev/lease"


def processes_with(needle: bytes, where: str = "cmdline"):
    return [pid for pid, data in process_files(where) if needle in data]


class LeaseRunnerTest(unittest.TestCase):
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.runner_bin = harness.require_runner()
        cls.bin_dir = harness.installed_programs()

    def setUp(self):
        if not CLUSTER:
            self.fail("no cluster")
        LeaseRunnerTest.counter += 1
        self.root = Path(tempfile.mkdtemp(prefix="phaedo-lrt-"))
        self.runner_id = f"{os.getpid() % 100000}{LeaseRunnerTest.counter}"
        self.cgroup_root = f"/sys/fs/cgroup/pids/phaedo-lrt-{self.runner_id}"
        self.kubectl = os.path.join(CLUSTER["PHAEDO_K8S_BIN"], "kubectl")
        self.profile = self.write_profile()

    def tearDown(self):
        # Whatever a failed test left: the lease side by node, the host side by job.
        for node in CLUSTER["PHAEDO_K8S_GPU_NODES"].split(","):
            held = lease(node)
            if held and (held["spec"].get("holderIdentity") or "").startswith(f"r{self.runner_id}-"):
                self.admin("release", node)
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            os.rmdir(self.cgroup_root)
        except OSError:
            pass

    def write_profile(self, selector="nvidia.com/gpu.present=true", name="cnl-test.toml"):
        path = self.root / name
        path.write_text(
            f'name = "cnl-test"\nsandbox = "host"\nlease = "kubernetes-node"\nshell = "bash"\n'
            f'runner_id = "{self.runner_id}"\nstate_dir = "{self.root}/state"\nkill_grace_ms = 1500\n'
            f'[host]\nwork_root = "{self.root}/work"\ncache_dir = "{self.root}/cache"\n'
            f'cgroup_root = "{self.cgroup_root}"\n'
            f'[kubernetes]\nkubeconfig = "{CLUSTER["PHAEDO_K8S_DRIVER_KUBECONFIG"]}"\n'
            f'node_selector = ["{selector}"]\nlease_namespace = "{CLUSTER["PHAEDO_K8S_LEASE_NAMESPACE"]}"\n'
            'lease_duration_s = 10\nwait_timeout_s = 600\nteardown_timeout_s = 180\n'
            'allowed_cluster_kinds = ["admissionregistration.k8s.io/mutatingwebhookconfigurations"]\n'
            f'taint_key = "{TAINT_KEY}"\n')
        return path

    def admin(self, *args, profile=None):
        return subprocess.run([str(self.bin_dir / "phaedo-admin"), "--profile", str(profile or self.profile), *args],
                              capture_output=True, text=True, timeout=300)

    def gpu_job(self, hold_seconds=0, name="gpu-test"):
        return {"job_info": {"name": name, "stage": "test"},
                "variables": [{"key": "KUBECTL", "value": self.kubectl, "public": True},
                              {"key": "PHAEDO_HOLD_SECONDS", "value": str(hold_seconds), "public": True}],
                "steps": [{"name": "script", "script": [f"bash {GPU_TEST}"]}]}

    def runner(self, fake, profile=None, **kwargs):
        return harness.RunnerProcess(fake, harness.example_executor("phaedo-cnl-server", self.bin_dir,
                                                                    profile or self.profile),
                                     binary=self.runner_bin, **kwargs)

    def assert_succeeded(self, job, final):
        self.assertEqual(final.state, "success", job.trace_text[-4000:])
        self.assertIn("tensorflow-gpu Succeeded on", job.trace_text)

    def lease_interval(self, job):
        found = re.findall(r"^LEASE (\S+) ([0-9.]+) ([0-9.]+)\r?$", job.trace_text, re.M)
        self.assertTrue(found, job.trace_text[-3000:])
        node, start, end = found[-1]
        return node, float(start), float(end)


class EndToEnd(LeaseRunnerTest):
    def test_phaedo_gpu_test_stage_through_the_runner_leaves_the_cluster_as_before(self):
        before = cluster_state()
        with FakeGitLab() as fake:
            job = fake.enqueue(self.gpu_job())
            with self.runner(fake) as runner:
                final = runner.wait_job(job, timeout=400)
            self.assertEqual(fake.errors, [])
        self.assert_succeeded(job, final)
        node, _, _ = self.lease_interval(job)
        self.assertIn(f"tensorflow-gpu Succeeded on {node}", job.trace_text)
        self.assertIn("phaedo: ", job.trace_text)
        self.assertEqual(cluster_state(), before)
        self.assertEqual(renewer_pids(f"r{self.runner_id}-j{job.id}"), [])
        jobs_dir = self.root / "state" / "jobs"
        self.assertEqual(list(jobs_dir.iterdir()) if jobs_dir.exists() else [], [], "journals left behind")


class SixJobs(LeaseRunnerTest):
    def test_six_jobs_on_two_nodes_never_share_a_node(self):
        before = cluster_state()
        ns = CLUSTER["PHAEDO_K8S_LEASE_NAMESPACE"]
        token = CLUSTER["PHAEDO_K8S_ADMIN_TOKEN"]
        paths = [f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases", "/api/v1/nodes"]
        with ClusterWatch(CLUSTER["PHAEDO_K8S_API_URL"], CLUSTER["PHAEDO_K8S_CA"], token, paths) as watch:
            with FakeGitLab() as fake:
                jobs = [fake.enqueue(self.gpu_job(hold_seconds=2, name=f"gpu-test-{i}")) for i in range(6)]
                with self.runner(fake, mode="run", concurrent=6, max_builds=6) as runner:
                    finals = [runner.wait_job(job, timeout=900) for job in jobs]
                self.assertEqual(fake.errors, [])
            time.sleep(1)  # the last release reaches the watch
        self.assertEqual(watch.errors, [])
        for job, final in zip(jobs, finals):
            self.assert_succeeded(job, final)

        # The jobs' own view: no two intervals on one node overlap.
        intervals = sorted(self.lease_interval(job) for job in jobs)
        nodes_used = {node for node, _, _ in intervals}
        self.assertEqual(nodes_used, set(CLUSTER["PHAEDO_K8S_GPU_NODES"].split(",")))
        for (n1, _, end1), (n2, start2, _) in zip(intervals, intervals[1:]):
            if n1 == n2:
                self.assertLessEqual(end1, start2, f"two jobs held {n1} at once: {intervals}")

        # The cluster's view: a holder gives way only to nobody, and never two taints.
        holders, double_taints = holders_over_time(watch.snapshot(), TAINT_KEY)
        self.assertEqual(double_taints, [])
        ours = f"r{self.runner_id}-"
        seen = set()
        for node, timeline in holders.items():
            sequence = [h for _, h in timeline]
            for a, b in zip(sequence, sequence[1:]):
                if a is not None and b is not None:
                    self.fail(f"{node} went from holder {a} straight to {b}: {sequence}")
            seen |= {h for h in sequence if h and h.startswith(ours)}
        self.assertEqual(seen, {f"r{self.runner_id}-j{job.id}" for job in jobs})
        self.assertEqual(cluster_state(), before)


class Crash(LeaseRunnerTest):
    def crash_mid_job(self, profile):
        """Starts a job that holds gpu-node-1, then SIGKILLs the runner, every driver
        process (stages and renewer) and the job's script. Returns the job key."""
        fake = FakeGitLab().__enter__()
        self.addCleanup(fake.__exit__, None, None, None)
        job = fake.enqueue({"job_info": {"name": "doomed"},
                            "steps": [{"name": "script", "script": ['echo "holding-$((6*7)) $PHAEDO_LEASE_NODE"',
                                                                    "sleep 600"]}]})
        runner = self.runner(fake, profile=profile).start()
        self.addCleanup(runner.close)
        deadline = time.monotonic() + 240
        while "holding-42" not in job.trace_text:
            self.assertTrue(runner.running(), runner.log_text()[-3000:])
            self.assertLess(time.monotonic(), deadline, "the job never started its script")
            time.sleep(0.2)
        key = f"r{self.runner_id}-j{job.id}"
        self.assertIn("holding-42 gpu-node-1", job.trace_text)
        self.assertEqual(len(renewer_pids(key)), 1)
        victims = (processes_with(str(profile).encode()) + processes_with(f"PHAEDO_LEASE_JOB={key}".encode(), "environ"))
        os.killpg(runner.proc.pid, signal.SIGKILL)
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        runner.proc.wait(10)
        time.sleep(0.5)
        self.assertEqual(renewer_pids(key), [])
        held = lease("gpu-node-1")
        self.assertEqual(held["spec"]["holderIdentity"], key)
        return key

    def release_dead_job(self, key, profile, cluster_before, host_side_left=True):
        """The killed job's host side (journal, cgroup) stays until the job's own expiry
        (timeout + 15 min); `release` removes it now, and leaves the cluster alone."""
        self.assertEqual(os.path.isdir(os.path.join(self.cgroup_root, key)), host_side_left)
        rel = self.admin("release", key, profile=profile)
        self.assertEqual(rel.returncode, 0, rel.stdout + rel.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.cgroup_root, key)), "the dead job's cgroup remains")
        self.assertEqual(cluster_state(), cluster_before)

    def node_taints(self, node="gpu-node-1"):
        taints = lease_env.items("nodes", "--field-selector", f"metadata.name={node}")[0]["spec"].get("taints", [])
        return [t for t in taints if t["key"] == TAINT_KEY]

    def test_reap_leaves_a_live_lease_alone_and_restores_the_node_once_it_has_expired(self):
        before = cluster_state()
        profile = self.write_profile(selector="kubernetes.io/hostname=gpu-node-1", name="pinned.toml")
        key = self.crash_mid_job(profile)
        # Within the lease duration the job might still be alive somewhere: hands off.
        reap = self.admin("reap", profile=profile)
        self.assertEqual(reap.returncode, 0, reap.stderr)
        self.assertEqual(lease("gpu-node-1")["spec"]["holderIdentity"], key)
        self.assertEqual([t["value"] for t in self.node_taints()], [key])
        time.sleep(11)  # lease_duration_s = 10 since the last renewal
        reap = self.admin("reap", profile=profile)
        self.assertEqual(reap.returncode, 0, reap.stdout + reap.stderr)
        self.assertIn("gpu-node-1", reap.stdout + reap.stderr)
        self.assertEqual(self.node_taints(), [])
        self.assertEqual(cluster_state(), before)
        self.release_dead_job(key, profile, before)

    def test_the_next_job_takes_the_node_over_after_finishing_the_dead_jobs_teardown(self):
        before = cluster_state()
        profile = self.write_profile(selector="kubernetes.io/hostname=gpu-node-1", name="pinned.toml")
        dead = self.crash_mid_job(profile)
        with FakeGitLab() as fake:
            job = fake.enqueue(self.gpu_job())
            with self.runner(fake, profile=profile) as runner:
                final = runner.wait_job(job, timeout=400)
        self.assert_succeeded(job, final)
        self.assertIn("tensorflow-gpu Succeeded on gpu-node-1", job.trace_text)
        self.assertIn(dead, job.trace_text)  # the wait lines name the expired holder
        self.assertEqual(cluster_state(), before)
        # The next job got the same key (a new fake GitLab numbers jobs from 1000 again), so
        # its prepare already removed the dead one's leftovers; release is then a no-op.
        self.release_dead_job(dead, profile, before, host_side_left=False)


if __name__ == "__main__":
    unittest.main()
