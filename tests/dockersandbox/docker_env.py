"""Fixtures for docker-sandbox tests: the daemon, the offline test image, and a
docker-sandbox profile for runner_emulator.Job.

The daemon is reached through the docker CLI (only for checks and setup: the
driver itself talks to the Engine API). Without a usable daemon the tests skip,
or fail when CI=true. The test image phaedo-test/busybox:1 (busybox-static
rootfs, made offline with `docker import`) is the one tests/docker builds;
it is reused when present. Every job of a test run uses runner id `run_id()`, so
the objects a run may leave are exactly those labelled phaedo.io/runner=<it>.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "protocol"))

from runner_emulator import Profile  # noqa: E402

IMAGE = "phaedo-test/busybox:1"
SOCKET = "/var/run/docker.sock"
IN_CI = os.environ.get("CI") == "true"
_RUN_ID = f"t{os.getpid()}"


def run_id():
    """The runner id of every job in this test process (so it names our objects)."""
    return _RUN_ID


def docker(*args, check=True, timeout=60):
    p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {p.stderr.strip()}")
    return p


def problem():
    """Why the daemon cannot be used, or None."""
    if shutil.which("docker") is None:
        return "no docker CLI"
    if not os.path.exists(SOCKET):
        return f"{SOCKET} does not exist"
    p = docker("version", "--format", "{{.Server.APIVersion}}", check=False)
    if p.returncode != 0:
        return "daemon not reachable: " + p.stderr.strip()
    try:
        ensure_image()
    except (RuntimeError, OSError) as e:
        return f"cannot build {IMAGE}: {e}"
    return None


def ensure_image():
    if docker("image", "inspect", IMAGE, check=False).returncode == 0:
        return
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        raise RuntimeError("install busybox-static")
    root = tempfile.mkdtemp(prefix="phaedo-bbroot-")
    try:
        for d in ("bin", "etc", "root", "tmp"):
            os.makedirs(os.path.join(root, d))
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
        applets = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True).stdout.split()
        for a in applets:
            if a != "busybox":
                os.symlink("busybox", os.path.join(root, "bin", a))
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        with open(os.path.join(root, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "--change", 'CMD ["/bin/sh"]', "--change", "ENV PATH=/bin",
                        "--change", "LABEL phaedo.io/test-fixture=busybox", "-", IMAGE],
                       stdin=tar.stdout, capture_output=True, check=True)
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


class DockerProfile(Profile):
    """A throw-away docker-sandbox profile whose state lives under `root`."""

    def __init__(self, root, docker_extra="", extra=""):
        self.root = root
        self.cgroup_root = None
        self.path = os.path.join(root, "profile.toml")
        with open(self.path, "w") as f:
            f.write(f'name = "dtest"\nsandbox = "docker"\nshell = "sh"\nstate_dir = "{root}/state"\n'
                    f'kill_grace_ms = 1500\n{extra}\n'
                    f'[docker]\ndefault_image = "{IMAGE}"\npull_policy = "never"\n'
                    f'memory = "64m"\npids_limit = 64\ncpus = 1\n{docker_extra}\n')


def job_cgroup_dirs(key, mount="/sys/fs/cgroup"):
    """The job cgroup's directories (sandbox/docker/job_cgroup.h) in any v1 hierarchy."""
    found = []
    if os.path.isdir(mount):
        for h in sorted(os.listdir(mount)):
            d = os.path.join(mount, h, "phaedo-docker", key)
            if not os.path.islink(os.path.join(mount, h)) and os.path.isdir(d):
                found.append(d)
    return found


def labelled(kind, key):
    """Names of containers/networks/volumes labelled with job `key`."""
    flt = f"label=phaedo.io/job={key}"
    if kind == "container":
        out = docker("ps", "-a", "--filter", flt, "--format", "{{.Names}}").stdout
    else:
        out = docker(kind, "ls", "--filter", flt, "--format", "{{.Name}}").stdout
    return [line for line in out.splitlines() if line.strip()]


def require_daemon(*extra_problems):
    """For setUpModule: skip without a usable daemon (or an extra peer), fail when CI=true."""
    import unittest
    why = problem() or next((p() for p in extra_problems if p()), None)
    if why:
        if IN_CI:
            raise RuntimeError(f"test peers required under CI=true: {why}")
        raise unittest.SkipTest(f"no usable test peer: {why}")


def remove_run_leftovers(runner=None):
    """Removes what jobs of runner id `runner` (default: this test process's) may have left."""
    flt = f"label=phaedo.io/runner={runner or run_id()}"
    ids = docker("ps", "-aq", "--filter", flt).stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False)
    for kind in ("network", "volume"):
        names = docker(kind, "ls", "-q", "--filter", flt).stdout.split()
        if names:
            docker(kind, "rm", *names, check=False)


def container_ip(name, network):
    out = docker("inspect", name).stdout
    return json.loads(out)[0]["NetworkSettings"]["Networks"][network]["IPAddress"]
