"""Fixtures for the scoped Docker API through the docker sandbox (docker_api = "scoped"):
a job image holding a docker CLI, a scoped-docker profile, and what is left of a job.

The job image phaedo-test/docker-cli:1 is made offline: busybox-static plus the host's
/usr/bin/docker and the libraries `ldd` names, imported FROM scratch with `docker import`.
It is labelled phaedo.io/test-fixture=docker-cli and reused when present.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "dockersandbox"))
sys.path.insert(0, os.path.join(HERE, "..", "protocol"))

import docker_env  # noqa: E402
import registry_env  # noqa: E402
from docker_env import IMAGE, docker, run_id  # noqa: E402
from runner_emulator import Profile, pid_alive, process_files  # noqa: E402

CLI_IMAGE = "phaedo-test/docker-cli:1"
DOCKER_CLI = "/usr/bin/docker"


def _libraries(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        parts = line.split()
        for p in parts:
            if p.startswith("/"):
                libs.append(p)
                break
    return libs


def ensure_cli_image():
    if docker("image", "inspect", CLI_IMAGE, check=False).returncode == 0:
        return
    root = tempfile.mkdtemp(prefix="phaedo-cliroot-")
    try:
        for d in ("bin", "etc", "root", "tmp", "usr/bin"):
            os.makedirs(os.path.join(root, d))
        os.chmod(os.path.join(root, "tmp"), 0o1777)
        shutil.copy("/bin/busybox", os.path.join(root, "bin", "busybox"))
        for a in subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True, check=True).stdout.split():
            if a != "busybox":
                os.symlink("busybox", os.path.join(root, "bin", a))
        shutil.copy(DOCKER_CLI, os.path.join(root, "usr", "bin", "docker"))
        for lib in _libraries(DOCKER_CLI):
            dest = os.path.join(root, lib.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(os.path.realpath(lib), dest)
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        with open(os.path.join(root, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "--change", 'CMD ["/bin/sh"]', "--change",
                        "ENV PATH=/usr/bin:/bin", "--change", "ENV HOME=/root",
                        "--change", "LABEL phaedo.io/test-fixture=docker-cli", "-", CLI_IMAGE],
                       stdin=tar.stdout, capture_output=True, check=True)
        tar.wait()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def problem():
    why = docker_env.problem()
    if why:
        return why
    if not os.access(DOCKER_CLI, os.X_OK):
        return f"no {DOCKER_CLI} to put in the job image"
    try:
        ensure_cli_image()
    except (subprocess.CalledProcessError, OSError) as e:
        return f"cannot build {CLI_IMAGE}: {e}"
    return None


def require_peers(*extra_problems):
    """For setUpModule: skip without the daemon (or an extra peer), fail when CI=true."""
    docker_env.require_daemon(problem, *extra_problems)


class ScopedProfile(Profile):
    """A docker-sandbox profile with docker_api = "scoped", state under `root`."""

    def __init__(self, root, docker_extra="", memory="512m", runner_id=None, pids=256):
        self.root = root
        self.cgroup_root = None
        self.path = os.path.join(root, "profile.toml")
        rid = f'runner_id = "{runner_id}"\n' if runner_id else ""
        with open(self.path, "w") as f:
            f.write(f'name = "scoped"\nsandbox = "docker"\nshell = "sh"\nstate_dir = "{root}/state"\n'
                    f'kill_grace_ms = 1500\n{rid}'
                    f'[docker]\ndefault_image = "{CLI_IMAGE}"\npull_policy = "never"\n'
                    f'memory = "{memory}"\npids_limit = {pids}\ncpus = 1\ndocker_api = "scoped"\n'
                    f'{docker_extra}\n')

    def scope_dir(self, key):
        return scope_dir(self.state_dir, key)


def scope_dir(state_dir, key):
    return os.path.join(str(state_dir), "dockerscope", key)


def proxy_pids(state_dir, key):
    """Live phaedo-dockerscope processes serving job `key` (found by their --socket argument)."""
    marker = ("--socket=" + os.path.join(scope_dir(state_dir, key), "sock", "docker.sock")).encode()
    return [pid for pid, cmdline in process_files() if marker in cmdline.split(b"\0") and pid_alive(pid)]


def labelled_images(key):
    return docker("images", "-q", "--filter", f"label=phaedo.io/job={key}").stdout.split()


def leftovers(profile, key):
    """Everything of job `key` that must be gone after cleanup, by kind."""
    left = {kind: docker_env.labelled(kind, key) for kind in ("container", "network", "volume")}
    left["proxy"] = proxy_pids(profile.state_dir, key)
    left["socket dir"] = [profile.scope_dir(key)] if os.path.exists(profile.scope_dir(key)) else []
    left["journal"] = [profile.journal(key)] if os.path.exists(profile.journal(key)) else []
    left["job cgroup"] = docker_env.job_cgroup_dirs(key)
    return {k: v for k, v in left.items() if v}


def image_present(ref):
    return docker("image", "inspect", ref, check=False).returncode == 0


def image_id(ref):
    r = docker("image", "inspect", "--format", "{{.Id}}", ref, check=False)
    return r.stdout.strip() if r.returncode == 0 else None


def start_registry():
    """Debian's docker-registry on 127.0.0.1 with htpasswd (registry_env.Registry), started;
    SkipTest without it, or an error under CI=true."""
    import unittest
    why = registry_env.problem()
    if why:
        if docker_env.IN_CI:
            raise RuntimeError("test peer required under CI=true: " + why)
        raise unittest.SkipTest(why)
    return registry_env.Registry().start()


def remove_run_leftovers(runner=None):
    docker_env.remove_run_leftovers(runner or run_id())


__all__ = ["CLI_IMAGE", "IMAGE", "ScopedProfile", "docker", "ensure_cli_image", "image_id", "image_present",
           "labelled_images", "leftovers", "proxy_pids", "scope_dir", "remove_run_leftovers", "require_peers", "run_id",
           "json"]
