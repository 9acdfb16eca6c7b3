"""Drive a real `gitlab-runner` with a custom executor against the fake GitLab.

Typical use in a unittest:

    import harness
    from fake_gitlab import FakeGitLab

    class MyTest(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            cls.runner_bin = harness.require_runner()   # skip, or fail when CI=true

        def test_x(self):
            executor = harness.CustomExecutor.stage_programs(
                config="/path/phaedo-config", prepare="/path/phaedo-prepare",
                run="/path/phaedo-run", cleanup="/path/phaedo-cleanup",
                args=["--profile", "/path/local.toml"])
            with FakeGitLab() as fake:
                job = fake.enqueue("success_echo.json")
                with harness.RunnerProcess(fake, executor, binary=self.runner_bin) as runner:
                    final = runner.wait_job(job, timeout=60)
            self.assertEqual(final.state, "success")

or in one call: `harness.run_job(executor, "success_echo.json")` -> JobRun.

The runner binary is taken from $PHAEDO_GITLAB_RUNNER, else built (once per machine) by
tests/peers/gitlab-runner/build.sh. Each RunnerProcess gets its own temp dir holding
config.toml, builds/, cache/ and runner.log; set PHAEDO_KEEP_TMP=1 to keep it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import tomllib
import unittest
from pathlib import Path
from typing import Any, Optional, Sequence

from fake_gitlab import FakeGitLab, FakeJob, Update

REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPO_ROOT / "tests" / "peers" / "gitlab-runner" / "build.sh"
SELFTEST_DRIVER = Path(__file__).resolve().parent / "selftest" / "driver.sh"

# Runner flags read these from the environment (common/config.go `env:` tags). When the
# tests themselves run inside GitLab CI they would leak into the runner under test.
STRIP_ENV_PREFIXES = ("CI_", "CUSTOM_", "RUNNER_", "FF_", "GITLAB_")
STRIP_ENV_NAMES = ("CONFIG_FILE", "FEATURE_FLAGS", "LOG_LEVEL", "LOG_FORMAT",
                   "LISTEN_ADDRESS", "CI")

# Raw job logs: no "<timestamp> 01O " prefix on every line (FF_TIMESTAMPS is on since 19.0).
DEFAULT_FEATURE_FLAGS = {"FF_TIMESTAMPS": False}


# --------------------------------------------------------------------------------------
# Locating the runner
# --------------------------------------------------------------------------------------

class RunnerUnavailable(Exception):
    pass


_binary_result: Optional[str | RunnerUnavailable] = None


def runner_binary() -> str:
    """Absolute path of the gitlab-runner to test with, or RunnerUnavailable.

    $PHAEDO_GITLAB_RUNNER wins; otherwise build.sh builds or reuses the cached binary
    (a cold build takes ~3 minutes). The outcome is remembered for the process.
    """
    global _binary_result
    if _binary_result is None:
        try:
            _binary_result = _locate_runner()
        except RunnerUnavailable as e:
            _binary_result = e
    if isinstance(_binary_result, RunnerUnavailable):
        raise _binary_result
    return _binary_result


def _locate_runner() -> str:
    explicit = os.environ.get("PHAEDO_GITLAB_RUNNER")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise RunnerUnavailable(f"PHAEDO_GITLAB_RUNNER={explicit} is not executable")
        return os.path.abspath(explicit)
    if shutil.which("go") is None and not Path("/usr/local/go/bin/go").exists():
        raise RunnerUnavailable("no Go toolchain to build gitlab-runner "
                                "(set PHAEDO_GITLAB_RUNNER to a binary)")
    env = dict(os.environ)
    env["PATH"] = env.get("PATH", "") + os.pathsep + "/usr/local/go/bin"
    try:
        proc = subprocess.run([str(BUILD_SCRIPT)], env=env, capture_output=True, text=True,
                              timeout=3600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RunnerUnavailable(f"{BUILD_SCRIPT} failed: {e}") from e
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or not os.access(lines[-1], os.X_OK):
        raise RunnerUnavailable(f"{BUILD_SCRIPT} exited {proc.returncode}:\n"
                                f"{proc.stderr[-3000:]}")
    return lines[-1]


def require_runner() -> str:
    """runner_binary() for tests: skip when unavailable, but fail when CI=true.

    Works in setUpClass (an AssertionError there errors every test of the class) and in
    test methods.
    """
    try:
        return runner_binary()
    except RunnerUnavailable as e:
        if os.environ.get("CI") == "true":
            raise AssertionError(f"gitlab-runner is required when CI=true: {e}") from e
        raise unittest.SkipTest(f"gitlab-runner unavailable: {e}") from e


def installed_programs() -> Path:
    """The directory of the installed phaedo stage programs: $PHAEDO_BIN, else
    build/install/bin of the repository; AssertionError when phaedo-run is not there."""
    bin_dir = Path(os.environ.get("PHAEDO_BIN", REPO_ROOT / "build" / "install" / "bin"))
    if not (bin_dir / "phaedo-run").exists():
        raise AssertionError(f"phaedo stage programs are not installed in {bin_dir} (set PHAEDO_BIN)")
    return bin_dir


# --------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class CustomExecutor:
    """The `[runners.custom]` section. Timeouts are seconds; None keeps the runner default."""
    run_exec: str
    run_args: Sequence[str] = ()
    config_exec: Optional[str] = None
    config_args: Sequence[str] = ()
    prepare_exec: Optional[str] = None
    prepare_args: Sequence[str] = ()
    cleanup_exec: Optional[str] = None
    cleanup_args: Sequence[str] = ()
    config_exec_timeout: Optional[int] = None
    prepare_exec_timeout: Optional[int] = None
    cleanup_exec_timeout: Optional[int] = None
    # The runner defaults (600 s / 10 s) make a driver that ignores SIGTERM stall a test
    # for ten minutes; tests want to hear about that quickly.
    graceful_kill_timeout: Optional[int] = 30
    force_kill_timeout: Optional[int] = 10

    @classmethod
    def single_program(cls, program: str | Path, args: Sequence[str] = (),
                       **settings: Any) -> "CustomExecutor":
        """One program for every stage: `program <stage> args... [<script> <sub-stage>]`."""
        p = str(program)
        return cls(config_exec=p, config_args=["config", *args],
                   prepare_exec=p, prepare_args=["prepare", *args],
                   run_exec=p, run_args=["run", *args],
                   cleanup_exec=p, cleanup_args=["cleanup", *args], **settings)

    @classmethod
    def stage_programs(cls, *, config: Optional[str | Path], prepare: Optional[str | Path],
                       run: str | Path, cleanup: Optional[str | Path],
                       args: Sequence[str] = (), **settings: Any) -> "CustomExecutor":
        """One program per stage (phaedo-config, ...), each given the same args."""
        def exe(p: Optional[str | Path]) -> Optional[str]:
            return str(p) if p is not None else None
        return cls(config_exec=exe(config), config_args=list(args),
                   prepare_exec=exe(prepare), prepare_args=list(args),
                   run_exec=str(run), run_args=list(args),
                   cleanup_exec=exe(cleanup), cleanup_args=list(args), **settings)

    @classmethod
    def selftest(cls) -> "CustomExecutor":
        """The throw-away bash driver in selftest/ (runs scripts on the host)."""
        return cls.single_program(SELFTEST_DRIVER)

    def toml_items(self) -> dict:
        items = {k: v for k, v in dataclasses.asdict(self).items()
                 if v is not None and v != () and v != []}
        return {k: list(v) if isinstance(v, (tuple, list)) else v for k, v in items.items()}


def example_executor(runner_name: str, bin_dir: str | Path, profile: str | Path) -> "CustomExecutor":
    """[runners.custom] of the entry `runner_name` of runner-config/config.toml.example,
    with /usr/local/bin pointed at `bin_dir` and its /etc/phaedo-executor/*.toml profile
    at `profile`: the settings administrators copy, exercised as shipped."""
    with open(REPO_ROOT / "runner-config" / "config.toml.example", "rb") as f:
        runner = next(r for r in tomllib.load(f)["runners"] if r["name"] == runner_name)
    shipped = next(a for a in runner["custom"]["config_args"] if a.startswith("/etc/phaedo-executor/"))

    def rewrite(value: Any) -> Any:
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        if isinstance(value, str):
            return value.replace("/usr/local/bin", str(bin_dir)).replace(shipped, str(profile))
        return value

    return CustomExecutor(**{k: rewrite(v) for k, v in runner["custom"].items()})


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid TOML basic strings
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml_table(header: str, items: dict, indent: str) -> list[str]:
    lines = [f"{indent}{header}"] if header else []
    lines += [f"{indent}  {key} = {_toml_value(value)}" for key, value in items.items()]
    return lines


def clean_environment(extra: Optional[dict] = None) -> dict:
    """os.environ minus what the runner would read as its own configuration."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(STRIP_ENV_PREFIXES) and k not in STRIP_ENV_NAMES}
    env.update(extra or {})
    return env


# --------------------------------------------------------------------------------------
# The runner process
# --------------------------------------------------------------------------------------

class RunnerProcess:
    """One `gitlab-runner run-single` or `gitlab-runner run` against a FakeGitLab.

    mode="run-single": one job at a time, exits after max_builds jobs (0 = never).
    mode="run":        `concurrent` jobs in parallel; stop() ends it.
    env: extra environment for the runner, inherited by every driver stage.
    runner_settings: extra `[[runners]]` keys, e.g. {"output_limit": 8192}.
    """

    def __init__(self, fake: FakeGitLab, executor: CustomExecutor, *,
                 binary: Optional[str] = None, mode: str = "run-single",
                 name: str = "phaedo-test", concurrent: int = 1, max_builds: int = 1,
                 wait_timeout: Optional[int] = None, shell: str = "bash",
                 feature_flags: Optional[dict] = None, environment: Sequence[str] = (),
                 env: Optional[dict] = None, log_level: str = "info",
                 shutdown_timeout: int = 30, runner_settings: Optional[dict] = None,
                 workdir: Optional[str | Path] = None):
        if mode not in ("run-single", "run"):
            raise ValueError("mode must be 'run-single' or 'run'")
        self.fake, self.executor, self.mode, self.name = fake, executor, mode, name
        self.binary = binary or runner_binary()
        self.concurrent, self.max_builds, self.wait_timeout = concurrent, max_builds, wait_timeout
        self.shell, self.environment, self.log_level = shell, list(environment), log_level
        self.feature_flags = {**DEFAULT_FEATURE_FLAGS, **(feature_flags or {})}
        self.shutdown_timeout = shutdown_timeout
        self.runner_settings = runner_settings or {}
        self.env = clean_environment(env)
        self._own_workdir = workdir is None
        # realpath: the runner does not resolve symlinks in builds_dir (protocol doc §9).
        self.workdir = Path(os.path.realpath(
            workdir or tempfile.mkdtemp(prefix="phaedo-runner-",
                                        dir=os.environ.get("PHAEDO_TEST_TMP"))))
        self.builds_dir = self.workdir / "builds"
        self.cache_dir = self.workdir / "cache"
        self.config_path = self.workdir / "config.toml"
        self.log_path = self.workdir / "runner.log"
        self.proc: Optional[subprocess.Popen] = None
        self.started_at: Optional[float] = None

    # -- config ------------------------------------------------------------------------

    def config_toml(self) -> str:
        """config.toml text; used by both modes (run-single reads it with -c/-r, 17.1+)."""
        runner = {"name": self.name, "url": self.fake.url, "token": self.fake.runner_token,
                  "executor": "custom", "shell": self.shell,
                  "builds_dir": str(self.builds_dir), "cache_dir": str(self.cache_dir),
                  "limit": self.concurrent, "request_concurrency": self.concurrent,
                  **({"environment": self.environment} if self.environment else {}),
                  **self.runner_settings}
        lines = [f"concurrent = {self.concurrent}",
                 "check_interval = 1",  # `run` polls every second after a 204 (default 3)
                 f"shutdown_timeout = {self.shutdown_timeout}",
                 f"log_level = {_toml_value(self.log_level)}",
                 "", "[[runners]]"]
        lines += _toml_table("", runner, "")
        lines += _toml_table("[runners.feature_flags]", self.feature_flags, "  ")
        lines += _toml_table("[runners.custom]", self.executor.toml_items(), "  ")
        return "\n".join(lines) + "\n"

    def command(self) -> list[str]:
        base = [self.binary, "--log-level", self.log_level]
        if self.mode == "run":
            return base + ["run", "-c", str(self.config_path),
                           "--working-directory", str(self.workdir)]
        cmd = base + ["run-single", "-c", str(self.config_path), "-r", self.name,
                      "--max-builds", str(self.max_builds)]
        if self.wait_timeout:
            cmd += ["--wait-timeout", str(self.wait_timeout)]
        return cmd

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> "RunnerProcess":
        self.builds_dir.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config_toml())
        with open(self.log_path, "wb") as log:
            # Own session, so terminal signals aimed at the tests never reach the runner.
            # (Driver stages are not in this group: the runner starts each with Setpgid.)
            self.proc = subprocess.Popen(self.command(), cwd=self.workdir, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        self.started_at = time.monotonic()
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def stop(self, grace: float = 15.0) -> Optional[int]:
        """SIGQUIT (finish running jobs, take no new ones), then SIGTERM, then SIGKILL."""
        if self.proc is None:
            return None
        for sig, wait in ((signal.SIGQUIT, grace), (signal.SIGTERM, 10.0),
                          (signal.SIGKILL, 5.0)):
            if self.proc.poll() is not None:
                break
            self._signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                continue
        return self.proc.poll()

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        try:
            if sig == signal.SIGKILL:
                os.killpg(self.proc.pid, sig)  # the runner's own process group
            else:
                self.proc.send_signal(sig)
        except ProcessLookupError:
            pass

    def close(self) -> None:
        self.stop()
        if self._own_workdir and os.environ.get("PHAEDO_KEEP_TMP") != "1":
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "RunnerProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- results -----------------------------------------------------------------------

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_job(self, job: FakeJob, timeout: float = 120.0) -> Update:
        """The job's final update; fails early if the runner exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if job.final is not None:
                return job.final
            if not self.running():
                # The final PUT may still be in flight when run-single exits.
                time.sleep(0.2)
                if job.final is not None:
                    return job.final
                raise AssertionError(self._diagnostics(job, "runner exited before the job "
                                                            "was final"))
            time.sleep(0.05)
        raise AssertionError(self._diagnostics(job, f"job not final after {timeout}s"))

    def _diagnostics(self, job: FakeJob, what: str) -> str:
        return (f"{what}: job {job.id} ({job.name}) transitions={job.transitions}\n"
                f"fake errors: {self.fake.errors}\n"
                f"--- job trace (tail) ---\n{job.trace_text[-3000:]}\n"
                f"--- runner log (tail) ---\n{self.log_text()[-3000:]}")


# --------------------------------------------------------------------------------------
# One-call helper
# --------------------------------------------------------------------------------------

@dataclasses.dataclass
class JobRun:
    job: FakeJob
    final: Update
    seconds: float        # enqueue → final PUT
    runner_log: str
    requests: list        # RequestRecords of this job, in order
    fake_errors: list


def run_job(executor: CustomExecutor, fixture: Any, *, timeout: float = 120.0,
            enqueue: Optional[dict] = None, **runner_kwargs: Any) -> JobRun:
    """Run one fixture through run-single and return what the fake recorded."""
    with FakeGitLab() as fake:
        job = fake.enqueue(fixture, **(enqueue or {}))
        start = time.monotonic()
        with RunnerProcess(fake, executor, **runner_kwargs) as runner:
            final = runner.wait_job(job, timeout)
            seconds = time.monotonic() - start
            runner.stop()
            log = runner.log_text()
        return JobRun(job, final, seconds, log, fake.requests_for(job), list(fake.errors))
