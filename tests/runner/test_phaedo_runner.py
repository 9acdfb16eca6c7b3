"""phaedo-executor driven by the real gitlab-runner against the fake GitLab.

Every case runs the installed stage programs with the [runners.custom] settings of
runner-config/config.toml.example (paths rewritten to the test install and profile),
so the example administrators copy is exercised too. Assertions are on what the fake
GitLab received (final state, failure reason, exit code, trace) and on what is left
on the host afterwards.
"""

import json
import os
import shutil
import tempfile
import threading
import time
import unittest
from pathlib import Path

import harness
from fake_gitlab import FakeGitLab

REPO = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI") == "true"


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class PhaedoRunnerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.runner_bin = harness.require_runner()
        cls.bin_dir = Path(os.environ.get("PHAEDO_BIN", REPO / "build" / "install" / "bin"))
        if not (cls.bin_dir / "phaedo-run").exists():
            raise AssertionError(f"phaedo stage programs are not installed in {cls.bin_dir} (set PHAEDO_BIN)")

    def setUp(self):
        self.root = Path(tempfile.mkdtemp(prefix="phaedo-rt-"))
        self.outside = self.root / "outside"  # survives the job: where scripts leave evidence
        self.outside.mkdir()
        self.cgroup_root = f"/sys/fs/cgroup/pids/phaedo-rt-{os.getpid()}-{id(self) % 100000}"
        self.profile = self.write_profile()

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)
        try:
            os.rmdir(self.cgroup_root)
        except OSError:
            pass

    def write_profile(self, extra="", name="profile.toml"):
        path = self.root / name
        path.write_text(
            f'name = "runner-test"\nsandbox = "host"\nshell = "bash"\n'
            f'state_dir = "{self.root}/state"\nkill_grace_ms = 1500\n{extra}\n'
            f'[host]\nwork_root = "{self.root}/work"\ncache_dir = "{self.root}/cache"\n'
            f'cgroup_root = "{self.cgroup_root}"\n')
        return path

    def executor(self, profile=None):
        return harness.example_executor("phaedo-local", self.bin_dir, profile or self.profile)

    def run_jobs(self, *fixtures, mode="run-single", concurrent=1, timeout=90, profile=None, log_level="info"):
        with FakeGitLab() as fake:
            jobs = [fake.enqueue(f) for f in fixtures]
            with harness.RunnerProcess(fake, self.executor(profile), binary=self.runner_bin, mode=mode,
                                       concurrent=concurrent, max_builds=len(jobs),
                                       log_level=log_level) as runner:
                finals = [runner.wait_job(job, timeout=timeout) for job in jobs]
                runner_log = runner.log_text()
            self.assertEqual(fake.errors, [], "the fake noticed protocol violations")
        return jobs, finals, runner_log

    def admin_log(self):
        path = self.root / "state" / "admin.log"
        return path.read_text() if path.exists() else ""

    def assert_nothing_left(self):
        work = self.root / "work"
        self.assertEqual(list(work.iterdir()) if work.exists() else [], [], "job directories left behind")
        jobs_dir = self.root / "state" / "jobs"
        self.assertEqual(list(jobs_dir.iterdir()) if jobs_dir.exists() else [], [], "journals left behind")
        if os.path.isdir(self.cgroup_root):
            leftovers = [d for d in os.listdir(self.cgroup_root) if d.startswith("r")]
            self.assertEqual(leftovers, [], "job cgroups left behind")

    def pids_recorded(self, name="pids"):
        path = self.outside / name
        return [int(p) for p in path.read_text().split()] if path.exists() else []


