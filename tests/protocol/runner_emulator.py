"""Calls the installed phaedo-* stage programs exactly as gitlab-runner does.

This emulates only the runner's side of the custom-executor contract
(../shared/docs/custom-executor-protocol.md sections 1-6): a per-job temp dir
that is the cwd and TMPDIR of every call, JOB_RESPONSE_FILE (0600),
BUILD_EXIT_CODE_FILE, the exit-code variables, job_env from the config output,
CUSTOM_ENV_* copies of the job variables, stdin from /dev/null, and every stage
as the leader of its own process group, signalled as a group. The real runner is
exercised by tests/runner; this emulator lets protocol rules be tested one by
one, quickly, including the situations a real runner only produces by accident.
"""

import atexit
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

BIN = os.environ.get("PHAEDO_BIN", "")


def program(name):
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is not installed (set PHAEDO_BIN)")
    return path


_CGROUP_ROOTS = set()  # the per-process cgroup roots of Profile, removed at exit


@atexit.register
def _remove_cgroup_roots():
    """The test process's cgroup root, once its jobs' cgroups are gone (a cleanup that
    still runs may take a moment); a job cgroup still there is left for the test to show."""
    for root in _CGROUP_ROOTS:
        deadline = time.monotonic() + 3
        while os.path.isdir(root):
            try:
                os.rmdir(root)
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)


class Profile:
    """A throw-away host-sandbox profile whose state lives under `root`."""

    def __init__(self, root, extra="", host_extra="", cgroup_root=None):
        self.root = root
        self.cgroup_root = cgroup_root or f"/sys/fs/cgroup/pids/phaedo-test-{os.getpid()}"
        if cgroup_root is None:
            _CGROUP_ROOTS.add(self.cgroup_root)
        self.path = os.path.join(root, "profile.toml")
        with open(self.path, "w") as f:
            f.write(f'name = "test"\nsandbox = "host"\nstate_dir = "{root}/state"\n'
                    f'kill_grace_ms = 1500\n{extra}\n'
                    f'[host]\nwork_root = "{root}/work"\ncache_dir = "{root}/cache"\n'
                    f'cgroup_root = "{self.cgroup_root}"\n{host_extra}\n')

    @property
    def state_dir(self):
        return os.path.join(self.root, "state")

    @property
    def admin_log(self):
        return os.path.join(self.root, "state", "admin.log")

    def job_dir(self, key):
        return os.path.join(self.root, "work", key)

    def journal(self, key):
        return os.path.join(self.root, "state", "jobs", key, "journal.json")


def job_payload(job_id, runner_id="5", variables=(), name="test", timeout=600):
    variables = [
        {"key": "CI_JOB_ID", "value": str(job_id), "public": True},
        {"key": "CI_RUNNER_ID", "value": runner_id, "public": True},
        {"key": "CI_JOB_TOKEN", "value": f"job-token-{job_id}-abcdef", "public": False, "masked": True},
        {"key": "CI_PROJECT_PATH", "value": "grp/proj", "public": True},
        *variables,
    ]
    return {
        "id": job_id,
        "token": f"job-token-{job_id}-abcdef",
        "job_info": {"name": name, "stage": "test", "project_id": 7, "project_full_path": "grp/proj"},
        "runner_info": {"timeout": timeout},
        "variables": variables,
        "steps": [],
    }


class Job:
    """One job's runner-side state: the temp dir and the environment of each call."""

    def __init__(self, profile, payload, exit_code_file=True, base_env=None):
        self.profile = profile
        self.payload = payload
        self.tmp = tempfile.mkdtemp(prefix="custom-executor")
        self.response_file = os.path.join(self.tmp, "response.json")
        fd = os.open(self.response_file, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(payload, f)
        self.exit_code_file = os.path.join(self.tmp, "build_exit_code") if exit_code_file else None
        self.job_env = {}
        self.base_env = dict(base_env if base_env is not None else
                             {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"})
        self.key = f"r{self._var('CI_RUNNER_ID', '0')}-j{payload['id']}"
        self.script_counter = 0

    def _var(self, key, default):
        for v in self.payload.get("variables", []):
            if v["key"] == key:
                default = v["value"]
        return default

    def env(self):
        env = dict(self.base_env)
        env.update({
            "BUILD_FAILURE_EXIT_CODE": "1",
            "SYSTEM_FAILURE_EXIT_CODE": "2",
            "JOB_RESPONSE_FILE": self.response_file,
            "TMPDIR": self.tmp,
        })
        if self.exit_code_file:
            env["BUILD_EXIT_CODE_FILE"] = self.exit_code_file
        env.update(self.job_env)
        for v in self.payload.get("variables", []):
            env["CUSTOM_ENV_" + v["key"]] = v["value"]
        return env

    def start(self, name, *args):
        return subprocess.Popen(
            [program(name), "--profile", self.profile.path, *args],
            cwd=self.tmp, env=self.env(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0)

    def call(self, name, *args, timeout=60):
        p = self.start(name, *args)
        out, err = p.communicate(timeout=timeout)
        return p.returncode, out.decode(), err.decode()

    def config(self):
        rc, out, err = self.call("phaedo-config")
        if rc == 0:
            self.job_env = json.loads(out).get("job_env", {})
        return rc, out, err

    def prepare(self):
        return self.call("phaedo-prepare")

    def write_script(self, body, shell="bash"):
        """Writes a script like the runner's: <tmp>/scriptNNNN/script, mode 0700."""
        self.script_counter += 1
        d = os.path.join(self.tmp, f"script{self.script_counter:04d}")
        os.makedirs(d)
        path = os.path.join(d, "script")
        with open(path, "w") as f:
            strict = "set -eo pipefail" if shell == "bash" else "set -e"
            f.write(f"#!/usr/bin/env {shell}\ntrap 'exit 1' TERM\n{strict}\n{body}\nexit 0\n")
        os.chmod(path, 0o700)
        return path

    def run(self, body, stage="build_script", timeout=60):
        return self.call("phaedo-run", self.write_script(body), stage, timeout=timeout)

    def start_run(self, body, stage="build_script"):
        return self.start("phaedo-run", self.write_script(body), stage)

    def cleanup(self):
        return self.call("phaedo-cleanup")

    def exit_code_file_content(self):
        if not self.exit_code_file or not os.path.exists(self.exit_code_file):
            return None
        with open(self.exit_code_file) as f:
            return f.read()

    def remove(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def terminate_group(proc, grace=None):
    """What the runner does on cancel: SIGTERM to the stage's whole process group."""
    os.killpg(proc.pid, signal.SIGTERM)
    if grace is not None:
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def process_files(where="cmdline"):
    """(pid, contents of /proc/<pid>/<where>) for every process but this one; processes
    that end while being read are left out."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/{where}", "rb") as f:
                yield int(entry), f.read()
        except OSError:
            continue


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def wait_for_file(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path) and os.path.getsize(path) > 0:
            return True
        time.sleep(0.02)
    return False
