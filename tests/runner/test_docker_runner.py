"""sandbox = "docker" driven by the real gitlab-runner against the fake GitLab.

The stage programs run with the [runners.custom] settings of the nimbus entry of
runner-config/config.toml.example (paths rewritten to the test install and a test
profile), shell "sh", in the offline busybox test image. The fake GitLab listens on
the gateway address of a bridge network (docker0's, or one this test creates when the
daemon has no default bridge address), so the runner binary bound into the job
container (docker.runner_binary) reaches it for artifacts just as the runner on the
host does: the host answers on a bridge gateway address from any bridge network.
Each test has its own runner id (profile runner_id), so its job keys and labels are
its own even though every fake numbers jobs from 1000.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import harness
from fake_gitlab import FakeGitLab
from job_payload import load_fixture

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "dockersandbox"))

import docker_env  # noqa: E402
from docker_env import IMAGE, docker, labelled  # noqa: E402

setUpModule = docker_env.require_daemon


def gateway_of(network):
    for entry in json.loads(docker("network", "inspect", network).stdout)[0]["IPAM"]["Config"] or []:
        if entry.get("Gateway"):
            return entry["Gateway"]
    return None


def bridge_gateway():
    """A host address on a bridge, reachable from containers on any bridge network:
    docker0's, else the gateway of a network of our own (returned second, to remove)."""
    gateway = gateway_of("bridge")
    if gateway is None:
        out = subprocess.run(["ip", "-4", "-o", "addr", "show", "docker0"], capture_output=True, text=True).stdout
        if "inet " in out:
            gateway = out.split("inet ", 1)[1].split("/", 1)[0]
    if gateway is not None:
        return gateway, None
    name = f"phaedo-test-gw-{docker_env.run_id()}"
    docker("network", "create", "--label", f"phaedo.io/test-run={docker_env.run_id()}", name)
    return gateway_of(name), name


class DockerRunnerTest(unittest.TestCase):
    counter = 0

    @classmethod
    def setUpClass(cls):
        cls.runner_bin = harness.require_runner()
        cls.bin_dir = harness.installed_programs()
        cls.gateway, cls.gateway_network = bridge_gateway()

    @classmethod
    def tearDownClass(cls):
        if cls.gateway_network:
            docker("network", "rm", cls.gateway_network, check=False)

    def setUp(self):
        DockerRunnerTest.counter += 1
        self.runner_id = f"{docker_env.run_id()}x{DockerRunnerTest.counter}"
        self.root = Path(tempfile.mkdtemp(prefix="phaedo-drt-"))
        self.profile = self.write_profile()

    def tearDown(self):
        docker_env.remove_run_leftovers(self.runner_id)
        shutil.rmtree(self.root, ignore_errors=True)

    def write_profile(self, docker_extra=""):
        path = self.root / "nimbus-test.toml"
        path.write_text(
            f'name = "nimbus-test"\nsandbox = "docker"\nshell = "sh"\nrunner_id = "{self.runner_id}"\n'
            f'state_dir = "{self.root}/state"\nkill_grace_ms = 1500\n'
            f'[docker]\ndefault_image = "{IMAGE}"\nallowed_images = ["phaedo-test/*"]\n'
            f'pull_policy = "never"\nmemory = "256m"\npids_limit = 256\ncpus = 1\n'
            f'runner_binary = "{self.runner_bin}"\n{docker_extra}\n')
        return path

    def run_jobs(self, *fixtures, timeout=120, dependencies=None):
        with FakeGitLab(host=self.gateway) as fake:
            jobs = []
            for f in fixtures:
                f = {"image": {"name": IMAGE}, **load_fixture(f)}
                deps = [jobs[i] for i in (dependencies or {}).get(len(jobs), [])]
                jobs.append(fake.enqueue(f, dependencies=deps))
            with harness.RunnerProcess(fake, harness.example_executor("phaedo-nimbus", self.bin_dir, self.profile), binary=self.runner_bin,
                                       shell="sh", max_builds=len(jobs)) as runner:
                finals = [runner.wait_job(job, timeout=timeout) for job in jobs]
            self.assertEqual(fake.errors, [], "the fake noticed protocol violations")
        return jobs, finals

    def key(self, job):
        return f"r{self.runner_id}-j{job.id}"

    def assert_nothing_left(self, job):
        for kind in ("container", "network", "volume"):
            self.assertEqual(labelled(kind, self.key(job)), [], f"{kind}s labelled with {self.key(job)} remain")
        jobs_dir = self.root / "state" / "jobs"
        self.assertEqual(list(jobs_dir.iterdir()) if jobs_dir.exists() else [], [], "journals left behind")

    def output_lines(self, job):
        return [line for line in job.trace_lines() if not line.startswith("$")]


