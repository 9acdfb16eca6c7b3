"""docker_api = "scoped" through the real gitlab-runner (tests/runner harness, fake GitLab):
job one builds the multi-stage image with the docker CLI in its container and pushes it to
a real registry (Debian's docker-registry on 127.0.0.1); job two pulls and runs it, then
rebuilds the same Dockerfile from the cached layers. Nothing of either job remains.
"""

import os
import re
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "runner"))
sys.path.insert(0, str(HERE.parent / "dockersandbox"))

import scoped_env  # noqa: E402
import test_docker_runner  # noqa: E402
from scoped_env import CLI_IMAGE, docker, image_present, proxy_pids  # noqa: E402
from test_scoped_sandbox import DOCKERFILE  # noqa: E402


def setUpModule():
    scoped_env.require_peers()


class ScopedRunner(test_docker_runner.DockerRunnerTest):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = scoped_env.start_registry()
        registry_env = scoped_env.registry_env
        cls.login = (f"echo '{registry_env.PASSWORD}' | docker login {cls.registry.host} "
                     f"-u {registry_env.USER} --password-stdin")

    @classmethod
    def tearDownClass(cls):
        cls.registry.stop()

    def write_profile(self, docker_extra=""):
        return super().write_profile(docker_extra + '\ndocker_api = "scoped"\n')

    def run_scoped(self, *fixtures, **kw):
        fixtures = [{"image": {"name": CLI_IMAGE}, **f} for f in fixtures]
        jobs, finals = [], []
        for f in fixtures:  # one at a time: job two needs job one's push
            (job,), (final,) = self.run_jobs(f, **kw)
            jobs.append(job)
            finals.append(final)
        return jobs, finals

    def assert_scope_gone(self, job):
        self.assert_nothing_left(job)
        key = self.key(job)
        self.assertEqual(proxy_pids(self.root / "state", key), [], "proxy left running")
        self.assertFalse(os.path.exists(scoped_env.scope_dir(self.root / "state", key)), "socket dir left")

    def test_build_push_then_pull_run_and_rebuild_from_cache(self):
        ref = f"{self.registry.host}/phaedo/runner-plugin:{self.runner_id}"
        make = ["mkdir -p ctx", f"cat > ctx/Dockerfile <<'EOF'\n{DOCKERFILE}EOF"]
        (one,), (f1,) = self.run_scoped({"steps": [{"name": "script", "script": [
            *make, self.login, f"docker build -t {ref} ctx", f"docker push {ref}"]}]}, timeout=300)
        self.assertEqual(f1.state, "success", one.trace_text)
        self.assertIn("Successfully tagged " + ref, one.trace_text)
        self.assert_scope_gone(one)
        self.assertFalse(image_present(ref), "job one's tag is gone after its cleanup")

        (two,), (f2,) = self.run_scoped({"steps": [{"name": "script", "script": [
            self.login, f"docker pull {ref}", f"docker run --rm {ref}", *make,
            f"docker build -t {ref}-again ctx"]}]}, timeout=300)
        self.assertEqual(f2.state, "success", two.trace_text)
        self.assertIn("device-plugin built in stage one", two.trace_text)
        self.assertGreaterEqual(len(re.findall("Using cache", two.trace_text)), 4, two.trace_text)
        self.assert_scope_gone(two)
        self.assertFalse(image_present(f"{ref}-again"))
        docker("rmi", ref, check=False)


if __name__ == "__main__":
    unittest.main()
