"""The fake GitLab against a REAL gitlab-runner, driven by the throw-away driver in
selftest/. Proves the fake's contract before any phaedo driver test relies on it.

Run: python3 -m unittest discover -s tests/runner -p 'test_*.py' -v
Needs the runner binary ($PHAEDO_GITLAB_RUNNER, or built by build.sh); without it the
tests skip, except under CI=true where they fail.
"""

from __future__ import annotations

import os
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402
from fake_gitlab import FakeGitLab  # noqa: E402

DRIVER_STAGES_OK = ["config", "prepare", "run prepare_script", "run get_sources",
                    "run build_script", "run cleanup_file_variables", "cleanup"]


class FakeGitLabWithRealRunner(unittest.TestCase):
    latencies: dict[str, float] = {}

    @classmethod
    def setUpClass(cls) -> None:
        cls.runner_bin = harness.require_runner()
        cls.executor = harness.CustomExecutor.selftest()

    @classmethod
    def tearDownClass(cls) -> None:
        if cls.latencies:
            summary = ", ".join(f"{k} {v:.2f}s" for k, v in cls.latencies.items())
            print(f"\njob latency (enqueue -> final PUT): {summary}", file=sys.stderr)

    # -- helpers -----------------------------------------------------------------------

    def run_fixture(self, fixture: str, **enqueue) -> tuple[harness.JobRun, list[str]]:
        """Run one job with run-single; return the run and the driver's call log."""
        with tempfile.TemporaryDirectory() as tmp:
            calls_log = Path(tmp) / "calls"
            calls_log.touch()
            run = harness.run_job(self.executor, fixture, binary=self.runner_bin,
                                  enqueue=enqueue, timeout=60,
                                  env={"PHAEDO_SELFTEST_LOG": str(calls_log)})
            calls = [line.rsplit(" job=", 1)[0] for line in calls_log.read_text().splitlines()]
        self.latencies[self.id().rsplit(".", 1)[-1]] = run.seconds
        self.assertEqual(run.fake_errors, [], "the fake saw protocol errors")
        self.assertTrue(run.final.checksum_ok, "final CRC32 must match the stored trace")
        return run, calls

    def assert_request_sequence(self, run: harness.JobRun, final_state: str) -> None:
        """request → confirm PUT running → PATCHes → final PUT (runner 18.5+)."""
        kinds = [f"{r.method} {r.detail.split()[0] if r.method == 'PUT' else ''}".strip()
                 for r in run.requests]
        self.assertEqual(kinds[:2], ["POST", "PUT state=running"])
        self.assertEqual(kinds[-1], f"PUT state={final_state}")
        self.assertIn("PATCH", kinds)

    # -- the contract ------------------------------------------------------------------

    def test_success_job_reaches_success_with_output_in_trace(self):
        run, calls = self.run_fixture("success_echo.json")
        self.assertEqual(run.final.state, "success")
        self.assertEqual(run.job.transitions, ["running", "success"])
        self.assertIn("hello 42", run.job.trace_lines())
        self.assertEqual(calls, DRIVER_STAGES_OK)
        self.assert_request_sequence(run, "success")

    def test_exit_7_is_script_failure_with_exit_code_7(self):
        run, calls = self.run_fixture("exit_7.json")
        self.assertEqual((run.final.state, run.final.failure_reason, run.final.exit_code),
                         ("failed", "script_failure", 7))
        self.assertIn("about to fail 7", run.job.trace_lines())
        self.assertIn("ERROR: Job failed: exit status 7", run.job.trace_lines())
        self.assert_request_sequence(run, "failed")

    def test_graceful_cancel_runs_after_script(self):
        run, calls = self.run_fixture("sleep_cancel.json", cancel_mode="canceling")
        lines = run.job.trace_lines()
        self.assertEqual((run.final.state, run.final.failure_reason), ("failed", "job_canceled"))
        self.assertIn("after-script ran status=canceled", lines)
        self.assertNotIn("not reached 2", lines)
        self.assertIn("sigterm build_script", calls)
        self.assertLess(calls.index("sigterm build_script"), calls.index("run after_script"))
        self.assertEqual(calls[-1], "cleanup")

    def test_hard_cancel_skips_after_script(self):
        run, calls = self.run_fixture("sleep_cancel.json", cancel_mode="canceled")
        self.assertEqual((run.final.state, run.final.failure_reason), ("failed", "job_canceled"))
        self.assertNotIn("run after_script", calls)
        self.assertNotIn("run cleanup_file_variables", calls)
        self.assertEqual(calls[-2:], ["sigterm build_script", "cleanup"])

    def test_timeout_is_job_execution_timeout(self):
        run, calls = self.run_fixture("timeout.json")  # runner_info.timeout = 3
        self.assertEqual((run.final.state, run.final.failure_reason),
                         ("failed", "job_execution_timeout"))
        self.assertNotIn("after-timeout 3", run.job.trace_lines())
        self.assertNotIn("run after_script", calls)
        self.assertEqual(calls[-1], "cleanup")

    # -- more of what phaedo's driver tests will lean on -------------------------------

    def test_masked_variable_is_masked_and_file_variable_is_a_path(self):
        run, _ = self.run_fixture("masked_and_file_vars.json")
        lines = run.job.trace_lines()
        self.assertEqual(run.final.state, "success")
        self.assertNotIn("s3cr3t-value-123", run.job.trace_text)
        self.assertIn("secret: [MASKED]", lines)
        self.assertIn("file path ends: MY_FILE", lines)
        self.assertIn("file says: file-var-content-789", lines)

    def test_extra_step_and_after_script_stages(self):
        run, calls = self.run_fixture("release_step.json")
        self.assertIn("run step_release", calls)
        self.assertIn("step_release", run.job.sections())
        self.assertIn("release 9", run.job.trace_lines())
        run, calls = self.run_fixture("after_script.json")
        self.assertLess(calls.index("run build_script"), calls.index("run after_script"))
        self.assertIn("after status=success", run.job.trace_lines())

    def test_artifacts_round_trip(self):
        # The in-job `gitlab-runner artifacts-uploader/-downloader` must be on PATH.
        env = {"PATH": f"{os.path.dirname(self.runner_bin)}{os.pathsep}{os.environ['PATH']}"}
        with FakeGitLab() as fake:
            upload = fake.enqueue("artifacts_upload.json")
            with harness.RunnerProcess(fake, self.executor, binary=self.runner_bin,
                                       env=env) as runner:
                self.assertEqual(runner.wait_job(upload, 60).state, "success")
            self.assertEqual(len(upload.artifacts), 1)
            self.assertTrue(upload.artifacts[0].data.startswith(b"PK"), "a zip archive")
            download = fake.enqueue("artifacts_download.json", dependencies=[upload])
            with harness.RunnerProcess(fake, self.executor, binary=self.runner_bin,
                                       env=env) as runner:
                self.assertEqual(runner.wait_job(download, 60).state, "success")
            self.assertIn("payload 42", download.trace_lines())
            self.assertEqual(fake.errors, [])

    def test_run_mode_runs_jobs_concurrently(self):
        job = {"steps": [{"name": "script", "script": ["sleep 2", "echo done-$((2 + 2))"]}]}
        with FakeGitLab() as fake:
            jobs = [fake.enqueue(job) for _ in range(3)]
            with harness.RunnerProcess(fake, self.executor, binary=self.runner_bin,
                                       mode="run", concurrent=3) as runner:
                for j in jobs:
                    self.assertEqual(runner.wait_job(j, 60).state, "success")
                self.assertEqual(runner.stop(), 0)
            # Overlap, not wall time (robust on a loaded host): every job was handed out
            # before the first one finished.
            self.assertLess(max(j.dispatched_at for j in jobs), min(j.final.at for j in jobs))
            self.assertEqual(fake.errors, [])

if __name__ == "__main__":
    unittest.main()