class Outcomes(PhaedoRunnerTest):
    def test_success(self):
        (job,), (final,), _ = self.run_jobs({
            "job_info": {"name": "build"},
            "steps": [{"name": "script", "script": ['echo "hello from $((40 + 2))"', "pwd"]}]})
        self.assertEqual(final.state, "success")
        self.assertIn("hello from 42", job.trace_text)
        self.assertIn("Using Custom executor with driver phaedo-executor", job.trace_text)
        self.assertIn("phaedo: prepared job", job.trace_text)
        self.assertTrue(final.checksum_ok)
        self.assert_nothing_left()

    def test_script_exit_code_reaches_gitlab(self):
        (job7, job8), (final7, final8), _ = self.run_jobs(
            {"steps": [{"name": "script", "script": ["echo before", "exit 7"]}]},
            {"steps": [{"name": "script", "script": ["exit 8"]}]})
        self.assertEqual((final7.state, final7.failure_reason, final7.exit_code), ("failed", "script_failure", 7))
        self.assertIn("before", job7.trace_text)
        self.assertEqual((final8.state, final8.failure_reason, final8.exit_code), ("failed", "script_failure", 8))
        # GitLab decides `allow_failure: exit_codes: [7]` from the exit_code of the final
        # update: the first job is "failed (allowed to fail)", the second a real failure.
        allow_failure_exit_codes = [7]
        self.assertIn(final7.exit_code, allow_failure_exit_codes)
        self.assertNotIn(final8.exit_code, allow_failure_exit_codes)
        self.assert_nothing_left()

    def test_extra_step_runs(self):
        (job,), (final,), _ = self.run_jobs({
            "steps": [{"name": "script", "script": ["echo main-step"]},
                      {"name": "release", "script": ['echo "release-step-$((1 + 1))"']}]})
        self.assertEqual(final.state, "success")
        self.assertIn("release-step-2", job.trace_text)
        self.assertIn("step_release", job.sections())

    def test_masked_and_file_variables(self):
        secret = "s3cr3t-value-4711"
        journal_copy = self.outside / "journal.json"
        (job,), (final,), _ = self.run_jobs({
            "variables": [{"key": "MY_SECRET", "value": secret, "public": False, "masked": True},
                          {"key": "MY_FILE", "value": "file-var-content-789\n", "public": False, "file": True}],
            "steps": [{"name": "script", "script": [
                'echo "secret: $MY_SECRET"',
                'echo "file says: $(cat "$MY_FILE")"',
                f'cp {self.root}/state/jobs/*/journal.json {journal_copy}']},
                      {"name": "use_secret", "script": ["true"]}]})
        self.assertEqual(final.state, "success", job.trace_text)
        self.assertIn("file says: file-var-content-789", job.trace_text)
        self.assertNotIn(secret, job.trace_text)
        journal = journal_copy.read_text()
        self.assertIn('"kind": "workdir"', journal, "the copy is a real journal")
        admin = self.admin_log()
        self.assertIn('"stage":"cleanup"', admin)
        for value in (secret, job.token):
            self.assertNotIn(value, admin)
            self.assertNotIn(value, journal)
        self.assert_nothing_left()


class BrokenProfile(PhaedoRunnerTest):
    def test_unknown_key_is_a_system_failure_after_three_attempts(self):
        broken = self.write_profile(extra='colour = "blue"', name="broken.toml")
        (job,), (final,), _ = self.run_jobs({"steps": [{"name": "script", "script": ["echo never"]}]},
                                            profile=broken)
        self.assertEqual((final.state, final.failure_reason), ("failed", "runner_system_failure"))
        errors = [l for l in job.trace_lines() if "phaedo: error: profile" in l and "colour" in l]
        self.assertEqual(len(errors), 3, "config fails once per preparation attempt")
        self.assertNotIn("never", "\n".join(l for l in job.trace_lines() if not l.startswith("$")))

    def test_failing_prepare_is_cleaned_up_after_each_attempt(self):
        blocker = self.root / "not-a-dir"
        blocker.write_text("")
        profile = self.root / "prepare-fails.toml"
        profile.write_text(self.profile.read_text().replace(f'work_root = "{self.root}/work"',
                                                            f'work_root = "{blocker}/work"'))
        (job,), (final,), _ = self.run_jobs({"steps": [{"name": "script", "script": ["echo never"]}]},
                                            profile=profile)
        self.assertEqual((final.state, final.failure_reason), ("failed", "runner_system_failure"))
        records = [json.loads(l) for l in self.admin_log().splitlines()]
        prepares = [r for r in records if r["stage"] == "prepare" and r["level"] == "error"]
        cleanups = [r for r in records if r["stage"] == "cleanup" and r["msg"] == "cleanup complete"]
        self.assertEqual(len(prepares), 3, "three preparation attempts")
        self.assertEqual(len(cleanups), 3, "cleanup after each failed attempt")
        for p, c in zip(prepares, cleanups):
            self.assertLess(p["time"], c["time"])
        self.assertFalse((self.root / "state" / "jobs").exists() and
                         list((self.root / "state" / "jobs").iterdir()))


