"""phaedo-admin: jobs, reap, release, doctor, metrics — on the installed programs."""

import fcntl
import json
import os
import signal
import subprocess
import time
import unittest

from runner_emulator import Profile, pid_alive, program, wait_for_file
from test_stages import StageTest, cgroups_usable, IN_CI


class Admin(StageTest):
    def admin(self, *args, profile=None):
        r = subprocess.run([program("phaedo-admin"), "--profile", (profile or self.profile).path, *args],
                           capture_output=True, text=True, timeout=60)
        return r.returncode, r.stdout, r.stderr

    def abandon(self, job):
        """The runner host died mid-job: run stage SIGKILLed, no cleanup ever called."""
        pidfile = os.path.join(self.root, "orphan.pid")
        p = job.start_run(f"setsid sleep 300 > /dev/null 2>&1 & echo $! > {pidfile}; sleep 300")
        self.assertTrue(wait_for_file(pidfile))
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(timeout=10)
        p.stdout.close()
        p.stderr.close()
        with open(pidfile) as f:
            return int(f.read())

    def expire(self, job):
        path = self.profile.journal(job.key)
        with open(path) as f:
            journal = json.load(f)
        self.assertGreater(journal["expires"], time.time(), "prepare records when the job is certainly over")
        journal["expires"] = int(time.time()) - 1
        with open(path, "w") as f:
            json.dump(journal, f)

    def test_jobs_lists_what_each_job_holds(self):
        job = self.prepared_job()
        rc, out, err = self.admin("jobs")
        self.assertEqual(rc, 0, err)
        self.assertIn(job.key, out)
        self.assertIn(f"workdir {self.profile.job_dir(job.key)} (created)", out)
        job.cleanup()
        self.assertEqual(self.admin("jobs")[1].strip(), "no jobs")

    def test_reap_restores_the_host_after_a_dead_runner(self):
        if IN_CI and not cgroups_usable():
            self.fail("CI=true but the cgroup v1 pids hierarchy is not writable")
        job = self.prepared_job()
        orphan = self.abandon(job)
        self.assertTrue(pid_alive(orphan))
        rc, out, _ = self.admin("reap")
        self.assertEqual(rc, 0)
        self.assertIn(f"skipped {job.key}: not expired", out)
        self.assertTrue(os.path.isdir(self.profile.job_dir(job.key)))
        self.expire(job)
        rc, out, err = self.admin("reap", "--dry-run")
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.isdir(self.profile.job_dir(job.key)), "a dry run changes nothing")
        rc, out, err = self.admin("reap")
        self.assertEqual(rc, 0, err + out)
        self.assertIn(f"reaped {job.key}", out)
        if cgroups_usable():
            self.assertFalse(pid_alive(orphan), "the orphaned process was stopped")
        self.assertFalse(os.path.exists(self.profile.job_dir(job.key)))
        self.assertFalse(os.path.exists(os.path.dirname(self.profile.journal(job.key))))
        rc, metrics, _ = self.admin("metrics")
        self.assertIn('phaedo_jobs_reaped_total{profile="test"} 1', metrics)
        self.assertRegex(metrics, r'phaedo_orphans_reaped_total\{profile="test"\} [1-9]')
        if not cgroups_usable() and pid_alive(orphan):
            os.kill(orphan, signal.SIGKILL)

    def test_reap_skips_a_job_a_stage_is_working_on(self):
        job = self.prepared_job()
        self.expire(job)
        lock = os.path.join(os.path.dirname(self.profile.journal(job.key)), "lock")
        with open(lock) as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            rc, out, _ = self.admin("reap")
            fcntl.flock(f, fcntl.LOCK_UN)
        self.assertEqual(rc, 0)
        self.assertIn(f"skipped {job.key}", out)
        self.assertIn("busy", out)
        self.assertTrue(os.path.isdir(self.profile.job_dir(job.key)))

    def test_release_tears_down_one_job_now(self):
        job = self.prepared_job()
        other = self.prepared_job()
        rc, out, err = self.admin("release", job.key)
        self.assertEqual(rc, 0, err + out)
        self.assertFalse(os.path.exists(self.profile.job_dir(job.key)))
        self.assertTrue(os.path.isdir(self.profile.job_dir(other.key)), "only the named job")

    def test_release_refuses_a_foreign_name(self):
        rc, out, _ = self.admin("release", "../../etc")
        self.assertEqual(rc, 0)
        self.assertIn("not a job key", out)

    def test_doctor(self):
        rc, out, err = self.admin("doctor")
        self.assertEqual(rc, 0, out + err)
        self.assertIn("ok    state_dir", out)
        self.assertIn("ok    shell", out)
        bad = Profile(self.root)
        with open(bad.path, "w") as f:
            f.write(f'name = "test"\nsandbox = "docker"\nstate_dir = "{self.root}/state"\n'
                    '[docker]\nsocket = "/nonexistent/docker.sock"\n')
        rc, out, err = self.admin("doctor", profile=bad)
        self.assertEqual(rc, 2, out + err)
        self.assertIn("FAIL  docker", out)
        self.assertIn("/nonexistent/docker.sock", out)

    def test_metrics_count_stages_by_outcome_without_secrets(self):
        job = self.prepared_job(variables=[{"key": "MY_SECRET", "value": "metric-secret-1", "masked": True}])
        self.assertEqual(job.run("true")[0], 0)
        self.assertEqual(job.run("exit 3")[0], 1)
        self.assertEqual(job.cleanup()[0], 0)
        rc, text, err = self.admin("metrics")
        self.assertEqual(rc, 0, err)
        for stage, outcome in (("config", "success"), ("prepare", "success"), ("run", "success"),
                               ("run", "build_failure"), ("cleanup", "success")):
            self.assertIn(f'phaedo_stage_duration_seconds_count{{stage="{stage}",outcome="{outcome}",'
                          f'profile="test"}} 1', text)
        self.assertIn("# TYPE phaedo_stage_duration_seconds histogram", text)
        with open(os.path.join(self.profile.state_dir, "metrics.prom")) as f:
            self.assertEqual(f.read(), text, "the textfile-collector file matches")
        self.assertNotIn("metric-secret-1", text)


if __name__ == "__main__":
    unittest.main()
