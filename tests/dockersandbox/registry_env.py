"""A real local registry for pull tests: Debian's docker-registry (distribution 2.8)
on 127.0.0.1:<free port> with htpasswd auth (127.0.0.0/8 is an insecure registry
for the Docker daemon), holding the busybox test image pushed with credentials.

The docker CLI's login goes to a private DOCKER_CONFIG, never ~/.docker.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from docker_env import IMAGE, docker

USER = "phaedo-puller"
PASSWORD = "Reg1stry-pa55word-4711"
REPOSITORY = "phaedo/busybox"
TAG = "1"


def problem():
    for tool in ("docker-registry", "htpasswd"):
        if shutil.which(tool) is None:
            return f"no {tool} (apt-get install docker-registry apache2-utils)"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="phaedo-registry-")
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.image = f"{self.host}/{REPOSITORY}:{TAG}"
        self.proc = None

    def docker_cli(self, *args, check=True):
        """docker with this registry's private client config."""
        env = dict(os.environ, DOCKER_CONFIG=os.path.join(self.root, "client"))
        p = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, env=env)
        if check and p.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {p.stderr.strip()}")
        return p

    def start(self):
        htpasswd = os.path.join(self.root, "htpasswd")
        with open(htpasswd, "w") as f:
            f.write(subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], capture_output=True, text=True,
                                   check=True).stdout)
        config = os.path.join(self.root, "config.yml")
        with open(config, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {self.root}/data\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: {self.host}\n"
                    f"auth:\n  htpasswd:\n    realm: phaedo-test\n    path: {htpasswd}\n")
        self.log = open(os.path.join(self.root, "registry.log"), "wb")
        self.proc = subprocess.Popen(["docker-registry", "serve", config], stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                raise RuntimeError("the registry answered without asking for credentials")
            except urllib.error.HTTPError as e:
                if e.code == 401:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("docker-registry did not start: " + open(self.log.name).read()[-2000:])
            time.sleep(0.1)
        env = dict(os.environ, DOCKER_CONFIG=os.path.join(self.root, "client"))
        subprocess.run(["docker", "login", self.host, "-u", USER, "--password-stdin"], input=PASSWORD, text=True,
                       capture_output=True, check=True, env=env, timeout=60)
        docker("tag", IMAGE, self.image)
        self.docker_cli("push", self.image)
        self.forget()
        return self

    def forget(self):
        """Removes the registry's tag from the daemon, so the next use must pull."""
        docker("rmi", self.image, check=False)

    def present(self):
        return docker("image", "inspect", self.image, check=False).returncode == 0

    def stop(self):
        self.forget()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if getattr(self, "log", None):
            self.log.close()
        shutil.rmtree(self.root, ignore_errors=True)