class Cancel(PhaedoRunnerTest):
    def tree_script(self, marker):
        pids = self.outside / "pids"
        return [
            f"sleep 300 & echo $! >> {pids}",
            f"setsid sh -c 'sleep 300 & echo $! >> {pids}; exec sleep 300' > /dev/null 2>&1 &",
            "sleep 0.5",
            f'echo "{marker}-$((6 * 7))"',
            "sleep 300",
        ]

    def check_tree_gone(self):
        tree = self.pids_recorded()
        self.assertEqual(len(tree), 2, "the script started its processes")
        deadline = time.monotonic() + 5
        while any(pid_alive(p) for p in tree) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual([p for p in tree if pid_alive(p)], [], "job processes survived")

    def test_graceful_cancel_runs_after_script_and_cleans_up(self):
        (job,), (final,), _ = self.run_jobs({
            "_fake": {"cancel_on_trace": "cancel-me-42", "cancel_mode": "canceling"},
            "steps": [{"name": "script", "script": self.tree_script("cancel-me")},
                      {"name": "after_script", "script": ['echo "after-script ran status=$CI_JOB_STATUS"']}]})
        self.assertEqual(final.state, "failed")
        self.assertIn("after-script ran status=canceled", job.trace_text)
        self.check_tree_gone()
        self.assertIn("cleanup complete", self.admin_log())
        self.assert_nothing_left()

    def test_hard_cancel_stops_everything(self):
        (job,), (final,), _ = self.run_jobs({
            "_fake": {"cancel_on_trace": "cancel-me-42", "cancel_mode": "canceled"},
            "steps": [{"name": "script", "script": self.tree_script("cancel-me")},
                      {"name": "after_script", "script": ["echo after-script-should-not-run"]}]})
        self.assertEqual(final.state, "failed")
        self.assertNotIn("after-script-should-not-run\n", "\n".join(
            l for l in job.trace_lines() if not l.startswith("$")))
        self.check_tree_gone()
        self.assert_nothing_left()

    def test_job_timeout(self):
        t0 = time.monotonic()
        (job,), (final,), _ = self.run_jobs({
            "runner_info": {"timeout": 4},
            "steps": [{"name": "script", "script": self.tree_script("started")}]})
        self.assertEqual((final.state, final.failure_reason), ("failed", "job_execution_timeout"))
        self.assertLess(time.monotonic() - t0, 60)
        self.check_tree_gone()
        self.assert_nothing_left()


class Concurrency(PhaedoRunnerTest):
    def test_four_concurrent_jobs_do_not_collide(self):
        fixture = {"steps": [{"name": "script", "script": [
            f'echo "$CI_JOB_ID $PWD $CI_PROJECT_DIR $(date +%s.%N)" >> {self.outside}/seen',
            "echo $CI_JOB_ID > mine", "sleep 2", 'test "$(cat mine)" = "$CI_JOB_ID"',
            f'date +%s.%N >> {self.outside}/ends']}]}
        jobs, finals, _ = self.run_jobs(*([fixture] * 4), mode="run", concurrent=4, timeout=120)
        for job, final in zip(jobs, finals):
            self.assertEqual(final.state, "success", job.trace_text)
        seen = [l.split() for l in (self.outside / "seen").read_text().splitlines()]
        self.assertEqual(len(seen), 4)
        self.assertEqual(len({s[1] for s in seen}), 4, "each job has its own working directory")
        self.assertEqual(len({s[2] for s in seen}), 4, "each job has its own project directory")
        starts = sorted(float(s[3]) for s in seen)
        ends = sorted(float(e) for e in (self.outside / "ends").read_text().split())
        self.assertLess(starts[-1], ends[0], "the four jobs really ran at the same time")
        self.assert_nothing_left()


if __name__ == "__main__":
    unittest.main()
