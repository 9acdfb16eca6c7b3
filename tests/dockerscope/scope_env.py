"""Harness for the scoped Docker API tests: real daemon, real docker CLI, the built proxy.

Every object a test creates is named with the run's prefix and labelled; cleanup removes
exactly those. Without a usable daemon the tests skip, or fail when CI=true.
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

PROXY = os.environ.get("PHAEDO_DOCKERSCOPE", "phaedo-dockerscope")
DOCKER = os.environ.get("PHAEDO_DOCKER_CLI", "/usr/bin/docker")
HOST_SOCKET = os.environ.get("PHAEDO_TEST_DOCKER_SOCKET", "/var/run/docker.sock")
IMAGE = "phaedo-test/busybox:1"
TEST_LABEL = "phaedo.io/test"
RUN = "phs%06x" % (uuid.uuid4().int & 0xFFFFFF)  # prefix of every name this run creates


def daemon_problem():
    if not os.path.exists(HOST_SOCKET):
        return HOST_SOCKET + " does not exist"
    if not shutil.which(DOCKER):
        return DOCKER + " not found"
    r = host("version", "--format", "{{.Server.APIVersion}}", check=False)
    if r.returncode != 0:
        return "docker version failed: " + r.stderr.strip()
    return None


def require_daemon(testcase):
    problem = daemon_problem()
    if problem:
        if os.environ.get("CI") == "true":
            testcase.fail("Docker daemon required under CI=true: " + problem)
        raise unittest.SkipTest("no usable Docker daemon: " + problem)
    ensure_image()


def _env(docker_host, config_dir):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_HOST"] = docker_host
    env["DOCKER_CONFIG"] = config_dir
    env["DOCKER_BUILDKIT"] = "0"  # the legacy builder: BuildKit is not available here
    return env


_HOST_CONFIG = tempfile.mkdtemp(prefix="phaedo-scope-cfg-")


def host(*args, check=True, input=None, timeout=120):
    """The docker CLI against the host daemon directly."""
    r = subprocess.run([DOCKER, *args], capture_output=True, text=True, input=input, timeout=timeout,
                       env=_env("unix://" + HOST_SOCKET, _HOST_CONFIG))
    if check and r.returncode != 0:
        raise AssertionError("docker %s failed: %s" % (" ".join(args), r.stderr))
    return r


def ensure_image():
    if host("image", "inspect", IMAGE, check=False).returncode == 0:
        return
    # Offline base image (test-peers.md §1.2): busybox-static's rootfs through docker import.
    root = tempfile.mkdtemp(prefix="phaedo-bb-")
    try:
        for d in ("bin", "etc", "tmp", "root"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
        applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split()
        for a in applets:
            if a != "busybox":
                os.symlink("busybox", os.path.join(root, "bin", a))
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        with open(os.path.join(root, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        tar = subprocess.run(["tar", "-C", root, "-c", "."], capture_output=True, check=True).stdout
        # The same image (and label) the other tiers import, whichever tier runs first.
        r = subprocess.run([DOCKER, "import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV PATH=/bin",
                            "--change", "LABEL phaedo.io/test-fixture=busybox", "-", IMAGE],
                           input=tar, capture_output=True, env=_env("unix://" + HOST_SOCKET, _HOST_CONFIG))
        if r.returncode != 0 and host("image", "inspect", IMAGE, check=False).returncode != 0:
            raise AssertionError("cannot import %s: %s" % (IMAGE, r.stderr))
    finally:
        shutil.rmtree(root, ignore_errors=True)


class Proxy:
    """One job's phaedo-dockerscope on a temp socket, and the docker CLI pointed at it."""

    def __init__(self, job, extra=(), upstream=HOST_SOCKET):
        self.job = job
        self.dir = tempfile.mkdtemp(prefix="phaedo-scope-")
        self.socket = os.path.join(self.dir, "docker.sock")
        self.images = os.path.join(self.dir, "images.json")
        self.config = os.path.join(self.dir, "cfg")
        os.makedirs(self.config)
        self.log = open(os.path.join(self.dir, "proxy.log"), "w")
        # The job's own network, as the docker sandbox gives every job (and the proxy puts the
        # job's containers and builds on it): the tests do not depend on the default bridge.
        self.network = job + "-net"
        host("network", "create", "--label", "phaedo.io/job=" + job, "--label", TEST_LABEL + "=" + RUN,
             self.network)
        self.proc = subprocess.Popen(
            [PROXY, "--socket", self.socket, "--socket-mode", "0666", "--upstream", upstream, "--job", job,
             "--runner", RUN, "--images", self.images, "--network", self.network, *extra],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(self.socket)
                return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.02)
        raise AssertionError("proxy did not start: " + open(os.path.join(self.dir, "proxy.log")).read())

    def docker(self, *args, input=None, timeout=120, cwd=None):
        return subprocess.run([DOCKER, *args], capture_output=True, text=True, input=input, timeout=timeout,
                              cwd=cwd, env=_env("unix://" + self.socket, self.config))

    def curl(self, method, path, body=None):
        args = ["curl", "-sS", "--path-as-is", "--unix-socket", self.socket, "-X", method, "-w", "\n%{http_code}",
                "http://docker" + path]
        if body is not None:
            args += ["-H", "Content-Type: application/json", "--data-binary", body]
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        text, _, code = r.stdout.rpartition("\n")
        return int(code or 0), text

    def recorded_images(self):
        if not os.path.exists(self.images):
            return {"images": [], "tags": []}
        with open(self.images) as f:
            return json.load(f)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def cleanup(self):
        """What cleanup will do: remove every object labelled with the job, and its recorded images."""
        label = "label=phaedo.io/job=" + self.job
        ids = host("ps", "-aq", "--filter", label).stdout.split()
        if ids:
            host("rm", "-f", "-v", *ids, check=False)
        for net in host("network", "ls", "-q", "--filter", label).stdout.split():
            host("network", "rm", net, check=False)
        for vol in host("volume", "ls", "-q", "--filter", label).stdout.split():
            host("volume", "rm", "-f", vol, check=False)
        record = self.recorded_images()
        for ref in record["tags"]:
            host("rmi", ref, check=False)
        for image in record["images"]:
            host("rmi", image, check=False)
        for image in host("images", "-q", "--filter", label).stdout.split():
            host("rmi", "-f", image, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