class Outcomes(DockerRunnerTest):
    def test_success_output_reaches_the_trace(self):
        (job,), (final,) = self.run_jobs({"steps": [{"name": "script", "script": [
            'echo "hello from $((40 + 2)) in $(hostname)"', "pwd"]}]})
        self.assertEqual(final.state, "success", job.trace_text)
        self.assertIn(f"hello from 42 in phaedo-{self.key(job)}", job.trace_text)
        self.assertIn("/builds", job.trace_text)
        self.assertTrue(final.checksum_ok)
        self.assert_nothing_left(job)

    def test_exit_7_is_a_script_failure_with_its_code(self):
        (job,), (final,) = self.run_jobs("exit_7.json")
        self.assertEqual((final.state, final.failure_reason, final.exit_code), ("failed", "script_failure", 7))
        self.assertIn("about to fail 7", job.trace_text)
        self.assert_nothing_left(job)


class Cancel(DockerRunnerTest):
    def test_graceful_cancel_runs_after_script_and_leaves_nothing(self):
        (job,), (final,) = self.run_jobs("sleep_cancel.json")
        self.assertEqual((final.state, final.failure_reason), ("failed", "job_canceled"))
        self.assertIn("after-script ran status=canceled", job.trace_text)
        self.assertNotIn("not reached 2", "\n".join(self.output_lines(job)))
        self.assert_nothing_left(job)

    def test_job_timeout(self):
        t0 = time.monotonic()
        (job,), (final,) = self.run_jobs("timeout.json")
        self.assertEqual((final.state, final.failure_reason), ("failed", "job_execution_timeout"))
        self.assertLess(time.monotonic() - t0, 60)
        self.assert_nothing_left(job)


class Artifacts(DockerRunnerTest):
    def test_upload_then_download_through_the_bound_runner_binary(self):
        (up, down), (up_final, down_final) = self.run_jobs(
            "artifacts_upload.json", "artifacts_download.json", dependencies={1: [0]})
        self.assertEqual(up_final.state, "success", up.trace_text)
        self.assertTrue(up.artifacts, "the fake stored no artifact")
        self.assertEqual(down_final.state, "success", down.trace_text)
        self.assertIn("payload 42", self.output_lines(down))
        self.assert_nothing_left(up)
        self.assert_nothing_left(down)


class Services(DockerRunnerTest):
    def test_service_is_reachable_by_alias_and_by_its_name(self):
        (job,), (final,) = self.run_jobs({
            "services": [{"name": IMAGE, "alias": "web", "command": ["httpd", "-f", "-p", "8080", "-h", "/etc"]}],
            "steps": [{"name": "script", "script": [
                "for host in web phaedo-test__busybox phaedo-test-busybox; do "
                "i=0; until printf 'GET /group HTTP/1.0\\r\\n\\r\\n' | nc $host 8080 > reply 2>/dev/null "
                "&& grep -q nogroup reply; do i=$((i+1)); [ $i -lt 50 ] || exit 3; sleep 0.1; done; "
                'echo "served-by-$host"; done']}]})
        self.assertEqual(final.state, "success", job.trace_text)
        out = self.output_lines(job)
        for host in ("web", "phaedo-test__busybox", "phaedo-test-busybox"):
            self.assertIn(f"served-by-{host}", out)
        self.assertIn("started service", job.trace_text)
        self.assert_nothing_left(job)

    def test_disallowed_service_image_fails_the_job(self):
        (job,), (final,) = self.run_jobs({
            "services": [{"name": "evil/miner:1"}],
            "steps": [{"name": "script", "script": ["echo never-runs"]}]})
        self.assertEqual(final.state, "failed")
        self.assertIn("evil/miner:1", job.trace_text)
        self.assertIn("docker.allowed_images", job.trace_text)
        self.assertNotIn("never-runs", "\n".join(self.output_lines(job)))
        self.assert_nothing_left(job)


if __name__ == "__main__":
    unittest.main()
